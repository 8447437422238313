//! Network helpers: a private network namespace gets outbound connectivity from pasta, or from
//! slirp4netns where pasta is missing. Both run as the user, outside the container's namespaces,
//! and are stopped when the container exits.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{Error, Helper};
use super::spec::{NetworkBackend, PortMapping, Protocol};

/// Where pasta forwards DNS queries when the host only has loopback resolvers, as Podman does.
pub const PASTA_DNS_FORWARD: &str = "169.254.1.1";
/// slirp4netns's built-in DNS forwarder.
pub const SLIRP_DNS: &str = "10.0.2.3";

/// The helper asked for, or pasta when installed, else slirp4netns; an error saying what to
/// install when the one needed is missing.
pub fn choose_backend(requested: Option<NetworkBackend>) -> Result<NetworkBackend, Error> {
    let installed =
        |backend: NetworkBackend| crate::paths::find_program(backend.program()).is_some();
    match requested {
        Some(backend) if installed(backend) => Ok(backend),
        Some(backend) => Err(Error::MissingHelper {
            helper: backend.helper(),
            error: None,
        }),
        None => [NetworkBackend::Pasta, NetworkBackend::Slirp4netns]
            .into_iter()
            .find(|backend| installed(*backend))
            .ok_or(Error::NoNetworkHelper),
    }
}

/// The command-line arguments `--network slirp4netns:OPTIONS` stands for, checked when the
/// container is created: Podman's option names.
fn slirp_option_args(options: &[String]) -> Result<Vec<String>, Error> {
    let mut host_loopback = false;
    let mut args = Vec::new();
    for option in options {
        let (key, value) = option.split_once('=').unwrap_or((option, ""));
        let flag = || match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Error::Network(format!(
                "slirp4netns option {key} takes true or false, not {value:?}"
            ))),
        };
        match key {
            "allow_host_loopback" => host_loopback = flag()?,
            "enable_ipv6" if flag()? => args.push("--enable-ipv6".into()),
            "enable_ipv6" => {}
            "mtu" if value.parse::<u32>().is_ok() => args.push(format!("--mtu={value}")),
            "cidr" if value.contains('/') => args.push(format!("--cidr={value}")),
            "outbound_addr" if !value.is_empty() => args.push(format!("--outbound-addr={value}")),
            "port_handler" if value == "slirp4netns" => {}
            _ => {
                return Err(Error::Network(format!(
                    "unsupported slirp4netns option {option:?}: skiff knows allow_host_loopback, enable_ipv6, mtu, cidr, outbound_addr and port_handler=slirp4netns"
                )))
            }
        }
    }
    if !args.iter().any(|a| a.starts_with("--mtu=")) {
        args.push("--mtu=65520".into());
    }
    if !host_loopback {
        args.push("--disable-host-loopback".into());
    }
    Ok(args)
}

/// Checks `--network pasta:OPTIONS` or `slirp4netns:OPTIONS` before a container is created.
/// pasta's options are its own command-line arguments, passed on as they are (as Podman does).
pub fn check_options(backend: NetworkBackend, options: &[String]) -> Result<(), Error> {
    match backend {
        NetworkBackend::Pasta => Ok(()),
        NetworkBackend::Slirp4netns => slirp_option_args(options).map(drop),
    }
}

/// The nameservers of a container: the host's, unless they are loopback addresses the container
/// cannot reach, in which case `backend`'s forwarder, where the container has one (a bridge on
/// the host, as root, has none).
pub fn resolv_conf(host_resolv_conf: &str, backend: Option<NetworkBackend>) -> String {
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
    match backend {
        Some(NetworkBackend::Pasta) if servers.is_empty() => {
            servers.push(PASTA_DNS_FORWARD.to_string())
        }
        Some(NetworkBackend::Slirp4netns) if servers.is_empty() => {
            servers.push(SLIRP_DNS.to_string())
        }
        _ => {}
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
        publishes: bool,
    },
    Slirp {
        child: std::process::Child,
        ready: std::io::PipeReader,
        exit_write: OwnedFd,
        /// The run directory holding the API socket, as a descriptor (see `launch_slirp`).
        run_dir: OwnedFd,
        ports: Vec<PortMapping>,
    },
}

/// A running network helper attached to a container's network namespace.
pub struct NetworkHelper {
    pid_file: Option<PathBuf>,
    slirp: Option<(std::process::Child, OwnedFd)>,
    /// It holds published host ports: `stop` waits for it to be gone, so that the next
    /// container publishing them finds them free.
    publishes: bool,
}

