//! What a container on user-defined networks needs at each start: the rootless network namespace
//! holding the bridges (started on first use, stopped once no running container needs it), the
//! attachments the runtime wires, and /etc/hosts files that name every container on a network.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::manage::{users, Subnet};
use crate::context::Context;
use crate::runtime::bridge::BridgeAttachment;
use crate::runtime::{self, NetworkBackend, NetworkMode};
use crate::store::containers::{ContainerRecord, Status};
use crate::store::StoreLock;

/// The rootless network namespace's process and its pasta, in the runtime directory.
#[derive(Debug, Serialize, Deserialize)]
struct HolderState {
    pid: i32,
}

fn holder_dir(ctx: &Context) -> PathBuf {
    ctx.store.runroot().join("networks")
}

fn read_holder(ctx: &Context) -> Option<HolderState> {
    let bytes = std::fs::read(holder_dir(ctx).join("netns.json")).ok()?;
    let state: HolderState = serde_json::from_slice(&bytes).ok()?;
    // After a reboot, or a kill, the file may name a process that is gone.
    std::path::Path::new(&format!("/proc/{}/ns/net", state.pid))
        .exists()
        .then_some(state)
}

/// The rootless network namespace's holder pid, started now when there is none.
fn ensure_holder(ctx: &Context, _lock: &StoreLock) -> Result<i32> {
    if let Some(state) = read_holder(ctx) {
        return Ok(state.pid);
    }
    let mapping = ctx
        .id_mapping
        .as_ref()
        .context("the rootless network namespace is for rootless use")?;
    let dir = holder_dir(ctx);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let pid = runtime::bridge::start_namespace_holder(mapping)?;
    let backend = runtime::network::choose_backend(Some(NetworkBackend::Pasta))?;
    let started = runtime::network::StartingHelper::launch(
        backend,
        &runtime::network::Helped {
            pid,
            run_dir: &dir,
            ports: &[],
            options: &[],
            rootless: true,
            life: runtime::network::HelperLife::Independent,
        },
    )
    .and_then(|helper| helper.wait_ready());
    if let Err(error) = started {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        return Err(error.into());
    }
    // pasta stays with the namespace; `release_if_unused` stops both.
    let bytes = serde_json::to_vec(&HolderState { pid })?;
    crate::store::write_atomic(&dir.join("netns.json"), &bytes)?;
    Ok(pid)
}

