//! The network part of planning a container: which namespace it gets and what inspect calls it,
//! the user-defined networks it joins with their addresses, its /etc/hosts entries and its
//! ports, each worked out as data before anything is written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};

use super::{userns, CreateOptions};
use crate::context::Context;
use crate::image::config::RunConfig;
use crate::network::{self, ports::ExposedPort, NetworkRequest};
use crate::runtime::{self, NetworkBackend, NetworkMode, PortMapping};
use crate::store::containers::NetworkAttachment;

/// A new container's network, as planned at create.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NetworkPlan {
    /// `--network` as inspect's HostConfig.NetworkMode shows it.
    pub mode: String,
    pub spec: NetworkMode,
    pub backend: NetworkBackend,
    pub options: Vec<String>,
    /// The container's /etc/resolv.conf before `--dns` and its kin.
    pub resolv: String,
    /// The user-defined networks it is on, with its address on each.
    pub networks: BTreeMap<String, NetworkAttachment>,
}

impl NetworkPlan {
    fn new(mode: String, spec: NetworkMode, resolv: String) -> Self {
        NetworkPlan {
            mode,
            spec,
            backend: NetworkBackend::default(),
            options: Vec::new(),
            resolv,
            networks: BTreeMap::new(),
        }
    }
}

/// Works out the container's network from `--network`; `host_resolv` is the host's
/// /etc/resolv.conf.
pub(super) fn plan_network(
    ctx: &Context,
    options: &CreateOptions,
    host_resolv: String,
) -> Result<NetworkPlan> {
    let plan = match &options.network {
        NetworkRequest::Private {
            backend,
            options: backend_options,
        } => {
            let backend = runtime::network::choose_backend(*backend)?;
            let mut backend_options = backend_options.clone();
            // containers.conf pasta_options stand in when --network pasta gives none.
            if backend_options.is_empty() && backend == NetworkBackend::Pasta {
                backend_options = ctx.config.containers.network.pasta_options.to_vec();
            }
            NetworkPlan {
                backend,
                options: backend_options,
                ..NetworkPlan::new(
                    backend.program().to_string(),
                    NetworkMode::Private,
                    runtime::network::resolv_conf(&host_resolv, Some(backend)),
                )
            }
        }
        NetworkRequest::None => NetworkPlan::new("none".into(), NetworkMode::None, String::new()),
        NetworkRequest::Host => NetworkPlan::new("host".into(), NetworkMode::Host, host_resolv),
        NetworkRequest::Container(reference) => {
            let other = ctx.store.find_container(reference)?;
            let resolv = std::fs::read_to_string(other.spec.run_dir.join("resolv.conf"))
                .unwrap_or(host_resolv);
            // The namespace file is found at each start: the other container's pid changes.
            NetworkPlan::new(
                format!("container:{}", other.id),
                NetworkMode::Join(PathBuf::new()),
                resolv,
            )
        }
        NetworkRequest::Namespace(path) => NetworkPlan::new(
            format!("ns:{}", path.display()),
            NetworkMode::Join(path.clone()),
            host_resolv,
        ),
        NetworkRequest::Named(reference) => {
            let network = ctx.store.find_network(reference)?;
            let address = network::manage::assign_address(ctx, &network, options.ip)?;
            // Rootless, name servers are reached through the bridges' pasta, as for a private
            // network; as root, through the host's routes, with no forwarder for loopback ones.
            let forwarder = ctx.id_mapping.as_ref().map(|_| NetworkBackend::Pasta);
            let mut plan = NetworkPlan::new(
                network.name.clone(),
                NetworkMode::Bridge {
                    holder_pid: None,
                    attachments: Vec::new(),
                },
                runtime::network::resolv_conf(&host_resolv, forwarder),
            );
            plan.networks.insert(
                network.name,
                NetworkAttachment {
                    ip: address.to_string(),
                    aliases: options.network_aliases.clone(),
                    interface: "eth0".into(),
                    mac: options.mac_address.clone(),
                },
            );
            plan
        }
    };
    check_network_flags(options, &plan)?;
    Ok(plan)
}

/// Refuses the flags the planned network cannot honour.
pub(super) fn check_network_flags(options: &CreateOptions, plan: &NetworkPlan) -> Result<()> {
    if (options.ip.is_some() || !options.network_aliases.is_empty() || !options.links.is_empty())
        && plan.networks.is_empty()
    {
        bail!("--ip, --network-alias and --link need a user-defined network (--network NAME)");
    }
    if options.mac_address.is_some() && plan.networks.is_empty() {
        bail!("--mac-address needs a user-defined network (--network NAME): skiff cannot set the address of a {} network's interface", plan.mode);
    }
    if options.ip6.is_some() {
        match plan.networks.keys().next() {
            Some(name) => bail!("--ip6: network {name} has no IPv6 subnet (skiff's networks are IPv4 only)"),
            None => bail!("--ip6 needs a user-defined network (--network NAME) with an IPv6 subnet, which skiff's IPv4-only networks do not have"),
        }
    }
    if options.no_hosts && (!options.add_hosts.is_empty() || !options.links.is_empty()) {
        bail!("conflicting options: --no-hosts and --add-host");
    }
    // Such a container is made in the user namespace that owns the network it joins, with that
    // namespace's ids: another mapping cannot be honoured.
    if options.userns != userns::UsernsMode::Default
        && matches!(plan.spec, NetworkMode::Join(_) | NetworkMode::Bridge { .. })
    {
        bail!(
            "--userns={} cannot be used with --network {}: the container would have the ids of that network's user namespace; use the default network",
            options.userns.name(),
            plan.mode
        );
    }
    Ok(())
}

