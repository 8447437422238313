//! `images`, `image …`, `inspect`, `load`, `save`, `import`, `tag`, `rmi`, `history`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::format;
use super::{human, Outcome};
use crate::context::Context;
use crate::image::{self, ArchiveFormat, ImportOptions, Removal};

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    Inspect(InspectArgs),
    Load(LoadArgs),
    Save(SaveArgs),
    Import(ImportArgs),
    Tag(TagArgs),
    #[command(name = "rm")]
    Rm(RmiArgs),
    History(HistoryArgs),
    Pull(super::registry::PullArgs),
    Push(super::registry::PushArgs),
    Search(super::registry::SearchArgs),
    Diff(super::container::DiffArgs),
    Build(Box<super::build::BuildArgs>),
    Prune(ImagePruneArgs),
}

impl ImageCommand {
    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            ImageCommand::Ls(a) => a.run(ctx),
            ImageCommand::Inspect(a) => a.with_kind("image").run(ctx),
            ImageCommand::Load(a) => a.run(ctx),
            ImageCommand::Save(a) => a.run(ctx),
            ImageCommand::Import(a) => a.run(ctx),
            ImageCommand::Diff(a) => a.run(ctx),
            ImageCommand::Build(a) => a.run(ctx),
            ImageCommand::Prune(a) => a.run(ctx),
            ImageCommand::Tag(a) => a.run(ctx),
            ImageCommand::Pull(a) => a.run(ctx),
            ImageCommand::Push(a) => a.run(ctx),
            ImageCommand::Search(a) => a.run(ctx),
            ImageCommand::Rm(a) => a.run(ctx),
            ImageCommand::History(a) => a.run(ctx),
        }
    }
}

/// List images in local storage.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (skiff keeps no intermediate images, so the same list).
    #[arg(short, long)]
    all: bool,
    /// Print only the image IDs, one per line (12 characters unless --no-trunc).
    #[arg(short, long)]
    quiet: bool,
    /// Add a DIGEST column: the digest of the manifest the image was pulled or loaded by.
    #[arg(long)]
    digests: bool,
    /// Print full 64-character image IDs (with their sha256: prefix) instead of 12 characters.
    #[arg(long)]
    no_trunc: bool,
    /// Do not print the header row of the table.
    #[arg(short = 'n', long)]
    noheading: bool,
    /// Output format: table (default), json, or a Go template such as '{{.Repository}}:{{.Tag}}'.
    #[arg(long)]
    format: Option<String>,
    /// Only images matching this reference (e.g. busybox or localhost/app:*).
    reference: Option<String>,
}

const IMAGE_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("ReadOnly", "R/O"),
];

impl ImagesArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let now = jiff::Timestamp::now();
        let mut rows = image::list_rows(ctx, self.all)?;
        if let Some(reference) = &self.reference {
            rows.retain(|r| {
                let full = format!(
                    "{}:{}",
                    r["Repository"].as_str().unwrap_or_default(),
                    r["Tag"].as_str().unwrap_or_default()
                );
                !image::reference::candidate_names(reference, std::iter::once(full.as_str()))
                    .is_empty()
            });
        }
        for row in &mut rows {
            let created = row["Created"].as_str().and_then(human::parse_timestamp);
            let full_id = row["ID"].as_str().unwrap_or_default().to_string();
            row["ID"] = Value::String(if self.no_trunc {
                format!("sha256:{full_id}")
            } else {
                full_id[..12.min(full_id.len())].to_string()
            });
            row["CreatedSince"] = Value::String(
                created
                    .map(|c| human::human_duration_since(c, now))
                    .unwrap_or_default(),
            );
            row["CreatedAt"] =
                Value::String(created.map(human::format_created_at).unwrap_or_default());
            row["Size"] = Value::String(human::human_size(row["Size"].as_u64().unwrap_or(0)));
        }
        if self.quiet {
            let mut seen = std::collections::HashSet::new();
            for row in &rows {
                let id = row["ID"].as_str().unwrap_or_default();
                if seen.insert(id.to_string()) {
                    println!("{id}");
                }
            }
            return Ok(0);
        }
        let digests = self.digests;
        let noheading = self.noheading;
        format::print_rows(
            &rows,
            self.format.as_deref(),
            |rows| {
                let mut columns = vec![("Repository", "REPOSITORY"), ("Tag", "TAG")];
                if digests {
                    columns.push(("Digest", "DIGEST"));
                }
                columns.extend([
                    ("ID", "IMAGE ID"),
                    ("CreatedSince", "CREATED"),
                    ("Size", "SIZE"),
                ]);
                let text = format::column_table(rows, &columns);
                if noheading {
                    text.split_once('\n')
                        .map(|(_, rest)| rest.to_string())
                        .unwrap_or_default()
                } else {
                    text
                }
            },
            IMAGE_HEADERS,
        )?;
        Ok(0)
    }
}

