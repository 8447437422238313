//! What `--network`, `-p` and the DNS flags mean for a container: the mode asked for, the ports
//! it publishes, its generated /etc/hosts and /etc/resolv.conf, and the network its process
//! joins when it starts.

pub mod bridges;
pub mod manage;
pub mod ports;

use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::runtime::NetworkBackend;

/// `--network` as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkRequest {
    /// A private network namespace with outbound access: `private`, `bridge`, `pasta[:OPTIONS]`,
    /// `slirp4netns[:OPTIONS]`; `backend` None picks pasta, else slirp4netns.
    Private {
        backend: Option<NetworkBackend>,
        options: Vec<String>,
    },
    None,
    Host,
    /// `container:NAME`: the other container's network namespace.
    Container(String),
    /// `ns:PATH`: a network namespace file.
    Namespace(PathBuf),
    /// A user-defined network, by name or ID (`network create`).
    Named(String),
}

impl NetworkRequest {
    /// Whose network namespace the container joins when it is not its own, as Podman names
    /// it: `host`, `container`, `path`.
    pub fn shared_namespace(&self) -> Option<&'static str> {
        match self {
            NetworkRequest::Host => Some("host"),
            NetworkRequest::Container(_) => Some("container"),
            NetworkRequest::Namespace(_) => Some("path"),
            NetworkRequest::Private { .. } | NetworkRequest::None | NetworkRequest::Named(_) => {
                None
            }
        }
    }
}

impl Default for NetworkRequest {
    fn default() -> Self {
        NetworkRequest::Private {
            backend: None,
            options: Vec::new(),
        }
    }
}

impl NetworkRequest {
    pub fn parse(text: &str) -> Result<Self> {
        let (mode, options) = match text.split_once(':') {
            Some((mode, options)) => (mode, Some(options)),
            None => (text, None),
        };
        let options_list = || -> Vec<String> {
            options
                .unwrap_or_default()
                .split(',')
                .filter(|o| !o.is_empty())
                .map(str::to_string)
                .collect()
        };
        let no_options = |request: NetworkRequest| match options {
            Some(_) => bail!("network mode {mode:?} takes no options: {text:?}"),
            None => Ok(request),
        };
        match mode {
            "private" | "bridge" | "default" | "" | manage::DEFAULT_NETWORK => no_options(NetworkRequest::Private {
                backend: None,
                options: Vec::new(),
            }),
            "pasta" | "slirp4netns" => {
                let backend = if mode == "pasta" {
                    NetworkBackend::Pasta
                } else {
                    NetworkBackend::Slirp4netns
                };
                let options = options_list();
                crate::runtime::network::check_options(backend, &options)?;
                Ok(NetworkRequest::Private {
                    backend: Some(backend),
                    options,
                })
            }
            "none" => no_options(NetworkRequest::None),
            "host" => no_options(NetworkRequest::Host),
            "container" => match options {
                Some(name) if !name.is_empty() => Ok(NetworkRequest::Container(name.to_string())),
                _ => bail!("--network container: needs a container name or ID: container:NAME"),
            },
            "ns" => match options {
                Some(path) if path.starts_with('/') => {
                    Ok(NetworkRequest::Namespace(PathBuf::from(path)))
                }
                _ => bail!("--network ns: needs an absolute path: ns:/run/netns/NAME"),
            },
            name if options.is_none() => Ok(NetworkRequest::Named(name.to_string())),
            other => bail!(
                "unknown network mode {other:?}: use private (default), pasta, slirp4netns, none, host, container:NAME, ns:PATH or a network's name"
            ),
        }
    }
}

