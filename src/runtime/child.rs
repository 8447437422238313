//! The container's first process, between `clone` and `execve`: waits for its id maps, builds
//! the root filesystem, waits for the network, sets up stdio, drops privileges and execs.
//! Any failure is written to the error channel (a `ChildReport`, see `channel`) and the process exits.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::RawFd;

use nix::sys::signal::SigSet;

use super::channel::{report, send_pid, sys_error, wait_for_go_ahead, Cause, ChildError, GoAhead};
use super::network_wait::{self, Families};
use super::process::{borrowed, clone_child, close_all_except, join_namespaces, JoinTargets};
use super::spec::{ContainerSpec, NamespaceMode, ProcessSpec, StdStream};
use super::stdio_relay::StdioEnds;
use super::storage::Servers;
use super::{rootfs, sealed_exec, seccomp, security, tty, userns};

pub(crate) struct ChildChannels {
    pub sync_read: RawFd,
    pub err_write: RawFd,
    pub tty_socket: Option<RawFd>,
    /// The socket to the server of the id-shifted layers (`spec.layer_owners`).
    pub layer_server: Option<RawFd>,
    /// The socket to the server of the FUSE union (`--storage-driver fuse-overlay`).
    pub union_server: Option<RawFd>,
    /// Pipes that replace skiff's terminal descriptors (no `-t`).
    pub stdio: StdioEnds,
    /// The default routes whose arrival lets the process go on before the network go-ahead
    /// (see `network_wait`).
    pub early_network: Option<Families>,
}

impl ChildChannels {
    /// Every descriptor of skiff's the child needs until it execs.
    fn descriptors(&self) -> impl Iterator<Item = RawFd> + '_ {
        [
            Some(self.sync_read),
            Some(self.err_write),
            self.tty_socket,
            self.layer_server,
            self.union_server,
        ]
        .into_iter()
        .flatten()
        .chain(self.stdio.all())
    }
}

pub(crate) fn child_main(spec: &ContainerSpec, channels: &ChildChannels) -> isize {
    let Err(error) = setup_and_exec(spec, channels);
    report(channels.err_write, error)
}

fn setup_and_exec(
    spec: &ContainerSpec,
    channels: &ChildChannels,
) -> Result<Infallible, ChildError> {
    tie_to_parent()?;
    close_inherited_descriptors(&spec.process, channels.descriptors());
    // Meanwhile skiff's id-map helpers run: the compiling costs no time here.
    let kept = security::kept_capabilities(&spec.process)?;
    let filter = seccomp::prepare(&spec.process.seccomp, &kept)?;
    wait_for_go_ahead(channels.sync_read, GoAhead::IdMapsWritten);
    // Now that skiff has moved this process into its cgroup: that is the namespace's root.
    if spec.cgroup.is_some() && spec.namespaces.cgroup == NamespaceMode::Private {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| sys_error("unshare(CLONE_NEWCGROUP)", e))?;
    }

    let servers = Servers {
        layers: channels.layer_server.map(borrowed),
        union: channels.union_server.map(borrowed),
    };
    rootfs::build_rootfs(spec, servers)?;
    // The host's or another container's name stays as it is.
    if spec.namespaces.uts == NamespaceMode::Private {
        nix::unistd::sethostname(&spec.hostname).map_err(|e| sys_error("sethostname", e))?;
    }

    match channels.early_network {
        Some(routes) => network_wait::wait_for_routes_or_go_ahead(channels.sync_read, routes),
        None => wait_for_go_ahead(channels.sync_read, GoAhead::NetworkReady),
    }
    // Only now: the network helper joins the container's namespaces through this process's
    // user namespace, which must still be the one that owns them.
    if let Some(nested) = &spec.nested_ids {
        userns::enter_nested_user_namespace(nested).map_err(ChildError::other)?;
    }
    // While this process's /proc entries are still its own to write.
    security::apply_oom_score_adj(spec.process.oom_score_adj)?;
    // Not before: newuidmap, pasta and the nested maps above need this process's /proc entries
    // to be the user's; and until this process execs, no other is in its pid namespace.
    sealed_exec::make_non_dumpable().map_err(|e| sys_error("making skiff non-dumpable", e))?;

    attach_stdio(&spec.process, channels)?;
    let user = security::resolve_user(&spec.process)?;
    security::prepare_workdir(&spec.process.cwd, &user)?;
    security::apply_rlimits(&spec.process.rlimits)?;
    security::apply_personality(spec.process.personality)?;
    set_umask(spec.process.umask);
    security::confine(&filter, &user, &kept, &spec.process)?;
    enter_workdir(&spec.process.cwd)?;
    if spec.process.init {
        become_init()?;
    }
    exec_process(&spec.process, &user, channels.err_write)
}

