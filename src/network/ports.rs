//! Published ports: `-p`, `-P` and `--expose` as Docker reads them, host ports picked and
//! checked before a container starts, and the ways Podman prints them (`ps`, `port`, `inspect`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use anyhow::{bail, Result};

use crate::runtime::{PortMapping, Protocol};

/// A container port (or range) and its protocol: `--expose` and the image's ExposedPorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExposedPort {
    pub port: u16,
    pub protocol: Protocol,
}

impl ExposedPort {
    /// `80/tcp`: the key of Config.ExposedPorts and NetworkSettings.Ports.
    pub fn key(&self) -> String {
        format!("{}/{}", self.port, self.protocol.name())
    }
}

fn parse_protocol(text: &str) -> Result<Protocol> {
    match text.to_ascii_lowercase().as_str() {
        "" | "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        other => bail!("unsupported protocol {other:?}: skiff publishes tcp and udp ports"),
    }
}

/// `80` or `8000-8010`: the first port and how many.
fn parse_port_range(text: &str, whole: &str) -> Result<(u16, u16)> {
    let port = |p: &str| -> Result<u16> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("invalid port {p:?} in {whole:?}: ports are 1 to 65535"),
        }
    };
    match text.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (port(first)?, port(last)?);
            if last < first {
                bail!("invalid port range {text:?} in {whole:?}: it ends before it starts");
            }
            Ok((first, last - first + 1))
        }
        None => Ok((port(text)?, 1)),
    }
}

/// `--expose 80`, `80/udp`, `8000-8010/tcp`, or an image's `80/tcp` key.
pub fn parse_expose(text: &str) -> Result<Vec<ExposedPort>> {
    let (ports, protocol) = text.split_once('/').unwrap_or((text, ""));
    let protocol = parse_protocol(protocol)?;
    let (first, count) = parse_port_range(ports, text)?;
    Ok((0..count)
        .map(|i| ExposedPort {
            port: first + i,
            protocol,
        })
        .collect())
}

/// One `-p` value before host ports are picked: `host_ports` is None for "any free port".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishRequest {
    pub host_ip: Option<IpAddr>,
    pub host_ports: Option<(u16, u16)>,
    pub container_ports: (u16, u16),
    pub protocol: Protocol,
}

/// `-p [ip:][hostPort:]containerPort[/protocol]`, with ranges on either side and IPv6 addresses
/// in brackets (`[::1]:8080:80`).
pub fn parse_publish(text: &str) -> Result<PublishRequest> {
    let (rest, protocol) = match text.rsplit_once('/') {
        Some((rest, protocol)) => (rest, parse_protocol(protocol)?),
        None => (text, Protocol::Tcp),
    };
    let (host_ip, rest) = if let Some(after) = rest.strip_prefix('[') {
        let Some((address, rest)) = after.split_once("]:") else {
            bail!("invalid port {text:?}: an IPv6 address in brackets must be followed by :PORT");
        };
        (Some(address), rest)
    } else {
        match rest.matches(':').count() {
            2 => {
                let (address, rest) = rest.split_once(':').unwrap_or_default();
                (Some(address), rest)
            }
            0 | 1 => (None, rest),
            _ => {
                bail!("invalid port {text:?}: expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]")
            }
        }
    };
    let host_ip = match host_ip.filter(|a| !a.is_empty()) {
        Some(address) => Some(address.parse::<IpAddr>().map_err(|_| {
            anyhow::anyhow!("invalid port {text:?}: {address:?} is not an IP address")
        })?),
        None => None,
    };
    let (host_ports, container_ports) = match rest.split_once(':') {
        Some((host, container)) => (
            (!host.is_empty())
                .then(|| parse_port_range(host, text))
                .transpose()?,
            parse_port_range(container, text)?,
        ),
        None => (None, parse_port_range(rest, text)?),
    };
    if let Some((_, host_count)) = host_ports {
        if host_count != container_ports.1 && container_ports.1 != 1 {
            bail!("invalid port {text:?}: the host and container ranges differ in length");
        }
    }
    Ok(PublishRequest {
        host_ip: host_ip.filter(|ip| !ip.is_unspecified() || ip.is_ipv6()),
        host_ports,
        container_ports,
        protocol,
    })
}