/// Stops the rootless network namespace once no running container is on a user-defined network.
pub fn release_if_unused(ctx: &Context) -> Result<()> {
    if ctx.id_mapping.is_none() {
        return Ok(());
    }
    let lock = ctx.store.lock()?;
    let Some(state) = read_holder(ctx) else {
        return Ok(());
    };
    let in_use = ctx.store.all_containers().iter().any(|c| {
        !c.networks.is_empty() && ctx.store.current_container_state(&c.id).status == Status::Running
    });
    if in_use {
        return Ok(());
    }
    let dir = holder_dir(ctx);
    runtime::network::stop_pasta_in(&dir);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(state.pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = std::fs::remove_file(dir.join("netns.json"));
    drop(lock);
    Ok(())
}

/// What the runtime needs to wire a container's `index`th interface into `network`.
fn bridge_attachment(
    network: &crate::store::networks::NetworkRecord,
    attachment: &crate::store::containers::NetworkAttachment,
    may_route_out: bool,
) -> Result<BridgeAttachment> {
    let subnet = Subnet::parse(&network.subnet)?;
    Ok(BridgeAttachment {
        bridge: network.interface.clone(),
        subnet: subnet.to_string(),
        gateway: network.gateway.parse().context("the network's gateway")?,
        prefix: subnet.prefix,
        address: attachment
            .ip
            .parse::<Ipv4Addr>()
            .context("the container's address")?,
        internal: network.internal,
        interface: attachment.interface.clone(),
        mac: attachment.mac.clone(),
        default_route: may_route_out && !network.internal,
    })
}

/// Wires a running container (first process `pid`) into one more network, for `network connect`.
pub fn attach_running(
    ctx: &Context,
    pid: i32,
    network: &crate::store::networks::NetworkRecord,
    attachment: &crate::store::containers::NetworkAttachment,
) -> Result<()> {
    let lock = ctx.store.lock()?;
    let holder_pid = match ctx.id_mapping {
        Some(_) => Some(ensure_holder(ctx, &lock)?),
        None => None,
    };
    drop(lock);
    // It already has its route out.
    let wiring = bridge_attachment(network, attachment, false)?;
    runtime::bridge::attach(holder_pid, pid, ctx.id_mapping.is_some(), &wiring)?;
    Ok(())
}

/// The runtime's network mode for a start of `record` on its user-defined networks.
pub fn start_mode(ctx: &Context, record: &ContainerRecord) -> Result<NetworkMode> {
    let lock = ctx.store.lock()?;
    let holder_pid = match ctx.id_mapping {
        Some(_) => Some(ensure_holder(ctx, &lock)?),
        None => None,
    };
    let mut attachments: Vec<BridgeAttachment> = Vec::new();
    // In the order of their interfaces: the first network the container joined has the route
    // out, and its address is where published ports lead.
    let mut joined: Vec<_> = record.networks.iter().collect();
    joined.sort_by_key(|(_, a)| interface_number(&a.interface));
    for (name, attachment) in joined {
        let network = ctx.store.find_network(name)?;
        let first_way_out = !attachments.iter().any(|a| a.default_route);
        attachments.push(bridge_attachment(&network, attachment, first_way_out)?);
    }
    refresh_hosts(ctx, record, false)?;
    drop(lock);
    Ok(NetworkMode::Bridge {
        holder_pid,
        attachments,
    })
}

fn interface_number(interface: &str) -> u32 {
    interface
        .strip_prefix("eth")
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

/// Marks where the generated part of a container's /etc/hosts ends and the network's names start.
const PEERS_MARKER: &str = "# containers on its networks\n";

/// Rewrites the /etc/hosts of every container sharing a network with `record` (itself included
/// unless it is `leaving`) so that each names all of them: `ADDRESS NAME ALIASES…`. Written in
/// place, not renamed, since the running containers see the files through bind mounts.
pub fn refresh_hosts(ctx: &Context, record: &ContainerRecord, leaving: bool) -> Result<()> {
    let mut members: Vec<ContainerRecord> = Vec::new();
    for name in record.networks.keys() {
        for member in users(ctx, name) {
            if !members.iter().any(|m| m.id == member.id) {
                members.push(member);
            }
        }
    }
    members.retain(|m| m.id != record.id);
    if !leaving {
        members.push(record.clone());
    }
    for member in &members {
        let path = member.spec.run_dir.join("hosts");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut own = text
            .split_once(PEERS_MARKER)
            .map_or(text.as_str(), |(own, _)| own)
            .to_string();
        own.push_str(PEERS_MARKER);
        for other in &members {
            for (network, attachment) in &other.networks {
                if member.networks.contains_key(network) {
                    let mut names = vec![other.name.as_str(), &other.id[..12]];
                    names.extend(attachment.aliases.iter().map(String::as_str));
                    own.push_str(&format!("{}\t{}\n", attachment.ip, names.join(" ")));
                }
            }
        }
        std::fs::write(&path, own).with_context(|| format!("updating {}", path.display()))?;
    }
    Ok(())
}

/// Removes a removed network's bridge: on the host as root; rootless, in the network namespace
/// if it still runs (otherwise the bridge went with it).
pub fn remove_bridge(ctx: &Context, network: &crate::store::networks::NetworkRecord) -> Result<()> {
    let holder = match ctx.id_mapping {
        Some(_) => match read_holder(ctx) {
            Some(state) => Some(state.pid),
            None => return Ok(()),
        },
        None => None,
    };
    runtime::bridge::remove_bridge(holder, ctx.id_mapping.is_some(), &network.interface)?;
    Ok(())
}

/// NetworkSettings.Networks of `inspect`: the container's place on each user-defined network.
pub fn inspect_networks(ctx: &Context, record: &ContainerRecord) -> serde_json::Value {
    let mut networks = serde_json::Map::new();
    for (name, attachment) in &record.networks {
        let network = ctx.store.find_network(name).ok();
        let prefix = network
            .as_ref()
            .and_then(|n| Subnet::parse(&n.subnet).ok())
            .map_or(0, |s| s.prefix);
        networks.insert(
            name.clone(),
            serde_json::json!({
                "NetworkID": network.as_ref().map(|n| n.id.clone()).unwrap_or_default(),
                "IPAddress": attachment.ip,
                "IPPrefixLen": prefix,
                "Gateway": network.map(|n| n.gateway).unwrap_or_default(),
                "Aliases": attachment.aliases,
                "MacAddress": attachment.mac.clone().unwrap_or_default(),
            }),
        );
    }
    serde_json::Value::Object(networks)
}
