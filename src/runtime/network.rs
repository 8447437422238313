//! Network helpers: a private network namespace gets outbound connectivity from pasta, or from
//! slirp4netns where pasta is missing. Both run as the user, outside the container's namespaces,
//! and are stopped when the container exits.

use std::io::Read;
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
pub fn choose_backend() -> Result<NetworkBackend, Error> {
    if on_path("pasta") {
        Ok(NetworkBackend::Pasta)
    } else if on_path("slirp4netns") {
        Ok(NetworkBackend::Slirp4netns)
    } else {
        Err(Error::Network(
            "neither pasta nor slirp4netns is installed: install the passt package (or slirp4netns), or use --network none or --network host".into(),
        ))
    }
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

/// A running network helper attached to a container's network namespace.
pub struct NetworkHelper {
    pid_file: Option<PathBuf>,
    slirp: Option<(std::process::Child, std::os::fd::OwnedFd)>,
}

impl NetworkHelper {
    /// Starts the helper for the process `target_pid` and returns once the namespace is configured.
    pub fn start(target_pid: i32, backend: NetworkBackend, run_dir: &Path) -> Result<Self, Error> {
        match backend {
            NetworkBackend::Pasta => Self::start_pasta(target_pid, run_dir),
            NetworkBackend::Slirp4netns => Self::start_slirp(target_pid),
        }
    }

    fn start_pasta(target_pid: i32, run_dir: &Path) -> Result<Self, Error> {
        let pid_file = run_dir.join("pasta.pid");
        // No port forwarding yet: `-t none ...` also skips pasta's scan of bound ports.
        let output = Command::new("pasta")
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
            .output()
            .map_err(|e| Error::Network(format!("cannot run pasta: {e}")))?;
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

    fn start_slirp(target_pid: i32) -> Result<Self, Error> {
        let (mut ready_read, ready_write) = std::io::pipe().map_err(|source| Error::Sys {
            context: "pipe".into(),
            source,
        })?;
        let (exit_read, exit_write) = std::io::pipe().map_err(|source| Error::Sys {
            context: "pipe".into(),
            source,
        })?;
        let exit_read = std::os::fd::OwnedFd::from(exit_read);
        let ready_write = std::os::fd::OwnedFd::from(ready_write);
        // The helper inherits these two descriptors as 3 and 4 (see the pre-exec-free mapping below).
        let child = Command::new("slirp4netns")
            .args(["--configure", "--mtu=65520", "--disable-host-loopback"])
            .arg(format!(
                "--ready-fd={}",
                std::os::fd::AsRawFd::as_raw_fd(&ready_write)
            ))
            .arg(format!(
                "--exit-fd={}",
                std::os::fd::AsRawFd::as_raw_fd(&exit_read)
            ))
            .arg(target_pid.to_string())
            .arg("tap0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn_with_inherited(&[&ready_write, &exit_read])
            .map_err(|e| Error::Network(format!("cannot run slirp4netns: {e}")))?;
        drop(ready_write);
        drop(exit_read);
        let mut byte = [0u8; 1];
        if ready_read.read(&mut byte).unwrap_or(0) != 1 {
            return Err(Error::Network(
                "slirp4netns exited before the network was ready".into(),
            ));
        }
        Ok(NetworkHelper {
            pid_file: None,
            slirp: Some((child, exit_write.into())),
        })
    }

    /// Stops the helper: pasta by its pid file, slirp4netns by closing its exit descriptor.
    pub fn stop(self) {
        if let Some(pid_file) = &self.pid_file {
            if let Some(pid) = std::fs::read_to_string(pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let _ = std::fs::remove_file(pid_file);
        }
        if let Some((mut child, exit_write)) = self.slirp {
            drop(exit_write);
            let _ = child.wait();
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
