//! `system migrate`: after the user's ranges in /etc/subuid or /etc/subgid change, the store's
//! files still belong to the host ids of the old mapping, which the new one gives other
//! container ids (or none). This re-owns every file so that it has, under the new mapping, the
//! container id it had under the old one, and records the new mapping in the store. It also
//! ends the processes that keep the user's namespaces (`runtime::userns_holder`).
//!
//! The work runs in a user namespace with the new mapping, so it can reach only host ids that
//! mapping holds: when the old ids are outside it, only root could re-own the files, and
//! migrate says so and changes nothing.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::context::Context;
use crate::runtime::userns::{IdMapping, IdRange, IdTranslation};

/// What a migration did.
pub enum Migration {
    /// The store already had the current mapping (or skiff runs as root, with no mapping).
    Unchanged,
    Migrated {
        files: u64,
    },
}

pub fn migrate(ctx: &Context) -> Result<Migration> {
    let Some(current) = ctx.id_mapping.clone() else {
        return Ok(Migration::Unchanged);
    };
    // As `podman system migrate` stops its pause process: a holder keeps the maps it was made
    // with, and usermod refuses to change a user who has a process.
    crate::runtime::userns_holder::stop_all(ctx.store.runroot());
    let lock = ctx.store.lock()?;
    let recorded: Option<IdMapping> = ctx.store.recorded_id_mapping();
    let Some(old) = recorded.filter(|old| old != &current) else {
        ctx.store.record_id_mapping(&lock, &current)?;
        return Ok(Migration::Unchanged);
    };
    let lost = unreachable_ranges(&old, &current);
    if !lost.is_empty() {
        bail!(
            "the store's files belong to host ids {} that /etc/subuid and /etc/subgid no longer give you, and only root can re-own them: restore those ranges, or remove the store with `sudo rm -rf {}`",
            lost.join(", "),
            ctx.store.root().display()
        );
    }
    let root = ctx.store.root().to_path_buf();
    let translation = IdTranslation {
        from: current.clone(),
        to: old,
    };
    let files = crate::runtime::run_in_user_namespace(Some(&current), move || {
        reown_tree(&root, &translation)
    })?;
    ctx.store.record_id_mapping(&lock, &current)?;
    Ok(Migration::Migrated { files })
}

/// The host ranges of `old` that `new` does not map, as `first-last` (uids, then gids).
fn unreachable_ranges(old: &IdMapping, new: &IdMapping) -> Vec<String> {
    let missing = |old: &[IdRange], new: &[IdRange]| -> Vec<String> {
        old.iter()
            .filter(|r| {
                let last = r.outside + (r.count - 1);
                !new.iter().any(|n| {
                    n.outside <= r.outside
                        && u64::from(last) < u64::from(n.outside) + u64::from(n.count)
                })
            })
            .map(|r| {
                format!(
                    "{}-{}",
                    r.outside,
                    u64::from(r.outside) + u64::from(r.count) - 1
                )
            })
            .collect()
    };
    let mut lost = missing(&old.uids, &new.uids);
    lost.extend(missing(&old.gids, &new.gids));
    lost.dedup();
    lost
}

/// In the new user namespace: gives every entry under `root` the container ids it had under the
/// old mapping. Layer copies made for other mappings (`idmap-*`) are caches made with the old
/// host ids: they are removed and made again when needed.
fn reown_tree(root: &Path, translation: &IdTranslation) -> Result<u64, String> {
    let mut pending: Vec<PathBuf> = vec![root.to_path_buf()];
    let mut files = 0;
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        if meta.is_dir() {
            let entries =
                std::fs::read_dir(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            for entry in entries.flatten() {
                let child = entry.path();
                let is_copy = entry.file_name().to_string_lossy().starts_with("idmap-")
                    && path.parent().is_some_and(|p| p.ends_with("layers"));
                if is_copy {
                    crate::image::make_writable_and_remove(&child)?;
                } else {
                    pending.push(child);
                }
            }
        }
        let (uid, gid) = (
            translation.uid(meta.uid()).unwrap_or(meta.uid()),
            translation.gid(meta.gid()).unwrap_or(meta.gid()),
        );
        if (uid, gid) == (meta.uid(), meta.gid()) {
            continue;
        }
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
            .map_err(|e| format!("changing the owner of {}: {e}", path.display()))?;
        // chown clears the setuid and setgid bits: a migrated file keeps its mode.
        if !meta.is_symlink() && meta.mode() & 0o6000 != 0 {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(|e| format!("restoring the mode of {}: {e}", path.display()))?;
        }
        files += 1;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::userns::plan_mapping;

    #[test]
    fn a_file_keeps_its_container_id_across_the_change() {
        let old = plan_mapping("a", 1000, 1000, "a:500000:65536", "a:500000:65536");
        let new = plan_mapping("a", 1000, 1000, "a:490000:75536", "a:490000:75536");
        assert!(unreachable_ranges(&old, &new).is_empty());
        // A file of container uid 1000 was host 500999; in the new namespace that host id is
        // container id 11000, which must become 1000 again.
        let translation = IdTranslation {
            from: new.clone(),
            to: old.clone(),
        };
        assert_eq!(new.container_uid(500_999), Some(11_000));
        assert_eq!(translation.uid(11_000), Some(1000));
        assert_eq!(translation.uid(0), Some(0));
        let moved = plan_mapping("a", 1000, 1000, "a:600000:65536", "a:600000:65536");
        assert_eq!(unreachable_ranges(&old, &moved), ["500000-565535"]);
    }
}
