//! skiff's own union over FUSE (`--storage-driver fuse-overlay`): for kernels that will not
//! mount overlayfs in a user namespace, or when chosen. The lower layers are read-only; every
//! change goes to the container's upper directory in the kernel overlay's on-disk form
//! (`layers`), so a container moves between this driver and the kernel's freely: copy-up on
//! first write, whiteouts for removed lower files, opaque directories for directories made
//! anew over removed ones. A directory found in a lower layer cannot be renamed (EXDEV, as the
//! kernel's overlay without `redirect_dir`; `mv` copies it then).
//!
//! The server runs as every FUSE server of skiff's (`fuse_server`): in the container's user
//! namespace, as its root, for exactly as long as the container's mount namespace. The mount
//! has `default_permissions`, so the kernel checks every access with the caller's ids against
//! the owners and modes reported here; new files belong to the caller. Every change to the
//! union passes through this server, so the kernel may cache names, attributes and pages for
//! as long as it likes. Changes to the namespace (create, remove, rename, copy-up) take one
//! lock; reads and writes of open files take none.
//!
//! With `--userns=keep-id` the server reports lower files' owners moved to the image's ids
//! (what `idshift` does for the kernel overlay) and copies them up with those owners.

mod layers;
mod nodes;
mod ops;

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::error::Error;
use super::fuse_server::{mount_served, start_server as start_server_with, ServerShape};
use super::userns::IdTranslation;

/// What the union is made of.
pub(crate) struct UnionDirs {
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Absolute, topmost first.
    pub lower: Vec<PathBuf>,
    /// keep-id: how the owners of lower files are shown.
    pub owners: Option<IdTranslation>,
}

/// Forks the union's server; returns the container's end of the socket, for [`mount_union`].
/// Must be called while skiff is single-threaded (see `fuse_server::start_server`).
pub(crate) fn start_server(dirs: UnionDirs) -> Result<OwnedFd, Error> {
    let shape = ServerShape {
        name: c"skiff-overlay",
        // Reads of large files, lookups and writes proceed side by side.
        threads: 4,
    };
    start_server_with(shape, move || {
        ops::Union::open(&dirs.upper, &dirs.work, &dirs.lower, dirs.owners)
    })
}

/// In the container's process, after its id maps are written and `/` is private: mounts the
/// union on `target`.
pub(crate) fn mount_union(
    target: &Path,
    readonly: bool,
    server: BorrowedFd<'_>,
) -> Result<(), String> {
    mount_served(
        target,
        "skiff-overlay",
        readonly,
        server,
        "the container's files over fuse",
    )
}
