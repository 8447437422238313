//! Tar layers and image archives.
//!
//! Contract: `apply_layer` unpacks one layer tar into a layer directory in the form kernel
//! overlayfs reads with `userxattr`, and never creates, changes or removes anything outside that
//! directory, whatever the tar says. `ImageArchive` reads docker-archive and oci-archive files
//! (as `docker save` / `podman save` write them) without unpacking them to disk, and
//! `write_docker_archive` / `write_oci_archive` write them deterministically. A container's
//! changes come back as a layer and a change list from an upper directory (`write_layer`,
//! `list_changes`) or from a copy compared with its layers (`compare_tree`, `write_changes`).
//! This module knows nothing of the store: callers hand it readers, paths and bytes.

mod apply;
mod compression;
mod diff;
mod image_read;
mod image_write;
mod naive;
mod oci;
mod paths;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Allowed in tests by house style (STYLE.md 8).
mod apply_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod image_tests;

pub use apply::{apply_layer, ApplyOptions, ApplyStats};
pub use compression::{decompress, sniff_compression, Compression};
pub use diff::{is_opaque, layer_entry, list_changes, write_layer, Change, Owners};
pub use image_read::{ArchiveFormat, ArchiveImage, ArchiveLayer, ImageArchive, LayerReader};
pub use image_write::{write_docker_archive, write_oci_archive, SaveImage, SaveLayer};
pub use naive::{changes_size, compare_tree, write_changes};

/// What can go wrong reading or writing layers and image archives.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tar entry (or hard link target) names a path above the extraction root.
    #[error("layer entry {entry:?} points outside the destination")]
    PathEscapes { entry: String },

    /// The stream is compressed with something we do not read (xz, bzip2).
    #[error("unsupported layer compression {format}")]
    UnsupportedCompression { format: String },

    /// The archive or layer is malformed: truncated, not a tar, or missing its index.
    #[error("invalid archive: {reason}")]
    InvalidArchive { reason: String },

    /// A blob the archive's manifest refers to is not in the archive.
    #[error("blob {digest} is missing from the archive")]
    MissingBlob { digest: String },

    /// A file that `manifest.json` names is not in the archive.
    #[error("{path} is missing from the archive")]
    MissingEntry { path: String },

    /// Bytes do not hash to the digest that names them.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A layer file does not have the size its descriptor gives.
    #[error("layer {digest} is {actual} bytes, expected {expected}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },

    /// chown failed; rootless this usually means the id is not mapped into the user namespace
    /// (too few subordinate ids in /etc/subuid or /etc/subgid).
    #[error("cannot set owner {uid}:{gid} on {entry:?} (are enough subordinate ids mapped?)")]
    Ownership {
        entry: String,
        uid: u64,
        gid: u64,
        #[source]
        source: std::io::Error,
    },

    /// Any other I/O failure, with what we were doing.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: impl Into<std::io::Error>) -> Error {
        Error::Io {
            context: context.into(),
            source: source.into(),
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Error {
        Error::InvalidArchive {
            reason: reason.into(),
        }
    }
}
