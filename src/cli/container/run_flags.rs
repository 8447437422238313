//! `run` and `create`, and the flags they share.

use clap::Args;

use super::DEFAULT_DETACH_KEYS;
use crate::cli::Outcome;
use crate::container::{self, attach, CreateOptions};
use crate::context::Context;
use std::path::PathBuf;

/// The flags `run` and `create` share.
#[derive(Debug, Args)]
pub struct ContainerFlags {
    /// Assign a name to the container (default: a generated adjective_surname).
    #[arg(long)]
    name: Option<String>,
    /// Remove the container, its writable layer and its anonymous volumes once it exits and its
    /// exit code is known (named volumes stay).
    #[arg(long)]
    rm: bool,
    /// Keep standard input open (otherwise the process reads /dev/null).
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal: the process sees /dev/pts/0 as its terminal.
    #[arg(short, long)]
    tty: bool,
    /// Set an environment variable (KEY=VALUE; KEY alone takes skiff's own value). Repeatable.
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Read environment variables from a file of KEY=VALUE lines. Repeatable.
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Working directory inside the container (created if missing; default: the image's, else /).
    #[arg(short, long, value_name = "DIR")]
    workdir: Option<String>,
    /// Run as USER[:GROUP], by name or number, resolved in the container's /etc/passwd and /etc/group.
    #[arg(short, long)]
    user: Option<String>,
    /// Override the image's ENTRYPOINT (and drop its CMD); "" clears it.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name (default: the first 12 characters of the ID).
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Network: private (pasta, else slirp4netns; containers.conf default_rootless_network_cmd picks one), pasta[:OPTIONS], slirp4netns[:OPTIONS], none, host, container:NAME, ns:PATH. Default: containers.conf netns, else private.
    #[arg(long, visible_alias = "net", value_name = "MODE")]
    network: Option<String>,
    /// Publish a container port on the host: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], ranges allowed. Repeatable.
    #[arg(short, long, value_name = "PORT")]
    publish: Vec<String>,
    /// Publish every exposed port (the image's and --expose) on a free host port.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Declare a container port (or range) as exposed: PORT[/tcp|udp]. Repeatable.
    #[arg(long, value_name = "PORT")]
    expose: Vec<String>,
    #[command(flatten)]
    names: crate::cli::NameFlags,
    /// The container's IPv4 address on its user-defined network (default: the next free one); it
    /// must lie in the network's subnet and be free. Needs --network NAME.
    #[arg(long, value_name = "ADDRESS")]
    ip: Option<std::net::Ipv4Addr>,
    /// Another name the container answers to on its user-defined network. Repeatable.
    #[arg(long = "network-alias", value_name = "ALIAS")]
    network_alias: Vec<String>,
    /// Name another container on the same user-defined network here: NAME[:ALIAS]. Repeatable.
    #[arg(long, value_name = "NAME[:ALIAS]")]
    link: Vec<String>,
    /// Signal `stop` sends first (default: the image's STOPSIGNAL, else SIGTERM).
    #[arg(long, value_name = "SIGNAL")]
    stop_signal: Option<String>,
    /// Run a minimal init as pid 1 that reaps orphaned processes and forwards signals to the command (default: containers.conf init).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    init: Option<bool>,
    /// Pass descriptors 3 to 3+N-1 on to the container's process (every other one is closed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    preserve_fds: u32,
    /// Where a detached container's output goes: k8s-file (default), json-file or none.
    #[arg(long, value_name = "DRIVER")]
    log_driver: Option<String>,
    /// Log driver option: max-size=SIZE (the log starts over past it). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    log_opt: Vec<String>,
    /// Set a label (KEY=VALUE, or KEY for an empty value). Repeatable.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    label: Vec<String>,
    /// Read labels from a file of KEY=VALUE lines (blank lines and lines starting with # are
    /// skipped). Repeatable.
    #[arg(long = "label-file", value_name = "FILE")]
    label_file: Vec<PathBuf>,
    /// Mount a host path or a volume: [SOURCE:]DEST[:OPTIONS] (ro, rw, nosuid, nodev, noexec, rbind, bind, O, U, z, Z, [r]shared|[r]slave|[r]private, nocopy). A SOURCE starting with / or . is a host path (./DIR and ../DIR are relative to the working directory), else a volume name; no SOURCE makes an anonymous volume. Repeatable.
    #[arg(short = 'v', long = "volume", value_name = "[SOURCE:]DEST[:OPTIONS]")]
    volume: Vec<String>,
    /// Attach a mount: type=bind|volume|tmpfs|image,source=…,target=…[,readonly][,bind-propagation=…][,volume-nocopy][,tmpfs-size=…][,tmpfs-mode=…]. Repeatable.
    #[arg(long = "mount", value_name = "type=TYPE,...")]
    mount: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS] (size=, mode=, ro, exec…; default rw,nosuid,nodev,noexec). Repeatable.
    #[arg(long = "tmpfs", value_name = "PATH[:OPTIONS]")]
    tmpfs: Vec<String>,
    /// User namespace (rootless only): keep-id[:uid=N,gid=N] (your uid and gid inside, so files you make in a bind mount stay yours); nomap (only your subordinate ids, yours left out); auto[:size=N] (N subordinate ids no other auto container has; default: enough for the image's users, at least 1024); host (the default: you are root inside).
    #[arg(long, value_name = "MODE")]
    userns: Option<String>,
    /// Mount the volumes and binds of another container at the same places: CONTAINER[:ro|rw]. Repeatable.
    #[arg(long, value_name = "CONTAINER[:ro|rw]")]
    volumes_from: Vec<String>,
    /// Add a host device the user can open: HOST[:CONTAINER[:rw|rwm]]. Repeatable.
    #[arg(long, value_name = "HOST[:CONTAINER[:PERMISSIONS]]")]
    device: Vec<String>,
    /// Mount the container's root filesystem read-only: writes fail with EROFS except in volumes,
    /// binds, --tmpfs mounts and (see --read-only-tmpfs) /tmp, /var/tmp and /run.
    #[arg(long)]
    read_only: bool,
    /// With --read-only, mount tmpfs on /tmp, /var/tmp and /run (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    read_only_tmpfs: bool,
    /// Restart policy, carried out by the container's supervisor: no, on-failure[:N], always, unless-stopped.
    #[arg(long, value_name = "POLICY")]
    restart: Option<String>,
    /// Seconds `stop` waits for the container before killing it (default 10).
    #[arg(long, value_name = "SECONDS")]
    stop_timeout: Option<u64>,
    /// Security option: seccomp=unconfined (no system call filter) or seccomp=PROFILE.json (a profile in Docker's format). Default: containers.conf seccomp_profile, else skiff's built-in profile (Podman's decisions). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    security_opt: Vec<String>,
    /// When to pull the image: always, missing (default), never, newer.
    #[arg(long, value_enum, default_value = "missing", value_name = "POLICY")]
    pull: crate::cli::registry::PullPolicy,
    #[command(flatten)]
    registry: crate::cli::registry::RegistryFlags,
    #[command(flatten)]
    platform: crate::cli::registry::PlatformFlags,
    /// Image to run.
    image: String,
    /// Command and arguments; they replace the image's CMD.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The last `--security-opt seccomp=…`, else containers.conf `seccomp_profile`; any other key is
/// refused rather than ignored.
pub(crate) fn seccomp_policy(
    security_opt: &[String],
    defaults: &crate::config::containers::ContainersTable,
) -> anyhow::Result<crate::runtime::seccomp::SeccompPolicy> {
    use anyhow::Context as _;
    let mut chosen = None;
    for option in security_opt {
        match option.split_once('=') {
            Some(("seccomp", value)) => chosen = Some(value),
            _ => anyhow::bail!(
                "unsupported --security-opt {:?}: skiff knows seccomp=unconfined|PROFILE",
                option.split(['=', ':']).next().unwrap_or_default()
            ),
        }
    }
    match (chosen, defaults.seccomp_profile.as_deref()) {
        (Some(value), _) => container::seccomp_policy(value),
        // As in Podman's containers.conf, an empty path means the built-in profile.
        (None, None | Some("")) => Ok(Default::default()),
        (None, Some(value)) => {
            container::seccomp_policy(value).context("containers.conf seccomp_profile")
        }
    }
}

fn image_missing(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<crate::store::Error>(),
        Some(crate::store::Error::ImageNotFound { .. })
    )
}

