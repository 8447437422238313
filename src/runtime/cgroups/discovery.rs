//! Which cgroups this caller may write: the v2 subtree, the v1 hierarchies, from
//! /proc/self/mountinfo and /proc/self/cgroup.

use std::path::{Path, PathBuf};

use nix::unistd::AccessFlags;

use super::Controller;

/// The cgroups a caller may make containers' cgroups in.
#[derive(Debug, Default)]
pub struct Hierarchies {
    pub v2: Option<V2Subtree>,
    /// Mounted v1 hierarchies, writable by the caller or not.
    pub v1: Vec<V1Hierarchy>,
    /// A cgroup v2 hierarchy is mounted, writable or not.
    v2_mounted: bool,
}

/// The part of the cgroup v2 hierarchy the caller may write.
#[derive(Debug)]
pub struct V2Subtree {
    /// Where the hierarchy is mounted.
    pub mount: PathBuf,
    /// The highest cgroup at or above the caller's own that it may write (root: the
    /// hierarchy's root): containers' cgroups go below it.
    pub top: PathBuf,
    /// The caller's own cgroup (`--cgroups split` puts containers below it).
    pub own: PathBuf,
    /// The controllers `top` can give the cgroups below it.
    pub controllers: Vec<String>,
}

/// One v1 hierarchy (one or more controllers mounted together).
#[derive(Debug)]
pub struct V1Hierarchy {
    /// The controllers it carries (`cpu`, `cpuacct`…).
    pub names: Vec<String>,
    /// The first of them: the name limits are written under.
    pub controller: String,
    pub mount: PathBuf,
    /// The caller's own cgroup in it, from the hierarchy's root.
    pub own: String,
    pub writable: bool,
}

