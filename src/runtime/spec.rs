//! What the runtime is asked to run: plain data, built by `container` from an image and the
//! command line, and kept in the container's config.json.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::Helper;
use super::userns::IdMapping;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A network namespace with only loopback.
    None,
    /// The host's network namespace.
    Host,
    /// A private network namespace with outbound connectivity through pasta or slirp4netns.
    #[default]
    Private,
    /// A network namespace of its own that skiff wires into bridges once the process exists.
    /// Rootless it is made inside the user namespace of the process holding the bridges, where
    /// the veth can reach it.
    Bridge {
        /// The process holding the bridges' network namespace (None: the host's), filled in at
        /// each start.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        holder_pid: Option<i32>,
        /// The bridges to wire the container into, filled in at each start.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<BridgeAttachment>,
    },
    /// A network namespace that already exists, named by a file such as `/proc/PID/ns/net`.
    /// Rootless, the container also joins the user namespace that owns it, since only that one
    /// holds the capabilities over it.
    Join(PathBuf),
}

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One published port: connections to `host_ip:host_port` reach `container_port` inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// None: every address of the host.
    pub host_ip: Option<std::net::IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// Podman's umask for a container's processes.
pub const DEFAULT_UMASK: u32 = 0o022;

fn default_umask() -> u32 {
    DEFAULT_UMASK
}

/// A resource limit set in the container's process before it execs (`--ulimit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// The limit's name as OCI writes it: `RLIMIT_NOFILE`.
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// The resource limits a container's process gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "limits")]
pub enum Rlimits {
    /// These, and RLIMIT_NOFILE raised as Podman raises it unless they name it: its soft limit
    /// to its hard one rootless, both to 1048576 as root.
    Set(Vec<Rlimit>),
    /// `--ulimit host`: skiff's own, untouched.
    Host,
}

impl Default for Rlimits {
    fn default() -> Self {
        Rlimits::Set(Vec::new())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// argv; argv[0] is looked up in the container's PATH when it has no slash.
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// `uid[:gid]` or `name[:group]`, resolved inside the container against its /etc/passwd and
    /// /etc/group, as runc does; empty means root.
    pub user: String,
    pub terminal: bool,
    /// Keep stdin open (`-i`); otherwise the process reads /dev/null, as with Docker.
    pub interactive: bool,
    /// `--init`: pid 1 is a minimal init (this process, before exec) that reaps orphans and
    /// forwards signals, and the command runs as its child.
    #[serde(default)]
    pub init: bool,
    /// `exec --privileged`: keeps every capability skiff has in the user namespace instead of
    /// Podman's default set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
    /// The bounding set (checked `CAP_…` names: `--cap-add` and `--cap-drop` over
    /// containers.conf `default_capabilities`) in place of Podman's default set; None keeps
    /// that set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// `--cap-add`: a process that does not run as root keeps these in its permitted,
    /// effective, inheritable and ambient sets (Podman's rule); root has its whole bounding set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_capabilities: Vec<String>,
    /// `--ulimit` and containers.conf `default_ulimits`.
    #[serde(default)]
    pub rlimits: Rlimits,
    /// `--group-add`: supplementary groups (names from the container's /etc/group, or ids);
    /// `keep-groups` alone keeps the caller's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `--oom-score-adj`; None leaves skiff's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// The process's umask (`--umask`; Podman's 0022 by default).
    #[serde(default = "default_umask")]
    pub umask: u32,
    /// `exec -d`: runs on its own, its output discarded, and outlives the command that started
    /// it (the container's pid 1 inherits it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub detached: bool,
    /// `--preserve-fds N` (or socket activation's LISTEN_FDS): descriptors 3 to 3+N-1 of the
    /// command that started the container are passed on; every other one is closed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub preserve_fds: u32,
    /// `--personality`: the execution domain the command runs in (`LINUX32` makes `uname -m`
    /// say i686 on x86-64); None leaves skiff's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personality: Option<Personality>,
    /// `--security-opt no-new-privileges`: the process and its children cannot gain privileges
    /// through exec (setuid programs, file capabilities). Off by default, as in Podman.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_new_privileges: bool,
    /// The system calls it may make. Containers from before seccomp existed get the default.
    #[serde(
        default,
        skip_serializing_if = "super::seccomp::SeccompPolicy::is_default"
    )]
    pub seccomp: super::seccomp::SeccompPolicy,
    /// `run -a`: the standard streams a foreground run leaves unconnected to skiff's (stdin is
    /// /dev/null, stdout and stderr go to /dev/null). A detached container's log gets them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unattached: Vec<StdStream>,
    /// `--sig-proxy=false` (and `-t`): the signals skiff receives while the process runs in
    /// the foreground are read and dropped instead of forwarded to it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signals_kept: bool,
}