impl ContainerFlags {
    /// Runs `start` (which creates the container) with the image there as `--pull` asks: pulled
    /// first for always and newer; for missing, pulled only once `start` has found no such
    /// image, so running an image already in the store reads the image index once.
    fn with_image<T>(
        &self,
        ctx: &Context,
        start: impl Fn(&CreateOptions) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        use crate::cli::registry::{pull_for_container, PullPolicy};
        let options = self.options(&ctx.config.containers)?;
        let pull = || pull_for_container(ctx, &self.image, &self.registry, &self.platform);
        if matches!(self.pull, PullPolicy::Always | PullPolicy::Newer) {
            pull()?;
        }
        match start(&options) {
            Err(error) if self.pull == PullPolicy::Missing && image_missing(&error) => {
                pull()?;
                start(&options)
            }
            other => other,
        }
    }

    /// The command line over containers.conf's defaults (`conf`).
    fn options(&self, conf: &crate::config::ContainersConf) -> anyhow::Result<CreateOptions> {
        use anyhow::Context as _;
        let defaults = &conf.containers;
        let network_mode = self
            .network
            .clone()
            .or_else(|| defaults.netns.clone())
            .unwrap_or_else(|| "private".into());
        let mut network = crate::network::NetworkRequest::parse(&network_mode)?;
        if let crate::network::NetworkRequest::Private { backend, .. } = &mut network {
            if backend.is_none() {
                *backend = conf
                    .network
                    .default_rootless_network_cmd
                    .map(|cmd| match cmd {
                        crate::config::containers::RootlessNetworkCmd::Pasta => {
                            crate::runtime::NetworkBackend::Pasta
                        }
                        crate::config::containers::RootlessNetworkCmd::Slirp4netns => {
                            crate::runtime::NetworkBackend::Slirp4netns
                        }
                    });
            }
        }
        let publishes = !self.publish.is_empty() || self.publish_all;
        if publishes
            && matches!(
                network,
                crate::network::NetworkRequest::Host | crate::network::NetworkRequest::None
            )
        {
            eprintln!(
                "WARN: port mappings are discarded with --network {network_mode}: the container has no network of its own to publish on",
            );
        }
        let mut mounts = Vec::new();
        for text in &self.volume {
            mounts.push(crate::volume::mounts::parse_volume(text)?);
        }
        for text in &self.mount {
            mounts.push(crate::volume::mounts::parse_mount(text)?);
        }
        for text in &self.tmpfs {
            mounts.push(crate::volume::mounts::parse_tmpfs(text)?);
        }
        for text in &self.device {
            mounts.push(crate::volume::mounts::parse_device(text)?);
        }
        // containers.conf's come first; one the command line mounts at the same place gives way.
        let mut conf_mounts = Vec::new();
        for text in defaults.volumes.iter() {
            conf_mounts.push(
                crate::volume::mounts::parse_volume(text).context("containers.conf volumes")?,
            );
        }
        for text in defaults.devices.iter() {
            conf_mounts.push(
                crate::volume::mounts::parse_device(text).context("containers.conf devices")?,
            );
        }
        for text in defaults.mounts.iter() {
            conf_mounts
                .push(crate::volume::mounts::parse_mount(text).context("containers.conf mounts")?);
        }
        conf_mounts.retain(|d| !mounts.iter().any(|m| m.destination == d.destination));
        conf_mounts.append(&mut mounts);
        Ok(CreateOptions {
            mounts: conf_mounts,
            default_env: defaults.env.to_vec(),
            capabilities: defaults
                .default_capabilities
                .as_ref()
                .map(|names| container::capability_names(names))
                .transpose()
                .context("containers.conf default_capabilities")?,
            seccomp: seccomp_policy(&self.security_opt, defaults)?,
            read_only: self.read_only,
            read_only_tmpfs: self.read_only_tmpfs,
            userns: container::userns::UsernsMode::parse(self.userns.as_deref().unwrap_or(""))?,
            volumes_from: self.volumes_from.clone(),
            build: None,
            image: self.image.clone(),
            command: self.command.clone(),
            entrypoint: self.entrypoint.clone(),
            env: self.env.clone(),
            env_files: self.env_file.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            hostname: self.hostname.clone(),
            name: self.name.clone(),
            remove: self.rm,
            interactive: self.interactive,
            tty: self.tty,
            network,
            publish: self
                .publish
                .iter()
                .map(|p| crate::network::ports::parse_publish(p))
                .collect::<anyhow::Result<_>>()?,
            publish_all: self.publish_all,
            expose: {
                let mut ports = Vec::new();
                for text in &self.expose {
                    ports.extend(crate::network::ports::parse_expose(text)?);
                }
                ports
            },
            add_hosts: self.names.add_hosts()?,
            no_hosts: self.names.no_hosts(defaults),
            ip: self.ip,
            network_aliases: self.network_alias.clone(),
            links: self
                .link
                .iter()
                .map(|l| match l.split_once(':') {
                    Some((name, alias)) => (name.to_string(), alias.to_string()),
                    None => (l.clone(), l.clone()),
                })
                .collect(),
            dns: self.names.dns(defaults)?,
            stop_signal: match &self.stop_signal {
                Some(signal) => {
                    container::lifecycle::parse_signal(signal)?;
                    Some(signal.clone())
                }
                None => None,
            },
            stop_timeout: self.stop_timeout,
            init: self.init.unwrap_or(defaults.init),
            preserve_fds: self.preserve_fds,
            log_driver: match (&self.log_driver, &defaults.log_driver) {
                (Some(driver), _) => {
                    container::detached::LogDriver::parse(driver)?;
                    Some(driver.clone())
                }
                (None, Some(driver)) => {
                    container::detached::LogDriver::parse(driver)
                        .context("containers.conf log_driver")?;
                    Some(driver.clone())
                }
                (None, None) => None,
            },
            log_max_size: {
                let mut size = None;
                for option in &self.log_opt {
                    match option.split_once('=') {
                        Some(("max-size", value)) => {
                            size = Some(container::detached::parse_size(value)?)
                        }
                        _ => anyhow::bail!(
                            "unsupported --log-opt {option:?}: skiff knows max-size=SIZE"
                        ),
                    }
                }
                // Negative or zero in containers.conf means no limit.
                size.or(defaults
                    .log_size_max
                    .and_then(|max| u64::try_from(max).ok())
                    .filter(|max| *max > 0))
            },
            labels: {
                let mut lines = Vec::new();
                for file in &self.label_file {
                    let text = std::fs::read_to_string(file).map_err(|e| {
                        anyhow::anyhow!("reading label file {}: {e}", file.display())
                    })?;
                    lines.extend(container::key_value_lines(&text).map(str::to_string));
                }
                lines
                    .iter()
                    .chain(&self.label)
                    .map(|kv| match kv.split_once('=') {
                        Some((k, v)) => (k.to_string(), v.to_string()),
                        None => (kv.clone(), String::new()),
                    })
                    .collect()
            },
            restart: match &self.restart {
                Some(policy) => {
                    container::detached::RestartPolicy::parse(policy)?;
                    if self.rm && policy != "no" {
                        anyhow::bail!("conflicting options: --restart and --rm");
                    }
                    Some(policy.clone())
                }
                None => None,
            },
        })
    }
}

