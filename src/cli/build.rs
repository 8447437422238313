//! `build`: an image from a Dockerfile or Containerfile.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;

use super::Outcome;
use crate::build::engine::{self, BuildOptions, BuildOutcome};
use crate::context::Context;

/// Build an image from a Containerfile or Dockerfile: each RUN runs in a container of the image
/// so far, each step is cached (a rebuild reuses every step whose inputs are unchanged), and the
/// image ID is printed last.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The Containerfile to read (default: Containerfile, else Dockerfile, in the context); - reads standard input.
    #[arg(short, long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Name the image; repeatable. localhost/ is added when no registry is given.
    #[arg(short, long = "tag", value_name = "NAME")]
    tags: Vec<String>,
    /// A build argument, NAME=VALUE (NAME alone takes it from the environment); repeatable.
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    build_args: Vec<String>,
    /// A label for the image, KEY=VALUE; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Run every step again instead of reusing cached results.
    #[arg(long)]
    no_cache: bool,
    /// Print nothing but the image ID (the RUN steps' own output still shows).
    #[arg(short, long)]
    quiet: bool,
    /// Write the image ID to this file.
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// Build this stage (by its AS name) and the stages it needs, instead of the last.
    #[arg(long, value_name = "STAGE")]
    target: Option<String>,
    /// Network of RUN steps that do not set their own: private (default, with outbound access through pasta), none, or host.
    #[arg(long, value_name = "MODE", default_value = "private", value_parser = ["private", "default", "none", "host"])]
    network: String,
    /// Keep one layer per step (default); --layers=false makes the image a single layer.
    #[arg(long, value_name = "BOOL", default_value = "true", value_parser = clap::value_parser!(bool), num_args = 0..=1, default_missing_value = "true")]
    layers: bool,
    /// Platform to build for: only this host's (linux/ARCH) is possible.
    #[arg(long, value_name = "OS/ARCH")]
    platform: Option<String>,
    /// The build context: the directory COPY reads from.
    #[arg(default_value = ".")]
    context: PathBuf,
}

fn name_values(
    values: &[String],
    what: &str,
    from_env: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for value in values {
        match value.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                map.insert(name.to_string(), value.to_string());
            }
            None if from_env && !value.is_empty() => {
                if let Ok(found) = std::env::var(value) {
                    map.insert(value.clone(), found);
                }
            }
            _ => bail!("invalid {what} {value:?}: use NAME=VALUE"),
        }
    }
    Ok(map)
}

impl BuildArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        if let Some(platform) = &self.platform {
            engine::host_platform_only(platform)?;
        }
        if !self.context.is_dir() {
            bail!(
                "build context {} is not a directory",
                self.context.display()
            );
        }
        let (file_name, file_text) = match &self.file {
            Some(path) if path.as_os_str() == "-" => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                ("-".to_string(), text)
            }
            Some(path) => (
                path.display().to_string(),
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            ),
            None => {
                let found = ["Containerfile", "Dockerfile"]
                    .iter()
                    .map(|name| self.context.join(name))
                    .find(|path| path.is_file())
                    .with_context(|| {
                        format!(
                            "no Containerfile or Dockerfile in {}: name one with -f",
                            self.context.display()
                        )
                    })?;
                let text = std::fs::read_to_string(&found)
                    .with_context(|| format!("reading {}", found.display()))?;
                (found.display().to_string(), text)
            }
        };
        let options = BuildOptions {
            context: self.context.clone(),
            file_name,
            file_text,
            tags: self.tags,
            build_args: name_values(&self.build_args, "--build-arg", true)?,
            labels: name_values(&self.labels, "--label", false)?
                .into_iter()
                .collect(),
            no_cache: self.no_cache,
            quiet: self.quiet,
            target: self.target,
            network: match self.network.as_str() {
                "none" => crate::build::dockerfile::RunNetwork::None,
                "host" => crate::build::dockerfile::RunNetwork::Host,
                _ => crate::build::dockerfile::RunNetwork::Default,
            },
            squash: !self.layers,
        };
        match engine::build(ctx, &options)? {
            BuildOutcome::Built(id) => {
                if let Some(path) = &self.iidfile {
                    std::fs::write(path, format!("sha256:{id}"))
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                println!("{id}");
                Ok(0)
            }
            BuildOutcome::StepFailed { step, code } => {
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("Error: building at STEP \"{step}\": exit status {code}");
                }
                Ok(u8::try_from(code).unwrap_or(1))
            }
        }
    }
}
