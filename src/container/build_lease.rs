//! The containers of a build's steps: each carries the id of its build, which holds a lease (an
//! exclusive lock on a file in the runroot) while it runs. `ps` leaves them out (`ps --external`
//! shows them, as Podman shows buildah's), `container prune` does not touch those of a build
//! that runs, and the next build or prune removes those whose build is gone.
//!
//! A build killed with SIGKILL cannot remove anything, so leftovers are found afterwards in
//! every case rather than by catching SIGINT and SIGTERM: the kernel drops the lock of a dead
//! process whatever killed it, a reused pid cannot pass for the build, and a reboot, which
//! empties the runroot, leaves no lease behind.

use std::fs::{File, TryLockError};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::context::Context;
use crate::store::containers::ContainerRecord;

/// A running build's hold on its step containers: released (and its file removed) on drop, or
/// by the kernel when the build dies.
pub struct BuildLease {
    pub id: String,
    path: PathBuf,
    _lock: File,
}

impl Drop for BuildLease {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn leases_dir(ctx: &Context) -> PathBuf {
    ctx.store.runroot().join("builds")
}

impl BuildLease {
    /// Takes a lease for a new build. Its file appears already locked (locked under another
    /// name, then renamed), so that no one sees it unlocked and takes the build for dead.
    pub fn take(ctx: &Context) -> Result<BuildLease> {
        let dir = leases_dir(ctx);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let id = crate::digest::hex(&crate::digest::random_bytes::<16>());
        let path = dir.join(&id);
        let fresh = dir.join(format!(".new-{id}"));
        let lock = File::create(&fresh).with_context(|| format!("creating {}", fresh.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", fresh.display()))?;
        std::fs::rename(&fresh, &path).with_context(|| format!("creating {}", path.display()))?;
        Ok(BuildLease {
            id,
            path,
            _lock: lock,
        })
    }
}

/// Whether the build `id` still runs: its lease is there and locked.
fn build_runs(ctx: &Context, id: &str) -> bool {
    let Ok(file) = File::open(leases_dir(ctx).join(id)) else {
        return false;
    };
    matches!(file.try_lock(), Err(TryLockError::WouldBlock))
}

/// Whether `record` is a step container of a build that still runs.
pub fn of_running_build(ctx: &Context, record: &ContainerRecord) -> bool {
    record
        .build
        .as_deref()
        .is_some_and(|id| build_runs(ctx, id))
}

/// Removes the step containers of builds that no longer run (killed ones), their processes
/// and files, and the leases such builds left; returns the containers' ids. One that cannot be
/// removed does not keep the others: the first failure is the error, after all were tried.
pub fn remove_abandoned(ctx: &Context) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let mut failed = None;
    let abandoned = ctx
        .store
        .all_containers()
        .into_iter()
        .filter(|c| c.build.is_some() && !of_running_build(ctx, c));
    for container in abandoned {
        match super::remove(ctx, std::slice::from_ref(&container.id), true, true) {
            Ok(ids) => removed.extend(ids),
            Err(e) => {
                let e = e.context(format!("removing step container {}", container.id));
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let Ok(entries) = std::fs::read_dir(leases_dir(ctx)) else {
        return Ok(removed);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // A lease being made is locked before it is renamed into place.
        if name.starts_with(".new-") {
            continue;
        }
        if !build_runs(ctx, &name) {
            match std::fs::remove_file(entry.path()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", entry.path().display()))
                }
                _ => {}
            }
        }
    }
    Ok(removed)
}

/// [`remove_abandoned`] for a command that does not need them gone (a build, removing images):
/// one that cannot be removed is a warning, not the command's failure.
pub fn remove_abandoned_or_warn(ctx: &Context) {
    if let Err(e) = remove_abandoned(ctx) {
        // A notice beside the command's own output, which goes on.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("WARN: {e:#}");
        }
    }
}
