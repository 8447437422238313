//! `system …`: commands about the store and the host as a whole, as `podman system` has them
//! (`prune`, `check`, `info`, `df`, `reset`, `migrate`, `events`); each is one variant of
//! [`SystemCommand`], and the work is `crate::system`'s.

use std::io::{BufRead, Write};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::Outcome;
use crate::context::{Context, StoreRequest};
use crate::system::prune::{self, Removed};

/// Manage skiff's store and check the host, as `podman system` does.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    Prune(SystemPruneArgs),
    Check(SystemCheckArgs),
    Info(SystemInfoArgs),
    Df(SystemDfArgs),
    Reset(SystemResetArgs),
    Migrate(SystemMigrateArgs),
    Events(super::events::EventsArgs),
}

impl SystemCommand {
    pub fn run(self, request: &StoreRequest) -> Outcome {
        match self {
            SystemCommand::Prune(a) => a.run(&request.open()?),
            SystemCommand::Check(a) => a.run(request.store_root()),
            SystemCommand::Info(a) => a.run(&request.open()?),
            SystemCommand::Df(a) => a.run(&request.open()?),
            SystemCommand::Events(a) => a.run(&request.open()?),
            // Both must open a store whose id mapping changed, which every other command refuses.
            SystemCommand::Reset(a) => a.run(&request.open_unchecked()?),
            SystemCommand::Migrate(a) => a.run(&request.open_unchecked()?),
        }
    }
}

/// Show what skiff sees of the host and its store, as `podman info` does.
///
/// Prints YAML with Podman's sections (host, plugins, registries, store, version) and keys;
/// --format json prints JSON, and a Go template reads Podman's field names:
/// {{.Host.Arch}}, {{.Store.GraphRoot}}, {{.Host.IDMappings.UIDMap}}…
#[derive(Debug, Args)]
pub struct SystemInfoArgs {
    /// json, or a Go template.
    #[arg(short, long, value_name = "FORMAT")]
    format: Option<String>,
}

impl SystemInfoArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        use super::format::{parse_format, render_json_styled, render_struct, render_yaml};
        use super::format::{GoStruct, JsonStyle, OutputFormat};
        let info = crate::system::info::info(ctx);
        let text = match self.format.as_deref().map(parse_format) {
            // Podman prints its YAML with `fmt.Println`: a blank line ends it.
            None | Some(OutputFormat::Table) => format!("{}\n", render_yaml(&info)),
            Some(OutputFormat::Json) => render_json_styled(&info, JsonStyle::Indented("  "))?,
            Some(OutputFormat::Template { text, .. }) => render_struct(
                &text,
                &info,
                &GoStruct {
                    field_name: crate::system::info::go_field_name,
                    maps: crate::system::info::GO_MAPS,
                },
            )?,
        };
        print!("{text}");
        Ok(0)
    }
}

