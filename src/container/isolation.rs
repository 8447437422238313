//! A new container's pid, ipc, uts and cgroup namespaces (`--pid`, `--ipc`, `--uts`,
//! `--cgroupns`): what the runtime makes or joins, and the modes inspect shows.

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::context::Context;
use crate::runtime;

/// The container's pid, ipc, uts and cgroup namespaces: for the runtime (another container's
/// is joined at each start), and as inspect shows them.
pub(super) struct Isolation {
    pub spec: runtime::Namespaces,
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    pub cgroupns_mode: String,
    /// The host name of the container whose uts namespace this one shares.
    pub hostname: Option<String>,
}

pub(super) fn plan(
    ctx: &Context,
    requests: &super::options::NamespaceRequests,
) -> Result<Isolation> {
    use super::options::Sharing;
    use runtime::NamespaceMode;
    // The other container's mode for `kind` (pid, ipc, uts, cgroup): one that has the host's
    // namespace passes it on as the host's.
    let resolve = |sharing: &Sharing,
                   default: &str,
                   kind: &str|
     -> Result<(NamespaceMode, String)> {
        Ok(match sharing {
            Sharing::Default => (NamespaceMode::Private, default.to_string()),
            Sharing::Private => (NamespaceMode::Private, "private".into()),
            Sharing::Shareable => (NamespaceMode::Private, "shareable".into()),
            Sharing::None => (NamespaceMode::Private, "none".into()),
            Sharing::Host => (NamespaceMode::Host, "host".into()),
            Sharing::Container(name) => {
                let other = ctx.store.find_container(name)?;
                let theirs = match kind {
                    "pid" => other.pid_mode.as_str(),
                    "ipc" => other.ipc_mode.as_str(),
                    "uts" => other.uts_mode.as_str(),
                    _ => other.cgroupns_mode.as_str(),
                };
                if kind == "ipc" && theirs == "private" {
                    bail!("joining the IPC namespace of container {name} is not allowed: non-shareable IPC (hint: use IpcMode:shareable for the donor container)");
                }
                let mode = match theirs {
                    "host" => NamespaceMode::Host,
                    _ => NamespaceMode::Join(PathBuf::new()),
                };
                (mode, format!("container:{}", other.id))
            }
        })
    };
    let (pid, pid_mode) = resolve(&requests.pid, "private", "pid")?;
    let (ipc, ipc_mode) = resolve(&requests.ipc, "shareable", "ipc")?;
    let (uts, uts_mode) = resolve(&requests.uts, "private", "uts")?;
    let hostname = match &requests.uts {
        Sharing::Container(name) => Some(ctx.store.find_container(name)?.spec.hostname),
        _ => None,
    };
    // Podman's default: the host's on a cgroup v1 host, its own on a cgroup v2 one.
    let cgroup_v2 = runtime::probe::cgroup_v2();
    let cgroup_default = if cgroup_v2 { "private" } else { "host" };
    let (mut cgroup, cgroupns_mode) = resolve(&requests.cgroup, cgroup_default, "cgroup")?;
    if requests.cgroup == Sharing::Default && !cgroup_v2 {
        cgroup = NamespaceMode::Host;
    }
    Ok(Isolation {
        spec: runtime::Namespaces {
            pid,
            ipc,
            uts,
            cgroup,
            shm: requests.ipc != Sharing::None,
        },
        pid_mode,
        ipc_mode,
        uts_mode,
        cgroupns_mode,
        hostname,
    })
}
