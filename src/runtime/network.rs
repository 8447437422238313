//! Network helpers: a private network namespace gets outbound connectivity from pasta, or from
//! slirp4netns where pasta is missing. Both run as the user, outside the container's namespaces,
//! and are stopped when the container exits.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::spec::NetworkBackend;
use super::Error;

/// Where pasta forwards DNS queries when the host only has loopback resolvers, as Podman does.
pub const PASTA_DNS_FORWARD: &str = "169.254.1.1";
/// slirp4netns's built-in DNS forwarder.
pub const SLIRP_DNS: &str = "10.0.2.3";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// pasta when installed, else slirp4netns; an error saying what to install when neither is.
/// As root, slirp4netns comes first: pasta (Debian 12's 2023 release) drops to `nobody` when
/// started as root and can then no longer open the container's network namespace.
pub fn choose_backend(rootless: bool) -> Result<NetworkBackend, Error> {
    let order = if rootless {
        [NetworkBackend::Pasta, NetworkBackend::Slirp4netns]
    } else {
        [NetworkBackend::Slirp4netns, NetworkBackend::Pasta]
    };
    order
        .into_iter()
        .find(|backend| match backend {
            NetworkBackend::Pasta => on_path("pasta"),
            NetworkBackend::Slirp4netns => on_path("slirp4netns"),
        })
        .ok_or_else(|| {
            Error::Network(
                "neither pasta nor slirp4netns is installed: install the passt package (or slirp4netns), or use --network none or --network host".into(),
            )
        })
}

/// The nameservers of a container: the host's, unless they are loopback addresses the container
/// cannot reach, in which case the helper's forwarder.
pub fn resolv_conf(host_resolv_conf: &str, backend: NetworkBackend) -> String {
    let mut servers = Vec::new();
    let mut other = Vec::new();
    for line in host_resolv_conf.lines() {
        let trimmed = line.trim();
        if let Some(server) = trimmed.strip_prefix("nameserver") {
            let server = server.trim();
            if !(server.starts_with("127.") || server == "::1") {
                servers.push(server.to_string());
            }
        } else if trimmed.starts_with("search") || trimmed.starts_with("options") {
            other.push(trimmed.to_string());
        }
    }
    if servers.is_empty() {
        servers.push(match backend {
            NetworkBackend::Pasta => PASTA_DNS_FORWARD.to_string(),
            NetworkBackend::Slirp4netns => SLIRP_DNS.to_string(),
        });
    }
    let mut text: String = other.iter().map(|l| format!("{l}\n")).collect();
    for server in servers {
        text.push_str(&format!("nameserver {server}\n"));
    }
    text
}

/// A network helper being started: `wait_ready` returns once the namespace is configured.
pub enum StartingHelper {
    Pasta {
        launcher: std::process::Child,
        pid_file: PathBuf,
    },
    Slirp {
        child: std::process::Child,
        ready: std::io::PipeReader,
        exit_write: OwnedFd,
    },
}

/// A running network helper attached to a container's network namespace.
pub struct NetworkHelper {
    pid_file: Option<PathBuf>,
    slirp: Option<(std::process::Child, OwnedFd)>,
}

impl StartingHelper {
    /// Launches the helper for the process `target_pid` without waiting for it, so that its
    /// start-up (tens of milliseconds for pasta) overlaps the rest of the container's set-up. It
    /// needs no id maps: joining a user namespace one owns grants the capabilities it uses.
    pub fn launch(target_pid: i32, backend: NetworkBackend, run_dir: &Path) -> Result<Self, Error> {
        match backend {
            NetworkBackend::Pasta => launch_pasta(target_pid, run_dir),
            NetworkBackend::Slirp4netns => launch_slirp(target_pid),
        }
    }

    pub fn wait_ready(self) -> Result<NetworkHelper, Error> {
        match self {
            StartingHelper::Pasta { launcher, pid_file } => {
                let output = launcher
                    .wait_with_output()
                    .map_err(|e| Error::Network(format!("waiting for pasta: {e}")))?;
                if !output.status.success() {
                    let text = String::from_utf8_lossy(&output.stderr);
                    let reason = text
                        .lines()
                        .find(|l| !l.contains("syslog"))
                        .unwrap_or("unknown error");
                    return Err(Error::Network(format!("pasta failed: {}", reason.trim())));
                }
                Ok(NetworkHelper {
                    pid_file: Some(pid_file),
                    slirp: None,
                })
            }
            StartingHelper::Slirp {
                mut child,
                mut ready,
                exit_write,
            } => {
                let mut byte = [0u8; 1];
                if ready.read(&mut byte).unwrap_or(0) != 1 {
                    let _ = child.wait();
                    return Err(Error::Network(
                        "slirp4netns exited before the network was ready".into(),
                    ));
                }
                Ok(NetworkHelper {
                    pid_file: None,
                    slirp: Some((child, exit_write)),
                })
            }
        }
    }

