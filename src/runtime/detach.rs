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

/// Drops this process's resident code pages (every read-only executable mapping), which a
/// supervisor used to start its container and will not need again: they are shared with the
/// page cache and fault back in on use, so its RSS falls to what it actually runs. Only
/// `r-xp` mappings are touched: they are never written, so nothing can be lost (writable or
/// relocated mappings such as RELRO are left alone).
pub fn release_code_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if perms != "r-xp" {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let Some(address) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: the range is a whole private, read-only, executable file mapping of this
        // process (from /proc/self/maps); MADV_DONTNEED on it only drops pages that are clean
        // copies of the file, which the kernel faults back in from the file on the next use.
        let _ = unsafe {
            nix::sys::mman::madvise(
                address,
                end - start,
                nix::sys::mman::MmapAdvise::MADV_DONTNEED,
            )
        };
    }
}
