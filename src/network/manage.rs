//! `network create`, `ls`, `inspect`, `rm`, `prune`, and the addresses containers get on a
//! network: IPv4 subnets picked so they never overlap, and one address per container.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::filter::PruneFilters;
use crate::store::containers::ContainerRecord;
use crate::store::networks::NetworkRecord;

/// The network a container is on when it names none: Podman's default network's name.
pub const DEFAULT_NETWORK: &str = "podman";

/// An IPv4 subnet: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub base: u32,
    pub prefix: u8,
}

impl Subnet {
    pub fn parse(text: &str) -> Result<Self> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("invalid subnet {text:?}: expected ADDRESS/PREFIX"))?;
        let address: Ipv4Addr = address.parse().map_err(|_| {
            if address.contains(':') {
                anyhow::anyhow!("invalid subnet {text:?}: skiff's networks are IPv4 only for now")
            } else {
                anyhow::anyhow!("invalid subnet {text:?}: {address:?} is not an IPv4 address")
            }
        })?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| {
                anyhow::anyhow!("invalid subnet {text:?}: the prefix length must be 8 to 30")
            })?;
        let base = u32::from(address) & Self::mask(prefix);
        Ok(Subnet { base, prefix })
    }

    fn mask(prefix: u8) -> u32 {
        u32::MAX << (32 - u32::from(prefix))
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & Self::mask(self.prefix) == self.base
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let prefix = self.prefix.min(other.prefix);
        self.base & Self::mask(prefix) == other.base & Self::mask(prefix)
    }

    /// The usable host addresses: all but the network and broadcast addresses.
    fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let size = 1u64 << (32 - u32::from(self.prefix));
        let base = u64::from(self.base);
        (base + 1..base + size - 1).map(|a| Ipv4Addr::from(a as u32))
    }

    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base + 1)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// What `network create` was asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// `--ignore`: an existing network of that name is not an error.
    pub ignore_existing: bool,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// The names `network create` refuses: Podman's network modes and the default network's.
const RESERVED_NAMES: [&str; 9] = [
    "host",
    "none",
    "container",
    "ns",
    "private",
    "pasta",
    "slirp4netns",
    "bridge",
    DEFAULT_NETWORK,
];

/// `network create`: checks everything, then records the network under the store lock, so two
/// creates at once cannot take one subnet or one name.
pub fn create(ctx: &Context, request: &CreateRequest) -> Result<NetworkRecord> {
    match request.driver.as_deref() {
        None | Some("bridge") => {}
        Some(other) => bail!("unsupported network driver {other:?}: skiff makes bridge networks"),
    }
    let lock = ctx.store.lock()?;
    // As root the bridges are the host's, and other stores (--root) make theirs there too.
    let _host_lock = match ctx.id_mapping {
        None => Some(lock_host_networks()?),
        Some(_) => None,
    };
    let existing = ctx.store.all_networks();
    let name = match chosen_name(request, &existing)? {
        NameChoice::New(name) => name,
        NameChoice::Existing(network) => return Ok(network),
    };
    let subnet = chosen_subnet(request.subnet.as_deref(), &existing, &host_routes())?;
    let (gateway, ip_range) = addresses(request, subnet)?;
    let network = NetworkRecord {
        name,
        id: crate::digest::random_id(),
        driver: "bridge".into(),
        interface: free_interface(&existing),
        created: crate::clock::now_rfc3339(),
        subnet: subnet.to_string(),
        gateway: gateway.to_string(),
        ip_range,
        internal: request.internal,
        labels: request.labels.clone(),
    };
    if ctx.id_mapping.is_none() {
        // Made now, not with its first container, so that the name and the subnet are seen as
        // taken by every other store's next `network create`.
        crate::runtime::bridge::make_bridge(
            None,
            false,
            &network.interface,
            gateway,
            subnet.prefix,
        )?;
    }
    ctx.store.write_network(&lock, &network)?;
    events::record(&ctx.store, Event::network(EventStatus::Create, &network));
    Ok(network)
}

/// The name a new network takes, or the existing network `--ignore` returns.
enum NameChoice {
    New(String),
    Existing(NetworkRecord),
}