/// `--init`: forks; the child returns to exec the command, and this process becomes pid 1: the
/// trampoline in its init mode (see sealed_exec.rs), which reaps every process that ends and
/// forwards signals to the command until it exits, then exits with its status. Not skiff
/// itself: that would keep skiff's binary, and the caller's environment, in the container for
/// its whole life.
fn become_init() -> Result<(), ChildError> {
    use nix::sys::signal::Signal;
    let mut signals = SigSet::all();
    for unblockable in [Signal::SIGKILL, Signal::SIGSTOP] {
        signals.remove(unblockable);
    }
    // Blocked until the init waits for them: none is lost meanwhile (exec keeps them pending).
    signals
        .thread_block()
        .map_err(|e| sys_error("blocking signals", e))?;
    // Before the fork, so that a failure is still skiff's to report.
    let init = sealed_exec::sealed_trampoline()
        .map_err(|e| trampoline_failure("making the container's init", e))?;
    // The command waits until the init has made itself non-dumpable, which it says by closing
    // its end of this pipe: before that, the container's root could ptrace the fresh init.
    let (ready_read, ready_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| sys_error("pipe", e))?;
    // SAFETY: this process is single-threaded (the container's first process, cloned from a
    // single-threaded skiff), so the child may allocate and run ordinary code until it execs.
    let command = match unsafe { nix::unistd::fork() }.map_err(|e| sys_error("fork", e))? {
        nix::unistd::ForkResult::Child => {
            drop(ready_write);
            wait_for_end_of_file(&ready_read);
            drop(ready_read);
            SigSet::empty()
                .thread_set_mask()
                .map_err(|e| sys_error("restoring the signal mask", e))?;
            return Ok(());
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    // Every descriptor but stdio (and the init's memfd) goes: skiff learns the command exec'd
    // when every copy of the error channel is closed, and the supervisor's report pipe must not
    // stay open through init.
    drop(ready_read);
    use std::os::fd::AsRawFd as _;
    close_all_except(&[init.as_raw_fd(), ready_write.as_raw_fd()]);
    let _ = sealed_exec::exec_init(&init, command, &ready_write);
    // Nothing is left to report to: the command must not run without its init.
    let _ = nix::sys::signal::kill(command, Signal::SIGKILL);
    std::process::exit(125)
}

/// Reads `pipe` until every copy of its write end is closed (or it fails).
fn wait_for_end_of_file(pipe: &std::os::fd::OwnedFd) {
    let mut byte = [0u8; 1];
    while let Ok(1) | Err(nix::errno::Errno::EINTR) = nix::unistd::read(pipe, &mut byte) {}
}

/// The first process `exec` starts: joins the container's namespaces (the user namespace first,
/// which gives the capabilities the others need when rootless), then clones the process that
/// will exec — born in the container's pid namespace, and, with CLONE_PARENT, a child of skiff
/// itself, so skiff waits for it and signals it directly. It reports that process's pid on
/// `pid_write` and exits.
pub(crate) fn exec_child_main(
    process: &ProcessSpec,
    targets: &JoinTargets,
    cgroup_dirs: &[std::path::PathBuf],
    channels: &ChildChannels,
    pid_write: RawFd,
) -> isize {
    // Before it joins the container's mount namespace, with nothing of the caller's left open.
    let namespaces = targets.user.into_iter().chain(targets.nested_user);
    let namespaces = namespaces.chain(targets.others.iter().map(|(fd, _)| *fd));
    close_inherited_descriptors(
        process,
        channels.descriptors().chain(namespaces).chain([pid_write]),
    );
    // Before joining, while its /proc entries are its own to write: the process it clones
    // inherits the score, and non-dumpability.
    if let Err(error) = security::apply_oom_score_adj(process.oom_score_adj) {
        return report(channels.err_write, error);
    }
    if let Err(errno) = sealed_exec::make_non_dumpable() {
        return report(
            channels.err_write,
            sys_error("making skiff non-dumpable", errno),
        );
    }
    // The container's cgroups, and so its limits, for the process it clones.
    if let Err(error) = super::cgroups::join_self(cgroup_dirs) {
        return report(channels.err_write, ChildError::other(error.to_string()));
    }
    clone_in_joined(
        targets,
        nix::sched::CloneFlags::empty(),
        channels,
        pid_write,
        || {
            let Err(error) = exec_in_joined(process, channels);
            report(channels.err_write, error)
        },
    )
}

/// Joins `targets`, then clones `child` with `flags` (new namespaces made inside the joined
/// ones) and CLONE_PARENT, so skiff is its parent; reports its pid on `pid_write`. A container
/// sharing another's network starts this way.
pub(crate) fn clone_in_joined(
    targets: &JoinTargets,
    flags: nix::sched::CloneFlags,
    channels: &ChildChannels,
    pid_write: RawFd,
    child: impl FnMut() -> isize,
) -> isize {
    let result = join_namespaces(targets)
        .map_err(ChildError::from)
        .and_then(|()| {
            clone_child(flags | nix::sched::CloneFlags::CLONE_PARENT, child)
                .map_err(|e| ChildError::other(e.to_string()))
        });
    match result {
        Ok(pid) => {
            send_pid(pid_write, pid);
            0
        }
        Err(error) => report(channels.err_write, error),
    }
}

fn exec_in_joined(
    process: &ProcessSpec,
    channels: &ChildChannels,
) -> Result<Infallible, ChildError> {
    if process.detached {
        // Nothing ties it to skiff, and it has no use for skiff's streams.
        restore_signal_mask()?;
        detach_stdio()?;
    } else {
        tie_to_parent()?;
        attach_stdio(process, channels)?;
    }
    let user = security::resolve_user(process)?;
    let kept = security::kept_capabilities(process)?;
    let filter = seccomp::prepare(&process.seccomp, &kept)?;
    security::apply_rlimits(&process.rlimits)?;
    security::apply_personality(process.personality)?;
    set_umask(process.umask);
    security::confine(&filter, &user, &kept, process)?;
    enter_workdir(&process.cwd)?;
    exec_process(process, &user, channels.err_write)
}

fn set_umask(mask: u32) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        mask as libc::mode_t,
    ));
}

