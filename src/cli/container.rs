//! `run`, `create`, `start`, `rm`, `ps`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::format;
use super::{human, Outcome};
use crate::container::{self, attach, CreateOptions};
use crate::context::Context;
use crate::store::containers::{ContainerRecord, ContainerState, Status};

/// Manage containers (`container run`, `container ls`, …), as `docker container` does.
#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    Run(RunArgs),
    Create(CreateArgs),
    Start(StartArgs),
    #[command(name = "rm")]
    Rm(RmArgs),
    /// List containers.
    #[command(name = "ls", visible_alias = "list", visible_alias = "ps")]
    Ls(PsArgs),
    Inspect(super::image::InspectArgs),
    Logs(LogsArgs),
    Exec(ExecArgs),
    Stop(StopArgs),
    Restart(RestartArgs),
    Rename(RenameArgs),
    Pause(PauseArgs),
    Unpause(PauseArgs),
    Top(TopArgs),
    Port(PortArgs),
    /// Remove every container that is not running (with --filter, only those that match).
    Prune(super::PruneArgs),
    Kill(KillArgs),
    Wait(WaitArgs),
    Attach(AttachArgs),
    Cp(CpArgs),
    Export(ExportArgs),
    Commit(CommitArgs),
    Diff(DiffArgs),
}

impl ContainerCommand {
    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            ContainerCommand::Run(a) => a.run(ctx),
            ContainerCommand::Create(a) => a.run(ctx),
            ContainerCommand::Start(a) => a.run(ctx),
            ContainerCommand::Rm(a) => a.run(ctx),
            ContainerCommand::Ls(a) => a.run(ctx),
            ContainerCommand::Inspect(a) => a.with_kind("container").run(ctx),
            ContainerCommand::Logs(a) => a.run(ctx),
            ContainerCommand::Exec(a) => a.run(ctx),
            ContainerCommand::Stop(a) => a.run(ctx),
            ContainerCommand::Restart(a) => a.run(ctx),
            ContainerCommand::Pause(a) | ContainerCommand::Unpause(a) => a.run(ctx),
            ContainerCommand::Top(a) => a.run(ctx),
            ContainerCommand::Port(a) => a.run(ctx),
            ContainerCommand::Rename(a) => a.run(ctx),
            ContainerCommand::Prune(a) => {
                let filters = a.filters("container prune")?;
                a.report(container::prune(ctx, &filters))
            }
            ContainerCommand::Kill(a) => a.run(ctx),
            ContainerCommand::Wait(a) => a.run(ctx),
            ContainerCommand::Attach(a) => a.run(ctx),
            ContainerCommand::Cp(a) => a.run(ctx),
            ContainerCommand::Export(a) => a.run(ctx),
            ContainerCommand::Commit(a) => a.run(ctx),
            ContainerCommand::Diff(a) => a.run(ctx),
        }
    }
}

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
    names: super::NameFlags,
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
    pull: super::registry::PullPolicy,
    #[command(flatten)]
    registry: super::registry::RegistryFlags,
    #[command(flatten)]
    platform: super::registry::PlatformFlags,
    /// Image to run.
    image: String,
    /// Command and arguments; they replace the image's CMD.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// The last `--security-opt seccomp=…`, else containers.conf `seccomp_profile`; any other key is
/// refused rather than ignored.
pub(super) fn seccomp_policy(
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
        use super::registry::{pull_for_container, PullPolicy};
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

/// Start a created or exited container.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output and exit with its exit code.
    #[arg(short, long)]
    attach: bool,
    /// Attach standard input as well (with --attach): what you type reaches the container's
    /// process.
    #[arg(short, long)]
    interactive: bool,
    /// Keys that detach from a container with a terminal, leaving it running.
    #[arg(long, default_value = DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    detach_keys: String,
    /// Container name or ID.
    container: String,
}

