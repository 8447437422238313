//! The changes in a plain copy of merged layers (a vfs container's root), found as Podman's
//! vfs driver finds them: by walking the copy beside the layers and comparing each entry with
//! the one the layers show there. Compared: the mode (type and permissions), the owner (through
//! the caller's translation of the layers' owners), the kept extended attributes, and for all
//! but directories the size, modification time, device number and symlink target. Contents are
//! never read: the copy keeps times to the nanosecond, so a changed file shows in its time or
//! size, and a write that restores both is as invisible here as to Podman. A directory's time
//! follows its entries, which are compared themselves, so a directory counts as changed for its
//! own attributes or for a change below it, as an overlay copies it up then.
//!
//! The list comes in name order, each directory before what it holds, in the form
//! `list_changes` gives for an upper directory; `write_changes` turns it into the layer tar
//! `write_layer` writes for one. Nothing here writes to either tree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::diff::{
    append_entry, append_opaque_marker, append_whiteout, is_opaque, is_whiteout, kept_xattrs,
    made_for_a_mount, sorted_children, Change, Links, MountPoints, Owners,
};

/// What the layers show at one path: the topmost layer's entry and, for a directory, the
/// layers' directories that make up what it holds, topmost first.
struct LowerEntry {
    path: PathBuf,
    meta: Metadata,
    stack: Vec<PathBuf>,
    /// Whether layers further down still add to the directory (no opaque one or non-directory
    /// met yet).
    open: bool,
}

struct Walk<'a> {
    root: &'a Path,
    /// The owner the copy gives a layer entry's owner.
    owners: &'a Owners<'a>,
    mount_points: MountPoints<'a>,
    /// Every name of each hard-linked file (by device and inode), and whether it is listed.
    links: HashMap<(u64, u64), Vec<(PathBuf, bool)>>,
    /// Names listed whatever their attributes say: other names of a listed file.
    forced: HashSet<PathBuf>,
}

/// The changes in `root`, a copy of the layers whose directories `lowers` are (topmost first,
/// in the on-disk form of `apply_layer`) with the owners `owners` gives their entries', leaving
/// out what was made only to mount on.
///
/// A hard link made to a file of the layers changes no attribute the comparison sees; so every
/// name of a listed hard-linked file is listed, as an overlay's copy-up lists them, and the
/// layer keeps them linked.
pub fn compare_tree(
    root: &Path,
    lowers: &[PathBuf],
    owners: &Owners<'_>,
    mount_points: MountPoints<'_>,
) -> io::Result<Vec<Change>> {
    let mut walk = Walk {
        root,
        owners,
        mount_points,
        links: HashMap::new(),
        forced: HashSet::new(),
    };
    let changes = walk.compare_root(lowers)?;
    let forced: HashSet<PathBuf> = walk
        .links
        .values()
        .filter(|names| names.iter().any(|(_, listed)| *listed))
        .flat_map(|names| names.iter().filter(|(_, listed)| !listed))
        .map(|(name, _)| name.clone())
        .collect();
    if forced.is_empty() {
        return Ok(changes);
    }
    // Rare (a link to a file of the layers, or a write to a linked file): walk again with them.
    walk.forced = forced;
    walk.links.clear();
    walk.compare_root(lowers)
}

