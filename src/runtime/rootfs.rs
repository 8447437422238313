//! The container's root filesystem: kernel overlayfs over the layer directories, the standard
//! filesystems (/proc, a minimal /dev, /sys), generated /etc files, Podman's masked and
//! read-only paths, then `pivot_root`.
//!
//! The mounts are planned as plain data (`mount_plan`, unit-tested) and applied by a small
//! executor. Every target inside the new root is opened with `openat2(RESOLVE_IN_ROOT)` and mounted
//! through its `/proc/self/fd` path, so a symlink planted in an image (`/proc -> /`) can never
//! redirect a mount outside the container's root. Everything is mounted before `pivot_root`,
//! while the host's /proc is still visible: the kernel refuses a new proc mount in a user
//! namespace that has no fully visible one.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::channel::{sys_error, ChildError};
use super::mount_plan::{plan_mounts, MountStep};
use super::spec::{ContainerSpec, Mount, MountFlags, MountSource, Propagation};
use super::storage::{self, Servers};

fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn errno_of(e: rustix::io::Errno) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(e.raw_os_error())
}

/// Opens `rel` under `root` without ever leaving it, creating it (and its parents) if missing.
fn open_in_root(
    root: &OwnedFd,
    rel: &str,
    file: bool,
    create: bool,
) -> Result<Option<OwnedFd>, ChildError> {
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let open = |path: &str, dir: bool| {
        let flags = OFlags::PATH
            | OFlags::CLOEXEC
            | if dir {
                OFlags::DIRECTORY
            } else {
                OFlags::empty()
            };
        rustix::fs::openat2(root, path, flags, Mode::empty(), resolve)
    };
    match open(rel, !file) {
        Ok(fd) => return Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) if create => {}
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => {
            return Err(sys_error(
                &format!("opening /{rel} in the container"),
                errno_of(e),
            ))
        }
    }
    let (parent, name) = match rel.rsplit_once('/') {
        Some((parent, name)) => (parent, name),
        None => ("", rel),
    };
    let mut dir = match open(".", true) {
        Ok(fd) => fd,
        Err(e) => return Err(sys_error("opening the container root", errno_of(e))),
    };
    for component in parent.split('/').filter(|c| !c.is_empty()) {
        dir = match rustix::fs::openat2(
            &dir,
            component,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            resolve,
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                let parent_rw = reopen_dir(&dir)?;
                rustix::fs::mkdirat(&parent_rw, component, Mode::from_raw_mode(0o755)).map_err(
                    |e| sys_error(&format!("creating /{parent} in the container"), errno_of(e)),
                )?;
                rustix::fs::openat2(
                    &dir,
                    component,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                    resolve,
                )
                .map_err(|e| {
                    sys_error(&format!("opening /{parent} in the container"), errno_of(e))
                })?
            }
            Err(e) => {
                return Err(sys_error(
                    &format!("opening /{parent} in the container"),
                    errno_of(e),
                ))
            }
        };
    }
    let parent_rw = reopen_dir(&dir)?;
    let created = if file {
        rustix::fs::openat(
            &parent_rw,
            name,
            OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map(drop)
    } else {
        rustix::fs::mkdirat(&parent_rw, name, Mode::from_raw_mode(0o755))
    };
    match created {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => {
            return Err(sys_error(
                &format!("creating /{rel} in the container"),
                errno_of(e),
            ))
        }
    }
    match open(rel, !file) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) => Err(sys_error(
            &format!("opening /{rel} in the container"),
            errno_of(e),
        )),
    }
}

/// An O_PATH directory descriptor cannot be used for mkdirat/openat-create: reopen it readable.
fn reopen_dir(dir: &OwnedFd) -> Result<OwnedFd, ChildError> {
    rustix::fs::openat(
        dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys_error("reopening a directory", errno_of(e)))
}

