//! `exec`: a process started inside a running container. A short-lived child joins the
//! container's namespaces and clones the process that execs there (see `child`); skiff then
//! supervises it as it does a container's first process (see `foreground`).

use std::os::fd::AsRawFd;

use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;

use super::channel::{read_child_error, receive_pid};
use super::child::{exec_child_main, ChildChannels};
use super::error::Error;
use super::foreground::{supervise, terminal_channel, RunOutcome, Streams};
use super::process::{
    block_forwarded_signals, clone_child, container_user_namespaces, open_namespace, pipe,
    JoinTargets,
};
use super::spec::ProcessSpec;
use super::stdio_relay;

/// Runs `process` inside the running container whose first process is `target_pid`: joins its
/// user (when rootless), mount, uts, ipc, network and pid namespaces, and returns the process's
/// exit code once it ends, forwarding signals (and the terminal, with `process.terminal`).
pub fn exec_in_container(
    target_pid: i32,
    rootless: bool,
    process: &ProcessSpec,
) -> Result<RunOutcome, Error> {
    let open = |name: &str| open_namespace(target_pid, name);
    let (user, nested_user) = container_user_namespaces(target_pid, rootless)?;
    let mut others = Vec::new();
    // The cgroup namespace too, when the container has one of its own.
    let same_inode = |a: &str, b: &str| {
        use std::os::unix::fs::MetadataExt;
        matches!((std::fs::metadata(a), std::fs::metadata(b)), (Ok(a), Ok(b)) if a.ino() == b.ino())
    };
    if !same_inode(
        &format!("/proc/{target_pid}/ns/cgroup"),
        "/proc/self/ns/cgroup",
    ) {
        others.push((open("cgroup")?, CloneFlags::CLONE_NEWCGROUP));
    }
    for (name, kind) in [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ] {
        others.push((open(name)?, kind));
    }
    let (pid_read, pid_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let (tty_parent, tty_child) = terminal_channel(process.terminal)?;
    let (container_stdio, stdio_relay) = stdio_relay::plan(process)?;
    let (signals, signal_fd) = block_forwarded_signals()?;
    let targets = JoinTargets {
        user: user.as_ref().map(|fd| fd.as_raw_fd()),
        others: others
            .iter()
            .map(|(fd, kind)| (fd.as_raw_fd(), *kind))
            .collect(),
        nested_user: nested_user.as_ref().map(|fd| fd.as_raw_fd()),
    };
    let channels = ChildChannels {
        sync_read: -1,
        err_write: err_write.as_raw_fd(),
        tty_socket: tty_child.as_ref().map(|fd| fd.as_raw_fd()),
        layer_server: None,
        union_server: None,
        stdio: container_stdio.raw(),
        early_network: None,
    };
    let cgroup_dirs = super::cgroups::container_cgroups(target_pid);
    let joiner = clone_child(CloneFlags::empty(), || {
        exec_child_main(
            process,
            &targets,
            &cgroup_dirs,
            &channels,
            pid_write.as_raw_fd(),
        )
    })?;
    drop(err_write);
    drop(tty_child);
    drop(container_stdio);
    drop(pid_write);
    let reported = receive_pid(pid_read);
    let _ = waitpid(joiner, None);
    let result = match reported {
        Some(_) if process.detached => match read_child_error(err_read) {
            Some(error) => Err(error),
            None => Ok(RunOutcome {
                exit_code: 0,
                oom_killed: false,
            }),
        },
        Some(pid) => {
            let streams = Streams {
                terminal: tty_parent,
                relay: stdio_relay,
                interactive: process.interactive,
                forward_signals: !process.signals_kept,
            };
            supervise(pid, err_read, streams, &signal_fd, |master| master)
        }
        None => Err(read_child_error(err_read)
            .unwrap_or_else(|| Error::Setup("the process joining the container died".into()))),
    };
    let _ = signals.thread_unblock();
    result
}