/// A free port on the host for `protocol`, as the kernel picks one.
fn free_host_port(host_ip: Option<IpAddr>, protocol: Protocol) -> Result<u16> {
    let address = SocketAddr::new(host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), 0);
    let port = match protocol {
        Protocol::Tcp => TcpListener::bind(address).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind(address).and_then(|s| s.local_addr()),
    }
    .map_err(|e| anyhow::anyhow!("finding a free host port on {}: {e}", address.ip()))?
    .port();
    Ok(port)
}

/// Turns `-p` requests, and with `publish_all` every exposed port not already published, into
/// mappings: ports left to the host get a free one now, so they stay the same across restarts.
pub fn assign(
    requests: &[PublishRequest],
    exposed: &[ExposedPort],
    publish_all: bool,
) -> Result<Vec<PortMapping>> {
    let mut mappings = Vec::new();
    for request in requests {
        let (container_first, count) = request.container_ports;
        match request.host_ports {
            // A host range for one container port: the first port of it that is free.
            Some((host_first, host_count)) if count == 1 && host_count > 1 => {
                let candidates = host_first..=host_first.saturating_add(host_count - 1);
                let Some(host_port) = candidates
                    .clone()
                    .find(|&port| bind_check(request.host_ip, port, request.protocol).is_ok())
                else {
                    bail!(
                        "no free host port in {}-{} for container port {container_first}",
                        host_first,
                        host_first.saturating_add(host_count - 1)
                    );
                };
                mappings.push(PortMapping {
                    host_ip: request.host_ip,
                    host_port,
                    container_port: container_first,
                    protocol: request.protocol,
                });
            }
            _ => {
                for i in 0..count {
                    let host_port = match request.host_ports {
                        Some((host_first, _)) => host_first
                            .checked_add(i)
                            .ok_or_else(|| anyhow::anyhow!("host port range goes past 65535"))?,
                        None => free_host_port(request.host_ip, request.protocol)?,
                    };
                    mappings.push(PortMapping {
                        host_ip: request.host_ip,
                        host_port,
                        container_port: container_first + i,
                        protocol: request.protocol,
                    });
                }
            }
        }
    }
    if publish_all {
        for port in exposed {
            let published = mappings
                .iter()
                .any(|m| m.container_port == port.port && m.protocol == port.protocol);
            if !published {
                mappings.push(PortMapping {
                    host_ip: None,
                    host_port: free_host_port(None, port.protocol)?,
                    container_port: port.port,
                    protocol: port.protocol,
                });
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for mapping in &mappings {
        if !seen.insert((mapping.host_port, mapping.protocol)) {
            bail!(
                "host port {}/{} is published twice",
                mapping.host_port,
                mapping.protocol.name()
            );
        }
    }
    Ok(mappings)
}

/// Binds the host side of a mapping for a moment, which is what the network helper will do.
fn bind_check(host_ip: Option<IpAddr>, port: u16, protocol: Protocol) -> std::io::Result<()> {
    let address = SocketAddr::new(host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
    match protocol {
        Protocol::Tcp => TcpListener::bind(address).map(drop),
        Protocol::Udp => UdpSocket::bind(address).map(drop),
    }
}

/// Checks, before a container starts, that every host port it publishes can be bound: a port in
/// use is an error naming it, not a container that silently lacks it.
pub fn check_free(mappings: &[PortMapping]) -> Result<()> {
    for mapping in mappings {
        let address = mapping
            .host_ip
            .map_or("0.0.0.0".to_string(), |ip| ip.to_string());
        let shown = format!(
            "{address}:{}/{}",
            mapping.host_port,
            mapping.protocol.name()
        );
        match bind_check(mapping.host_ip, mapping.host_port, mapping.protocol) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
                "cannot publish {shown}: the address is already in use; stop what listens there or publish another host port (-p OTHER:{})",
                mapping.container_port
            ),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => bail!(
                "cannot publish {shown}: ports below {} need root; publish a higher host port (-p 8080:{}) or lower net.ipv4.ip_unprivileged_port_start",
                unprivileged_port_start(),
                mapping.container_port
            ),
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => bail!(
                "cannot publish {shown}: {address} is not an address of this host"
            ),
            Err(e) => bail!("cannot publish {shown}: {e}"),
        }
    }
    Ok(())
}

fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

fn shown_host_ip(mapping: &PortMapping) -> String {
    mapping
        .host_ip
        .map_or("0.0.0.0".to_string(), |ip| ip.to_string())
}

/// Mappings with consecutive host and container ports folded into (first, count) ranges.
fn port_ranges(mappings: &[PortMapping]) -> Vec<(&PortMapping, u16)> {
    let mut sorted: Vec<&PortMapping> = mappings.iter().collect();
    sorted.sort_by_key(|m| (m.protocol, m.host_ip, m.container_port));
    let mut groups: Vec<(&PortMapping, u16)> = Vec::new();
    for mapping in sorted {
        if let Some((first, count)) = groups.last_mut() {
            let follows = first.protocol == mapping.protocol
                && first.host_ip == mapping.host_ip
                && u32::from(first.container_port) + u32::from(*count)
                    == u32::from(mapping.container_port)
                && u32::from(first.host_port) + u32::from(*count) == u32::from(mapping.host_port);
            if follows {
                *count += 1;
                continue;
            }
        }
        groups.push((mapping, 1));
    }
    groups
}

/// The PORTS column of `ps`: `0.0.0.0:8080->80/tcp`, consecutive ports folded into ranges
/// (`0.0.0.0:9000-9001->7000-7001/tcp`), sorted as Podman sorts them.
pub fn ps_column(mappings: &[PortMapping]) -> String {
    let mut shown: Vec<String> = port_ranges(mappings)
        .iter()
        .map(|(m, count)| {
            let range = |first: u16| match count {
                1 => first.to_string(),
                n => format!("{first}-{}", first + (n - 1)),
            };
            format!(
                "{}:{}->{}/{}",
                shown_host_ip(m),
                range(m.host_port),
                range(m.container_port),
                m.protocol.name()
            )
        })
        .collect();
    shown.sort();
    shown.join(", ")
}

/// The Ports of `ps --format json`, as Podman lists them: null when there are none.
pub fn ps_json(mappings: &[PortMapping]) -> serde_json::Value {
    if mappings.is_empty() {
        return serde_json::Value::Null;
    }
    port_ranges(mappings)
        .iter()
        .map(|(m, count)| {
            serde_json::json!({
                "host_ip": m.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                "container_port": m.container_port,
                "host_port": m.host_port,
                "range": count,
                "protocol": m.protocol.name(),
            })
        })
        .collect()
}

/// `port CTR`: `80/tcp -> 0.0.0.0:8080` lines; with a port (`80`, `80/udp`) only its host
/// addresses, `0.0.0.0:8080`.
pub fn port_lines(mappings: &[PortMapping], asked: Option<&str>) -> Result<Vec<String>> {
    let Some(asked) = asked else {
        return Ok(mappings
            .iter()
            .map(|m| {
                format!(
                    "{}/{} -> {}:{}",
                    m.container_port,
                    m.protocol.name(),
                    shown_host_ip(m),
                    m.host_port
                )
            })
            .collect());
    };
    let wanted = parse_expose(asked)?;
    let lines: Vec<String> = mappings
        .iter()
        .filter(|m| {
            wanted
                .iter()
                .any(|w| w.port == m.container_port && w.protocol == m.protocol)
        })
        .map(|m| format!("{}:{}", shown_host_ip(m), m.host_port))
        .collect();
    if lines.is_empty() {
        bail!("failed to find published port {asked:?}");
    }
    Ok(lines)
}

/// NetworkSettings.Ports and HostConfig.PortBindings of `inspect`: every exposed or published
/// container port, with its host bindings or null.
pub fn inspect_bindings(mappings: &[PortMapping], exposed: &[ExposedPort]) -> serde_json::Value {
    let mut bindings: BTreeMap<String, serde_json::Value> = exposed
        .iter()
        .map(|port| (port.key(), serde_json::Value::Null))
        .collect();
    for mapping in mappings {
        let key = format!("{}/{}", mapping.container_port, mapping.protocol.name());
        let entry = serde_json::json!({
            "HostIp": mapping.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            "HostPort": mapping.host_port.to_string(),
        });
        match bindings.get_mut(&key) {
            Some(serde_json::Value::Array(list)) => list.push(entry),
            _ => {
                bindings.insert(key, serde_json::Value::Array(vec![entry]));
            }
        }
    }
    serde_json::to_value(bindings).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> PublishRequest {
        parse_publish(text).unwrap()
    }

    #[test]
    fn publish_values_read_as_docker_reads_them() {
        assert_eq!(
            request("8080:80"),
            PublishRequest {
                host_ip: None,
                host_ports: Some((8080, 1)),
                container_ports: (80, 1),
                protocol: Protocol::Tcp
            }
        );
        let r = request("127.0.0.1:5353:53/udp");
        assert_eq!(r.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(r.protocol, Protocol::Udp);
        assert_eq!(request("80").host_ports, None);
        assert_eq!(request("127.0.0.1::80").host_ports, None);
        assert_eq!(request("0.0.0.0:8080:80").host_ip, None);
        let r = request("[::1]:8080:80");
        assert_eq!(r.host_ip, Some("::1".parse().unwrap()));
        let r = request("8000-8010:9000-9010");
        assert_eq!(
            (r.host_ports, r.container_ports),
            (Some((8000, 11)), (9000, 11))
        );
        for bad in [
            "0:80",
            "70000:80",
            "8000-8001:80-82",
            "a:b:c:d",
            "x.y:80:80",
            "80/sctp",
            "90-80",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_expand_and_random_ports_are_picked() {
        let mappings = assign(&[request("18000-18001:7000-7001")], &[], false).unwrap();
        assert_eq!(
            mappings
                .iter()
                .map(|m| (m.host_port, m.container_port))
                .collect::<Vec<_>>(),
            vec![(18000, 7000), (18001, 7001)]
        );
        let exposed = parse_expose("5000-5001").unwrap();
        let mappings = assign(&[request("5000")], &exposed, true).unwrap();
        assert_eq!(mappings.len(), 2);
        assert!(mappings.iter().all(|m| m.host_port > 0));
        assert!(assign(&[request("9000:80"), request("9000:81")], &[], false).is_err());
    }

    #[test]
    fn ps_folds_ranges_and_sorts_like_podman() {
        let mut mappings = assign(&[request("9000-9001:7000-7001")], &[], false).unwrap();
        mappings.extend(assign(&[request("18080:80")], &[], false).unwrap());
        mappings.extend(assign(&[request("127.0.0.1:18443:443/udp")], &[], false).unwrap());
        assert_eq!(
            ps_column(&mappings),
            "0.0.0.0:18080->80/tcp, 0.0.0.0:9000-9001->7000-7001/tcp, 127.0.0.1:18443->443/udp"
        );
        assert_eq!(
            port_lines(&mappings, Some("443/udp")).unwrap(),
            vec!["127.0.0.1:18443"]
        );
        assert_eq!(
            port_lines(&mappings, None).unwrap()[0],
            "7000/tcp -> 0.0.0.0:9000"
        );
        assert!(port_lines(&mappings, Some("1234")).is_err());
        let bindings = inspect_bindings(&mappings, &parse_expose("6000").unwrap());
        assert_eq!(bindings["6000/tcp"], serde_json::Value::Null);
        assert_eq!(
            bindings["80/tcp"],
            serde_json::json!([{"HostIp": "", "HostPort": "18080"}])
        );
    }
}
