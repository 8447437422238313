//! Layers seen through another id mapping without copying them (`--userns=keep-id`).
//!
//! A layer's files are owned on disk by the host ids the user's default mapping gives the
//! image's owners, so a container with another mapping would see them owned by other ids.
//! Podman copies and chowns the whole image for each new mapping. Here the container's mount
//! namespace instead gets a read-only FUSE file system over the store's layer directory,
//! served by a process of skiff's that reports each file's owner as the image's id; the kernel
//! reads those ids in the container's user namespace, so the image's root is the container's
//! root again. Nothing is copied, so a first keep-id start costs what any start costs. Layers
//! never change while in use, so the kernel may cache every attribute, name and page.
//!
//! Life cycle: skiff forks the server before it clones the container, joined to it by a socket
//! pair. Once its id maps are written, the container's process opens /dev/fuse, mounts it over
//! the layer directory and sends the device and its user namespace over the socket; the server
//! joins that namespace (where it may read every layer file) and answers requests until the
//! kernel ends the connection (ENODEV), which it does when the mount goes with the container's
//! mount namespace. The server is not a child of the container, so `ps` and `wait` in it never
//! see it, and it has a session of its own, so the user's Ctrl-C does not reach it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{DirEntryExt, FileExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr, Request,
};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use rustix::fs::{AtFlags, Mode, OFlags};

use super::userns::IdTranslation;
use super::Error;

/// How long the kernel may trust what the server told it: layers in use never change.
const CACHE_FOR: Duration = Duration::from_secs(24 * 60 * 60);

thread_local! {
    static READ_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Whether this user may serve a FUSE file system (`/dev/fuse` opens read-write).
pub fn available() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok()
}

/// Forks the server for a container (or a job on a container's files), over `layers_dir`,
/// reporting each owner it sees (in the user namespace the container sends it) as `owners`
/// gives it. Returns the container's end of the socket, for [`mount_shifted_layers`].
/// Must be called while skiff is single-threaded, before any descriptor that the container's
/// end of file matters for is made (the server closes what it inherits, but only once it runs).
pub(crate) fn start_server(layers_dir: &Path, owners: IdTranslation) -> Result<OwnedFd, Error> {
    let (server_end, container_end) = super::container::socket_pair()?;
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
                serve(server_end, layers_dir, owners);
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
fn serve(socket: OwnedFd, layers_dir: &Path, owners: IdTranslation) -> ! {
    let _ = nix::unistd::setsid();
    // What `ps` and `top` show for it, instead of the command that forked it.
    let _ = nix::sys::prctl::set_name(c"skiff-layers");
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
    super::child::close_all_except(&[socket.as_raw_fd()]);
    // The signals skiff blocked for forwarding would otherwise stay blocked here.
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    let Some([device, user_namespace]) = receive_two_fds(&socket) else {
        leave(0)
    };
    drop(socket);
    if nix::sched::setns(&user_namespace, nix::sched::CloneFlags::CLONE_NEWUSER).is_err() {
        leave(1)
    }
    drop(user_namespace);
    let Ok(tree) = ShiftedLayers::open(layers_dir, owners) else {
        leave(1)
    };
    let mut config = fuser::Config::default();
    // Two readers keep one slow read from holding up every lookup behind it.
    config.n_threads = Some(2);
    let served = fuser::Session::from_fd(tree, device, fuser::SessionACL::All, config)
        .and_then(|session| session.run());
    leave(if served.is_ok() { 0 } else { 1 })
}

/// In the container's process, after its id maps are written and `/` is private: mounts the
/// server's file system over `layers_dir` and hands the server its device and user namespace.
pub(crate) fn mount_shifted_layers(
    layers_dir: &Path,
    server: BorrowedFd<'_>,
) -> Result<(), String> {
    let device = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| format!("opening /dev/fuse for the image's id mapping: {e}"))?;
    let user_namespace =
        File::open("/proc/self/ns/user").map_err(|e| format!("opening /proc/self/ns/user: {e}"))?;
    let options = format!(
        "fd={},rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions",
        device.as_raw_fd()
    );
    nix::mount::mount(
        Some("skiff-layers"),
        layers_dir,
        Some("fuse.skiff-layers"),
        nix::mount::MsFlags::MS_RDONLY
            | nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV,
        Some(options.as_str()),
    )
    .map_err(|e| format!("mounting the image's layers with the container's ids: {e}"))?;
    let fds = [device.as_raw_fd(), user_namespace.as_raw_fd()];
    sendmsg::<()>(
        server.as_raw_fd(),
        &[IoSlice::new(b"L")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("handing the layers to their server: {e}"))?;
    Ok(())
}

fn receive_two_fds(socket: &OwnedFd) -> Option<[OwnedFd; 2]> {
    super::container::receive_fds(socket).ok()?.try_into().ok()
}

/// One entry of an open directory, as readdir reports it.
struct Listed {
    name: OsString,
    ino: u64,
    kind: FileType,
}

/// Open files and directories by handle number.
struct Handles<T> {
    next: u64,
    open: HashMap<u64, T>,
}

impl<T> Handles<T> {
    fn new() -> Self {
        Handles {
            next: 1,
            open: HashMap::new(),
        }
    }

    fn insert(&mut self, value: T) -> u64 {
        let handle = self.next;
        self.next += 1;
        self.open.insert(handle, value);
        handle
    }
}

/// Inode numbers the kernel knows, by the path they were found at (hard links share one).
/// Never forgotten: a container looks up a small part of its image.
struct Nodes {
    paths: Vec<PathBuf>,
    by_inode: HashMap<(u64, u64), u64>,
}

impl Nodes {
    fn path(&self, ino: INodeNo) -> Option<PathBuf> {
        let index = usize::try_from(ino.0.checked_sub(1)?).ok()?;
        self.paths.get(index).cloned()
    }

    fn number_for(&mut self, device: u64, inode: u64, path: PathBuf) -> u64 {
        *self.by_inode.entry((device, inode)).or_insert_with(|| {
            self.paths.push(path);
            self.paths.len() as u64
        })
    }
}

/// The store's layer directory, read-only, with every owner given as the image's id.
struct ShiftedLayers {
    root: OwnedFd,
    root_path: PathBuf,
    owners: IdTranslation,
    nodes: Mutex<Nodes>,
    files: Mutex<Handles<Arc<File>>>,
    dirs: Mutex<Handles<Vec<Listed>>>,
}

fn errno_of(error: rustix::io::Errno) -> Errno {
    Errno::from_i32(error.raw_os_error())
}

fn time_of(seconds: i64, nanoseconds: i64) -> SystemTime {
    let nanos = Duration::from_nanos(u64::try_from(nanoseconds).unwrap_or(0));
    match u64::try_from(seconds) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after) + nanos,
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + nanos,
    }
}

