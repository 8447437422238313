//! The union's inode table: every node the kernel holds a reference to, by number, with where
//! it is found (its parent and name, which give its path in every layer, and the layer that
//! holds it). Paths are rebuilt from the table in memory, so no request walks the disk to learn
//! where a node is; renames move one entry, not a subtree.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The upper directory's index among the layers; lower layers follow, topmost first.
pub(super) const UPPER: usize = 0;

/// The root node's number, as FUSE fixes it.
pub(super) const ROOT: u64 = 1;

/// Where a name was found in the layers.
pub(super) struct Found {
    /// The layer whose entry is seen.
    pub layer: usize,
    /// For a directory: the layers whose directories of that path are merged, topmost first
    /// (down to the first opaque one).
    pub dir_layers: Vec<usize>,
    pub stat: rustix::fs::Stat,
}

impl Found {
    pub fn is_dir(&self) -> bool {
        self.stat.st_mode & libc::S_IFMT == libc::S_IFDIR
    }
}

pub(super) struct Node {
    parent: u64,
    name: OsString,
    /// Further names of a hard-linked file of the upper directory.
    aliases: Vec<(u64, OsString)>,
    pub layer: usize,
    pub dir_layers: Vec<usize>,
    lookups: u64,
    /// The inode in the upper directory, for a file there: another name of it is this node.
    upper_inode: Option<u64>,
    /// The layer and inode of a hard-linked lower file: its other names are this node too, and
    /// a copy-up links them all (the kernel's overlay shows them as one inode as well).
    lower_inode: Option<(usize, u64)>,
    /// Every name is gone (an open file may still be read and written through its handle).
    pub unlinked: bool,
}

pub(super) struct Table {
    nodes: HashMap<u64, Node>,
    children: HashMap<(u64, OsString), u64>,
    upper_inodes: HashMap<u64, u64>,
    lower_inodes: HashMap<(usize, u64), u64>,
    next: u64,
}

