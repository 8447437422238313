//! Starting a container (running a closure inside a namespace is `namespace_work`'s).
//!
//! Protocol between skiff (the parent) and the container's first process (the child), over three
//! channels made before `clone`:
//!
//! ```text
//!   parent                                   child (pid 1 in the new namespaces)
//!   clone(NEWUSER|NEWNS|NEWPID|NEWUTS|NEWIPC[|NEWNET])
//!   newuidmap/newgidmap on the child  ──'M'──>  id maps are in place: mount the rootfs
//!   start pasta on the child's netns  ──'N'──>  network is up: exec may proceed
//!                                     <──fd──   (-t) pty master, over a unix socket
//!   (layer server, forked first)      <──fds──  (keep-id) /dev/fuse mounted over the layer
//!                                               store, and the child's user namespace
//!                                     <──err──  setup or exec failure: kind byte + message;
//!                                               EOF (close-on-exec) means exec succeeded
//!   (no -t) relay  <──pipes──>  stdio           in place of skiff's descriptors 0-2 that are
//!                                               terminals (see `stdio_relay`)
//! ```
//!
//! The parent blocks the signals it forwards before `clone` and reads them from a signalfd; the
//! child restores an empty mask before exec. `clone` happens while skiff is single-threaded, so
//! the child (a copy-on-write copy of the parent) may run ordinary Rust code, allocation included,
//! until it execs.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::child::{child_main, ChildChannels};
use super::forward::PortRelay;
use super::namespace_work::run_in_child;
use super::network::StartingHelper;
use super::spec::{ContainerSpec, NetworkMode, StorageDriver};
use super::stdio_relay::StdioRelay;
use super::tty::TerminalSession;
use super::userns::{write_id_maps, IdMapping};
use super::Error;

/// How a foreground container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// The exit code as a shell reports it: the process's code, or 128 + signal number.
    pub exit_code: i32,
}

/// Message kinds on the error channel.
pub(crate) const ERR_NOT_FOUND: u8 = b'N';
pub(crate) const ERR_NOT_EXECUTABLE: u8 = b'X';
pub(crate) const ERR_OTHER: u8 = b'E';

const CHILD_STACK_SIZE: usize = 1024 * 1024;

fn forwarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCHLD,
    ] {
        set.add(sig);
    }
    set
}

pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::sys("pipe", e))
}

/// Clones a child into `flags` namespaces running `child` on its own stack; returns its pid.
pub(crate) fn clone_child(
    flags: CloneFlags,
    mut child: impl FnMut() -> isize,
) -> Result<Pid, Error> {
    let mut stack = vec![0u8; CHILD_STACK_SIZE];
    // SAFETY: skiff is single-threaded here (module contract), so the child — a copy-on-write copy
    // of this process without CLONE_VM — holds no lock another thread could own, and may allocate.
    // The stack buffer outlives the call in the parent; the child has its own copy of it.
    let pid = unsafe {
        nix::sched::clone(
            Box::new(&mut child),
            &mut stack,
            flags,
            Some(Signal::SIGCHLD as i32),
        )
    }
    .map_err(|e| Error::sys("clone", e))?;
    Ok(pid)
}

pub(super) fn write_byte(fd: &OwnedFd, byte: u8) -> Result<(), Error> {
    nix::unistd::write(fd, &[byte])
        .map_err(|e| Error::sys("signalling the container process", e))?;
    Ok(())
}

/// Sends the child its next go-ahead. A child whose set-up failed has written why on its error
/// channel and exited, closing its end of the sync pipe: its report, not the broken pipe, is
/// the error.
fn signal_child(sync_write: &OwnedFd, byte: u8, err_read: &OwnedFd) -> Result<(), Error> {
    write_byte(sync_write, byte).map_err(|refused| {
        err_read
            .try_clone()
            .ok()
            .and_then(read_child_error)
            .unwrap_or(refused)
    })
}

/// Reads the child's error report: None when it exec'd (EOF without data).
fn read_child_error(err_read: OwnedFd) -> Option<Error> {
    let mut buf = Vec::new();
    let mut file = std::fs::File::from(err_read);
    let _ = file.read_to_end(&mut buf);
    let (&kind, message) = buf.split_first()?;
    if kind == super::sealed_exec::ERR_EXEC_FAILED {
        return Some(super::sealed_exec::exec_failure(message));
    }
    let message = String::from_utf8_lossy(message).into_owned();
    Some(match kind {
        ERR_NOT_FOUND => Error::CommandNotFound { path: message },
        ERR_NOT_EXECUTABLE => Error::NotExecutable { path: message },
        _ => Error::Setup(message),
    })
}