fn mount_at(
    source: Option<&str>,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    what: &str,
) -> Result<(), ChildError> {
    mount(source, fd_path(target).as_str(), fstype, flags, data)
        .map_err(|e| sys_error(&format!("mounting {what}"), e))
}

/// Makes a bind mount read-only, keeping the flags the kernel locks in a user namespace.
fn remount_readonly(target: &OwnedFd, what: &str) -> Result<(), ChildError> {
    remount_bind(target, MsFlags::MS_RDONLY, what)
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Makes every mount at and below `target` read-only (mount_setattr with AT_RECURSIVE, Linux
/// 5.12); on an older kernel, which lacks the call, the top alone stays read-only.
fn make_tree_readonly(target: &OwnedFd, what: &str) -> Result<(), ChildError> {
    const AT_RECURSIVE: libc::c_int = 0x8000;
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads `size_of::<MountAttr>()` bytes from `attr`, which lives
    // across the call; the empty path with AT_EMPTY_PATH names the descriptor's own mount.
    let result = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    match nix::errno::Errno::result(result) {
        Ok(_) | Err(nix::errno::Errno::ENOSYS) => Ok(()),
        Err(e) => Err(sys_error(&format!("making {what} read-only below"), e)),
    }
}

/// Remounts a bind mount with `flags` added, keeping the flags the kernel locks in a user
/// namespace (dropping one of them is refused).
fn remount_bind(target: &OwnedFd, added: MsFlags, what: &str) -> Result<(), ChildError> {
    let path = fd_path(target);
    let current = nix::sys::statvfs::statvfs(path.as_str())
        .map_err(|e| sys_error(&format!("statvfs {what}"), e))?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | added;
    use nix::sys::statvfs::FsFlags;
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if current.flags().contains(fs_flag) {
            flags |= ms_flag;
        }
    }
    mount(
        None::<&str>,
        path.as_str(),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| sys_error(&format!("setting the options of {what}"), e))
}

fn ms_flags(flags: MountFlags, readonly: bool) -> MsFlags {
    let mut ms = MsFlags::empty();
    for (on, flag) in [
        (flags.nosuid, MsFlags::MS_NOSUID),
        (flags.nodev, MsFlags::MS_NODEV),
        (flags.noexec, MsFlags::MS_NOEXEC),
        (readonly, MsFlags::MS_RDONLY),
    ] {
        if on {
            ms |= flag;
        }
    }
    ms
}

fn propagation_flags(propagation: Propagation) -> MsFlags {
    match propagation {
        Propagation::Private => MsFlags::MS_PRIVATE,
        Propagation::Rprivate => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Propagation::Shared => MsFlags::MS_SHARED,
        Propagation::Rshared => MsFlags::MS_SHARED | MsFlags::MS_REC,
        Propagation::Slave => MsFlags::MS_SLAVE,
        Propagation::Rslave => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    }
}

/// Mounts one of the user's mounts at its destination inside `root`.
fn apply_user_mount(root: &OwnedFd, user: &Mount) -> Result<(), ChildError> {
    let target = user.destination.trim_start_matches('/');
    let what = format!("the volume on {}", user.destination);
    let flags = ms_flags(user.flags, user.readonly);
    let open = |file: bool, create: bool| {
        open_in_root(root, target, file, create)?
            .ok_or_else(|| ChildError::other(format!("{} vanished", user.destination)))
    };
    // Binds the host path `source` there, with `flags` set on the new mount.
    let bind = |source: &Path, recursive: bool, flags: MsFlags| {
        let file = std::fs::metadata(source).is_ok_and(|m| !m.is_dir());
        let mut bind = MsFlags::MS_BIND;
        if recursive {
            bind |= MsFlags::MS_REC;
        }
        let source = source.to_string_lossy();
        mount_at(Some(&source), &open(file, true)?, None, bind, None, &what)?;
        if !flags.is_empty() {
            remount_bind(&open(file, false)?, flags, &what)?;
        }
        Ok::<bool, ChildError>(file)
    };
    let overlay = |data: String, flags: MsFlags| {
        let fd = open(false, true)?;
        mount_at(
            Some("overlay"),
            &fd,
            Some("overlay"),
            flags,
            Some(&data),
            &what,
        )
    };
    let mut file = false;
    match &user.source {
        MountSource::Bind { path, recursive } => file = bind(path, *recursive, flags)?,
        // An overlay needs two lower layers when it has no upper one.
        MountSource::Layers {
            lower,
            changes: None,
        } if lower.len() == 1 => {
            bind(&lower[0], false, flags | MsFlags::MS_RDONLY)?;
        }
        MountSource::Layers { lower, changes } => {
            let lowers: Vec<String> = lower.iter().map(|l| l.display().to_string()).collect();
            let mut data = format!("lowerdir={}", lowers.join(":"));
            let mut flags = flags;
            match changes {
                Some(changes) => data.push_str(&format!(
                    ",upperdir={},workdir={}",
                    changes.upper.display(),
                    changes.work.display()
                )),
                None => flags |= MsFlags::MS_RDONLY,
            }
            overlay(data + ",userxattr", flags)?;
        }
        MountSource::Overlay { lower, upper, work } => {
            let data = format!(
                "lowerdir={},upperdir={},workdir={},userxattr",
                lower.display(),
                upper.display(),
                work.display()
            );
            overlay(data, flags)?;
        }
        MountSource::Tmpfs { size, mode } => {
            let mut data = vec![format!("mode={:o}", mode.unwrap_or(0o1777))];
            if let Some(size) = size {
                data.push(format!("size={size}"));
            }
            let data = data.join(",");
            let fd = open(false, true)?;
            mount_at(Some("tmpfs"), &fd, Some("tmpfs"), flags, Some(&data), &what)?;
        }
    }
    if let Some(propagation) = user.propagation {
        // The mount on the destination is a new one: open it again to reach it, not what it covers.
        mount_at(
            None,
            &open(file, false)?,
            None,
            propagation_flags(propagation),
            None,
            &what,
        )?;
    }
    Ok(())
}

fn apply_step(root: &OwnedFd, step: &MountStep) -> Result<(), ChildError> {
    match step {
        MountStep::Filesystem {
            fstype,
            target,
            flags,
            data,
        } => {
            let Some(fd) = open_in_root(root, target, false, true)? else {
                return Ok(());
            };
            mount_at(
                Some(fstype),
                &fd,
                Some(fstype),
                *flags,
                data.as_deref(),
                &format!("/{target}"),
            )
        }
        MountStep::Bind {
            source,
            target,
            file,
            recursive,
            readonly,
        } => {
            let Some(fd) = open_in_root(root, target, *file, true)? else {
                return Ok(());
            };
            let mut flags = MsFlags::MS_BIND;
            if *recursive {
                flags |= MsFlags::MS_REC;
            }
            mount_at(
                Some(source),
                &fd,
                None,
                flags,
                None,
                &format!("{source} on /{target}"),
            )?;
            if *readonly {
                let fd = open_in_root(root, target, *file, false)?
                    .ok_or_else(|| ChildError::other(format!("/{target} vanished")))?;
                remount_readonly(&fd, &format!("/{target}"))?;
                // The mounts below a recursive bind keep their own flags: a rootless host
                // network's /sys would carry the host's cgroup hierarchies writable.
                if *recursive {
                    make_tree_readonly(&fd, &format!("/{target}"))?;
                }
            }
            Ok(())
        }
        MountStep::Symlink { link, points_to } => {
            let (parent, name) = link.rsplit_once('/').unwrap_or(("", link));
            let Some(dir) = open_in_root(root, parent, false, true)? else {
                return Ok(());
            };
            match rustix::fs::symlinkat(*points_to, &reopen_dir(&dir)?, name) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
                Err(e) => Err(sys_error(&format!("symlink /{link}"), errno_of(e))),
            }
        }
        MountStep::Mask { target } => {
            let Some(fd) = open_in_root(root, target, true, false)? else {
                return Ok(());
            };
            let is_dir = rustix::fs::fstat(&fd)
                .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
                .unwrap_or(false);
            if is_dir {
                mount_at(
                    Some("tmpfs"),
                    &fd,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None,
                    &format!("mask on /{target}"),
                )
            } else {
                mount_at(
                    Some("/dev/null"),
                    &fd,
                    None,
                    MsFlags::MS_BIND,
                    None,
                    &format!("mask on /{target}"),
                )
            }
        }
        MountStep::User(user) => apply_user_mount(root, user),
        MountStep::Sysctl { key, value } => write_sysctl(root, key, value),
        MountStep::ReadOnly { target } => {
            let Some(fd) = open_in_root(root, target, true, false)? else {
                return Ok(());
            };
            mount_at(
                Some(&fd_path(&fd)),
                &fd,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                &format!("/{target}"),
            )?;
            let fd = open_in_root(root, target, true, false)?
                .ok_or_else(|| ChildError::other(format!("/{target} vanished")))?;
            remount_readonly(&fd, &format!("/{target}"))
        }
    }
}