impl Table {
    pub fn new(root: Found) -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                parent: ROOT,
                name: OsString::new(),
                aliases: Vec::new(),
                layer: root.layer,
                dir_layers: root.dir_layers,
                // The kernel never forgets the root.
                lookups: 1,
                upper_inode: None,
                lower_inode: None,
                unlinked: false,
            },
        );
        Table {
            nodes,
            children: HashMap::new(),
            upper_inodes: HashMap::new(),
            lower_inodes: HashMap::new(),
            next: ROOT + 1,
        }
    }

    pub fn get(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(&ino)
    }

    pub fn parent_of(&self, ino: u64) -> Option<u64> {
        self.nodes.get(&ino).map(|node| node.parent)
    }

    /// The node's path relative to every layer's root ("." for the root).
    pub fn path(&self, ino: u64) -> Option<PathBuf> {
        let mut names = Vec::new();
        let mut current = ino;
        while current != ROOT {
            let node = self.nodes.get(&current)?;
            if node.unlinked {
                return None;
            }
            names.push(node.name.as_os_str());
            current = node.parent;
        }
        if names.is_empty() {
            return Some(PathBuf::from("."));
        }
        Some(names.iter().rev().collect())
    }

    /// The node of `name` in `parent`, when the kernel knows it.
    pub fn child(&self, parent: u64, name: &OsStr) -> Option<u64> {
        self.children.get(&(parent, name.to_os_string())).copied()
    }

    /// Records one more kernel reference to `name` in `parent`, found as `found`; its number.
    pub fn enter(&mut self, parent: u64, name: &OsStr, found: Found) -> u64 {
        let key = (parent, name.to_os_string());
        let upper_inode = (found.layer == UPPER && !found.is_dir()).then_some(found.stat.st_ino);
        let lower_inode = (found.layer != UPPER && !found.is_dir() && found.stat.st_nlink > 1)
            .then_some((found.layer, found.stat.st_ino));
        let known = self
            .children
            .get(&key)
            .copied()
            .or_else(|| upper_inode.and_then(|inode| self.upper_inodes.get(&inode).copied()))
            .or_else(|| lower_inode.and_then(|inode| self.lower_inodes.get(&inode).copied()));
        if let Some(ino) = known {
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.lookups += 1;
                node.layer = found.layer;
                node.dir_layers = found.dir_layers;
                let named = (node.parent, node.name.as_os_str()) == (parent, name)
                    || node
                        .aliases
                        .iter()
                        .any(|(p, n)| (*p, n.as_os_str()) == (parent, name));
                if !named {
                    if node.unlinked {
                        node.parent = parent;
                        node.name = name.to_os_string();
                        node.unlinked = false;
                    } else {
                        node.aliases.push(key.clone());
                    }
                }
                self.children.insert(key, ino);
                return ino;
            }
        }
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(
            ino,
            Node {
                parent,
                name: name.to_os_string(),
                aliases: Vec::new(),
                layer: found.layer,
                dir_layers: found.dir_layers,
                lookups: 1,
                upper_inode,
                lower_inode,
                unlinked: false,
            },
        );
        if let Some(inode) = upper_inode {
            self.upper_inodes.insert(inode, ino);
        }
        if let Some(inode) = lower_inode {
            self.lower_inodes.insert(inode, ino);
        }
        self.children.insert(key, ino);
        ino
    }

    /// A node now lives in the upper directory (copied up, or made there).
    pub fn moved_up(&mut self, ino: u64, stat: &rustix::fs::Stat) {
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.layer = UPPER;
        if let Some(inode) = node.lower_inode.take() {
            self.lower_inodes.remove(&inode);
        }
        if stat.st_mode & libc::S_IFMT == libc::S_IFDIR {
            if node.dir_layers.first() != Some(&UPPER) {
                node.dir_layers.insert(0, UPPER);
            }
        } else {
            node.upper_inode = Some(stat.st_ino);
            self.upper_inodes.insert(stat.st_ino, ino);
        }
    }

    /// The kernel dropped `count` references to `ino`.
    pub fn forget(&mut self, ino: u64, count: u64) {
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.lookups = node.lookups.saturating_sub(count);
        if node.lookups > 0 || ino == ROOT {
            return;
        }
        if let Some(node) = self.nodes.remove(&ino) {
            for key in std::iter::once((node.parent, node.name)).chain(node.aliases) {
                if self.children.get(&key) == Some(&ino) {
                    self.children.remove(&key);
                }
            }
            if let Some(inode) = node.upper_inode {
                if self.upper_inodes.get(&inode) == Some(&ino) {
                    self.upper_inodes.remove(&inode);
                }
            }
            if let Some(inode) = node.lower_inode {
                if self.lower_inodes.get(&inode) == Some(&ino) {
                    self.lower_inodes.remove(&inode);
                }
            }
        }
    }

    /// The node's names besides the one its path is built from.
    pub fn aliases(&self, ino: u64) -> Vec<(u64, OsString)> {
        self.nodes
            .get(&ino)
            .map(|node| node.aliases.clone())
            .unwrap_or_default()
    }

    /// `name` in `parent` is gone: its node keeps its other names, if any.
    pub fn remove_name(&mut self, parent: u64, name: &OsStr) {
        let key = (parent, name.to_os_string());
        let Some(ino) = self.children.remove(&key) else {
            return;
        };
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        if (node.parent, node.name.as_os_str()) == (parent, name) {
            match node.aliases.pop() {
                Some((other_parent, other_name)) => {
                    node.parent = other_parent;
                    node.name = other_name;
                }
                None => {
                    node.unlinked = true;
                    if let Some(inode) = node.upper_inode.take() {
                        if self.upper_inodes.get(&inode) == Some(&ino) {
                            self.upper_inodes.remove(&inode);
                        }
                    }
                }
            }
        } else {
            node.aliases
                .retain(|(p, n)| (*p, n.as_os_str()) != (parent, name));
        }
    }

    /// `name` in `parent` is now `new_name` in `new_parent` (whatever was there is gone).
    pub fn rename(&mut self, parent: u64, name: &OsStr, new_parent: u64, new_name: &OsStr) {
        self.remove_name(new_parent, new_name);
        let Some(ino) = self.children.remove(&(parent, name.to_os_string())) else {
            return;
        };
        if let Some(node) = self.nodes.get_mut(&ino) {
            if (node.parent, node.name.as_os_str()) == (parent, name) {
                node.parent = new_parent;
                node.name = new_name.to_os_string();
            } else if let Some(alias) = node
                .aliases
                .iter_mut()
                .find(|(p, n)| (*p, n.as_os_str()) == (parent, name))
            {
                *alias = (new_parent, new_name.to_os_string());
            }
        }
        self.children
            .insert((new_parent, new_name.to_os_string()), ino);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(layer: usize, inode: u64, dir: bool) -> Found {
        // SAFETY: Stat is a plain C struct, for which all-zero bytes are a valid value.
        let mut stat: rustix::fs::Stat = unsafe { std::mem::zeroed() };
        stat.st_ino = inode;
        stat.st_mode = if dir { libc::S_IFDIR } else { libc::S_IFREG } | 0o644;
        Found {
            layer,
            dir_layers: if dir { vec![layer] } else { Vec::new() },
            stat,
        }
    }

    fn table() -> Table {
        Table::new(found(UPPER, 2, true))
    }

    #[test]
    fn paths_follow_renames_of_a_parent() {
        let mut table = table();
        let dir = table.enter(ROOT, OsStr::new("a"), found(1, 10, true));
        let file = table.enter(dir, OsStr::new("f"), found(1, 11, false));
        assert_eq!(table.path(file), Some(PathBuf::from("a/f")));
        table.rename(ROOT, OsStr::new("a"), ROOT, OsStr::new("b"));
        assert_eq!(table.path(file), Some(PathBuf::from("b/f")));
        assert_eq!(table.path(ROOT), Some(PathBuf::from(".")));
    }

    #[test]
    fn hard_links_of_the_upper_dir_are_one_node_until_every_name_goes() {
        let mut table = table();
        let first = table.enter(ROOT, OsStr::new("a"), found(UPPER, 7, false));
        let second = table.enter(ROOT, OsStr::new("b"), found(UPPER, 7, false));
        assert_eq!(first, second);
        table.remove_name(ROOT, OsStr::new("a"));
        assert_eq!(table.path(first), Some(PathBuf::from("b")));
        table.remove_name(ROOT, OsStr::new("b"));
        assert_eq!(table.path(first), None);
        // A lower file of the same inode number is another file.
        let lower = table.enter(ROOT, OsStr::new("c"), found(1, 7, false));
        assert_ne!(lower, first);
    }

    #[test]
    fn hard_links_of_a_lower_layer_are_one_node() {
        let mut table = table();
        let mut linked = |name: &str| {
            let mut f = found(2, 9, false);
            f.stat.st_nlink = 2;
            table.enter(ROOT, OsStr::new(name), f)
        };
        let (first, second) = (linked("a"), linked("b"));
        assert_eq!(first, second);
        assert_eq!(table.aliases(first), vec![(ROOT, OsString::from("b"))]);
    }

    #[test]
    fn forgotten_nodes_leave_the_table() {
        let mut table = table();
        let file = table.enter(ROOT, OsStr::new("a"), found(1, 3, false));
        assert_eq!(table.enter(ROOT, OsStr::new("a"), found(1, 3, false)), file);
        table.forget(file, 1);
        assert!(table.get(file).is_some());
        table.forget(file, 1);
        assert!(table.get(file).is_none());
        assert_eq!(table.child(ROOT, OsStr::new("a")), None);
        table.forget(ROOT, 5);
        assert!(table.get(ROOT).is_some());
    }
}
