//! Host probes for `skiff system check`: each one tries, in a throw-away child process, the one
//! thing a container will later need from the kernel (a user namespace with its id maps and a
//! mount namespace, an overlay mounted there, a device opened, a file system's type), and says
//! whether it worked and, if not, the kernel's answer.
//!
//! Contract: a probe changes nothing on the host. Namespaces and mounts are made only in a forked
//! child that exits at once; the files a probe needs live in a scratch directory the caller gives
//! and removes. Probes never decide what a failure means: `system::check` does.

use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::unistd::{fork, ForkResult};

use super::namespace_work::run_in_child;
use super::userns::IdMapping;

/// Runs `work` in a forked child and returns its error text, if it failed (or died).
fn in_child(work: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (read, write): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: skiff is single-threaded here (module contract of `runtime`), so the child holds no
    // lock another thread owns and may run ordinary code before it exits.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(read);
            let code = match work() {
                Ok(()) => 0,
                Err(message) => {
                    let _ = nix::unistd::write(&write, message.as_bytes());
                    1
                }
            };
            // SAFETY: _exit ends only this forked child, without running the parent's atexit work.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write);
            let mut message = String::new();
            let _ = std::fs::File::from(read).read_to_string(&mut message);
            match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
                _ if !message.is_empty() => Err(message),
                status => Err(format!("the probe ended with {status:?}")),
            }
        }
    }
}

/// In the calling (forked) process: a new user namespace where this user is root (its own id
/// mapped, which needs no helper), then a mount namespace in it, as every rootless command makes.
fn enter_own_user_namespace() -> Result<(), String> {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare(CLONE_NEWUSER): {e}"))?;
    let write = |name: &str, text: String| {
        std::fs::write(format!("/proc/self/{name}"), text)
            .map_err(|e| format!("writing /proc/self/{name}: {e}"))
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("0 {uid} 1\n"))?;
    write("gid_map", format!("0 {gid} 1\n"))?;
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))
}

/// Whether this user may make a user namespace, map its own id and make a mount namespace in
/// it: what the kernel's sysctls or an AppArmor restriction refuse.
pub fn user_namespace() -> Result<(), String> {
    in_child(enter_own_user_namespace)
}

/// Whether the kernel mounts an overlay whose layers live in `scratch` (a directory on the
/// store's file system that need not exist; it is removed again): rootless in a user namespace with
/// `userxattr` as skiff's containers mount it (Linux 5.11 and later), as root in a private
/// mount namespace.
pub fn overlay(scratch: &Path, rootless: bool) -> Result<(), String> {
    in_child(|| {
        if rootless {
            enter_own_user_namespace()?;
        } else {
            unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
        }
        super::storage::try_overlay_mount(scratch, rootless)
    })
}

/// Whether `path` (a character device such as /dev/fuse) opens for reading and writing.
pub fn open_device(path: &Path) -> Result<(), std::io::Error> {
    std::fs::File::options()
        .read(true)
        .write(true)
        .open(path)
        .map(drop)
}

/// The `f_type` of the file system holding `path` (statfs(2)).
pub fn filesystem_type(path: &Path) -> Result<u64, std::io::Error> {
    let stat = rustix::fs::statfs(path)?;
    // f_type is signed on some architectures; magic numbers are compared as unsigned 32 bits.
    #[allow(clippy::unnecessary_cast)]
    Ok(stat.f_type as u64 & 0xffff_ffff)
}

/// Whether `path` carries file capabilities (the `security.capability` attribute), which
/// distributions give newuidmap instead of the setuid bit.
pub fn has_file_capabilities(path: &Path) -> bool {
    let mut value = [0u8; 64];
    rustix::fs::getxattr(path, "security.capability", &mut value[..]).is_ok_and(|len| len > 0)
}
/// Whether the kernel mounts an overlay in a user namespace with `mapping` (as root: in a mount
/// namespace) on the file system of `scratch`, a directory that must not exist yet.
pub fn kernel_overlay_works(scratch: &Path, mapping: Option<&IdMapping>) -> bool {
    let flags = match mapping {
        Some(_) => CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS,
        None => CloneFlags::CLONE_NEWNS,
    };
    run_in_child(
        flags,
        mapping,
        || Ok(()),
        || Ok(super::storage::try_overlay_mount(scratch, mapping.is_some()).is_ok()),
        || Ok(()),
    )
    .unwrap_or(false)
}

/// Whether the host mounts the unified cgroup v2 hierarchy at /sys/fs/cgroup.
pub fn cgroup_v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}