/// `--add-host NAME:IP` (Docker also takes `NAME=IP`): the /etc/hosts line it adds.
/// `--mac-address`: six hex octets separated by `:` or `-`, as lowercase `aa:bb:cc:dd:ee:ff`.
/// An address no interface may take (all zeros, or multicast: the low bit of the first octet)
/// is refused, as the kernel would refuse it once the container had started.
pub fn parse_mac_address(text: &str) -> Result<String> {
    let octets: Vec<Option<u8>> = text
        .split([':', '-'])
        .map(|octet| {
            (octet.len() == 2)
                .then(|| u8::from_str_radix(octet, 16).ok())
                .flatten()
        })
        .collect();
    let octets: Vec<u8> = match octets.iter().copied().collect::<Option<Vec<u8>>>() {
        Some(octets) if octets.len() == 6 => octets,
        _ => anyhow::bail!(
            "invalid --mac-address {text:?}: expected six hex octets, such as 92:d0:c6:0a:29:33"
        ),
    };
    if octets.iter().all(|o| *o == 0) || octets[0] & 1 == 1 {
        anyhow::bail!("invalid --mac-address {text:?}: an interface cannot take a zero or multicast address (the first octet must be even)");
    }
    Ok(octets
        .iter()
        .map(|o| format!("{o:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

pub fn parse_add_host(text: &str) -> Result<String> {
    let split = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .filter(|(name, _)| !name.is_empty());
    let Some((name, address)) = split else {
        bail!("invalid --add-host {text:?}: expected NAME:IP");
    };
    if address == "host-gateway" {
        bail!("invalid --add-host {text:?}: skiff does not resolve host-gateway yet; give the address");
    }
    let address = address.trim_start_matches('[').trim_end_matches(']');
    if address.parse::<std::net::IpAddr>().is_err() {
        bail!("invalid --add-host {text:?}: {address:?} is not an IP address");
    }
    Ok(format!("{address}\t{name}"))
}

/// The container's /etc/hosts: loopback names (or the host's file for the host network), the
/// `--add-host` lines, and its own host name, name and short ID.
pub fn hosts_file(
    host_network: bool,
    added: &[String],
    hostname: &str,
    name: &str,
    id: &str,
) -> String {
    let mut text = String::new();
    if host_network {
        text.push_str(&std::fs::read_to_string("/etc/hosts").unwrap_or_default());
    } else {
        text.push_str(
            "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n",
        );
        text.push_str("::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n");
    }
    for line in added {
        text.push_str(line);
        text.push('\n');
    }
    let mut own: Vec<&str> = Vec::new();
    for n in [hostname, name, &id[..12]] {
        if !n.is_empty() && !own.contains(&n) {
            own.push(n);
        }
    }
    text.push_str(&format!("127.0.1.1\t{}\n", own.join(" ")));
    text
}

/// `--dns`, `--dns-search`, `--dns-option`: each replaces the matching lines of the base file.
#[derive(Debug, Clone, Default)]
pub struct DnsOptions {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl DnsOptions {
    /// From `--dns`, `--dns-search` and `--dns-option`, checked.
    pub fn from_flags(servers: &[String], search: &[String], options: &[String]) -> Result<Self> {
        let dns = DnsOptions {
            servers: servers.to_vec(),
            search: search.to_vec(),
            options: options.to_vec(),
        };
        dns.check()?;
        Ok(dns)
    }

    fn check(&self) -> Result<()> {
        for server in &self.servers {
            if server.parse::<std::net::IpAddr>().is_err() {
                bail!("invalid --dns {server:?}: a name server is an IP address");
            }
        }
        Ok(())
    }

    /// Applies the options to a resolv.conf text.
    pub fn apply(&self, base: &str) -> String {
        let mut text = String::new();
        let mut servers = Vec::new();
        for line in base.lines() {
            let trimmed = line.trim();
            let kind = trimmed.split_whitespace().next().unwrap_or_default();
            let kept = match kind {
                "nameserver" => self.servers.is_empty(),
                "search" | "domain" => self.search.is_empty(),
                "options" => self.options.is_empty(),
                _ => false,
            };
            if kept && kind == "nameserver" {
                servers.push(trimmed.to_string());
            } else if kept {
                text.push_str(trimmed);
                text.push('\n');
            }
        }
        if !self.search.is_empty() && self.search != ["."] {
            text.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        if !self.options.is_empty() {
            text.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        servers.extend(self.servers.iter().map(|s| format!("nameserver {s}")));
        for server in servers {
            text.push_str(&server);
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mac_addresses_are_checked_and_written_one_way() {
        assert_eq!(
            super::parse_mac_address("92-D0-C6-0A-29-33").unwrap(),
            "92:d0:c6:0a:29:33"
        );
        for bad in [
            "92:d0:c6:0a:29",
            "92:d0:c6:0a:29:3",
            "92:d0:c6:0a:29:zz",
            "00:00:00:00:00:00",
            "01:00:5e:00:00:01",
        ] {
            assert!(super::parse_mac_address(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn network_modes_parse() {
        assert_eq!(
            NetworkRequest::parse("slirp4netns:allow_host_loopback=true,mtu=1500").unwrap(),
            NetworkRequest::Private {
                backend: Some(NetworkBackend::Slirp4netns),
                options: vec!["allow_host_loopback=true".into(), "mtu=1500".into()]
            }
        );
        assert_eq!(
            NetworkRequest::parse("container:db").unwrap(),
            NetworkRequest::Container("db".into())
        );
        assert_eq!(
            NetworkRequest::parse("ns:/run/netns/x").unwrap(),
            NetworkRequest::Namespace("/run/netns/x".into())
        );
        for bad in [
            "none:x",
            "container:",
            "ns:relative",
            "slirp4netns:bogus=1",
            "nonexistent:x",
        ] {
            assert!(NetworkRequest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts_and_resolv_follow_the_flags() {
        let added = vec![parse_add_host("db:10.0.0.5").unwrap()];
        let hosts = hosts_file(false, &added, "box", "web", "0123456789abcdef");
        assert!(hosts.contains("10.0.0.5\tdb\n"), "{hosts}");
        assert!(
            hosts.ends_with("127.0.1.1\tbox web 0123456789ab\n"),
            "{hosts}"
        );
        assert!(parse_add_host("db").is_err());
        assert!(parse_add_host("db:notanip").is_err());

        let base = "search corp\noptions ndots:2\nnameserver 10.1.1.1\n";
        let dns = DnsOptions {
            servers: vec!["9.9.9.9".into()],
            search: vec![],
            options: vec!["timeout:1".into()],
        };
        assert_eq!(
            dns.apply(base),
            "search corp\noptions timeout:1\nnameserver 9.9.9.9\n"
        );
        assert_eq!(DnsOptions::default().apply(base), base);
    }
}
