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
//! Life cycle: that of every FUSE server of skiff's (`fuse_server`); the layer directory is
//! mounted over itself, and the server, in the container's user namespace, may read every
//! layer file.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fuser::{
    Errno, FileAttr, FileHandle, FileType, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr, Request,
};
use rustix::fs::{AtFlags, Mode, OFlags};

use super::error::Error;
use super::fuse_server::{
    attr_of, errno_of, mount_served, read_into_reply, reply_statfs,
    start_server as start_server_with, Handles, ServerShape,
};
use super::userns::IdTranslation;

/// How long the kernel may trust what the server told it: layers in use never change.
const CACHE_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// Forks the server for a container (or a job on a container's files), over `layers_dir`,
/// reporting each owner it sees (in the user namespace the container sends it) as `owners`
/// gives it. Returns the container's end of the socket, for [`mount_shifted_layers`].
/// Must be called while skiff is single-threaded (see `fuse_server::start_server`).
pub(crate) fn start_server(layers_dir: &Path, owners: IdTranslation) -> Result<OwnedFd, Error> {
    let shape = ServerShape {
        name: c"skiff-layers",
        // Two readers keep one slow read from holding up every lookup behind it.
        threads: 2,
    };
    start_server_with(shape, || {
        ShiftedLayers::open(layers_dir, owners).map_err(std::io::Error::from)
    })
}

/// In the container's process, after its id maps are written and `/` is private: mounts the
/// server's file system over `layers_dir` and hands the server its device and user namespace.
pub(crate) fn mount_shifted_layers(
    layers_dir: &Path,
    server: BorrowedFd<'_>,
) -> Result<(), String> {
    mount_served(
        layers_dir,
        "skiff-layers",
        true,
        server,
        "the image's layers with the container's ids",
    )
}

/// One entry of an open directory, as readdir reports it.
struct Listed {
    name: OsString,
    ino: u64,
    kind: FileType,
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
        let uid = self.owners.uid(stat.st_uid).unwrap_or(stat.st_uid);
        let gid = self.owners.gid(stat.st_gid).unwrap_or(stat.st_gid);
        attr_of(ino, stat, uid, gid)
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
        read_into_reply(&file, offset, size, reply);
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
        reply_statfs(self.root.as_fd(), reply);
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
}
