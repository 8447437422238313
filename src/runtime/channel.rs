//! The parent/child channel: what skiff (the parent) and a process it cloned say to each other,
//! and how each message is written on the wire. Both sides read and write through this module
//! only.
//!
//! The container's first process (the child) and skiff talk over channels made before `clone`:
//!
//! ```text
//!   parent                                   child (pid 1 in the new namespaces)
//!   clone(NEWUSER|NEWNS|NEWPID|NEWUTS|NEWIPC[|NEWNET])
//!   newuidmap/newgidmap on the child  ──'M'──>  id maps are in place: mount the rootfs
//!   start pasta on the child's netns  ──'N'──>  network is up: exec may proceed (with no
//!                                               published port the child goes on as soon as
//!                                               its default routes exist: `network_wait`)
//!                                     <──fd──   (-t) pty master, over a unix socket
//!   (layer server, forked first)      <──fds──  (keep-id) /dev/fuse mounted over the layer
//!                                               store, and the child's user namespace
//!                                     <──report── setup or exec failure (a ChildReport);
//!                                               EOF (close-on-exec) means exec succeeded
//!   (no -t) relay  <──pipes──>  stdio           in place of skiff's descriptors 0-2 that are
//!                                               terminals (see `stdio_relay`)
//! ```
//!
//! A process that joins a running container's namespaces (`exec`, a container sharing
//! another's network) clones the real one and reports its pid ([`send_pid`]) before it exits.
//!
//! Wire format of a [`ChildReport`], which the parent reads to end of file: one tag byte, then
//! the payload. `N` not found, `X` not executable, `O` the kernel refused the overlay mount, `T`
//! it refused the trampoline an executable memory file, `E` any other set-up failure: the
//! payload is the message in UTF-8. `e` is an execve that failed in the trampoline
//! (trampoline/main.rs writes it, as it cannot use this module): the errno as 4 bytes in native
//! order, then the program's name.
//!
//! The child writes its report without allocating ([`report`] hands the kernel the tag and the
//! message as they are), although, cloned from a single-threaded skiff, it may allocate.

use std::io::Read;
use std::os::fd::{OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::error::Error;
use super::process::{borrowed, SysFailure};

/// The parent's go-aheads on the sync pipe, one byte each, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoAhead {
    /// The id maps are written: the child may mount its root filesystem.
    IdMapsWritten,
    /// The network is up (and the caller's bookkeeping done): the child may exec.
    NetworkReady,
}

impl GoAhead {
    const fn byte(self) -> u8 {
        match self {
            GoAhead::IdMapsWritten => b'M',
            GoAhead::NetworkReady => b'N',
        }
    }
}

/// Sends a go-ahead on the sync pipe.
pub(crate) fn send_go_ahead(sync_write: &OwnedFd, go: GoAhead) -> Result<(), Error> {
    nix::unistd::write(sync_write, &[go.byte()])
        .map_err(|e| Error::sys("signalling the container process", e))?;
    Ok(())
}

/// Sends the child its next go-ahead. A child whose set-up failed has written why on its error
/// channel and exited, closing its end of the sync pipe: its report, not the broken pipe, is
/// the error.
pub(crate) fn signal_child(
    sync_write: &OwnedFd,
    go: GoAhead,
    err_read: &OwnedFd,
) -> Result<(), Error> {
    send_go_ahead(sync_write, go).map_err(|refused| {
        err_read
            .try_clone()
            .ok()
            .and_then(read_report)
            .map_or(refused, ChildReport::into_error)
    })
}

/// In the child: waits for the go-ahead `expected`. When the parent gave up instead (it reports
/// its own error), the child leaves quietly.
pub(crate) fn wait_for_go_ahead(sync_read: RawFd, expected: GoAhead) {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(borrowed(sync_read), &mut byte) {
            Ok(1) if byte[0] == expected.byte() => return,
            Err(Errno::EINTR) => continue,
            _ => std::process::exit(1),
        }
    }
}

/// Why the child's set-up failed, which decides the error (and the exit code) skiff makes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The command is nowhere on the path (127); the message is its name.
    NotFound,
    /// The command exists but cannot be executed (126); the message is its name.
    NotExecutable,
    /// The kernel refused the overlay mount of the container's files.
    OverlayRefused,
    /// The kernel refused an executable memory file for the trampoline (vm.memfd_noexec).
    ExecMemoryRefused,
    /// The user or group to run as is not in the container's /etc/passwd or /etc/group (126,
    /// as Podman's runtime gives it).
    UnknownUser,
    /// Anything else: the message says what.
    Other,
}

