//! The process toolbox: pipes and socket pairs, `clone` onto a stack of its own, waiting for
//! and signalling a child, the signals skiff forwards, descriptors received over a socket or
//! closed before a process lives on, and the namespaces of a running process opened and joined.
//!
//! It knows nothing of containers' specs or of what the processes it makes do: everything
//! else in the runtime builds on it, and it uses nothing of the runtime but its error type.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::error::Error;

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

pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
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
    .map_err(|errno| clone_failure(flags, errno))?;
    Ok(pid)
}

/// clone(2)'s refusal, typed: refusing new namespaces (a sysctl, the namespace limit or
/// AppArmor) is something the host lacks.
fn clone_failure(flags: CloneFlags, errno: nix::errno::Errno) -> Error {
    use nix::errno::Errno;
    let namespaces = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWCGROUP;
    let refused = [Errno::EPERM, Errno::ENOSPC, Errno::EUSERS, Errno::EACCES].contains(&errno);
    match refused && flags.intersects(namespaces) {
        true => Error::NamespacesRefused {
            error: std::io::Error::from(errno),
        },
        false => Error::sys("clone", errno),
    }
}

pub(crate) fn exit_code_of(status: WaitStatus) -> Option<i32> {
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

/// Blocks the signals skiff forwards to the container and opens a signalfd to read them; the
/// caller unblocks them when done.
pub(crate) fn block_forwarded_signals() -> Result<(SigSet, SignalFd), Error> {
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

/// Forwards every blocked signal but SIGCHLD to the container (drops them, without `proxy`)
/// until its first process exits.
pub(crate) fn wait_forwarding_signals(
    pid: Pid,
    signal_fd: &SignalFd,
    proxy: bool,
) -> Result<WaitStatus, Error> {
    loop {
        if let Some(status) = reap(pid)? {
            return Ok(status);
        }
        match signal_fd.read_signal() {
            Ok(Some(info)) if proxy => forward_signal(pid, info.ssi_signo as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(Error::sys("reading signals", e)),
        }
    }
}

/// Sends signal number `signo` to `pid`, real-time ones included (which `nix` cannot name);
/// a process already gone is no error of the caller's.
pub fn send_signal(pid: i32, signo: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of this process.
    let _ = unsafe { libc::kill(pid, signo) };
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

/// A descriptor the process inherited (or was given by number) and keeps open while it uses it.
pub(crate) fn borrowed(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: callers pass descriptors that stay open for the rest of the process's life, or
    // until exec closes them, which ends every use of the borrow too.
    unsafe { BorrowedFd::borrow_raw(fd) }
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

nix::ioctl_none!(ns_get_parent, 0xb7, 0x2);

/// The user namespaces a process joins to enter the container whose first process is `pid`
/// (none as root): the one that owns its other namespaces, and, when the container's process
/// runs in a namespace nested in that one (`--userns=nomap|auto`), the nested one, joined last.
pub(crate) fn container_user_namespaces(
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

/// Namespaces an `exec` joins, as open /proc/PID/ns descriptors; the user namespace first,
/// which gives the capabilities the others need when rootless.
pub(crate) struct JoinTargets {
    pub user: Option<RawFd>,
    pub others: Vec<(RawFd, nix::sched::CloneFlags)>,
    /// A user namespace nested in `user` (`--userns=nomap|auto`), joined last, as its root.
    pub nested_user: Option<RawFd>,
}

/// A system call that failed: what it was for, and the kernel's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SysFailure {
    pub context: &'static str,
    pub errno: nix::errno::Errno,
}

fn failed(context: &'static str) -> impl FnOnce(nix::errno::Errno) -> SysFailure {
    move |errno| SysFailure { context, errno }
}

/// Joins `targets`: the user namespace first, which gives the capabilities the others need
/// when rootless, and a nested one last, as its root.
pub(crate) fn join_namespaces(targets: &JoinTargets) -> Result<(), SysFailure> {
    if let Some(user) = targets.user {
        nix::sched::setns(borrowed(user), nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(failed("joining the user namespace"))?;
    }
    for (fd, kind) in &targets.others {
        nix::sched::setns(borrowed(*fd), *kind)
            .map_err(failed("joining the container's namespaces"))?;
    }
    if let Some(nested) = targets.nested_user {
        nix::sched::setns(borrowed(nested), nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(failed("joining the container's nested user namespace"))?;
        // The user's own id does not exist there.
        let (root, root_group) = (nix::unistd::Uid::from_raw(0), nix::unistd::Gid::from_raw(0));
        nix::unistd::setresgid(root_group, root_group, root_group)
            .and_then(|()| nix::unistd::setresuid(root, root, root))
            .map_err(failed("becoming root of the nested user namespace"))?;
    }
    Ok(())
}

/// Closes every descriptor but stdin, stdout and stderr (one already gone, such as the listing's
/// own, just fails with EBADF), for processes that do not exec and so keep close-on-exec ones.
pub(crate) fn close_all_but_stdio() {
    close_all_except(&[]);
}

/// Closes every descriptor above 2 but `keep`: with close_range(2) over the gaps between them
/// (Linux 5.9), else one by one as /proc/self/fd lists them.
pub(crate) fn close_all_except(keep: &[RawFd]) {
    let mut kept: Vec<u32> = keep
        .iter()
        .filter_map(|fd| u32::try_from(*fd).ok())
        .filter(|fd| *fd > 2)
        .collect();
    kept.sort_unstable();
    kept.dedup();
    let mut first = 3u32;
    let mut ranges_closed = true;
    for next in kept.iter().copied().chain([u32::MAX]) {
        if next > first {
            let last = if next == u32::MAX { u32::MAX } else { next - 1 };
            // SAFETY: close_range only closes descriptors; none in the range is used again by
            // this process (the kept ones are outside it).
            let closed = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
            if closed != 0 {
                ranges_closed = false;
                break;
            }
        }
        first = next.saturating_add(1);
    }
    if ranges_closed {
        return;
    }
    let inherited: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd > 2 && !keep.contains(fd))
                .collect()
        })
        .unwrap_or_default();
    for fd in inherited {
        let _ = nix::unistd::close(fd);
    }
}

/// std's Command closes every descriptor it was not told about only if they are close-on-exec;
/// this clears that flag on the given ones for the spawn and restores it afterwards.
pub(crate) trait SpawnWithInherited {
    fn spawn_with_inherited(
        &mut self,
        fds: &[&std::os::fd::OwnedFd],
    ) -> std::io::Result<std::process::Child>;
}

impl SpawnWithInherited for std::process::Command {
    fn spawn_with_inherited(
        &mut self,
        fds: &[&std::os::fd::OwnedFd],
    ) -> std::io::Result<std::process::Child> {
        use nix::fcntl::{fcntl, FcntlArg, FdFlag};
        for fd in fds {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty()))?;
        }
        let result = self.spawn();
        for fd in fds {
            let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        }
        result
    }
}

/// `Command::with_default_signals`.
pub(crate) trait WithDefaultSignals {
    /// Starts the program with no signal blocked. skiff blocks the signals it forwards to a
    /// container, and a blocked signal stays blocked across fork and exec: a helper that lives
    /// on (pasta, slirp4netns) would never see them, pasta's SIGCHLD included, by which it reaps
    /// the clones it enters the container's namespaces with (they stayed zombies).
    fn with_default_signals(&mut self) -> &mut Self;
}

impl WithDefaultSignals for std::process::Command {
    fn with_default_signals(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: runs in the forked child before exec, where only async-signal-safe calls are
        // allowed: sigprocmask is one, and nothing is allocated.
        unsafe {
            self.pre_exec(|| {
                SigSet::empty()
                    .thread_set_mask()
                    .map_err(std::io::Error::from)
            })
        }
    }
}

/// `Command::die_with_caller`.
pub(crate) trait DieWithCaller {
    /// Has the kernel kill the program with SIGKILL when the calling thread ends, however it
    /// ends: a helper of a `run` killed with SIGKILL would otherwise live on without its user.
    fn die_with_caller(&mut self) -> &mut Self;
}

impl DieWithCaller for std::process::Command {
    fn die_with_caller(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        let caller = nix::unistd::getpid();
        // SAFETY: runs in the forked child before exec, where only async-signal-safe calls are
        // allowed: prctl and getppid are system calls, and nothing is allocated.
        unsafe {
            self.pre_exec(move || {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                // The caller may have ended before the line above: then nothing would come.
                if nix::unistd::getppid() != caller {
                    return Err(std::io::Error::other("the process starting it has ended"));
                }
                Ok(())
            })
        }
    }
}

/// Writes `name` over the command line this process inherited from skiff (what `ps -f` and
/// `pgrep -f` read), so that a process skiff forked to live on (a FUSE server, a namespace
/// holder) is never taken for the skiff command that forked it (`pkill -f "container-supervise
/// ID"` must reach the supervisor alone).
pub(crate) fn retitle(name: &CStr) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // The fields after the command name, which may itself hold spaces and parentheses.
    let Some((_, fields)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // arg_start and arg_end are fields 48 and 49 of proc(5); these start at field 3.
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return;
    };
    let Some(length) = end.checked_sub(start).filter(|l| *l > 0) else {
        return;
    };
    let name = name.to_bytes();
    let written = name.len().min(length - 1);
    // SAFETY: [arg_start, arg_end) is this process's own argument area on its stack, mapped
    // and writable; this process has one thread, and nothing in it reads its argv any more.
    unsafe {
        let area = start as *mut u8;
        std::ptr::write_bytes(area, 0, length);
        std::ptr::copy_nonoverlapping(name.as_ptr(), area, written);
    }
}
