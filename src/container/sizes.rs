//! The disk space a container's writable layer takes (`ps -s`, `system df`).

use std::path::PathBuf;

use anyhow::Result;

use super::changes;
use crate::context::Context;
use crate::runtime::{self};

/// The size of each container's writable layer (`ps -s`): the bytes of the files its upper
/// directory holds, a hard-linked file counted once; for a vfs container, of the files its
/// changes hold. Measured inside the user namespace (one child for all upper directories),
/// because directories the container's users made (a 0700 home of uid 1000, say) belong to
/// subordinate ids the user cannot enter.
pub fn writable_layer_sizes(ctx: &Context, ids: &[String]) -> Result<Vec<u64>> {
    let uppers: Vec<PathBuf> = ids
        .iter()
        .map(|id| ctx.store.container_dir(id).join("upper"))
        .collect();
    let mut sizes = tree_sizes(ctx, uppers)?;
    for (size, id) in sizes.iter_mut().zip(ids) {
        let Ok(record) = ctx.store.read_container(id) else {
            continue;
        };
        if record.spec.storage_driver == runtime::StorageDriver::Vfs {
            let spec = record.spec;
            *size = runtime::run_in_user_namespace(changes::namespace(&spec).as_ref(), || {
                Ok(changes::vfs_size(&spec))
            })?;
        }
    }
    Ok(sizes)
}

/// The bytes under each of `dirs` (in the store), measured as [`writable_layer_sizes`] does.
pub fn tree_sizes(ctx: &Context, dirs: Vec<PathBuf>) -> Result<Vec<u64>> {
    let sizes = runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), move || {
        Ok(dirs.iter().map(|dir| tree_size(dir)).collect())
    })?;
    Ok(sizes)
}

/// Bytes of the non-directory entries under `root`; unreadable parts count as empty, as a
/// listing should not fail on a container that is being removed.
fn tree_size(root: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen_links = std::collections::HashSet::new();
    let mut pending = vec![root.to_path_buf()];
    let mut total = 0;
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.nlink() < 2 || seen_links.insert((meta.dev(), meta.ino())) {
                total += meta.size();
            }
        }
    }
    total
}
