//! `volume create`, `ls`, `inspect`, `rm`, `prune`, `exists`, `export`, `import`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};

use super::{format, Outcome};
use crate::context::Context;
use crate::volume::{self, CreateRequest};

/// Manage volumes (`volume create`, `volume ls`, `volume rm`, …), as `podman volume` does.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    Create(CreateArgs),
    #[command(name = "ls", visible_alias = "list")]
    Ls(LsArgs),
    Inspect(InspectArgs),
    #[command(name = "rm", visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove every volume no container uses (with --filter, only those that match).
    Prune(super::PruneArgs),
    Exists(ExistsArgs),
    Export(ExportArgs),
    Import(ImportArgs),
}

impl VolumeCommand {
    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            VolumeCommand::Create(a) => a.run(ctx),
            VolumeCommand::Ls(a) => a.run(ctx),
            VolumeCommand::Inspect(a) => a.run(ctx),
            VolumeCommand::Rm(a) => a.run(ctx),
            VolumeCommand::Prune(a) => {
                let filters = a.filters("volume prune")?;
                a.report(volume::prune(ctx, &filters))
            }
            VolumeCommand::Exists(a) => a.run(ctx),
            VolumeCommand::Export(a) => a.run(ctx),
            VolumeCommand::Import(a) => a.run(ctx),
        }
    }
}

fn key_values(pairs: &[String]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect()
}

/// Create a volume.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Volume driver (default local, the only one): a directory in the store, or with --opt a host
    /// directory.
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set a label on the volume, KEY=VALUE (KEY alone for an empty value); `volume ls` and `volume
    /// prune` filter on it. Repeatable.
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Driver option: type=none,o=bind,device=DIR makes a volume of a host directory. Repeatable.
    #[arg(short, long = "opt", value_name = "KEY=VALUE")]
    opt: Vec<String>,
    /// Succeed without change when a volume of that name exists.
    #[arg(long)]
    ignore: bool,
    /// Volume name (default: a random one).
    name: Option<String>,
}

impl CreateArgs {
    fn run(self, ctx: &Context) -> Outcome {
        if self.driver != "local" {
            anyhow::bail!(
                "unsupported volume driver {:?}: skiff makes local volumes",
                self.driver
            );
        }
        let volume = volume::create(
            ctx,
            &CreateRequest {
                name: self.name,
                labels: key_values(&self.label),
                options: key_values(&self.opt),
                ignore_existing: self.ignore,
            },
        )?;
        println!("{}", volume.name);
        Ok(0)
    }
}

/// List volumes.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print only the volume names, one per line.
    #[arg(short, long)]
    quiet: bool,
    /// Keep only volumes matching: name=, label=KEY[=VALUE], driver=local, dangling=true|false. Repeatable.
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Output format: table (default), json, or a Go template such as '{{.Name}}'.
    #[arg(long)]
    format: Option<String>,
}

impl LsArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let json = volume::list(ctx, &self.filter)?;
        let columns = [("Driver", "DRIVER"), ("Name", "VOLUME NAME")];
        let rows = json.iter().map(volume_view).collect();
        format::print_named_listing(rows, json, self.quiet, self.format.as_deref(), &columns)?;
        Ok(0)
    }
}

/// Show volumes as JSON (Podman's shape).
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format each volume with a Go template such as '{{.Mountpoint}}' instead of printing JSON.
    #[arg(short, long)]
    format: Option<String>,
    /// Inspect every volume.
    #[arg(short, long)]
    all: bool,
    #[arg(required_unless_present = "all")]
    volumes: Vec<String>,
}

impl InspectArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let items = volume::inspect(ctx, &self.volumes, self.all)?;
        format::print_inspect(
            items,
            self.format.as_deref(),
            format::render_inspect_json,
            volume_view,
        )?;
        Ok(0)
    }
}

/// What a template reads of a volume: Podman's `InspectVolumeData`, with `CreatedAt` a Go
/// time and its omitempty fields present (zero, false or empty).
fn volume_view(json: &serde_json::Value) -> serde_json::Value {
    let mut view = format::with_go_times(json, &["CreatedAt"]);
    let defaults = serde_json::json!({
        "Status": {}, "UID": 0, "GID": 0, "Anonymous": false, "NeedsCopyUp": false,
        "NeedsChown": false, "Timeout": 0, "StorageID": "", "Pinned": false,
    });
    if let (Some(view), Some(defaults)) = (view.as_object_mut(), defaults.as_object()) {
        for (key, value) in defaults {
            view.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    view
}

/// Remove volumes (refused while a container uses one, unless -f).
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove the containers using the volume too; without it, a volume in use is not removed.
    #[arg(short, long)]
    force: bool,
    /// Remove every volume (those in use only with --force).
    #[arg(short, long)]
    all: bool,
    #[arg(required_unless_present = "all")]
    volumes: Vec<String>,
}

impl RmArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let names = if self.all {
            volume::names(ctx)
        } else {
            self.volumes
        };
        for name in crate::container::cascade::remove_volumes(ctx, &names, self.force)? {
            println!("{name}");
        }
        Ok(0)
    }
}

/// Exit 0 when the volume exists, 1 when it does not.
#[derive(Debug, Args)]
pub struct ExistsArgs {
    volume: String,
}

impl ExistsArgs {
    fn run(self, ctx: &Context) -> Outcome {
        Ok(if volume::exists(ctx, &self.volume) {
            0
        } else {
            1
        })
    }
}

/// Write a volume's contents as a tar archive (to standard output unless -o).
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the tar archive of the volume's files to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    volume: String,
}

impl ExportArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let dir = volume::mountpoint_of(ctx, &self.volume)?;
        match &self.output {
            Some(path) => {
                let mut file = std::fs::File::create(path)
                    .map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
                crate::container::copy::archive_directory(ctx, &dir, &mut file)?;
            }
            None => {
                use std::io::IsTerminal;
                if std::io::stdout().is_terminal() {
                    anyhow::bail!("refusing to write an archive to a terminal: give -o FILE or redirect the output");
                }
                crate::container::copy::archive_directory(
                    ctx,
                    &dir,
                    &mut std::io::stdout().lock(),
                )?;
            }
        }
        Ok(0)
    }
}

/// Unpack a tar archive (a file, or - for standard input) into a volume.
#[derive(Debug, Args)]
pub struct ImportArgs {
    volume: String,
    /// The archive, or - for standard input.
    source: String,
}

impl ImportArgs {
    fn run(self, ctx: &Context) -> Outcome {
        let dir = volume::mountpoint_of(ctx, &self.volume)?;
        if self.source == "-" {
            crate::container::copy::unpack_into_directory(ctx, &dir, &mut std::io::stdin().lock())?;
        } else {
            let mut file = std::fs::File::open(&self.source)
                .map_err(|e| anyhow::anyhow!("opening {}: {e}", self.source))?;
            crate::container::copy::unpack_into_directory(ctx, &dir, &mut file)?;
        }
        Ok(0)
    }
}