impl StartArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let detach_keys = attach::parse_detach_keys(&self.detach_keys)?;
        let record = ctx.store.find_container(&self.container)?;
        if !self.attach {
            container::detached::start_detached(ctx, &record, None)?;
            println!("{}", self.container);
            return Ok(0);
        }
        // A terminal is kept by a supervisor, so the user can detach from it.
        let code = if record.spec.process.terminal {
            let session = attach::SessionOptions {
                stdin: self.interactive || record.spec.process.interactive,
                detach_keys,
            };
            attach::start_attached(ctx, &record, &session)?
        } else {
            container::start(ctx, &self.container, self.interactive)?
        };
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// Fetch the output of a container.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Keep printing new output as it is written, until the container stops (or ctrl-c).
    #[arg(short, long)]
    follow: bool,
    /// Print only the last N lines (default: all); with --follow, then keep following.
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
    /// Prefix each line with the time it was written (RFC 3339).
    #[arg(short, long)]
    timestamps: bool,
    /// Only output after this time (RFC 3339, a Unix time, or a duration such as 10m before now).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only output before this time (RFC 3339, a Unix time, or a duration such as 10m before now).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Container name or ID.
    container: String,
}

/// `--since`/`--until`: an RFC 3339 time, a Unix time, or a duration before now.
fn parse_time(text: &str) -> anyhow::Result<jiff::Timestamp> {
    crate::clock::point_in_time(text).map_err(|e| anyhow::anyhow!("invalid time {text:?}: {e}"))
}

impl LogsArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        use std::io::Write;
        let options = container::detached::LogOptions {
            follow: self.follow,
            tail: self.tail,
            timestamps: self.timestamps,
            since: self.since.as_deref().map(parse_time).transpose()?,
            until: self.until.as_deref().map(parse_time).transpose()?,
        };
        let stdout = std::io::stdout();
        let stderr = std::io::stderr();
        container::detached::read_logs(ctx, &self.container, &options, &mut |is_err, bytes| {
            if is_err {
                let mut err = stderr.lock();
                err.write_all(bytes)?;
                err.flush()
            } else {
                let mut out = stdout.lock();
                out.write_all(bytes)?;
                out.flush()
            }
        })?;
        Ok(0)
    }
}

/// Stop running containers: the stop signal (SIGTERM), then SIGKILL after the timeout.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10).
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    time: Option<u64>,
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl StopArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.containers {
            container::lifecycle::stop_as_configured(ctx, reference, self.time)?;
            println!("{reference}");
        }
        Ok(0)
    }
}

/// Stop containers and start them again in the background.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing each container (default: its --stop-timeout, else 10).
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    time: Option<u64>,
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl RestartArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.containers {
            let id = container::lifecycle::restart(ctx, reference, self.time)?;
            println!("{id}");
        }
        Ok(0)
    }
}

/// Give a container a new name.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Container name or ID.
    container: String,
    /// The new name.
    name: String,
}

impl RenameArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        container::rename(ctx, &self.container, &self.name)?;
        Ok(0)
    }
}

/// Send a signal to running containers.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The signal to send (default KILL): a name with or without SIG (TERM, SIGHUP) or a number.
    /// The container stops only if its process dies of it.
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl KillArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let signal = container::lifecycle::parse_signal(&self.signal)?;
        for reference in &self.containers {
            container::lifecycle::kill(ctx, reference, signal)?;
            println!("{reference}");
        }
        Ok(0)
    }
}

/// Wait for containers to stop and print their exit codes.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl WaitArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.containers {
            println!("{}", container::lifecycle::wait(ctx, reference)?);
        }
        Ok(0)
    }
}

