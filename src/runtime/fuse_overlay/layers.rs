//! The directories under the union, read and written in the kernel overlay's on-disk form
//! (`userxattr`): a whiteout is a 0:0 character device, an opaque directory carries
//! `user.overlay.opaque=y`, and a copy-up brings a file's data, mode, owners, times and
//! attributes (not the overlay's own) to the upper directory, through a work directory on its
//! file system so that no half-copied file is ever seen.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fuser::{Errno, FileType};
use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps};

use super::nodes::{Found, UPPER};
use crate::runtime::fuse_server::{errno_of, kind_of};
use crate::runtime::userns::IdTranslation;

/// Marks a directory that hides what lower layers hold at its path.
pub(super) const OPAQUE: &str = "user.overlay.opaque";
/// The overlay's own attributes, which the container never sees nor sets.
const PRIVATE_PREFIX: &[u8] = b"user.overlay.";

pub(super) fn is_private_attribute(name: &[u8]) -> bool {
    name.starts_with(PRIVATE_PREFIX)
}

/// One entry of a merged directory.
pub(super) struct Listed {
    pub name: OsString,
    pub kind: FileType,
}

struct Layer {
    fd: OwnedFd,
    path: PathBuf,
}

pub(super) struct Layers {
    /// The upper directory first, then the lower layers, topmost first.
    all: Vec<Layer>,
    /// Where copies are made before they are renamed into place (the kernel overlay's
    /// `work/work`, which it empties at each mount). None for a read-only view of a container
    /// that has no work directory yet (seeding its volumes): nothing is copied up then.
    work: Option<OwnedFd>,
    /// For keep-id: the owner to report (and copy up) for each owner a lower layer has.
    owners: Option<IdTranslation>,
    counter: AtomicU64,
}

fn open_dir(path: &Path) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn is_whiteout(stat: &rustix::fs::Stat) -> bool {
    stat.st_mode & libc::S_IFMT == libc::S_IFCHR && stat.st_rdev == 0
}

fn is_dir(stat: &rustix::fs::Stat) -> bool {
    stat.st_mode & libc::S_IFMT == libc::S_IFDIR
}

fn timestamps(stat: &rustix::fs::Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: stat.st_atime,
            tv_nsec: stat.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: stat.st_mtime,
            tv_nsec: stat.st_mtime_nsec as _,
        },
    }
}