impl Hierarchies {
    /// The caller's hierarchies, read once per process: they do not change while a command
    /// runs, and `run` asks at its warning, at create and at start.
    pub fn discover() -> &'static Hierarchies {
        static FOUND: std::sync::OnceLock<Hierarchies> = std::sync::OnceLock::new();
        FOUND.get_or_init(|| {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let membership = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            Hierarchies::from_tables(&mountinfo, &membership)
        })
    }

    fn from_tables(mountinfo: &str, membership: &str) -> Hierarchies {
        let mut found = Hierarchies::default();
        for (fs_type, root, mount_point, options) in cgroup_mounts(mountinfo) {
            // A mount of part of a hierarchy (inside a cgroup namespace) cannot hold the
            // caller's cgroup path as /proc/self/cgroup gives it.
            if root != "/" {
                continue;
            }
            if fs_type == "cgroup2" {
                if found.v2_mounted {
                    continue;
                }
                found.v2_mounted = true;
                let own = own_path(membership, |names| names.is_empty());
                found.v2 = own.and_then(|own| V2Subtree::writable(&mount_point, own));
                continue;
            }
            let mut names: Vec<String> = options
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o))
                .map(str::to_string)
                .collect();
            // systemd's own hierarchy, of no controller: where a systemd container's units go.
            if names.is_empty() && options.split(',').any(|o| o == SYSTEMD_HIERARCHY) {
                names.push(SYSTEMD_HIERARCHY.to_string());
            }
            let Some(controller) = names.first().cloned() else {
                continue;
            };
            if found.v1.iter().any(|h| h.names.contains(&controller)) {
                continue;
            }
            let own = own_path(membership, |listed| listed.contains(&controller.as_str()))
                .unwrap_or("/")
                .to_string();
            let writable = may_write(&mount_point.join(own.trim_start_matches('/')));
            found.v1.push(V1Hierarchy {
                names,
                controller,
                mount: mount_point,
                own,
                writable,
            });
        }
        found
    }

    /// Nothing this caller may write (systemd's hierarchy, which limits nothing, aside).
    pub fn is_empty(&self) -> bool {
        let limiting = |h: &&V1Hierarchy| h.controller != SYSTEMD_HIERARCHY;
        self.v2.is_none() && !self.v1.iter().filter(limiting).any(|h| h.writable)
    }

    /// systemd's v1 hierarchy (`name=systemd`), when the caller may write it.
    pub fn systemd_v1(&self) -> Option<&V1Hierarchy> {
        self.v1
            .iter()
            .find(|h| h.writable && h.controller == SYSTEMD_HIERARCHY)
    }

    /// Whether a container of this caller's can have `controller`.
    pub fn has(&self, controller: Controller) -> bool {
        let in_v2 = self
            .v2
            .as_ref()
            .is_some_and(|v2| v2.controllers.iter().any(|c| c == controller.v2_name()));
        in_v2 || self.v1_writable(controller).is_some()
    }

    fn v1_writable(&self, controller: Controller) -> Option<&V1Hierarchy> {
        let name = controller.v1_names()[0];
        self.v1
            .iter()
            .find(|h| h.writable && h.names.iter().any(|n| n == name))
    }

    /// Why `has(controller)` is false, in a few words said of the controller.
    pub fn why_not(&self, controller: Controller) -> String {
        let v1_bound = self
            .v1
            .iter()
            .any(|h| h.names.iter().any(|n| n == controller.v1_names()[0]));
        match (&self.v2, v1_bound) {
            (_, true) if controller == Controller::Devices => {
                "root's only (a rootless container cannot open the device nodes it makes anyway)".into()
            }
            (_, true) => "on cgroup v1 here, which only root may write; rootless limits need cgroup v2 with a subtree delegated to you".into(),
            (Some(_), false) if controller == Controller::Devices => {
                "not in cgroup v2 (which filters devices with eBPF, and skiff loads none)".into()
            }
            (Some(_), false) => "not delegated to the cgroup v2 subtree you may write".into(),
            (None, false) if self.v2_mounted => {
                "unavailable without a cgroup v2 subtree delegated to you (a systemd user session has one)".into()
            }
            (None, false) => "not in this kernel".into(),
        }
    }

    /// The writable v1 hierarchies that carry any of `controllers`, each once.
    pub fn v1_for(&self, controllers: &[Controller]) -> Vec<&V1Hierarchy> {
        let in_v2 = |c: &Controller| {
            self.v2
                .as_ref()
                .is_some_and(|v2| v2.controllers.iter().any(|n| n == c.v2_name()))
        };
        let mut chosen: Vec<&V1Hierarchy> = Vec::new();
        for controller in controllers.iter().filter(|c| !in_v2(c)) {
            for name in controller.v1_names() {
                let hierarchy = self
                    .v1
                    .iter()
                    .find(|h| h.writable && h.names.iter().any(|n| n == name));
                if let Some(h) = hierarchy {
                    if !chosen.iter().any(|c| c.mount == h.mount) {
                        chosen.push(h);
                    }
                }
            }
        }
        chosen
    }

    /// The v1 file `file` of the hierarchy carrying `controller` exists here (some settings
    /// depend on the kernel's build: blkio.weight needs the BFQ scheduler).
    pub fn v1_has_file(&self, controller: Controller, file: &str) -> bool {
        self.v1_writable(controller)
            .is_some_and(|h| h.mount.join(file).exists())
    }

    /// The directory of a `/proc/PID/cgroup` line's cgroup, when the caller may write it.
    pub fn writable_dir_of(&self, line: &str) -> Option<PathBuf> {
        let mut fields = line.splitn(3, ':');
        let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_start_matches('/');
        let dir = match names {
            "" => self.v2.as_ref()?.mount.join(path),
            names => {
                let first = names.split(',').next()?;
                let hierarchy = self
                    .v1
                    .iter()
                    .find(|h| h.writable && h.names.iter().any(|n| n == first))?;
                hierarchy.mount.join(path)
            }
        };
        may_write(&dir).then_some(dir)
    }

    /// Whether `controller` would come from v2.
    pub fn in_v2(&self, controller: Controller) -> bool {
        self.v2
            .as_ref()
            .is_some_and(|v2| v2.controllers.iter().any(|c| c == controller.v2_name()))
    }
}

/// The name of systemd's v1 hierarchy as /proc/self/cgroup and the mount's options give it.
const SYSTEMD_HIERARCHY: &str = "name=systemd";

const V1_CONTROLLERS: [&str; 7] = [
    "memory", "cpu", "cpuacct", "cpuset", "blkio", "pids", "devices",
];