impl Cause {
    const fn tag(self) -> u8 {
        match self {
            Cause::NotFound => b'N',
            Cause::NotExecutable => b'X',
            Cause::OverlayRefused => b'O',
            Cause::ExecMemoryRefused => b'T',
            Cause::UnknownUser => b'U',
            Cause::Other => b'E',
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        [
            Cause::NotFound,
            Cause::NotExecutable,
            Cause::OverlayRefused,
            Cause::ExecMemoryRefused,
            Cause::UnknownUser,
            Cause::Other,
        ]
        .into_iter()
        .find(|cause| cause.tag() == tag)
    }
}

/// The tag of an execve the trampoline saw fail (trampoline/main.rs writes the same byte).
const EXEC_FAILED: u8 = b'e';

/// A failure in the child, before its program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChildError {
    pub(crate) cause: Cause,
    pub(crate) message: String,
}

impl ChildError {
    pub(crate) fn new(cause: Cause, message: impl Into<String>) -> Self {
        ChildError {
            cause,
            message: message.into(),
        }
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        ChildError::new(Cause::Other, message)
    }
}

/// A failed system call in the child, as its message words it.
pub(crate) fn sys_error(context: &str, errno: Errno) -> ChildError {
    ChildError::other(format!("{context}: {}", errno.desc().to_lowercase()))
}

impl From<SysFailure> for ChildError {
    fn from(failure: SysFailure) -> Self {
        sys_error(failure.context, failure.errno)
    }
}

/// What a child says on its error channel. Its end closing with nothing said means its program
/// exec'd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChildReport {
    /// Set-up failed before exec.
    Failed(ChildError),
    /// The trampoline's execve of the program failed.
    ExecFailed { errno: Errno, program: String },
}

impl ChildReport {
    /// The message on the wire: its header (the tag, and the errno of `ExecFailed`) and its
    /// body, which follows the header.
    fn wire(&self) -> (Header, &[u8]) {
        match self {
            ChildReport::Failed(error) => {
                (Header::new(&[error.cause.tag()]), error.message.as_bytes())
            }
            ChildReport::ExecFailed { errno, program } => {
                let mut header = Header::new(&[EXEC_FAILED]);
                header.push(&(*errno as i32).to_ne_bytes());
                (header, program.as_bytes())
            }
        }
    }

    /// Reads a report off the wire; None for none (the child exec'd).
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (&tag, rest) = bytes.split_first()?;
        if tag == EXEC_FAILED {
            let Some((errno, program)) = rest.split_first_chunk::<4>() else {
                return Some(ChildReport::Failed(ChildError::other(
                    "the container's process could not start",
                )));
            };
            return Some(ChildReport::ExecFailed {
                errno: Errno::from_raw(i32::from_ne_bytes(*errno)),
                program: String::from_utf8_lossy(program).into_owned(),
            });
        }
        let message = String::from_utf8_lossy(rest).into_owned();
        let cause = Cause::from_tag(tag).unwrap_or(Cause::Other);
        Some(ChildReport::Failed(ChildError { cause, message }))
    }

    /// The error skiff reports for it. An exec the trampoline saw fail keeps skiff's own exit
    /// codes: 127 not found (a missing program, interpreter or loader), 126 cannot execute.
    pub(crate) fn into_error(self) -> Error {
        match self {
            ChildReport::Failed(ChildError { cause, message }) => match cause {
                Cause::NotFound => Error::CommandNotFound { path: message },
                Cause::NotExecutable => Error::NotExecutable { path: message },
                Cause::OverlayRefused => Error::OverlayRefused { reason: message },
                Cause::ExecMemoryRefused => Error::ExecMemoryRefused { reason: message },
                Cause::UnknownUser => Error::UnknownUser { reason: message },
                Cause::Other => Error::Setup(message),
            },
            ChildReport::ExecFailed { errno, program } => match errno {
                Errno::ENOENT => Error::CommandNotFound { path: program },
                Errno::EACCES | Errno::ENOEXEC | Errno::EISDIR => {
                    Error::NotExecutable { path: program }
                }
                _ => Error::Setup(format!("exec {program}: {}", errno.desc())),
            },
        }
    }
}

/// A report's header: the tag, and the errno of `ExecFailed`, in a fixed buffer.
struct Header {
    bytes: [u8; 5],
    len: usize,
}

impl Header {
    fn new(first: &[u8]) -> Self {
        let mut header = Header {
            bytes: [0; 5],
            len: 0,
        };
        header.push(first);
        header
    }

