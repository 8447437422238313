//! What `run` and `create` were asked for, as the operations take it: the command line's raw
//! values (`RunFlags`, filled by the cli from what clap parsed) merged over containers.conf's
//! defaults into typed `CreateOptions`, with the conflicts between flags refused here, once.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use super::capabilities::{capability_names, CapabilitySet};
use super::{key_value_lines, userns};
use crate::config::containers::{ContainersTable, RootlessNetworkCmd};
use crate::config::ContainersConf;
use crate::context::Context;
use crate::network::{self, NetworkRequest};
use crate::runtime::{self};
use crate::store::policies::{LogDriver, RestartPolicy, Signal};
use crate::volume::mounts::{self as mount_flags, MountRequest};

/// What `run` and `create` were asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub image: String,
    /// `--cidfile`: where the container's ID is written.
    pub cidfile: Option<PathBuf>,
    /// `--replace`: a container holding the name is removed first.
    pub replace: bool,
    /// `--pull` and how to pull; None takes the image from the store only.
    pub pull: Option<crate::image::ImagePull>,
    /// Arguments after the image: they replace the image's Cmd.
    pub command: Vec<String>,
    /// `--entrypoint`: replaces the image's Entrypoint and clears its Cmd ("" clears both).
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    /// containers.conf `env`: under the image's environment and `--env`.
    pub default_env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    /// `--env-host`.
    pub env_host: bool,
    /// `--unsetenv`: default variables left out.
    pub unsetenv: Vec<String>,
    /// `--unsetenv-all`.
    pub unsetenv_all: bool,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--sysctl` over containers.conf `default_sysctls` (else Podman's), checked.
    pub sysctls: Vec<(String, String)>,
    /// `--tz`, else containers.conf `tz`: the host's zone file bound at /etc/localtime.
    pub timezone: Option<PathBuf>,
    /// `--shm-size` in bytes.
    pub shm_size: Option<u64>,
    /// `--umask`, else containers.conf `umask`; None for Podman's 0022 (build steps too).
    pub umask: Option<u32>,
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
    pub stop_signal: Option<Signal>,
    pub stop_timeout: Option<u64>,
    pub restart: RestartPolicy,
    pub init: bool,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 are passed on to the container's process.
    pub preserve_fds: u32,
    pub log_driver: LogDriver,
    pub log_max_size: Option<u64>,
    /// `--annotation KEY=VALUE`, in order; a later one wins.
    pub annotations: Vec<(String, String)>,
    /// `--label KEY=VALUE`, in order; a later one wins.
    pub labels: Vec<(String, String)>,
    /// `-v`, `--mount` and `--tmpfs`, in order.
    pub mounts: Vec<MountRequest>,
    /// `--read-only`: the root filesystem is mounted read-only…
    pub read_only: bool,
    /// …with tmpfs on /tmp, /var/tmp and /run unless `--read-only-tmpfs=false`.
    pub read_only_tmpfs: bool,
    pub userns: userns::UsernsMode,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// `--cap-add` and `--cap-drop` over containers.conf's set, else Podman's default one.
    pub capabilities: super::capabilities::CapabilitySet,
    /// The lease id of the build whose step the container runs.
    pub build: Option<String>,
    /// `--ulimit` over containers.conf `default_ulimits`.
    pub rlimits: runtime::Rlimits,
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

/// `--shm-size`, with Podman's words for a bad one.
fn shm_size(text: &str) -> Result<u64> {
    crate::size::parse_size(text)
        .map_err(|_| anyhow::anyhow!("unable to translate --shm-size: invalid size: '{text}'"))
}

/// The host's file for the time zone `zone`: `local` is the host's own zone, any other a name
/// under /usr/share/zoneinfo (not a path out of it).
fn zone_file(zone: &str) -> Result<PathBuf> {
    let path = match zone {
        "local" => PathBuf::from("/etc/localtime"),
        _ if zone.starts_with('/') || zone.split('/').any(|part| part == "..") => {
            bail!("invalid time zone {zone:?}: name one under /usr/share/zoneinfo, or local")
        }
        _ => PathBuf::from("/usr/share/zoneinfo").join(zone),
    };
    match std::fs::canonicalize(&path) {
        Ok(file) if file.is_file() => Ok(file),
        Ok(_) => bail!("{} is not a time zone file", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("stat {}: no such file or directory", path.display())
        }
        Err(e) => bail!("stat {}: {e}", path.display()),
    }
}

/// `--oom-score-adj`, which the kernel takes from -1000 to 1000.
fn oom_score_adj(score: i32) -> Result<i32> {
    if !(-1000..=1000).contains(&score) {
        bail!("invalid value {score} for --oom-score-adj: it must be between -1000 and 1000");
    }
    Ok(score)
}

/// `--annotation KEY=VALUE`s, with Podman's words for one without `=`.
fn annotations(given: &[String]) -> Result<Vec<(String, String)>> {
    given
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((key, value)) => Ok((key.to_string(), value.to_string())),
            None => bail!("annotations must be formatted KEY=VALUE"),
        })
        .collect()
}

/// An umask in octal (`0077`, `77`), as Podman takes it.
fn parse_umask(text: &str) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mask| *mask <= 0o777)
        .ok_or_else(|| anyhow::anyhow!("invalid umask string {text}: invalid argument"))
}

/// `--add-host`, `--dns`, `--dns-search`, `--dns-option` and `--no-hosts` as given: what a
/// container's /etc/hosts and /etc/resolv.conf hold (`run`, `create`, and every RUN step of
/// `build`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HostNameFlags {
    /// Add a line to the container's /etc/hosts resolving NAME to IP (an address: host-gateway is
    /// not resolved yet). Repeatable; ignored with --no-hosts.
    #[arg(long, value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Name server for the container's /etc/resolv.conf (replaces the host's). Repeatable.
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Search domain for /etc/resolv.conf (replaces the host's; "." for none). Repeatable.
    #[arg(long, value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// Resolver option for /etc/resolv.conf, such as ndots:2 (replaces the host's). Repeatable.
    #[arg(long, value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// Keep the image's /etc/hosts instead of generating one with localhost, the container's own
    /// name and --add-host entries (default: containers.conf no_hosts).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub no_hosts: Option<bool>,
}

impl HostNameFlags {
    /// `--no-hosts`, else containers.conf `no_hosts`, which gives way to `--add-host`.
    pub fn no_hosts(&self, conf: &ContainersTable) -> bool {
        self.no_hosts
            .unwrap_or(conf.no_hosts && self.add_host.is_empty())
    }

    pub fn add_hosts(&self) -> Result<Vec<String>> {
        self.add_host
            .iter()
            .map(|h| network::parse_add_host(h))
            .collect()
    }

    /// Each of `--dns`, `--dns-search` and `--dns-option` replaces containers.conf's
    /// `dns_servers`, `dns_searches` and `dns_options` respectively, as in Podman.
    pub fn dns(&self, conf: &ContainersTable) -> Result<network::DnsOptions> {
        let pick =
            |flag: &[String], file: &[String]| if flag.is_empty() { file } else { flag }.to_vec();
        network::DnsOptions::from_flags(
            &pick(&self.dns, &conf.dns_servers),
            &pick(&self.dns_search, &conf.dns_searches),
            &pick(&self.dns_option, &conf.dns_options),
        )
    }
}

/// The flags of `run` and `create` as the command line gave them, before containers.conf's
/// defaults and before any of them is checked. This is each flag's one home: clap reads the
/// command line into it (the doc comments are the help texts), and `create_options` merges it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunFlags {
    /// Assign a name to the container (default: a generated adjective_surname).
    #[arg(long)]
    pub name: Option<String>,
    /// Remove the container, its writable layer and its anonymous volumes once it exits and its
    /// exit code is known (named volumes stay). The container is gone when run returns; a
    /// process of its own deletes its files a moment later.
    #[arg(long)]
    pub rm: bool,
    /// Keep standard input open (otherwise the process reads /dev/null).
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal: the process sees /dev/pts/0 as its terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable (KEY=VALUE; KEY alone takes skiff's own value). Repeatable.
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file of KEY=VALUE lines. Repeatable.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Give the container skiff's whole environment (over the image's; --env-file and --env win).
    #[arg(long)]
    pub env_host: bool,
    /// Leave out a default variable: skiff's (PATH, TERM, container), containers.conf's or the image's (--env still sets it). Repeatable.
    #[arg(long, value_name = "KEY")]
    pub unsetenv: Vec<String>,
    /// Leave out every default variable: the container gets only --env, --env-file and --env-host's.
    #[arg(long)]
    pub unsetenv_all: bool,
    /// The umask of the container's process, in octal (default: containers.conf umask, else 0022).
    #[arg(long, value_name = "MASK")]
    pub umask: Option<String>,
    /// Working directory inside the container (created if missing; default: the image's, else /).
    #[arg(short, long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Run as USER[:GROUP], by name or number, resolved in the container's /etc/passwd and /etc/group.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's ENTRYPOINT (and drop its CMD); "" clears it.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name (default: the first 12 characters of the ID).
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Network: private (pasta, else slirp4netns; containers.conf default_rootless_network_cmd picks one), pasta[:OPTIONS], slirp4netns[:OPTIONS], none, host, container:NAME, ns:PATH. Default: containers.conf netns, else private.
    #[arg(long, visible_alias = "net", value_name = "MODE")]
    pub network: Option<String>,
    /// Publish a container port on the host: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], ranges allowed. Repeatable.
    #[arg(short, long, value_name = "PORT")]
    pub publish: Vec<String>,
    /// Publish every exposed port (the image's and --expose) on a free host port.
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Declare a container port (or range) as exposed: PORT[/tcp|udp]. Repeatable.
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    #[command(flatten)]
    pub names: HostNameFlags,
    /// The container's IPv4 address on its user-defined network (default: the next free one); it
    /// must lie in the network's subnet and be free. Needs --network NAME.
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// Another name the container answers to on its user-defined network. Repeatable.
    #[arg(long = "network-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// Name another container on the same user-defined network here: NAME[:ALIAS]. Repeatable.
    #[arg(long, value_name = "NAME[:ALIAS]")]
    pub link: Vec<String>,
    /// Signal `stop` sends first (default: the image's STOPSIGNAL, else SIGTERM).
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Run a minimal init as pid 1 that reaps orphaned processes and forwards signals to the command (default: containers.conf init).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub init: Option<bool>,
    /// Pass descriptors 3 to 3+N-1 on to the container's process (every other one is closed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Where a detached container's output goes: k8s-file (default), json-file or none.
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log driver option: max-size=SIZE (the log starts over past it). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub log_opt: Vec<String>,
    /// Add an annotation (KEY=VALUE) to the container, shown by inspect. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub annotation: Vec<String>,
    /// Set a label (KEY=VALUE, or KEY for an empty value). Repeatable.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Read labels from a file of KEY=VALUE lines (blank lines and lines starting with # are
    /// skipped). Repeatable.
    #[arg(long = "label-file", value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Mount a host path or a volume: [SOURCE:]DEST[:OPTIONS] (ro, rw, nosuid, nodev, noexec, rbind, bind, O, U, z, Z, [r]shared|[r]slave|[r]private, nocopy). A SOURCE starting with / or . is a host path (./DIR and ../DIR are relative to the working directory), else a volume name; no SOURCE makes an anonymous volume. Repeatable.
    #[arg(short = 'v', long = "volume", value_name = "[SOURCE:]DEST[:OPTIONS]")]
    pub volume: Vec<String>,
    /// Attach a mount: type=bind|volume|tmpfs|image,source=…,target=…[,readonly][,bind-propagation=…][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]. Repeatable.
    #[arg(long = "mount", value_name = "type=TYPE,...")]
    pub mount: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS] (size=, mode=, ro, exec…; default rw,nosuid,nodev,noexec). Repeatable.
    #[arg(long = "tmpfs", value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// User namespace (rootless only): keep-id[:uid=N,gid=N] (your uid and gid inside, so files you make in a bind mount stay yours); nomap (only your subordinate ids, yours left out); auto[:size=N] (N subordinate ids no other auto container has; default: enough for the image's users, at least 1024); host (the default: you are root inside).
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,
    /// Mount the volumes and binds of another container at the same places: CONTAINER[:ro|rw]. Repeatable.
    #[arg(long, value_name = "CONTAINER[:ro|rw]")]
    pub volumes_from: Vec<String>,
    /// Add a host device the user can open: HOST[:CONTAINER[:rw|rwm]]. Repeatable.
    #[arg(long, value_name = "HOST[:CONTAINER[:PERMISSIONS]]")]
    pub device: Vec<String>,
    /// Mount the container's root filesystem read-only: writes fail with EROFS except in volumes,
    /// binds, --tmpfs mounts and (see --read-only-tmpfs) /tmp, /var/tmp and /run.
    #[arg(long)]
    pub read_only: bool,
    /// With --read-only, mount tmpfs on /tmp, /var/tmp and /run (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    pub read_only_tmpfs: bool,
    /// Restart policy, carried out by the container's supervisor: no, on-failure[:N], always, unless-stopped.
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Seconds `stop` waits for the container before killing it (default 10).
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
    /// Add Linux capabilities: NET_ADMIN or CAP_NET_ADMIN, any case, or ALL. A process that does not run as root keeps the added ones in its effective and ambient sets. Repeatable, or comma-separated.
    #[arg(long, value_name = "CAPABILITY", value_delimiter = ',')]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities from the default set (containers.conf default_capabilities, else Podman's); ALL drops every one but those added. Repeatable, or comma-separated.
    #[arg(long, value_name = "CAPABILITY", value_delimiter = ',')]
    pub cap_drop: Vec<String>,
    /// Write the container's ID to FILE, which must not exist yet (it stays after the container goes, as with Podman).
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// If a container with the same --name exists, remove it (stopping it first) and take its name.
    #[arg(long)]
    pub replace: bool,
    /// The container's time zone: a name under /usr/share/zoneinfo (Europe/Berlin), or local for the host's; its file is bound at /etc/localtime (default: containers.conf tz, else the image's).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Set a namespaced kernel setting, KEY=VALUE: net.* (not with --network host), kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*; over containers.conf default_sysctls. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// The container's OOM score adjustment, -1000 to 1000. Rootless, a value below skiff's own is raised to it (the kernel lets only the host's root lower it).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Size of the container's /dev/shm: bytes, or a number with k, m or g (default 64m; 0 for no limit).
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Resource limit NAME=SOFT[:HARD] (nofile, nproc, core, memlock, stack…; -1 for unlimited), over containers.conf default_ulimits; host keeps skiff's own. Rootless, a hard limit above skiff's own is lowered to it. Repeatable.
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Security option: seccomp=unconfined (no system call filter) or seccomp=PROFILE.json (a profile in Docker's format). Default: containers.conf seccomp_profile, else skiff's built-in profile (Podman's decisions). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub security_opt: Vec<String>,
    /// Image to run.
    pub image: String,
    /// Command and arguments; they replace the image's CMD.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// `--pull` (None for never) and the pull's options.
    #[arg(skip)]
    pub pull: Option<crate::image::ImagePull>,
}

/// The command line (`flags`) over the containers.conf skiff loaded: every value parsed and
/// typed, and the flags that contradict each other refused.
pub fn create_options(ctx: &Context, flags: RunFlags) -> Result<CreateOptions> {
    merge_options(flags, &ctx.config.containers)
}

/// `create_options` with containers.conf (`conf`) given.
fn merge_options(flags: RunFlags, conf: &ContainersConf) -> Result<CreateOptions> {
    let defaults = &conf.containers;
    let restart = match &flags.restart {
        Some(text) => {
            let policy: RestartPolicy = text.parse()?;
            if flags.rm && !policy.is_no() {
                bail!("conflicting options: --restart and --rm");
            }
            policy
        }
        None => RestartPolicy::No,
    };
    let log_driver = match (&flags.log_driver, &defaults.log_driver) {
        (Some(driver), _) => driver.parse()?,
        (None, Some(driver)) => driver
            .parse()
            .map_err(anyhow::Error::new)
            .context("containers.conf log_driver")?,
        (None, None) => LogDriver::default(),
    };
    let mut expose = Vec::new();
    for text in &flags.expose {
        expose.extend(network::ports::parse_expose(text)?);
    }
    let network = network_request(flags.network.as_deref(), conf)?;
    let sysctls = super::sysctls::sysctls(
        &flags.sysctl,
        defaults.default_sysctls.as_deref(),
        network == NetworkRequest::Host,
    )?;
    Ok(CreateOptions {
        sysctls,
        mounts: mounts(&flags, defaults)?,
        default_env: defaults.env.to_vec(),
        capabilities: CapabilitySet::merge(
            defaults
                .default_capabilities
                .as_ref()
                .map(|names| capability_names(names))
                .transpose()
                .context("containers.conf default_capabilities")?
                .as_deref(),
            &flags.cap_add,
            &flags.cap_drop,
        )?,
        rlimits: super::ulimits::rlimits(&flags.ulimit, &defaults.default_ulimits)?,
        seccomp: security_opt_seccomp(&flags.security_opt, defaults)?,
        userns: userns::UsernsMode::parse(flags.userns.as_deref().unwrap_or(""))?,
        network,
        publish: flags
            .publish
            .iter()
            .map(|p| network::ports::parse_publish(p))
            .collect::<Result<_>>()?,
        expose,
        add_hosts: flags.names.add_hosts()?,
        no_hosts: flags.names.no_hosts(defaults),
        dns: flags.names.dns(defaults)?,
        links: flags
            .link
            .iter()
            .map(|l| match l.split_once(':') {
                Some((name, alias)) => (name.to_string(), alias.to_string()),
                None => (l.clone(), l.clone()),
            })
            .collect(),
        stop_signal: flags.stop_signal.as_deref().map(str::parse).transpose()?,
        init: flags.init.unwrap_or(defaults.init),
        log_driver,
        log_max_size: log_max_size(&flags.log_opt, defaults)?,
        labels: labels(&flags.label, &flags.label_file)?,
        annotations: annotations(&flags.annotation)?,
        restart,
        read_only: flags.read_only,
        read_only_tmpfs: flags.read_only_tmpfs,
        volumes_from: flags.volumes_from,
        build: None,
        image: flags.image,
        pull: flags.pull,
        command: flags.command,
        entrypoint: flags.entrypoint,
        env: flags.env,
        env_files: flags.env_file,
        workdir: flags.workdir,
        user: flags.user,
        hostname: flags.hostname,
        name: flags.name,
        remove: flags.rm,
        cidfile: flags.cidfile.clone(),
        env_host: flags.env_host,
        oom_score_adj: flags.oom_score_adj.map(oom_score_adj).transpose()?,
        timezone: flags
            .tz
            .as_deref()
            .or(defaults.tz.as_deref())
            .filter(|zone| !zone.is_empty())
            .map(zone_file)
            .transpose()?,
        shm_size: flags.shm_size.as_deref().map(shm_size).transpose()?,
        unsetenv: flags.unsetenv.clone(),
        unsetenv_all: flags.unsetenv_all,
        umask: flags
            .umask
            .as_deref()
            .or(defaults.umask.as_deref())
            .map(parse_umask)
            .transpose()?,
        replace: flags.replace,
        interactive: flags.interactive,
        tty: flags.tty,
        publish_all: flags.publish_all,
        ip: flags.ip,
        network_aliases: flags.network_alias,
        preserve_fds: flags.preserve_fds,
        stop_timeout: flags.stop_timeout,
    })
}

impl CreateOptions {
    /// Docker and Podman drop `-p`/`-P` with `--network host|none` and say so: the warning, for
    /// the caller to print.
    pub fn discarded_ports_warning(&self) -> Option<String> {
        let publishes = !self.publish.is_empty() || self.publish_all;
        let mode = match self.network {
            NetworkRequest::Host => "host",
            NetworkRequest::None => "none",
            _ => return None,
        };
        publishes.then(|| format!("port mappings are discarded with --network {mode}: the container has no network of its own to publish on"))
    }
}

/// `--network`, else containers.conf `netns`, else a private network whose helper is
/// containers.conf `default_rootless_network_cmd` unless the mode names one.
fn network_request(flag: Option<&str>, conf: &ContainersConf) -> Result<NetworkRequest> {
    let mode = flag
        .or(conf.containers.netns.as_deref())
        .unwrap_or("private");
    let mut network = NetworkRequest::parse(mode)?;
    if let NetworkRequest::Private { backend, .. } = &mut network {
        if backend.is_none() {
            *backend = conf
                .network
                .default_rootless_network_cmd
                .map(|cmd| match cmd {
                    RootlessNetworkCmd::Pasta => runtime::NetworkBackend::Pasta,
                    RootlessNetworkCmd::Slirp4netns => runtime::NetworkBackend::Slirp4netns,
                });
        }
    }
    Ok(network)
}

/// containers.conf's volumes, devices and mounts, then `-v`, `--mount`, `--tmpfs` and
/// `--device`: one of containers.conf's that the command line mounts at the same place gives
/// way.
fn mounts(flags: &RunFlags, defaults: &ContainersTable) -> Result<Vec<MountRequest>> {
    let mut mounts = Vec::new();
    for text in &flags.volume {
        mounts.push(mount_flags::parse_volume(text)?);
    }
    for text in &flags.mount {
        mounts.push(mount_flags::parse_mount(text)?);
    }
    for text in &flags.tmpfs {
        mounts.push(mount_flags::parse_tmpfs(text)?);
    }
    for text in &flags.device {
        mounts.push(mount_flags::parse_device(text)?);
    }
    let mut conf_mounts = Vec::new();
    for text in defaults.volumes.iter() {
        conf_mounts.push(mount_flags::parse_volume(text).context("containers.conf volumes")?);
    }
    for text in defaults.devices.iter() {
        conf_mounts.push(mount_flags::parse_device(text).context("containers.conf devices")?);
    }
    for text in defaults.mounts.iter() {
        conf_mounts.push(mount_flags::parse_mount(text).context("containers.conf mounts")?);
    }
    conf_mounts.retain(|d| !mounts.iter().any(|m| m.destination == d.destination));
    conf_mounts.append(&mut mounts);
    Ok(conf_mounts)
}

/// `--log-opt max-size=`, else containers.conf `log_size_max` (negative or zero: no limit).
fn log_max_size(log_opt: &[String], defaults: &ContainersTable) -> Result<Option<u64>> {
    let mut size = None;
    for option in log_opt {
        match option.split_once('=') {
            Some(("max-size", value)) => size = Some(super::detached::parse_size(value)?),
            _ => bail!("unsupported --log-opt {option:?}: skiff knows max-size=SIZE"),
        }
    }
    Ok(size.or(defaults
        .log_size_max
        .and_then(|max| u64::try_from(max).ok())
        .filter(|max| *max > 0)))
}

/// `--label-file` lines, then `--label`s, as (key, value); KEY alone has an empty value.
fn labels(label: &[String], label_file: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let mut lines = Vec::new();
    for file in label_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("reading label file {}: {e}", file.display()))?;
        lines.extend(key_value_lines(&text).map(str::to_string));
    }
    Ok(lines
        .iter()
        .chain(label)
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect())
}

/// The last `--security-opt seccomp=…`, else containers.conf `seccomp_profile`; any other key is
/// refused rather than ignored.
pub fn security_opt_seccomp(
    security_opt: &[String],
    defaults: &ContainersTable,
) -> Result<runtime::seccomp::SeccompPolicy> {
    let mut chosen = None;
    for option in security_opt {
        match option.split_once('=') {
            Some(("seccomp", value)) => chosen = Some(value),
            _ => bail!(
                "unsupported --security-opt {:?}: skiff knows seccomp=unconfined|PROFILE",
                option.split(['=', ':']).next().unwrap_or_default()
            ),
        }
    }
    match (chosen, defaults.seccomp_profile.as_deref()) {
        (Some(value), _) => seccomp_policy(value),
        // As in Podman's containers.conf, an empty path means the built-in profile.
        (None, None | Some("")) => Ok(Default::default()),
        (None, Some(value)) => seccomp_policy(value).context("containers.conf seccomp_profile"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(image: &str) -> RunFlags {
        RunFlags {
            image: image.into(),
            read_only_tmpfs: true,
            ..Default::default()
        }
    }

    #[test]
    fn flags_become_typed_options_over_the_configuration() {
        let mut conf = ContainersConf::default();
        conf.containers.log_driver = Some("json-file".into());
        conf.containers.init = true;
        conf.containers.volumes =
            crate::config::containers::StringList(vec!["/srv:/data".into(), "/opt:/opt".into()]);
        let mut given = flags("app");
        given.restart = Some("on-failure:2".into());
        given.stop_signal = Some("hup".into());
        given.volume = vec!["/tmp:/data".into()];
        let options = merge_options(given, &conf).unwrap();
        assert_eq!(options.restart, RestartPolicy::OnFailure(Some(2)));
        assert_eq!(
            options.stop_signal,
            Some(Signal(nix::sys::signal::Signal::SIGHUP))
        );
        assert_eq!(options.log_driver, LogDriver::JsonFile);
        assert!(options.init);
        let places: Vec<_> = options
            .mounts
            .iter()
            .map(|m| m.destination.as_str())
            .collect();
        assert_eq!(places, ["/opt", "/data"], "the command line's /data wins");
    }

    #[test]
    fn conflicting_and_invalid_flags_are_refused() {
        let conf = ContainersConf::default();
        let mut given = flags("app");
        given.rm = true;
        given.restart = Some("always".into());
        let error = merge_options(given.clone(), &conf).unwrap_err();
        assert_eq!(error.to_string(), "conflicting options: --restart and --rm");
        given.restart = Some("no".into());
        assert!(merge_options(given, &conf).is_ok());
        let mut given = flags("app");
        given.log_driver = Some("journald".into());
        assert!(merge_options(given, &conf).is_err());
        let mut given = flags("app");
        given.stop_signal = Some("NOPE".into());
        assert!(merge_options(given, &conf).is_err());
    }

    #[test]
    fn ports_dropped_by_a_host_network_are_warned_about() {
        let mut given = flags("app");
        given.network = Some("host".into());
        given.publish = vec!["8080:80".into()];
        let options = merge_options(given, &ContainersConf::default()).unwrap();
        assert!(options.discarded_ports_warning().is_some());
    }
}