/// Run a command in a running container; exits with the command's exit code.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep standard input open and relay it to the command (otherwise it reads /dev/null).
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal for the command (use with -i for an interactive shell).
    #[arg(short, long)]
    tty: bool,
    /// Set an environment variable (KEY=VALUE; KEY alone takes skiff's own value). Repeatable.
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Run as USER[:GROUP] (default: the container's user).
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container (default: the container's).
    #[arg(short, long, value_name = "DIR")]
    workdir: Option<String>,
    /// Run the command in the background, its output discarded.
    #[arg(short, long)]
    detach: bool,
    /// Give the command every capability the container's user namespace allows.
    #[arg(long)]
    privileged: bool,
    /// Pass descriptors 3 to 3+N-1 on to the command (every other one is closed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    preserve_fds: u32,
    /// Container name or ID.
    container: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

impl ExecArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = container::lifecycle::ExecOptions {
            command: self.command,
            env: self.env,
            user: self.user,
            workdir: self.workdir,
            tty: self.tty,
            interactive: self.interactive,
            privileged: self.privileged,
            detach: self.detach,
            preserve_fds: self.preserve_fds,
        };
        let code = container::lifecycle::exec(ctx, &self.container, &options)?;
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// Show the processes of a running container.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Container name or ID.
    container: String,
}

impl TopArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let rows = container::top::top(ctx, &self.container)?;
        print!("{}", format::render_table(&container::top::HEADERS, &rows));
        Ok(0)
    }
}

/// List a container's published ports (PORT[/PROTOCOL] to ask for one).
#[derive(Debug, Args)]
pub struct PortArgs {
    /// Container name or ID.
    container: String,
    /// A container port, as 80 or 80/tcp.
    port: Option<String>,
}

impl PortArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let record = ctx.store.find_container(&self.container)?;
        let lines = crate::network::ports::port_lines(&record.spec.ports, self.port.as_deref())?;
        for line in lines {
            println!("{line}");
        }
        Ok(0)
    }
}

/// Pause (freeze) or unpause running containers.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl PauseArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.containers {
            ctx.store.find_container(reference)?;
        }
        anyhow::bail!("pause and unpause need a cgroup freezer for the container, and skiff does not place containers in cgroups yet on this host (cgroup v1 without a delegated hierarchy)")
    }
}

/// Copy files between a container and the host: `cp CONTAINER:SRC DEST` or `cp SRC CONTAINER:DEST`
/// ("-" for a tar archive on standard input or output).
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Keep the owners (uid and gid) of files copied into the container (default: root owns them).
    #[arg(short, long)]
    archive: bool,
    /// Source: a host path, CONTAINER:PATH, or - for a tar archive on standard input.
    source: String,
    /// Destination: a host path, CONTAINER:PATH, or - for a tar archive on standard output.
    destination: String,
}

impl CpArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        use container::copy::parse_location;
        container::copy::copy(
            ctx,
            &parse_location(&self.source),
            &parse_location(&self.destination),
            self.archive,
        )?;
        Ok(0)
    }
}

/// Create an image from a container's changes: its image's layers plus one layer of what the
/// container changed (volumes left out), with the container's command, environment, working
/// directory, user, labels and ports as the image's config.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author recorded in the new image's config and in its history entry (default: none).
    #[arg(short, long)]
    author: Option<String>,
    /// Apply a Dockerfile instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR. Repeatable.
    #[arg(short, long, value_name = "INSTRUCTION")]
    change: Vec<String>,
    /// Manifest and config format of the new image: oci (default) or docker (Docker's schema 2, as
    /// `docker commit` makes).
    #[arg(short, long, default_value = "oci", value_parser = ["oci", "docker"])]
    format: String,
    /// Write the new image's ID as sha256:HEX to FILE, replacing what it held.
    #[arg(long, value_name = "FILE")]
    iidfile: Option<PathBuf>,
    /// Commit message, kept in the image history and shown by inspect as Comment.
    #[arg(short, long)]
    message: Option<String>,
    /// Pause the container while it is committed (needs a cgroup freezer; off by default, as in Podman).
    #[arg(short, long)]
    pause: bool,
    /// Print nothing but the image ID (accepted for Podman scripts: skiff prints only the ID either way).
    #[arg(short = 'q', long = "quiet")]
    _quiet: bool,
    /// Make the image a single layer holding the whole filesystem.
    #[arg(short, long)]
    squash: bool,
    /// Container name or ID.
    container: String,
    /// Name for the image (default: none); localhost/ is added when no registry is given.
    image: Option<String>,
}