/// One of a process's standard streams, as `run -a` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdStream {
    Stdin,
    Stdout,
    Stderr,
}

impl ProcessSpec {
    /// Whether `stream` is connected to skiff's own in a foreground run (`run -a`).
    pub fn attached(&self, stream: StdStream) -> bool {
        !self.unattached.contains(&stream)
    }
}

/// How one of a container's namespaces is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceMode {
    /// A namespace of its own.
    #[default]
    Private,
    /// The host's.
    Host,
    /// Another container's, named by a file such as `/proc/PID/ns/ipc`, filled in at each
    /// start (the other container's pid changes with its starts).
    Join(PathBuf),
}

/// Where `container_env` is bound.
pub const CONTAINER_ENV_PATH: &str = "/run/.containerenv";

/// `--rootfs DIR[:O]`: a host directory as the container's root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootDirectory {
    pub path: PathBuf,
    /// `:O`: the directory is the lower layer of an overlay whose changes go with the
    /// container; else the container writes the directory itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overlay: bool,
}

/// A container's pid, ipc, uts and cgroup namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    #[serde(default)]
    pub pid: NamespaceMode,
    #[serde(default)]
    pub ipc: NamespaceMode,
    #[serde(default)]
    pub uts: NamespaceMode,
    /// The host's unless `--cgroupns private` (Podman's default on a cgroup v1 host).
    #[serde(default = "host_namespace")]
    pub cgroup: NamespaceMode,
    /// A /dev/shm of its own (not with `--ipc none`).
    #[serde(default = "yes")]
    pub shm: bool,
}

fn host_namespace() -> NamespaceMode {
    NamespaceMode::Host
}

fn yes() -> bool {
    true
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            pid: NamespaceMode::Private,
            ipc: NamespaceMode::Private,
            uts: NamespaceMode::Private,
            cgroup: NamespaceMode::Host,
            shm: true,
        }
    }
}

impl Namespaces {
    fn is_default(&self) -> bool {
        *self == Namespaces::default()
    }
}

/// An execution domain of personality(2), by the names Podman takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Personality {
    Linux,
    Linux32,
}

impl std::str::FromStr for Personality {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "LINUX" => Ok(Personality::Linux),
            "LINUX32" => Ok(Personality::Linux32),
            _ => Err(format!(
                "invalid --personality {text:?}: the domains are LINUX and LINUX32"
            )),
        }
    }
}

