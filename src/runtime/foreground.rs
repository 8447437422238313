//! A container's process in the foreground: skiff waits for it to exec (or fail), relays its
//! standard streams (its terminal with `-t`, else the pipes of `stdio_relay`) and forwards
//! signals to it until it exits, then returns its exit code. Starting a container and `exec`
//! both end here.

use std::os::fd::OwnedFd;

use nix::sys::signalfd::SignalFd;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::channel::read_child_error;
use super::error::Error;
use super::process::{exit_code_of, socket_pair, wait_forwarding_signals};
use super::stdio_relay::StdioRelay;
use super::tty::TerminalSession;

/// How a foreground container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// The exit code as a shell reports it: the process's code, or 128 + signal number.
    pub exit_code: i32,
    /// The kernel killed a process of the container for want of memory in its cgroup.
    pub oom_killed: bool,
}

/// The socket pair on which the container's process sends its terminal's master, when it has one.
pub(crate) fn terminal_channel(
    terminal: bool,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), Error> {
    if !terminal {
        return Ok((None, None));
    }
    let (parent, child) = socket_pair()?;
    Ok((Some(parent), Some(child)))
}

/// skiff's side of the container process's standard streams.
pub(crate) struct Streams {
    /// The socket its pty master comes on (`-t`).
    pub terminal: Option<OwnedFd>,
    /// Pipes in place of skiff's terminal descriptors (no `-t`).
    pub relay: Option<StdioRelay>,
    /// `-i`: skiff's input goes to the process.
    pub interactive: bool,
    /// The signals skiff receives go on to the process (else they are dropped: `--sig-proxy=false`).
    pub forward_signals: bool,
}

/// Waits for the process to exec (`started` runs then) or fail, then relays until it exits.
pub(crate) fn supervise(
    pid: Pid,
    err_read: OwnedFd,
    streams: Streams,
    signal_fd: &SignalFd,
    started: impl FnOnce(Option<OwnedFd>) -> Option<OwnedFd>,
) -> Result<RunOutcome, Error> {
    let master = match streams.terminal {
        Some(socket) => super::tty::receive_fd(&socket)?,
        None => None,
    };
    if let Some(error) = read_child_error(err_read) {
        let _ = waitpid(pid, None);
        return Err(error);
    }
    let terminal = match started(master) {
        Some(master) => Some(TerminalSession::start(master, streams.interactive)?),
        None => None,
    };
    let status = match (terminal, streams.relay) {
        (Some(mut session), _) => {
            session.relay_until_exit(pid, signal_fd, streams.forward_signals)?
        }
        (None, Some(relay)) => relay.relay_until_exit(pid, signal_fd, streams.forward_signals)?,
        (None, None) => wait_forwarding_signals(pid, signal_fd, streams.forward_signals)?,
    };
    Ok(RunOutcome {
        exit_code: exit_code_of(status).unwrap_or(125),
        oom_killed: false,
    })
}