/// The name asked for, checked, or the first free `skiffN`.
fn chosen_name(request: &CreateRequest, existing: &[NetworkRecord]) -> Result<NameChoice> {
    let Some(name) = &request.name else {
        let free = (1..)
            .map(|n| format!("skiff{n}"))
            .find(|n| !existing.iter().any(|e| &e.name == n))
            .unwrap_or_default();
        return Ok(NameChoice::New(free));
    };
    if !valid_name(name) || RESERVED_NAMES.contains(&name.as_str()) {
        bail!("network name {name:?} is invalid or reserved: use letters, digits, '_', '.', '-', not host, none, bridge, podman, pasta or slirp4netns");
    }
    if let Some(network) = existing.iter().find(|n| &n.name == name) {
        if request.ignore_existing {
            return Ok(NameChoice::Existing(network.clone()));
        }
        bail!("network name {name} already used: network already exists");
    }
    Ok(NameChoice::New(name.clone()))
}

/// `--subnet`, checked against the other networks and the host's routes, or the first free
/// /24 of Podman's range for new networks (10.89.0.0/24, 10.89.1.0/24, …).
fn chosen_subnet(
    wanted: Option<&str>,
    existing: &[NetworkRecord],
    routes: &[(Subnet, String)],
) -> Result<Subnet> {
    let Some(text) = wanted else {
        let taken: Vec<Subnet> = existing
            .iter()
            .filter_map(|n| Subnet::parse(&n.subnet).ok())
            .chain(routes.iter().map(|(subnet, _)| *subnet))
            .collect();
        return (0..=255u32)
            .map(|n| Subnet {
                base: u32::from(Ipv4Addr::new(10, 89, n as u8, 0)),
                prefix: 24,
            })
            .find(|candidate| !taken.iter().any(|t| t.overlaps(candidate)))
            .ok_or_else(|| anyhow::anyhow!("no free subnet left in 10.89.0.0/16: give --subnet"));
    };
    let subnet = Subnet::parse(text)?;
    if let Some(other) = existing
        .iter()
        .find(|n| Subnet::parse(&n.subnet).is_ok_and(|s| s.overlaps(&subnet)))
    {
        bail!(
            "subnet {subnet} overlaps {} of network {}: choose another --subnet",
            other.subnet,
            other.name
        );
    }
    if let Some((route, device)) = routes.iter().find(|(r, _)| r.overlaps(&subnet)) {
        bail!(
            "subnet {subnet} overlaps {route}, which the host reaches through {device}: choose another --subnet"
        );
    }
    Ok(subnet)
}

/// The gateway (`--gateway`, else the subnet's first host) and `--ip-range` inside `subnet`.
fn addresses(request: &CreateRequest, subnet: Subnet) -> Result<(Ipv4Addr, Option<String>)> {
    if request.gateway.is_some() && request.subnet.is_none() {
        bail!("--gateway needs --subnet");
    }
    if request.ip_range.is_some() && request.subnet.is_none() {
        bail!("--ip-range needs --subnet");
    }
    let gateway = match &request.gateway {
        Some(text) => {
            let gateway: Ipv4Addr = text
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid gateway {text:?}: not an IPv4 address"))?;
            if !subnet.hosts().any(|h| h == gateway) {
                bail!("gateway {gateway} is not a host address of subnet {subnet}");
            }
            gateway
        }
        None => subnet.first_host(),
    };
    let ip_range = match &request.ip_range {
        Some(text) => {
            let range = Subnet::parse(text)?;
            if !subnet.contains(Ipv4Addr::from(range.base)) || range.prefix < subnet.prefix {
                bail!("--ip-range {range} is not inside subnet {subnet}");
            }
            Some(range.to_string())
        }
        None => None,
    };
    Ok((gateway, ip_range))
}

/// The first `skiffN` bridge name no network and no host interface has.
fn free_interface(existing: &[NetworkRecord]) -> String {
    (0..)
        .map(|n| format!("skiff{n}"))
        .find(|i| {
            !existing.iter().any(|e| &e.interface == i)
                && !Path::new("/sys/class/net").join(i).exists()
        })
        .unwrap_or_default()
}

/// Serialises root's network creation across stores: one host, one set of bridges.
fn lock_host_networks() -> Result<std::fs::File> {
    let path = "/run/skiff-networks.lock";
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {path}"))?;
    file.lock().with_context(|| format!("locking {path}"))?;
    Ok(file)
}

/// The IPv4 networks the host routes to, but its default route, with their devices: a new
/// network's subnet must not hide them.
fn host_routes() -> Vec<(Subnet, String)> {
    let table = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    table.lines().skip(1).filter_map(parse_route).collect()
}

