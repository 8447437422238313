//! Starting a container: clones its first process into new namespaces (or into a shared
//! network's), writes its id maps, wires its network and lets it run, then supervises it in
//! the foreground until it exits. The protocol with that process is `channel`'s; the process
//! toolbox (clone, pipes, waiting, signals) is `process`'s.
//!
//! The parent blocks the signals it forwards before `clone` and reads them from a signalfd; the
//! child restores an empty mask before exec. `clone` happens while skiff is single-threaded, so
//! the child (a copy-on-write copy of the parent) may run ordinary Rust code, allocation included,
//! until it execs.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::bridge;
use super::cgroups::Cgroup;
use super::channel::{
    failure_if_reported, read_child_error, receive_pid, send_go_ahead, signal_child, GoAhead,
};
use super::child::{child_main, clone_in_joined, ChildChannels};
use super::error::Error;
use super::foreground::{supervise, terminal_channel, RunOutcome, Streams};
use super::forward::PortRelay;
use super::network::{Helped, HelperLife, HelperProgress, StartingHelper};
use super::network_wait;
use super::process::{block_forwarded_signals, clone_child, open_namespace, pipe, JoinTargets};
use super::spec::{ContainerSpec, NamespaceMode, Namespaces, NetworkMode};
use super::stdio_relay;
use super::storage::RootServers;
use super::userns::{start_id_maps, PendingIdMaps};
use super::userns_holder::shared_user_namespace;

pub use super::probe::kernel_overlay_works;