impl StartingHelper {
    /// Launches the helper for the process `target_pid` without waiting for it, so that its
    /// start-up (tens of milliseconds for pasta) overlaps the rest of the container's set-up. It
    /// needs no id maps: joining a user namespace one owns grants the capabilities it uses.
    /// `rootless` tells how pasta reaches the namespace: through the process's user namespace,
    /// or, as root, through an inherited descriptor (pasta then runs without capabilities and can
    /// no longer open another process's namespaces by path).
    pub fn launch(
        target_pid: i32,
        backend: NetworkBackend,
        run_dir: &Path,
        ports: &[PortMapping],
        options: &[String],
        rootless: bool,
    ) -> Result<Self, Error> {
        match backend {
            NetworkBackend::Pasta => launch_pasta(target_pid, run_dir, ports, options, rootless),
            NetworkBackend::Slirp4netns => launch_slirp(target_pid, run_dir, ports, options),
        }
    }

    pub fn wait_ready(self) -> Result<NetworkHelper, Error> {
        match self {
            StartingHelper::Pasta {
                launcher,
                pid_file,
                publishes,
            } => {
                let output = launcher
                    .wait_with_output()
                    .map_err(|e| Error::Network(format!("waiting for pasta: {e}")))?;
                if !output.status.success() {
                    let text = String::from_utf8_lossy(&output.stderr);
                    let reason = text
                        .lines()
                        .find(|l| !l.contains("syslog"))
                        .unwrap_or("unknown error");
                    return Err(pasta_failure(reason.trim()));
                }
                Ok(NetworkHelper {
                    pid_file: Some(pid_file),
                    slirp: None,
                    publishes,
                })
            }
            StartingHelper::Slirp {
                mut child,
                mut ready,
                exit_write,
                run_dir,
                ports,
            } => {
                let mut byte = [0u8; 1];
                if ready.read(&mut byte).unwrap_or(0) != 1 {
                    let _ = child.wait();
                    return Err(Error::Network(
                        "slirp4netns exited before the network was ready".into(),
                    ));
                }
                let helper = NetworkHelper {
                    pid_file: None,
                    slirp: Some((child, exit_write)),
                    publishes: !ports.is_empty(),
                };
                let api_socket = PathBuf::from(format!(
                    "/proc/self/fd/{}/slirp4netns.sock",
                    run_dir.as_raw_fd()
                ));
                for port in &ports {
                    if let Err(error) = slirp_forward(&api_socket, port) {
                        helper.stop();
                        return Err(error);
                    }
                }
                Ok(helper)
            }
        }
    }

    /// Stops a helper that never became ready.
    pub fn abandon(self) {
        match self {
            StartingHelper::Pasta {
                launcher,
                pid_file,
                publishes,
            } => {
                let _ = launcher.wait_with_output();
                NetworkHelper {
                    pid_file: Some(pid_file),
                    slirp: None,
                    publishes,
                }
                .stop();
            }
            StartingHelper::Slirp {
                child,
                exit_write,
                ports,
                ..
            } => NetworkHelper {
                pid_file: None,
                slirp: Some((child, exit_write)),
                publishes: !ports.is_empty(),
            }
            .stop(),
        }
    }
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

fn launch_pasta(
    target_pid: i32,
    run_dir: &Path,
    ports: &[PortMapping],
    options: &[String],
    rootless: bool,
) -> Result<StartingHelper, Error> {
    let pid_file = run_dir.join("pasta.pid");
    let mut command = Command::new("pasta");
    // `-T none -U none`: the container reaches the host through the gateway address, not by
    // having the host's bound ports mirrored; listing ports explicitly also skips pasta's scan.
    command
        .args(["--config-net", "--quiet"])
        .args(["-t", &pasta_port_spec(ports, Protocol::Tcp)])
        .args(["-u", &pasta_port_spec(ports, Protocol::Udp)])
        .args(["-T", "none", "-U", "none"])
        .args(["--dns-forward", PASTA_DNS_FORWARD])
        .args(options)
        .arg("--pid")
        .arg(&pid_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
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
    let launcher = launched.map_err(|error| Error::MissingHelper {
        helper: Helper::Pasta,
        error: Some(error),
    })?;
    Ok(StartingHelper::Pasta {
        launcher,
        pid_file,
        publishes: !ports.is_empty(),
    })
}

/// pasta's own words for why it failed, typed: without /dev/net/tun (missing, or closed to the
/// user) it cannot make the container's interface, which `skiff system check` explains.
fn pasta_failure(reason: &str) -> Error {
    let reason = reason.to_string();
    if reason.contains("/dev/net/tun") || reason.contains("tun socket") {
        Error::TunUnavailable { reason }
    } else {
        Error::PastaFailed { reason }
    }
}

fn launch_slirp(
    target_pid: i32,
    run_dir: &Path,
    ports: &[PortMapping],
    options: &[String],
) -> Result<StartingHelper, Error> {
    let pipe_error = |source| Error::Sys {
        context: "pipe".into(),
        source,
    };
    let (ready_read, ready_write) = std::io::pipe().map_err(pipe_error)?;
    let (exit_read, exit_write) = std::io::pipe().map_err(pipe_error)?;
    let exit_read = OwnedFd::from(exit_read);
    let ready_write = OwnedFd::from(ready_write);
    let api_socket = run_dir.join("slirp4netns.sock");
    // A socket path is limited to 108 bytes, and a container's run directory can be longer: both
    // sides name the socket through a descriptor of the directory instead.
    let run_dir_fd = std::fs::File::open(run_dir)
        .map(OwnedFd::from)
        .map_err(|e| Error::Network(format!("opening {}: {e}", run_dir.display())))?;
    let mut command = Command::new("slirp4netns");
    command
        .arg("--configure")
        .args(slirp_option_args(options)?)
        .arg(format!("--ready-fd={}", ready_write.as_raw_fd()))
        .arg(format!("--exit-fd={}", exit_read.as_raw_fd()));
    if !ports.is_empty() {
        let _ = std::fs::remove_file(&api_socket);
        command.arg("--api-socket").arg(format!(
            "/proc/self/fd/{}/slirp4netns.sock",
            run_dir_fd.as_raw_fd()
        ));
    }
    let child = command
        .arg(target_pid.to_string())
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn_with_inherited(&[&ready_write, &exit_read, &run_dir_fd])
        .map_err(|error| Error::MissingHelper {
            helper: Helper::Slirp4netns,
            error: Some(error),
        })?;
    Ok(StartingHelper::Slirp {
        child,
        ready: ready_read,
        exit_write: exit_write.into(),
        run_dir: run_dir_fd,
        ports: ports.to_vec(),
    })
}

/// Asks slirp4netns, through its API socket, to forward one host port into the namespace.
fn slirp_forward(api_socket: &Path, port: &PortMapping) -> Result<(), Error> {
    use std::io::Write as _;
    let failed = |why: String| {
        Error::Network(format!(
            "slirp4netns could not publish port {}/{}: {why}",
            port.host_port,
            port.protocol.name()
        ))
    };
    let request = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": port.protocol.name(),
            "host_addr": port.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()),
            "host_port": port.host_port,
            "guest_port": port.container_port,
        }
    });
    let mut stream = std::os::unix::net::UnixStream::connect(api_socket)
        .map_err(|e| failed(format!("its API socket: {e}")))?;
    stream
        .write_all(request.to_string().as_bytes())
        .and_then(|()| stream.shutdown(std::net::Shutdown::Write))
        .map_err(|e| failed(e.to_string()))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|e| failed(e.to_string()))?;
    let reply: serde_json::Value =
        serde_json::from_str(&reply).map_err(|_| failed(format!("unexpected reply {reply:?}")))?;
    match reply.get("error") {
        Some(error) => Err(failed(
            error["desc"].as_str().unwrap_or("refused").to_string(),
        )),
        None => Ok(()),
    }
}

