//! The `fuser::Filesystem` side of the union: each kernel request answered through `Union`.

use super::*;

fn reply_xattr(result: Result<Vec<u8>, Errno>, size: u32, reply: ReplyXattr) {
    match result {
        Ok(data) if size == 0 => reply.size(data.len() as u32),
        Ok(data) => reply.data(&data),
        Err(e) => reply.error(e),
    }
}

fn reply_entry(result: Result<FileAttr, Errno>, reply: ReplyEntry) {
    match result {
        Ok(attr) => reply.entry(&CACHE_FOR, &attr, Generation(0)),
        Err(e) => reply.error(e),
    }
}

fn reply_empty(result: Result<(), Errno>, reply: ReplyEmpty) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl fuser::Filesystem for Union {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Optional speed-ups, each on its own: a kernel without one serves as well.
        for capability in [
            InitFlags::FUSE_CACHE_SYMLINKS,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
            InitFlags::FUSE_MAX_PAGES,
            // The kernel gathers small writes in its page cache and sends them in large ones
            // (what makes fuse-overlayfs fast at untarring too).
            InitFlags::FUSE_WRITEBACK_CACHE,
        ] {
            let _ = config.add_capabilities(capability);
        }
        let _ = config.set_max_write(MAX_WRITE);
        let _ = config.set_max_readahead(MAX_WRITE);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_entry(parent.0, name) {
            Ok(attr) => reply.entry(&CACHE_FOR, &attr, Generation(0)),
            Err(Errno::ENOENT) => reply.entry(&CACHE_FOR, &negative_entry(), Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if let Ok(mut table) = self.table.lock() {
            table.forget(ino.0, nlookup);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let result = match fh.map(|fh| self.file(fh)) {
            // Through the open file: it may have no name left.
            Some(Ok(open)) => rustix::fs::fstat(&open.file)
                .map(|stat| self.attr(ino.0, open.layer, &stat))
                .map_err(errno_of),
            _ => self.place(ino.0).and_then(|place| {
                let stat = self.layers.stat(place.layer, &place.path)?;
                Ok(self.attr(ino.0, place.layer, &stat))
            }),
        };
        match result {
            Ok(attr) => reply.attr(&CACHE_FOR, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.set_attributes(ino.0, mode, uid, gid, size, atime, mtime, fh) {
            Ok(attr) => reply.attr(&CACHE_FOR, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let target = self.place(ino.0).and_then(|place| {
            rustix::fs::readlinkat(self.layers.fd(place.layer), &place.path, Vec::new())
                .map_err(errno_of)
        });
        match target {
            Ok(target) => reply.data(target.as_bytes()),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let made = self.make_entry(req, parent.0, name, |path| {
            rustix::fs::mknodat(
                self.layers.upper(),
                path,
                rustix::fs::FileType::from_raw_mode(mode),
                Mode::from_raw_mode(mode & 0o7777),
                device_number_of(rdev),
            )
        });
        reply_entry(made, reply);
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let made = self.make_entry(req, parent.0, name, |path| {
            rustix::fs::mkdirat(
                self.layers.upper(),
                path,
                Mode::from_raw_mode(mode & 0o7777),
            )
        });
        reply_entry(made, reply);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(self.remove(parent.0, name, false), reply);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply_empty(self.remove(parent.0, name, true), reply);
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let made = self.make_entry(req, parent.0, link_name, |path| {
            rustix::fs::symlinkat(target, self.layers.upper(), path)
        });
        reply_entry(made, reply);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply_empty(
            self.rename_entry(parent.0, name, newparent.0, newname, flags),
            reply,
        );
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply_entry(self.link_entry(ino.0, newparent.0, newname), reply);
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.open_file(ino.0, flags) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
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
        match self.file(fh) {
            Ok(open) => read_into_reply(&open.file, offset, size, reply),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let written = self
            .file(fh)
            .and_then(|open| open.file.write_all_at(data, offset).map_err(Errno::from));
        match written {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: fuser::LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
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

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let synced = self.file(fh).and_then(|open| {
            if datasync {
                open.file.sync_data()
            } else {
                open.file.sync_all()
            }
            .map_err(Errno::from)
        });
        reply_empty(synced, reply);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let listed = self.place(ino.0).and_then(|place| {
            let listed = self.layers.list(&place.path, &place.dir_layers)?;
            Ok(lock(&self.dirs)?.insert(Arc::new(listed)))
        });
        match listed {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_KEEP_CACHE),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let listed = match self.listing(fh) {
            Ok(listed) => listed,
            Err(e) => return reply.error(e),
        };
        let dots = [
            (OsStr::new("."), FileType::Directory),
            (OsStr::new(".."), FileType::Directory),
        ];
        let entries = dots
            .into_iter()
            .chain(listed.iter().map(|e| (e.name.as_os_str(), e.kind)));
        for (index, (name, kind)) in entries.enumerate().skip(offset as usize) {
            // The entry's own inode number is only known once looked up; any other is a hint.
            let entry_ino = match index {
                0 => ino.0,
                _ => self
                    .table
                    .lock()
                    .ok()
                    .and_then(|t| t.child(ino.0, name))
                    .unwrap_or(u64::MAX),
            };
            if reply.add(INodeNo(entry_ino), index as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let listed = match self.listing(fh) {
            Ok(listed) => listed,
            Err(e) => return reply.error(e),
        };
        for index in offset as usize..listed.len() + 2 {
            let (name, attr) = match index {
                // The kernel takes no reference for the dots.
                0 | 1 => {
                    let name = if index == 0 { "." } else { ".." };
                    let Ok(place) = self.place(ino.0) else { break };
                    let Ok(stat) = self.layers.stat(place.layer, &place.path) else {
                        break;
                    };
                    (OsStr::new(name), self.attr(ino.0, place.layer, &stat))
                }
                _ => {
                    let name = listed[index - 2].name.as_os_str();
                    match self.lookup_entry(ino.0, name) {
                        Ok(attr) => (name, attr),
                        Err(_) => continue,
                    }
                }
            };
            if reply.add(
                attr.ino,
                index as u64 + 1,
                name,
                &CACHE_FOR,
                &attr,
                Generation(0),
            ) {
                // Not sent: the kernel takes no reference for it.
                if index >= 2 {
                    self.forget(req, attr.ino, 1);
                }
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

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply_statfs(self.layers.upper().as_fd(), reply);
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply_empty(self.change_xattr(ino.0, name, Some((value, flags))), reply);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        if is_private_attribute(name.as_bytes()) {
            return reply.error(Errno::ENODATA);
        }
        reply_xattr(self.xattr(ino.0, Some(name), size), size, reply);
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        reply_xattr(self.xattr(ino.0, None, size), size, reply);
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        if is_private_attribute(name.as_bytes()) {
            return reply.error(Errno::ENODATA);
        }
        reply_empty(self.change_xattr(ino.0, name, None), reply);
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.create_file(req, parent.0, name, mode, flags) {
            Ok((attr, fh)) => reply.created(
                &CACHE_FOR,
                &attr,
                Generation(0),
                FileHandle(fh),
                FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let done = self.file(fh).and_then(|open| {
            rustix::fs::fallocate(
                &open.file,
                rustix::fs::FallocateFlags::from_bits_retain(mode as u32),
                offset,
                length,
            )
            .map_err(errno_of)
        });
        reply_empty(done, reply);
    }
}
