//! The mounts of a container's root, planned as plain data (unit-tested here) for `rootfs` to
//! apply: the standard file systems (/proc, a minimal /dev, /sys), the generated /etc files,
//! the user's mounts, then Podman's masked and read-only paths (or the ones the container was
//! given: `--security-opt mask=…`/`unmask=…`, none with `--privileged`).

use nix::mount::MsFlags;

use super::spec::{
    ContainerSpec, Mount, MountSource, NamespaceMode, NetworkMode, CONTAINER_ENV_PATH,
};

/// Paths Podman masks by default (containers.conf `masked_paths` of containers/common).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/interrupts",
    "/sys/dev/block",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
];

/// Paths Podman mounts read-only by default.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Device nodes bound from the host: rootless processes cannot mknod, so runc and Podman bind them.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountStep {
    /// A fresh filesystem of `fstype` on the directory `target`.
    Filesystem {
        fstype: &'static str,
        target: String,
        flags: MsFlags,
        data: Option<String>,
    },
    /// A bind of a host path onto `target` (a file when `file` is set, else a directory).
    Bind {
        source: String,
        target: String,
        file: bool,
        recursive: bool,
        readonly: bool,
    },
    Symlink {
        link: String,
        points_to: &'static str,
    },
    /// Hide a path: an empty read-only tmpfs over a directory, /dev/null over a file.
    Mask { target: String },
    /// Bind a path onto itself and make it read-only.
    ReadOnly { target: String },
    /// A mount the user asked for (`-v`, `--mount`, `--tmpfs`, a volume).
    User(Mount),
    /// A kernel setting written under proc/sys (`--sysctl`), while it is still writable.
    Sysctl { key: String, value: String },
}

/// /proc: the container's pid namespace's; the host's, bound, with `--pid host` (a user
/// namespace may not mount a proc of the host's pid namespace).
fn proc(spec: &ContainerSpec) -> MountStep {
    if spec.namespaces.pid == NamespaceMode::Host {
        return MountStep::Bind {
            source: "/proc".into(),
            target: "proc".into(),
            file: false,
            recursive: true,
            readonly: false,
        };
    }
    MountStep::Filesystem {
        fstype: "proc",
        target: "proc".into(),
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        data: (!spec.proc_options.is_empty()).then(|| spec.proc_options.join(",")),
    }
}

/// /dev/shm and /dev/mqueue: its own (none with `--ipc none`); the host's, bound, with
/// `--ipc host`, where they exist (a user namespace may not mount the host's mqueue).
fn ipc_mounts(spec: &ContainerSpec) -> Vec<MountStep> {
    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if spec.namespaces.ipc == NamespaceMode::Host {
        return ["dev/shm", "dev/mqueue"]
            .into_iter()
            .filter(|target| std::path::Path::new("/").join(target).is_dir())
            .map(|target| MountStep::Bind {
                source: format!("/{target}"),
                target: target.into(),
                file: false,
                recursive: false,
                readonly: false,
            })
            .collect();
    }
    let shm = MountStep::Filesystem {
        fstype: "tmpfs",
        target: "dev/shm".into(),
        flags: nosuid_nodev_noexec,
        data: Some(match spec.shm_size {
            Some(bytes) => format!("mode=1777,size={bytes}"),
            None => "mode=1777,size=65536k".into(),
        }),
    };
    let mqueue = MountStep::Filesystem {
        fstype: "mqueue",
        target: "dev/mqueue".into(),
        flags: nosuid_nodev_noexec,
        data: None,
    };
    match spec.namespaces.shm {
        true => vec![shm, mqueue],
        false => vec![mqueue],
    }
}

