//! Running a closure of skiff's own inside a namespace: a fresh user namespace (layer files get
//! their owners without root), a running container's namespaces, or a container's root
//! filesystem mounted for the work (cp, commit, build). The result travels back as JSON.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;

use super::channel::{send_go_ahead, wait_for_go_ahead, ChildError, GoAhead};
use super::error::Error;
use super::process::{
    clone_child, container_user_namespaces, join_namespaces, open_namespace, pipe, JoinTargets,
};
use super::spec::ContainerSpec;
use super::storage::RootServers;
use super::userns::{write_id_maps, IdMapping};

/// Runs `work` in a child process inside a fresh user namespace with `mapping`, where it is uid 0
/// with every capability over the mapped ids: how layer files get their owners without root.
/// The result travels back as JSON. With `mapping` None (skiff runs as root), `work` runs here.
pub fn run_in_user_namespace<T, F>(mapping: Option<&IdMapping>, work: F) -> Result<T, Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    F: FnOnce() -> Result<T, String>,
{
    match mapping {
        None => work().map_err(Error::Work),
        Some(_) => run_in_user_namespace_streaming(mapping, work, || Ok(())),
    }
}

/// Like [`run_in_user_namespace`], with `parent_work` running here meanwhile (streaming an
/// archive through a pipe, typically); as root the child needs no namespace at all.
pub fn run_in_user_namespace_streaming<T, C, P>(
    mapping: Option<&IdMapping>,
    child_work: C,
    parent_work: P,
) -> Result<T, Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    C: FnOnce() -> Result<T, String>,
    P: FnOnce() -> Result<(), String>,
{
    let flags = match mapping {
        Some(_) => CloneFlags::CLONE_NEWUSER,
        None => CloneFlags::empty(),
    };
    run_in_child(flags, mapping, || Ok(()), child_work, parent_work)
}

/// Runs `child_work` in a child that has joined one namespace of process `pid` (`kind`: its name
/// under /proc/PID/ns and its flag) and, when `rootless`, first the user namespace that gives
/// the capabilities there; `then` runs right after joining.
pub(crate) fn run_in_namespace_of<T, C, P>(
    pid: i32,
    rootless: bool,
    kind: (&str, CloneFlags),
    then: impl FnOnce() -> Result<(), String>,
    child_work: C,
    parent_work: P,
) -> Result<T, Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    C: FnOnce() -> Result<T, String>,
    P: FnOnce() -> Result<(), String>,
{
    let (user, nested_user) = container_user_namespaces(pid, rootless)?;
    let namespace = open_namespace(pid, kind.0)?;
    let targets = JoinTargets {
        user: user.as_ref().map(|fd| fd.as_raw_fd()),
        others: vec![(namespace.as_raw_fd(), kind.1)],
        nested_user: nested_user.as_ref().map(|fd| fd.as_raw_fd()),
    };
    let enter = || {
        // Before it joins a container; see sealed_exec.rs. (A helper that mounts a container's
        // root in namespaces of its own stays dumpable: its nested id maps need that.)
        super::sealed_exec::make_non_dumpable()
            .map_err(|e| format!("making skiff non-dumpable: {e}"))?;
        join_namespaces(&targets).map_err(|e| ChildError::from(e).message)?;
        then()
    };
    run_in_child(CloneFlags::empty(), None, enter, child_work, parent_work)
}

/// Where a job on a container's files runs: in a child whose `/` is the container's root.
pub enum ContainerRoot<'a> {
    /// A running container: the child joins its user (when rootless) and mount namespaces, and
    /// sees exactly what the container sees.
    Running { pid: i32, rootless: bool },
    /// The child mounts the container's union in a mount (and user) namespace of its own:
    /// writable for a stopped container, read-only for one that may be running.
    Mounted {
        spec: &'a ContainerSpec,
        writable: bool,
    },
}

