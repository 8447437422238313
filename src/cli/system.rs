//! `system …`: commands about the store as a whole, as `podman system` has them (`prune` so far;
//! each further command is one more variant of [`SystemCommand`]). `prune` decides nothing
//! itself: it calls each kind's own prune in Podman's order and reports what they removed.

use std::io::{BufRead, Write};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::Outcome;
use crate::context::Context;
use crate::filter::PruneFilters;

/// Manage skiff's store as a whole (`system prune`), as `podman system` does.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    Prune(SystemPruneArgs),
}

impl SystemCommand {
    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            SystemCommand::Prune(a) => a.run(ctx),
        }
    }
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
        if !self.force {
            print!("{}", warning(self.all, self.volumes));
            std::io::stdout().flush()?;
            let mut answer = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut answer)
                .context("reading the answer from standard input")?;
            if !confirmed(&answer) {
                return Ok(0);
            }
        }
        let mut removed = Removed::default();
        let pruned = prune_all(ctx, self.all, self.volumes, &filters, &mut removed);
        // What was removed before a failure is gone all the same: say so before the error.
        print!("{}", removed.render());
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
fn confirmed(answer: &str) -> bool {
    answer.starts_with(['y', 'Y'])
}

/// What one `system prune` removed, kind by kind, as each prune reported it.
#[derive(Debug, Default)]
struct Removed {
    containers: Vec<String>,
    networks: Vec<String>,
    images: Vec<String>,
    volumes: Vec<String>,
}

/// Runs the prunes in Podman's order: containers first, so that the images, networks and volumes
/// only they used are unused by the time their prunes look. One pass suffices: in skiff no image,
/// network or volume holds another, so no later prune frees something an earlier one kept.
/// `image::prune` forgets the build-cache entries of the images it removes, which is the
/// "dangling build cache" (with -a, all of it that names unused images). As Podman's, every
/// prune gets the same filters (Podman passes them to its volume prune too, whose until= is the
/// volume's creation time; it is Docker that refuses until= with --volumes).
fn prune_all(
    ctx: &Context,
    all: bool,
    volumes: bool,
    filters: &PruneFilters,
    removed: &mut Removed,
) -> anyhow::Result<()> {
    removed.containers = crate::container::prune(ctx, filters).context("pruning containers")?;
    removed.images = crate::image::prune(ctx, all, filters).context("pruning images")?;
    removed.networks = crate::network::manage::prune(ctx, filters).context("pruning networks")?;
    if volumes {
        removed.volumes = crate::volume::prune(ctx, filters).context("pruning volumes")?;
    }
    Ok(())
}

impl Removed {
    /// Podman's report: a heading per kind that lost something, in its order (containers,
    /// volumes, images, networks), one ID or name a line. Podman ends with "Total reclaimed
    /// space"; skiff's prunes do not measure what they free, and the line is left out rather
    /// than print a made-up figure.
    fn render(&self) -> String {
        let mut out = String::new();
        for (heading, names) in [
            ("Deleted Containers", &self.containers),
            ("Deleted Volumes", &self.volumes),
            ("Deleted Images", &self.images),
            ("Deleted Networks", &self.networks),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_answer_starting_with_y_confirms() {
        for yes in ["y\n", "Y\n", "yes\n", "y"] {
            assert!(confirmed(yes), "{yes:?}");
        }
        for no in ["n\n", "\n", "", " y\n", "no\n"] {
            assert!(!confirmed(no), "{no:?}");
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
            removed.render(),
            "Deleted Containers\nc1\nc2\nDeleted Images\ni1\nDeleted Networks\nnet\n"
        );
        assert_eq!(Removed::default().render(), "");
    }
}