impl CommitArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = crate::container::commit::CommitOptions {
            author: self.author,
            message: self.message,
            changes: self.change,
            pause: self.pause,
            squash: self.squash,
            docker_format: self.format == "docker",
            step: None,
        };
        let id = crate::container::commit::commit(
            ctx,
            &self.container,
            self.image.as_deref(),
            &options,
        )?;
        if let Some(path) = &self.iidfile {
            std::fs::write(path, format!("sha256:{id}"))
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
        println!("{id}");
        Ok(0)
    }
}

/// Show what a container changed in its image's files, or what an image's top layer changes:
/// A (added), C (changed) or D (deleted), one path a line.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Output format: json (an object of Added, Changed and Deleted lists) instead of lines.
    #[arg(long, value_parser = ["json"])]
    format: Option<String>,
    /// Container or image name or ID.
    reference: String,
}

impl DiffArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let lines = crate::container::commit::diff(ctx, &self.reference)?;
        if self.format.is_some() {
            let mut groups = serde_json::Map::new();
            for (mark, key) in [('A', "added"), ('C', "changed"), ('D', "deleted")] {
                let paths: Vec<&str> = lines
                    .iter()
                    .filter(|l| l.starts_with(mark))
                    .map(|l| &l[2..])
                    .collect();
                if !paths.is_empty() {
                    groups.insert(key.into(), serde_json::json!(paths));
                }
            }
            println!("{}", serde_json::to_string_pretty(&groups)?);
        } else {
            for line in lines {
                println!("{line}");
            }
        }
        Ok(0)
    }
}

/// Export a container's filesystem as a tar archive.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write the tar archive to FILE instead of standard output (which must then not be a
    /// terminal).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Container name or ID.
    container: String,
}

impl ExportArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        match &self.output {
            Some(path) => {
                let staged = path.with_extension("skiff-partial");
                let mut file = std::fs::File::create(&staged)?;
                let written = container::copy::export(ctx, &self.container, &mut file)
                    .and_then(|()| Ok(file.sync_all()?));
                match written {
                    Ok(()) => std::fs::rename(&staged, path)?,
                    Err(error) => {
                        let _ = std::fs::remove_file(&staged);
                        return Err(error);
                    }
                }
            }
            None => {
                use std::io::IsTerminal;
                if std::io::stdout().is_terminal() {
                    anyhow::bail!("refusing to write a tar archive to a terminal: use -o FILE or redirect the output");
                }
                container::copy::export(ctx, &self.container, &mut std::io::stdout().lock())?;
            }
        }
        Ok(0)
    }
}

/// Podman's and Docker's default: ctrl-p, ctrl-q.
const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Attach to a running container's terminal or output and input.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Keys that detach, leaving the container running ("" turns detaching off).
    #[arg(long, default_value = DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    detach_keys: String,
    /// Do not relay standard input to the container: only its output is shown.
    #[arg(long)]
    no_stdin: bool,
    /// Container name or ID.
    container: String,
}

impl AttachArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let session = attach::SessionOptions {
            stdin: !self.no_stdin,
            detach_keys: attach::parse_detach_keys(&self.detach_keys)?,
        };
        let code = attach::attach(ctx, &self.container, &session)?;
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// The supervisor of a detached container (started by skiff itself).
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// Standard input is the first attach client (`run -it`, `start -ai`).
    #[arg(long)]
    attached_stdin: bool,
    id: String,
}

impl SuperviseArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let code = container::detached::supervise(ctx, &self.id, self.attached_stdin)?;
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// Remove containers.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove running containers too: they are stopped with SIGKILL first, without the stop
    /// timeout. Without it, removing a running container is an error.
    #[arg(short, long)]
    force: bool,
    /// Remove every container (running ones only with --force).
    #[arg(short, long)]
    all: bool,
    /// Remove the container's anonymous volumes too (named volumes stay).
    #[arg(short, long)]
    volumes: bool,
    /// Container names or IDs.
    containers: Vec<String>,
}