/// Run a command in a new container, in the foreground; exits with the command's exit code.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run in the background under a supervisor of its own, and print the container ID.
    #[arg(short, long)]
    detach: bool,
    /// Keys that detach from a container run with -it, leaving it running ("" turns detaching off).
    #[arg(long, default_value = DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    detach_keys: String,
    #[command(flatten)]
    flags: ContainerFlags,
    /// Print help (-h is --hostname here, as in Podman).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl RunArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        if let Some(warning) = ctx.warn_if_single_mapping() {
            eprintln!("WARN: {warning}");
        }
        let detach_keys = attach::parse_detach_keys(&self.detach_keys)?;
        let flags = &self.flags;
        if self.detach {
            let id = flags.with_image(ctx, |options| container::run_detached(ctx, options))?;
            println!("{id}");
            return Ok(0);
        }
        let code = if flags.tty && flags.interactive {
            let session = attach::SessionOptions {
                stdin: true,
                detach_keys,
            };
            flags.with_image(ctx, |options| {
                container::run_attached(ctx, options, &session)
            })?
        } else {
            flags.with_image(ctx, |options| container::run(ctx, options))?
        };
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// Create a container without starting it; prints its ID.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: ContainerFlags,
    /// Print help (-h is --hostname here, as in Podman).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl CreateArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let record = self
            .flags
            .with_image(ctx, |options| container::create(ctx, options))?;
        println!("{}", record.id);
        Ok(0)
    }
}