impl Walk<'_> {
    fn compare_root(&mut self, lowers: &[PathBuf]) -> io::Result<Vec<Change>> {
        let mut changes = Vec::new();
        let lower = lower_children(lowers)?;
        let names = sorted_children(self.root)?;
        self.compare_children(Path::new(""), &lower, &names, &mut changes)?;
        Ok(changes)
    }

    fn compare_children(
        &mut self,
        relative: &Path,
        lower: &BTreeMap<OsString, LowerEntry>,
        names: &[OsString],
        out: &mut Vec<Change>,
    ) -> io::Result<()> {
        let all: BTreeSet<&OsString> = names.iter().chain(lower.keys()).collect();
        for name in all {
            let child = relative.join(name);
            match std::fs::symlink_metadata(self.root.join(&child)) {
                Ok(meta) => self.compare_entry(&child, &meta, lower.get(name), out)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => out.push(Change::Deleted(child)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn compare_entry(
        &mut self,
        relative: &Path,
        meta: &Metadata,
        below: Option<&LowerEntry>,
        out: &mut Vec<Change>,
    ) -> io::Result<()> {
        let Some(lower) = below else {
            return self.add_subtree(relative, meta, out);
        };
        let path = self.root.join(relative);
        let differs = self.forced.contains(relative) || self.differs(&path, meta, lower)?;
        if meta.is_dir() && lower.meta.is_dir() {
            let lower_children = lower_children(&lower.stack)?;
            let names = sorted_children(&path)?;
            // None of what the layers held is left and something new is there: the directory
            // was removed and made again, which an overlay records as an opaque directory.
            let replaced = !lower_children.is_empty()
                && !names.is_empty()
                && lower_children
                    .keys()
                    .all(|n| names.binary_search(n).is_err());
            if replaced {
                out.push(Change::Replaced(relative.to_path_buf()));
                for name in names {
                    let child = relative.join(name);
                    let child_meta = std::fs::symlink_metadata(self.root.join(&child))?;
                    self.add_subtree(&child, &child_meta, out)?;
                }
                return Ok(());
            }
            let mut inner = Vec::new();
            self.compare_children(relative, &lower_children, &names, &mut inner)?;
            if differs || !inner.is_empty() {
                out.push(Change::Changed(relative.to_path_buf()));
                out.append(&mut inner);
            }
            return Ok(());
        }
        self.note_link(relative, meta, differs);
        if differs {
            out.push(Change::Changed(relative.to_path_buf()));
            if meta.is_dir() {
                // A directory where the layers have something else: everything in it is new.
                for name in sorted_children(&path)? {
                    let child = relative.join(name);
                    let child_meta = std::fs::symlink_metadata(self.root.join(&child))?;
                    self.add_subtree(&child, &child_meta, out)?;
                }
            }
        }
        Ok(())
    }

    /// Lists `relative`, which the layers lack, and all it holds.
    fn add_subtree(
        &mut self,
        relative: &Path,
        meta: &Metadata,
        out: &mut Vec<Change>,
    ) -> io::Result<()> {
        if made_for_a_mount(self.root, relative, self.mount_points) {
            return Ok(());
        }
        self.note_link(relative, meta, true);
        out.push(Change::Added(relative.to_path_buf()));
        if meta.is_dir() {
            for name in sorted_children(&self.root.join(relative))? {
                let child = relative.join(name);
                let child_meta = std::fs::symlink_metadata(self.root.join(&child))?;
                self.add_subtree(&child, &child_meta, out)?;
            }
        }
        Ok(())
    }

    fn note_link(&mut self, relative: &Path, meta: &Metadata, listed: bool) {
        if meta.is_file() && meta.nlink() > 1 {
            self.links
                .entry((meta.dev(), meta.ino()))
                .or_default()
                .push((relative.to_path_buf(), listed));
        }
    }

    /// Whether the entry at `path` differs from the layers' `lower` in what the comparison sees.
    fn differs(&self, path: &Path, meta: &Metadata, lower: &LowerEntry) -> io::Result<bool> {
        let old = &lower.meta;
        if old.mode() != meta.mode()
            || (self.owners)(old.uid(), old.gid()) != (meta.uid(), meta.gid())
        {
            return Ok(true);
        }
        if !meta.is_dir()
            && (old.size() != meta.size()
                || old.mtime() != meta.mtime()
                || old.mtime_nsec() != meta.mtime_nsec()
                || old.rdev() != meta.rdev())
        {
            return Ok(true);
        }
        if meta.is_symlink() && std::fs::read_link(&lower.path)? != std::fs::read_link(path)? {
            return Ok(true);
        }
        Ok(compared_xattrs(&lower.path) != compared_xattrs(path))
    }
}

/// The attributes that make a change: those a layer keeps, but the SELinux label, which the
/// host's policy gives a copy whatever the layer's was.
fn compared_xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut kept = kept_xattrs(path);
    kept.retain(|(name, _)| name != "security.selinux");
    kept
}

/// What the layers' directories `stack` (topmost first) show together, by name: whiteouts
/// hide names below them, and an opaque directory or a non-directory ends what lower layers
/// add under a name.
fn lower_children(stack: &[PathBuf]) -> io::Result<BTreeMap<OsString, LowerEntry>> {
    let mut found: BTreeMap<OsString, Option<LowerEntry>> = BTreeMap::new();
    for dir in stack {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)?;
            match found.get_mut(&entry.file_name()) {
                None => {
                    let shown = (!is_whiteout(&meta)).then(|| LowerEntry {
                        open: meta.is_dir() && !is_opaque(&path),
                        stack: if meta.is_dir() {
                            vec![path.clone()]
                        } else {
                            Vec::new()
                        },
                        path,
                        meta,
                    });
                    found.insert(entry.file_name(), shown);
                }
                Some(Some(upper)) if upper.open => {
                    upper.open = meta.is_dir() && !is_opaque(&path);
                    if meta.is_dir() {
                        upper.stack.push(path);
                    }
                }
                Some(_) => {}
            }
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|(name, entry)| Some((name, entry?)))
        .collect())
}

/// Writes `changes` (of the tree at `root`, as `compare_tree` lists them) as an OCI layer tar:
/// entries for what was added or changed, `.wh.` files for what was deleted, an opaque marker
/// in a replaced directory. Owners are the ids this process sees, through `owners`.
pub fn write_changes(
    root: &Path,
    changes: &[Change],
    owners: &Owners<'_>,
    out: impl Write,
) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut links = Links::new();
    for change in changes {
        match change {
            Change::Deleted(relative) => append_whiteout(&mut builder, relative)?,
            Change::Added(relative) | Change::Changed(relative) | Change::Replaced(relative) => {
                let path = root.join(relative);
                let meta = std::fs::symlink_metadata(&path)?;
                append_entry(&mut builder, &path, relative, &meta, owners, &mut links)?;
                if matches!(change, Change::Replaced(_)) {
                    append_opaque_marker(&mut builder, relative)?;
                }
            }
        }
    }
    builder.into_inner()?.flush()
}

