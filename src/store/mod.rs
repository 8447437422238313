//! The per-user store: content-addressed blobs, unpacked layers, the image index and containers.
//!
//! ```text
//! <root>/storage.lock           flock: exclusive for every change, none needed to read
//! <root>/blobs/sha256/<hex>      manifests, configs and layer blobs, verified on write
//! <root>/layers/<chain-id>/      diff/ (the unpacked layer) and meta.json
//! <root>/images/index.json       names and digests -> image
//! <root>/containers/<id>/        config.json, state.json (from its first start), upper/, work/, merged/
//! <root>/skeletons/<key>/        empty mount points, the lowest layer of kernel overlays
//! <root>/build-cache/<key>       the image ID a build step gave
//! <root>/tmp/                    staging for atomic renames; emptied under the lock
//! <runroot>/containers/<id>/     hosts, hostname, resolv.conf, helper pid files
//! ```
//!
//! The root and the runroot are 0700, as Podman keeps its storage: another user must not reach
//! what containers made (a setuid file in an upper directory). What lies below keeps the modes
//! its contents need.
//!
//! Contract: every file is written to a temporary name, fsynced and renamed into place, and a
//! directory (a layer, a container) appears under its final name only once complete, so readers
//! never need the lock and a kill -9 at any point leaves only garbage in `tmp/`, which the next
//! writer removes. Writers hold the exclusive lock from reading the index to writing it back.
//! A `--rm` container's files are not fsynced: it is thrown away when it exits, and skipping the
//! syncs leaves the kill -9 guarantee as it is (that is about renames, not about the disk).

mod atomic;
mod build_cache;
pub mod container_state;
pub mod containers;
pub mod images;
pub mod layers;
pub mod networks;
pub mod policies;
pub mod reference;
mod skeleton;
pub mod volumes;

use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Digests and hex, under the names the operations have long used for them.
pub use crate::digest::{hex, sha256_digest};
pub use atomic::{fsync_dir, write_atomic};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{reference}: image not known")]
    ImageNotFound { reference: String },
    #[error("no container with name or ID \"{reference}\" found: no such container")]
    ContainerNotFound { reference: String },
    #[error("{reference}: more than one {kind} matches; give more characters of the ID")]
    Ambiguous {
        reference: String,
        kind: &'static str,
    },
    #[error("unable to find network with name or ID {reference}: network not found")]
    NetworkNotFound { reference: String },
    #[error("no such volume {name}")]
    VolumeNotFound { name: String },
    #[error("the container name \"{name}\" is already in use by {id}; remove that container or choose another name")]
    NameInUse { name: String, id: String },
    #[error("image used by {container}: image is in use by a container: consider listing external containers and force-removing image")]
    ImageInUse { container: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("the subordinate ids of /etc/subuid or /etc/subgid changed since the store at {root} was made, so its files belong to other ids now: run `skiff system migrate`")]
    IdMappingChanged { root: PathBuf },
    /// The runtime directory cannot be made: XDG_RUNTIME_DIR is not the user's, or is missing.
    #[error("cannot use the runtime directory {path}: {source}")]
    RunRootUnusable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: String, actual: String },
}

pub(crate) fn io_error(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// An open store. Cheap: opening creates missing directories and nothing else.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    runroot: PathBuf,
    /// The per-user events log: `<runroot>/events/events.log` unless containers.conf's
    /// `events_logfile_path` names another file.
    events_log: PathBuf,
}

/// Held while a writer changes shared state; released on drop (or when the process dies).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// Every `*.json` file of `dir` that parses as a `T` (a directory of records, one per file).
fn read_json_records<T: serde::de::DeserializeOwned>(dir: &Path) -> Vec<T> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `record` as `dir/NAME.json`, atomically (the caller holds the lock).
fn write_json_record<T: serde::Serialize>(dir: &Path, name: &str, record: &T) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(io_error(format!("creating {}", dir.display())))?;
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| Error::Corrupt {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    write_atomic(&dir.join(format!("{name}.json")), &bytes)
}

/// Removes `dir/NAME.json`; one already gone is not an error.
fn remove_json_record(dir: &Path, name: &str) -> Result<(), Error> {
    let path = dir.join(format!("{name}.json"));
    match std::fs::remove_file(&path) {
        Ok(()) => fsync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(format!("removing {}", path.display()))(e)),
    }
}

