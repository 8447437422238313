//! The union's answers to the kernel: each FUSE request in terms of the layers (`layers`) and
//! the inode table (`nodes`).

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    ReplyXattr, Request, TimeOrNow, WriteFlags,
};
use rustix::fs::{AtFlags, Gid, Mode, OFlags, Uid};

use super::layers::{is_private_attribute, Layers, Listed};
use super::nodes::{Found, Table, ROOT, UPPER};
use crate::runtime::fuse_server::{
    attr_of, device_number_of, errno_of, read_into_reply, reply_statfs, Handles,
};
use crate::runtime::userns::IdTranslation;

mod requests;

/// How long the kernel may trust names and attributes: every change goes through this server.
const CACHE_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// Largest write the kernel sends in one request.
const MAX_WRITE: u32 = 1 << 20;

struct OpenFile {
    file: File,
    layer: usize,
}

pub(super) struct Union {
    layers: Layers,
    table: Mutex<Table>,
    /// Held by every change to the union's names (and by copy-up), one at a time.
    changes: Mutex<()>,
    files: Mutex<Handles<Arc<OpenFile>>>,
    dirs: Mutex<Handles<Arc<Vec<Listed>>>>,
}

/// Where a node is: its path in every layer, the layer holding it, a directory's merged layers.
struct Place {
    path: PathBuf,
    layer: usize,
    dir_layers: Vec<usize>,
}

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>, Errno> {
    mutex.lock().map_err(|_| Errno::EIO)
}

fn time_or_now(time: Option<TimeOrNow>) -> rustix::fs::Timespec {
    match time {
        None => rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(time)) => {
            let (tv_sec, tv_nsec) = match time.duration_since(UNIX_EPOCH) {
                Ok(after) => (after.as_secs() as i64, after.subsec_nanos() as _),
                Err(before) => {
                    let before = before.duration();
                    (-(before.as_secs() as i64), 0)
                }
            };
            rustix::fs::Timespec { tv_sec, tv_nsec }
        }
    }
}

/// The flags a file is opened with under the kernel's write-back cache: readable too (the
/// kernel reads around a partial page it writes), without O_APPEND (the kernel places appended
/// data itself) nor O_DIRECT.
fn cached_open_flags(flags: i32) -> u32 {
    let mut flags = flags & !(libc::O_APPEND | libc::O_DIRECT);
    if flags & libc::O_ACCMODE == libc::O_WRONLY {
        flags = (flags & !libc::O_ACCMODE) | libc::O_RDWR;
    }
    flags as u32
}

/// A reply that caches the absence of a name (node 0), which only this server can change.
fn negative_entry() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

impl Union {
    pub fn open(
        upper: &Path,
        work: &Path,
        lower: &[PathBuf],
        owners: Option<IdTranslation>,
    ) -> std::io::Result<Self> {
        let layers = Layers::open(upper, work, lower, owners)?;
        let root = layers
            .resolve(Path::new("."), &layers.indexes())
            .map_err(|e| std::io::Error::from_raw_os_error(e.code()))?;
        Ok(Union {
            layers,
            table: Mutex::new(Table::new(root)),
            changes: Mutex::new(()),
            files: Mutex::new(Handles::new()),
            dirs: Mutex::new(Handles::new()),
        })
    }

    fn place(&self, ino: u64) -> Result<Place, Errno> {
        let table = lock(&self.table)?;
        let node = table.get(ino).ok_or(Errno::ENOENT)?;
        Ok(Place {
            path: table.path(ino).ok_or(Errno::ENOENT)?,
            layer: node.layer,
            dir_layers: node.dir_layers.clone(),
        })
    }

    fn attr(&self, ino: u64, layer: usize, stat: &rustix::fs::Stat) -> FileAttr {
        let (uid, gid) = self.layers.owners_of(layer, stat);
        attr_of(ino, stat, uid, gid)
    }

    fn lookup_entry(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let place = self.place(parent)?;
        let found = self
            .layers
            .resolve(&place.path.join(name), &place.dir_layers)?;
        let (layer, stat) = (found.layer, found.stat);
        let ino = lock(&self.table)?.enter(parent, name, found);
        Ok(self.attr(ino, layer, &stat))
    }

