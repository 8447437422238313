//! pasta, the default network helper, run in the foreground (`-f`) as skiff's own child.
//!
//! A daemonizing pasta forks once its set-up is done, and its first process writes the daemon's
//! pid and exits: killed between that fork and that write, it would orphan a daemon nobody can
//! name. In the foreground its pid stays the one skiff started, so skiff can stop it at any
//! point of its start-up. That lets a container that needs no more than a configured namespace
//! go on before pasta's own set-up ends (see `network_wait`), and lets skiff stop a pasta still
//! starting when that container is already done, instead of waiting for the rest of its set-up.
//!
//! In the foreground pasta writes its pid file when the daemon would have forked: that write is
//! its word that it is ready. The file skiff names for it is a named pipe skiff reads,
//! `pasta.ready`, so that the word wakes skiff at once (an inotify watch would do as well, but
//! closing one waits for an RCU grace period: 12 ms measured here, on every run). skiff writes
//! the pid to `pasta.pid` itself when it starts pasta, for whoever stops it later.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::stat::Mode;

use super::error::{Error, Helper};
use super::process::{DieWithCaller, SpawnWithInherited, WithDefaultSignals};
use super::spec::{PortMapping, Protocol};

/// Where pasta forwards DNS queries when the host only has loopback resolvers, as Podman does.
pub const PASTA_DNS_FORWARD: &str = "169.254.1.1";
/// How long a network helper lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelperLife {
    /// As long as the process that started it: a container's helper goes with its `run` or its
    /// supervisor, even one killed with SIGKILL. (slirp4netns always does: it quits when its
    /// exit descriptor closes.)
    TiedToCaller,
    /// Beyond it: the rootless bridges' pasta, which `stop_pasta_in` stops.
    Independent,
}

/// The process a network helper is started for, and how.
#[derive(Clone, Copy)]
pub struct Helped<'a> {
    /// The process whose network namespace the helper serves.
    pub pid: i32,
    /// Where the helper keeps its files.
    pub run_dir: &'a Path,
    pub ports: &'a [PortMapping],
    /// `--network pasta:OPTIONS` / `slirp4netns:OPTIONS`.
    pub options: &'a [String],
    /// Whether skiff runs rootless (see `StartingPasta::launch`).
    pub rootless: bool,
    pub life: HelperLife,
}

const PID_FILE: &str = "pasta.pid";
const READY_PIPE: &str = "pasta.ready";
const LOG_FILE: &str = "pasta.log";

/// A pasta that has been started and has not yet said it is ready.
pub struct StartingPasta {
    pasta: Pasta,
    /// The read end of the named pipe pasta takes for its pid file (`READY_PIPE`).
    pid_pipe: OwnedFd,
    /// What pasta has written to it so far.
    written: Vec<u8>,
}

/// A running pasta, skiff's child until it is stopped.
pub struct Pasta {
    child: Child,
    /// The process itself, not its pid: a signal through it cannot reach another process that
    /// reused the pid.
    pidfd: OwnedFd,
    run_dir: PathBuf,
    /// It holds published host ports: `stop` waits for it to be gone, so that the next
    /// container publishing them finds them free.
    publishes: bool,
}

/// Where a network helper's start-up stands when a wait for it ends.
pub enum Progress<Ready, Starting> {
    Ready(Ready),
    /// What the caller also watched happened first: the helper is still starting.
    Starting(Starting),
}

