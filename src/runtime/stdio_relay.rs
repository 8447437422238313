//! Standard streams of a container process that has no terminal of its own (no `-t`). A
//! terminal among skiff's descriptors 0–2 is never handed to the container: a process holding
//! the user's terminal can push keystrokes into the user's shell (TIOCSTI) or read what is
//! typed after skiff exits. That descriptor becomes a pipe, and skiff relays between it and its
//! own, as runc and conmon give such containers pipes. A descriptor that is not a terminal (a
//! pipe or a file: scripts, CI, benchmarks) is passed straight through, with no relay.
//!
//! When standard output and error are the same terminal, the container gets one pipe for both,
//! so that what it writes to each reaches the terminal in the order it was written.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;

use super::error::Error;
use super::process::{forward_signal, reap};
use super::spec::{ProcessSpec, StdStream};

/// How long the relay waits, once the process has ended, for output from a writer that lives
/// on (a background process an `exec` left behind) before it stops.
const DRAIN_IDLE_MS: u16 = 100;

/// The container's ends of the pipes, to become its descriptors 0, 1 and 2 (None: it keeps
/// skiff's, or /dev/null for stdin without `-i`).
#[derive(Default)]
pub(crate) struct ContainerStdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    /// The same pipe as `stdout` when both go to one terminal.
    pub stderr: Option<OwnedFd>,
}

impl ContainerStdio {
    pub(crate) fn raw(&self) -> StdioEnds {
        let raw = |fd: &Option<OwnedFd>| fd.as_ref().map(|fd| fd.as_raw_fd());
        StdioEnds {
            stdin: raw(&self.stdin),
            stdout: raw(&self.stdout),
            stderr: raw(&self.stderr),
        }
    }
}

/// [`ContainerStdio`] as the child sees it: descriptor numbers it inherited at clone.
#[derive(Default, Clone, Copy)]
pub(crate) struct StdioEnds {
    pub stdin: Option<RawFd>,
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
}

impl StdioEnds {
    pub(crate) fn all(&self) -> impl Iterator<Item = RawFd> {
        [self.stdin, self.stdout, self.stderr].into_iter().flatten()
    }
}

/// One output pipe and the descriptor of skiff's it goes to.
struct Output {
    pipe: OwnedFd,
    target: RawFd,
}

/// skiff's ends of the pipes.
pub(crate) struct StdioRelay {
    /// Written with what skiff reads from its standard input (`-i`); non-blocking, so a
    /// container that does not read never stops the output from flowing.
    stdin: Option<OwnedFd>,
    outputs: Vec<Output>,
}

fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

fn terminal_device(fd: RawFd) -> Option<u64> {
    std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|m| m.rdev())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))
}

/// The pipes `process` needs in place of skiff's terminal descriptors; no relay when none is a
/// terminal (or the process has a terminal of its own, or runs detached with /dev/null).
pub(crate) fn plan(process: &ProcessSpec) -> Result<(ContainerStdio, Option<StdioRelay>), Error> {
    let mut container = ContainerStdio::default();
    if process.terminal || process.detached {
        return Ok((container, None));
    }
    let mut relay = StdioRelay {
        stdin: None,
        outputs: Vec::new(),
    };
    let stdin_relayed = process.interactive && process.attached(StdStream::Stdin);
    if stdin_relayed && is_terminal(std::io::stdin().as_fd()) {
        let (read, write) = pipe()?;
        nix::fcntl::fcntl(
            &write,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(|e| Error::sys("making the input pipe non-blocking", e))?;
        container.stdin = Some(read);
        relay.stdin = Some(write);
    }
    let stdout_terminal =
        process.attached(StdStream::Stdout) && is_terminal(std::io::stdout().as_fd());
    if stdout_terminal {
        let (read, write) = pipe()?;
        container.stdout = Some(write);
        relay.outputs.push(Output {
            pipe: read,
            target: libc::STDOUT_FILENO,
        });
    }
    if process.attached(StdStream::Stderr) && is_terminal(std::io::stderr().as_fd()) {
        let shared = stdout_terminal
            && terminal_device(libc::STDOUT_FILENO) == terminal_device(libc::STDERR_FILENO);
        match container.stdout.as_ref().filter(|_| shared) {
            Some(stdout) => {
                container.stderr = Some(stdout.try_clone().map_err(|e| Error::Sys {
                    context: "dup".into(),
                    source: e,
                })?)
            }
            None => {
                let (read, write) = pipe()?;
                container.stderr = Some(write);
                relay.outputs.push(Output {
                    pipe: read,
                    target: libc::STDERR_FILENO,
                });
            }
        }
    }
    let needed = relay.stdin.is_some() || !relay.outputs.is_empty();
    Ok((container, needed.then_some(relay)))
}

/// Writes all of `bytes` to skiff's descriptor `target` (1 or 2); a closed or failing one
/// drops them, as a terminal that went away would.
fn write_all(target: RawFd, mut bytes: &[u8]) {
    // SAFETY: `target` is skiff's descriptor 1 or 2, open for as long as skiff runs.
    let fd = unsafe { BorrowedFd::borrow_raw(target) };
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                let mut wait = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut wait, PollTimeout::NONE);
            }
            Err(_) => return,
        }
    }
}

