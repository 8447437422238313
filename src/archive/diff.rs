//! The other direction of `apply`: an overlay upper directory (a container's changes, in the
//! form kernel overlayfs writes with `userxattr`) read back as an OCI layer tar, and as the
//! A/C/D list `diff` prints.
//!
//! A 0:0 character device is a deletion (`.wh.NAME`), a directory with `user.overlay.opaque=y`
//! hides everything below it in lower layers (`.wh..wh..opq`), and overlay's own attributes
//! are left out. Entries come in name order and hard links as links, so the same changes give
//! the same bytes, and so the same diff id.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const OPAQUE_XATTRS: [&str; 2] = ["user.overlay.opaque", "trusted.overlay.opaque"];

/// One change an upper directory records, or a comparison of trees finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A path (relative) the layers below did not have.
    Added(PathBuf),
    /// A path the layers below had, now different (or a directory with something changed in it).
    Changed(PathBuf),
    /// A path the layers below had, now gone.
    Deleted(PathBuf),
    /// A directory the layers below had, replaced by a new one: nothing they held under it
    /// shows (an opaque directory in the layer). Found only by comparing trees (vfs); an
    /// upper directory's opaque directories list as `Changed`.
    Replaced(PathBuf),
}

pub(super) fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Where `relative` is in a stack of unpacked layers (`layers`, topmost first, each holding its
/// files in `diff/` under `layers_dir`): in the topmost layer that has it. None when no layer
/// has it, or when a layer above deletes it (a whiteout) or hides it (an opaque directory on
/// the way), as the union would show it.
pub fn layer_entry(layers_dir: &Path, layers: &[String], relative: &Path) -> Option<PathBuf> {
    for layer in layers {
        let diff = layers_dir.join(layer).join("diff");
        let candidate = diff.join(relative);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if is_whiteout(&meta) => return None,
            Ok(_) => return Some(candidate),
            Err(_) => {
                let hidden = relative
                    .ancestors()
                    .skip(1)
                    .any(|dir| is_opaque(&diff.join(dir)));
                if hidden {
                    return None;
                }
            }
        }
    }
    None
}

/// Whether the directory at `path` is marked opaque: it hides what lower layers have in it.
pub fn is_opaque(path: &Path) -> bool {
    OPAQUE_XATTRS.iter().any(|name| {
        let mut value = [0u8; 4];
        matches!(rustix::fs::lgetxattr(path, *name, &mut value), Ok(1) if value[0] == b'y')
    })
}

/// Extended attributes to keep in the layer: all but overlay's bookkeeping.
pub(super) fn kept_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let Ok(length) = rustix::fs::llistxattr(path, &mut names[..]) else {
        return Vec::new();
    };
    names[..length]
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .filter_map(|name| std::str::from_utf8(name).ok())
        .filter(|name| !name.starts_with("user.overlay.") && !name.starts_with("trusted.overlay."))
        .filter_map(|name| {
            let mut value = vec![0u8; 65536];
            let length = rustix::fs::lgetxattr(path, name, &mut value[..]).ok()?;
            value.truncate(length);
            Some((name.to_string(), value))
        })
        .collect()
}

pub(super) fn sorted_children(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    Ok(names)
}

/// Where (relative paths) the container had things mounted: an upper directory may hold
/// entries made only to mount on, which are no change of the container's, left out of layers
/// and diffs.
pub type MountPoints<'a> = &'a [PathBuf];

/// Whether `relative` in `upper` is there only for mounts: an empty file or directory mounted
/// on, or a directory holding nothing but such entries on the way to one (`run/secrets` made
/// for `run/secrets/token`).
pub(super) fn made_for_a_mount(
    upper: &Path,
    relative: &Path,
    mount_points: MountPoints<'_>,
) -> bool {
    let mounted_on = mount_points.iter().any(|target| target == relative);
    let on_the_way = mount_points
        .iter()
        .any(|target| target != relative && target.starts_with(relative));
    if !mounted_on && !on_the_way {
        return false;
    }
    let path = upper.join(relative);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => mounted_on && meta.len() == 0,
        Ok(meta) if meta.is_dir() => sorted_children(&path).is_ok_and(|children| {
            children
                .iter()
                .all(|child| made_for_a_mount(upper, &relative.join(child), mount_points))
        }),
        _ => false,
    }
}

/// Writes the changes in `upper` as an OCI layer tar to `out`. Owners are the ids this process
/// sees, so it runs in the user namespace whose ids are the image's.
pub fn write_layer(upper: &Path, mount_points: MountPoints<'_>, out: impl Write) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut links = Links::new();
    for name in sorted_children(upper)? {
        append_change(
            &mut builder,
            upper,
            Path::new(&name),
            mount_points,
            &mut links,
        )?;
    }
    builder.into_inner()?.flush()
}