fn exit_code_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// A connected pair of unix stream sockets, closed on exec.
pub(crate) fn socket_pair() -> Result<(OwnedFd, OwnedFd), Error> {
    nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair", e))
}

/// The socket pair on which the container's process sends its terminal's master, when it has one.
fn terminal_channel(terminal: bool) -> Result<(Option<OwnedFd>, Option<OwnedFd>), Error> {
    if !terminal {
        return Ok((None, None));
    }
    let (parent, child) = socket_pair()?;
    Ok((Some(parent), Some(child)))
}

/// Blocks the signals skiff forwards to the container and opens a signalfd to read them; the
/// caller unblocks them when done.
fn block_forwarded_signals() -> Result<(SigSet, SignalFd), Error> {
    let signals = forwarded_signals();
    signals
        .thread_block()
        .map_err(|e| Error::sys("blocking signals", e))?;
    let signal_fd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::sys("signalfd", e))?;
    Ok((signals, signal_fd))
}

/// The signals a process attached to a container passes on (`attach`, `run -it`), read one at
/// a time instead of interrupting it.
pub struct SignalWatch(SignalFd);

impl SignalWatch {
    /// Blocks the forwarded signals in the calling thread, and in the threads it starts later.
    pub fn start() -> Result<Self, Error> {
        let (_, signal_fd) = block_forwarded_signals()?;
        Ok(SignalWatch(signal_fd))
    }

    /// Waits for the next signal; its number.
    pub fn next(&self) -> Option<i32> {
        loop {
            match self.0.read_signal() {
                Ok(Some(info)) => return Some(info.ssi_signo as i32),
                Ok(None) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return None,
            }
        }
    }
}

/// Runs `process` inside the running container whose first process is `target_pid`: joins its
/// user (when rootless), mount, uts, ipc, network and pid namespaces, and returns the process's
/// exit code once it ends, forwarding signals (and the terminal, with `process.terminal`).
pub fn exec_in_container(
    target_pid: i32,
    rootless: bool,
    process: &super::ProcessSpec,
) -> Result<RunOutcome, Error> {
    use std::os::fd::AsRawFd as _;
    let open = |name: &str| open_namespace(target_pid, name);
    let (user, nested_user) = container_user_namespaces(target_pid, rootless)?;
    let mut others = Vec::new();
    // The cgroup namespace too, when the container has one of its own.
    let same_inode = |a: &str, b: &str| {
        use std::os::unix::fs::MetadataExt;
        matches!((std::fs::metadata(a), std::fs::metadata(b)), (Ok(a), Ok(b)) if a.ino() == b.ino())
    };
    if !same_inode(
        &format!("/proc/{target_pid}/ns/cgroup"),
        "/proc/self/ns/cgroup",
    ) {
        others.push((open("cgroup")?, CloneFlags::CLONE_NEWCGROUP));
    }
    for (name, kind) in [
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("mnt", CloneFlags::CLONE_NEWNS),
    ] {
        others.push((open(name)?, kind));
    }
    let (pid_read, pid_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let (tty_parent, tty_child) = terminal_channel(process.terminal)?;
    let (container_stdio, stdio_relay) = super::stdio_relay::plan(process)?;
    let (signals, signal_fd) = block_forwarded_signals()?;
    let targets = super::child::JoinTargets {
        user: user.as_ref().map(|fd| fd.as_raw_fd()),
        others: others
            .iter()
            .map(|(fd, kind)| (fd.as_raw_fd(), *kind))
            .collect(),
        nested_user: nested_user.as_ref().map(|fd| fd.as_raw_fd()),
    };
    let channels = ChildChannels {
        sync_read: -1,
        err_write: err_write.as_raw_fd(),
        tty_socket: tty_child.as_ref().map(|fd| fd.as_raw_fd()),
        layer_server: None,
        union_server: None,
        stdio: container_stdio.raw(),
    };
    let joiner = clone_child(CloneFlags::empty(), || {
        super::child::exec_child_main(process, &targets, &channels, pid_write.as_raw_fd())
    })?;
    drop(err_write);
    drop(tty_child);
    drop(container_stdio);
    drop(pid_write);
    let mut pid_bytes = [0u8; 4];
    let reported = std::fs::File::from(pid_read).read_exact(&mut pid_bytes);
    let _ = waitpid(joiner, None);
    let result = match reported {
        Ok(()) if process.detached => match read_child_error(err_read) {
            Some(error) => Err(error),
            None => Ok(RunOutcome { exit_code: 0 }),
        },
        Ok(()) => {
            let pid = Pid::from_raw(i32::from_ne_bytes(pid_bytes));
            let streams = Streams {
                terminal: tty_parent,
                relay: stdio_relay,
                interactive: process.interactive,
            };
            supervise(pid, err_read, streams, &signal_fd, |master| master)
        }
        Err(_) => Err(read_child_error(err_read)
            .unwrap_or_else(|| Error::Setup("the process joining the container died".into()))),
    };
    let _ = signals.thread_unblock();
    result
}

/// Starts a container's first process: clones it into its namespaces, writes its id maps and
/// starts its network helper and bridge links, and returns it waiting, before it mounts
/// anything, so that the caller records it (its pid) first. `SpawnedContainer::run` lets it go
/// on; dropping it instead kills it.
pub fn spawn_container(spec: &ContainerSpec) -> Result<SpawnedContainer<'_>, Error> {
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    let joined = match &spec.network {
        NetworkMode::Join(path) => Some(open_shared_network(path, spec.id_mapping.is_some())?),
        NetworkMode::Bridge {
            holder_pid: Some(holder),
            ..
        } if spec.id_mapping.is_some() => Some(SharedNetwork {
            net: None,
            user: Some(open_namespace(*holder, "user")?),
        }),
        _ => None,
    };
    // A shared network's own user namespace already has its id maps.
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
    let (container_stdio, stdio_relay) = super::stdio_relay::plan(&spec.process)?;
    let (signals, signal_fd) = block_forwarded_signals()?;

    let channels = ChildChannels {
        sync_read: sync_read.as_raw_fd(),
        err_write: err_write.as_raw_fd(),
        tty_socket: tty_child.as_ref().map(|fd| fd.as_raw_fd()),
        layer_server: servers.layers.as_ref().map(|fd| fd.as_raw_fd()),
        union_server: servers.union.as_ref().map(|fd| fd.as_raw_fd()),
        stdio: container_stdio.raw(),
    };
    let cloned = match &joined {
        None => clone_child(flags, || child_main(spec, &channels)).map(Some),
        Some(shared) => {
            let targets = super::child::JoinTargets {
                user: shared.user.as_ref().map(|fd| fd.as_raw_fd()),
                others: shared
                    .net
                    .iter()
                    .map(|fd| (fd.as_raw_fd(), CloneFlags::CLONE_NEWNET))
                    .collect(),
                nested_user: None,
            };
            clone_through_joiner(|pid_write| {
                super::child::clone_in_joined(&targets, flags, &channels, pid_write, || {
                    child_main(spec, &channels)
                })
            })
        }
    };
    drop(sync_read);
    drop(err_write);
    drop(tty_child);
    drop(container_stdio);
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
        }),
        signals,
        signal_fd,
        starting: None,
        relay: None,
        reaped: false,
    };
    spawned.start_helpers(needs_id_maps)?;
    Ok(spawned)
}

