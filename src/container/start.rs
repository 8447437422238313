//! Starting a container in the foreground, and the runs that create and start it in one step.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use super::{
    attach, create, current_state, detached, remove_after_run, remove_locked, store_container,
    CreateOptions,
};
use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::network::{self};
use crate::runtime::{self, ContainerSpec, NetworkMode};
use crate::store::containers::{ContainerRecord, ContainerState, Status};
use crate::store::StoreLock;

/// Starts a container in the foreground and returns its exit code; `--rm` containers are
/// removed after the exit code is known, as `podman run --rm` does. With `image_reference`, the
/// container is new and is recorded in the store while the runtime's helpers start.
fn start_attached(
    ctx: &Context,
    record: &ContainerRecord,
    image_reference: Option<&str>,
) -> Result<i32> {
    start_required(ctx, record)?;
    let record_running = |pid: i32| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let Some(reference) = image_reference {
            store_container(ctx, record, reference)?;
        }
        if !record.auto_remove {
            let state = ContainerState {
                status: Status::Running,
                pid: Some(pid),
                supervisor_pid: Some(std::process::id() as i32),
                started_at: Some(crate::clock::now_rfc3339()),
                ..Default::default()
            };
            ctx.store.write_container_state(&record.id, &state)?;
        }
        record_started(ctx, record, true);
        note_started(record, pid)?;
        Ok(())
    };
    // A `--rm` container's is held past its end, for the process that deletes its files.
    let mut mount_namespace = None;
    let outcome = runtime_spec(ctx, record, image_reference.is_some()).and_then(|spec| {
        let spawned = runtime::spawn_container(&spec)?;
        // Recorded before it mounts anything; should that fail, dropping it kills it.
        record_running(spawned.pid()).map_err(runtime::Error::Prepare)?;
        if record.auto_remove {
            mount_namespace = spawned.open_mount_namespace();
        }
        spawned.run(|master| master)
    });
    if let Err(runtime::Error::Prepare(error)) = outcome {
        let _ = std::fs::remove_dir_all(&record.spec.run_dir);
        return Err(anyhow::anyhow!(error));
    }
    let exit_code = match &outcome {
        Ok(o) => Some(exit_code_after(record, o.exit_code)),
        Err(error) => command_exit_code(error),
    };
    if let Some(code) = exit_code.filter(|_| outcome.is_ok()) {
        record_ended(ctx, record, code);
    }
    if record.auto_remove {
        let lock = ctx.store.lock()?;
        remove_after_run(ctx, &lock, &record.id, mount_namespace)?;
        remove_image_after_run(ctx, &lock, record);
    } else {
        let mut state = ctx.store.read_container_state(&record.id);
        state.status = Status::Exited;
        state.pid = None;
        state.exit_code = exit_code;
        state.oom_killed = outcome.as_ref().is_ok_and(|o| o.oom_killed);
        state.finished_at = Some(crate::clock::now_rfc3339());
        ctx.store.write_container_state(&record.id, &state)?;
    }
    if !record.networks.is_empty() {
        network::bridges::release_if_unused(ctx)?;
    }
    Ok(exit_code_after(record, outcome?.exit_code))
}

/// `--requires`: the containers this one needs, started (under their supervisors) when they
/// are not running, each with what it needs in turn.
pub(crate) fn start_required(ctx: &Context, record: &ContainerRecord) -> Result<()> {
    for id in &record.required {
        let required = ctx.store.read_container(id).with_context(|| {
            format!(
                "container {}, which {} requires, no longer exists",
                &id[..12.min(id.len())],
                record.name
            )
        })?;
        detached::start_detached(ctx, &required, None).with_context(|| {
            format!("starting {}, which {} requires", required.name, record.name)
        })?;
    }
    Ok(())
}

/// `--rmi`: the image of a container just removed goes too, unless another container (or a
/// build) uses it, which is no error.
pub(crate) fn remove_image_after_run(ctx: &Context, lock: &StoreLock, record: &ContainerRecord) {
    if record.auto_remove_image {
        let _ =
            crate::image::remove_locked(ctx, lock, std::slice::from_ref(&record.image_id), false);
    }
}

/// What each start of a container does once its process exists: `--pidfile` gets the
/// container's process id as the host sees it, `--conmon-pidfile` the id of this process, which
/// watches it; `--sdnotify`'s systemd unit is told; and `--timeout` is armed.
pub(crate) fn note_started(
    record: &ContainerRecord,
    pid: i32,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if let Some(path) = &record.pidfile {
        std::fs::write(path, pid.to_string())?;
    }
    if let Some(path) = &record.conmon_pidfile {
        std::fs::write(path, std::process::id().to_string())?;
    }
    super::systemd::notify_started(record);
    if let Some(seconds) = record.timeout {
        let marker = timeout_marker(record);
        let _ = std::fs::remove_file(&marker);
        runtime::background::kill_after(
            pid,
            std::time::Duration::from_secs(seconds.into()),
            &marker,
        )?;
    }
    Ok(())
}