fn kind_of(mode: u32) -> FileType {
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
fn fuse_device_number(rdev: u64) -> u32 {
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

impl ShiftedLayers {
    fn open(layers_dir: &Path, owners: IdTranslation) -> rustix::io::Result<Self> {
        let root = rustix::fs::open(
            layers_dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ShiftedLayers {
            root,
            root_path: layers_dir.to_path_buf(),
            owners,
            nodes: Mutex::new(Nodes {
                paths: vec![PathBuf::from(".")],
                by_inode: HashMap::new(),
            }),
            files: Mutex::new(Handles::new()),
            dirs: Mutex::new(Handles::new()),
        })
    }

    fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        let nodes = self.nodes.lock().map_err(|_| Errno::EIO)?;
        nodes.path(ino).ok_or(Errno::ENOENT)
    }

    fn stat(&self, path: &Path) -> Result<rustix::fs::Stat, Errno> {
        rustix::fs::statat(&self.root, path, AtFlags::SYMLINK_NOFOLLOW).map_err(errno_of)
    }

    fn attr(&self, ino: u64, stat: &rustix::fs::Stat) -> FileAttr {
        let mode = stat.st_mode;
        FileAttr {
            ino: INodeNo(ino),
            size: stat.st_size as u64,
            blocks: stat.st_blocks as u64,
            atime: time_of(stat.st_atime, stat.st_atime_nsec as i64),
            mtime: time_of(stat.st_mtime, stat.st_mtime_nsec as i64),
            ctime: time_of(stat.st_ctime, stat.st_ctime_nsec as i64),
            crtime: UNIX_EPOCH,
            kind: kind_of(mode),
            perm: (mode & 0o7777) as u16,
            nlink: stat.st_nlink as u32,
            uid: self.owners.uid(stat.st_uid).unwrap_or(stat.st_uid),
            gid: self.owners.gid(stat.st_gid).unwrap_or(stat.st_gid),
            rdev: fuse_device_number(stat.st_rdev),
            blksize: stat.st_blksize as u32,
            flags: 0,
        }
    }

    fn getattr_of(&self, ino: INodeNo) -> Result<FileAttr, Errno> {
        let stat = self.stat(&self.path(ino)?)?;
        Ok(self.attr(ino.0, &stat))
    }

    fn lookup_in(&self, parent: INodeNo, name: &OsStr) -> Result<FileAttr, Errno> {
        let path = self.path(parent)?.join(name);
        let stat = self.stat(&path)?;
        let ino =
            self.nodes
                .lock()
                .map_err(|_| Errno::EIO)?
                .number_for(stat.st_dev, stat.st_ino, path);
        Ok(self.attr(ino, &stat))
    }

    fn list(&self, ino: INodeNo) -> Result<Vec<Listed>, Errno> {
        let path = self.root_path.join(self.path(ino)?);
        let mut listed = vec![
            Listed {
                name: ".".into(),
                ino: ino.0,
                kind: FileType::Directory,
            },
            Listed {
                name: "..".into(),
                ino: 1,
                kind: FileType::Directory,
            },
        ];
        for entry in std::fs::read_dir(path).map_err(Errno::from)? {
            let entry = entry.map_err(Errno::from)?;
            let kind = entry.file_type().map_err(Errno::from)?;
            listed.push(Listed {
                name: entry.file_name(),
                ino: entry.ino(),
                kind: FileType::from_std(kind).unwrap_or(FileType::RegularFile),
            });
        }
        Ok(listed)
    }

    fn xattr(&self, ino: INodeNo, name: Option<&OsStr>, size: u32, reply: ReplyXattr) {
        let path = match self.path(ino) {
            Ok(path) => self.root_path.join(path),
            Err(e) => return reply.error(e),
        };
        let mut buffer = vec![0u8; size as usize];
        let read = match name {
            Some(name) => rustix::fs::lgetxattr(&path, name, &mut buffer[..]),
            None => rustix::fs::llistxattr(&path, &mut buffer[..]),
        };
        match read {
            Ok(length) if size == 0 => reply.size(length as u32),
            Ok(length) => reply.data(&buffer[..length]),
            Err(e) => reply.error(errno_of(e)),
        }
    }
}

impl fuser::Filesystem for ShiftedLayers {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Optional speed-ups: a kernel without them serves as well.
        let _ = config
            .add_capabilities(InitFlags::FUSE_CACHE_SYMLINKS | InitFlags::FUSE_PARALLEL_DIROPS);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_in(parent, name) {
            Ok(attr) => reply.entry(&CACHE_FOR, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.getattr_of(ino) {
            Ok(attr) => reply.attr(&CACHE_FOR, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let target = self.path(ino).and_then(|path| {
            rustix::fs::readlinkat(&self.root, &path, Vec::new()).map_err(errno_of)
        });
        match target {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if !matches!(flags.acc_mode(), OpenAccMode::O_RDONLY) {
            return reply.error(Errno::EROFS);
        }
        let opened = self.path(ino).and_then(|path| {
            rustix::fs::openat(
                &self.root,
                &path,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno_of)
        });
        let handle = opened.and_then(|fd| {
            let mut files = self.files.lock().map_err(|_| Errno::EIO)?;
            Ok(files.insert(Arc::new(File::from(fd))))
        });
        match handle {
            Ok(handle) => reply.opened(FileHandle(handle), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let file = match self.files.lock() {
            Ok(files) => files.open.get(&fh.0).cloned(),
            Err(_) => None,
        };
        let Some(file) = file else {
            return reply.error(Errno::EBADF);
        };
        READ_BUFFER.with_borrow_mut(|buffer| {
            // Kept from read to read: a fresh buffer of this size would be mapped and faulted
            // in anew each time.
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

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        if let Ok(mut files) = self.files.lock() {
            files.open.remove(&fh.0);
        }
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let handle = self.list(ino).and_then(|listed| {
            let mut dirs = self.dirs.lock().map_err(|_| Errno::EIO)?;
            Ok(dirs.insert(listed))
        });
        match handle {
            Ok(handle) => reply.opened(FileHandle(handle), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let Ok(dirs) = self.dirs.lock() else {
            return reply.error(Errno::EIO);
        };
        let Some(listed) = dirs.open.get(&fh.0) else {
            return reply.error(Errno::EBADF);
        };
        for (index, entry) in listed.iter().enumerate().skip(offset as usize) {
            if reply.add(
                INodeNo(entry.ino),
                index as u64 + 1,
                entry.kind,
                &entry.name,
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        if let Ok(mut dirs) = self.dirs.lock() {
            dirs.open.remove(&fh.0);
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match rustix::fs::fstatfs(&self.root) {
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

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        self.xattr(ino, Some(name), size, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.xattr(ino, None, size, reply);
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
    }

    #[test]
    fn hard_links_share_a_node_and_paths_round_trip() {
        let mut nodes = Nodes {
            paths: vec![PathBuf::from(".")],
            by_inode: HashMap::new(),
        };
        let first = nodes.number_for(1, 42, "./a/bin/sh".into());
        let linked = nodes.number_for(1, 42, "./a/bin/ash".into());
        let other = nodes.number_for(1, 43, "./a/bin/ls".into());
        assert_eq!(first, 2);
        assert_eq!(first, linked);
        assert_eq!(other, 3);
        assert_eq!(nodes.path(INodeNo(1)), Some(PathBuf::from(".")));
        assert_eq!(nodes.path(INodeNo(2)), Some(PathBuf::from("./a/bin/sh")));
        assert_eq!(nodes.path(INodeNo(0)), None);
        assert_eq!(nodes.path(INodeNo(9)), None);
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
