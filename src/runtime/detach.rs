//! What a container's supervisor does to itself: leave the terminal's session, and point its
//! standard output and error at the container's log pipes (the container inherits them at clone).

use std::os::fd::{AsFd, OwnedFd};

use super::error::Error;

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

/// Makes `stdin` this process's descriptor 0 (an interactive container inherits it).
pub fn redirect_input(stdin: &OwnedFd) -> Result<(), Error> {
    nix::unistd::dup2_stdin(stdin.as_fd()).map_err(|e| Error::sys("dup2", e))
}

/// Wakes every thread blocked in `accept` on `listener`, which then fails: how a supervisor
/// stops serving `attach` when its container exits.
pub fn stop_listening(listener: &std::os::unix::net::UnixListener) {
    let _ = nix::sys::socket::shutdown(
        std::os::fd::AsRawFd::as_raw_fd(listener),
        nix::sys::socket::Shutdown::Both,
    );
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

/// Drops this process's resident pages that are clean copies of files (every read-only file
/// mapping with no private dirty page in it), plus the heap's free memory. A supervisor used
/// them to start its container and will not need most of them again: they fault back in from
/// the page cache on use, so its RSS falls to what it actually runs (target: under 2 MB per
/// supervisor). A mapping the loader wrote to (RELRO) holds anonymous pages and is left alone.
pub fn release_clean_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut releasable = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(value) = line.strip_prefix("Anonymous:") {
            if let Some(range) = current.take() {
                if value.trim() == "0 kB" {
                    releasable.push(range);
                }
            }
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        let file_backed = fields.nth(3).is_some_and(|path| path.starts_with('/'));
        current = (file_backed && perms.starts_with("r-") && perms.ends_with('p'))
            .then_some((start, end));
    }
    drop(smaps);
    for (start, end) in releasable {
        let Some(address) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: the range is a whole private, read-only file mapping of this process in
        // which /proc/self/smaps counted no anonymous (written) page, so every resident page
        // is a clean copy of the file: MADV_DONTNEED drops it and the next access faults it
        // back in from the file. Nothing in this process writes to a read-only mapping.
        let _ = unsafe {
            nix::sys::mman::madvise(
                address,
                end - start,
                nix::sys::mman::MmapAdvise::MADV_DONTNEED,
            )
        };
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it takes the allocator's
    // own locks, so it is safe alongside the relay threads' allocations.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}
