//! `system prune`: each kind's own prune, in Podman's order, gathering what they removed.

use anyhow::Context as _;

use crate::context::Context;
use crate::filter::PruneFilters;

/// What one `system prune` removed, kind by kind, as each prune reported it.
#[derive(Debug, Default)]
pub struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub images: Vec<String>,
    pub volumes: Vec<String>,
}

/// Runs the prunes in Podman's order: containers first, so that the images, networks and volumes
/// only they used are unused by the time their prunes look. One pass suffices: in skiff no image,
/// network or volume holds another, so no later prune frees something an earlier one kept.
/// `image::prune` forgets the build-cache entries of the images it removes, which is the
/// "dangling build cache" (with -a, all of it that names unused images). As Podman's, every
/// prune gets the same filters (Podman passes them to its volume prune too, whose until= is the
/// volume's creation time; it is Docker that refuses until= with --volumes).
pub fn prune(
    ctx: &Context,
    all: bool,
    volumes: bool,
    filters: &PruneFilters,
    removed: &mut Removed,
) -> anyhow::Result<()> {
    removed.containers = crate::container::prune(ctx, filters).context("pruning containers")?;
    removed.images =
        crate::container::cascade::prune_images(ctx, all, filters).context("pruning images")?;
    removed.networks = crate::network::manage::prune(ctx, filters).context("pruning networks")?;
    if volumes {
        removed.volumes = crate::volume::prune(ctx, filters).context("pruning volumes")?;
    }
    Ok(())
}
