//! The `--force` cascades: `rmi -f`, `network rm -f` and `volume rm -f` remove the containers
//! that use what they remove, then ask image/, network/ or volume/ to remove it. They live here,
//! with container removal, so that those floors below never call up into container/.

use anyhow::Result;

use super::{build_lease, remove, remove_locked};
use crate::context::Context;
use crate::filter::PruneFilters;
use crate::image::{self, Removal};
use crate::{network, volume};

/// `rmi` / `image rm`: with `force`, the containers of the images removed go first (running
/// ones too), as with Podman.
pub fn remove_images(
    ctx: &Context,
    references: &[String],
    force: bool,
    all: bool,
) -> Result<Vec<Removal>> {
    // A killed build's step containers, which `ps -a` does not show, do not hold an image (one
    // that cannot be removed holds it, as any container does).
    build_lease::remove_abandoned_or_warn(ctx);
    let lock = ctx.store.lock()?;
    if force {
        for container in image::containers_of_removed(ctx, references, all)? {
            remove_locked(ctx, &lock, &container, false)?;
        }
    }
    image::remove_locked(ctx, &lock, references, all)
}

/// `image prune`, after removing what killed builds left: their step containers would keep
/// their images (one that cannot be removed keeps its image, which is all it changes here).
pub fn prune_images(ctx: &Context, all: bool, filters: &PruneFilters) -> Result<Vec<String>> {
    build_lease::remove_abandoned_or_warn(ctx);
    image::prune(ctx, all, filters)
}

/// `network rm`: with `force`, the containers on the network go first.
pub fn remove_network(ctx: &Context, reference: &str, force: bool) -> Result<String> {
    if force {
        let on_it = network::manage::containers_on(ctx, reference)?;
        if !on_it.is_empty() {
            remove(ctx, &on_it, true, false)?;
        }
    }
    network::manage::remove(ctx, reference)
}

/// `volume rm`: with `force`, the containers using the volumes go first (running ones too).
pub fn remove_volumes(ctx: &Context, names: &[String], force: bool) -> Result<Vec<String>> {
    if force {
        let using = volume::containers_using(ctx, names)?;
        if !using.is_empty() {
            remove(ctx, &using, true, false)?;
        }
    }
    volume::remove(ctx, names)
}