    /// Stops a helper that never became ready.
    pub fn abandon(self) {
        match self {
            StartingHelper::Pasta { launcher, pid_file } => {
                let _ = launcher.wait_with_output();
                NetworkHelper {
                    pid_file: Some(pid_file),
                    slirp: None,
                }
                .stop();
            }
            StartingHelper::Slirp {
                child, exit_write, ..
            } => NetworkHelper {
                pid_file: None,
                slirp: Some((child, exit_write)),
            }
            .stop(),
        }
    }
}

fn launch_pasta(target_pid: i32, run_dir: &Path) -> Result<StartingHelper, Error> {
    let pid_file = run_dir.join("pasta.pid");
    // No port forwarding yet: `-t none ...` also skips pasta's scan of bound ports.
    let launcher = Command::new("pasta")
        .args([
            "--config-net",
            "--quiet",
            "-t",
            "none",
            "-u",
            "none",
            "-T",
            "none",
            "-U",
            "none",
        ])
        .args(["--dns-forward", PASTA_DNS_FORWARD, "--pid"])
        .arg(&pid_file)
        .arg(target_pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Network(format!("cannot run pasta: {e}")))?;
    Ok(StartingHelper::Pasta { launcher, pid_file })
}

fn launch_slirp(target_pid: i32) -> Result<StartingHelper, Error> {
    let pipe_error = |source| Error::Sys {
        context: "pipe".into(),
        source,
    };
    let (ready_read, ready_write) = std::io::pipe().map_err(pipe_error)?;
    let (exit_read, exit_write) = std::io::pipe().map_err(pipe_error)?;
    let exit_read = OwnedFd::from(exit_read);
    let ready_write = OwnedFd::from(ready_write);
    let child = Command::new("slirp4netns")
        .args(["--configure", "--mtu=65520", "--disable-host-loopback"])
        .arg(format!("--ready-fd={}", ready_write.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_read.as_raw_fd()))
        .arg(target_pid.to_string())
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_with_inherited(&[&ready_write, &exit_read])
        .map_err(|e| Error::Network(format!("cannot run slirp4netns: {e}")))?;
    Ok(StartingHelper::Slirp {
        child,
        ready: ready_read,
        exit_write: exit_write.into(),
    })
}

impl NetworkHelper {
    /// Stops the helper: pasta by its pid file, slirp4netns by closing its exit descriptor.
    pub fn stop(self) {
        if let Some(pid_file) = &self.pid_file {
            if let Some(pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                // pasta blocks SIGTERM, and with a pid target it does not notice the namespace go.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = std::fs::remove_file(pid_file);
        }
        if let Some((child, exit_write)) = self.slirp {
            // Closing the exit descriptor tells slirp4netns to quit. Waiting for it would add its
            // teardown (tens of milliseconds) to every run; skiff exits soon and init reaps it.
            drop(exit_write);
            drop(child);
        }
    }
}

/// std's Command closes every descriptor it was not told about only if they are close-on-exec;
/// this clears that flag on the given ones for the spawn and restores it afterwards.
trait SpawnWithInherited {
    fn spawn_with_inherited(
        &mut self,
        fds: &[&std::os::fd::OwnedFd],
    ) -> std::io::Result<std::process::Child>;
}

impl SpawnWithInherited for Command {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_replaced() {
        let host = "search example.org\nnameserver 127.0.0.53\noptions edns0\n";
        assert_eq!(
            resolv_conf(host, NetworkBackend::Pasta),
            "search example.org\noptions edns0\nnameserver 169.254.1.1\n"
        );
        assert_eq!(
            resolv_conf("nameserver 10.1.1.1\n", NetworkBackend::Slirp4netns),
            "nameserver 10.1.1.1\n"
        );
        assert_eq!(
            resolv_conf("", NetworkBackend::Slirp4netns),
            "nameserver 10.0.2.3\n"
        );
    }
}
