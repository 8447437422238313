//! The flags of `run` and `create` as clap reads them: each flag's one home, its doc comment
//! the help text. `super::create_options` merges them over containers.conf.

use std::path::PathBuf;

use anyhow::Result;

use crate::config::containers::ContainersTable;
use crate::network;

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
    /// Connect only these of the container's streams to skiff's in a foreground run: stdin (with -i), stdout, stderr; the others read or write /dev/null (a detached container's log keeps them all). With neither stdout nor stderr, run prints the container's ID, as Podman does. Repeatable, or comma-separated; not with -d.
    #[arg(short, long, value_name = "STREAM", value_delimiter = ',')]
    pub attach: Vec<String>,
    /// Forward the signals skiff receives to the container's process while it runs in the foreground (default true); false drops them, so they neither reach it nor end skiff. With -t they are never forwarded (the terminal carries ^C), as Podman does.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub sig_proxy: Option<bool>,
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
    /// Rewrite a default variable from its current value (skiff's, containers.conf's or the image's): KEY=VALUE with $KEY or ${KEY} in VALUE, e.g. PATH=/opt/bin:${PATH}. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub env_merge: Vec<String>,
    /// Pass skiff's own proxy variables (http_proxy, https_proxy, ftp_proxy, no_proxy, any case) to the container (default true: containers.conf http_proxy).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", require_equals = true, overrides_with = "http_proxy")]
    pub http_proxy: Option<bool>,
    /// Accepted for Docker's scripts and ignored, as Podman does: image signatures are a registry's matter here.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true, value_name = "BOOL")]
    pub disable_content_trust: Option<bool>,
    /// Leave out a default variable: skiff's (PATH, TERM, container), containers.conf's or the image's (--env still sets it). Repeatable.
    #[arg(long, value_name = "KEY")]
    pub unsetenv: Vec<String>,
    /// Leave out every default variable: the container gets only --env, --env-file and --env-host's.
    #[arg(long)]
    pub unsetenv_all: bool,
    /// The umask of the container's process, in octal (default: containers.conf umask, else 0022).
    #[arg(long, value_name = "MASK", overrides_with = "umask")]
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
    /// The container's IPv6 address on its user-defined network. Checked as an address, then refused: skiff's networks have no IPv6 subnet yet.
    #[arg(long, value_name = "ADDRESS", overrides_with = "ip6")]
    pub ip6: Option<std::net::Ipv6Addr>,
    /// The hardware address of the container's interface on its user-defined network, such as 92:d0:c6:0a:29:33 (not zero, not multicast). Needs --network NAME: on a private (pasta, slirp4netns), host or none network skiff cannot set it, as Podman cannot.
    #[arg(long, value_name = "MAC", overrides_with = "mac_address")]
    pub mac_address: Option<String>,
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
    /// A directory in the container used as a chroot: the container's /etc/hosts, /etc/hostname and /etc/resolv.conf are bound under its etc/ too, as Podman does. Repeatable.
    #[arg(long, value_name = "DIR")]
    pub chrootdirs: Vec<String>,
    /// With --init, run this host program as the container's init instead of skiff's own: it is bound at /run/podman-init and given the command after --, as Podman does with catatonit (default: containers.conf init_path, else skiff's built-in init).
    #[arg(long, value_name = "PATH", overrides_with = "init_path")]
    pub init_path: Option<PathBuf>,
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
    /// binds, --tmpfs mounts and (see --read-only-tmpfs) /tmp, /var/tmp and /run (default: containers.conf read_only).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub read_only: Option<bool>,
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
    #[arg(long, value_name = "FILE", overrides_with = "cidfile")]
    pub cidfile: Option<PathBuf>,
    /// If a container with the same --name exists, remove it (stopping it first) and take its name.
    #[arg(long)]
    pub replace: bool,
    /// The container's time zone: a name under /usr/share/zoneinfo (Europe/Berlin), or local for the host's; its file is bound at /etc/localtime (default: containers.conf tz, else the image's).
    #[arg(long, value_name = "ZONE", overrides_with = "tz")]
    pub tz: Option<String>,
    /// Write the container's process id (as the host sees it) to FILE at each start.
    #[arg(long, value_name = "FILE", overrides_with = "pidfile")]
    pub pidfile: Option<PathBuf>,
    /// Map container uids onto your user namespace's: CONTAINER_UID:FROM_UID[:COUNT], where FROM_UID 0 is you and 1… your /etc/subuid range (rootless, as Podman reads it). Repeatable; without --gidmap the gids are mapped the same way.
    #[arg(long, value_name = "MAP")]
    pub uidmap: Vec<String>,
    /// Map container gids likewise: CONTAINER_GID:FROM_GID[:COUNT]. Repeatable.
    #[arg(long, value_name = "MAP")]
    pub gidmap: Vec<String>,
    /// Map the container's uids, from 0, onto the range /etc/subuid gives NAME (and its gids onto /etc/subgid's, unless --subgidname names another), as --uidmap 0:1:COUNT would. Rootless only, and NAME must be you: newuidmap maps only your own ranges.
    #[arg(long, value_name = "NAME", overrides_with = "subuidname")]
    pub subuidname: Option<String>,
    /// Map the container's gids, from 0, onto the range /etc/subgid gives NAME (and its uids onto /etc/subuid's, unless --subuidname is given). Rootless only, and NAME must be you.
    #[arg(long, value_name = "NAME", overrides_with = "subgidname")]
    pub subgidname: Option<String>,
    /// Add a host user's account (a name or UID on this host) to the container's /etc/passwd. Repeatable.
    #[arg(long, value_name = "USER")]
    pub hostuser: Vec<String>,
    /// Add entries to the container's /etc/passwd and /etc/group for a numeric --user and group the image lacks (default true), as Podman does.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value = "true", default_missing_value = "true", action = clap::ArgAction::Set)]
    pub passwd: bool,
    /// The /etc/passwd entry --passwd writes: $USERNAME, $UID, $GID, $NAME and $HOME are replaced (default $USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh).
    #[arg(long, value_name = "ENTRY", overrides_with = "passwd_entry")]
    pub passwd_entry: Option<String>,
    /// The /etc/group entry --passwd writes for a numeric group: $GROUPNAME, $GID and $USERLIST are replaced (default $GROUPNAME:x:$GID:$USERLIST).
    #[arg(long, value_name = "ENTRY", overrides_with = "group_entry")]
    pub group_entry: Option<String>,
    /// The container's process ids: private (its own namespace), host (the host's: it sees every process; rootless it then gets a user namespace of its own), or container:NAME (another container's).
    #[arg(long, value_name = "MODE", overrides_with = "pid")]
    pub pid: Option<String>,
    /// The container's System V IPC and POSIX message queues: private, shareable (the same here: any container's can be joined), none (no /dev/shm), host, or container:NAME.
    #[arg(long, value_name = "MODE", overrides_with = "ipc")]
    pub ipc: Option<String>,
    /// The container's host and domain name: private (its own), host (the host's), or container:NAME.
    #[arg(long, value_name = "MODE", overrides_with = "uts")]
    pub uts: Option<String>,
    /// The container's cgroup namespace: host (the default on a cgroup v1 host, as Podman's), private, or container:NAME.
    #[arg(long, value_name = "MODE", overrides_with = "cgroupns")]
    pub cgroupns: Option<String>,
    /// What the image's VOLUMEs become: bind (an anonymous volume each, seeded with the image's files; the default), tmpfs (an empty tmpfs each) or ignore (nothing: the image's directories).
    #[arg(long, value_name = "MODE", value_enum, overrides_with = "image_volume")]
    pub image_volume: Option<super::ImageVolume>,
    /// Kill the container after SECONDS at each start (0: never); it then exits with -1 (255), as Podman's does.
    #[arg(long, value_name = "SECONDS", overrides_with = "timeout")]
    pub timeout: Option<u32>,
    /// Containers to start before this one, at each of its starts (names or IDs; repeatable, or comma-separated); none of them can be removed while this one exists.
    #[arg(long, value_name = "CONTAINER", value_delimiter = ',')]
    pub requires: Vec<String>,
    /// Write the id of the process that watches the container (Podman's conmon: here the supervisor of a detached container, or the foreground skiff) to FILE at each start.
    #[arg(long, value_name = "FILE", overrides_with = "conmon_pidfile")]
    pub conmon_pidfile: Option<PathBuf>,
    /// Once the container exits, remove it (--rm) and its image, unless another container uses the image.
    #[arg(long)]
    pub rmi: bool,
    /// Add a supplementary group to the container's process: a name from the container's /etc/group or an id; keep-groups (alone) keeps the caller's own groups. Repeatable.
    #[arg(long, value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Set a namespaced kernel setting, KEY=VALUE: net.* (not with --network host), kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*; over containers.conf default_sysctls. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub sysctl: Vec<String>,
    /// The container's OOM score adjustment, -1000 to 1000. Rootless, a value below skiff's own is raised to it (the kernel lets only the host's root lower it).
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        overrides_with = "oom_score_adj"
    )]
    pub oom_score_adj: Option<i32>,
    /// The execution domain the command runs in: LINUX, or LINUX32 (uname -m says i686 on x86-64).
    #[arg(long, value_name = "DOMAIN", overrides_with = "personality")]
    pub personality: Option<String>,
    /// Size of the container's /dev/shm: bytes, or a number with k, m or g (default 64m; 0 for no limit).
    #[arg(long, value_name = "SIZE", overrides_with = "shm_size")]
    pub shm_size: Option<String>,
    /// Resource limit NAME=SOFT[:HARD] (nofile, nproc, core, memlock, stack…; -1 for unlimited), over containers.conf default_ulimits; host keeps skiff's own. Rootless, a hard limit above skiff's own is lowered to it. Repeatable.
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// Security option, repeatable: seccomp=unconfined|PROFILE.json (default: containers.conf seccomp_profile, else skiff's built-in profile, Podman's); no-new-privileges[=true|false]; mask=/PATH:… and unmask=ALL|/PATH:… (Podman's masked and read-only paths); systempaths=unconfined; proc-opts=OPTIONS for /proc; label=… and apparmor=unconfined (no effect on a host without SELinux or AppArmor).
    #[arg(long, value_name = "KEY=VALUE")]
    pub security_opt: Vec<String>,
    /// Which seccomp profile the container gets: default (--security-opt seccomp=, else containers.conf's, else the built-in one), or image (the image's label io.containers.seccomp.profile when it has one, unless --security-opt seccomp= is given), as Podman's.
    #[arg(long, value_name = "POLICY", overrides_with = "seccomp_policy")]
    pub seccomp_policy: Option<String>,
    /// Give the container every capability of its user namespace, no system call filter, no masked or read-only system paths, a writable /sys and the host's devices (those its user may open work).
    #[arg(long)]
    pub privileged: bool,
    /// The first argument is not an image but a host directory to use as the container's root, DIR[:O]: the container writes to the directory, or with :O to an overlay over it whose changes go with the container.
    #[arg(long)]
    pub rootfs: bool,
    /// Ready the container for systemd as its init: true (when the command is /sbin/init, /usr/sbin/init, /usr/local/sbin/init or systemd), false, or always. It then gets tmpfs on /run, /run/lock, /tmp and /var/log/journal (unless mounted otherwise), the host's cgroup file system (read-only but for the container's own cgroup), container_uuid in its environment, /etc/machine-id, and SIGRTMIN+3 as its stop signal unless --stop-signal or the image gives one.
    #[arg(long, value_name = "true|false|always", overrides_with = "systemd")]
    pub systemd: Option<String>,
    /// What becomes of $NOTIFY_SOCKET (a systemd unit of Type=notify running skiff): container (the default: the socket is passed in at /run/notify/notify.sock and the container says READY=1 itself; skiff says MAINPID), conmon (skiff says MAINPID and READY=1 once the container has started), or ignore (nothing is said, and the container does not see it).
    #[arg(
        long,
        value_name = "container|conmon|ignore",
        overrides_with = "sdnotify"
    )]
    pub sdnotify: Option<String>,
    #[command(flatten)]
    pub resources: super::resources::ResourceFlags,
    /// Image to run (with --rootfs, the root directory), then the command and its arguments, which replace the image's CMD. Nothing after the image is read as skiff's own flag, as with Podman (`run IMAGE -c x` passes -c on).
    #[arg(
        id = "image",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        value_names = ["IMAGE", "COMMAND"]
    )]
    pub image_and_command: Vec<String>,
    /// `--pull` (None for never) and the pull's options.
    #[arg(skip)]
    pub pull: Option<crate::image::ImagePull>,
}