/// /sys: read-only unless `--privileged`. sysfs can only be mounted by a user namespace that
/// owns the network namespace, so a rootless container on the host's network gets a bind.
fn sysfs(spec: &ContainerSpec) -> MountStep {
    if spec.id_mapping.is_some() && spec.network == NetworkMode::Host {
        return MountStep::Bind {
            source: "/sys".into(),
            target: "sys".into(),
            file: false,
            recursive: true,
            readonly: !spec.writable_sysfs,
        };
    }
    let readonly = match spec.writable_sysfs {
        true => MsFlags::empty(),
        false => MsFlags::MS_RDONLY,
    };
    MountStep::Filesystem {
        fstype: "sysfs",
        target: "sys".into(),
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | readonly,
        data: None,
    }
}

/// `--systemd`: the host's /sys/fs/cgroup with every hierarchy read-only (writable with
/// `--privileged`, as /sys is), and the container's own cgroups writable over them. Those are
/// found only in the host's cgroup namespace, whose paths /proc/self/cgroup gives (the process
/// is in its cgroups by now).
fn cgroup_view(spec: &ContainerSpec) -> Vec<MountStep> {
    let own = spec
        .cgroup
        .as_ref()
        .filter(|_| spec.namespaces.cgroup == NamespaceMode::Host)
        .map(|cgroup| cgroup.name.as_str());
    let view = super::cgroups::CgroupView::of_self(own);
    let inside =
        |path: &std::path::Path| path.to_string_lossy().trim_start_matches('/').to_string();
    let mut steps = vec![MountStep::Bind {
        source: "/sys/fs/cgroup".into(),
        target: "sys/fs/cgroup".into(),
        file: false,
        recursive: true,
        readonly: !spec.writable_sysfs,
    }];
    if !spec.writable_sysfs {
        steps.extend(view.hierarchies.iter().map(|path| MountStep::ReadOnly {
            target: inside(path),
        }));
    }
    steps.extend(view.own.iter().map(|path| MountStep::Bind {
        source: path.to_string_lossy().into_owned(),
        target: inside(path),
        file: false,
        recursive: false,
        readonly: false,
    }));
    steps
}