/// One line of /proc/net/route: the destination and mask are printed as the kernel's integers,
/// in the host's byte order.
fn parse_route(line: &str) -> Option<(Subnet, String)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let number = |text: &str| u32::from_str_radix(text, 16).ok().map(u32::to_ne_bytes);
    let destination = u32::from(Ipv4Addr::from(number(fields.get(1)?)?));
    let mask = u32::from(Ipv4Addr::from(number(fields.get(7)?)?));
    let prefix = mask.count_ones() as u8;
    (prefix > 0).then(|| {
        (
            Subnet {
                base: destination & mask,
                prefix,
            },
            fields[0].to_string(),
        )
    })
}

/// Containers recorded on the network, by name.
pub fn users(ctx: &Context, network: &str) -> Vec<ContainerRecord> {
    ctx.store
        .all_containers()
        .into_iter()
        .filter(|c| c.networks.contains_key(network))
        .collect()
}

/// An address for a container on `network`: `wanted` (checked to be inside and free), or the
/// lowest free one of the range. Called under the store lock.
pub fn assign_address(
    ctx: &Context,
    network: &NetworkRecord,
    wanted: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    let subnet = Subnet::parse(&network.subnet)?;
    let gateway: Ipv4Addr = network.gateway.parse().context("the network's gateway")?;
    let taken: Vec<Ipv4Addr> = users(ctx, &network.name)
        .iter()
        .filter_map(|c| c.networks.get(&network.name)?.ip.parse().ok())
        .collect();
    if let Some(address) = wanted {
        if !subnet.hosts().any(|h| h == address) {
            bail!(
                "address {address} is outside network {}'s subnet {subnet}",
                network.name
            );
        }
        if address == gateway || taken.contains(&address) {
            bail!(
                "address {address} is already taken on network {}",
                network.name
            );
        }
        return Ok(address);
    }
    let range = match &network.ip_range {
        Some(range) => Subnet::parse(range)?,
        None => subnet,
    };
    range
        .hosts()
        .filter(|a| subnet.contains(*a))
        .find(|a| *a != gateway && !taken.contains(a))
        .ok_or_else(|| anyhow::anyhow!("network {} has no free address left", network.name))
}

/// `network connect`: puts a container on one more network; a running one gets its interface
/// at once.
pub fn connect(
    ctx: &Context,
    network_reference: &str,
    container_reference: &str,
    wanted: Option<Ipv4Addr>,
    aliases: &[String],
) -> Result<()> {
    let network = ctx.store.find_network(network_reference)?;
    let mut record = on_networks(ctx, container_reference, "connect")?;
    if record.networks.contains_key(&network.name) {
        bail!(
            "container {} is already on network {}",
            record.name,
            network.name
        );
    }
    let lock = ctx.store.lock()?;
    let address = assign_address(ctx, &network, wanted)?;
    let interface = record.free_interface();
    record.networks.insert(
        network.name.clone(),
        crate::store::containers::NetworkAttachment {
            ip: address.to_string(),
            aliases: aliases.to_vec(),
            interface,
            mac: None,
        },
    );
    ctx.store.update_container(&lock, &record)?;
    drop(lock);
    let link = Event::network_link(EventStatus::Connect, &record.id, &network.name);
    events::record(&ctx.store, link);
    let state = ctx.store.current_container_state(&record.id);
    if let (crate::store::containers::Status::Running, Some(pid)) = (state.status, state.pid) {
        let attachment = &record.networks[&network.name];
        super::bridges::attach_running(ctx, pid, &network, attachment)?;
    }
    super::bridges::refresh_hosts(ctx, &record, false)
}