/// The FUSE servers the container's root needs (none for the kernel's overlay without
/// keep-id, nor for vfs): the container's ends of the sockets to them.
#[derive(Default)]
pub(super) struct RootServers {
    layers: Option<OwnedFd>,
    union: Option<OwnedFd>,
}

impl RootServers {
    pub(super) fn start(spec: &ContainerSpec) -> Result<Self, Error> {
        let translation = super::storage::layer_translation(spec);
        Ok(match spec.storage_driver {
            StorageDriver::Vfs => RootServers::default(),
            StorageDriver::Overlay => RootServers {
                layers: translation
                    .map(|owners| super::idshift::start_server(&spec.layers_dir, owners))
                    .transpose()?,
                union: None,
            },
            StorageDriver::FuseOverlay => RootServers {
                // The union moves owners itself; an image mounted into the container
                // (`--mount type=image`) is a kernel overlay of the layer directory, which
                // still needs the shifted view.
                layers: match super::storage::layer_translation(spec) {
                    Some(owners)
                        if spec
                            .mounts
                            .iter()
                            .any(|m| matches!(m.source, super::MountSource::Layers { .. })) =>
                    {
                        Some(super::idshift::start_server(&spec.layers_dir, owners)?)
                    }
                    _ => None,
                },
                union: Some(super::fuse_overlay::start_server(
                    super::fuse_overlay::UnionDirs {
                        upper: spec.upper_dir.clone(),
                        work: spec.work_dir.clone(),
                        lower: super::storage::lower_dirs(spec),
                        owners: translation,
                    },
                )?),
            },
        })
    }

    pub(super) fn borrowed(&self) -> super::storage::Servers<'_> {
        super::storage::Servers {
            layers: self.layers.as_ref().map(|fd| fd.as_fd()),
            union: self.union.as_ref().map(|fd| fd.as_fd()),
        }
    }
}