impl V2Subtree {
    /// The subtree above `own` (the caller's cgroup, from the mount's root) that the caller may
    /// write; None when it may not write even its own.
    fn writable(mount: &Path, own: &str) -> Option<V2Subtree> {
        let own = mount.join(own.trim_start_matches('/'));
        if !may_write(&own) {
            return None;
        }
        let mut top = own.clone();
        while top != mount {
            match top.parent() {
                Some(parent) if parent.starts_with(mount) && may_write(parent) => {
                    top = parent.to_path_buf()
                }
                _ => break,
            }
        }
        let controllers = delegable_controllers(&top, top == mount);
        Some(V2Subtree {
            mount: mount.to_path_buf(),
            top,
            own,
            controllers,
        })
    }
}

/// The controllers `dir` can give its children: those it has that are enabled for them
/// already, or all it has when it may enable them (it holds no process, or it is the root).
fn delegable_controllers(dir: &Path, is_root: bool) -> Vec<String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let available: Vec<String> = read("cgroup.controllers")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if is_root || read("cgroup.procs").trim().is_empty() {
        return available;
    }
    let enabled = read("cgroup.subtree_control");
    available
        .into_iter()
        .filter(|c| enabled.split_whitespace().any(|e| e == c))
        .collect()
}

fn may_write(dir: &Path) -> bool {
    nix::unistd::access(&dir.join("cgroup.procs"), AccessFlags::W_OK).is_ok()
        && nix::unistd::access(dir, AccessFlags::W_OK).is_ok()
}

/// The caller's path in the hierarchy whose controller list (`/proc/self/cgroup`'s second
/// field, split at commas; empty for v2) `matches`.
fn own_path(membership: &str, matches: impl Fn(&[&str]) -> bool) -> Option<&str> {
    membership.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, names, path) = (fields.next()?, fields.next()?, fields.next()?);
        let names: Vec<&str> = names.split(',').filter(|n| !n.is_empty()).collect();
        matches(&names).then_some(path)
    })
}

/// (filesystem type, root within it, mount point, super options) of each cgroup mount.
pub(super) fn cgroup_mounts(mountinfo: &str) -> impl Iterator<Item = (&str, &str, PathBuf, &str)> {
    mountinfo.lines().filter_map(|line| {
        let (mount_fields, fs_fields) = line.split_once(" - ")?;
        let mut mount_fields = mount_fields.split(' ');
        let root = mount_fields.nth(3)?;
        let mount_point = mount_fields.next()?;
        let mut fs_fields = fs_fields.split(' ');
        let fs_type = fs_fields.next()?;
        let options = fs_fields.nth(1).unwrap_or("");
        matches!(fs_type, "cgroup" | "cgroup2")
            .then(|| (fs_type, root, PathBuf::from(unescape(mount_point)), options))
    })
}

/// mountinfo writes space, tab, newline and backslash in paths as octal escapes.
fn unescape(path: &str) -> String {
    path.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::HYBRID_MOUNTINFO as HYBRID;
    const MEMBERSHIP: &str = "9:name=systemd:/\n4:memory:/job/7\n1:cpu,cpuacct:/\n0::/user/1\n";

    #[test]
    fn a_hybrid_hosts_hierarchies_are_read_with_the_callers_place_in_each() {
        let found = Hierarchies::from_tables(HYBRID, MEMBERSHIP);
        assert!(found.v2_mounted);
        let summary: Vec<(String, Vec<String>, String)> = found
            .v1
            .iter()
            .map(|h| (h.controller.clone(), h.names.clone(), h.own.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "cpu".into(),
                    vec!["cpu".into(), "cpuacct".into()],
                    "/".into()
                ),
                ("memory".into(), vec!["memory".into()], "/job/7".into()),
                (
                    "name=systemd".into(),
                    vec!["name=systemd".into()],
                    "/".into()
                ),
            ]
        );
    }

    #[test]
    fn a_mount_of_part_of_a_hierarchy_is_not_taken_for_the_whole() {
        let inside = "41 31 0:38 /../x /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let found = Hierarchies::from_tables(inside, "0::/x\n");
        assert!(!found.v2_mounted && found.v2.is_none());
    }

    #[test]
    fn the_reason_names_cgroup_v1_for_a_controller_bound_there() {
        let found = Hierarchies::from_tables(HYBRID, MEMBERSHIP);
        let why = found.why_not(Controller::Memory);
        assert!(why.starts_with("on cgroup v1 here"), "{why}");
    }
}
