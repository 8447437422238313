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

mod flags;
mod namespaces;
mod process;
mod resources;
mod security;
mod systemd;

pub use flags::{HostNameFlags, RunFlags};
pub use namespaces::{NamespaceRequests, Sharing};
use process::{chrootdirs, group_add, init_path, oom_score_adj, shm_size, timezone, umask};
pub use resources::Resources;
pub use security::Confinement;
pub use systemd::{SdNotifyMode, SystemdMode};

/// What a container's image VOLUMEs become (`--image-volume`, Podman's modes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ImageVolume {
    /// An anonymous volume each, seeded with the image's files.
    #[default]
    Bind,
    /// An empty tmpfs each.
    Tmpfs,
    /// Nothing: the paths stay the image's directories.
    Ignore,
}

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
    /// `--env-merge KEY=VALUE`: the default variable rewritten from its value.
    pub env_merge: Vec<String>,
    /// `--http-proxy` (containers.conf `http_proxy`, true when unset).
    pub http_proxy: bool,
    /// `--unsetenv`: default variables left out.
    pub unsetenv: Vec<String>,
    /// `--unsetenv-all`.
    pub unsetenv_all: bool,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--personality`.
    pub personality: Option<runtime::Personality>,
    /// `--pidfile`.
    pub pidfile: Option<PathBuf>,
    /// `--conmon-pidfile`.
    pub conmon_pidfile: Option<PathBuf>,
    /// `--requires`, as given (names or ids).
    pub requires: Vec<String>,
    /// `--timeout`, in seconds (None or 0: none).
    pub timeout: Option<u32>,
    /// `--image-volume`: what the image's VOLUMEs become.
    pub image_volume: ImageVolume,
    /// `--pid`, `--ipc`, `--uts` and `--cgroupns`.
    pub namespaces: NamespaceRequests,
    /// `--memory`, `--cpus` and the other cgroup flags.
    pub resources: Resources,
    /// `--rootfs`: the directory `image` names is the root, and no image is used.
    pub root_directory: Option<runtime::RootDirectory>,
    /// `--hostuser`, `--passwd`, `--passwd-entry` and `--group-entry`.
    pub user_entries: super::etc_users::UserEntries,
    /// `--rmi` (which implies `--rm`).
    pub remove_image: bool,
    /// `--group-add` (names resolved in the container; `keep-groups` alone).
    pub group_add: Vec<String>,
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
    /// `-a`: the streams a foreground run leaves unconnected (none without `-a`).
    pub unattached: Vec<runtime::StdStream>,
    /// `--sig-proxy` (true unless given false).
    pub sig_proxy: bool,
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
    /// `--ip6` (refused when the container is planned: no network of skiff's has IPv6).
    pub ip6: Option<std::net::Ipv6Addr>,
    /// `--mac-address`, checked and in lowercase.
    pub mac_address: Option<String>,
    /// `--network-alias`: more names it answers to there.
    pub network_aliases: Vec<String>,
    /// `--link NAME[:ALIAS]`: (container, alias) pairs named in its /etc/hosts.
    pub links: Vec<(String, String)>,
    pub stop_signal: Option<Signal>,
    pub stop_timeout: Option<u64>,
    pub restart: RestartPolicy,
    pub init: bool,
    /// `--chrootdirs`: directories in the container that get the network's /etc files too.
    pub chrootdirs: Vec<String>,
    /// `--init-path`, else containers.conf `init_path`: a host program to be the init in place of
    /// skiff's own.
    pub init_path: Option<PathBuf>,
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
    /// `--privileged` and `--security-opt`.
    pub confinement: security::Confinement,
    /// `--systemd`.
    pub systemd: SystemdMode,
    /// `--sdnotify`.
    pub sdnotify: SdNotifyMode,
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

/// `-a STREAM`s: the streams they leave out (none when no `-a` is given), with Podman's words
/// for a stream it does not know. With `-t` the terminal carries every stream the process
/// has: one it would leave out is refused, not ignored.
fn unattached_streams(flags: &RunFlags) -> Result<Vec<runtime::StdStream>> {
    let left_out = streams_left_out(&flags.attach)?;
    let carried =
        |stream: &runtime::StdStream| *stream != runtime::StdStream::Stdin || flags.interactive;
    if flags.tty && left_out.iter().any(carried) {
        bail!("-a with -t: the terminal carries stdin (with -i), stdout and stderr together, so none of them can be left out; attach them all, or drop -t");
    }
    Ok(left_out)
}

fn streams_left_out(given: &[String]) -> Result<Vec<runtime::StdStream>> {
    use runtime::StdStream;
    let mut named = Vec::new();
    for stream in given {
        named.push(match stream.to_ascii_lowercase().as_str() {
            "stdin" => StdStream::Stdin,
            "stdout" => StdStream::Stdout,
            "stderr" => StdStream::Stderr,
            _ => bail!("invalid stream {stream:?} for --attach - must be one of stdin, stdout, or stderr: invalid argument"),
        });
    }
    Ok(match named.is_empty() {
        true => Vec::new(),
        false => [StdStream::Stdin, StdStream::Stdout, StdStream::Stderr]
            .into_iter()
            .filter(|stream| !named.contains(stream))
            .collect(),
    })
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

/// The command line (`flags`) over the containers.conf skiff loaded: every value parsed and
/// typed, and the flags that contradict each other refused.
pub fn create_options(ctx: &Context, flags: RunFlags) -> Result<CreateOptions> {
    let options = merge_options(flags, &ctx.config.containers)?;
    let rules = options
        .resources
        .cgroup
        .as_ref()
        .map(|c| c.device_rules.len());
    if Context::rootless() && rules.unwrap_or(0) > 0 {
        // Podman's words: a user namespace cannot open the nodes such a rule would allow.
        bail!("device cgroup rules are not supported in rootless mode or in a user namespace");
    }
    Ok(options)
}

/// `--userns`, or `--uidmap`/`--gidmap`, or `--subuidname`/`--subgidname`: one of the three.
fn userns_mode(flags: &RunFlags) -> Result<userns::UsernsMode> {
    let maps = userns::parse_id_maps(&flags.uidmap, &flags.gidmap)?;
    let named = flags.subuidname.is_some() || flags.subgidname.is_some();
    match (maps, &flags.userns) {
        (_, Some(_)) if named => {
            bail!("--userns and --subuidname/--subgidname cannot be used together")
        }
        (Some(_), _) if named => {
            bail!("--uidmap/--gidmap and --subuidname/--subgidname cannot be used together")
        }
        (Some(_), Some(_)) => bail!("--userns and --uidmap/--gidmap cannot be used together"),
        (Some(mapped), None) => Ok(mapped),
        (None, _) if named => Ok(userns::parse_subordinate_names(
            flags.subuidname.as_deref(),
            flags.subgidname.as_deref(),
        )?
        .unwrap_or_default()),
        (None, given) => userns::UsernsMode::parse(given.as_deref().unwrap_or("")),
    }
}

/// `--hostuser`, `--passwd`, `--passwd-entry` and `--group-entry`.
fn user_entries(flags: &RunFlags) -> super::etc_users::UserEntries {
    super::etc_users::UserEntries {
        host_users: flags.hostuser.clone(),
        passwd: flags.passwd,
        passwd_entry: flags.passwd_entry.clone(),
        group_entry: flags.group_entry.clone(),
    }
}

/// `--restart`, which `--rm` and `--rmi` allow only as `no`.
fn restart_policy(flags: &RunFlags) -> Result<RestartPolicy> {
    let Some(text) = &flags.restart else {
        return Ok(RestartPolicy::No);
    };
    let policy: RestartPolicy = text.parse()?;
    if (flags.rm || flags.rmi) && !policy.is_no() {
        bail!("conflicting options: --restart and --rm");
    }
    Ok(policy)
}

/// `--log-driver`, else containers.conf `log_driver`.
fn log_driver(flags: &RunFlags, defaults: &ContainersTable) -> Result<LogDriver> {
    Ok(match (&flags.log_driver, &defaults.log_driver) {
        (Some(driver), _) => driver.parse()?,
        (None, Some(driver)) => driver
            .parse()
            .map_err(anyhow::Error::new)
            .context("containers.conf log_driver")?,
        (None, None) => LogDriver::default(),
    })
}

/// `--cap-add` and `--cap-drop` over containers.conf `default_capabilities`.
fn capabilities(flags: &RunFlags, defaults: &ContainersTable) -> Result<CapabilitySet> {
    let configured = defaults
        .default_capabilities
        .as_ref()
        .map(|names| capability_names(names))
        .transpose()
        .context("containers.conf default_capabilities")?;
    CapabilitySet::merge(configured.as_deref(), &flags.cap_add, &flags.cap_drop)
}

/// `create_options` with containers.conf (`conf`) given.
fn merge_options(flags: RunFlags, conf: &ContainersConf) -> Result<CreateOptions> {
    let defaults = &conf.containers;
    let restart = restart_policy(&flags)?;
    let log_driver = log_driver(&flags, defaults)?;
    let mut expose = Vec::new();
    for text in &flags.expose {
        expose.extend(network::ports::parse_expose(text)?);
    }
    let network = network_request(flags.network.as_deref(), conf)?;
    let sysctls = super::sysctls::sysctls(
        &flags.sysctl,
        defaults.default_sysctls.as_deref(),
        network.shared_namespace(),
    )?;
    let user_entries = user_entries(&flags);
    let root_directory = root_directory(&flags)?;
    let unattached = unattached_streams(&flags)?;
    let (timezone, umask) = (timezone(&flags, defaults)?, umask(&flags, defaults)?);
    Ok(CreateOptions {
        group_add: group_add(&flags.group_add)?,
        sysctls,
        mounts: mounts(&flags, defaults)?,
        default_env: defaults.env.to_vec(),
        capabilities: capabilities(&flags, defaults)?,
        rlimits: super::ulimits::rlimits(&flags.ulimit, &defaults.default_ulimits)?,
        confinement: security::confinement_with_policy(
            &flags.security_opt,
            flags.privileged,
            flags.seccomp_policy.as_deref().unwrap_or("default"),
            defaults,
        )?,
        userns: userns_mode(&flags)?,
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
        links: links(&flags.link),
        stop_signal: flags.stop_signal.as_deref().map(str::parse).transpose()?,
        init: flags.init.unwrap_or(defaults.init),
        init_path: init_path(&flags, defaults)?,
        chrootdirs: chrootdirs(&flags.chrootdirs)?,
        log_driver,
        log_max_size: log_max_size(&flags.log_opt, defaults)?,
        labels: labels(&flags.label, &flags.label_file)?,
        annotations: annotations(&flags.annotation)?,
        restart,
        read_only: flags.read_only.unwrap_or(defaults.read_only),
        read_only_tmpfs: flags.read_only_tmpfs,
        volumes_from: flags.volumes_from,
        build: None,
        image: flags.image_and_command[0].clone(),
        pull: flags.pull,
        command: flags.image_and_command[1..].to_vec(),
        entrypoint: flags.entrypoint,
        env: flags.env,
        env_files: flags.env_file,
        workdir: flags.workdir,
        user: flags.user,
        hostname: flags.hostname,
        name: flags.name,
        remove: flags.rm || flags.rmi,
        remove_image: flags.rmi,
        pidfile: flags.pidfile.clone(),
        conmon_pidfile: flags.conmon_pidfile.clone(),
        requires: flags.requires.clone(),
        timeout: flags.timeout.filter(|seconds| *seconds > 0),
        image_volume: flags.image_volume.unwrap_or_default(),
        user_entries,
        namespaces: NamespaceRequests::parse(
            flags.pid.as_deref(),
            flags.ipc.as_deref(),
            flags.uts.as_deref(),
            flags.cgroupns.as_deref(),
        )?,
        cidfile: flags.cidfile.clone(),
        env_host: flags.env_host,
        env_merge: flags.env_merge.clone(),
        http_proxy: flags.http_proxy.or(defaults.http_proxy).unwrap_or(true),
        oom_score_adj: flags
            .oom_score_adj
            .or(defaults.oom_score_adj)
            .map(oom_score_adj)
            .transpose()?,
        personality: flags
            .personality
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        timezone,
        shm_size: flags.shm_size.as_deref().map(shm_size).transpose()?,
        unsetenv: flags.unsetenv.clone(),
        unsetenv_all: flags.unsetenv_all,
        umask,
        replace: flags.replace,
        interactive: flags.interactive,
        tty: flags.tty,
        unattached,
        sig_proxy: flags.sig_proxy.unwrap_or(true),
        publish_all: flags.publish_all,
        ip: flags.ip,
        ip6: flags.ip6,
        mac_address: flags
            .mac_address
            .as_deref()
            .map(network::parse_mac_address)
            .transpose()?,
        network_aliases: flags.network_alias,
        preserve_fds: flags.preserve_fds,
        stop_timeout: flags.stop_timeout,
        resources: resources::resources(&flags.resources, defaults)?,
        root_directory,
        systemd: SystemdMode::parse(flags.systemd.as_deref())?,
        sdnotify: SdNotifyMode::parse(flags.sdnotify.as_deref())?,
    })
}

/// `--rootfs`: the image argument as `DIR[:O]`, a host directory, made absolute.
fn root_directory(flags: &RunFlags) -> Result<Option<runtime::RootDirectory>> {
    if !flags.rootfs {
        return Ok(None);
    }
    let image = flags.image_and_command[0].as_str();
    let (dir, overlay) = match image.strip_suffix(":O") {
        Some(dir) => (dir, true),
        None => (image, false),
    };
    let path = std::fs::canonicalize(dir)
        .ok()
        .filter(|path| path.is_dir())
        .with_context(|| format!("--rootfs {dir}: no such directory"))?;
    Ok(Some(runtime::RootDirectory { path, overlay }))
}

impl CreateOptions {
    /// The one warning for the cgroup limits this host cannot apply for this caller, for the
    /// caller to print (Podman warns and runs too, rootless on cgroup v1).
    pub fn resource_warning(&self) -> Option<String> {
        resources::unavailable_warning(self.resources.cgroup.as_ref()?)
    }

    /// Rootless, a score below skiff's own is raised to it (only the host's root may lower
    /// one): Podman's warning, for the caller to print.
    pub fn oom_score_warning(&self) -> Option<String> {
        let asked = self.oom_score_adj?;
        let current: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
            .ok()?
            .trim()
            .parse()
            .ok()?;
        (Context::rootless() && asked < current).then(|| {
            format!("Requested oom_score_adj={asked} is lower than the current one, changing to {current}")
        })
    }

    /// Podman's warning for `--kernel-memory`, which it takes and ignores.
    pub fn kernel_memory_warning(&self) -> Option<String> {
        self.resources.kernel_memory_ignored.then(|| {
            "The --kernel-memory flag is no longer supported. This flag is a noop.".to_string()
        })
    }

    /// Whether a foreground run passes the signals skiff receives on: `--sig-proxy`, and no
    /// `-t` (its terminal carries ^C, as with Podman and Docker).
    pub fn forwards_signals(&self) -> bool {
        self.sig_proxy && !self.tty
    }

    /// `-a` left out both stdout and stderr: a foreground run shows nothing of the container's.
    pub fn shows_no_output(&self) -> bool {
        [runtime::StdStream::Stdout, runtime::StdStream::Stderr]
            .iter()
            .all(|stream| self.unattached.contains(stream))
    }

    /// Docker and Podman drop `-p`/`-P` with `--network host|none|container:` and say so: the
    /// warning in Podman's words, which the caller prints as Podman does, without a prefix
    /// (scripts and Podman's own tests match the line).
    pub fn discarded_ports_warning(&self) -> Option<String> {
        let publishes = !self.publish.is_empty() || self.publish_all;
        let mode = match self.network {
            NetworkRequest::Host => "host",
            NetworkRequest::None => "none",
            NetworkRequest::Container(_) => "container",
            _ => return None,
        };
        publishes.then(|| format!("Port mappings have been discarded because {mode:?} network namespace mode does not support them"))
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
    if flags.privileged {
        let asked: Vec<_> = mounts.iter().map(|m| m.destination.clone()).collect();
        mounts.extend(
            mount_flags::host_devices()
                .into_iter()
                .filter(|d| !asked.contains(&d.destination)),
        );
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

/// `--link NAME[:ALIAS]`s as (container, alias) pairs; the alias is the name when not given.
fn links(given: &[String]) -> Vec<(String, String)> {
    given
        .iter()
        .map(|l| match l.split_once(':') {
            Some((name, alias)) => (name.to_string(), alias.to_string()),
            None => (l.clone(), l.clone()),
        })
        .collect()
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

/// A build's `--security-opt`: its steps' system call filter (the last `seccomp=…`, else
/// containers.conf `seccomp_profile`), with `label=` and `apparmor=` checked as for a
/// container; the options of a container's paths and privileges are refused, not ignored.
pub fn security_opt_seccomp(
    security_opt: &[String],
    defaults: &ContainersTable,
) -> Result<runtime::seccomp::SeccompPolicy> {
    for option in security_opt {
        let key = option.split(['=', ':']).next().unwrap_or_default();
        if !["seccomp", "label", "apparmor"].contains(&key) {
            bail!("unsupported --security-opt {key:?} for a build: its steps take seccomp=unconfined|PROFILE, label=… and apparmor=…");
        }
    }
    Ok(security::confinement(security_opt, false, defaults)?.seccomp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(image: &str) -> RunFlags {
        RunFlags {
            image_and_command: vec![image.into()],
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
            Some(Signal::from(nix::sys::signal::Signal::SIGHUP))
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