    /// Brings `ino` (and its parents first) into the upper directory. The caller holds
    /// `changes`.
    fn copy_up(&self, ino: u64) -> Result<(), Errno> {
        let place = self.place(ino)?;
        if place.layer == UPPER {
            return Ok(());
        }
        if ino != ROOT {
            let parent = lock(&self.table)?.parent_of(ino).ok_or(Errno::ENOENT)?;
            self.copy_up(parent)?;
        }
        let stat = self.layers.copy_up(place.layer, &place.path)?;
        let aliases = {
            let mut table = lock(&self.table)?;
            table.moved_up(ino, &stat);
            table.aliases(ino)
        };
        // The file's other names (a hard-linked lower file) stay one file with it.
        for (parent, name) in aliases {
            self.copy_up(parent)?;
            let alias = self.place(parent)?.path.join(&name);
            rustix::fs::linkat(
                self.layers.upper(),
                &place.path,
                self.layers.upper(),
                &alias,
                AtFlags::empty(),
            )
            .map_err(errno_of)?;
        }
        Ok(())
    }

    /// Readies `name` in `parent` for a new entry: the parent in the upper directory, a
    /// whiteout there removed (reported: a directory made there must be opaque). The caller
    /// holds `changes`.
    fn prepare_name(&self, parent: u64, name: &OsStr) -> Result<(PathBuf, bool), Errno> {
        self.copy_up(parent)?;
        let path = self.place(parent)?.path.join(name);
        let over_whiteout = self.layers.upper_whiteout(&path);
        if over_whiteout {
            rustix::fs::unlinkat(self.layers.upper(), &path, AtFlags::empty()).map_err(errno_of)?;
        }
        Ok((path, over_whiteout))
    }

    /// Gives a new entry of the upper directory to the caller (the parent's group when it is
    /// set-group-id, as the kernel does for local files).
    fn give_to_caller(&self, req: &Request, path: &Path, dir: bool) -> Result<(), Errno> {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        let parent = self.layers.stat(UPPER, parent.unwrap_or(Path::new(".")))?;
        let inherit = parent.st_mode & libc::S_ISGID != 0;
        let gid = if inherit { parent.st_gid } else { req.gid() };
        rustix::fs::chownat(
            self.layers.upper(),
            path,
            Some(Uid::from_raw(req.uid())),
            Some(Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(errno_of)?;
        if inherit && dir {
            let stat = self.layers.stat(UPPER, path)?;
            let mode = Mode::from_raw_mode((stat.st_mode & 0o7777) | libc::S_ISGID);
            rustix::fs::chmodat(self.layers.upper(), path, mode, AtFlags::empty())
                .map_err(errno_of)?;
        }
        Ok(())
    }

    /// Enters a new entry of the upper directory in the table; its attributes.
    fn made(&self, parent: u64, name: &OsStr, path: &Path) -> Result<FileAttr, Errno> {
        let stat = self.layers.stat(UPPER, path)?;
        let dir = stat.st_mode & libc::S_IFMT == libc::S_IFDIR;
        let found = Found {
            layer: UPPER,
            dir_layers: if dir { vec![UPPER] } else { Vec::new() },
            stat,
        };
        let ino = lock(&self.table)?.enter(parent, name, found);
        Ok(self.attr(ino, UPPER, &stat))
    }

    fn make_entry(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        make: impl FnOnce(&Path) -> rustix::io::Result<()>,
    ) -> Result<FileAttr, Errno> {
        let _changes = lock(&self.changes)?;
        let (path, over_whiteout) = self.prepare_name(parent, name)?;
        make(&path).map_err(errno_of)?;
        let dir = self
            .layers
            .stat(UPPER, &path)
            .is_ok_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR);
        self.give_to_caller(req, &path, dir)?;
        if dir && over_whiteout {
            self.layers.make_opaque(&path)?;
        }
        self.made(parent, name, &path)
    }

    fn remove(&self, parent: u64, name: &OsStr, dir: bool) -> Result<(), Errno> {
        let _changes = lock(&self.changes)?;
        let place = self.place(parent)?;
        let path = place.path.join(name);
        let found = self.layers.resolve(&path, &place.dir_layers)?;
        if dir {
            if !found.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            if !self.layers.list(&path, &found.dir_layers)?.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        } else if found.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.copy_up(parent)?;
        let parent_layers = self.place(parent)?.dir_layers;
        let reveals = self.layers.lower_has(&path, &parent_layers);
        if found.layer == UPPER {
            let flags = if dir {
                self.layers.clear_whiteouts(&path)?;
                AtFlags::REMOVEDIR
            } else {
                AtFlags::empty()
            };
            rustix::fs::unlinkat(self.layers.upper(), &path, flags).map_err(errno_of)?;
        }
        if reveals {
            self.layers.make_whiteout(&path)?;
        }
        lock(&self.table)?.remove_name(parent, name);
        Ok(())
    }

    fn rename_entry(
        &self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        let _changes = lock(&self.changes)?;
        let from = self.place(parent)?;
        let from_path = from.path.join(name);
        let source = self.layers.resolve(&from_path, &from.dir_layers)?;
        if source.is_dir() && source.dir_layers.iter().any(|l| *l != UPPER) {
            return Err(Errno::EXDEV);
        }
        let to = self.place(new_parent)?;
        let to_path = to.path.join(new_name);
        if from_path == to_path {
            return Ok(());
        }
        let target = self.layers.resolve(&to_path, &to.dir_layers).ok();
        if let Some(target) = &target {
            if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                return Err(Errno::EEXIST);
            }
            match (source.is_dir(), target.is_dir()) {
                (false, true) => return Err(Errno::EISDIR),
                (true, false) => return Err(Errno::ENOTDIR),
                (true, true) if !self.layers.list(&to_path, &target.dir_layers)?.is_empty() => {
                    return Err(Errno::ENOTEMPTY)
                }
                _ => {}
            }
        }
        self.copy_up(parent)?;
        if source.layer != UPPER {
            let stat = self.layers.copy_up(source.layer, &from_path)?;
            let mut table = lock(&self.table)?;
            if let Some(ino) = table.child(parent, name) {
                table.moved_up(ino, &stat);
            }
        }
        self.copy_up(new_parent)?;
        let from_layers = self.place(parent)?.dir_layers;
        let reveals = self.layers.lower_has(&from_path, &from_layers);
        let over_whiteout = self.layers.upper_whiteout(&to_path);
        if over_whiteout {
            rustix::fs::unlinkat(self.layers.upper(), &to_path, AtFlags::empty())
                .map_err(errno_of)?;
        }
        let hides_lower = over_whiteout
            || target
                .as_ref()
                .is_some_and(|t| t.layer != UPPER || t.dir_layers.len() > 1);
        if let Some(target) = &target {
            if target.is_dir() && target.layer == UPPER {
                self.layers.clear_whiteouts(&to_path)?;
            }
        }
        rustix::fs::renameat(
            self.layers.upper(),
            &from_path,
            self.layers.upper(),
            &to_path,
        )
        .map_err(errno_of)?;
        if source.is_dir() && hides_lower {
            self.layers.make_opaque(&to_path)?;
        }
        if reveals {
            self.layers.make_whiteout(&from_path)?;
        }
        lock(&self.table)?.rename(parent, name, new_parent, new_name);
        Ok(())
    }