/// Left by `--timeout`'s watcher when it kills the container.
fn timeout_marker(record: &ContainerRecord) -> PathBuf {
    record.spec.run_dir.join("timed-out")
}

/// The exit code a start recorded: -1 when `--timeout` ended the container, as Podman has it.
pub(crate) fn exit_code_after(record: &ContainerRecord, exit_code: i32) -> i32 {
    match record.timeout.is_some() && timeout_marker(record).exists() {
        true => -1,
        false => exit_code,
    }
}

/// The exit code a container gets when its command could not run (126, 127); None for an
/// error of skiff's own (125), which leaves the container without one.
pub(crate) fn command_exit_code(error: &runtime::Error) -> Option<i32> {
    let code = error.exit_code();
    (code != 125).then_some(i32::from(code))
}

/// Logs a start as Podman does: `init`, `start`, and `attach` when a terminal or the caller's
/// streams are joined to it.
pub(crate) fn record_started(ctx: &Context, record: &ContainerRecord, attached: bool) {
    let mut started = vec![
        Event::container(EventStatus::Init, record),
        Event::container(EventStatus::Start, record),
    ];
    if attached {
        started.push(Event::container(EventStatus::Attach, record));
    }
    events::record_all(&ctx.store, &started);
}

/// Logs a container's process ending (`died`, with its exit code) and its watcher tidying up
/// after it (`cleanup`), as Podman does.
pub(crate) fn record_ended(ctx: &Context, record: &ContainerRecord, exit_code: i32) {
    let died = Event::container(EventStatus::Died, record).with_exit_code(exit_code);
    events::record_all(
        &ctx.store,
        &[died, Event::container(EventStatus::Cleanup, record)],
    );
}

/// The spec a start runs: the stored one, with a shared network's namespace found now (the
/// other container's pid changes with each of its starts) and the published host ports checked
/// free, so a port in use is an error before anything runs. The storage driver is chosen again
/// for a container made earlier (the default may have changed since), not for one `planned_now`
/// by this process.
pub(crate) fn runtime_spec<'a>(
    ctx: &Context,
    record: &'a ContainerRecord,
    planned_now: bool,
) -> Result<std::borrow::Cow<'a, ContainerSpec>, runtime::Error> {
    network::ports::check_free(&record.spec.ports)
        .map_err(|e| runtime::Error::Network(format!("{e:#}")))?;
    crate::volume::copy_up(ctx, record).map_err(|cause| runtime::Error::SetupStep { cause })?;
    let mut spec = std::borrow::Cow::Borrowed(&record.spec);
    if !planned_now {
        // Gone after a reboot (see `write_run_files`).
        create::write_run_files(&record.spec.run_dir, &record.run_files)
            .map_err(|cause| runtime::Error::SetupStep { cause })?;
        let driver = ctx.driver_for(record.spec.storage_driver);
        // A root directory's overlay is the kernel's (see `runtime::storage`).
        if driver != spec.storage_driver && spec.root_directory.is_none() {
            spec.to_mut().storage_driver = driver;
        }
    }
    if spec.storage_driver == runtime::StorageDriver::Overlay {
        spec.to_mut().mount_point_skeleton = mount_point_skeleton(ctx, &record.spec);
    }
    if spec.id_mapping.is_some() {
        spec.to_mut().user_namespace_holders = Some(ctx.store.runroot().to_path_buf());
    }
    if let Some(other) = record.network_container() {
        let short = &other[..12.min(other.len())];
        let Ok(owner) = ctx.store.read_container(other) else {
            return Err(runtime::Error::Network(format!(
                "container {short}, whose network this one shares, no longer exists"
            )));
        };
        let state = current_state(ctx, other);
        match (state.status, state.pid) {
            // The other's network is the host's: so is this one's (rootless, the host's
            // namespace cannot be joined through the other's, which the host's user owns).
            (Status::Running, Some(_)) if owner.spec.network == NetworkMode::Host => {
                spec.to_mut().network = NetworkMode::Host
            }
            (Status::Running, Some(pid)) => {
                spec.to_mut().network = NetworkMode::Join(format!("/proc/{pid}/ns/net").into())
            }
            _ => {
                return Err(runtime::Error::Network(format!(
                "container {short}, whose network this one shares, is not running: start it first"
            )))
            }
        }
    }
    if !record.networks.is_empty() {
        spec.to_mut().network = network::bridges::start_mode(ctx, record)
            .map_err(|cause| runtime::Error::NetworkStep { cause })?;
    }
    for (mode, kind) in [
        (&record.pid_mode, "pid"),
        (&record.ipc_mode, "ipc"),
        (&record.uts_mode, "uts"),
        (&record.cgroupns_mode, "cgroup"),
    ] {
        let Some(other) = mode.strip_prefix("container:") else {
            continue;
        };
        // Another container's host namespace was taken as the host's when this one was made.
        let slot = namespace_slot(&mut spec.to_mut().namespaces, kind);
        if let runtime::NamespaceMode::Join(_) = slot {
            *slot = runtime::NamespaceMode::Join(running_namespace(ctx, other, kind)?);
        }
    }
    Ok(spec)
}