/// Starts a container's first process: clones it into its namespaces, starts its network
/// helper and the writing of its id maps, links it to its bridges, and returns it waiting,
/// before it mounts anything, so that the caller records it (its pid) meanwhile. `SpawnedContainer::run` lets it go
/// on; dropping it instead kills it.
pub fn spawn_container(spec: &ContainerSpec) -> Result<SpawnedContainer<'_>, Error> {
    let mut flags = CloneFlags::CLONE_NEWNS | private_namespaces(spec);
    let others = other_containers_namespaces(&spec.namespaces)?;
    let mut joined = match &spec.network {
        NetworkMode::Join(path) => Some(open_shared_network(path, spec.id_mapping.is_some())?),
        NetworkMode::Bridge {
            holder_pid: Some(holder),
            ..
        } if spec.id_mapping.is_some() => Some(JoinedNamespaces {
            net: None,
            user: Some(open_namespace(*holder, "user")?),
            others: Vec::new(),
        }),
        _ if !others.is_empty() => Some(JoinedNamespaces {
            net: None,
            user: None,
            others: Vec::new(),
        }),
        _ => long_lived_user_namespace(spec)?,
    };
    if let Some(joined) = joined.as_mut().filter(|_| !others.is_empty()) {
        // Rootless, the user namespace that owns the other container's namespaces, which alone
        // holds the capabilities over them.
        if joined.user.is_none() && spec.id_mapping.is_some() {
            joined.user = Some(owning_user_namespace(&others[0].0)?);
        }
        joined.others = others;
    }
    // A joined user namespace already has its id maps.
    let needs_id_maps = spec.id_mapping.is_some() && joined.is_none();
    if needs_id_maps {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    if matches!(
        spec.network,
        NetworkMode::None | NetworkMode::Private | NetworkMode::Bridge { .. }
    ) {
        flags |= CloneFlags::CLONE_NEWNET;
    }

    // First, so the servers' copies of skiff's descriptors are as few as can be.
    let servers = RootServers::start(spec)?;
    let (sync_read, sync_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let (tty_parent, tty_child) = terminal_channel(spec.process.terminal)?;
    let (container_stdio, stdio_relay) = stdio_relay::plan(&spec.process)?;
    let (signals, signal_fd) = block_forwarded_signals()?;

    let channels = ChildChannels {
        sync_read: sync_read.as_raw_fd(),
        err_write: err_write.as_raw_fd(),
        tty_socket: tty_child.as_ref().map(|fd| fd.as_raw_fd()),
        layer_server: servers.layers.as_ref().map(|fd| fd.as_raw_fd()),
        union_server: servers.union.as_ref().map(|fd| fd.as_raw_fd()),
        stdio: container_stdio.raw(),
        early_network: network_wait::early_start(spec),
    };
    let cloned = match &joined {
        None => clone_child(flags, || child_main(spec, &channels)).map(Some),
        Some(shared) => {
            let targets = JoinTargets {
                user: shared.user.as_ref().map(|fd| fd.as_raw_fd()),
                others: shared
                    .net
                    .iter()
                    .map(|fd| (fd.as_raw_fd(), CloneFlags::CLONE_NEWNET))
                    .chain(
                        shared
                            .others
                            .iter()
                            .map(|(fd, kind)| (fd.as_raw_fd(), *kind)),
                    )
                    .collect(),
                nested_user: None,
            };
            clone_through_joiner(|pid_write| {
                clone_in_joined(&targets, flags, &channels, pid_write, || {
                    child_main(spec, &channels)
                })
            })
        }
    };
    drop(sync_read);
    drop(err_write);
    drop(tty_child);
    drop(container_stdio);
    let kernel_root = servers.layers.is_none() && servers.union.is_none();
    drop(servers);
    let pid = match cloned {
        Ok(Some(pid)) => pid,
        Ok(None) => {
            let _ = signals.thread_unblock();
            return Err(read_child_error(err_read).unwrap_or_else(|| {
                Error::Setup("the process joining the shared network died".into())
            }));
        }
        Err(error) => {
            let _ = signals.thread_unblock();
            return Err(error);
        }
    };

    let mut spawned = SpawnedContainer {
        spec,
        pid,
        sync_write,
        err_read: Some(err_read),
        streams: Some(Streams {
            terminal: tty_parent,
            relay: stdio_relay,
            interactive: spec.process.interactive,
            forward_signals: !spec.process.signals_kept,
        }),
        signals,
        signal_fd,
        early_network: channels.early_network.is_some(),
        starting: None,
        id_maps: None,
        relay: None,
        reaped: false,
        kernel_root,
        cgroup: None,
    };
    spawned.start_helpers(needs_id_maps)?;
    Ok(spawned)
}

/// Namespaces the container's process is cloned in rather than given new ones.
struct JoinedNamespaces {
    net: Option<OwnedFd>,
    user: Option<OwnedFd>,
    /// Another container's pid, ipc or uts namespaces (`--pid container:…` and the like).
    others: Vec<(OwnedFd, CloneFlags)>,
}

/// The namespaces the container gets of its own at clone, besides its mount namespace. A
/// private cgroup namespace waits until the process is in its cgroup (`child`), whose root it
/// then is.
fn private_namespaces(spec: &ContainerSpec) -> CloneFlags {
    let namespaces = &spec.namespaces;
    let cgroup_later = spec.cgroup.is_some();
    [
        (&namespaces.pid, CloneFlags::CLONE_NEWPID),
        (&namespaces.ipc, CloneFlags::CLONE_NEWIPC),
        (&namespaces.uts, CloneFlags::CLONE_NEWUTS),
        (&namespaces.cgroup, CloneFlags::CLONE_NEWCGROUP),
    ]
    .into_iter()
    .filter(|(mode, _)| **mode == NamespaceMode::Private)
    .filter(|(_, flag)| !(cgroup_later && *flag == CloneFlags::CLONE_NEWCGROUP))
    .fold(CloneFlags::empty(), |flags, (_, flag)| flags | flag)
}

/// The other containers' namespaces the container joins, opened.
fn other_containers_namespaces(
    namespaces: &Namespaces,
) -> Result<Vec<(OwnedFd, CloneFlags)>, Error> {
    let mut opened = Vec::new();
    for (mode, flag) in [
        (&namespaces.pid, CloneFlags::CLONE_NEWPID),
        (&namespaces.ipc, CloneFlags::CLONE_NEWIPC),
        (&namespaces.uts, CloneFlags::CLONE_NEWUTS),
        (&namespaces.cgroup, CloneFlags::CLONE_NEWCGROUP),
    ] {
        if let NamespaceMode::Join(path) = mode {
            let file = std::fs::File::open(path).map_err(|source| Error::Sys {
                context: format!("opening the namespace {}", path.display()),
                source,
            })?;
            opened.push((OwnedFd::from(file), flag));
        }
    }
    Ok(opened)
}

fn owning_user_namespace(namespace: &OwnedFd) -> Result<OwnedFd, Error> {
    // SAFETY: NS_GET_USERNS takes no argument; on success it returns a new descriptor we own.
    let user = unsafe { ns_get_userns(namespace.as_raw_fd()) }
        .map_err(|e| Error::sys("finding the user namespace of another container's", e))?;
    // SAFETY: the ioctl returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(user) })
}

/// A user namespace with the container's maps that outlives it (`userns_holder`), where
/// writing new maps needs the setuid helpers; None when the maps are the user's own id only
/// (written directly, at no cost) or the caller gave no place for holders.
fn long_lived_user_namespace(spec: &ContainerSpec) -> Result<Option<JoinedNamespaces>, Error> {
    let (Some(mapping), Some(dir)) = (&spec.id_mapping, &spec.user_namespace_holders) else {
        return Ok(None);
    };
    // A container that sees the host's processes gets a user namespace of its own: in the
    // shared one it could trace the other containers' (see `userns_holder`).
    if mapping.is_single() || spec.namespaces.pid == NamespaceMode::Host {
        return Ok(None);
    }
    Ok(Some(JoinedNamespaces {
        net: None,
        user: Some(shared_user_namespace(dir, mapping)?),
        others: Vec::new(),
    }))
}

nix::ioctl_none!(ns_get_userns, 0xb7, 0x1);

fn open_shared_network(path: &std::path::Path, rootless: bool) -> Result<JoinedNamespaces, Error> {
    let net = std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|source| Error::Sys {
            context: format!("opening the network namespace {}", path.display()),
            source,
        })?;
    if !rootless {
        return Ok(JoinedNamespaces {
            net: Some(net),
            user: None,
            others: Vec::new(),
        });
    }
    // SAFETY: NS_GET_USERNS takes no argument; on success it returns a new descriptor we own.
    let user = unsafe { ns_get_userns(net.as_raw_fd()) }.map_err(|e| {
        Error::Network(format!(
            "{} is not a network namespace skiff can share: {}",
            path.display(),
            e.desc().to_lowercase()
        ))
    })?;
    // SAFETY: the ioctl returned a fresh descriptor that nothing else owns.
    let user = unsafe { OwnedFd::from_raw_fd(user) };
    use std::os::unix::fs::MetadataExt;
    let inode = |p: &str| std::fs::metadata(p).map(|m| m.ino()).ok();
    let own = inode("/proc/self/ns/user");
    if own.is_some() && inode(&format!("/proc/self/fd/{}", user.as_raw_fd())) == own {
        return Err(Error::Network(format!(
            "the network namespace {} belongs to the host's user namespace, where you have no privileges: a rootless container can only share one made by your containers or your own unshare",
            path.display()
        )));
    }
    Ok(JoinedNamespaces {
        net: Some(net),
        user: Some(user),
        others: Vec::new(),
    })
}

