//! Unpacking one layer tar into a layer directory, with overlayfs whiteouts.
//!
//! Contract: nothing outside `dest` is ever created, changed, chowned, chmodded or removed,
//! whatever the tar says. Every entry is placed through file descriptors: `dest` is opened once,
//! each parent directory is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! (so symlinks inside the layer resolve as if `dest` were `/`, like Docker's chroot
//! extraction), and the final component is created or changed with `*at` calls that never follow
//! a symlink. Names whose `..` parts climb above the root refuse the whole layer.
//!
//! The output is the layout kernel overlayfs honours when mounted with `userxattr`: `.wh.NAME`
//! becomes a 0:0 character device `NAME`, `.wh..wh..opq` becomes `user.overlay.opaque=y` on its
//! directory.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, ResolveFlags, Timespec, Timestamps, Uid,
    XattrFlags,
};
use rustix::io::Errno;

use super::paths::{normalize_entry_name, RelPath};
use super::Error;

/// How to unpack a layer.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Rootless: mknod of device nodes is not allowed, so char and block devices are skipped, as
    /// Podman does. As root they are created. (FIFOs need no privilege and are always created.)
    pub skip_devices: bool,
}

/// What unpacking a layer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Tar entries read, including whiteouts and skipped ones.
    pub entries: u64,
    /// Bytes of regular file content written.
    pub bytes: u64,
    /// Character and block devices left out because of `skip_devices`.
    pub skipped_devices: u64,
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// Other `.wh..wh.` names (AUFS's `.wh..wh.plnk`, `.wh..wh.aufs`) are bookkeeping of the tool
/// that made the layer and carry no meaning for overlayfs.
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";
const OPAQUE_XATTR: &str = "user.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
/// How often to retry `openat2` when the kernel reports a concurrent rename (EAGAIN).
const OPENAT2_ATTEMPTS: usize = 8;