fn default_masked_paths() -> Vec<String> {
    super::mount_plan::MASKED_PATHS
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn default_readonly_paths() -> Vec<String> {
    super::mount_plan::READONLY_PATHS
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// The store's layer directory; layers are mounted by relative names from here, which keeps
    /// the overlay option string short (it must fit in one page).
    pub layers_dir: PathBuf,
    /// Layer directories relative to `layers_dir`, topmost first.
    pub layers: Vec<String>,
    /// `--rootfs`: a host directory in place of the layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_directory: Option<RootDirectory>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    /// Where the union is mounted inside the container's mount namespace.
    pub rootfs_dir: PathBuf,
    /// `volatile` overlay (no syncs): the container is thrown away after it exits (`--rm`).
    pub volatile: bool,
    /// Empty mount points for the kernel overlay's lowest layer (see `store::skeleton`), found
    /// at each start and never recorded.
    #[serde(skip)]
    pub mount_point_skeleton: Option<PathBuf>,
    pub hostname: String,
    pub process: ProcessSpec,
    pub network: NetworkMode,
    /// Its pid, ipc, uts and cgroup namespaces (`--pid`, `--ipc`, `--uts`, `--cgroupns`).
    #[serde(default, skip_serializing_if = "Namespaces::is_default")]
    pub namespaces: Namespaces,
    /// Generated files bind-mounted over the image's: (host file, path inside the container).
    pub etc_files: Vec<(PathBuf, String)>,
    /// The file bound at /run/.containerenv, after the user's mounts (a tmpfs on /run gets it
    /// too), unless the user binds a directory of theirs there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_env: Option<PathBuf>,
    /// None when running as real root: then no user namespace is made.
    pub id_mapping: Option<IdMapping>,
    /// Where the holders of the user's long-lived user namespaces keep their pid files (see
    /// `userns_holder`), found at each start and never recorded; None: the container makes a
    /// user namespace of its own.
    #[serde(skip)]
    pub user_namespace_holders: Option<PathBuf>,
    /// Where pasta/slirp4netns helpers keep their pid files.
    pub run_dir: PathBuf,
    /// The user-mode network helper for a private network.
    pub network_backend: NetworkBackend,
    /// `--network pasta:OPTIONS` / `slirp4netns:OPTIONS`, split at commas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_options: Vec<String>,
    /// Ports the helper publishes on the host (private network only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    /// `-v`, `--mount`, `--tmpfs` and the image's volumes, mounted after the standard ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// `--read-only`: the union is mounted read-only once everything is in place.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// `--sysctl` and containers.conf `default_sysctls` (KEY, VALUE), checked: written in
    /// the container's /proc/sys before it is made read-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sysctls: Vec<(String, String)>,
    /// Paths hidden in the container (Podman's by default; `--security-opt mask=`/`unmask=`,
    /// none with `--privileged`), absolute.
    #[serde(default = "default_masked_paths")]
    pub masked_paths: Vec<String>,
    /// Paths made read-only in the container, likewise.
    #[serde(default = "default_readonly_paths")]
    pub readonly_paths: Vec<String>,
    /// `--security-opt proc-opts=`: options of the container's /proc mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proc_options: Vec<String>,
    /// `--privileged`: /sys is mounted writable (the kernel still decides what in it a user
    /// namespace may change).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub writable_sysfs: bool,
    /// `--systemd`: the host's cgroup hierarchies are shown at /sys/fs/cgroup, read-only but
    /// for the container's own cgroups, where systemd as its init makes its units' cgroups.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cgroup_view: bool,
    /// `--shm-size` in bytes (0: no limit); None for Podman's 64 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// The container's own cgroup and its limits (`--memory`, `--cpus`…); None: none of its own
    /// (`--cgroups disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<super::cgroups::CgroupSpec>,
    /// The mapping the layers' files were unpacked with, when the container's is another one:
    /// the layer directory is then served to it with the owners moved (`runtime::idshift`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_owners: Option<IdMapping>,
    /// `--userns=nomap|auto`: the command runs in a user namespace nested in the container's,
    /// whose maps these are (their outside ids are the container namespace's). Everything is
    /// mounted from the outer namespace, which reaches the user's store; the command never
    /// holds the user's own id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested_ids: Option<IdMapping>,
    /// How the layers and the container's changes become its root (`--storage-driver`).
    /// Containers from before the choice existed used the kernel's overlay.
    #[serde(default)]
    pub storage_driver: StorageDriver,
}

/// How a container's root is made of its image's layers (Podman's `--storage-driver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StorageDriver {
    /// The kernel's overlayfs, mounted in the user namespace.
    #[default]
    Overlay,
    /// skiff's own union over FUSE (`runtime::fuse_overlay`), with the kernel overlay's on-disk
    /// form: a container moves between the two freely.
    FuseOverlay,
    /// A plain copy of the merged layers per container, for where no union can be mounted.
    Vfs,
}