fn empty_file_header(name: &Path) -> io::Result<tar::Header> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(0);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_path(name)?;
    header.set_cksum();
    Ok(header)
}

fn append_change<W: Write>(
    builder: &mut tar::Builder<W>,
    upper: &Path,
    relative: &Path,
    mount_points: MountPoints<'_>,
    links: &mut Links,
) -> io::Result<()> {
    if made_for_a_mount(upper, relative, mount_points) {
        return Ok(());
    }
    let path = upper.join(relative);
    let meta = std::fs::symlink_metadata(&path)?;
    if is_whiteout(&meta) {
        return append_whiteout(builder, relative);
    }
    append_entry(
        builder,
        &path,
        relative,
        &meta,
        &|uid, gid| (uid, gid),
        links,
    )?;
    if meta.is_dir() {
        if is_opaque(&path) {
            append_opaque_marker(builder, relative)?;
        }
        for name in sorted_children(&path)? {
            append_change(builder, upper, &relative.join(name), mount_points, links)?;
        }
    }
    Ok(())
}

/// The first name written of each hard-linked file (by device and inode): later names become
/// links to it.
pub(super) type Links = HashMap<(u64, u64), PathBuf>;

/// Appends the deletion of `relative`: an empty `.wh.NAME` beside it.
pub(super) fn append_whiteout<W: Write>(
    builder: &mut tar::Builder<W>,
    relative: &Path,
) -> io::Result<()> {
    let mut marker = relative.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut name = OsString::from(".wh.");
    name.push(relative.file_name().unwrap_or_default());
    marker.push(name);
    builder.append(&empty_file_header(&marker)?, io::empty())
}

/// Appends the marker that hides everything lower layers have in the directory `relative`.
pub(super) fn append_opaque_marker<W: Write>(
    builder: &mut tar::Builder<W>,
    relative: &Path,
) -> io::Result<()> {
    let marker = relative.join(".wh..wh..opq");
    builder.append(&empty_file_header(&marker)?, io::empty())
}

/// How an owner (uid, gid) as this process sees it is written or compared.
pub type Owners<'a> = dyn Fn(u32, u32) -> (u32, u32) + 'a;

/// Appends the file, directory (itself, not what it holds), symlink or device at `path` as
/// `relative`, with its owner (through `owners`), mode, times and kept extended attributes; a
/// second name of a hard-linked file becomes a link to the first.
pub(super) fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &Path,
    relative: &Path,
    meta: &std::fs::Metadata,
    owners: &Owners<'_>,
    links: &mut Links,
) -> io::Result<()> {
    let kind = meta.file_type();
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    let (uid, gid) = owners(meta.uid(), meta.gid());
    header.set_uid(uid.into());
    header.set_gid(gid.into());
    let xattrs = kept_xattrs(path);
    if !xattrs.is_empty() {
        let records: Vec<(String, Vec<u8>)> = xattrs
            .into_iter()
            .map(|(name, value)| (format!("SCHILY.xattr.{name}"), value))
            .collect();
        builder.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    }
    if kind.is_file() && meta.nlink() > 1 {
        let key = (meta.dev(), meta.ino());
        if let Some(first) = links.get(&key) {
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            return builder.append_link(&mut header, relative, first);
        }
        links.insert(key, relative.to_path_buf());
    }
    if kind.is_symlink() {
        let target = std::fs::read_link(path)?;
        builder.append_link(&mut header, relative, target)
    } else if kind.is_file() {
        builder.append_data(&mut header, relative, std::fs::File::open(path)?)
    } else if kind.is_dir() || kind.is_fifo() || kind.is_char_device() || kind.is_block_device() {
        header.set_size(0);
        builder.append_data(&mut header, relative, io::empty())
    } else {
        // Sockets cannot be archived; like tar, leave them out.
        Ok(())
    }
}

/// The changes `upper` records, in name order; `below` says whether a path (relative) exists in
/// the layers under it.
pub fn list_changes(
    upper: &Path,
    below: &dyn Fn(&Path) -> bool,
    mount_points: MountPoints<'_>,
) -> io::Result<Vec<Change>> {
    let mut changes = Vec::new();
    for name in sorted_children(upper)? {
        collect_changes(upper, Path::new(&name), below, mount_points, &mut changes)?;
    }
    Ok(changes)
}

