//! Starting container processes with skiff's own binary out of the container's reach (runc's
//! CVE-2019-5736).
//!
//! skiff clones its container processes from itself, without re-executing, so until such a
//! process execs, its `/proc/PID/exe` is the host's skiff binary, which a container that could
//! open it for writing would replace (once nothing runs it: after an upgrade, say). Two things
//! keep it out of reach:
//! - every skiff process that enters or lives in a container's namespaces is made non-dumpable
//!   before it does ([`make_non_dumpable`]). Its memory's user namespace stays the host's, where
//!   the container's root has no CAP_SYS_PTRACE, so ptrace and /proc/PID/{exe,environ,mem,maps}
//!   are refused to the container, root or not.
//! - the process's last exec goes through the trampoline (trampoline/main.rs: 2 kB, no C
//!   library), copied into a memfd of this start alone and sealed against writing. The kernel
//!   resolves a `#!/proc/self/exe` interpreter (or an ELF one) in the process that execs, which
//!   is then the trampoline, not skiff; a container that opens it gets the sealed memfd.
//!   The same trampoline is the `--init` of a container, in place of a skiff that would hold
//!   the caller's environment and binary for the container's whole life.
//!
//! runc re-executes a sealed copy of its whole binary instead; for skiff that would copy
//! several MB on every start, where this copies 2 kB and costs one exec of a tiny program.

use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use rustix::fs::{MemfdFlags, SealFlags};

/// The trampoline, compiled by build.rs.
const TRAMPOLINE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/trampoline"));

/// See the module's notes. Call it in the process before it joins or enters a container, but
/// after anything that needs the process's /proc entries to be the user's (the id maps that
/// newuidmap writes, the network namespace pasta joins).
pub(crate) fn make_non_dumpable() -> Result<(), Errno> {
    nix::sys::prctl::set_dumpable(false)
}

/// A memfd holding the trampoline, sealed: nothing can write, grow, shrink or unseal it.
pub(crate) fn sealed_trampoline() -> Result<OwnedFd, Errno> {
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    // Kernels before 6.3 know no MFD_EXEC (EINVAL): their memfds are all executable.
    let memfd = match rustix::fs::memfd_create("skiff-trampoline", flags | MemfdFlags::EXEC) {
        Err(rustix::io::Errno::INVAL) => rustix::fs::memfd_create("skiff-trampoline", flags),
        created => created,
    }
    .map_err(errno_of)?;
    let mut rest = TRAMPOLINE;
    while !rest.is_empty() {
        match rustix::io::write(&memfd, rest) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(errno_of(e)),
        }
    }
    let seals = SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE;
    rustix::fs::fcntl_add_seals(&memfd, seals).map_err(errno_of)?;
    Ok(memfd)
}

fn errno_of(error: rustix::io::Errno) -> Errno {
    Errno::from_raw(error.raw_os_error())
}

/// Execs `path` with `args` and `env` through the trampoline. `error_fd` (the error channel)
/// stays open through the trampoline, which closes it on the last exec or reports that exec's
/// failure on it. Returns only if the trampoline itself could not run.
pub(crate) fn exec_program(
    path: &CStr,
    args: &[CString],
    env: &[CString],
    error_fd: BorrowedFd<'_>,
) -> Errno {
    let trampoline = match sealed_trampoline() {
        Ok(memfd) => memfd,
        Err(errno) => return errno,
    };
    let fd_number = std::os::fd::AsRawFd::as_raw_fd(&error_fd).to_string();
    let mut trampoline_args = vec![c"skiff-exec".to_owned(), to_c(fd_number), path.to_owned()];
    trampoline_args.extend(args.iter().cloned());
    let inherited = nix::fcntl::FdFlag::empty();
    if let Err(errno) = nix::fcntl::fcntl(error_fd, nix::fcntl::F_SETFD(inherited)) {
        return errno;
    }
    exec_trampoline(&trampoline, &trampoline_args, env)
}

/// Replaces this process (pid 1, which forked `command`) with the trampoline as the container's
/// init, with an empty environment; the init closes `ready` once it is non-dumpable. Returns
/// only if that failed.
pub(crate) fn exec_init(trampoline: &OwnedFd, command: nix::unistd::Pid, ready: &OwnedFd) -> Errno {
    let ready_number = std::os::fd::AsRawFd::as_raw_fd(ready).to_string();
    let args = [
        c"skiff-init".to_owned(),
        to_c(command.as_raw().to_string()),
        to_c(ready_number),
    ];
    let inherited = nix::fcntl::FdFlag::empty();
    if let Err(errno) = nix::fcntl::fcntl(ready, nix::fcntl::F_SETFD(inherited)) {
        return errno;
    }
    exec_trampoline(trampoline, &args, &[])
}

fn exec_trampoline(trampoline: &OwnedFd, args: &[CString], env: &[CString]) -> Errno {
    let empty_path = nix::fcntl::AtFlags::AT_EMPTY_PATH;
    let Err(errno) = nix::unistd::execveat(trampoline.as_fd(), c"", args, env, empty_path);
    errno
}

/// What went wrong when the trampoline could not be made or run, for the error channel.
pub(crate) fn failure(what: &str, errno: Errno) -> String {
    let reason = errno.desc().to_lowercase();
    match errno {
        // vm.memfd_noexec = 2 refuses executable memfds to the process and its pid namespaces.
        Errno::EACCES => format!("{what}: {reason} (is sysctl vm.memfd_noexec 2?)"),
        _ => format!("{what}: {reason}"),
    }
}

/// A decimal number as a C string (it has no NUL byte).
fn to_c(number: String) -> CString {
    CString::new(number).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trampoline_is_sealed_against_writing() {
        let memfd = sealed_trampoline().expect("a sealed memfd");
        assert_eq!(
            rustix::io::write(&memfd, b"x").err(),
            Some(rustix::io::Errno::PERM)
        );
        let seals = rustix::fs::fcntl_get_seals(&memfd).expect("its seals");
        assert!(seals.contains(SealFlags::SEAL | SealFlags::WRITE | SealFlags::GROW));
    }
}