/// Writes `value` to the container's proc/sys file for `key` (dots become slashes; the key was
/// checked to name a namespaced setting).
fn write_sysctl(root: &OwnedFd, key: &str, value: &str) -> Result<(), ChildError> {
    let path = format!("proc/sys/{}", key.replace('.', "/"));
    let what = format!("setting sysctl {key}={value}");
    let file = rustix::fs::openat2(
        root,
        path.as_str(),
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| sys_error(&what, errno_of(e)))?;
    rustix::io::write(&file, value.as_bytes())
        .map(|_| ())
        .map_err(|e| sys_error(&what, errno_of(e)))
}

/// For `cp` and `export`: mounts the container's root in this (new, private) mount namespace
/// and makes it the root; read-only when `writable` is false.
pub(crate) fn mount_union_as_root(
    spec: &ContainerSpec,
    writable: bool,
    servers: Servers<'_>,
) -> Result<(), String> {
    storage::mount_root(spec, writable, servers).map_err(|e| e.message)?;
    // From the inside: a nested namespace's root cannot walk the user's directories to it.
    nix::unistd::chdir(&spec.rootfs_dir).map_err(|e| format!("chdir to the union: {e}"))?;
    if let Some(nested) = &spec.nested_ids {
        super::userns::enter_nested_user_namespace(nested)?;
    }
    nix::unistd::chroot(".").map_err(|e| format!("chroot: {e}"))?;
    nix::unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))
}

/// Mounts the union and everything in it, then makes it the process's root.
pub(crate) fn build_rootfs(spec: &ContainerSpec, servers: Servers<'_>) -> Result<(), ChildError> {
    storage::mount_root(spec, true, servers)?;

    let root = rustix::fs::open(
        &spec.rootfs_dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| sys_error("opening the root filesystem", errno_of(e)))?;
    for step in plan_mounts(spec) {
        apply_step(&root, &step)?;
    }
    drop(root);
    if spec.read_only {
        // The union itself; the filesystems mounted on it keep their own options.
        mount(
            None::<&str>,
            &spec.rootfs_dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(|e| sys_error("making the root filesystem read-only", e))?;
    }

    nix::unistd::chdir(&spec.rootfs_dir)
        .map_err(|e| sys_error("chdir to the root filesystem", e))?;
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only the
    // container's root, with no path back to the host's (the technique runc uses).
    nix::unistd::pivot_root(".", ".").map_err(|e| sys_error("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| sys_error("detaching the old root", e))?;
    nix::unistd::chdir(Path::new("/")).map_err(|e| sys_error("chdir /", e))?;
    Ok(())
}
