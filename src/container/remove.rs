//! `rm` and `container prune`: removing containers, their files and their anonymous volumes.

use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use super::{build_lease, current_state, lifecycle};
use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::filter::PruneFilters;
use crate::image;
use crate::network::{self};
use crate::runtime::background::Background;
use crate::store::containers::{ContainerRecord, Status};
use crate::store::StoreLock;

/// Removes a container's files; the caller holds the lock. The directory is renamed into tmp/
/// first (atomic), then deleted: as the user when it can, else inside the user namespace, where
/// files the container made as another user can be removed.
pub fn remove_locked(
    ctx: &Context,
    lock: &StoreLock,
    id: &str,
    anonymous_volumes: bool,
) -> Result<()> {
    remove_then_delete(ctx, lock, id, anonymous_volumes, Deletion::Now)
}

/// Removes a container whose `run --rm` just ended, as `remove_locked` does, except that the
/// deleting of its files is left to a process of its own that skiff does not wait for. The
/// container is gone from the store when this returns; its files go a moment later. On ext4,
/// their directories took 0.9 ms to delete, of the 11 ms a `run --rm --network none true` took.
/// That process first drops `mount_namespace`, the container's, if skiff held it (see
/// `SpawnedContainer::open_mount_namespace`): its mounts go before the files under them.
pub fn remove_after_run(
    ctx: &Context,
    lock: &StoreLock,
    id: &str,
    mount_namespace: Option<OwnedFd>,
) -> Result<()> {
    remove_then_delete(ctx, lock, id, true, Deletion::InBackground(mount_namespace))
}

enum Deletion {
    Now,
    InBackground(Option<OwnedFd>),
}

fn remove_then_delete(
    ctx: &Context,
    lock: &StoreLock,
    id: &str,
    anonymous_volumes: bool,
    deletion: Deletion,
) -> Result<()> {
    let record = ctx.store.read_container(id).ok();
    // Forked first, so that the staged directory bears the deleting process's pid: while it
    // lives, no other skiff takes the files for a dead writer's leftovers. Should the fork
    // fail, the files are deleted here.
    let deleter = match deletion {
        Deletion::InBackground(mount_namespace) => Background::fork(mount_namespace, |message| {
            let _ = delete_staged(ctx, PathBuf::from(OsStr::from_bytes(message)));
        })
        .ok(),
        Deletion::Now => None,
    };
    let staged = match &deleter {
        Some(deleter) => ctx
            .store
            .staging_path_of("removed-container", deleter.pid()),
        None => ctx.store.staging_path("removed-container"),
    };
    match std::fs::rename(ctx.store.container_dir(id), &staged) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("removing container {id}")),
    }
    let _ = std::fs::remove_dir_all(ctx.store.container_run_dir(id));
    if let Some(record) = &record {
        events::record(&ctx.store, Event::container(EventStatus::Remove, record));
    }
    match deleter {
        Some(deleter) => deleter.send(staged.as_os_str().as_bytes()),
        None => delete_staged(ctx, staged)?,
    }
    if let Some(record) =
        record.filter(|r| anonymous_volumes && r.volumes.iter().any(|v| v.anonymous))
    {
        let others = ctx.store.all_containers();
        for used in record.volumes.iter().filter(|v| v.anonymous) {
            // Kept while another container mounts it (--volumes-from).
            if !crate::volume::users(&others, &used.name).is_empty() {
                continue;
            }
            if let Ok(volume) = ctx.store.find_volume(&used.name) {
                crate::volume::remove_locked(ctx, lock, &volume)?;
            }
        }
    }
    Ok(())
}

/// Deletes a removed container's directory, staged under tmp/. As the user first: enough when
/// the container wrote only as its root (the user's own id), overlayfs's closed work
/// directories (mode 000, which the user owns) opened up on the way. Those overlayfs leaves in
/// its work directory (work, and incompat/volatile after a volatile mount) are opened first, so
/// that one walk removes everything: a walk stops at a closed directory, and opening up the
/// whole container walks it again.
fn delete_staged(ctx: &Context, staged: PathBuf) -> Result<()> {
    image::open_up(&staged.join("work"));
    if image::make_writable_and_remove(&staged).is_err() {
        image::remove_tree_in_userns(ctx, staged)?;
    }
    Ok(())
}