impl Layers {
    pub fn open(
        upper: &Path,
        work: &Path,
        lower: &[PathBuf],
        owners: Option<IdTranslation>,
    ) -> std::io::Result<Self> {
        let mut all = vec![Layer {
            fd: open_dir(upper)?,
            path: upper.to_path_buf(),
        }];
        for path in lower {
            all.push(Layer {
                fd: open_dir(path)?,
                path: path.clone(),
            });
        }
        let work = work.join("work");
        let work = match std::fs::create_dir(&work) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => None,
            _ => open_dir(&work).ok(),
        };
        Ok(Layers {
            all,
            work,
            owners,
            counter: AtomicU64::new(0),
        })
    }

    /// Every layer's index, the upper directory's first.
    pub fn indexes(&self) -> Vec<usize> {
        (0..self.all.len()).collect()
    }

    pub fn upper(&self) -> std::os::fd::BorrowedFd<'_> {
        self.all[UPPER].fd.as_fd()
    }

    pub fn fd(&self, layer: usize) -> std::os::fd::BorrowedFd<'_> {
        self.all[layer].fd.as_fd()
    }

    /// The absolute path of `path` in `layer`, for the calls that take no directory descriptor.
    pub fn absolute(&self, layer: usize, path: &Path) -> PathBuf {
        self.all[layer].path.join(path)
    }

    pub fn stat(&self, layer: usize, path: &Path) -> Result<rustix::fs::Stat, Errno> {
        rustix::fs::statat(&self.all[layer].fd, path, AtFlags::SYMLINK_NOFOLLOW).map_err(errno_of)
    }

    /// The owners the container sees for a file of `layer` with `stat`.
    pub fn owners_of(&self, layer: usize, stat: &rustix::fs::Stat) -> (u32, u32) {
        match &self.owners {
            Some(owners) if layer != UPPER => (
                owners.uid(stat.st_uid).unwrap_or(stat.st_uid),
                owners.gid(stat.st_gid).unwrap_or(stat.st_gid),
            ),
            _ => (stat.st_uid, stat.st_gid),
        }
    }

    fn is_opaque(&self, layer: usize, path: &Path) -> bool {
        let mut value = [0u8; 2];
        matches!(
            rustix::fs::lgetxattr(self.absolute(layer, path), OPAQUE, &mut value[..]),
            Ok(1) if value[0] == b'y'
        )
    }

    /// Finds `path` as the kernel's overlay does, searching `candidates` (the layers whose
    /// directories are merged at its parent) from the top: a whiteout ends the search, a file
    /// hides everything below it, directories merge down to the first opaque one.
    pub fn resolve(&self, path: &Path, candidates: &[usize]) -> Result<Found, Errno> {
        let mut found: Option<Found> = None;
        for &layer in candidates {
            let stat = match self.stat(layer, path) {
                Ok(stat) => stat,
                Err(e) if e == Errno::ENOENT || e == Errno::ENOTDIR => continue,
                Err(e) => return Err(e),
            };
            if is_whiteout(&stat) {
                break;
            }
            match &mut found {
                None if is_dir(&stat) => {
                    let opaque = self.is_opaque(layer, path);
                    found = Some(Found {
                        layer,
                        dir_layers: vec![layer],
                        stat,
                    });
                    if opaque {
                        break;
                    }
                }
                None => {
                    found = Some(Found {
                        layer,
                        dir_layers: Vec::new(),
                        stat,
                    });
                    break;
                }
                Some(dir) if is_dir(&stat) => {
                    dir.dir_layers.push(layer);
                    if self.is_opaque(layer, path) {
                        break;
                    }
                }
                // A file below a directory is hidden by it, and so is all beneath.
                Some(_) => break,
            }
        }
        found.ok_or(Errno::ENOENT)
    }

    /// Whether a lower layer of `parent_layers` holds something at `path` that removing the
    /// upper entry would reveal: then a whiteout must cover it.
    pub fn lower_has(&self, path: &Path, parent_layers: &[usize]) -> bool {
        let lower: Vec<usize> = parent_layers
            .iter()
            .copied()
            .filter(|l| *l != UPPER)
            .collect();
        !lower.is_empty() && self.resolve(path, &lower).is_ok()
    }

    /// Whether the upper directory has a whiteout at `path`.
    pub fn upper_whiteout(&self, path: &Path) -> bool {
        self.stat(UPPER, path).is_ok_and(|s| is_whiteout(&s))
    }

    pub fn make_whiteout(&self, path: &Path) -> Result<(), Errno> {
        rustix::fs::mknodat(
            self.upper(),
            path,
            rustix::fs::FileType::CharacterDevice,
            Mode::empty(),
            0,
        )
        .map_err(errno_of)
    }

    pub fn make_opaque(&self, path: &Path) -> Result<(), Errno> {
        rustix::fs::lsetxattr(
            self.absolute(UPPER, path),
            OPAQUE,
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .map_err(errno_of)
    }

    /// The merged entries of the directory at `path` whose layers are `dir_layers`.
    pub fn list(&self, path: &Path, dir_layers: &[usize]) -> Result<Vec<Listed>, Errno> {
        let mut seen: HashSet<OsString> = HashSet::new();
        let mut listed = Vec::new();
        for &layer in dir_layers {
            let entries = match std::fs::read_dir(self.absolute(layer, path)) {
                Ok(entries) => entries,
                Err(e) if layer != dir_layers[0] => {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        continue;
                    }
                    return Err(Errno::from(e));
                }
                Err(e) => return Err(Errno::from(e)),
            };
            for entry in entries {
                let entry = entry.map_err(Errno::from)?;
                let name = entry.file_name();
                if !seen.insert(name.clone()) {
                    continue;
                }
                let kind = entry.file_type().map_err(Errno::from)?;
                let mut kind = FileType::from_std(kind).unwrap_or(FileType::RegularFile);
                if kind == FileType::CharDevice {
                    let stat = self.stat(layer, &path.join(&name))?;
                    if is_whiteout(&stat) {
                        continue;
                    }
                    kind = kind_of(stat.st_mode);
                }
                listed.push(Listed { name, kind });
            }
        }
        Ok(listed)
    }

    /// Removes the whiteouts left in an upper directory that is otherwise empty, so that it
    /// can be removed or replaced.
    pub fn clear_whiteouts(&self, path: &Path) -> Result<(), Errno> {
        let entries = match std::fs::read_dir(self.absolute(UPPER, path)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Errno::from(e)),
        };
        for entry in entries {
            let entry = entry.map_err(Errno::from)?;
            rustix::fs::unlinkat(self.upper(), path.join(entry.file_name()), AtFlags::empty())
                .map_err(errno_of)?;
        }
        Ok(())
    }

    fn temporary_name(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("skiff-copy-{}-{n}", std::process::id())
    }

    /// Copies the object at `path` of `layer` (its parent must already be in the upper
    /// directory) up; returns its new status.
    pub fn copy_up(&self, layer: usize, path: &Path) -> Result<rustix::fs::Stat, Errno> {
        let stat = self.stat(layer, path)?;
        let (uid, gid) = self.owners_of(layer, &stat);
        let mode = Mode::from_raw_mode(stat.st_mode & 0o7777);
        let uid = Some(rustix::fs::Uid::from_raw(uid));
        let gid = Some(rustix::fs::Gid::from_raw(gid));
        let from = self.absolute(layer, path);
        if is_dir(&stat) {
            // A directory is made in place: until its attributes are set it only looks newer.
            rustix::fs::mkdirat(self.upper(), path, Mode::from_raw_mode(0o700))
                .map_err(errno_of)?;
            rustix::fs::chownat(self.upper(), path, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(errno_of)?;
            rustix::fs::chmodat(self.upper(), path, mode, AtFlags::empty()).map_err(errno_of)?;
            copy_attributes(&from, &self.absolute(UPPER, path));
            rustix::fs::utimensat(
                self.upper(),
                path,
                &timestamps(&stat),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(errno_of)?;
            return self.stat(UPPER, path);
        }
        let work = self.work.as_ref().ok_or(Errno::EROFS)?;
        let temporary = self.temporary_name();
        let made = match stat.st_mode & libc::S_IFMT {
            libc::S_IFREG => self.copy_data(layer, path, work, &temporary, mode),
            libc::S_IFLNK => rustix::fs::readlinkat(self.fd(layer), path, Vec::new())
                .and_then(|target| rustix::fs::symlinkat(target.as_c_str(), work, &temporary))
                .map_err(errno_of),
            _ => rustix::fs::mknodat(
                work,
                &temporary,
                rustix::fs::FileType::from_raw_mode(stat.st_mode),
                mode,
                stat.st_rdev,
            )
            .map_err(errno_of),
        };
        let placed = made.and_then(|()| {
            rustix::fs::chownat(work, &temporary, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(errno_of)?;
            if stat.st_mode & libc::S_IFMT != libc::S_IFLNK {
                // chown drops set-user-id and set-group-id bits.
                rustix::fs::chmodat(work, &temporary, mode, AtFlags::empty()).map_err(errno_of)?;
            }
            let work_path = absolute_in(work, &temporary);
            copy_attributes(&from, &work_path);
            rustix::fs::utimensat(
                work,
                &temporary,
                &timestamps(&stat),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(errno_of)?;
            rustix::fs::renameat(work, &temporary, self.upper(), path).map_err(errno_of)
        });
        if let Err(e) = placed {
            let _ = rustix::fs::unlinkat(work, &temporary, AtFlags::empty());
            return Err(e);
        }
        self.stat(UPPER, path)
    }

    fn copy_data(
        &self,
        layer: usize,
        path: &Path,
        work: &OwnedFd,
        temporary: &str,
        mode: Mode,
    ) -> Result<(), Errno> {
        let source = rustix::fs::openat(
            self.fd(layer),
            path,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_of)?;
        let target = rustix::fs::openat(
            work,
            temporary,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
            mode,
        )
        .map_err(errno_of)?;
        let mut source = std::fs::File::from(source);
        let mut target = std::fs::File::from(target);
        // std's copy uses copy_file_range, which shares extents where the file system can.
        std::io::copy(&mut source, &mut target).map_err(Errno::from)?;
        Ok(())
    }
}

/// `name` in the directory `dir`, as a path for the calls that take no directory descriptor.
fn absolute_in(dir: &OwnedFd, name: &str) -> PathBuf {
    PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(dir)
    ))
    .join(name)
}

/// Copies the extended attributes of `from` to `to`, leaving out the overlay's own; an
/// attribute the file system or the namespace refuses is left behind, as the kernel's copy-up
/// does for the ones it may not set.
fn copy_attributes(from: &Path, to: &Path) {
    let mut names = vec![0u8; 4096];
    let Ok(length) = rustix::fs::llistxattr(from, &mut names[..]) else {
        return;
    };
    for name in names[..length].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if is_private_attribute(name) {
            continue;
        }
        let name = OsStr::from_bytes(name);
        let mut value = vec![0u8; 65536];
        if let Ok(size) = rustix::fs::lgetxattr(from, name, &mut value[..]) {
            let _ =
                rustix::fs::lsetxattr(to, name, &value[..size], rustix::fs::XattrFlags::empty());
        }
    }
}
