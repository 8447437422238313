//! A new container's cgroup, from `--memory` and the other cgroup flags: its name, and the
//! devices it may use (root's containers are kept to Podman's list: with CAP_MKNOD they could
//! otherwise make and open a node for the host's disk).

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::options::CreateOptions;
use crate::runtime::cgroups::{CgroupSpec, Controller, Hierarchies, Setting};
use crate::runtime::{Mount, MountSource};

/// The devices every container may use: any node made (m), and null, zero, full, random,
/// urandom, tty, console, ptmx, the pseudo-terminals, tun and fuse opened.
const DEFAULT_DEVICES: [&str; 13] = [
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
    "c 10:229 rwm",
];

/// The cgroup of container `id` (None with `--cgroups disabled`). Root's unprivileged
/// containers get the default device list, the devices given with `--device` (bound among
/// `mounts`) and `--device-cgroup-rule`'s; a privileged one and a rootless one (which cannot
/// open the nodes it makes) no list at all. In systemd mode its cgroup is made in systemd's
/// own hierarchy too.
pub fn cgroup_spec(
    options: &CreateOptions,
    id: &str,
    (rootless, systemd): (bool, bool),
    mounts: &[Mount],
) -> Option<CgroupSpec> {
    let request = options.resources.cgroup.as_ref()?;
    let mut limits = request.limits.clone();
    // containers.conf's default goes only where it can apply, as Podman's (inspect shows 0).
    if request.derived.contains(&Setting::PidsLimit)
        && !Hierarchies::discover().has(Controller::Pids)
    {
        limits.pids_limit = None;
    }
    limits.allowed_devices = match (options.confinement.privileged, rootless) {
        (true, _) => None,
        // Refused with rules (`create_options`): a user namespace cannot open the nodes.
        (false, true) => None,
        (false, false) => Some(
            DEFAULT_DEVICES
                .iter()
                .map(|rule| rule.to_string())
                .chain(mounts.iter().filter_map(device_rule))
                .chain(request.device_rules.iter().cloned())
                .collect(),
        ),
    };
    Some(CgroupSpec {
        name: format!("skiff-{id}"),
        parent: request.parent.clone(),
        under_caller: request.under_caller,
        limits,
        systemd,
    })
}

/// The rule that allows a `--device` bind of a host device node.
fn device_rule(mount: &Mount) -> Option<String> {
    let MountSource::Bind { path, .. } = &mount.source else {
        return None;
    };
    let meta = std::fs::metadata(path).ok()?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => 'c',
        t if t.is_block_device() => 'b',
        _ => return None,
    };
    let rdev = meta.rdev();
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    let access = if mount.readonly { "rm" } else { "rwm" };
    Some(format!("{kind} {major}:{minor} {access}"))
}