/// Show the store's disk use: images, containers and local volumes.
///
/// One line per kind with how many there are, how many are in use, their size and what
/// removing the unused ones would free; -v lists every image, container and volume.
#[derive(Debug, Args)]
pub struct SystemDfArgs {
    /// Show every image, container and volume.
    #[arg(short, long)]
    verbose: bool,
    /// json, or a Go template with .Type, .Total, .Active, .Size, .Reclaimable.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

impl SystemDfArgs {
    fn run(self, ctx: &Context) -> Outcome {
        use super::human::human_size_4 as size;
        // As Podman, which checks after measuring.
        let usage = crate::system::df::disk_use(ctx)?;
        if self.verbose {
            if self.format.is_some() {
                anyhow::bail!("cannot combine --format and --verbose flags");
            }
            print!("{}", df_verbose(&usage));
            return Ok(0);
        }
        let rows: Vec<serde_json::Value> = usage
            .summary()
            .iter()
            .map(|u| {
                // Go's math.Round: halves away from zero.
                let percent = match u.size {
                    0 => 0,
                    total => (u.reclaimable as f64 * 100.0 / total as f64).round() as u64,
                };
                serde_json::json!({
                    "Type": u.kind,
                    "Total": u.total,
                    "Active": u.active,
                    "RawSize": u.size,
                    "RawReclaimable": u.reclaimable,
                    "TotalCount": u.total,
                    "Size": size(u.size),
                    "Reclaimable": format!("{} ({percent}%)", size(u.reclaimable)),
                })
            })
            .collect();
        let columns = [
            ("Type", "TYPE"),
            ("Total", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ];
        super::format::Listing::same(rows, super::format::JsonStyle::Indented("    "), &columns)
            .print(self.format.as_deref(), |rows| {
                super::format::column_table(rows, &columns)
            })?;
        Ok(0)
    }
}

/// `podman system df -v`: a section per kind, each a table; times without "ago" and the
/// container's image as the first 12 digits of its ID, as Podman prints them.
fn df_verbose(usage: &crate::system::df::DiskUse) -> String {
    use super::format::render_table;
    use super::human::human_size_4 as size;
    let now = jiff::Timestamp::now();
    let since = |created: &str| {
        super::human::parse_timestamp(created)
            .map(|t| super::human::human_duration_between(t, now))
            .unwrap_or_default()
    };
    let short = |id: &str| id.chars().take(12).collect::<String>();
    let images: Vec<Vec<String>> = usage
        .images
        .iter()
        .map(|i| {
            vec![
                i.repository.clone(),
                i.tag.clone(),
                short(&i.id),
                since(&i.created),
                size(i.size),
                size(i.shared),
                size(i.unique),
                i.containers.to_string(),
            ]
        })
        .collect();
    let containers: Vec<Vec<String>> = usage
        .containers
        .iter()
        .map(|c| {
            vec![
                short(&c.id),
                short(&c.image_id),
                c.command.clone(),
                c.local_volumes.to_string(),
                size(c.size),
                since(&c.created),
                c.status.name().to_string(),
                c.names.clone(),
            ]
        })
        .collect();
    let volumes: Vec<Vec<String>> = usage
        .volumes
        .iter()
        .map(|v| vec![v.name.clone(), v.links.to_string(), size(v.size)])
        .collect();
    format!(
        "Images space usage:\n\n{}\nContainers space usage:\n\n{}\nLocal Volumes space usage:\n\n{}",
        render_table(
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"],
            &images
        ),
        render_table(
            &["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"],
            &containers
        ),
        render_table(&["VOLUME NAME", "LINKS", "SIZE"], &volumes),
    )
}

/// Remove everything: containers, images, volumes, networks, build cache and runtime state.
///
/// Stops and removes every container, then removes every image, volume and network (with what
/// the host keeps for them) and the build cache, leaving an empty store. Asks first unless -f.
#[derive(Debug, Args)]
pub struct SystemResetArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

impl SystemResetArgs {
    fn run(self, ctx: &Context) -> Outcome {
        if !self.force {
            let directories = crate::system::reset::directories(ctx);
            // Podman's question, in its words.
            let question = format!("WARNING! This will remove:\n        - all containers\n        - all pods\n        - all images\n        - all networks\n        - all build cache\n        - all machines\n        - all volumes\n        - the graphRoot directory: \"{}\"\n        - the runRoot directory: \"{}\"\nAre you sure you want to continue? [y/N] ", directories.graph_root.display(), directories.run_root.display());
            if !confirmed(&question)? {
                return Ok(0);
            }
        }
        crate::system::reset::reset(ctx)?;
        Ok(0)
    }
}

/// Re-own the store after the user's ranges in /etc/subuid or /etc/subgid changed.
///
/// The store's files belong to the host ids the old ranges gave; every file is given the owner
/// the new ranges give its container id, and the new mapping is recorded. Commands refuse the
/// store until this has run. Like `podman system migrate`, it also ends the process that keeps
/// the user namespace containers share between commands (the next start makes a new one).
#[derive(Debug, Args)]
pub struct SystemMigrateArgs {}

impl SystemMigrateArgs {
    fn run(self, ctx: &Context) -> Outcome {
        if let crate::system::migrate::Migration::Migrated { files } =
            crate::system::migrate::migrate(ctx)?
        {
            println!("Migrated the store to the new id mapping: {files} files re-owned");
        }
        Ok(0)
    }
}

/// Check that this host has everything (rootless) containers need.
///
/// Tests each prerequisite — subordinate ids, newuidmap and newgidmap, user namespaces, an
/// overlay mount, /dev/fuse and /dev/net/tun, pasta, XDG_RUNTIME_DIR, the store's file system,
/// cgroup delegation — and prints one line for each: ok, warning or FAIL, with the command that
/// fixes what is wrong. Exits 1 when a prerequisite fails.
#[derive(Debug, Args)]
pub struct SystemCheckArgs {
    /// Print as json, or through a Go template with the fields .Name, .Status, .Detail, .Fix.
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

impl SystemCheckArgs {
    fn run(self, store_root: std::path::PathBuf) -> Outcome {
        let findings = crate::system::check::check_this_host(store_root);
        let rows: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "Name": f.name,
                    "Status": f.status.label(),
                    "Detail": f.detail,
                    "Fix": f.fix.clone().unwrap_or_default(),
                })
            })
            .collect();
        super::format::Listing::same(rows, super::format::JsonStyle::Indented("    "), &[])
            .print(self.format.as_deref(), |_| {
                findings.iter().map(check_line).collect()
            })?;
        let failed = findings
            .iter()
            .any(|f| f.status == crate::system::check::Status::Fail);
        Ok(u8::from(failed))
    }
}