/// If skiff dies, so does the process it started; and the signals skiff blocked for its
/// signalfd are unblocked again here.
fn tie_to_parent() -> Result<(), ChildError> {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    restore_signal_mask()
}

/// The signal state a freshly started program expects: nothing blocked, and SIGPIPE back to its
/// default action. Rust's runtime ignores SIGPIPE in skiff, and an ignored signal survives
/// execve, so without this `yes | head -1` in a container printed "Broken pipe" and went on.
fn restore_signal_mask() -> Result<(), ChildError> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, Signal};
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing the default disposition runs no handler code, so nothing here can be
    // interrupted in an unsafe state.
    unsafe { sigaction(Signal::SIGPIPE, &default) }
        .map_err(|e| sys_error("restoring SIGPIPE's default action", e))?;
    SigSet::empty()
        .thread_set_mask()
        .map_err(|e| sys_error("restoring the signal mask", e))
}

/// /dev/null as stdin, stdout and stderr, and a session of its own: `exec -d`.
fn detach_stdio() -> Result<(), ChildError> {
    let null = open_dev_null(nix::fcntl::OFlag::O_RDWR)?;
    nix::unistd::dup2_stdin(&null).map_err(|e| sys_error("dup2", e))?;
    nix::unistd::dup2_stdout(&null).map_err(|e| sys_error("dup2", e))?;
    nix::unistd::dup2_stderr(&null).map_err(|e| sys_error("dup2", e))?;
    nix::unistd::setsid().map_err(|e| sys_error("setsid", e))?;
    Ok(())
}

