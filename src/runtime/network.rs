//! Network helpers: a private network namespace gets outbound connectivity from pasta, or from
//! slirp4netns where pasta is missing. Both run as the user, outside the container's namespaces,
//! and are stopped when the container exits.

use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{Error, Helper};
pub use super::pasta::{Helped, HelperLife};
use super::pasta::{Pasta, Progress, StartingPasta, PASTA_DNS_FORWARD};
use super::process::{SpawnWithInherited, WithDefaultSignals};
use super::spec::{NetworkBackend, PortMapping};

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
    Pasta(StartingPasta),
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
pub enum NetworkHelper {
    Pasta(Pasta),
    Slirp {
        child: std::process::Child,
        exit_write: OwnedFd,
        /// It holds published host ports: `stop` waits for it to be gone, so that the next
        /// container publishing them finds them free.
        publishes: bool,
    },
}

/// Where a helper's start-up stands when `wait_ready_or` returns.
pub type HelperProgress = Progress<NetworkHelper, StartingHelper>;

impl StartingHelper {
    /// Launches the helper for the process `helped.pid` without waiting for it, so that its
    /// start-up (tens of milliseconds for pasta) overlaps the rest of the container's set-up. It
    /// needs no id maps: joining a user namespace one owns grants the capabilities it uses.
    pub fn launch(backend: NetworkBackend, helped: &Helped) -> Result<Self, Error> {
        match backend {
            NetworkBackend::Pasta => StartingPasta::launch(helped).map(StartingHelper::Pasta),
            NetworkBackend::Slirp4netns => launch_slirp(helped),
        }
    }

    /// Waits until the helper is ready.
    pub fn wait_ready(self) -> Result<NetworkHelper, Error> {
        match self.wait_ready_or(None)? {
            HelperProgress::Ready(helper) => Ok(helper),
            HelperProgress::Starting(_) => unreachable!("nothing else was waited for"),
        }
    }

    /// Waits until the helper is ready or, for pasta, until `other` is readable or closed,
    /// whichever comes first.
    pub fn wait_ready_or(self, other: Option<BorrowedFd>) -> Result<HelperProgress, Error> {
        match self {
            StartingHelper::Pasta(starting) => Ok(match starting.wait(other)? {
                Progress::Ready(pasta) => Progress::Ready(NetworkHelper::Pasta(pasta)),
                Progress::Starting(starting) => Progress::Starting(StartingHelper::Pasta(starting)),
            }),
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
                let helper = NetworkHelper::Slirp {
                    child,
                    exit_write,
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
                Ok(HelperProgress::Ready(helper))
            }
        }
    }

    /// Stops a helper that is not (or not yet) ready. Had it failed by itself meanwhile, its
    /// failure.
    pub fn abandon(self) -> Option<Error> {
        match self {
            StartingHelper::Pasta(starting) => starting.abandon(),
            StartingHelper::Slirp {
                child,
                exit_write,
                ports,
                ..
            } => {
                NetworkHelper::Slirp {
                    child,
                    exit_write,
                    publishes: !ports.is_empty(),
                }
                .stop();
                None
            }
        }
    }
}

fn launch_slirp(helped: &Helped) -> Result<StartingHelper, Error> {
    let Helped {
        pid: target_pid,
        run_dir,
        ports,
        options,
        ..
    } = *helped;
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
        .with_default_signals()
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
    /// Stops the helper: pasta by a signal, slirp4netns by closing its exit descriptor.
    pub fn stop(self) {
        match self {
            NetworkHelper::Pasta(pasta) => pasta.stop(),
            NetworkHelper::Slirp {
                mut child,
                exit_write,
                publishes,
            } => {
                // Closing the exit descriptor tells slirp4netns to quit. Waiting for it would add
                // its teardown (tens of milliseconds) to every run; skiff exits soon and init
                // reaps it.
                drop(exit_write);
                if publishes {
                    let _ = child.wait();
                }
            }
        }
    }
}

/// Kills the pasta started for the run directory `run_dir` (a container's, or the rootless
/// bridges'), if it still runs, and removes its files; returns the pid it killed.
pub fn stop_pasta_in(run_dir: &Path) -> Option<i32> {
    super::pasta::stop_in(run_dir)
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