/// Unpacks one uncompressed layer tar into `dest` (an existing, empty-or-partial directory) in the
/// form kernel overlayfs honours when mounted with the `userxattr` option. See the module
/// documentation for the guarantees.
pub fn apply_layer<R: Read>(
    tar_stream: R,
    dest: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyStats, Error> {
    let root = rfs::open(
        dest,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| Error::io(format!("opening layer directory {}", dest.display()), errno))?;
    let mut extractor = Extractor {
        root,
        opts,
        stats: ApplyStats::default(),
        directory_times: Vec::new(),
    };
    let mut archive = tar::Archive::new(tar_stream);
    let entries = archive
        .entries()
        .map_err(|error| Error::invalid(format!("reading layer tar: {error}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|error| Error::invalid(format!("reading layer tar: {error}")))?;
        extractor.apply_entry(&mut entry)?;
    }
    extractor.restore_directory_times()?;
    Ok(extractor.stats)
}

/// Metadata of one entry, gathered before its content is read.
struct EntryMeta {
    display: String,
    uid: u64,
    gid: u64,
    mode: u32,
    times: Timestamps,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// Copies a sparse entry's content (the tar crate reads its holes as zeros) seeking over each
/// block of zeros instead of writing it, so the holes stay holes: a 1 GiB entry holding a few
/// KiB of data takes a few KiB on disk, as GNU tar and containers/storage write it.
fn copy_leaving_holes<R: Read>(content: &mut R, file: &mut File) -> std::io::Result<u64> {
    const BLOCK: usize = 4096;
    let mut buffer = vec![0u8; 64 * BLOCK];
    let mut total = 0u64;
    loop {
        // A full buffer keeps every block aligned to the file's blocks.
        let mut filled = 0;
        while filled < buffer.len() {
            match content.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            break;
        }
        for block in buffer[..filled].chunks(BLOCK) {
            match block.iter().all(|b| *b == 0) {
                true => file.seek(SeekFrom::Current(block.len() as i64)).map(drop)?,
                false => file.write_all(block)?,
            }
        }
        total += filled as u64;
    }
    // A hole at the end has no write to give the file its length.
    file.set_len(total)?;
    Ok(total)
}

struct Extractor<'o> {
    root: OwnedFd,
    opts: &'o ApplyOptions,
    stats: ApplyStats,
    /// Directory mtimes are set last: creating entries inside a directory changes its mtime.
    directory_times: Vec<(RelPath, Timestamps)>,
}

impl Extractor<'_> {
    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Error> {
        self.stats.entries += 1;
        let raw_name = entry.path_bytes().into_owned();
        let name = normalize_entry_name(&raw_name)?;
        let Some(file_name) = name.file_name().map(OsStr::as_bytes) else {
            // The root's own metadata belongs to the layer directory, which the store owns.
            return Ok(());
        };
        let meta = read_meta(entry, &raw_name)?;

        if file_name == OPAQUE_MARKER {
            return self.mark_opaque(&name, &meta);
        }
        if file_name.starts_with(AUFS_META_PREFIX) {
            return Ok(());
        }
        if let Some(hidden) = file_name.strip_prefix(WHITEOUT_PREFIX) {
            return self.create_whiteout(&name.with_file_name(hidden), &meta);
        }

        let entry_type = entry.header().entry_type();
        match entry_type {
            tar::EntryType::Directory => self.create_directory(&name, &meta),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.create_file(&name, &meta, entry, false)
            }
            tar::EntryType::GNUSparse => self.create_file(&name, &meta, entry, true),
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| {
                        Error::invalid(format!("symlink {} has no target", meta.display))
                    })?
                    .into_owned();
                self.create_symlink(&name, &meta, &target)
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().ok_or_else(|| {
                    Error::invalid(format!("hard link {} has no target", meta.display))
                })?;
                let target = target.into_owned();
                self.create_hard_link(&name, &meta, &target)
            }
            tar::EntryType::Char | tar::EntryType::Block if self.opts.skip_devices => {
                self.stats.skipped_devices += 1;
                Ok(())
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let header = entry.header();
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let file_type = match entry_type {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                self.create_node(&name, &meta, file_type, rfs::makedev(major, minor))
            }
            // A global PAX header only carries defaults for later entries.
            tar::EntryType::XGlobalHeader => Ok(()),
            other => Err(Error::invalid(format!(
                "entry {} has unsupported type {:?}",
                meta.display, other
            ))),
        }
    }

    fn create_directory(&mut self, name: &RelPath, meta: &EntryMeta) -> Result<(), Error> {
        let parent = self.open_parent(name, true, &meta.display)?;
        let file_name = leaf(name);
        let exists_as_directory = remove_existing(&parent, file_name, true, &meta.display)?;
        if !exists_as_directory {
            // Created private; the real mode is set below, after chown.
            rfs::mkdirat(&parent, file_name, Mode::from_raw_mode(0o700)).map_err(|errno| {
                Error::io(format!("creating directory {}", meta.display), errno)
            })?;
        }
        let directory = rfs::openat(
            &parent,
            file_name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| Error::io(format!("opening directory {}", meta.display), errno))?;
        set_owner_mode_xattrs_fd(&directory, meta)?;
        self.directory_times
            .push((name.clone(), meta.times.clone()));
        Ok(())
    }

    fn create_file<R: Read>(
        &mut self,
        name: &RelPath,
        meta: &EntryMeta,
        content: &mut R,
        sparse: bool,
    ) -> Result<(), Error> {
        let parent = self.open_parent(name, true, &meta.display)?;
        let file_name = leaf(name);
        remove_existing(&parent, file_name, false, &meta.display)?;
        // O_EXCL with O_NOFOLLOW: the name was just cleared, so a symlink planted there (by an
        // earlier entry) can never redirect the write.
        let fd = rfs::openat(
            &parent,
            file_name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|errno| Error::io(format!("creating file {}", meta.display), errno))?;
        let mut file = File::from(fd);
        let written = match sparse {
            true => copy_leaving_holes(content, &mut file),
            false => std::io::copy(content, &mut file),
        }
        .map_err(|source| Error::io(format!("unpacking file {}", meta.display), source))?;
        self.stats.bytes += written;
        set_owner_mode_xattrs_fd(&file, meta)?;
        rfs::futimens(&file, &meta.times)
            .map_err(|errno| Error::io(format!("setting times on {}", meta.display), errno))?;
        Ok(())
    }

    fn create_symlink(
        &mut self,
        name: &RelPath,
        meta: &EntryMeta,
        target: &[u8],
    ) -> Result<(), Error> {
        let parent = self.open_parent(name, true, &meta.display)?;
        let file_name = leaf(name);
        remove_existing(&parent, file_name, false, &meta.display)?;
        // The target is stored verbatim: it is only ever resolved later, inside the container or
        // through RESOLVE_IN_ROOT here.
        rfs::symlinkat(OsStr::from_bytes(target), &parent, file_name)
            .map_err(|errno| Error::io(format!("creating symlink {}", meta.display), errno))?;
        self.set_metadata_nofollow(&parent, file_name, meta, false)
    }

    fn create_hard_link(
        &mut self,
        name: &RelPath,
        meta: &EntryMeta,
        raw_target: &[u8],
    ) -> Result<(), Error> {
        let target = normalize_entry_name(raw_target).map_err(|_| Error::PathEscapes {
            entry: format!(
                "{} (hard link to {})",
                meta.display,
                String::from_utf8_lossy(raw_target)
            ),
        })?;
        if target.is_root() {
            return Err(Error::invalid(format!(
                "hard link {} points at the root directory",
                meta.display
            )));
        }
        if target == *name {
            // A link to itself: the file is already there.
            return Ok(());
        }
        let target_parent = self.open_parent(&target, false, &meta.display)?;
        let parent = self.open_parent(name, true, &meta.display)?;
        let file_name = leaf(name);
        remove_existing(&parent, file_name, false, &meta.display)?;
        // No AT_SYMLINK_FOLLOW: a symlink target is linked as the symlink itself, never followed.
        rfs::linkat(
            &target_parent,
            leaf(&target),
            &parent,
            file_name,
            AtFlags::empty(),
        )
        .map_err(|errno| {
            Error::io(
                format!(
                    "linking {} to {}",
                    meta.display,
                    String::from_utf8_lossy(raw_target)
                ),
                errno,
            )
        })
    }

    fn create_node(
        &mut self,
        name: &RelPath,
        meta: &EntryMeta,
        file_type: FileType,
        device: rfs::Dev,
    ) -> Result<(), Error> {
        let parent = self.open_parent(name, true, &meta.display)?;
        let file_name = leaf(name);
        remove_existing(&parent, file_name, false, &meta.display)?;
        rfs::mknodat(&parent, file_name, file_type, Mode::empty(), device)
            .map_err(|errno| Error::io(format!("creating node {}", meta.display), errno))?;
        self.set_metadata_nofollow(&parent, file_name, meta, true)
    }

    fn create_whiteout(&mut self, hidden: &RelPath, meta: &EntryMeta) -> Result<(), Error> {
        // `.wh..` and `.wh...` would hide `.` or `..`: removing "what is at `..`" of the root
        // would reach the directory above `dest`.
        let hidden_name = hidden.file_name().map(OsStr::as_bytes);
        if matches!(hidden_name, None | Some(b"" | b"." | b"..")) {
            return Err(Error::PathEscapes {
                entry: meta.display.clone(),
            });
        }
        let parent = self.open_parent(hidden, true, &meta.display)?;
        let file_name = leaf(hidden);
        remove_existing(&parent, file_name, false, &meta.display)?;
        // The overlayfs whiteout: a character device 0:0. Creating this one device is allowed in
        // a user namespace (Linux 5.8+); ownership and mode mean nothing to overlayfs.
        rfs::mknodat(
            &parent,
            file_name,
            FileType::CharacterDevice,
            Mode::empty(),
            rfs::makedev(0, 0),
        )
        .map_err(|errno| Error::io(format!("creating whiteout {}", meta.display), errno))
    }

    fn mark_opaque(&mut self, marker: &RelPath, meta: &EntryMeta) -> Result<(), Error> {
        // Make sure the directory exists, then open it readable: fsetxattr refuses O_PATH fds.
        self.open_parent(marker, true, &meta.display)?;
        let directory = open_in_root(
            &self.root,
            &marker.parent_path(),
            OFlags::RDONLY | OFlags::DIRECTORY,
        )
        .map_err(|errno| Error::io(format!("opening directory of {}", meta.display), errno))?;
        rfs::fsetxattr(&directory, OPAQUE_XATTR, b"y", XattrFlags::empty()).map_err(|errno| {
            Error::io(
                format!("marking directory of {} opaque", meta.display),
                errno,
            )
        })
    }

    /// Owner, mode, xattrs and times for an entry that cannot be opened for writing (symlink,
    /// device, fifo), all by name relative to its parent without following the last component.
    fn set_metadata_nofollow(
        &self,
        parent: &OwnedFd,
        file_name: &OsStr,
        meta: &EntryMeta,
        set_mode: bool,
    ) -> Result<(), Error> {
        let (uid, gid) = owner_ids(meta)?;
        rfs::chownat(
            parent,
            file_name,
            Some(uid),
            Some(gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|errno| Error::Ownership {
            entry: meta.display.clone(),
            uid: meta.uid,
            gid: meta.gid,
            source: errno.into(),
        })?;
        if set_mode {
            // Only reached for the device or fifo just created under this name, which has no
            // symlink to follow; fchmodat has no working AT_SYMLINK_NOFOLLOW on Linux.
            rfs::chmodat(
                parent,
                file_name,
                Mode::from_raw_mode(meta.mode),
                AtFlags::empty(),
            )
            .map_err(|errno| Error::io(format!("setting mode on {}", meta.display), errno))?;
        }
        if !meta.xattrs.is_empty() {
            // No lsetxattrat before Linux 6.13: go through the parent's /proc/self/fd link, which
            // is already inside the root; lsetxattr does not follow the last component.
            let via_proc =
                PathBuf::from(format!("/proc/self/fd/{}", parent.as_raw_fd())).join(file_name);
            for (xattr, value) in &meta.xattrs {
                let result = rfs::lsetxattr(&via_proc, xattr.as_str(), value, XattrFlags::empty());
                check_xattr_result(result, xattr, meta)?;
            }
        }
        rfs::utimensat(parent, file_name, &meta.times, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|errno| Error::io(format!("setting times on {}", meta.display), errno))
    }

    /// Opens the directory that holds `name` as an O_PATH fd, resolved inside the root. With
    /// `create`, missing directories are made one component at a time, each relative to the fd
    /// of the one before, so a symlink can never steer creation out of the root.
    fn open_parent(&self, name: &RelPath, create: bool, display: &str) -> Result<OwnedFd, Error> {
        let parent_flags = OFlags::PATH | OFlags::DIRECTORY;
        let error = match open_in_root(&self.root, &name.parent_path(), parent_flags) {
            Ok(fd) => return Ok(fd),
            Err(error) => error,
        };
        if error != Errno::NOENT || !create {
            return Err(Error::io(format!("opening parent of {display}"), error));
        }
        let mut directory = open_in_root(&self.root, Path::new("."), parent_flags)
            .map_err(|errno| Error::io("opening layer root", errno))?;
        let components = name.parent_components();
        for depth in 0..components.len() {
            let prefix = RelPath::from_components(&components[..=depth]);
            match open_in_root(&self.root, &prefix.to_path(), parent_flags) {
                Ok(fd) => directory = fd,
                Err(Errno::NOENT) => {
                    let component = OsStr::from_bytes(&components[depth]);
                    directory =
                        create_implicit_directory(&directory, component).map_err(|errno| {
                            Error::io(
                                format!(
                                    "creating directory {} for {display}",
                                    prefix.to_path().display()
                                ),
                                errno,
                            )
                        })?;
                }
                Err(errno) => {
                    return Err(Error::io(format!("opening parent of {display}"), errno));
                }
            }
        }
        Ok(directory)
    }

    fn restore_directory_times(&self) -> Result<(), Error> {
        // Deepest last in tar order means children first when walked backwards.
        for (name, times) in self.directory_times.iter().rev() {
            let display = name.to_path().display().to_string();
            let parent = match open_in_root(
                &self.root,
                &name.parent_path(),
                OFlags::PATH | OFlags::DIRECTORY,
            ) {
                Ok(fd) => fd,
                // Removed or replaced by a later entry of the same layer.
                Err(Errno::NOENT | Errno::NOTDIR) => continue,
                Err(errno) => {
                    return Err(Error::io(format!("opening parent of {display}"), errno));
                }
            };
            match rfs::utimensat(&parent, leaf(name), times, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(errno) => {
                    return Err(Error::io(format!("setting times on {display}"), errno));
                }
            }
        }
        Ok(())
    }
}

/// Makes a directory the tar did not list (a parent of a listed entry), mode 0755 as Docker does,
/// and returns it as an O_PATH fd.
fn create_implicit_directory(parent: &OwnedFd, component: &OsStr) -> Result<OwnedFd, Errno> {
    rfs::mkdirat(parent, component, Mode::from_raw_mode(0o755))?;
    let directory = rfs::openat(
        parent,
        component,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // The umask may have narrowed the mode given to mkdirat.
    rfs::fchmod(&directory, Mode::from_raw_mode(0o755))?;
    Ok(directory)
}

/// `openat2` relative to the layer root, with every symlink resolved as if the root were `/`.
fn open_in_root(root: &OwnedFd, path: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    let mut attempts = 0;
    loop {
        let result = rfs::openat2(
            root,
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        );
        match result {
            // The kernel asks for a retry when a rename raced with the lookup.
            Err(Errno::AGAIN) if attempts < OPENAT2_ATTEMPTS => attempts += 1,
            other => return other,
        }
    }
}

/// Clears the way for a new entry called `file_name` in `parent`. An existing directory stays
/// when `keep_directory` is set (returning true); anything else there is removed.
fn remove_existing(
    parent: &OwnedFd,
    file_name: &OsStr,
    keep_directory: bool,
    display: &str,
) -> Result<bool, Error> {
    let existing = match rfs::statat(parent, file_name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => FileType::from_raw_mode(stat.st_mode),
        Err(Errno::NOENT) => return Ok(false),
        Err(errno) => return Err(Error::io(format!("inspecting {display}"), errno)),
    };
    if existing == FileType::Directory {
        if keep_directory {
            return Ok(true);
        }
        remove_tree(parent.as_fd(), file_name)
    } else {
        rfs::unlinkat(parent, file_name, AtFlags::empty())
    }
    .map_err(|errno| Error::io(format!("removing what was at {display}"), errno))?;
    Ok(false)
}

/// Removes a directory and everything below it, by fd, never following symlinks.
fn remove_tree(parent: BorrowedFd<'_>, name: &OsStr) -> Result<(), Errno> {
    let directory = rfs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut children = Vec::new();
    for child in rfs::Dir::read_from(&directory)? {
        let child = child?;
        let child_name = child.file_name().to_bytes();
        if child_name != b"." && child_name != b".." {
            children.push(child_name.to_vec());
        }
    }
    for child in children {
        let child = OsStr::from_bytes(&child);
        let stat = rfs::statat(&directory, child, AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            remove_tree(directory.as_fd(), child)?;
        } else {
            rfs::unlinkat(&directory, child, AtFlags::empty())?;
        }
    }
    rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)
}

/// Chown, then chmod (chown clears setuid and setgid), then xattrs (chown also clears
/// `security.capability`), on an fd opened without following symlinks.
fn set_owner_mode_xattrs_fd<Fd: AsFd>(fd: Fd, meta: &EntryMeta) -> Result<(), Error> {
    let (uid, gid) = owner_ids(meta)?;
    rfs::fchown(&fd, Some(uid), Some(gid)).map_err(|errno| Error::Ownership {
        entry: meta.display.clone(),
        uid: meta.uid,
        gid: meta.gid,
        source: errno.into(),
    })?;
    rfs::fchmod(&fd, Mode::from_raw_mode(meta.mode))
        .map_err(|errno| Error::io(format!("setting mode on {}", meta.display), errno))?;
    for (xattr, value) in &meta.xattrs {
        let result = rfs::fsetxattr(&fd, xattr.as_str(), value, XattrFlags::empty());
        check_xattr_result(result, xattr, meta)?;
    }
    Ok(())
}

/// `security.*` and `trusted.*` need privileges a rootless user lacks (and symlinks refuse
/// `user.*`); losing those quietly is what Podman does. Anything else is an error.
fn check_xattr_result(
    result: Result<(), Errno>,
    xattr: &str,
    meta: &EntryMeta,
) -> Result<(), Error> {
    match result {
        Ok(()) => Ok(()),
        Err(_) if xattr.starts_with("security.") || xattr.starts_with("trusted.") => Ok(()),
        Err(errno) => Err(Error::io(
            format!("setting xattr {xattr} on {}", meta.display),
            errno,
        )),
    }
}

fn owner_ids(meta: &EntryMeta) -> Result<(Uid, Gid), Error> {
    let uid = u32::try_from(meta.uid).map_err(|_| {
        Error::invalid(format!("uid {} of {} is too large", meta.uid, meta.display))
    })?;
    let gid = u32::try_from(meta.gid).map_err(|_| {
        Error::invalid(format!("gid {} of {} is too large", meta.gid, meta.display))
    })?;
    Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
}

fn leaf(name: &RelPath) -> &OsStr {
    // Callers have already handled the root, which has no last component.
    name.file_name().unwrap_or(OsStr::new("."))
}

/// Collects owner, mode, times and xattrs from the header and its PAX records.
fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, raw_name: &[u8]) -> Result<EntryMeta, Error> {
    let display = String::from_utf8_lossy(raw_name).into_owned();
    let header = entry.header();
    let bad_header = |field: &str, error: std::io::Error| {
        Error::invalid(format!("entry {display} has a bad {field}: {error}"))
    };
    // The tar crate already applies PAX uid/gid records to the header.
    let uid = header.uid().map_err(|error| bad_header("uid", error))?;
    let gid = header.gid().map_err(|error| bad_header("gid", error))?;
    let mode = header.mode().map_err(|error| bad_header("mode", error))? & 0o7777;
    let mut mtime = Timespec {
        tv_sec: i64::try_from(header.mtime().map_err(|error| bad_header("mtime", error))?)
            .unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    let mut xattrs = Vec::new();
    let extensions = entry
        .pax_extensions()
        .map_err(|error| bad_header("PAX header", error))?;
    for extension in extensions.into_iter().flatten() {
        let extension = extension.map_err(|error| bad_header("PAX record", error))?;
        let Ok(key) = extension.key() else { continue };
        if key == "mtime" {
            if let Some(precise) = extension.value().ok().and_then(parse_pax_time) {
                mtime = precise;
            }
        } else if let Some(xattr) = key.strip_prefix(PAX_XATTR_PREFIX) {
            // overlayfs's own xattrs would let a layer forge whiteouts, redirects or metacopy
            // files behind our back; a layer expresses those through `.wh.` names only.
            if !xattr.starts_with("user.overlay.") && !xattr.starts_with("trusted.overlay.") {
                xattrs.push((xattr.to_string(), extension.value_bytes().to_vec()));
            }
        }
    }
    Ok(EntryMeta {
        display,
        uid,
        gid,
        mode,
        times: Timestamps {
            last_access: mtime,
            last_modification: mtime,
        },
        xattrs,
    })
}

/// Parses a PAX time such as `1700000000.123456789` (or a negative one).
fn parse_pax_time(value: &str) -> Option<Timespec> {
    let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
    let tv_sec: i64 = seconds.parse().ok()?;
    let digits: String = fraction.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let tv_nsec = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(Timespec { tv_sec, tv_nsec })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Allowed in tests by house style (STYLE.md 8).
mod tests {
    use super::*;

    #[test]
    fn parses_pax_times() {
        let time = parse_pax_time("1700000000.5").unwrap();
        assert_eq!((time.tv_sec, time.tv_nsec), (1_700_000_000, 500_000_000));
        let time = parse_pax_time("42").unwrap();
        assert_eq!((time.tv_sec, time.tv_nsec), (42, 0));
        assert!(parse_pax_time("x.1").is_none());
    }
}