impl StdioRelay {
    /// Relays until the process has ended and its output is drained, forwarding signals
    /// (`proxy`) or dropping them.
    pub(crate) fn relay_until_exit(
        mut self,
        pid: Pid,
        signal_fd: &SignalFd,
        proxy: bool,
    ) -> Result<WaitStatus, Error> {
        let stdin = std::io::stdin();
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut exited = None;
        loop {
            if exited.is_some() && self.outputs.is_empty() {
                break;
            }
            // Input matters only while the process runs; a full pipe is waited on before more
            // is read, so skiff never holds more than one read of it.
            let input = self.stdin.as_ref().filter(|_| exited.is_none());
            let mut fds = vec![PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN)];
            fds.extend(
                self.outputs
                    .iter()
                    .map(|o| PollFd::new(o.pipe.as_fd(), PollFlags::POLLIN)),
            );
            let input_slot = fds.len();
            if let Some(pipe) = input {
                fds.push(if pending.is_empty() {
                    PollFd::new(stdin.as_fd(), PollFlags::POLLIN)
                } else {
                    PollFd::new(pipe.as_fd(), PollFlags::POLLOUT)
                });
            }
            let timeout = match exited {
                Some(_) => PollTimeout::from(DRAIN_IDLE_MS),
                None => PollTimeout::NONE,
            };
            match poll(&mut fds, timeout) {
                Ok(0) => break,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("poll", e)),
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            if ready[0] {
                match signal_fd.read_signal() {
                    Ok(Some(info)) if proxy => forward_signal(pid, info.ssi_signo as i32),
                    _ => {}
                }
                if exited.is_none() {
                    exited = reap(pid)?;
                }
            }
            let mut open = Vec::with_capacity(self.outputs.len());
            for (output, ready) in self.outputs.drain(..).zip(&ready[1..]) {
                if !ready {
                    open.push(output);
                    continue;
                }
                match nix::unistd::read(&output.pipe, &mut buf) {
                    Ok(0) => {}
                    Ok(n) => {
                        write_all(output.target, &buf[..n]);
                        open.push(output);
                    }
                    Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => open.push(output),
                    Err(_) => {}
                }
            }
            self.outputs = open;
            if ready.get(input_slot).copied().unwrap_or(false) {
                self.move_input(&mut pending, &mut buf);
            }
        }
        match exited {
            Some(status) => Ok(status),
            None => nix::sys::wait::waitpid(pid, None)
                .map_err(|e| Error::sys("waiting for the container", e)),
        }
    }

    /// One step of the input relay: reads skiff's stdin when nothing is pending, else writes
    /// what is. End of file (or a pipe the process closed) closes the pipe: the process sees
    /// end of file.
    fn move_input(&mut self, pending: &mut Vec<u8>, buf: &mut [u8]) {
        let Some(pipe) = self.stdin.as_ref() else {
            return;
        };
        if pending.is_empty() {
            match nix::unistd::read(std::io::stdin().as_fd(), buf) {
                Ok(0) => {
                    self.stdin = None;
                    return;
                }
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => return,
                Err(_) => {
                    self.stdin = None;
                    return;
                }
            }
        }
        match nix::unistd::write(pipe, pending) {
            Ok(n) => {
                pending.drain(..n);
            }
            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
            Err(_) => {
                pending.clear();
                self.stdin = None;
            }
        }
    }
}
