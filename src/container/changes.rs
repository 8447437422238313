//! A container's changes to its image's files, whatever its storage driver: what its upper
//! directory records under either overlay, or what comparing its copy with its image's layers
//! finds under vfs (as Podman's vfs driver diffs naively). `commit` (and so `build`'s steps),
//! `diff`, `ps --size` and `system df` read them here, so no driver's changes go missing.
//!
//! The functions run in the user namespace `namespace` names, where the owners of the files
//! they read come out as the image's, and only read the container's files.

use std::io::{self, Write};
use std::path::Path;

use crate::archive::{self, Change};
use crate::runtime::storage::{lower_dirs, vfs_copy_owners, vfs_root};
use crate::runtime::userns::IdMapping;
use crate::runtime::{ContainerSpec, StorageDriver};

/// The user namespace (as host ids) to read the container's changes in: the process's for an
/// upper directory, whose files it made; for a vfs copy the container's own, outside any nested
/// one, which sees the owners of the layers and the copy alike (in the nested one the user's
/// own id, which owns the layers, is unmapped).
pub fn namespace(spec: &ContainerSpec) -> Option<IdMapping> {
    match spec.storage_driver {
        StorageDriver::Vfs => spec.id_mapping.clone(),
        StorageDriver::Overlay | StorageDriver::FuseOverlay => spec.process_ids(),
    }
}

/// The container's changes, in name order, as `diff` lists them.
pub fn list(spec: &ContainerSpec) -> io::Result<Vec<Change>> {
    if spec.storage_driver == StorageDriver::Vfs {
        return vfs_changes(spec);
    }
    let exists =
        |relative: &Path| archive::layer_entry(&spec.layers_dir, &spec.layers, relative).is_some();
    archive::list_changes(&spec.upper_dir, &exists, &spec.mount_targets())
}

/// Writes the container's changes to `out` as an OCI layer tar, owners as its process sees them.
pub fn write_layer(spec: &ContainerSpec, out: impl Write) -> io::Result<()> {
    if spec.storage_driver != StorageDriver::Vfs {
        return archive::write_layer(&spec.upper_dir, &spec.mount_targets(), out);
    }
    let changes = vfs_changes(spec)?;
    let nested = spec.nested_ids.clone();
    let shown = move |uid, gid| match &nested {
        // An id the nested namespace lacks shows there as the kernel's overflow id.
        Some(nested) => (
            nested.container_uid(uid).unwrap_or(OVERFLOW_ID),
            nested.container_gid(gid).unwrap_or(OVERFLOW_ID),
        ),
        None => (uid, gid),
    };
    archive::write_changes(&vfs_root(spec), &changes, &shown, out)
}

/// The kernel's default overflowuid and overflowgid.
const OVERFLOW_ID: u32 = 65534;

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