/// Runs `joiner` (given the write end of a pipe) in a short-lived child that reports the pid of
/// the container process it cloned; None when it failed (its error is on the error channel).
fn clone_through_joiner(mut joiner: impl FnMut(i32) -> isize) -> Result<Option<Pid>, Error> {
    let (pid_read, pid_write) = pipe()?;
    let raw_write = pid_write.as_raw_fd();
    let helper = clone_child(CloneFlags::empty(), || joiner(raw_write))?;
    drop(pid_write);
    let reported = receive_pid(pid_read);
    let _ = waitpid(helper, None);
    Ok(reported)
}

/// A container's first process, cloned and waiting for the word to mount its root and run
/// (see `spawn_container`).
pub struct SpawnedContainer<'a> {
    spec: &'a ContainerSpec,
    pid: Pid,
    sync_write: OwnedFd,
    err_read: Option<OwnedFd>,
    streams: Option<Streams>,
    signals: SigSet,
    signal_fd: SignalFd,
    /// The process may exec once its namespace is configured, before the network helper is
    /// ready (see `network_wait`).
    early_network: bool,
    /// The network helper, launched and not yet ready.
    starting: Option<StartingHelper>,
    /// newuidmap and newgidmap, started and not yet waited for.
    id_maps: Option<PendingIdMaps>,
    relay: Option<PortRelay>,
    /// The process has been waited for: nothing is left to kill.
    reaped: bool,
    /// Its root is a kernel overlay (no FUSE servers, which end with the mount).
    kernel_root: bool,
    /// Its cgroup, made and joined before it runs; removed once it has exited.
    cgroup: Option<Cgroup>,
}