impl RmArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let mut targets = self.containers;
        if self.all {
            targets.extend(ctx.store.container_ids());
        }
        if targets.is_empty() && !self.all {
            anyhow::bail!("no container names or IDs given: use rm CONTAINER… or rm --all");
        }
        for id in container::remove(ctx, &targets, self.force, self.volumes)? {
            println!("{id}");
        }
        Ok(0)
    }
}

/// List containers.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers, created and exited ones too (default: only running ones).
    #[arg(short, long)]
    all: bool,
    /// Print only the container IDs, one per line (12 characters unless --no-trunc).
    #[arg(short, long)]
    quiet: bool,
    /// Print full 64-character IDs and whole commands instead of shortening them.
    #[arg(long)]
    no_trunc: bool,
    /// Output format: table (default), json, or a Go template such as '{{.ID}} {{.Names}}'.
    #[arg(long)]
    format: Option<String>,
    /// Show only the latest created container (of all states).
    #[arg(short, long)]
    latest: bool,
    /// Show each container's size: its writable layer, and in all with its image (virtual).
    #[arg(short, long)]
    size: bool,
    /// Show the N last created containers (of all states).
    #[arg(short = 'n', long, value_name = "N")]
    last: Option<usize>,
    /// Filter: status=, name=, id=, ancestor=, label=, exited= (repeatable; different keys must all match).
    #[arg(short, long, value_name = "KEY=VALUE")]
    filter: Vec<String>,
    /// Show the containers of build steps too (left out otherwise, as Podman leaves out buildah's).
    #[arg(long)]
    external: bool,
}