/// Display the configuration of images (and, by name or ID, containers) as JSON.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format the output with a Go template, e.g. '{{.Id}}' or '{{len .RootFS.Layers}}'.
    #[arg(short, long)]
    format: Option<String>,
    /// Which kind of object to inspect: image, container or all.
    #[arg(long = "type", short = 't', default_value = "all")]
    kind: String,
    /// Image or container names or IDs.
    #[arg(required = true)]
    names: Vec<String>,
}

impl InspectArgs {
    /// `container inspect` and `image inspect` look at one kind only.
    pub fn with_kind(mut self, kind: &str) -> Self {
        self.kind = kind.to_string();
        self
    }

    pub fn run(self, ctx: &Context) -> Outcome {
        let mut items = Vec::new();
        let mut first_error = None;
        for name in &self.names {
            let result = match self.kind.as_str() {
                "image" => image::inspect(ctx, name),
                "container" => crate::container::inspect(ctx, name),
                "all" => {
                    crate::container::inspect(ctx, name).or_else(|_| image::inspect(ctx, name))
                }
                other => anyhow::bail!("invalid --type {other:?}: use image, container or all"),
            };
            match result {
                Ok(value) => items.push(value),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        format::print_inspect(items, self.format.as_deref(), format::render_json)?;
        match first_error {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// Where big temporary files go: $TMPDIR, else /var/tmp (as Podman's image_copy_tmp_dir), which
/// unlike /tmp is rarely a small tmpfs.
fn spool_dir() -> PathBuf {
    std::env::var_os("TMPDIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

/// Load images from a docker-archive or oci-archive (a file, or standard input).
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read the archive (docker-archive or oci-archive) from FILE instead of standard input.
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

impl LoadArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let (path, _spool) = match self.input {
            Some(path) => (path, None),
            None => {
                // Archives are indexed with seeks, so standard input is spooled to a file first.
                let mut spool = tempfile::Builder::new()
                    .prefix("skiff-load-")
                    .tempfile_in(spool_dir())?;
                std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())?;
                (spool.path().to_path_buf(), Some(spool))
            }
        };
        for name in image::load(ctx, &path)? {
            if !self.quiet {
                println!("Loaded image: {name}");
            }
        }
        Ok(0)
    }
}

/// Save images to a docker-archive (default) or oci-archive.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to this file (default: standard output, which must not be a terminal).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Archive format: docker-archive (default; what `docker load` reads, names kept) or
    /// oci-archive (an OCI image layout in a tar).
    #[arg(long, default_value = "docker-archive")]
    format: String,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Images to save, by name or ID.
    #[arg(required = true)]
    images: Vec<String>,
}

impl SaveArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let format = match self.format.as_str() {
            "docker-archive" => ArchiveFormat::DockerArchive,
            "oci-archive" => ArchiveFormat::OciArchive,
            other => anyhow::bail!(
                "unsupported save format {other:?}: use docker-archive or oci-archive"
            ),
        };
        if self.output.is_none() && nix::unistd::isatty(std::io::stdout()).unwrap_or(false) {
            anyhow::bail!(
                "refusing to save to a terminal: use -o FILE or redirect standard output"
            );
        }
        image::save(ctx, &self.images, format, self.output.as_deref())?;
        Ok(0)
    }
}

/// Create an image from a root filesystem tarball (a file, or - for standard input).
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR. Repeatable.
    #[arg(short, long, value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Comment recorded in the new image's history entry (shown by `history` and by inspect as
    /// Comment).
    #[arg(short, long)]
    message: Option<String>,
    /// Print nothing but the image ID.
    #[arg(short, long)]
    quiet: bool,
    /// Tarball path, or - for standard input.
    source: String,
    /// Name for the image (default: none); localhost/ is added when no registry is given.
    reference: Option<String>,
}

