//! What `run` and `create` were asked for, as the operations take it.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::userns;
use crate::network::{self, NetworkRequest};
use crate::runtime::{self};

/// What `run` and `create` were asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    /// Arguments after the image: they replace the image's Cmd.
    pub command: Vec<String>,
    /// `--entrypoint`: replaces the image's Entrypoint and clears its Cmd ("" clears both).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    /// containers.conf `env`: under the image's environment and `--env`.
    pub default_env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub name: Option<String>,
    pub remove: bool,
    pub interactive: bool,
    pub tty: bool,
    pub network: NetworkRequest,
    /// `-p`, as parsed; host ports are picked when the container is created.
    pub publish: Vec<network::ports::PublishRequest>,
    /// `-P`: every exposed port gets a free host port.
    pub publish_all: bool,
    /// `--expose`, on top of the image's ExposedPorts.
    pub expose: Vec<network::ports::ExposedPort>,
    /// `--add-host`, as /etc/hosts lines.
    pub add_hosts: Vec<String>,
    /// `--no-hosts`: keep the image's /etc/hosts.
    pub no_hosts: bool,
    pub dns: network::DnsOptions,
    /// `--ip`: the container's address on its user-defined network.
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--network-alias`: more names it answers to there.
    pub network_aliases: Vec<String>,
    /// `--link NAME[:ALIAS]`: (container, alias) pairs named in its /etc/hosts.
    pub links: Vec<(String, String)>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub restart: Option<String>,
    pub init: bool,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 are passed on to the container's process.
    pub preserve_fds: u32,
    pub log_driver: Option<String>,
    pub log_max_size: Option<u64>,
    /// `--label KEY=VALUE`, in order; a later one wins.
    pub labels: Vec<(String, String)>,
    /// `-v`, `--mount` and `--tmpfs`, in order.
    pub mounts: Vec<crate::volume::mounts::MountRequest>,
    /// `--read-only`: the root filesystem is mounted read-only…
    pub read_only: bool,
    /// …with tmpfs on /tmp, /var/tmp and /run unless `--read-only-tmpfs=false`.
    pub read_only_tmpfs: bool,
    pub userns: userns::UsernsMode,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// The capability set (`CAP_…` names) in place of Podman's default one.
    pub capabilities: Option<Vec<String>>,
    /// The lease id of the build whose step the container runs.
    pub build: Option<String>,
    /// `--security-opt seccomp=…`, else containers.conf `seccomp_profile`, else the default.
    pub seccomp: runtime::seccomp::SeccompPolicy,
}

/// `seccomp=VALUE` of `--security-opt` or containers.conf `seccomp_profile`: `unconfined`, or
/// the path of a profile in Docker's JSON format, read and checked now.
pub fn seccomp_policy(value: &str) -> Result<runtime::seccomp::SeccompPolicy> {
    use runtime::seccomp::SeccompPolicy;
    match value {
        "unconfined" => Ok(SeccompPolicy::Unconfined),
        "" => bail!("seccomp needs a value: unconfined or the path of a profile"),
        path => SeccompPolicy::from_file(path).map_err(anyhow::Error::msg),
    }
}

/// Capability names as containers.conf writes them (`CHOWN` or `CAP_CHOWN`, any case), checked
/// and spelled `CAP_CHOWN`.
pub fn capability_names(names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .map(|name| {
            let upper = name.trim().to_ascii_uppercase();
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            full.parse::<caps::Capability>()
                .map(|cap| cap.to_string())
                .map_err(|_| anyhow::anyhow!("unknown capability {name:?}"))
        })
        .collect()
}