/// `network disconnect`: takes a container off a network (not its last one); a running one
/// loses that interface at once.
pub fn disconnect(ctx: &Context, network_reference: &str, container_reference: &str) -> Result<()> {
    let network = ctx.store.find_network(network_reference)?;
    let mut record = on_networks(ctx, container_reference, "disconnect")?;
    let Some(attachment) = record.networks.remove(&network.name) else {
        bail!(
            "container {} is not on network {}",
            record.name,
            network.name
        );
    };
    if record.networks.is_empty() {
        bail!(
            "network {} is container {}'s only network: remove the container instead",
            network.name,
            record.name
        );
    }
    let lock = ctx.store.lock()?;
    ctx.store.update_container(&lock, &record)?;
    drop(lock);
    let link = Event::network_link(EventStatus::Disconnect, &record.id, &network.name);
    events::record(&ctx.store, link);
    let state = ctx.store.current_container_state(&record.id);
    if let (crate::store::containers::Status::Running, Some(pid)) = (state.status, state.pid) {
        crate::runtime::bridge::detach(pid, ctx.id_mapping.is_some(), &attachment.interface)?;
    }
    // The others stop naming it on that network.
    let mut leaving = record.clone();
    leaving.networks = BTreeMap::from([(network.name, attachment)]);
    super::bridges::refresh_hosts(ctx, &leaving, true)
}

/// A container that `connect`/`disconnect` may change: one on user-defined networks.
fn on_networks(ctx: &Context, reference: &str, verb: &str) -> Result<ContainerRecord> {
    let record = ctx.store.find_container(reference)?;
    if record.networks.is_empty() {
        bail!(
            "container {} is not on a user-defined network (its network is {}): only those can {verb}",
            record.name,
            record.network_mode
        );
    }
    Ok(record)
}

/// The ids of the containers on the network `reference` names: `network rm -f` removes them
/// first (`container::cascade::remove_network`).
pub fn containers_on(ctx: &Context, reference: &str) -> Result<Vec<String>> {
    let network = ctx.store.find_network(reference)?;
    Ok(users(ctx, &network.name)
        .into_iter()
        .map(|c| c.id)
        .collect())
}

/// `network rm`: refuses a network containers are on (with `-f`,
/// `container::cascade::remove_network` removes them first).
pub fn remove(ctx: &Context, reference: &str) -> Result<String> {
    let network = ctx.store.find_network(reference)?;
    let on_it = users(ctx, &network.name);
    if !on_it.is_empty() {
        let names: Vec<&str> = on_it.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "network {} is in use by {}: remove them first, or use rm -f to remove them with it",
            network.name,
            names.join(", ")
        );
    }
    let lock = ctx.store.lock()?;
    if !users(ctx, &network.name).is_empty() {
        bail!(
            "network {} gained a container meanwhile: try again",
            network.name
        );
    }
    ctx.store.remove_network(&lock, &network.name)?;
    events::record(&ctx.store, Event::network(EventStatus::Remove, &network));
    super::bridges::remove_bridge(ctx, &network)?;
    Ok(network.name)
}

/// `network prune`: removes every network no container is on that `filters` match (as Podman's:
/// `until=` on when it was created, `label=`/`label!=` on its labels); returns their names. The
/// default network is no record here, so it is never pruned, as in Podman. Every record skiff
/// writes carries its creation time (one without cannot be read, so no prune sees it).
pub fn prune(ctx: &Context, filters: &PruneFilters) -> Result<Vec<String>> {
    let lock = ctx.store.lock()?;
    let mut removed = Vec::new();
    for network in ctx.store.all_networks() {
        if filters.matches(Some(&network.created), &network.labels)
            && users(ctx, &network.name).is_empty()
        {
            ctx.store.remove_network(&lock, &network.name)?;
            events::record(&ctx.store, Event::network(EventStatus::Remove, &network));
            super::bridges::remove_bridge(ctx, &network)?;
            removed.push(network.name);
        }
    }
    Ok(removed)
}

/// `network inspect`: each network `references` names, as [`inspect_json`] shapes it.
pub fn inspect(ctx: &Context, references: &[String]) -> Result<Vec<serde_json::Value>> {
    let mut items = Vec::new();
    for reference in references {
        items.push(inspect_json(&ctx.store.find_network(reference)?));
    }
    Ok(items)
}

/// The `network inspect` JSON, in the shape Podman prints (c/common's `types.Network`, whose
/// `labels`, `options` and `ipam_options` are omitted when empty).
fn inspect_json(network: &NetworkRecord) -> serde_json::Value {
    let lease = network
        .ip_range
        .as_deref()
        .and_then(|r| Subnet::parse(r).ok());
    let mut subnet = serde_json::json!({
        "subnet": network.subnet,
        "gateway": network.gateway,
    });
    if let Some(range) = lease {
        let mut hosts = range.hosts();
        let first = hosts.next();
        subnet["lease_range"] = serde_json::json!({
            "start_ip": first.map(|a| a.to_string()),
            "end_ip": hosts.last().or(first).map(|a| a.to_string()),
        });
    }
    let mut json = serde_json::json!({
        "name": network.name,
        "id": network.id,
        "driver": network.driver,
        "network_interface": network.interface,
        "created": network.created,
        "subnets": [subnet],
        "ipv6_enabled": false,
        "internal": network.internal,
        "dns_enabled": true,
    });
    if !network.labels.is_empty() {
        json["labels"] = serde_json::json!(network.labels);
    }
    json["ipam_options"] = serde_json::json!({"driver": "host-local"});
    json
}

