//! The life cycle shared by skiff's FUSE servers (the id-shifted layers of `idshift`, the union
//! of `fuse_overlay`), and the small conversions both need.
//!
//! skiff forks a server before it clones the container, joined to it by a socket pair. Once its
//! id maps are written, the container's process opens /dev/fuse, mounts it and sends the device
//! and its user namespace over the socket; the server joins that namespace (where it holds every
//! capability over the container's ids) and answers requests until the kernel ends the
//! connection (ENODEV), which it does when the mount goes with the container's mount namespace
//! (normal exit, `stop`, `kill -9` of the container or of skiff alike). The server is nobody's
//! child but init's, so `ps` and `wait` in the container never see it, and it has a session of
//! its own, so the user's Ctrl-C does not reach it. A server whose container never sends it a
//! device (the container failed first) ends when the socket closes. It must never hold a
//! reference to the container's mount namespace, or the mount would never go.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs::File;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileType};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use super::error::Error;
use super::process::{close_all_except, receive_fds, retitle, socket_pair};

/// Whether this user may serve a FUSE file system (`/dev/fuse` opens read-write).
pub fn available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok()
}

/// How a server runs: its name in `ps`, and how many threads answer the kernel.
pub(crate) struct ServerShape {
    pub name: &'static CStr,
    pub threads: usize,
}

/// Forks a server; `make` builds its file system once it has joined the container's user
/// namespace. Returns the container's end of the socket, for [`mount_served`]. Must be called
/// while skiff is single-threaded, before any descriptor whose end of file matters is made (the
/// server closes what it inherits, but only once it runs).
pub(crate) fn start_server<F, M>(shape: ServerShape, make: M) -> Result<OwnedFd, Error>
where
    F: fuser::Filesystem,
    M: FnOnce() -> std::io::Result<F>,
{
    let (server_end, container_end) = socket_pair()?;
    // SAFETY: skiff is single-threaded here (module contract), so the child may run ordinary
    // code; it forks once more and exits at once, so the server is nobody's child but init's.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::sys("fork", e))? {
        nix::unistd::ForkResult::Parent { child } => {
            drop(server_end);
            let _ = nix::sys::wait::waitpid(child, None);
            Ok(container_end)
        }
        nix::unistd::ForkResult::Child => {
            drop(container_end);
            // SAFETY: as above: this process has a single thread.
            if let Ok(nix::unistd::ForkResult::Child) = unsafe { nix::unistd::fork() } {
                serve(server_end, shape, make);
            }
            leave(0)
        }
    }
}

/// Ends this forked process at once: no exit handler, no flush of stdio buffers copied from
/// skiff, which skiff itself will write.
fn leave(code: i32) -> ! {
    // SAFETY: _exit only ends the process; it touches no state that could be inconsistent.
    unsafe { libc::_exit(code) }
}

/// The server's life: detached from skiff's terminal and descriptors, it waits for the
/// container's device and user namespace, joins the namespace and serves until unmounted.
fn serve<F, M>(socket: OwnedFd, shape: ServerShape, make: M) -> !
where
    F: fuser::Filesystem,
    M: FnOnce() -> std::io::Result<F>,
{
    let _ = nix::unistd::setsid();
    // What `ps` and `top` show for it, instead of the command that forked it.
    let _ = nix::sys::prctl::set_name(shape.name);
    retitle(shape.name);
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    // Copies of skiff's pipes and locks would hold them open for the container's whole life.
    close_all_except(&[socket.as_raw_fd()]);
    // The signals skiff blocked for forwarding would otherwise stay blocked here.
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    // Files are made with exactly the mode the container asked for (the kernel applied its umask).
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let received = receive_fds(&socket)
        .ok()
        .and_then(|fds| <[OwnedFd; 2]>::try_from(fds).ok());
    let Some([device, user_namespace]) = received else {
        leave(0)
    };
    drop(socket);
    // It lives on in the container's user namespace; see sealed_exec.rs.
    if super::sealed_exec::make_non_dumpable().is_err() {
        leave(1)
    }
    // As root the container has no user namespace of its own: the server is in it already
    // (and the kernel refuses to enter the namespace one is in).
    let joined = nix::sched::setns(&user_namespace, nix::sched::CloneFlags::CLONE_NEWUSER);
    if joined.is_err() && !same_namespace(&user_namespace) {
        leave(1)
    }
    drop(user_namespace);
    let Ok(filesystem) = make() else { leave(1) };
    let mut config = fuser::Config::default();
    config.n_threads = Some(shape.threads);
    // Each thread reads requests from a device of its own, not all from one.
    config.clone_fd = shape.threads > 1;
    let served = fuser::Session::from_fd(filesystem, device, fuser::SessionACL::All, config)
        .and_then(|session| session.run());
    leave(if served.is_ok() { 0 } else { 1 })
}

fn same_namespace(namespace: &OwnedFd) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = std::fs::metadata("/proc/self/ns/user");
    let theirs = rustix::fs::fstat(namespace);
    matches!((ours, theirs), (Ok(a), Ok(b)) if a.ino() == b.st_ino && a.dev() == b.st_dev)
}