fn namespace_slot<'a>(
    namespaces: &'a mut runtime::Namespaces,
    kind: &str,
) -> &'a mut runtime::NamespaceMode {
    match kind {
        "pid" => &mut namespaces.pid,
        "ipc" => &mut namespaces.ipc,
        "uts" => &mut namespaces.uts,
        _ => &mut namespaces.cgroup,
    }
}

/// The `kind` namespace (pid, ipc, uts) of the container `other`, which must be running.
fn running_namespace(ctx: &Context, other: &str, kind: &str) -> Result<PathBuf, runtime::Error> {
    let short = &other[..12.min(other.len())];
    if ctx.store.read_container(other).is_err() {
        return Err(runtime::Error::Setup(format!(
            "container {short}, whose {kind} namespace this one shares, no longer exists"
        )));
    }
    let state = current_state(ctx, other);
    match (state.status, state.pid) {
        (Status::Running, Some(pid)) => Ok(format!("/proc/{pid}/ns/{kind}").into()),
        _ => Err(runtime::Error::Setup(format!(
            "container {short}, whose {kind} namespace this one shares, is not running: start it first"
        ))),
    }
}

/// Creates the container and starts it with `start`; a `--rm` container that fails to start
/// is removed again.
fn create_and_start<T>(
    ctx: &Context,
    options: &CreateOptions,
    start: impl FnOnce(&ContainerRecord) -> Result<T>,
) -> Result<T> {
    let record = create(ctx, options)?;
    let started = start(&record);
    if started.is_err() && record.auto_remove {
        let lock = ctx.store.lock()?;
        let _ = remove_locked(ctx, &lock, &record.id, true);
    }
    started
}

/// `run -d`: create and start under a supervisor; returns the container's id.
pub fn run_detached(ctx: &Context, options: &CreateOptions) -> Result<String> {
    create_and_start(ctx, options, |record| {
        detached::start_detached(ctx, record, None)?;
        Ok(record.id.clone())
    })
}

/// `run -it`: create, start under a supervisor, and attach to it, so the user can detach and
/// leave it running. Returns the container's exit code, or 0 once detached.
pub fn run_attached(
    ctx: &Context,
    options: &CreateOptions,
    session: &attach::SessionOptions,
) -> Result<i32> {
    create_and_start(ctx, options, |record| {
        attach::start_attached(ctx, record, session)
    })
}

/// `run`: create, start attached, and remove with `--rm`. `created` is told the new
/// container's ID before it starts.
pub fn run(ctx: &Context, options: &CreateOptions, created: impl FnOnce(&str)) -> Result<i32> {
    let record = create::plan_new(ctx, options)?;
    created(&record.id);
    start_attached(ctx, &record, Some(&options.image))
}

/// `start` without `-a`: the stored container starts under its supervisor.
pub fn start_detached(ctx: &Context, reference: &str) -> Result<()> {
    let record = ctx.store.find_container(reference)?;
    detached::start_detached(ctx, &record, None)
}

/// `start -a`: a container with a terminal starts under its supervisor and the caller attaches
/// to it (so the user can detach); one without runs in the foreground. `session.stdin` is `-i`.
pub fn start_attached_as_asked(
    ctx: &Context,
    reference: &str,
    mut session: attach::SessionOptions,
) -> Result<i32> {
    let mut record = ctx.store.find_container(reference)?;
    if record.spec.process.terminal {
        session.stdin |= record.spec.process.interactive;
        return attach::start_attached(ctx, &record, &session);
    }
    record.spec.process.interactive |= session.stdin;
    start_attached(ctx, &record, None)
}

/// Starts a stored container attached (`start -a`).
pub fn start(ctx: &Context, reference: &str, interactive: bool) -> Result<i32> {
    let mut record = ctx.store.find_container(reference)?;
    record.spec.process.interactive |= interactive;
    start_attached(ctx, &record, None)
}

/// The skeleton of the container's standard mount points (see `store::skeleton`). Only a saving:
/// without one, the overlay makes the mount points in the container's upper directory as before.
fn mount_point_skeleton(ctx: &Context, spec: &ContainerSpec) -> Option<PathBuf> {
    let (dirs, files) = spec.standard_mount_points();
    ctx.store.mount_point_skeleton(&dirs, &files).ok()
}
