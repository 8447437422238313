//! `system reset`: everything skiff keeps for this user removed — containers (stopped first),
//! images, volumes, networks with their host-side state, build cache mounts, the runtime
//! directory — leaving an empty store ready for use, as `podman system reset` does.

use anyhow::{Context as _, Result};

use crate::context::Context;
use crate::store::Store;

/// The store's two directories, which `reset` empties: `system reset` names them when it asks.
pub struct Directories {
    pub graph_root: std::path::PathBuf,
    pub run_root: std::path::PathBuf,
}

pub fn directories(ctx: &Context) -> Directories {
    Directories {
        graph_root: ctx.store.root().to_path_buf(),
        run_root: ctx.store.runroot().to_path_buf(),
    }
}

pub fn reset(ctx: &Context) -> Result<()> {
    // Each kind through its own removal first, so that what lives outside the store (a
    // container's processes and helpers, a network's bridge and its holder) goes with it.
    let containers = ctx.store.container_ids();
    crate::container::remove(ctx, &containers, true, true).context("removing containers")?;
    crate::container::cascade::remove_images(ctx, &[], true, true).context("removing images")?;
    let volumes: Vec<String> = ctx
        .store
        .all_volumes()
        .into_iter()
        .map(|v| v.name)
        .collect();
    crate::container::cascade::remove_volumes(ctx, &volumes, true).context("removing volumes")?;
    for network in ctx.store.all_networks() {
        crate::container::cascade::remove_network(ctx, &network.name, true)
            .with_context(|| format!("removing network {}", network.name))?;
    }
    crate::network::bridges::release_if_unused(ctx).context("releasing the host's network")?;
    crate::runtime::userns_holder::stop_all(ctx.store.runroot());
    // Then whatever is left (build cache mounts, layers no image named, staging, the runtime
    // directory), some of it owned by subordinate ids: removed inside the user namespace.
    let lock = ctx.store.lock()?;
    let mut doomed = Vec::new();
    for dir in [ctx.store.root(), ctx.store.runroot()] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        doomed.extend(
            entries
                .filter_map(|e| e.ok())
                // The lock file stays: it is held right now, and others wait on it.
                .filter(|e| e.file_name() != "storage.lock")
                .map(|e| e.path()),
        );
    }
    crate::image::remove_trees(ctx, doomed).context("removing the store's files")?;
    Store::open(ctx.store.root(), ctx.store.runroot())?;
    drop(lock);
    Ok(())
}