/// Creates `dir` and each missing parent (a missing ~/.local/share, $XDG_RUNTIME_DIR/skiff)
/// as 0700: what skiff makes is its user's alone, as Podman keeps its storage.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Takes group and other access away from a directory that has it (a store an older skiff made
/// 0755): no other user may reach a setuid file a container made in its upper directory. The
/// root alone suffices: nothing below it can be reached once it is closed, so one stat per open.
fn make_private(dir: &Path) -> std::io::Result<()> {
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

impl Store {
    pub fn open(root: &Path, runroot: &Path) -> Result<Self, Error> {
        for dir in [
            root.join("blobs/sha256"),
            root.join("layers"),
            root.join("images"),
            root.join("containers"),
            root.join("tmp"),
        ] {
            create_private_dir(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
        }
        make_private(root).map_err(io_error(format!("making {} private", root.display())))?;
        let run_containers = runroot.join("containers");
        create_private_dir(&run_containers)
            .and_then(|()| make_private(runroot))
            .map_err(|source| Error::RunRootUnusable {
                path: runroot.to_path_buf(),
                source,
            })?;
        Ok(Store {
            root: root.to_path_buf(),
            runroot: runroot.to_path_buf(),
            events_log: runroot.join("events").join("events.log"),
        })
    }

    /// The store logging its events to `path` instead of the runroot's log.
    pub fn with_events_log(self, path: PathBuf) -> Self {
        Store {
            events_log: path,
            ..self
        }
    }

    pub fn events_log(&self) -> &Path {
        &self.events_log
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn runroot(&self) -> &Path {
        &self.runroot
    }

    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.root.join("blobs/sha256").join(hex)
    }

    /// Takes the exclusive store lock, waiting for other writers.
    pub fn lock(&self) -> Result<StoreLock, Error> {
        let path = self.root.join("storage.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(format!("opening {}", path.display())))?;
        file.lock().map_err(io_error("locking the store"))?;
        Ok(StoreLock { _file: file })
    }

    /// A fresh staging path under tmp/ (same filesystem as the store, so renames are atomic).
    pub fn staging_path(&self, prefix: &str) -> PathBuf {
        self.staging_path_of(prefix, std::process::id())
    }

    /// A fresh staging path for the process `writer` (another of skiff's, forked to finish the
    /// work): while it lives, its entry is not taken for a dead writer's leftovers.
    pub fn staging_path_of(&self, prefix: &str, writer: u32) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        self.tmp_dir().join(format!("{prefix}-{writer}-{nanos}"))
    }

    /// Leftovers in tmp/ from writers that died. A pull stages layers without holding the lock,
    /// so an entry whose writer (the pid in its name, see `staging_path`) is alive is not stale;
    /// nor is one of this process's own (a build keeps its next step's files staged there while
    /// it creates and commits the step's container).
    pub fn stale_staging(&self, _lock: &StoreLock) -> Vec<PathBuf> {
        std::fs::read_dir(self.tmp_dir())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|path| !staging_writer_alive(path))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Writes a blob after checking its digest; an existing blob is kept as it is.
    pub fn put_blob(&self, digest: &str, bytes: &[u8]) -> Result<(), Error> {
        let actual = sha256_digest(bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.to_string(),
                actual,
            });
        }
        let path = self.blob_path(digest);
        if path.exists() {
            return Ok(());
        }
        write_atomic(&path, bytes)
    }

    /// The user-namespace id mapping the store's files were made with (`idmap.json`), which
    /// decides the host ids that own them; None for a store made before it was recorded.
    pub fn recorded_id_mapping<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        let bytes = std::fs::read(self.root.join("idmap.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records the id mapping the store's files now have (the caller holds the lock).
    pub fn record_id_mapping<T: serde::Serialize>(
        &self,
        _lock: &StoreLock,
        mapping: &T,
    ) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(mapping).map_err(|e| Error::Corrupt {
            path: self.root.join("idmap.json"),
            reason: e.to_string(),
        })?;
        write_atomic(&self.root.join("idmap.json"), &bytes)
    }

    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let path = self.blob_path(digest);
        std::fs::read(&path).map_err(io_error(format!("reading blob {digest}")))
    }
}

fn staging_writer_alive(path: &Path) -> bool {
    staging_writer(path).is_some_and(|pid| pid == std::process::id() || process_alive(pid))
}

/// The pid in a staging entry's name (see `staging_path`).
fn staging_writer(path: &Path) -> Option<u32> {
    let name = path.file_name().and_then(|n| n.to_str())?;
    let mut fields = name.rsplitn(3, '-');
    let (_nanos, pid) = (fields.next(), fields.next());
    pid.and_then(|p| p.parse::<u32>().ok())
}

/// A zombie is dead: its parent may take a while to reap it (an orphan waits for init).
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_verified_and_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
        let digest = sha256_digest(b"hello");
        assert_eq!(
            digest,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        store.put_blob(&digest, b"hello").unwrap();
        assert_eq!(store.read_blob(&digest).unwrap(), b"hello");
        assert!(matches!(
            store.put_blob(&digest, b"other"),
            Err(Error::DigestMismatch { .. })
        ));
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
        let _held = store.lock().unwrap();
        let other = File::options()
            .write(true)
            .open(dir.path().join("root/storage.lock"))
            .unwrap();
        assert!(other.try_lock().is_err());
    }
}