impl StartingPasta {
    /// Starts pasta for the network namespace of `helped.pid`. `helped.rootless` tells how pasta
    /// reaches the namespace: through the process's user namespace, or, as root, through an
    /// inherited descriptor (pasta then runs without capabilities and can no longer open another
    /// process's namespaces by path).
    pub fn launch(helped: &Helped) -> Result<Self, Error> {
        let Helped {
            pid: target_pid,
            run_dir,
            ports,
            options,
            rootless,
            life,
        } = *helped;
        reap_stopped();
        let ready_pipe = run_dir.join(READY_PIPE);
        let log_file = run_dir.join(LOG_FILE);
        let pid_pipe = named_pipe(&ready_pipe)?;
        let log = std::fs::File::create(&log_file)
            .map_err(|e| Error::Network(format!("creating {}: {e}", log_file.display())))?;
        let mut command = Command::new("pasta");
        // `-T none -U none`: the container reaches the host through the gateway address, not by
        // having the host's bound ports mirrored; listing ports explicitly also skips pasta's
        // scan. Its own process group: the terminal's Ctrl-C is for the container, not for it.
        command
            .args(["--config-net", "--quiet", "--foreground"])
            .args(["-t", &pasta_port_spec(ports, Protocol::Tcp)])
            .args(["-u", &pasta_port_spec(ports, Protocol::Udp)])
            .args(["-T", "none", "-U", "none"])
            .args(["--dns-forward", PASTA_DNS_FORWARD])
            .args(options)
            .arg("--pid")
            .arg(&ready_pipe)
            .current_dir("/")
            .process_group(0)
            .with_default_signals()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if life == HelperLife::TiedToCaller {
            command.die_with_caller();
        }
        let launched = if rootless {
            command.arg(target_pid.to_string()).spawn()
        } else {
            let namespace = std::fs::File::open(format!("/proc/{target_pid}/ns/net"))
                .map(OwnedFd::from)
                .map_err(|e| Error::Network(format!("opening the container's network: {e}")))?;
            command
                .args(["--runas", "0", "--netns"])
                .arg(format!("/proc/self/fd/{}", namespace.as_raw_fd()))
                .spawn_with_inherited(&[&namespace])
        };
        let mut child = launched.map_err(|error| Error::MissingHelper {
            helper: Helper::Pasta,
            error: Some(error),
        })?;
        let pidfd = match pidfd_of(&child) {
            Ok(pidfd) => pidfd,
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(error);
            }
        };
        let pasta = Pasta {
            child,
            pidfd,
            run_dir: run_dir.to_path_buf(),
            publishes: !ports.is_empty(),
        };
        let pid_file = run_dir.join(PID_FILE);
        if let Err(error) = std::fs::write(&pid_file, format!("{}\n", pasta.child.id())) {
            pasta.stop();
            return Err(Error::Network(format!(
                "writing {}: {error}",
                pid_file.display()
            )));
        }
        Ok(StartingPasta {
            pasta,
            pid_pipe,
            written: Vec::new(),
        })
    }

    /// Waits until pasta is ready, or, when `until` is given, until that descriptor is readable
    /// or closed, whichever comes first. pasta exiting first is its failure, in its own words.
    pub fn wait(
        mut self,
        until: Option<BorrowedFd>,
    ) -> Result<Progress<Pasta, StartingPasta>, Error> {
        loop {
            let mut fds = vec![
                PollFd::new(self.pid_pipe.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.pasta.pidfd.as_fd(), PollFlags::POLLIN),
            ];
            fds.extend(until.map(|fd| PollFd::new(fd, PollFlags::POLLIN)));
            match nix::poll::poll(&mut fds, PollTimeout::NONE) {
                Err(Errno::EINTR) => continue,
                Err(error) => return Err(Error::sys("waiting for pasta", error)),
                Ok(_) => {}
            }
            let ready = |fd: &PollFd| fd.any().unwrap_or(true);
            let [pipe, exited, rest @ ..] = fds.as_slice() else {
                unreachable!("two descriptors at least are polled");
            };
            let (pipe_ready, exited, until_ready) =
                (ready(pipe), ready(exited), rest.iter().any(ready));
            drop(fds);
            if pipe_ready && self.pid_written() {
                return Ok(Progress::Ready(self.pasta));
            }
            if exited {
                return Err(self.pasta.failure());
            }
            if until_ready {
                return Ok(Progress::Starting(self));
            }
        }
    }

    /// Whether pasta has written the whole line of its pid to its pid file.
    fn pid_written(&mut self) -> bool {
        let mut chunk = [0u8; 32];
        while let Ok(length @ 1..) = nix::unistd::read(&self.pid_pipe, &mut chunk) {
            self.written.extend_from_slice(&chunk[..length]);
        }
        self.written
            .strip_suffix(b"\n")
            .and_then(|line| std::str::from_utf8(line).ok())
            .is_some_and(|line| line.parse::<u32>().is_ok())
    }

    /// Stops a pasta that may still be starting. Had it failed by itself, its failure.
    pub fn abandon(mut self) -> Option<Error> {
        if let Ok(Some(_)) = self.pasta.child.try_wait() {
            return Some(self.pasta.failure());
        }
        self.pasta.stop();
        None
    }
}