fn collect_changes(
    upper: &Path,
    relative: &Path,
    below: &dyn Fn(&Path) -> bool,
    mount_points: MountPoints<'_>,
    changes: &mut Vec<Change>,
) -> io::Result<()> {
    if made_for_a_mount(upper, relative, mount_points) {
        return Ok(());
    }
    let path = upper.join(relative);
    let meta = std::fs::symlink_metadata(&path)?;
    if is_whiteout(&meta) {
        changes.push(Change::Deleted(relative.to_path_buf()));
        return Ok(());
    }
    let existed = below(relative);
    changes.push(match existed {
        true => Change::Changed(relative.to_path_buf()),
        false => Change::Added(relative.to_path_buf()),
    });
    if meta.is_dir() {
        for name in sorted_children(&path)? {
            collect_changes(upper, &relative.join(name), below, mount_points, changes)?;
        }
    }
    Ok(())
}

impl Change {
    /// As `podman diff` prints it: `A /path`.
    pub fn line(&self) -> String {
        let (mark, path) = match self {
            Change::Added(path) => ('A', path),
            Change::Changed(path) | Change::Replaced(path) => ('C', path),
            Change::Deleted(path) => ('D', path),
        };
        format!(
            "{mark} /{}",
            String::from_utf8_lossy(path.as_os_str().as_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `work` in a user namespace of its own where this process is root, as rootless skiff
    /// reads upper directories, so whiteouts (0:0 devices) can be made.
    fn as_namespace_root(work: impl FnOnce() + Send + 'static) -> bool {
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        let mapping = crate::runtime::userns::IdMapping {
            uids: vec![crate::runtime::userns::IdRange {
                inside: 0,
                outside: uid.as_raw(),
                count: 1,
            }],
            gids: vec![crate::runtime::userns::IdRange {
                inside: 0,
                outside: gid.as_raw(),
                count: 1,
            }],
        };
        let result = crate::runtime::run_in_user_namespace(Some(&mapping), move || {
            work();
            Ok(())
        });
        result.is_ok()
    }

    fn mount_points() -> Vec<PathBuf> {
        ["proc", "etc/hosts", "etc/new", "run/secrets/token"]
            .into_iter()
            .map(PathBuf::from)
            .collect()
    }

    #[test]
    fn an_upper_directory_becomes_a_layer_with_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().to_path_buf();
        let out = dir.path().with_extension("tar");
        let (upper_in, out_in) = (upper.clone(), out.clone());
        let made = as_namespace_root(move || {
            std::fs::create_dir_all(upper_in.join("etc/opaque")).unwrap();
            std::fs::write(upper_in.join("etc/new"), b"new\n").unwrap();
            std::fs::hard_link(upper_in.join("etc/new"), upper_in.join("etc/again")).unwrap();
            std::os::unix::fs::symlink("new", upper_in.join("etc/link")).unwrap();
            rustix::fs::mknodat(
                rustix::fs::CWD,
                upper_in.join("etc/gone"),
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::from_raw_mode(0),
                0,
            )
            .unwrap();
            rustix::fs::lsetxattr(
                upper_in.join("etc/opaque"),
                "user.overlay.opaque",
                b"y",
                rustix::fs::XattrFlags::empty(),
            )
            .unwrap();
            std::fs::create_dir(upper_in.join("proc")).unwrap();
            std::fs::write(upper_in.join("etc/hosts"), b"").unwrap();
            // Made only to mount a secret on: neither is a change.
            std::fs::create_dir_all(upper_in.join("run/secrets")).unwrap();
            std::fs::write(upper_in.join("run/secrets/token"), b"").unwrap();
            let file = std::fs::File::create(&out_in).unwrap();
            write_layer(&upper_in, &mount_points(), file).unwrap();
        });
        assert!(
            made,
            "making the upper directory in a user namespace failed"
        );
        let bytes = std::fs::read(&out).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let entries: Vec<(String, tar::EntryType)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "etc",
                "etc/again",
                "etc/.wh.gone",
                "etc/link",
                "etc/new",
                "etc/opaque",
                "etc/opaque/.wh..wh..opq"
            ]
        );
        assert_eq!(entries[3].1, tar::EntryType::Symlink);
        assert_eq!(entries[4].1, tar::EntryType::Link);
        let below = |p: &Path| p == Path::new("etc") || p == Path::new("etc/gone");
        let lines: Vec<String> = list_changes(&upper, &below, &mount_points())
            .unwrap()
            .iter()
            .map(Change::line)
            .collect();
        assert_eq!(
            lines,
            [
                "C /etc",
                "A /etc/again",
                "D /etc/gone",
                "A /etc/link",
                "A /etc/new",
                "A /etc/opaque"
            ]
        );
    }
}