/// The networks `network ls` lists, as `inspect_json` shapes them: the default network, host
/// and none (skiff lists these as Docker does; they have no bridge, subnet or record, so no
/// creation time but `now`), then the user's networks.
pub fn list(ctx: &Context, now: &str) -> Vec<serde_json::Value> {
    let builtin = [
        (DEFAULT_NETWORK, "bridge"),
        ("host", "host"),
        ("none", "null"),
    ];
    let mut networks: Vec<serde_json::Value> = builtin
        .iter()
        .map(|(name, driver)| {
            serde_json::json!({
                "name": name,
                "id": crate::digest::sha256_hex(format!("skiff-network-{name}").as_bytes()),
                "driver": driver,
                "created": now,
                "ipv6_enabled": false,
                "internal": false,
                "dns_enabled": false,
            })
        })
        .collect();
    networks.extend(ctx.store.all_networks().iter().map(inspect_json));
    networks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_subnet_avoids_networks_and_host_routes() {
        let route = (Subnet::parse("10.89.1.0/24").unwrap(), "eth0".to_string());
        let existing = NetworkRecord {
            name: "one".into(),
            id: String::new(),
            driver: "bridge".into(),
            interface: "skiff0".into(),
            created: String::new(),
            subnet: "10.89.0.0/24".into(),
            gateway: "10.89.0.1".into(),
            ip_range: None,
            internal: false,
            labels: BTreeMap::new(),
        };
        let chosen = chosen_subnet(
            None,
            std::slice::from_ref(&existing),
            std::slice::from_ref(&route),
        );
        assert_eq!(chosen.unwrap().to_string(), "10.89.2.0/24");
        let clash = chosen_subnet(Some("10.89.0.128/25"), &[existing], &[]).unwrap_err();
        assert!(clash.to_string().contains("of network one"), "{clash}");
        let routed = chosen_subnet(Some("10.89.1.0/24"), &[], &[route]).unwrap_err();
        assert!(routed.to_string().contains("through eth0"), "{routed}");
        let request = CreateRequest {
            gateway: Some("10.89.0.1".into()),
            ..CreateRequest::default()
        };
        assert!(addresses(&request, Subnet::parse("10.89.0.0/24").unwrap()).is_err());
    }

    #[test]
    fn subnets_parse_and_overlap() {
        let a = Subnet::parse("10.89.0.7/24").unwrap();
        assert_eq!(a.to_string(), "10.89.0.0/24");
        assert!(a.contains("10.89.0.200".parse().unwrap()));
        assert!(a.overlaps(&Subnet::parse("10.89.0.128/25").unwrap()));
        assert!(a.overlaps(&Subnet::parse("10.0.0.0/8").unwrap()));
        assert!(!a.overlaps(&Subnet::parse("10.89.1.0/24").unwrap()));
        assert_eq!(a.hosts().count(), 254);
        for bad in ["10.89.0.0", "10.89.0.0/33", "fd00::/64", "x/24"] {
            assert!(Subnet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_routes_are_read_in_host_byte_order() {
        let destination = u32::from_ne_bytes([192, 0, 2, 0]);
        let mask = u32::from_ne_bytes([255, 255, 255, 0]);
        let line = format!("eth0\t{destination:08X}\t00000000\t0001\t0\t0\t0\t{mask:08X}\t0\t0\t0");
        let (subnet, device) = parse_route(&line).unwrap();
        assert_eq!(
            (subnet.to_string(), device.as_str()),
            ("192.0.2.0/24".into(), "eth0")
        );
        // The default route hides nothing.
        assert!(
            parse_route("eth0\t00000000\t0102000A\t0003\t0\t0\t0\t00000000\t0\t0\t0").is_none()
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("app-net_1.x"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(""));
    }
}