impl StorageDriver {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "overlay" | "overlay2" => StorageDriver::Overlay,
            "fuse-overlay" | "fuse-overlayfs" => StorageDriver::FuseOverlay,
            "vfs" => StorageDriver::Vfs,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            StorageDriver::Overlay => "overlay",
            StorageDriver::FuseOverlay => "fuse-overlay",
            StorageDriver::Vfs => "vfs",
        }
    }

    /// Whether a container's changes are kept as an upper directory (both overlays), which
    /// either overlay can mount; a vfs container's root is a copy that only vfs knows.
    pub fn keeps_upper_dir(self) -> bool {
        self != StorageDriver::Vfs
    }
}

impl ContainerSpec {
    /// Where the runtime mounts something in the union (relative to its root): the standard
    /// file systems, the generated /etc files and the user's mounts. The union gets an empty
    /// file or directory there when the image has none, which is no change of the container's.
    pub fn mount_targets(&self) -> Vec<PathBuf> {
        let (dirs, files) = self.standard_mount_points();
        dirs.into_iter()
            .chain(files)
            .chain(self.mounts.iter().map(|m| relative(&m.destination)))
            .collect()
    }

    /// The places of [`Self::mount_targets`] that every start mounts (not the user's): the
    /// directories of /proc, /sys and /dev, and the generated /etc files.
    pub fn standard_mount_points(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let dirs = ["proc", "sys", "dev"].map(PathBuf::from).to_vec();
        let files = self
            .etc_files
            .iter()
            .map(|(_, target)| relative(target))
            .chain(
                self.container_env
                    .iter()
                    .map(|_| relative(CONTAINER_ENV_PATH)),
            )
            .collect();
        (dirs, files)
    }

    /// The container's process's ids as host ids: its user namespace's mapping, through the
    /// nested one when it has one (None as root).
    pub fn process_ids(&self) -> Option<IdMapping> {
        let mapping = self.id_mapping.as_ref()?;
        Some(match &self.nested_ids {
            Some(nested) => mapping.compose(nested),
            None => mapping.clone(),
        })
    }
}

/// One mount the user asked for, in the container at `destination` (absolute).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub destination: String,
    pub source: MountSource,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly: bool,
    /// nosuid, nodev, noexec.
    #[serde(default, skip_serializing_if = "MountFlags::is_empty")]
    pub flags: MountFlags,
    /// How mounts below it propagate (`bind-propagation`); None leaves the kernel's default,
    /// rprivate, as runc does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<Propagation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountSource {
    /// A host directory or file (a volume's data directory too). `recursive`: rbind.
    Bind { path: PathBuf, recursive: bool },
    /// A fresh tmpfs; `size` in bytes, `mode` its root's permissions.
    Tmpfs {
        size: Option<u64>,
        mode: Option<u32>,
    },
    /// `--mount type=image`: an image's layers (topmost first, absolute), read-only unless it
    /// has a directory for its changes (`rw=true`).
    Layers {
        lower: Vec<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        changes: Option<OverlayChanges>,
    },
    /// `-v HOST:CTR:O`: an overlay whose lower layer is the host directory and whose changes go
    /// to `upper`, thrown away with the container.
    Overlay {
        lower: PathBuf,
        upper: PathBuf,
        work: PathBuf,
    },
}

/// Where an overlay mount keeps its changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayChanges {
    pub upper: PathBuf,
    pub work: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountFlags {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nosuid: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nodev: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noexec: bool,
}