/// Runs `child_work` in a child process whose root is the container's, while this process runs
/// `parent_work` (which typically streams an archive to or from the child over a pipe each of
/// them holds one end of).
pub fn run_in_container_root<T, C, P>(
    root: ContainerRoot<'_>,
    child_work: C,
    parent_work: P,
) -> Result<T, Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    C: FnOnce() -> Result<T, String>,
    P: FnOnce() -> Result<(), String>,
{
    match root {
        // Joining the mount namespace makes its root (the container's) this process's root.
        ContainerRoot::Running { pid, rootless } => run_in_namespace_of(
            pid,
            rootless,
            ("mnt", CloneFlags::CLONE_NEWNS),
            || nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}")),
            child_work,
            parent_work,
        ),
        ContainerRoot::Mounted { spec, writable } => {
            let flags = match spec.id_mapping {
                Some(_) => CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS,
                None => CloneFlags::CLONE_NEWNS,
            };
            let servers = RootServers::start(spec)?;
            let enter = || super::rootfs::mount_union_as_root(spec, writable, servers.borrowed());
            run_in_child(
                flags,
                spec.id_mapping.as_ref(),
                enter,
                child_work,
                parent_work,
            )
        }
    }
}

/// Clones a child into `flags` (writing its id maps when given one), which runs `enter` and
/// then `child_work`, whose result travels back as JSON, while this process runs `parent_work`.
/// Each side's copy of the other's closure is dropped first, so a pipe end one of them owns is
/// open only there, and end of file arrives as it should.
pub(crate) fn run_in_child<T, E, C, P>(
    flags: CloneFlags,
    mapping: Option<&IdMapping>,
    enter: E,
    child_work: C,
    parent_work: P,
) -> Result<T, Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    E: FnOnce() -> Result<(), String>,
    C: FnOnce() -> Result<T, String>,
    P: FnOnce() -> Result<(), String>,
{
    let (sync_read, sync_write) = pipe()?;
    let (result_read, result_write) = pipe()?;
    let mut child_side = Some((enter, child_work));
    let mut parent_work = Some(parent_work);
    // The child's copy of the write end must go, or the read below never sees this process's
    // end close when the id maps could not be written, and waits for ever.
    let sync_write_fd = sync_write.as_raw_fd();
    let pid = clone_child(flags, || {
        drop(parent_work.take());
        let _ = nix::unistd::close(sync_write_fd);
        // A helper outliving a killed skiff would go on changing files behind its back.
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
        wait_for_go_ahead(sync_read.as_raw_fd(), GoAhead::IdMapsWritten);
        let outcome = match child_side.take() {
            Some((enter, work)) => enter().and_then(|()| work()),
            None => Err("work already ran".to_string()),
        };
        let encoded = serde_json::to_vec(&outcome).unwrap_or_default();
        write_all_fd(&result_write, &encoded);
        0
    })?;
    drop(child_side);
    drop(sync_read);
    drop(result_write);
    let maps = match mapping {
        Some(mapping) => write_id_maps(pid.as_raw(), mapping),
        None => Ok(()),
    };
    if maps.is_ok() {
        send_go_ahead(&sync_write, GoAhead::IdMapsWritten)?;
    }
    drop(sync_write);
    let streamed = match (maps.is_ok(), parent_work.take()) {
        (true, Some(work)) => work(),
        _ => Ok(()),
    };
    let mut encoded = Vec::new();
    let _ = std::fs::File::from(result_read).read_to_end(&mut encoded);
    let _ = waitpid(pid, None);
    maps?;
    let outcome: Result<T, String> = serde_json::from_slice(&encoded)
        .map_err(|_| Error::Setup("the helper process died".into()))?;
    // The child's error explains a broken pipe on this side better than the pipe does.
    let value = outcome.map_err(Error::Work)?;
    streamed.map_err(Error::Work)?;
    Ok(value)
}

fn write_all_fd(fd: &OwnedFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}
