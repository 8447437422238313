//! What a systemd container sees of the cgroup file system (`--systemd`): the host's
//! /sys/fs/cgroup, every hierarchy read-only, and the container's own cgroups writable, where
//! systemd makes the cgroups of its units.

use std::path::PathBuf;

use super::discovery::cgroup_mounts;

/// The host's cgroup mounts, as a systemd container is shown them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CgroupView {
    /// Every cgroup hierarchy mounted under /sys/fs/cgroup (each made read-only in the
    /// container), or /sys/fs/cgroup itself on a cgroup v2 host.
    pub hierarchies: Vec<PathBuf>,
    /// The directories of the container's own cgroups (named `own_name`), bound writable over
    /// the read-only hierarchies.
    pub own: Vec<PathBuf>,
}

impl CgroupView {
    /// The view for the calling process, whose cgroups (if it has its own) are named
    /// `own_name`; `/proc/self/cgroup` must give paths from the hierarchies' roots (the host's
    /// cgroup namespace).
    pub(crate) fn of_self(own_name: Option<&str>) -> CgroupView {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let membership = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        CgroupView::from_tables(&mountinfo, &membership, own_name)
    }

    fn from_tables(mountinfo: &str, membership: &str, own_name: Option<&str>) -> CgroupView {
        let top = std::path::Path::new("/sys/fs/cgroup");
        let mounts: Vec<_> = cgroup_mounts(mountinfo)
            .filter(|(_, root, point, _)| *root == "/" && point.starts_with(top))
            .collect();
        let mut view = CgroupView::default();
        for (_, _, point, _) in &mounts {
            if !view.hierarchies.contains(point) {
                view.hierarchies.push(point.clone());
            }
        }
        let Some(own_name) = own_name else {
            return view;
        };
        for line in membership.lines() {
            let mut fields = line.splitn(3, ':');
            let (Some(_), Some(names), Some(path)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if path.rsplit('/').next() != Some(own_name) {
                continue;
            }
            let carries = |fs_type: &str, options: &str| match names {
                "" => fs_type == "cgroup2",
                names => {
                    fs_type == "cgroup"
                        && names.split(',').all(|n| options.split(',').any(|o| o == n))
                }
            };
            let mount = mounts.iter().find(|(t, _, _, o)| carries(t, o));
            if let Some((_, _, point, _)) = mount {
                view.own.push(point.join(path.trim_start_matches('/')));
            }
        }
        view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::HYBRID_MOUNTINFO as HYBRID;

    #[test]
    fn every_hierarchy_is_shown_and_the_containers_own_cgroups_found() {
        let membership =
            "9:name=systemd:/\n4:memory:/skiff/skiff-abc\n1:cpu,cpuacct:/skiff/skiff-abc\n0::/\n";
        let view = CgroupView::from_tables(HYBRID, membership, Some("skiff-abc"));
        let paths = |list: &[PathBuf]| {
            list.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            paths(&view.hierarchies),
            [
                "/sys/fs/cgroup/cpu,cpuacct",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/unified"
            ]
        );
        assert_eq!(
            paths(&view.own),
            [
                "/sys/fs/cgroup/memory/skiff/skiff-abc",
                "/sys/fs/cgroup/cpu,cpuacct/skiff/skiff-abc"
            ]
        );
        let none = CgroupView::from_tables(HYBRID, membership, None);
        assert!(none.own.is_empty() && none.hierarchies.len() == 4);
    }

    #[test]
    fn a_unified_host_shows_its_one_hierarchy() {
        let unified = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let view = CgroupView::from_tables(unified, "0::/user.slice/skiff-x\n", Some("skiff-x"));
        assert_eq!(view.hierarchies, [PathBuf::from("/sys/fs/cgroup")]);
        assert_eq!(
            view.own,
            [PathBuf::from("/sys/fs/cgroup/user.slice/skiff-x")]
        );
    }
}