impl ImportArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = ImportOptions {
            changes: self.change,
            message: self.message,
        };
        let id = image::import(ctx, &self.source, self.reference.as_deref(), &options)?;
        println!("sha256:{id}");
        Ok(0)
    }
}

/// Remove images no container uses that have no name (build cache images included); with -a,
/// named ones too; with --filter, only those that match.
#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove every image no container uses, named or not.
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    prune: super::PruneArgs,
}

impl ImagePruneArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let filters = self.prune.filters("image prune")?;
        self.prune.report(image::prune(ctx, self.all, &filters))
    }
}

/// Add names to an image.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to name.
    image: String,
    /// New names for it: NAME[:TAG] (tag latest when none; localhost/ when no registry). A name
    /// another image had moves to this one.
    #[arg(required = true)]
    targets: Vec<String>,
}

impl TagArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        image::tag(ctx, &self.image, &self.targets)?;
        Ok(0)
    }
}

/// Remove images.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Also remove the containers that use the image (stopping running ones); without it, an image
    /// a container uses is not removed.
    #[arg(short, long)]
    force: bool,
    /// Remove every image (with --force, and the containers that use them).
    #[arg(short, long)]
    all: bool,
    /// Images to remove.
    images: Vec<String>,
}

impl RmiArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        if self.images.is_empty() && !self.all {
            anyhow::bail!("image name or ID must be specified");
        }
        for line in image::remove(ctx, &self.images, self.force, self.all)? {
            match line {
                Removal::Untagged(name) => println!("Untagged: {name}"),
                Removal::Deleted(id) => println!("Deleted: {id}"),
            }
        }
        Ok(0)
    }
}

/// Show the history of an image.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print full IDs and whole CREATED BY commands instead of shortening them.
    #[arg(long)]
    no_trunc: bool,
    /// Print only the IDs of the history entries, one per line.
    #[arg(short, long)]
    quiet: bool,
    /// Print sizes and dates for people (default true: 1.2MB, 2 weeks ago); -H=false prints bytes
    /// and RFC 3339 times.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// Output format: table (default), json, or a Go template.
    #[arg(long)]
    format: Option<String>,
    image: String,
}

impl HistoryArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let now = jiff::Timestamp::now();
        let mut rows = image::history(ctx, &self.image)?;
        for row in &mut rows {
            let id = row["ID"].as_str().unwrap_or_default().to_string();
            if id != "<missing>" && !self.no_trunc {
                row["ID"] = Value::String(id[..12.min(id.len())].to_string());
            }
            let created = row["Created"].as_str().and_then(human::parse_timestamp);
            row["CreatedSince"] = Value::String(match (created, self.human) {
                (Some(c), true) => human::human_duration_since(c, now),
                (Some(c), false) => human::format_rfc3339_nano(c),
                (None, _) => String::new(),
            });
            let size = row["Size"].as_u64().unwrap_or(0);
            row["Size"] = Value::String(if self.human {
                human::human_size(size)
            } else {
                size.to_string()
            });
            if !self.no_trunc {
                let by = row["CreatedBy"].as_str().unwrap_or_default();
                if by.chars().count() > 45 {
                    row["CreatedBy"] =
                        Value::String(format!("{}...", by.chars().take(42).collect::<String>()));
                }
            }
        }
        if self.quiet {
            for row in &rows {
                println!("{}", row["ID"].as_str().unwrap_or_default());
            }
            return Ok(0);
        }
        format::print_rows(
            &rows,
            self.format.as_deref(),
            |rows| {
                format::column_table(
                    rows,
                    &[
                        ("ID", "ID"),
                        ("CreatedSince", "CREATED"),
                        ("CreatedBy", "CREATED BY"),
                        ("Size", "SIZE"),
                        ("Comment", "COMMENT"),
                    ],
                )
            },
            &[("CreatedSince", "CREATED"), ("CreatedBy", "CREATED BY")],
        )?;
        Ok(0)
    }
}