    fn push(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// In the child: writes `error` on the error channel, in one system call and without
/// allocating; the child's exit status, 1.
pub(crate) fn report(err_write: RawFd, error: ChildError) -> isize {
    let report = ChildReport::Failed(error);
    let (header, body) = report.wire();
    let parts = [
        std::io::IoSlice::new(header.as_slice()),
        std::io::IoSlice::new(body),
    ];
    let _ = nix::sys::uio::writev(borrowed(err_write), &parts);
    1
}

/// Reads the child's report: None when it exec'd (end of file without a word).
pub(crate) fn read_report(err_read: OwnedFd) -> Option<ChildReport> {
    let mut bytes = Vec::new();
    let _ = std::fs::File::from(err_read).read_to_end(&mut bytes);
    ChildReport::decode(&bytes)
}

/// Reads the child's report as the error skiff reports: None when it exec'd.
pub(crate) fn read_child_error(err_read: OwnedFd) -> Option<Error> {
    read_report(err_read).map(ChildReport::into_error)
}

/// The child's failure when it has already reported one (its error channel is readable now):
/// a network helper that failed because the child died must not hide why the child died.
pub(crate) fn failure_if_reported(err_read: &OwnedFd) -> Option<Error> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut ready = [PollFd::new(err_read.as_fd(), PollFlags::POLLIN)];
    match poll(&mut ready, PollTimeout::ZERO) {
        Ok(count) if count > 0 => read_child_error(err_read.try_clone().ok()?),
        _ => None,
    }
}

/// In a process that joined a container's namespaces: reports the pid of the process it cloned
/// there.
pub(crate) fn send_pid(pid_write: RawFd, pid: Pid) {
    let _ = nix::unistd::write(borrowed(pid_write), &pid.as_raw().to_ne_bytes());
}

/// The pid a joining process reported; None when it died first.
pub(crate) fn receive_pid(pid_read: OwnedFd) -> Option<Pid> {
    let mut bytes = [0u8; 4];
    std::fs::File::from(pid_read)
        .read_exact(&mut bytes)
        .ok()
        .map(|()| Pid::from_raw(i32::from_ne_bytes(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(report: &ChildReport) -> Option<ChildReport> {
        let (header, body) = report.wire();
        let mut bytes = header.as_slice().to_vec();
        bytes.extend_from_slice(body);
        ChildReport::decode(&bytes)
    }

    #[test]
    fn every_report_survives_the_wire() {
        let reports = [
            ChildReport::Failed(ChildError::new(Cause::NotFound, "nosuch")),
            ChildReport::Failed(ChildError::new(Cause::NotExecutable, "/etc/passwd")),
            ChildReport::Failed(ChildError::new(Cause::OverlayRefused, "mounting: no")),
            ChildReport::Failed(ChildError::new(Cause::ExecMemoryRefused, "memfd: no")),
            ChildReport::Failed(ChildError::other("chdir to /x: no such file or directory")),
            ChildReport::Failed(ChildError::other("")),
            ChildReport::ExecFailed {
                errno: Errno::ENOEXEC,
                program: "/bin/ünïcode".into(),
            },
        ];
        for report in reports {
            assert_eq!(round_trip(&report), Some(report));
        }
    }

    #[test]
    fn no_word_means_the_program_exec_d() {
        assert_eq!(ChildReport::decode(b""), None);
    }

    #[test]
    fn a_report_travels_through_a_pipe() {
        let (read, write) = crate::runtime::process::pipe().expect("a pipe");
        let raw = std::os::fd::AsRawFd::as_raw_fd(&write);
        assert_eq!(report(raw, ChildError::new(Cause::NotFound, "prog")), 1);
        drop(write);
        assert_eq!(
            read_report(read),
            Some(ChildReport::Failed(ChildError::new(
                Cause::NotFound,
                "prog"
            )))
        );
    }

    #[test]
    fn the_pid_travels_through_a_pipe() {
        let (read, write) = crate::runtime::process::pipe().expect("a pipe");
        send_pid(std::os::fd::AsRawFd::as_raw_fd(&write), Pid::from_raw(4242));
        drop(write);
        assert_eq!(receive_pid(read), Some(Pid::from_raw(4242)));
        let (read, write) = crate::runtime::process::pipe().expect("a pipe");
        drop(write);
        assert_eq!(receive_pid(read), None);
    }

    #[test]
    fn exec_failures_keep_their_exit_codes() {
        let code = |errno: Errno| {
            let program = "prog".to_string();
            ChildReport::ExecFailed { errno, program }
                .into_error()
                .exit_code()
        };
        assert_eq!(code(Errno::ENOENT), 127);
        assert_eq!(code(Errno::ENOEXEC), 126);
        assert_eq!(code(Errno::E2BIG), 125);
        let truncated = ChildReport::decode(b"e").map(ChildReport::into_error);
        assert_eq!(truncated.map(|e| e.exit_code()), Some(125));
    }

    #[test]
    fn child_failures_keep_their_exit_codes() {
        let code = |cause| {
            ChildReport::Failed(ChildError::new(cause, "x"))
                .into_error()
                .exit_code()
        };
        assert_eq!(code(Cause::NotFound), 127);
        assert_eq!(code(Cause::NotExecutable), 126);
        assert_eq!(code(Cause::Other), 125);
        let host = |cause| {
            ChildReport::Failed(ChildError::new(cause, "x"))
                .into_error()
                .is_host_prerequisite()
        };
        assert!(host(Cause::OverlayRefused) && host(Cause::ExecMemoryRefused));
        assert!(!host(Cause::Other) && !host(Cause::NotFound));
    }
}