/// Whether the kernel mounts an overlay in a user namespace with `mapping` (as root: in a mount
/// namespace) on the file system of `scratch`, a directory that must not exist yet.
pub fn kernel_overlay_works(scratch: &std::path::Path, mapping: Option<&IdMapping>) -> bool {
    let flags = match mapping {
        Some(_) => CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS,
        None => CloneFlags::CLONE_NEWNS,
    };
    run_in_child(
        flags,
        mapping,
        || Ok(()),
        || Ok(super::storage::try_overlay_mount(scratch, mapping.is_some()).is_ok()),
        || Ok(()),
    )
    .unwrap_or(false)
}

/// The network namespace a container shares (None: it makes its own), and, rootless, the user
/// namespace it is made in or that owns it.
struct SharedNetwork {
    net: Option<OwnedFd>,
    user: Option<OwnedFd>,
}

nix::ioctl_none!(ns_get_userns, 0xb7, 0x1);
nix::ioctl_none!(ns_get_parent, 0xb7, 0x2);

/// The user namespaces a process joins to enter the container whose first process is `pid`
/// (none as root): the one that owns its other namespaces, and, when the container's process
/// runs in a namespace nested in that one (`--userns=nomap|auto`), the nested one, joined last.
pub(super) fn container_user_namespaces(
    pid: i32,
    rootless: bool,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), Error> {
    if !rootless {
        return Ok((None, None));
    }
    let own = open_namespace(pid, "user")?;
    // SAFETY: NS_GET_PARENT takes no argument; on success it returns a new descriptor we own.
    let parent = match unsafe { ns_get_parent(own.as_raw_fd()) } {
        // SAFETY: the ioctl returned a fresh descriptor that nothing else owns.
        Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
        // The parent is outside this process's reach: the host's, not one of the user's.
        Err(_) => return Ok((Some(own), None)),
    };
    use std::os::unix::fs::MetadataExt;
    let inode = |path: String| std::fs::metadata(path).map(|m| m.ino()).ok();
    let parent_inode = inode(format!("/proc/self/fd/{}", parent.as_raw_fd()));
    if parent_inode.is_some() && parent_inode == inode("/proc/self/ns/user".into()) {
        Ok((Some(own), None))
    } else {
        Ok((Some(parent), Some(own)))
    }
}