/// `ps --filter` as Podman reads it: values of one key are alternatives, keys all must match.
fn ps_filter_matches(
    filters: &[(String, String)],
    record: &ContainerRecord,
    state: &ContainerState,
) -> anyhow::Result<bool> {
    let status = state.status.name();
    let mut keys: Vec<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.dedup();
    for key in keys {
        let values = filters
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str());
        let mut any = false;
        for value in values {
            any |= match key {
                "status" => status == value,
                "name" => record.name.contains(value),
                "id" => record.id.starts_with(value),
                "ancestor" => {
                    record.image_name == value
                        || !crate::image::reference::candidate_names(
                            value,
                            std::iter::once(record.image_name.as_str()),
                        )
                        .is_empty()
                        || record
                            .image_id
                            .starts_with(value.trim_start_matches("sha256:"))
                }
                // label=KEY matches any value, label=KEY=VALUE that value only.
                "label" => match value.split_once('=') {
                    Some((k, v)) => record.labels.get(k).is_some_and(|have| have == v),
                    None => record.labels.contains_key(value),
                },
                "exited" => {
                    state.status == Status::Exited
                        && state.exit_code.unwrap_or(0).to_string() == value
                }
                other => anyhow::bail!(
                    "invalid filter {other:?}: use status, name, id, ancestor, label or exited"
                ),
            };
        }
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Podman 5's header overrides for `ps` table templates (4.3 named RunningFor "CREATED").
const PS_HEADERS: &[(&str, &str)] = &[
    ("Cgroup", "cgroupns"),
    ("CreatedHuman", "created"),
    ("ID", "container id"),
    ("IPC", "ipc"),
    ("MNT", "mnt"),
    ("NET", "net"),
    ("Networks", "networks"),
    ("PIDNS", "pidns"),
    ("Pod", "pod id"),
    ("PodName", "podname"),
    ("Restarts", "restarts"),
    ("RunningFor", "running for"),
    ("UTS", "uts"),
    ("User", "userns"),
];

/// Go's zero `time.Time` as Unix seconds: what Podman prints for a time that never came.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// One container as `ps` sees it, printed either as Podman's `--format json` entry or as the
/// row its tables and templates read.
struct PsEntry {
    record: ContainerRecord,
    state: ContainerState,
    created: jiff::Timestamp,
    /// Docker's status text: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
    status: String,
    /// The writable layer's bytes and the image's, with `-s`.
    size: Option<(u64, u64)>,
}

impl PsEntry {
    fn new(record: ContainerRecord, state: ContainerState, now: jiff::Timestamp) -> Self {
        let created = human::parse_timestamp(&record.created).unwrap_or(now);
        let since = |time: &Option<String>| time.as_deref().and_then(human::parse_timestamp);
        let status = match state.status {
            Status::Created => "Created".to_string(),
            Status::Running => match since(&state.started_at) {
                Some(started) => format!("Up {}", human::human_duration_between(started, now)),
                None => "Up".to_string(),
            },
            _ => match since(&state.finished_at) {
                Some(finished) => format!(
                    "Exited ({}) {}",
                    state.exit_code.unwrap_or(0),
                    human::human_duration_since(finished, now)
                ),
                None => "Exited".to_string(),
            },
        };
        PsEntry {
            record,
            state,
            created,
            status,
            size: None,
        }
    }

    fn unix_time(time: &Option<String>) -> i64 {
        time.as_deref()
            .and_then(human::parse_timestamp)
            .map_or(GO_ZERO_TIME_UNIX, |t| t.as_second())
    }

    fn pid(&self) -> i32 {
        match self.state.status {
            Status::Running => self.state.pid.unwrap_or(0),
            _ => 0,
        }
    }

    /// The entry of `podman ps --format json`, field for field.
    fn podman_json(&self, now: jiff::Timestamp) -> serde_json::Value {
        let record = &self.record;
        json!({
            "AutoRemove": record.auto_remove,
            "Command": record.spec.process.args,
            "CreatedAt": human::human_duration_since(self.created, now),
            "Exited": self.state.status == Status::Exited,
            "ExitedAt": Self::unix_time(&self.state.finished_at),
            "ExitCode": self.state.exit_code.unwrap_or(0),
            "Id": record.id,
            "Image": record.image_name,
            "ImageID": record.image_id,
            "IsInfra": false,
            "Labels": (!record.labels.is_empty()).then_some(&record.labels),
            "Mounts": record.spec.mounts.iter().map(|m| m.destination.as_str()).collect::<Vec<_>>(),
            "Names": [record.name],
            "Namespaces": {},
            "Networks": record.networks.keys().collect::<Vec<_>>(),
            "Pid": self.pid(),
            "Pod": "",
            "PodName": "",
            "Ports": crate::network::ports::ps_json(&record.spec.ports),
            "Size": self.size.map(|(rw, image)| json!({
                "rootFsSize": image + rw,
                "rwSize": rw,
            })),
            "StartedAt": Self::unix_time(&self.state.started_at),
            "State": self.state.status.name(),
            "Status": self.status,
            "Created": self.created.as_second(),
        })
    }

    /// The fields `ps` tables and `--format` templates read: Podman's names, and Docker's
    /// `RunningFor`.
    fn template_row(&self, now: jiff::Timestamp, no_trunc: bool) -> serde_json::Value {
        let record = &self.record;
        let mut command = record.spec.process.args.join(" ");
        // Podman's column: 17 characters and an ellipsis, unless --no-trunc.
        if !no_trunc && command.chars().count() > 17 {
            command = command.chars().take(17).collect::<String>() + "...";
        }
        let id = if no_trunc {
            record.id.clone()
        } else {
            record.id[..12].to_string()
        };
        let created_human = human::human_duration_since(self.created, now);
        let size = self.size.map_or(String::new(), |(rw, image)| {
            format!(
                "{} (virtual {})",
                human::human_size_unspaced(rw),
                human::human_size_unspaced(image + rw)
            )
        });
        let image_id = if no_trunc {
            record.image_id.clone()
        } else {
            record.image_id[..12.min(record.image_id.len())].to_string()
        };
        let networks: Vec<&str> = record.networks.keys().map(String::as_str).collect();
        // Podman's template item embeds the JSON entry and overrides some of it with methods.
        let mut row = self.podman_json(now);
        let fields = json!({
            "ID": id,
            "Image": record.image_name,
            "ImageID": image_id,
            "Command": command,
            "CreatedAt": human::format_created_at(self.created),
            "Created": human::format_created_at(self.created),
            "CreatedHuman": created_human,
            "RunningFor": created_human,
            "Status": self.status,
            "State": self.state.status.name(),
            "Ports": crate::network::ports::ps_column(&record.spec.ports),
            "Names": record.name,
            "Labels": record.labels,
            "Size": size,
            "Pid": self.pid(),
            "ExitCode": self.state.exit_code.unwrap_or(0),
            "Exited": self.state.status == Status::Exited,
            "AutoRemove": record.auto_remove,
            "Restarts": self.state.restart_count,
            "Networks": networks.join(","),
            // No pods, and no namespace paths for a container that is not running: Podman's
            // `--ns` columns (`.Namespaces.NET` is read as `.NET`, as Podman rewrites it).
            "Namespaces": {"Cgroup": "", "IPC": "", "MNT": "", "NET": "", "PIDNS": "", "User": "", "UTS": ""},
            "Cgroup": "", "IPC": "", "MNT": "", "NET": "", "PIDNS": "", "User": "", "UTS": "",
        });
        if let (Some(row), Some(fields)) = (row.as_object_mut(), fields.as_object()) {
            row.extend(fields.clone());
        }
        row
    }
}

impl PsArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let now = jiff::Timestamp::now();
        let filters: Vec<(String, String)> = self
            .filter
            .iter()
            .map(|f| {
                f.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| anyhow::anyhow!("invalid filter {f:?}: expected KEY=VALUE"))
            })
            .collect::<anyhow::Result<_>>()?;
        let mut records = ctx.store.all_containers();
        records.retain(|record| self.external || record.build.is_none());
        records.sort_by(|a, b| b.created.cmp(&a.created));
        let limit = if self.latest { Some(1) } else { self.last };
        if let Some(limit) = limit {
            records.truncate(limit);
        }
        let show_all = self.all || limit.is_some() || !filters.is_empty();
        let mut entries = Vec::new();
        for record in records {
            // current_state has already shown a container whose watcher died as exited.
            let state = container::current_state(ctx, &record.id);
            if !show_all && state.status != Status::Running {
                continue;
            }
            if ps_filter_matches(&filters, &record, &state)? {
                entries.push(PsEntry::new(record, state, now));
            }
        }
        if self.quiet {
            for entry in &entries {
                let id = &entry.record.id;
                println!("{}", if self.no_trunc { id } else { &id[..12] });
            }
            return Ok(0);
        }
        if self.size {
            let ids: Vec<String> = entries.iter().map(|e| e.record.id.clone()).collect();
            let rw_sizes = container::writable_layer_sizes(ctx, &ids)?;
            let images = crate::store::images::ImageIndex::load(&ctx.store)?;
            for (entry, rw) in entries.iter_mut().zip(rw_sizes) {
                let image = images.by_id(&entry.record.image_id).map_or(0, |i| i.size);
                entry.size = Some((rw, image));
            }
        }
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| e.template_row(now, self.no_trunc))
            .collect();
        let mut columns = vec![
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("CreatedHuman", "CREATED"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
        ];
        if self.size {
            columns.push(("Size", "SIZE"));
        }
        let headers = [columns.as_slice(), PS_HEADERS].concat();
        // Podman's template reads `.Namespaces.X` as `.X`.
        let template = self
            .format
            .as_deref()
            .map(|f| f.replace(".Namespaces.", "."));
        let listing = format::Listing {
            rows,
            json: entries.iter().map(|e| e.podman_json(now)).collect(),
            json_style: format::JsonStyle::Indented("  "),
            headers: &headers,
            noheading: false,
        };
        listing.print(template.as_deref(), |rows| {
            format::column_table(rows, &columns)
        })?;
        Ok(0)
    }
}
