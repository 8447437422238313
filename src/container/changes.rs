//! A container's changes to its image's files, whatever its storage driver: what its upper
//! directory records under either overlay, or what comparing its copy with its image's layers
//! finds under vfs (as Podman's vfs driver diffs naively). `commit` (and so `build`'s steps),
//! `diff`, `ps --size` and `system df` read them here, so no driver's changes go missing.
//!
//! Everything here runs in the container's user namespace (`spec.process_ids()`), where the
//! files' owners are the image's, and only reads the container's files.

use std::io::{self, Write};
use std::path::Path;

use crate::archive::{self, Change};
use crate::runtime::storage::{lower_dirs, vfs_copy_owners, vfs_root};
use crate::runtime::{ContainerSpec, StorageDriver};

/// The container's changes, in name order, as `diff` lists them.
pub fn list(spec: &ContainerSpec) -> io::Result<Vec<Change>> {
    if spec.storage_driver == StorageDriver::Vfs {
        return vfs_changes(spec);
    }
    let exists =
        |relative: &Path| archive::layer_entry(&spec.layers_dir, &spec.layers, relative).is_some();
    archive::list_changes(&spec.upper_dir, &exists, &spec.mount_targets())
}

/// Writes the container's changes to `out` as an OCI layer tar.
pub fn write_layer(spec: &ContainerSpec, out: impl Write) -> io::Result<()> {
    if spec.storage_driver == StorageDriver::Vfs {
        let changes = vfs_changes(spec)?;
        return archive::write_changes(&vfs_root(spec), &changes, out);
    }
    archive::write_layer(&spec.upper_dir, &spec.mount_targets(), out)
}

/// The bytes a vfs container's changes hold, as its upper directory would hold them under an
/// overlay; unreadable parts count as empty, as a listing should not fail on a container that
/// is being removed.
pub fn vfs_size(spec: &ContainerSpec) -> u64 {
    vfs_changes(spec).map_or(0, |changes| {
        archive::changes_size(&vfs_root(spec), &changes)
    })
}

fn vfs_changes(spec: &ContainerSpec) -> io::Result<Vec<Change>> {
    let root = vfs_root(spec);
    if !root.exists() {
        // Never started: nothing copied, so nothing changed.
        return Ok(Vec::new());
    }
    let owners = vfs_copy_owners(spec);
    archive::compare_tree(&root, &lower_dirs(spec), &owners, &spec.mount_targets())
}