impl NetworkHelper {
    /// Stops the helper: pasta by its pid file, slirp4netns by closing its exit descriptor.
    pub fn stop(self) {
        if let Some(pid_file) = &self.pid_file {
            if let Some(pid) = stop_pid_file(pid_file) {
                if self.publishes {
                    wait_until_gone(pid);
                }
            }
        }
        if let Some((mut child, exit_write)) = self.slirp {
            // Closing the exit descriptor tells slirp4netns to quit. Waiting for it would add its
            // teardown (tens of milliseconds) to every run; skiff exits soon and init reaps it.
            drop(exit_write);
            if self.publishes {
                let _ = child.wait();
            }
        }
    }
}

/// Kills the pasta whose pid file this is, and removes the file; returns the pid it killed.
pub fn stop_pid_file(pid_file: &Path) -> Option<i32> {
    let pid = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        // Only that pasta: had it gone already, its pid may be another process's now (pid_max is
        // 32768 on many hosts, and a busy one wraps around in seconds).
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let wanted = pid_file.as_os_str().as_encoded_bytes();
                cmdline.split(|b| *b == 0).any(|arg| arg == wanted)
            })
        });
    if let Some(pid) = pid {
        // pasta blocks SIGTERM, and with a pid target it does not notice the namespace go.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = std::fs::remove_file(pid_file);
    pid
}

/// Waits (up to a second) until a process that is not our child has exited: its sockets are
/// closed once it is a zombie or gone.
fn wait_until_gone(pid: i32) {
    for _ in 0..1000 {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let (_, after_name) = stat.rsplit_once(')')?;
                after_name.trim_start().chars().next()
            });
        if matches!(state, None | Some('Z' | 'X')) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
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
            resolv_conf(host, Some(NetworkBackend::Pasta)),
            "search example.org\noptions edns0\nnameserver 169.254.1.1\n"
        );
        assert_eq!(
            resolv_conf("nameserver 10.1.1.1\n", Some(NetworkBackend::Slirp4netns)),
            "nameserver 10.1.1.1\n"
        );
        assert_eq!(
            resolv_conf("", Some(NetworkBackend::Slirp4netns)),
            "nameserver 10.0.2.3\n"
        );
        // A bridge on the host has no forwarder: a loopback resolver is just left out.
        assert_eq!(resolv_conf("nameserver 127.0.0.53\n", None), "");
    }
}