/// The mounts made inside the new root, in order; targets are relative to it.
pub fn plan_mounts(spec: &ContainerSpec) -> Vec<MountStep> {
    let mut steps = vec![
        proc(spec),
        MountStep::Filesystem {
            fstype: "tmpfs",
            target: "dev".into(),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
            data: Some("mode=755,size=65536k".into()),
        },
    ];
    for device in DEVICES {
        steps.push(MountStep::Bind {
            source: format!("/dev/{device}"),
            target: format!("dev/{device}"),
            file: true,
            recursive: false,
            readonly: false,
        });
    }
    // gid 5 (tty) is only usable when it is mapped.
    let tty_gid_mapped = spec
        .id_mapping
        .as_ref()
        .is_none_or(|m| m.host_gid(5).is_some());
    let pts_data = if tty_gid_mapped {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    } else {
        "newinstance,ptmxmode=0666,mode=0620"
    };
    steps.extend([
        MountStep::Filesystem {
            fstype: "devpts",
            target: "dev/pts".into(),
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: Some(pts_data.into()),
        },
        MountStep::Symlink {
            link: "dev/ptmx".into(),
            points_to: "pts/ptmx",
        },
        MountStep::Symlink {
            link: "dev/fd".into(),
            points_to: "/proc/self/fd",
        },
        MountStep::Symlink {
            link: "dev/stdin".into(),
            points_to: "/proc/self/fd/0",
        },
        MountStep::Symlink {
            link: "dev/stdout".into(),
            points_to: "/proc/self/fd/1",
        },
        MountStep::Symlink {
            link: "dev/stderr".into(),
            points_to: "/proc/self/fd/2",
        },
        MountStep::Symlink {
            link: "dev/core".into(),
            points_to: "/proc/kcore",
        },
    ]);
    steps.extend(ipc_mounts(spec));
    steps.push(sysfs(spec));
    if spec.cgroup_view {
        steps.extend(cgroup_view(spec));
    }
    for (source, target) in &spec.etc_files {
        steps.push(MountStep::Bind {
            source: source.to_string_lossy().into_owned(),
            target: target.trim_start_matches('/').to_string(),
            file: true,
            recursive: false,
            readonly: false,
        });
    }
    // Shallowest first, so that a mount inside another's destination lands on top of it.
    let mut user_mounts: Vec<&Mount> = spec.mounts.iter().collect();
    user_mounts.sort_by_key(|m| m.destination.split('/').filter(|c| !c.is_empty()).count());
    // Not into a directory of the user's own bound on /run: that would write their file.
    let run_bound = user_mounts.iter().any(|m| {
        m.destination.trim_end_matches('/') == "/run"
            && matches!(
                m.source,
                MountSource::Bind { .. } | MountSource::Overlay { .. }
            )
    });
    steps.extend(user_mounts.into_iter().cloned().map(MountStep::User));
    if let Some(file) = spec.container_env.as_ref().filter(|_| !run_bound) {
        steps.push(MountStep::Bind {
            source: file.to_string_lossy().into_owned(),
            target: CONTAINER_ENV_PATH.trim_start_matches('/').to_string(),
            file: true,
            recursive: false,
            readonly: true,
        });
    }
    steps.extend(spec.sysctls.iter().map(|(key, value)| MountStep::Sysctl {
        key: key.clone(),
        value: value.clone(),
    }));
    let relative = |path: &String| path.trim_start_matches('/').to_string();
    steps.extend(spec.masked_paths.iter().map(|p| MountStep::Mask {
        target: relative(p),
    }));
    steps.extend(spec.readonly_paths.iter().map(|p| MountStep::ReadOnly {
        target: relative(p),
    }));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::fixtures::spec;
    use crate::runtime::spec::{MountFlags, MountSource};

    #[test]
    fn user_mounts_go_shallowest_first_before_the_masks() {
        let mut spec = spec(NetworkMode::None, true);
        let tmpfs = |destination: &str| Mount {
            destination: destination.into(),
            source: MountSource::Tmpfs {
                size: None,
                mode: None,
            },
            readonly: false,
            flags: MountFlags::default(),
            propagation: None,
        };
        spec.mounts = vec![tmpfs("/data/cache"), tmpfs("/data")];
        let steps = plan_mounts(&spec);
        let position = |wanted: &str| {
            steps
                .iter()
                .position(|s| matches!(s, MountStep::User(m) if m.destination == wanted))
                .unwrap()
        };
        let first_mask = steps
            .iter()
            .position(|s| matches!(s, MountStep::Mask { .. }))
            .unwrap();
        assert!(position("/data") < position("/data/cache"));
        assert!(position("/data/cache") < first_mask);
    }

    #[test]
    fn proc_comes_first_and_masks_come_after_sys() {
        let steps = plan_mounts(&spec(NetworkMode::Private, true));
        assert!(matches!(
            &steps[0],
            MountStep::Filesystem { fstype: "proc", .. }
        ));
        let sys = steps
            .iter()
            .position(|s| {
                matches!(
                    s,
                    MountStep::Filesystem {
                        fstype: "sysfs",
                        ..
                    }
                )
            })
            .unwrap();
        let mask = steps
            .iter()
            .position(|s| matches!(s, MountStep::Mask { target } if target == "sys/firmware"))
            .unwrap();
        assert!(sys < mask);
        assert!(steps.contains(&MountStep::Mask {
            target: "proc/kcore".into()
        }));
        assert!(steps.contains(&MountStep::ReadOnly {
            target: "proc/sys".into()
        }));
        assert!(steps
            .iter()
            .any(|s| matches!(s, MountStep::Bind { target, .. } if target == "etc/hosts")));
    }

    #[test]
    fn rootless_host_network_binds_sys_read_only() {
        let steps = plan_mounts(&spec(NetworkMode::Host, true));
        assert!(steps.iter().any(
            |s| matches!(s, MountStep::Bind { source, readonly: true, .. } if source == "/sys")
        ));
        let rootful = plan_mounts(&spec(NetworkMode::Host, false));
        assert!(rootful.iter().any(|s| matches!(
            s,
            MountStep::Filesystem {
                fstype: "sysfs",
                ..
            }
        )));
    }
}