/// The bytes of what `changes` adds or changes in `root` (all but directories, a hard-linked
/// file once), as an upper directory holding them would measure; gone entries count as empty.
pub fn changes_size(root: &Path, changes: &[Change]) -> u64 {
    let mut seen = HashSet::new();
    changes
        .iter()
        .filter_map(|change| match change {
            Change::Added(relative) | Change::Changed(relative) => {
                std::fs::symlink_metadata(root.join(relative)).ok()
            }
            Change::Deleted(_) | Change::Replaced(_) => None,
        })
        .filter(|meta| !meta.is_dir())
        .filter(|meta| meta.nlink() < 2 || seen.insert((meta.dev(), meta.ino())))
        .map(|meta| meta.size())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn lines(changes: &[Change]) -> Vec<String> {
        changes.iter().map(Change::line).collect()
    }

    /// A layer and a copy of it as vfs makes one (times, modes and links kept).
    fn layer_and_copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (layer, copy) = (dir.path().join("layer"), dir.path().join("copy"));
        std::fs::create_dir_all(layer.join("etc/keep")).unwrap();
        std::fs::create_dir_all(layer.join("var/replaced")).unwrap();
        std::fs::create_dir_all(layer.join("var/emptied")).unwrap();
        for file in [
            "etc/passwd",
            "etc/group",
            "etc/gone",
            "etc/linked",
            "etc/keep/a",
            "var/replaced/old",
            "var/emptied/old",
        ] {
            std::fs::write(layer.join(file), file).unwrap();
        }
        std::os::unix::fs::symlink("passwd", layer.join("etc/link")).unwrap();
        crate::runtime::fstree::copy_tree(&layer, &copy, &|uid, gid| (uid, gid)).unwrap();
        (dir, layer, copy)
    }

    #[test]
    fn a_copy_compared_with_its_layers_lists_what_an_overlay_would() {
        let (_dir, layer, copy) = layer_and_copy();
        let same = |uid, gid| (uid, gid);
        let unchanged = compare_tree(&copy, std::slice::from_ref(&layer), &same, &[]).unwrap();
        assert!(unchanged.is_empty(), "{unchanged:?}");

        std::fs::write(copy.join("etc/passwd"), "changed").unwrap();
        std::fs::remove_file(copy.join("etc/gone")).unwrap();
        std::fs::set_permissions(copy.join("etc/group"), PermissionsExt::from_mode(0o600)).unwrap();
        std::fs::hard_link(copy.join("etc/linked"), copy.join("new-link")).unwrap();
        std::fs::remove_file(copy.join("etc/link")).unwrap();
        std::os::unix::fs::symlink("group", copy.join("etc/link")).unwrap();
        std::fs::remove_dir_all(copy.join("var/replaced")).unwrap();
        std::fs::create_dir(copy.join("var/replaced")).unwrap();
        std::fs::write(copy.join("var/replaced/new"), "new").unwrap();
        std::fs::remove_file(copy.join("var/emptied/old")).unwrap();
        std::fs::create_dir_all(copy.join("proc")).unwrap();
        let mounts = [PathBuf::from("proc")];
        let changes = compare_tree(&copy, std::slice::from_ref(&layer), &same, &mounts).unwrap();
        assert_eq!(
            lines(&changes),
            [
                "C /etc",
                "D /etc/gone",
                "C /etc/group",
                "C /etc/link",
                "C /etc/linked",
                "C /etc/passwd",
                "A /new-link",
                "C /var",
                "C /var/emptied",
                "D /var/emptied/old",
                "C /var/replaced",
                "A /var/replaced/new",
            ]
        );
        assert!(matches!(&changes[10], Change::Replaced(_)));
        // Owners as the copy's translation gives them: every file moved is a change.
        let moved = |uid: u32, gid| (uid + 1, gid);
        let all = compare_tree(&copy, std::slice::from_ref(&layer), &moved, &mounts).unwrap();
        assert!(lines(&all).contains(&"C /etc/keep/a".to_string()));

        let mut tar = Vec::new();
        write_changes(&copy, &changes, &|_, _| (7, 8), &mut tar).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let entries: Vec<(String, tar::EntryType)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let path = e.path().unwrap().display().to_string();
                assert!(
                    path.contains(".wh.") || e.header().uid().unwrap() == 7,
                    "{path}"
                );
                (path, e.header().entry_type())
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "etc",
                "etc/.wh.gone",
                "etc/group",
                "etc/link",
                "etc/linked",
                "etc/passwd",
                "new-link",
                "var",
                "var/emptied",
                "var/emptied/.wh.old",
                "var/replaced",
                "var/replaced/.wh..wh..opq",
                "var/replaced/new",
            ]
        );
        assert_eq!(entries[6].1, tar::EntryType::Link);
        assert_eq!(changes_size(&copy, &changes), 7 + 9 + 5 + 10 + 3);
    }
}