/// In the container's process, after its id maps are written and `/` is private: mounts the
/// server's file system on `target` and hands the server its device and user namespace.
/// `what` names the mount in errors.
pub(crate) fn mount_served(
    target: &Path,
    fstype: &str,
    readonly: bool,
    server: BorrowedFd<'_>,
    what: &str,
) -> Result<(), String> {
    let device = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| format!("opening /dev/fuse for {what}: {e}"))?;
    let user_namespace =
        File::open("/proc/self/ns/user").map_err(|e| format!("opening /proc/self/ns/user: {e}"))?;
    // default_permissions: the kernel checks every access against the owners and modes the
    // server reports, with the caller's ids, as for any local file system.
    let options = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions",
        device.as_raw_fd()
    );
    let mut flags = nix::mount::MsFlags::empty();
    if readonly {
        flags |= nix::mount::MsFlags::MS_RDONLY
            | nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV;
    }
    nix::mount::mount(
        Some(fstype),
        target,
        Some(format!("fuse.{fstype}").as_str()),
        flags,
        Some(options.as_str()),
    )
    .map_err(|e| format!("mounting {what}: {}", e.desc().to_lowercase()))?;
    let fds = [device.as_raw_fd(), user_namespace.as_raw_fd()];
    sendmsg::<()>(
        server.as_raw_fd(),
        &[IoSlice::new(b"L")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("handing {what} to its server: {e}"))?;
    Ok(())
}

/// Open files and directories by handle number.
pub(crate) struct Handles<T> {
    next: u64,
    pub open: HashMap<u64, T>,
}

impl<T> Handles<T> {
    pub fn new() -> Self {
        Handles {
            next: 1,
            open: HashMap::new(),
        }
    }

    pub fn insert(&mut self, value: T) -> u64 {
        let handle = self.next;
        self.next += 1;
        self.open.insert(handle, value);
        handle
    }
}

pub(crate) fn errno_of(error: rustix::io::Errno) -> Errno {
    Errno::from_i32(error.raw_os_error())
}

pub(crate) fn time_of(seconds: i64, nanoseconds: i64) -> SystemTime {
    let nanos = Duration::from_nanos(u64::try_from(nanoseconds).unwrap_or(0));
    match u64::try_from(seconds) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after) + nanos,
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + nanos,
    }
}

pub(crate) fn kind_of(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

/// A device number in the 32-bit form FUSE carries (the kernel's `new_encode_dev`).
pub(crate) fn fuse_device_number(rdev: u64) -> u32 {
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

/// The device number a FUSE request carries, decoded (the kernel's `new_decode_dev`).
pub(crate) fn device_number_of(fuse: u32) -> u64 {
    let major = (fuse & 0xfff00) >> 8;
    let minor = (fuse & 0xff) | ((fuse >> 12) & 0xfff00);
    libc::makedev(major, minor)
}

/// The attributes of `stat` as FUSE reports them, as inode `ino`, owners as given.
pub(crate) fn attr_of(ino: u64, stat: &rustix::fs::Stat, uid: u32, gid: u32) -> fuser::FileAttr {
    let mode = stat.st_mode;
    fuser::FileAttr {
        ino: fuser::INodeNo(ino),
        size: stat.st_size as u64,
        blocks: stat.st_blocks as u64,
        atime: time_of(stat.st_atime, stat.st_atime_nsec as i64),
        mtime: time_of(stat.st_mtime, stat.st_mtime_nsec as i64),
        ctime: time_of(stat.st_ctime, stat.st_ctime_nsec as i64),
        crtime: UNIX_EPOCH,
        kind: kind_of(mode),
        perm: (mode & 0o7777) as u16,
        nlink: stat.st_nlink as u32,
        uid,
        gid,
        rdev: fuse_device_number(stat.st_rdev),
        blksize: stat.st_blksize as u32,
        flags: 0,
    }
}

thread_local! {
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Answers a read of `size` bytes at `offset` of `file`.
pub(crate) fn read_into_reply(file: &File, offset: u64, size: u32, reply: fuser::ReplyData) {
    use std::os::unix::fs::FileExt;
    READ_BUFFER.with_borrow_mut(|buffer| {
        // Kept from read to read: a fresh buffer of this size would be mapped and faulted in
        // anew each time.
        buffer.resize(buffer.len().max(size as usize), 0);
        let buffer = &mut buffer[..size as usize];
        let mut filled = 0;
        while filled < buffer.len() {
            match file.read_at(&mut buffer[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return reply.error(Errno::from(e)),
            }
        }
        reply.data(&buffer[..filled]);
    });
}

/// Answers a statfs with the file system holding `fd`.
pub(crate) fn reply_statfs(fd: BorrowedFd<'_>, reply: fuser::ReplyStatfs) {
    match rustix::fs::fstatfs(fd) {
        Ok(s) => reply.statfs(
            s.f_blocks,
            s.f_bfree,
            s.f_bavail,
            s.f_files,
            s.f_ffree,
            s.f_bsize as u32,
            s.f_namelen as u32,
            s.f_frsize as u32,
        ),
        Err(e) => reply.error(errno_of(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_use_the_kernels_encoding() {
        assert_eq!(fuse_device_number(0), 0);
        // /dev/null is 1:3; a minor above 255 moves its high bits above the major.
        assert_eq!(fuse_device_number(libc::makedev(1, 3)), 0x103);
        assert_eq!(fuse_device_number(libc::makedev(8, 0x1234)), 0x0120_0834);
        for device in [libc::makedev(1, 3), libc::makedev(8, 0x1234), 0] {
            assert_eq!(device_number_of(fuse_device_number(device)), device);
        }
    }

    #[test]
    fn times_before_the_epoch_survive() {
        assert_eq!(time_of(-1, 0), UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(
            time_of(2, 5),
            UNIX_EPOCH + Duration::from_nanos(2_000_000_005)
        );
    }
}