    fn link_entry(&self, ino: u64, new_parent: u64, new_name: &OsStr) -> Result<FileAttr, Errno> {
        let _changes = lock(&self.changes)?;
        self.copy_up(ino)?;
        let (to_path, _) = self.prepare_name(new_parent, new_name)?;
        let from_path = self.place(ino)?.path;
        rustix::fs::linkat(
            self.layers.upper(),
            &from_path,
            self.layers.upper(),
            &to_path,
            AtFlags::empty(),
        )
        .map_err(errno_of)?;
        self.made(new_parent, new_name, &to_path)
    }

    #[allow(clippy::too_many_arguments)]
    fn set_attributes(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<FileHandle>,
    ) -> Result<FileAttr, Errno> {
        let _changes = lock(&self.changes)?;
        self.copy_up(ino)?;
        let path = self.place(ino)?.path;
        let upper = self.layers.upper();
        if uid.is_some() || gid.is_some() {
            rustix::fs::chownat(
                upper,
                &path,
                uid.map(Uid::from_raw),
                gid.map(Gid::from_raw),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(errno_of)?;
        }
        if let Some(mode) = mode {
            let stat = self.layers.stat(UPPER, &path)?;
            if stat.st_mode & libc::S_IFMT != libc::S_IFLNK {
                rustix::fs::chmodat(
                    upper,
                    &path,
                    Mode::from_raw_mode(mode & 0o7777),
                    AtFlags::empty(),
                )
                .map_err(errno_of)?;
            }
        }
        if let Some(size) = size {
            let open = fh.and_then(|fh| self.file(fh).ok());
            match open {
                Some(open) if open.layer == UPPER => {
                    open.file.set_len(size).map_err(Errno::from)?
                }
                _ => {
                    let fd = rustix::fs::openat(
                        upper,
                        &path,
                        OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(errno_of)?;
                    rustix::fs::ftruncate(&fd, size).map_err(errno_of)?;
                }
            }
        }
        if atime.is_some() || mtime.is_some() {
            let times = rustix::fs::Timestamps {
                last_access: time_or_now(atime),
                last_modification: time_or_now(mtime),
            };
            rustix::fs::utimensat(upper, &path, &times, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(errno_of)?;
        }
        let stat = self.layers.stat(UPPER, &path)?;
        Ok(self.attr(ino, UPPER, &stat))
    }

    fn file(&self, fh: FileHandle) -> Result<Arc<OpenFile>, Errno> {
        lock(&self.files)?
            .open
            .get(&fh.0)
            .cloned()
            .ok_or(Errno::EBADF)
    }

    fn keep_file(&self, fd: OwnedFd, layer: usize) -> Result<u64, Errno> {
        let open = OpenFile {
            file: File::from(fd),
            layer,
        };
        Ok(lock(&self.files)?.insert(Arc::new(open)))
    }

    fn open_file(&self, ino: u64, flags: OpenFlags) -> Result<u64, Errno> {
        let writes =
            !matches!(flags.acc_mode(), OpenAccMode::O_RDONLY) || flags.0 & libc::O_TRUNC != 0;
        if writes {
            let _changes = lock(&self.changes)?;
            self.copy_up(ino)?;
        }
        let place = self.place(ino)?;
        let flags = OFlags::from_bits_retain(cached_open_flags(
            flags.0 & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY),
        )) | OFlags::CLOEXEC
            | OFlags::NOFOLLOW;
        let fd = rustix::fs::openat(
            self.layers.fd(place.layer),
            &place.path,
            flags,
            Mode::empty(),
        )
        .map_err(errno_of)?;
        self.keep_file(fd, place.layer)
    }

    fn create_file(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64), Errno> {
        let mut opened = None;
        let attr = self.make_entry(req, parent, name, |path| {
            let flags = OFlags::from_bits_retain(cached_open_flags(flags))
                | OFlags::CREATE
                | OFlags::EXCL
                | OFlags::CLOEXEC;
            let fd = rustix::fs::openat(
                self.layers.upper(),
                path,
                flags,
                Mode::from_raw_mode(mode & 0o7777),
            )?;
            opened = Some(fd);
            Ok(())
        })?;
        let fd = opened.ok_or(Errno::EIO)?;
        Ok((attr, self.keep_file(fd, UPPER)?))
    }

    fn listing(&self, fh: FileHandle) -> Result<Arc<Vec<Listed>>, Errno> {
        lock(&self.dirs)?
            .open
            .get(&fh.0)
            .cloned()
            .ok_or(Errno::EBADF)
    }

    fn xattr(&self, ino: u64, name: Option<&OsStr>, size: u32) -> Result<Vec<u8>, Errno> {
        let place = self.place(ino)?;
        let path = self.layers.absolute(place.layer, &place.path);
        let mut buffer = vec![0u8; 65536];
        let length = match name {
            Some(name) => rustix::fs::lgetxattr(&path, name, &mut buffer[..]),
            None => rustix::fs::llistxattr(&path, &mut buffer[..]),
        }
        .map_err(errno_of)?;
        buffer.truncate(length);
        if name.is_none() {
            let mut shown = Vec::with_capacity(buffer.len());
            for entry in buffer.split(|b| *b == 0).filter(|n| !n.is_empty()) {
                if !is_private_attribute(entry) {
                    shown.extend_from_slice(entry);
                    shown.push(0);
                }
            }
            buffer = shown;
        }
        if size != 0 && buffer.len() > size as usize {
            return Err(Errno::ERANGE);
        }
        Ok(buffer)
    }

    fn change_xattr(
        &self,
        ino: u64,
        name: &OsStr,
        value: Option<(&[u8], i32)>,
    ) -> Result<(), Errno> {
        if is_private_attribute(name.as_bytes()) {
            return Err(Errno::EPERM);
        }
        let _changes = lock(&self.changes)?;
        self.copy_up(ino)?;
        let path = self.layers.absolute(UPPER, &self.place(ino)?.path);
        match value {
            Some((value, flags)) => rustix::fs::lsetxattr(
                &path,
                name,
                value,
                rustix::fs::XattrFlags::from_bits_retain(flags as u32),
            ),
            None => rustix::fs::lremovexattr(&path, name),
        }
        .map_err(errno_of)
    }
}
