//! What a container's supervisor does to itself: leave the terminal's session, and point its
//! standard output and error at the container's log pipes (the container inherits them at clone).

use std::os::fd::{AsFd, OwnedFd};

use super::Error;

/// Starts a new session, so the supervisor has no controlling terminal and no signal from the
/// shell's job control reaches it. The caller must not be a process-group leader.
pub fn leave_session() -> Result<(), Error> {
    nix::unistd::setsid()
        .map(|_| ())
        .map_err(|e| Error::sys("setsid", e))
}

/// Makes `stdout` and `stderr` this process's descriptors 1 and 2.
pub fn redirect_output(stdout: &OwnedFd, stderr: &OwnedFd) -> Result<(), Error> {
    nix::unistd::dup2_stdout(stdout.as_fd()).map_err(|e| Error::sys("dup2", e))?;
    nix::unistd::dup2_stderr(stderr.as_fd()).map_err(|e| Error::sys("dup2", e))
}

/// Points descriptors 1 and 2 at /dev/null, closing this process's ends of the log pipes.
pub fn silence_output() -> Result<(), Error> {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| Error::Sys {
            context: "opening /dev/null".into(),
            source: e,
        })?;
    let null = OwnedFd::from(null);
    redirect_output(&null, &null)
}
