//! Work that need not hold up skiff's answer, done by a process forked for it: the files of a
//! `run --rm` container are deleted after skiff has returned its exit code.
//!
//! The process lives in a session of its own, with /dev/null for its standard streams and none
//! of skiff's other descriptors, so a shell that reads skiff's output (`out=$(skiff run …)`)
//! or waits for skiff's process group does not wait for it. skiff never waits for it either:
//! when skiff exits first, init reaps it.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::signal::SigSet;
use nix::unistd::ForkResult;

use super::error::Error;
use super::process::{close_all_except, pipe};

/// A forked process waiting for what to work on.
pub struct Background {
    pid: u32,
    instructions: OwnedFd,
}

impl Background {
    /// Forks the process. It waits until `send` gives it a message, then runs `work` with it and
    /// exits; when this handle is dropped unsent, it exits having done nothing. It holds `kept`
    /// (which this process no longer does) until the message comes: a namespace whose teardown
    /// should cost this process nothing, for one.
    pub fn fork(kept: Option<OwnedFd>, work: impl FnOnce(&[u8])) -> Result<Background, Error> {
        let (instructions_read, instructions) = pipe()?;
        // SAFETY: glibc's fork leaves malloc usable in the child even where skiff had other
        // threads; the child only allocates and makes system calls, then _exits.
        match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork", e))? {
            ForkResult::Child => {
                drop(instructions);
                let held: Vec<_> = [&instructions_read].into_iter().chain(&kept).collect();
                let message = detach(&held).then(|| read_to_end(instructions_read));
                drop(kept);
                if let Some(message) = message.filter(|m| !m.is_empty()) {
                    work(&message);
                }
                // SAFETY: ends this copy of skiff without running its exit handlers, which
                // belong to the parent (its buffered output would be written twice).
                unsafe { libc::_exit(0) }
            }
            ForkResult::Parent { child } => Ok(Background {
                pid: child.as_raw() as u32,
                instructions,
            }),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Gives the process its message (at most PIPE_BUF bytes, so the write never blocks) and
    /// lets it go.
    pub fn send(self, message: &[u8]) {
        let _ = nix::unistd::write(self.instructions.as_fd(), message);
    }
}

/// `--timeout`: a process of its own kills the process `pid` (a container's first) with SIGKILL
/// once `after` has passed, unless it has ended first; it writes `marker` just before, so that
/// whoever waits for the container can tell a timeout from another kill. The process is init's
/// child, not the caller's (it is forked twice), so no one need wait for it.
pub fn kill_after(
    pid: i32,
    after: std::time::Duration,
    marker: &std::path::Path,
) -> Result<(), Error> {
    let target = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| Error::Setup(format!("no process {pid} to time")))?;
    let process = rustix::process::pidfd_open(target, rustix::process::PidfdFlags::empty())
        .map_err(|e| Error::sys("pidfd_open", nix::errno::Errno::from_raw(e.raw_os_error())))?;
    let timeout = nix::poll::PollTimeout::try_from(after.as_millis().min(i32::MAX as u128) as i32)
        .unwrap_or(nix::poll::PollTimeout::MAX);
    // SAFETY: as in `Background::fork`; both children only make system calls and _exit.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork", e))? {
        ForkResult::Child => {
            // SAFETY: as above.
            if let Ok(ForkResult::Child) = unsafe { nix::unistd::fork() } {
                if detach(&[&process]) {
                    let mut watched = [nix::poll::PollFd::new(
                        process.as_fd(),
                        nix::poll::PollFlags::POLLIN,
                    )];
                    let ended = nix::poll::poll(&mut watched, timeout).is_ok_and(|ready| ready > 0);
                    if !ended {
                        let _ = std::fs::write(marker, b"");
                        let _ = rustix::process::pidfd_send_signal(
                            &process,
                            rustix::process::Signal::KILL,
                        );
                    }
                }
            }
            // SAFETY: ends this copy of skiff without running its exit handlers.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(())
        }
    }
}

/// Leaves skiff's session, signal mask and descriptors behind (all but `keep`); false when the
/// process cannot, and so should not go on.
fn detach(keep: &[&OwnedFd]) -> bool {
    let detached = nix::unistd::setsid().is_ok()
        && SigSet::empty().thread_set_mask().is_ok()
        && std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .is_ok_and(|null| {
                [0, 1, 2]
                    .into_iter()
                    // SAFETY: dup2 onto the standard descriptors, which this process owns.
                    .all(|fd| unsafe { libc::dup2(null.as_raw_fd(), fd) } == fd)
            });
    let kept: Vec<_> = keep.iter().map(|fd| fd.as_raw_fd()).collect();
    close_all_except(&kept);
    detached
}

fn read_to_end(pipe: OwnedFd) -> Vec<u8> {
    let mut message = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match nix::unistd::read(&pipe, &mut chunk) {
            Ok(0) => return message,
            Ok(n) => message.extend_from_slice(&chunk[..n]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message reaches the process, which works on after its parent has gone on, holding
    /// none of the parent's descriptors: the read end of a pipe whose write end the parent
    /// closes sees end-of-file at once, though the work takes two seconds more.
    #[test]
    fn the_work_runs_on_its_own_and_holds_none_of_the_callers_descriptors() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("done");
        let (caller_read, caller_write) = pipe().unwrap();
        let started = std::time::Instant::now();
        let background = Background::fork(None, |message| {
            std::fs::write(std::str::from_utf8(message).unwrap(), b"").unwrap();
            std::thread::sleep(std::time::Duration::from_secs(2));
        })
        .unwrap();
        background.send(marker.to_str().unwrap().as_bytes());
        drop(caller_write);
        assert!(read_to_end(caller_read).is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !marker.exists() {
            assert!(std::time::Instant::now() < deadline, "the work never ran");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// A handle dropped unsent: the process does nothing and ends.
    #[test]
    fn an_unsent_process_does_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("done");
        let background = Background::fork(None, |_| std::fs::write(&marker, b"").unwrap()).unwrap();
        let pid = nix::unistd::Pid::from_raw(background.pid() as i32);
        drop(background);
        let status = nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(status, nix::sys::wait::WaitStatus::Exited(pid, 0));
        assert!(!marker.exists());
    }
}