/// A session of its own, so that skiff's caller's terminal is never its controlling terminal:
/// with `-t` its own pty is, else it has none. Without `-t`, the pipes that stand for skiff's
/// terminal descriptors become its stdio (see `stdio_relay`), and stdin is /dev/null unless
/// `-i` keeps skiff's.
fn attach_stdio(process: &ProcessSpec, channels: &ChildChannels) -> Result<(), ChildError> {
    if let Some(socket) = channels.tty_socket {
        return tty::attach_container_terminal(borrowed(socket));
    }
    nix::unistd::setsid().map_err(|e| sys_error("setsid", e))?;
    let pipes = &channels.stdio;
    match pipes.stdin {
        _ if !process.interactive || !process.attached(StdStream::Stdin) => {
            redirect_stdin_to_null()?
        }
        Some(pipe) => nix::unistd::dup2_stdin(borrowed(pipe)).map_err(|e| sys_error("dup2", e))?,
        None => {}
    }
    if let Some(pipe) = pipes.stdout {
        nix::unistd::dup2_stdout(borrowed(pipe)).map_err(|e| sys_error("dup2", e))?;
    }
    if let Some(pipe) = pipes.stderr {
        nix::unistd::dup2_stderr(borrowed(pipe)).map_err(|e| sys_error("dup2", e))?;
    }
    if !process.attached(StdStream::Stdout) {
        let null = open_dev_null(nix::fcntl::OFlag::O_WRONLY)?;
        nix::unistd::dup2_stdout(&null).map_err(|e| sys_error("dup2", e))?;
    }
    if !process.attached(StdStream::Stderr) {
        let null = open_dev_null(nix::fcntl::OFlag::O_WRONLY)?;
        nix::unistd::dup2_stderr(&null).map_err(|e| sys_error("dup2", e))?;
    }
    Ok(())
}

/// chdir to the process's working directory, which must then lie inside the container's root:
/// a directory reached through a descriptor of the host's (`/proc/self/fd/N`, runc's
/// CVE-2024-21626) has no path from it, and getcwd says so (ENOENT, or "(unreachable)").
fn enter_workdir(cwd: &str) -> Result<(), ChildError> {
    nix::unistd::chdir(cwd).map_err(|e| sys_error(&format!("chdir to {cwd}"), e))?;
    match nix::unistd::getcwd() {
        Ok(path) if path.is_absolute() => Ok(()),
        _ => Err(ChildError::other(format!(
            "the working directory {cwd} is outside the container's root filesystem"
        ))),
    }
}

fn redirect_stdin_to_null() -> Result<(), ChildError> {
    let null = open_dev_null(nix::fcntl::OFlag::O_RDONLY)?;
    nix::unistd::dup2_stdin(&null).map_err(|e| sys_error("dup2", e))
}