impl Pasta {
    /// pasta's own words for why it exited, typed: without /dev/net/tun (missing, or closed to
    /// the user) it cannot make the container's interface, which `skiff system check` explains.
    fn failure(&mut self) -> Error {
        let status = self.child.wait();
        let mut text = String::new();
        let _ = std::fs::File::open(self.run_dir.join(LOG_FILE))
            .and_then(|mut f| f.read_to_string(&mut text));
        remove_files(&self.run_dir);
        let reason = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.contains("syslog"))
            .map(str::to_string)
            .unwrap_or_else(|| match status {
                Ok(status) => format!("it exited ({status}) before the network was ready"),
                Err(error) => format!("waiting for it: {error}"),
            });
        if reason.contains("/dev/net/tun") || reason.contains("tun socket") {
            Error::TunUnavailable { reason }
        } else {
            Error::PastaFailed { reason }
        }
    }

    /// Kills pasta and removes its files. Only a pasta holding published ports is waited for:
    /// any other takes milliseconds more to go (closing its tap device waits for an RCU grace
    /// period: 14 ms measured here) while skiff goes on, and is reaped later (`STOPPED`).
    pub fn stop(mut self) {
        let _ = rustix::process::pidfd_send_signal(&self.pidfd, rustix::process::Signal::KILL);
        remove_files(&self.run_dir);
        if self.publishes {
            let _ = self.child.wait();
        } else if let Ok(mut stopped) = STOPPED.lock() {
            stopped.push(self.child);
        }
    }
}

/// Stopped pastas not yet reaped. A process that ends soon leaves them to init; a supervisor
/// that restarts its container reaps the last one's at the next start. Not a thread: the
/// runtime clones processes, which must happen while skiff is single-threaded.
static STOPPED: Mutex<Vec<Child>> = Mutex::new(Vec::new());

fn reap_stopped() {
    if let Ok(mut stopped) = STOPPED.lock() {
        stopped.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
    }
}

fn pidfd_of(child: &Child) -> Result<OwnedFd, Error> {
    rustix::process::pidfd_open(
        rustix::process::Pid::from_child(child),
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(|error| Error::Sys {
        context: "pidfd_open for pasta (Linux 5.3 or later is needed)".into(),
        source: error.into(),
    })
}

/// Kills the pasta started for `run_dir`, if it still runs (its pid file names it, and its
/// command line names this directory's ready pipe: a pid that is another process's now is left
/// alone), and removes its files; returns the pid it killed.
pub fn stop_in(run_dir: &Path) -> Option<i32> {
    let ready_pipe = run_dir.join(READY_PIPE);
    let pid = std::fs::read_to_string(run_dir.join(PID_FILE))
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let wanted = ready_pipe.as_os_str().as_encoded_bytes();
                cmdline.split(|b| *b == 0).any(|arg| arg == wanted)
            })
        });
    if let Some(pid) = pid {
        // With a pid target pasta does not notice the namespace go, and holds nothing that
        // needs a clean exit.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    remove_files(run_dir);
    pid
}

fn remove_files(run_dir: &Path) {
    for file in [PID_FILE, READY_PIPE, LOG_FILE] {
        let _ = std::fs::remove_file(run_dir.join(file));
    }
}

/// Makes `path` a named pipe and opens its read end, so that pasta's write wakes a poll.
/// (pasta's open for writing, which would wait for a reader, finds this one; it ignores O_TRUNC
/// on a pipe.)
fn named_pipe(path: &Path) -> Result<OwnedFd, Error> {
    let failed = |e: Errno| Error::Network(format!("making {}: {e}", path.display()));
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR).map_err(failed)?;
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(failed)
}

/// pasta's `-t`/`-u` value for the ports of one protocol: `none`, or a comma-separated list of
/// `[ADDRESS/]HOST:CONTAINER` forwards.
pub fn pasta_port_spec(ports: &[PortMapping], protocol: Protocol) -> String {
    let forwards: Vec<String> = ports
        .iter()
        .filter(|p| p.protocol == protocol)
        .map(|p| {
            let address = p.host_ip.map(|ip| format!("{ip}/")).unwrap_or_default();
            format!("{address}{}:{}", p.host_port, p.container_port)
        })
        .collect();
    if forwards.is_empty() {
        "none".to_string()
    } else {
        forwards.join(",")
    }
}
