//! Copies out of and into containers: `cp`, `export`, `commit`.

use clap::Args;

use crate::cli::Outcome;
use crate::container::{self};
use crate::context::Context;
use std::path::PathBuf;

/// Copy files between a container and the host: `cp CONTAINER:SRC DEST` or `cp SRC CONTAINER:DEST`
/// ("-" for a tar archive on standard input or output).
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Keep the owners (uid and gid) of files copied into the container (default: root owns them).
    #[arg(short, long)]
    archive: bool,
    /// Source: a host path, CONTAINER:PATH, or - for a tar archive on standard input.
    source: String,
    /// Destination: a host path, CONTAINER:PATH, or - for a tar archive on standard output.
    destination: String,
}

impl CpArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        use container::copy::parse_location;
        container::copy::copy(
            ctx,
            &parse_location(&self.source),
            &parse_location(&self.destination),
            self.archive,
        )?;
        Ok(0)
    }
}

/// Create an image from a container's changes: its image's layers plus one layer of what the
/// container changed (volumes left out), with the container's command, environment, working
/// directory, user, labels and ports as the image's config.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author recorded in the new image's config and in its history entry (default: none).
    #[arg(short, long)]
    author: Option<String>,
    /// Apply a Dockerfile instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR. Repeatable.
    #[arg(short, long, value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Manifest and config format of the new image: oci (default) or docker (Docker's schema 2, as
    /// `docker commit` makes).
    #[arg(short, long, default_value = "oci", value_parser = ["oci", "docker"])]
    format: String,
    /// Write the new image's ID as sha256:HEX to FILE, replacing what it held.
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// Commit message, kept in the image history and shown by inspect as Comment.
    #[arg(short, long)]
    message: Option<String>,
    /// Pause the container while it is committed (needs a cgroup freezer; off by default, as in Podman).
    #[arg(short, long)]
    pause: bool,
    /// Print nothing but the image ID (accepted for Podman scripts: skiff prints only the ID either way).
    #[arg(short = 'q', long = "quiet")]
    _quiet: bool,
    /// Make the image a single layer holding the whole filesystem.
    #[arg(short, long)]
    squash: bool,
    /// Container name or ID.
    container: String,
    /// Name for the image (default: none); localhost/ is added when no registry is given.
    image: Option<String>,
}

impl CommitArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = crate::container::commit::CommitOptions {
            author: self.author,
            message: self.message,
            changes: self.change,
            pause: self.pause,
            squash: self.squash,
            docker_format: self.format == "docker",
            step: None,
        };
        let id = crate::container::commit::commit(
            ctx,
            &self.container,
            self.image.as_deref(),
            &options,
        )?;
        if let Some(path) = &self.iidfile {
            std::fs::write(path, format!("sha256:{id}"))
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
        println!("{id}");
        Ok(0)
    }
}

/// Export a container's filesystem as a tar archive.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the tar archive to FILE instead of standard output (which must then not be a
    /// terminal).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Container name or ID.
    container: String,
}

impl ExportArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        match &self.output {
            Some(path) => container::copy::export_to_file(ctx, &self.container, path)?,
            None => {
                use std::io::IsTerminal;
                if std::io::stdout().is_terminal() {
                    anyhow::bail!("refusing to write a tar archive to a terminal: use -o FILE or redirect the output");
                }
                container::copy::export(ctx, &self.container, &mut std::io::stdout().lock())?;
            }
        }
        Ok(0)
    }
}