/// `rm`: the containers named, and with `all` every one; returns what was removed.
pub fn remove_listed(
    ctx: &Context,
    references: Vec<String>,
    options: &RmOptions,
) -> Result<Vec<String>> {
    let mut references = references;
    if options.all {
        references.extend(ctx.store.container_ids());
    } else if references.is_empty() {
        anyhow::bail!("no container names or IDs given: use rm CONTAINER… or rm --all");
    }
    if options.time.is_some() && !options.force {
        anyhow::bail!("--force option must be specified to use the --time option");
    }
    if options.ignore {
        references.retain(|reference| ctx.store.find_container(reference).is_ok());
    }
    if let Some(seconds) = options.time {
        // Stopped as `stop -t` would (the stop signal, then SIGKILL), before `remove` kills.
        for reference in &references {
            let running = ctx
                .store
                .find_container(reference)
                .is_ok_and(|c| current_state(ctx, &c.id).status == Status::Running);
            if running {
                lifecycle::stop_as_configured(ctx, reference, Some(seconds))?;
            }
        }
    }
    remove(ctx, &references, options.force, options.volumes)
}

/// What `rm` was asked besides the containers.
#[derive(Debug, Clone, Default)]
pub struct RmOptions {
    /// `-a`: every container.
    pub all: bool,
    /// `-f`: running ones too.
    pub force: bool,
    /// `-v`: their anonymous volumes too.
    pub volumes: bool,
    /// `-t SECONDS` (with `-f`): a running container gets its stop signal and that long
    /// before SIGKILL, as `stop -t` gives it; without, `-f` kills it at once.
    pub time: Option<u64>,
    /// `-i`: a name that is no container is no error.
    pub ignore: bool,
}

/// `rm`: removes stopped containers (running ones only with `force`, which kills them first),
/// and with `anonymous_volumes` (`-v`) the volumes made for them.
pub fn remove(
    ctx: &Context,
    references: &[String],
    force: bool,
    anonymous_volumes: bool,
) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    // Who needs whom, read once for all the references.
    let needing: Vec<ContainerRecord> = ctx
        .store
        .all_containers()
        .into_iter()
        .filter(|c| c.dependencies().next().is_some())
        .collect();
    for reference in references {
        let record = ctx.store.find_container(reference)?;
        let dependents: Vec<&str> = needing
            .iter()
            .filter(|other| other.dependencies().any(|id| id == record.id))
            // Unless they go in the same command.
            .filter(|other| {
                !references
                    .iter()
                    .any(|r| *r == other.name || *r == other.id)
            })
            .map(|other| other.name.as_str())
            .collect();
        if !dependents.is_empty() {
            bail!(
                "container {} has dependent containers which must be removed before it: {} (they share its namespaces or require it)",
                record.name,
                dependents.join(", ")
            );
        }
        let state = current_state(ctx, &record.id);
        if state.status == Status::Running {
            if !force {
                bail!("cannot remove container {} as it is running - running or paused containers cannot be removed without force", record.id);
            }
            // Killed first, and its watcher given time to record the exit, without the lock
            // (a `--rm` supervisor takes it to remove the container itself).
            lifecycle::stop(
                ctx,
                &record.id,
                crate::store::policies::Signal::KILL,
                std::time::Duration::from_secs(5),
            )?;
        }
        let lock = ctx.store.lock()?;
        remove_locked(ctx, &lock, &record.id, anonymous_volumes)?;
        drop(lock);
        if let Some(cgroup) = &record.spec.cgroup {
            crate::runtime::cgroups::remove_leftover(cgroup);
        }
        if !record.networks.is_empty() {
            network::bridges::refresh_hosts(ctx, &record, true)?;
            // The supervisor of a killed container releases the network namespace too, but
            // after its own bookkeeping: when `rm` returns, the host is already clean.
            network::bridges::release_if_unused(ctx)?;
        }
        removed.push(record.id);
    }
    Ok(removed)
}

/// `container prune`: removes every container that is not running and that `filters` match
/// (as Podman's: `until=` on when it was created, `label=`/`label!=` on its labels, the image's
/// included); returns their ids. Without filters a container whose record cannot be read goes
/// too; with them it stays, as it cannot be shown to match. The step containers of builds that
/// were killed go first, whatever the filters; those of a build that runs stay.
pub fn prune(ctx: &Context, filters: &PruneFilters) -> Result<Vec<String>> {
    let mut removed = build_lease::remove_abandoned(ctx)?;
    let wanted = |id: &str| match ctx.store.read_container(id) {
        Ok(c) => {
            !build_lease::of_running_build(ctx, &c)
                && (filters.is_empty() || filters.matches(Some(&c.created), &c.labels))
        }
        Err(_) => filters.is_empty(),
    };
    let stopped: Vec<String> = ctx
        .store
        .container_ids()
        .into_iter()
        .filter(|id| wanted(id))
        .filter(|id| current_state(ctx, id).status != Status::Running)
        .collect();
    removed.extend(remove(ctx, &stopped, false, false)?);
    Ok(removed)
}