/// `--add-host` lines, then one for each `--link`: the linked container's address on a network
/// both are on.
pub(super) fn host_entries(
    ctx: &Context,
    options: &CreateOptions,
    networks: &BTreeMap<String, NetworkAttachment>,
) -> Result<Vec<String>> {
    let mut add_hosts = options.add_hosts.clone();
    for (target, alias) in &options.links {
        let other = ctx.store.find_container(target)?;
        let shared = networks
            .keys()
            .find_map(|name| other.networks.get(name))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--link {target}: that container is on none of this container's networks"
                )
            })?;
        add_hosts.push(format!("{}\t{alias} {}", shared.ip, other.name));
    }
    Ok(add_hosts)
}

/// The image's ExposedPorts and `--expose`, sorted, each once.
pub(super) fn exposed_ports(run: &RunConfig, options: &CreateOptions) -> Result<Vec<ExposedPort>> {
    let mut exposed: Vec<ExposedPort> = Vec::new();
    for key in run.exposed_ports.iter().flat_map(|ports| ports.keys()) {
        exposed.extend(network::ports::parse_expose(key)?);
    }
    exposed.extend(options.expose.iter().copied());
    exposed.sort();
    exposed.dedup();
    Ok(exposed)
}

/// The host ports `-p` and `-P` publish, picked now: none on the host's network or without one
/// (the cli warns), an error on a network another container or namespace owns.
pub(super) fn published_ports(
    options: &CreateOptions,
    plan: &NetworkPlan,
    exposed: &[ExposedPort],
) -> Result<Vec<PortMapping>> {
    match plan.spec {
        NetworkMode::Private | NetworkMode::Bridge { .. } => {
            network::ports::assign(&options.publish, exposed, options.publish_all)
        }
        // Dropped, as with the host's network and none: `discarded_ports_warning` says so.
        _ => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(spec: NetworkMode) -> NetworkPlan {
        NetworkPlan::new("test".into(), spec, String::new())
    }

    #[test]
    fn flags_a_network_cannot_honour_are_refused() {
        let mut options = CreateOptions {
            ip: Some("10.0.0.5".parse().unwrap()),
            ..Default::default()
        };
        assert!(check_network_flags(&options, &plan(NetworkMode::Private)).is_err());
        let mut named = plan(NetworkMode::Bridge {
            holder_pid: None,
            attachments: Vec::new(),
        });
        named.networks.insert(
            "lab".into(),
            NetworkAttachment {
                ip: "10.0.0.5".into(),
                aliases: Vec::new(),
                interface: "eth0".into(),
                mac: None,
            },
        );
        assert!(check_network_flags(&options, &named).is_ok());
        options.userns = userns::UsernsMode::parse("keep-id").unwrap();
        assert!(check_network_flags(&options, &named).is_err());
        let options = CreateOptions {
            no_hosts: true,
            add_hosts: vec!["a\t1.2.3.4".into()],
            ..Default::default()
        };
        assert!(check_network_flags(&options, &plan(NetworkMode::Host)).is_err());
    }

    #[test]
    fn exposed_ports_merge_the_image_and_the_flags() {
        let run: RunConfig = serde_json::from_value(serde_json::json!({
            "ExposedPorts": {"80/tcp": {}, "53/udp": {}}
        }))
        .unwrap();
        let options = CreateOptions {
            expose: network::ports::parse_expose("80").unwrap(),
            ..Default::default()
        };
        let keys: Vec<String> = exposed_ports(&run, &options)
            .unwrap()
            .iter()
            .map(|p| p.key())
            .collect();
        assert_eq!(keys.len(), 2, "{keys:?}");
        assert!(keys.contains(&"80/tcp".to_string()) && keys.contains(&"53/udp".to_string()));
    }

    #[test]
    fn a_shared_or_host_network_drops_published_ports() {
        let options = CreateOptions {
            publish_all: true,
            ..Default::default()
        };
        for mode in [NetworkMode::Join(PathBuf::new()), NetworkMode::Host] {
            assert!(published_ports(&options, &plan(mode), &[])
                .unwrap()
                .is_empty());
        }
    }
}
