//! Published ports of a container on a bridge network. pasta can forward ports only into the
//! namespace it was started for, and the rootless bridges' pasta is started once for every
//! container, so these ports are relayed in user space instead (as Podman's rootlessport does):
//! a child of the process watching the container binds the host ports in the host's network
//! namespace, then joins the bridges' namespace, where it reaches the container's address. The
//! container sees connections come from its network's gateway, not from the client.
//!
//! The relay is the one place in the runtime that runs threads: it is a process of its own,
//! forked while its parent is single-threaded, and it never returns to skiff's code.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::error::Error;
use super::process::{clone_child, close_all_except, join_namespaces, open_namespace, JoinTargets};
use super::spec::{PortMapping, Protocol};

/// A UDP client that has sent nothing and received nothing for this long is forgotten, as
/// the kernel's conntrack forgets an unreplied UDP flow.
const UDP_IDLE: Duration = Duration::from_secs(60);
/// Bytes moved per read: a large buffer keeps a bulk transfer's system calls few.
const RELAY_BUFFER: usize = 256 * 1024;

enum HostSocket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl HostSocket {
    fn raw_fd(&self) -> RawFd {
        match self {
            HostSocket::Tcp(listener) => listener.as_raw_fd(),
            HostSocket::Udp(socket) => socket.as_raw_fd(),
        }
    }
}

/// The relay process of a running container.
pub struct PortRelay {
    pid: Pid,
}

impl PortRelay {
    /// Binds every host port of `ports` here, so that a port in use is an error before the
    /// container runs, then forks the relay, which forwards them to `target`. With `holder_pid`
    /// (rootless) it reaches `target` from that process's user and network namespaces.
    pub fn start(
        ports: &[PortMapping],
        target: Ipv4Addr,
        holder_pid: Option<i32>,
    ) -> Result<Self, Error> {
        let mut sockets = Vec::new();
        for port in ports {
            let address = SocketAddr::new(
                port.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                port.host_port,
            );
            let bound = match port.protocol {
                Protocol::Tcp => TcpListener::bind(address).map(HostSocket::Tcp),
                Protocol::Udp => UdpSocket::bind(address).map(HostSocket::Udp),
            };
            let socket = bound.map_err(|error| Error::PortUnavailable {
                address: format!("{address}/{}", port.protocol.name()),
                error,
            })?;
            sockets.push((socket, port.container_port));
        }
        let namespaces = match holder_pid {
            Some(pid) => Some((open_namespace(pid, "user")?, open_namespace(pid, "net")?)),
            None => None,
        };
        let parent = nix::unistd::getpid();
        let mut sockets = Some(sockets);
        let pid = clone_child(CloneFlags::empty(), || {
            let Some(sockets) = sockets.take() else {
                return 1;
            };
            // It serves the container only while the process watching it lives.
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            if nix::unistd::getppid() != parent {
                return 1;
            }
            let mut keep: Vec<RawFd> = sockets.iter().map(|(s, _)| s.raw_fd()).collect();
            if let Some((user, net)) = &namespaces {
                // It lives on in the network's namespaces; see sealed_exec.rs.
                if super::sealed_exec::make_non_dumpable().is_err() {
                    return 1;
                }
                let targets = JoinTargets {
                    user: Some(user.as_raw_fd()),
                    others: vec![(net.as_raw_fd(), CloneFlags::CLONE_NEWNET)],
                    nested_user: None,
                };
                if join_namespaces(&targets).is_err() {
                    return 1;
                }
                keep.retain(|fd| *fd != user.as_raw_fd() && *fd != net.as_raw_fd());
            }
            // It never execs: whatever its parent held open (a lock, a pipe someone waits on
            // for end of file) would stay open for as long as the container runs.
            let _ = super::detach::silence_output();
            close_all_except(&keep);
            serve(sockets, target);
            0
        })?;
        Ok(PortRelay { pid })
    }

    /// Stops the relay and waits for it, so that its host ports are free when this returns.
    pub fn stop(self) {
        let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// Forwards every socket to its container port until the process is killed.
fn serve(sockets: Vec<(HostSocket, u16)>, target: Ipv4Addr) {
    let workers: Vec<_> = sockets
        .into_iter()
        .map(|(socket, container_port)| {
            let destination = SocketAddr::new(IpAddr::V4(target), container_port);
            std::thread::spawn(move || match socket {
                HostSocket::Tcp(listener) => serve_tcp(&listener, destination),
                HostSocket::Udp(socket) => serve_udp(socket, destination),
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
}

fn serve_tcp(listener: &TcpListener, destination: SocketAddr) {
    for client in listener.incoming() {
        let Ok(client) = client else {
            // Out of descriptors, most likely: give the open connections a moment to end.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        std::thread::spawn(move || {
            // A container not listening yet (or any more) refuses: so does the client's end.
            let Ok(upstream) = TcpStream::connect(destination) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let (Ok(client_reader), Ok(upstream_writer)) =
                (client.try_clone(), upstream.try_clone())
            else {
                return;
            };
            let inbound = std::thread::spawn(move || copy_half(client_reader, upstream_writer));
            copy_half(upstream, client);
            let _ = inbound.join();
        });
    }
}

/// Copies one direction of a connection until end of file, then passes the end on.
fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = vec![0u8; RELAY_BUFFER];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    let _ = from.shutdown(Shutdown::Read);
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Each client address gets a socket of its own towards the container, so replies find their
/// way back to the one who asked.
fn serve_udp(socket: UdpSocket, destination: SocketAddr) {
    let socket = Arc::new(socket);
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut datagram = vec![0u8; 65536];
    loop {
        let Ok((length, client)) = socket.recv_from(&mut datagram) else {
            continue;
        };
        let known = flows.lock().ok().and_then(|f| f.get(&client).cloned());
        let upstream = match known {
            Some(upstream) => upstream,
            None => {
                let Some(upstream) = open_flow(destination) else {
                    continue;
                };
                if let Ok(mut table) = flows.lock() {
                    table.insert(client, upstream.clone());
                }
                let (replies, host, flows) = (upstream.clone(), socket.clone(), flows.clone());
                std::thread::spawn(move || {
                    let mut reply = vec![0u8; 65536];
                    while let Ok(length) = replies.recv(&mut reply) {
                        let _ = host.send_to(&reply[..length], client);
                    }
                    if let Ok(mut table) = flows.lock() {
                        if table.get(&client).is_some_and(|f| Arc::ptr_eq(f, &replies)) {
                            table.remove(&client);
                        }
                    }
                });
                upstream
            }
        };
        let _ = upstream.send(&datagram[..length]);
    }
}

fn open_flow(destination: SocketAddr) -> Option<Arc<UdpSocket>> {
    let upstream = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    upstream.connect(destination).ok()?;
    upstream.set_read_timeout(Some(UDP_IDLE)).ok()?;
    Some(Arc::new(upstream))
}
