//! Copying a directory tree as it is: owners (through a translation), modes, times, extended
//! attributes, whiteouts and hard links. It runs in the user namespace whose ids the files have,
//! for seeding volumes from an image and for an image's layers under another id mapping.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The (uid, gid) a copy gets for a source's (uid, gid).
pub type Owners<'a> = dyn Fn(u32, u32) -> (u32, u32) + Sync + 'a;

/// Copies the tree `from` to `to` (which must not exist) with owners translated, keeping modes,
/// times, extended attributes (overlay's opaque markers among them), whiteouts and hard links.
pub fn copy_tree(from: &Path, to: &Path, owners: &Owners<'_>) -> std::io::Result<()> {
    let mut directories = vec![(from.to_path_buf(), to.to_path_buf())];
    let mut files = Vec::new();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut first_link: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut others = Vec::new();
    let mut index = 0;
    std::fs::create_dir_all(to)?;
    while index < directories.len() {
        let (source_dir, target_dir) = directories[index].clone();
        index += 1;
        for entry in std::fs::read_dir(&source_dir)? {
            let entry = entry?;
            let source = entry.path();
            let target = target_dir.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&source)?;
            let kind = meta.file_type();
            if kind.is_dir() {
                // Writable until its contents are in; its own mode comes last.
                std::fs::create_dir(&target)?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700))?;
                directories.push((source, target));
            } else if kind.is_file() && meta.nlink() > 1 {
                match first_link.get(&(meta.dev(), meta.ino())) {
                    Some(first) => links.push((first.clone(), target)),
                    None => {
                        first_link.insert((meta.dev(), meta.ino()), target.clone());
                        files.push((source, target));
                    }
                }
            } else if kind.is_file() {
                files.push((source, target));
            } else {
                others.push((source, target, meta));
            }
        }
    }
    for (source, target, meta) in &others {
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(source)?, target)?;
        } else {
            // Whiteouts (character devices 0:0) and fifos.
            let kind = rustix::fs::FileType::from_raw_mode(meta.mode());
            rustix::fs::mknodat(
                rustix::fs::CWD,
                target,
                kind,
                rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
                meta.rdev(),
            )?;
        }
        finish_entry(source, target, meta, owners)?;
    }
    copy_files(&files, owners)?;
    for (first, target) in &links {
        std::fs::hard_link(first, target)?;
    }
    // Deepest first, so that no later change inside a directory moves its times again.
    for (source, target) in directories.iter().rev() {
        let meta = std::fs::symlink_metadata(source)?;
        finish_entry(source, target, &meta, owners)?;
    }
    Ok(())
}

/// Copies regular files' contents on a few threads (most of the work is the kernel's).
fn copy_files(files: &[(PathBuf, PathBuf)], owners: &Owners<'_>) -> std::io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> std::io::Result<()> {
                    for (source, target) in part {
                        copy_file(source, target)?;
                        let meta = std::fs::symlink_metadata(source)?;
                        finish_entry(source, target, &meta, owners)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("copy thread failed")))
        })
    })
}

/// Copies a regular file's contents. A sparse file (fewer blocks than its length needs) is
/// copied region by region, so its holes stay holes: a layer's 1 GiB sparse file would take
/// 1 GiB in each vfs container otherwise. Owner, mode and times are `finish_entry`'s.
pub(crate) fn copy_file(source: &Path, target: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(source)?;
    if meta.blocks() * 512 >= meta.len() {
        return std::fs::copy(source, target).map(drop);
    }
    let input = std::fs::File::open(source)?;
    let output = std::fs::File::create(target)?;
    let mut offset = 0;
    while offset < meta.len() {
        // ENXIO: no data after `offset`, the rest is a hole.
        let data = match rustix::fs::seek(&input, rustix::fs::SeekFrom::Data(offset)) {
            Ok(data) => data,
            Err(rustix::io::Errno::NXIO) => break,
            Err(errno) => return Err(errno.into()),
        };
        let hole = rustix::fs::seek(&input, rustix::fs::SeekFrom::Hole(data))?;
        let (mut from, mut to) = (data, data);
        while from < hole {
            let length = usize::try_from(hole - from).unwrap_or(usize::MAX);
            let copied = rustix::fs::copy_file_range(
                &input,
                Some(&mut from),
                &output,
                Some(&mut to),
                length,
            )?;
            if copied == 0 {
                break;
            }
        }
        offset = hole;
    }
    output.set_len(meta.len())
}

/// Owner, extended attributes, mode and times of a copied entry.
pub(crate) fn finish_entry(
    source: &Path,
    target: &Path,
    meta: &std::fs::Metadata,
    owners: &Owners<'_>,
) -> std::io::Result<()> {
    let (uid, gid) = owners(meta.uid(), meta.gid());
    std::os::unix::fs::lchown(target, Some(uid), Some(gid))?;
    copy_xattrs(source, target)?;
    let symlink = meta.file_type().is_symlink();
    if !symlink {
        // After the owner: chown clears set-id bits.
        std::fs::set_permissions(
            target,
            std::fs::Permissions::from_mode(meta.mode() & 0o7777),
        )?;
    }
    let time = |seconds: i64, nanos: i64| rustix::fs::Timespec {
        tv_sec: seconds,
        tv_nsec: nanos as _,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        target,
        &rustix::fs::Timestamps {
            last_access: time(meta.atime(), meta.atime_nsec()),
            last_modification: time(meta.mtime(), meta.mtime_nsec()),
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// The user.* attributes (overlay's markers live there in a user namespace) must follow; the
/// others are copied where the namespace allows.
fn copy_xattrs(source: &Path, target: &Path) -> std::io::Result<()> {
    let mut names = vec![0u8; 4096];
    let length = match rustix::fs::llistxattr(source, &mut names[..]) {
        Ok(length) => length,
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for name in names[..length].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut value = vec![0u8; 65536];
        let size = rustix::fs::lgetxattr(source, name.as_str(), &mut value[..])?;
        let set = rustix::fs::lsetxattr(
            target,
            name.as_str(),
            &value[..size],
            rustix::fs::XattrFlags::empty(),
        );
        if let Err(e) = set {
            if name.starts_with("user.") {
                return Err(e.into());
            }
        }
    }
    Ok(())
}