impl MountFlags {
    pub fn is_empty(&self) -> bool {
        *self == MountFlags::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    Private,
    Rprivate,
    Shared,
    Rshared,
    Slave,
    Rslave,
}

impl Propagation {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "private" => Propagation::Private,
            "rprivate" => Propagation::Rprivate,
            "shared" => Propagation::Shared,
            "rshared" => Propagation::Rshared,
            "slave" => Propagation::Slave,
            "rslave" => Propagation::Rslave,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkBackend {
    #[default]
    Pasta,
    Slirp4netns,
}

impl NetworkBackend {
    /// The helper program that gives the network its way out.
    pub fn helper(self) -> Helper {
        match self {
            NetworkBackend::Pasta => Helper::Pasta,
            NetworkBackend::Slirp4netns => Helper::Slirp4netns,
        }
    }

    pub fn program(self) -> &'static str {
        self.helper().program()
    }
}

/// What wiring a container into a bridge needs to know.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BridgeAttachment {
    /// The bridge's interface name.
    pub bridge: String,
    /// `10.89.0.0/24`.
    pub subnet: String,
    pub gateway: std::net::Ipv4Addr,
    pub prefix: u8,
    pub address: std::net::Ipv4Addr,
    /// `--internal`: no masquerade, no default route.
    pub internal: bool,
    /// The container's side: eth0, eth1… in the order of its networks.
    pub interface: String,
    /// `--mac-address`: its hardware address (None: the kernel's random one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The first outbound network gives the container its default route.
    pub default_route: bool,
}

/// Specs for the runtime's unit tests.
/// A path inside the container, relative to its root.
fn relative(path: &str) -> PathBuf {
    PathBuf::from(path.trim_start_matches('/'))
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::runtime::userns::plan_mapping;

    /// A container of two layers, rootless or not, with `network`.
    pub(crate) fn spec(network: NetworkMode, rootless: bool) -> ContainerSpec {
        ContainerSpec {
            layers_dir: "/s/layers".into(),
            layers: vec!["b".into(), "a".into()],
            root_directory: None,
            upper_dir: "/s/c/upper".into(),
            work_dir: "/s/c/work".into(),
            rootfs_dir: "/s/c/merged".into(),
            volatile: true,
            mount_point_skeleton: None,
            hostname: "h".into(),
            process: ProcessSpec {
                args: vec!["true".into()],
                env: vec![],
                cwd: "/".into(),
                user: String::new(),
                terminal: false,
                interactive: false,
                init: false,
                privileged: false,
                capabilities: None,
                added_capabilities: Vec::new(),
                rlimits: Rlimits::default(),
                umask: DEFAULT_UMASK,
                oom_score_adj: None,
                group_add: Vec::new(),
                detached: false,
                preserve_fds: 0,
                personality: None,
                no_new_privileges: false,
                seccomp: Default::default(),
                unattached: Vec::new(),
                signals_kept: false,
            },
            network,
            namespaces: Namespaces::default(),
            etc_files: vec![("/run/c/hosts".into(), "/etc/hosts".into())],
            container_env: None,
            id_mapping: rootless
                .then(|| plan_mapping("u", 1000, 1000, "u:100000:65536", "u:100000:65536")),
            user_namespace_holders: None,
            run_dir: "/run/c".into(),
            network_backend: NetworkBackend::Pasta,
            network_options: Vec::new(),
            ports: Vec::new(),
            mounts: Vec::new(),
            read_only: false,
            masked_paths: default_masked_paths(),
            readonly_paths: default_readonly_paths(),
            proc_options: Vec::new(),
            writable_sysfs: false,
            cgroup_view: false,
            shm_size: None,
            cgroup: None,
            sysctls: Vec::new(),
            layer_owners: None,
            nested_ids: None,
            storage_driver: Default::default(),
        }
    }
}