/// `FAIL    newuidmap: not found in $PATH; fix: sudo apt-get install uidmap`
fn check_line(finding: &crate::system::check::Finding) -> String {
    let fix = finding
        .fix
        .as_ref()
        .map(|fix| format!("; fix: {fix}"))
        .unwrap_or_default();
    format!(
        "{:<8}{}: {}{fix}\n",
        finding.status.label(),
        finding.name,
        finding.detail
    )
}

/// Remove unused data: stopped containers, unused networks, dangling images and build cache.
///
/// Removes every container that is not running, every network no container is on, every image
/// without a name that no container is based on (with -a, every image no container is based on)
/// with the build cache that named them, and with --volumes every volume no container uses; with
/// --filter, only those that match. Asks for confirmation first unless -f.
#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not only dangling ones: every image no container is based on,
    /// named or not, and with them all their build cache.
    #[arg(short, long)]
    all: bool,
    /// Prune volumes not used by at least one container too (by default volumes are kept, so
    /// that data nothing happens to use at the moment is not lost).
    #[arg(long)]
    volumes: bool,
    /// Do not prompt for confirmation (skiff never prompts: accepted for Docker and Podman
    /// scripts).
    #[arg(short, long)]
    force: bool,
    // As in Podman, each filter applies to every kind pruned: containers, images, networks, and
    // with --volumes volumes.
    #[command(flatten)]
    filters: super::PruneFilterFlags,
}

impl SystemPruneArgs {
    fn run(self, ctx: &Context) -> Outcome {
        // Parsed before the question, so that a filter skiff cannot apply removes nothing.
        let filters = self.filters.parse("system prune")?;
        if !self.force && !confirmed(&warning(self.all, self.volumes))? {
            return Ok(0);
        }
        let mut removed = Removed::default();
        let pruned = prune::prune(ctx, self.all, self.volumes, &filters, &mut removed);
        // What was removed before a failure is gone all the same: say so before the error.
        print!("{}", render(&removed));
        pruned?;
        Ok(0)
    }
}

/// The question `podman system prune` asks, in its words (tabs included).
fn warning(all: bool, volumes: bool) -> String {
    let volumes = match volumes {
        true => "\n\t- all volumes not used by at least one container",
        false => "",
    };
    let images = match all {
        true => "\t- all images without at least one container associated with them\n\t- all build cache",
        false => "\t- all dangling images\n\t- all dangling build cache",
    };
    format!(
        "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container{volumes}\n{images}\n\nAre you sure you want to continue? [y/N] "
    )
}

/// As Podman: an answer that starts with y or Y goes on; anything else, an empty line or the
/// end of the input included, removes nothing.
/// Asks `question` and reads the answer from standard input: only y or Y goes on, as in Podman.
fn confirmed(question: &str) -> anyhow::Result<bool> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer from standard input")?;
    Ok(is_yes(&answer))
}

fn is_yes(answer: &str) -> bool {
    answer.starts_with(['y', 'Y'])
}

/// Podman's report: a heading per kind that lost something, in its order (containers,
/// volumes, images, networks), one ID or name a line. Podman ends with "Total reclaimed
/// space"; skiff's prunes do not measure what they free, and the line is left out rather
/// than print a made-up figure.
fn render(removed: &Removed) -> String {
    let mut out = String::new();
    for (heading, names) in [
        ("Deleted Containers", &removed.containers),
        ("Deleted Volumes", &removed.volumes),
        ("Deleted Images", &removed.images),
        ("Deleted Networks", &removed.networks),
    ] {
        if names.is_empty() {
            continue;
        }
        out.push_str(heading);
        out.push('\n');
        for name in names {
            out.push_str(name);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_answer_starting_with_y_confirms() {
        for yes in ["y\n", "Y\n", "yes\n", "y"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["n\n", "\n", "", " y\n", "no\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn the_warning_names_volumes_and_all_images_only_when_asked() {
        let plain = warning(false, false);
        assert!(plain.starts_with("WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container\n\t- all dangling images\n\t- all dangling build cache\n\nAre you sure"), "{plain}");
        assert!(plain.ends_with("[y/N] "), "{plain}");
        assert!(!plain.contains("volumes"), "{plain}");
        let everything = warning(true, true);
        assert!(
            everything.contains("container\n\t- all volumes not used by at least one container\n\t- all images without at least one container associated with them\n\t- all build cache\n\n"),
            "{everything}"
        );
    }

    #[test]
    fn the_report_lists_kinds_in_podmans_order_and_skips_empty_ones() {
        let removed = Removed {
            containers: vec!["c1".into(), "c2".into()],
            networks: vec!["net".into()],
            images: vec!["i1".into()],
            volumes: Vec::new(),
        };
        assert_eq!(
            render(&removed),
            "Deleted Containers\nc1\nc2\nDeleted Images\ni1\nDeleted Networks\nnet\n"
        );
        assert_eq!(render(&Removed::default()), "");
    }
}