fn open_shared_network(path: &std::path::Path, rootless: bool) -> Result<SharedNetwork, Error> {
    let net = std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|source| Error::Sys {
            context: format!("opening the network namespace {}", path.display()),
            source,
        })?;
    if !rootless {
        return Ok(SharedNetwork {
            net: Some(net),
            user: None,
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
    Ok(SharedNetwork {
        net: Some(net),
        user: Some(user),
    })
}

/// Runs `joiner` (given the write end of a pipe) in a short-lived child that reports the pid of
/// the container process it cloned; None when it failed (its error is on the error channel).
fn clone_through_joiner(mut joiner: impl FnMut(i32) -> isize) -> Result<Option<Pid>, Error> {
    let (pid_read, pid_write) = pipe()?;
    let raw_write = pid_write.as_raw_fd();
    let helper = clone_child(CloneFlags::empty(), || joiner(raw_write))?;
    drop(pid_write);
    let mut pid_bytes = [0u8; 4];
    let reported = std::fs::File::from(pid_read).read_exact(&mut pid_bytes);
    let _ = waitpid(helper, None);
    Ok(reported
        .ok()
        .map(|()| Pid::from_raw(i32::from_ne_bytes(pid_bytes))))
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
    /// The network helper, launched and not yet ready.
    starting: Option<StartingHelper>,
    relay: Option<PortRelay>,
    /// The process has been waited for: nothing is left to kill.
    reaped: bool,
}

impl SpawnedContainer<'_> {
    /// The container's first process, as the host sees it.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The network helper starts first: it is the slowest step, and everything below overlaps
    /// it. Then the id maps and the links to user-defined networks, which clone helper
    /// processes: before the caller's bookkeeping, which may start threads.
    fn start_helpers(&mut self, needs_id_maps: bool) -> Result<(), Error> {
        let spec = self.spec;
        let pid = self.pid;
        if spec.network == NetworkMode::Private {
            self.starting = Some(StartingHelper::launch(
                pid.as_raw(),
                spec.network_backend,
                &spec.run_dir,
                &spec.ports,
                &spec.network_options,
                spec.id_mapping.is_some(),
            )?);
        }
        if let Some(mapping) = spec.id_mapping.as_ref().filter(|_| needs_id_maps) {
            write_id_maps(pid.as_raw(), mapping)?;
        }
        if let NetworkMode::Bridge {
            holder_pid,
            attachments,
            ..
        } = &spec.network
        {
            for attachment in attachments {
                super::bridge::attach(
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
        signal_child(&self.sync_write, b'M', &err_read)?;
        let mut network = None;
        let result = (|| {
            if let Some(helper) = self.starting.take() {
                network = Some(helper.wait_ready()?);
            }
            signal_child(&self.sync_write, b'N', &err_read)?;
            supervise(self.pid, err_read, streams, &self.signal_fd, started)
        })();
        if let Some(helper) = network {
            helper.stop();
        }
        if let Some(relay) = self.relay.take() {
            relay.stop();
        }
        self.reaped = result.is_ok();
        result
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
        let _ = self.signals.thread_unblock();
    }
}

/// skiff's side of the container process's standard streams.
struct Streams {
    /// The socket its pty master comes on (`-t`).
    terminal: Option<OwnedFd>,
    /// Pipes in place of skiff's terminal descriptors (no `-t`).
    relay: Option<StdioRelay>,
    /// `-i`: skiff's input goes to the process.
    interactive: bool,
}

/// Waits for the process to exec (`started` runs then) or fail, then relays until it exits.
fn supervise(
    pid: Pid,
    err_read: OwnedFd,
    streams: Streams,
    signal_fd: &SignalFd,
    started: impl FnOnce(Option<OwnedFd>) -> Option<OwnedFd>,
) -> Result<RunOutcome, Error> {
    let master = match streams.terminal {
        Some(socket) => super::tty::receive_fd(&socket)?,
        None => None,
    };
    if let Some(error) = read_child_error(err_read) {
        let _ = waitpid(pid, None);
        return Err(error);
    }
    let terminal = match started(master) {
        Some(master) => Some(TerminalSession::start(master, streams.interactive)?),
        None => None,
    };
    let status = match (terminal, streams.relay) {
        (Some(mut session), _) => session.relay_until_exit(pid, signal_fd)?,
        (None, Some(relay)) => relay.relay_until_exit(pid, signal_fd)?,
        (None, None) => wait_forwarding_signals(pid, signal_fd)?,
    };
    Ok(RunOutcome {
        exit_code: exit_code_of(status).unwrap_or(125),
    })
}

/// Forwards every blocked signal but SIGCHLD to the container until its first process exits.
pub(crate) fn wait_forwarding_signals(pid: Pid, signal_fd: &SignalFd) -> Result<WaitStatus, Error> {
    loop {
        if let Some(status) = reap(pid)? {
            return Ok(status);
        }
        match signal_fd.read_signal() {
            Ok(Some(info)) => forward_signal(pid, info.ssi_signo as i32),
            Ok(None) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::sys("reading signals", e)),
        }
    }
}

pub(crate) fn forward_signal(pid: Pid, signo: i32) {
    if let Ok(sig) = Signal::try_from(signo) {
        if sig != Signal::SIGCHLD && sig != Signal::SIGWINCH {
            let _ = nix::sys::signal::kill(pid, sig);
        }
    }
}

/// Non-blocking wait: the exit status once the process has ended.
pub(crate) fn reap(pid: Pid) -> Result<Option<WaitStatus>, Error> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => Ok(None),
        Ok(status) if exit_code_of(status).is_some() => Ok(Some(status)),
        Ok(_) => Ok(None),
        Err(e) => Err(Error::sys("waiting for the container", e)),
    }
}

/// A descriptor of one of a running process's namespaces, for setns.
pub(crate) fn open_namespace(pid: i32, name: &str) -> Result<OwnedFd, Error> {
    let path = format!("/proc/{pid}/ns/{name}");
    std::fs::File::open(&path)
        .map(OwnedFd::from)
        .map_err(|source| Error::Sys {
            context: format!("opening {path} (is the container running?)"),
            source,
        })
}

/// Wraps a raw descriptor number received from the kernel.
pub(crate) fn owned_fd(raw: i32) -> OwnedFd {
    // SAFETY: callers pass a descriptor this process just received (SCM_RIGHTS) and owns alone.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Descriptors sent with one message on `socket` (SCM_RIGHTS), received close-on-exec; empty
/// when the peer closed the socket first.
pub(crate) fn receive_fds(socket: &OwnedFd) -> nix::Result<Vec<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = nix::sys::socket::recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut received = Vec::new();
    for cmsg in msg.cmsgs()? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = cmsg {
            received.extend(fds.into_iter().map(owned_fd));
        }
    }
    Ok(received)
}