impl SpawnedContainer<'_> {
    /// The container's first process, as the host sees it.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The container's mount namespace, for a holder that outlives the container; call it
    /// before `run`, while the process lives. Whoever drops the last reference to a mount
    /// namespace unmounts everything in it, waiting for an RCU grace period (0.3 ms here); that
    /// is the container's exit, which skiff waits for, unless something else holds the
    /// namespace and drops it later. None with a FUSE root, whose servers end with the mount.
    pub fn open_mount_namespace(&self) -> Option<OwnedFd> {
        if !self.kernel_root || self.reaped {
            return None;
        }
        open_namespace(self.pid.as_raw(), "mnt").ok()
    }

    /// The network helper starts first: it is the slowest step, and everything below overlaps
    /// it. Then the id-map helpers, which run while the caller records the container (they are
    /// waited for in `run`), and the links to user-defined networks, which clone helper
    /// processes and need the maps written: all before the caller's bookkeeping, which may
    /// start threads.
    fn start_helpers(&mut self, needs_id_maps: bool) -> Result<(), Error> {
        let spec = self.spec;
        let pid = self.pid;
        if spec.network == NetworkMode::Private {
            self.starting = Some(StartingHelper::launch(
                spec.network_backend,
                &Helped {
                    pid: pid.as_raw(),
                    run_dir: &spec.run_dir,
                    ports: &spec.ports,
                    options: &spec.network_options,
                    rootless: spec.id_mapping.is_some(),
                    life: HelperLife::TiedToCaller,
                },
            )?);
        }
        if let Some(cgroup) = &spec.cgroup {
            self.cgroup = Cgroup::create(cgroup, pid.as_raw())?;
        }
        if let Some(mapping) = spec.id_mapping.as_ref().filter(|_| needs_id_maps) {
            let pending = start_id_maps(pid.as_raw(), mapping)?;
            if matches!(spec.network, NetworkMode::Bridge { .. }) {
                pending.wait()?;
            } else {
                self.id_maps = Some(pending);
            }
        }
        if let NetworkMode::Bridge {
            holder_pid,
            attachments,
            ..
        } = &spec.network
        {
            for attachment in attachments {
                bridge::attach(
                    *holder_pid,
                    pid.as_raw(),
                    spec.id_mapping.is_some(),
                    attachment,
                )?;
            }
            if let Some(first) = attachments.first().filter(|_| !spec.ports.is_empty()) {
                self.relay = Some(PortRelay::start(&spec.ports, first.address, *holder_pid)?);
            }
        }
        Ok(())
    }

    /// Lets the container go on and runs it in the foreground: returns when its first process
    /// exits. `started` runs once the command has exec'd, with the master of its terminal
    /// (`-t`): it gives the master back for skiff to relay to its own standard streams, or keeps
    /// it (a supervisor serving `attach`).
    pub fn run<S>(mut self, started: S) -> Result<RunOutcome, Error>
    where
        S: FnOnce(Option<OwnedFd>) -> Option<OwnedFd>,
    {
        let (Some(err_read), Some(streams)) = (self.err_read.take(), self.streams.take()) else {
            return Err(Error::Setup("the container was already run".into()));
        };
        if let Some(pending) = self.id_maps.take() {
            pending.wait()?;
        }
        signal_child(&self.sync_write, GoAhead::IdMapsWritten, &err_read)?;
        let mut network = None;
        let mut still_starting = None;
        let result = (|| {
            match self.starting.take().map(|helper| {
                // With an early start, the child's report (or its exec) may come first.
                let child_went_on = self.early_network.then(|| err_read.as_fd());
                helper.wait_ready_or(child_went_on)
            }) {
                Some(Err(error)) => return Err(failure_if_reported(&err_read).unwrap_or(error)),
                Some(Ok(HelperProgress::Starting(helper))) => still_starting = Some(helper),
                Some(Ok(HelperProgress::Ready(ready))) => network = Some(ready),
                None => {}
            }
            if self.early_network {
                // The child may have exec'd on its own already: a closed pipe is no error.
                let _ = send_go_ahead(&self.sync_write, GoAhead::NetworkReady);
            } else {
                signal_child(&self.sync_write, GoAhead::NetworkReady, &err_read)?;
            }
            supervise(self.pid, err_read, streams, &self.signal_fd, started)
        })();
        if let Some(helper) = network {
            helper.stop();
        }
        if let Some(relay) = self.relay.take() {
            relay.stop();
        }
        // A helper that failed while the container ran left it without a network: its failure
        // is the outcome.
        let helper_failure = still_starting.and_then(StartingHelper::abandon);
        self.reaped = result.is_ok();
        let result = result.map(|outcome| RunOutcome {
            oom_killed: self.cgroup.as_ref().is_some_and(Cgroup::oom_killed),
            ..outcome
        });
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.remove();
        }
        match (result, helper_failure) {
            (Ok(_), Some(failure)) => Err(failure),
            (result, _) => result,
        }
    }
}

impl Drop for SpawnedContainer<'_> {
    /// A container that is not run, or whose run failed, is killed and waited for; the helpers
    /// started for it go, and the forwarded signals are unblocked again.
    fn drop(&mut self) {
        if let Some(helper) = self.starting.take() {
            helper.abandon();
        }
        if let Some(relay) = self.relay.take() {
            relay.stop();
        }
        if !self.reaped {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
            let _ = waitpid(self.pid, None);
        }
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.remove();
        }
        let _ = self.signals.thread_unblock();
    }
}