fn open_dev_null(mode: nix::fcntl::OFlag) -> Result<std::os::fd::OwnedFd, ChildError> {
    nix::fcntl::open("/dev/null", mode, nix::sys::stat::Mode::empty())
        .map_err(|e| sys_error("opening /dev/null", e))
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Finds argv[0] the way execvp would, but tells "not found" (127) from "cannot execute" (126).
fn resolve_command(name: &str, env: &[String]) -> Result<String, ChildError> {
    use nix::unistd::{access, AccessFlags};
    let check = |path: &str| -> Option<Result<String, ChildError>> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_dir() || access(path, AccessFlags::X_OK).is_err() {
            return Some(Err(ChildError::new(Cause::NotExecutable, name)));
        }
        Some(Ok(path.to_string()))
    };
    if name.contains('/') {
        return check(name).unwrap_or(Err(ChildError::new(Cause::NotFound, name)));
    }
    let path_var = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let mut first_denied = None;
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        match check(&format!("{dir}/{name}")) {
            Some(Ok(path)) => return Ok(path),
            Some(Err(denied)) => {
                first_denied.get_or_insert(denied);
            }
            None => {}
        }
    }
    Err(first_denied.unwrap_or(ChildError::new(Cause::NotFound, name)))
}

/// Execs the container's program, through the trampoline (see sealed_exec.rs), which reports
/// on `err_write` an exec that fails there.
fn exec_process(
    process: &ProcessSpec,
    user: &security::ResolvedUser,
    err_write: RawFd,
) -> Result<Infallible, ChildError> {
    let args = &process.args;
    let Some(program) = args.first() else {
        return Err(ChildError::other("no command specified"));
    };
    let mut env = process.env.clone();
    if !env.iter().any(|kv| kv.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let path = resolve_command(program, &env)?;
    let to_c =
        |s: &str| CString::new(s).map_err(|_| ChildError::other(format!("NUL byte in {s:?}")));
    let c_path = to_c(&path)?;
    let c_args = args
        .iter()
        .map(|a| to_c(a))
        .collect::<Result<Vec<_>, _>>()?;
    let c_env = env.iter().map(|e| to_c(e)).collect::<Result<Vec<_>, _>>()?;
    let errno = sealed_exec::exec_program(&c_path, &c_args, &c_env, borrowed(err_write));
    let what = "starting the container's process through skiff's sealed trampoline";
    Err(trampoline_failure(what, errno))
}

/// The trampoline could not be made or run. Refused with EACCES, it is the host's doing
/// (sysctl vm.memfd_noexec = 2 refuses executable memory files), which `skiff system check`
/// explains.
fn trampoline_failure(what: &str, errno: nix::errno::Errno) -> ChildError {
    let cause = match errno {
        nix::errno::Errno::EACCES => Cause::ExecMemoryRefused,
        _ => Cause::Other,
    };
    ChildError::new(cause, sealed_exec::failure(what, errno))
}

/// Closes every descriptor above 2 the container's process was not given: whatever skiff's
/// caller left open (a directory among them is a way to the host's files from inside, runc's
/// CVE-2024-21626) and skiff's own, but `needed` (skiff's channels, open until exec) and the
/// ones `--preserve-fds` or socket activation pass on (3 to 3+N-1, as they are).
fn close_inherited_descriptors(process: &ProcessSpec, needed: impl Iterator<Item = RawFd>) {
    let preserved = (3..).take(process.preserve_fds as usize);
    let keep: Vec<RawFd> = needed.chain(preserved).collect();
    close_all_except(&keep);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_through_path_and_classifies_failures() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(resolve_command("sh", &env).is_ok());
        let missing = resolve_command("definitely-not-a-command-xyz", &env)
            .err()
            .map(|e| e.cause);
        assert_eq!(missing, Some(Cause::NotFound));
        let not_exec = resolve_command("/etc/passwd", &env).err().map(|e| e.cause);
        assert_eq!(not_exec, Some(Cause::NotExecutable));
        let dir = resolve_command("/etc", &env).err().map(|e| e.cause);
        assert_eq!(dir, Some(Cause::NotExecutable));
    }
}
