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

impl ContainerFlags {
    /// What clap parsed, handed to the operations, which merge it over containers.conf; the
    /// warning about ports a host or absent network discards is printed here.
    fn create_options(self, ctx: &Context) -> anyhow::Result<CreateOptions> {
        let pull = crate::cli::registry::image_pull(self.pull, &self.registry, &self.platform)?;
        let flags = container::RunFlags {
            image: self.image,
            pull,
            command: self.command,
            name: self.name,
            rm: self.rm,
            interactive: self.interactive,
            tty: self.tty,
            env: self.env,
            env_file: self.env_file,
            workdir: self.workdir,
            user: self.user,
            entrypoint: self.entrypoint,
            hostname: self.hostname,
            network: self.network,
            publish: self.publish,
            publish_all: self.publish_all,
            expose: self.expose,
            names: self.names.host_names(),
            ip: self.ip,
            network_alias: self.network_alias,
            link: self.link,
            stop_signal: self.stop_signal,
            init: self.init,
            preserve_fds: self.preserve_fds,
            log_driver: self.log_driver,
            log_opt: self.log_opt,
            label: self.label,
            label_file: self.label_file,
            volume: self.volume,
            mount: self.mount,
            tmpfs: self.tmpfs,
            userns: self.userns,
            volumes_from: self.volumes_from,
            device: self.device,
            read_only: self.read_only,
            read_only_tmpfs: self.read_only_tmpfs,
            restart: self.restart,
            stop_timeout: self.stop_timeout,
            security_opt: self.security_opt,
        };
        let options = container::create_options(ctx, flags)?;
        if let Some(warning) = options.discarded_ports_warning() {
            eprintln!("WARN: {warning}");
        }
        Ok(options)
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
        let attached = self.flags.tty && self.flags.interactive;
        let options = self.flags.create_options(ctx)?;
        if self.detach {
            println!("{}", container::run_detached(ctx, &options)?);
            return Ok(0);
        }
        let code = if attached {
            let session = attach::SessionOptions {
                stdin: true,
                detach_keys,
            };
            container::run_attached(ctx, &options, &session)?
        } else {
            container::run(ctx, &options)?
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
        let options = self.flags.create_options(ctx)?;
        let record = container::create(ctx, &options)?;
        println!("{}", record.id);
        Ok(0)
    }
}
