//! When a container on pasta's network may exec: once pasta has configured its namespace (the
//! interface up, its addresses and default routes), not once pasta's own set-up is done.
//!
//! pasta configures the namespace a few milliseconds after it starts, then spends most of its
//! start-up (about 18 ms of 28 here, measured with bpftrace: zeroing its frame buffers, filling
//! its socket and pipe pools) before it serves the interface. What the container sends meanwhile
//! waits in the interface's queue and is served when pasta's loop starts, so the container loses
//! nothing by starting at once. Published ports are different: they exist only once pasta's
//! set-up is done, so a container publishing any waits for that, as does one given pasta options
//! of its own (which may change what pasta configures).
//!
//! The container's first process watches its own namespace's routes (rtnetlink, which an
//! unprivileged process may read), and goes on as soon as there is a default route for each
//! family pasta configures, or when skiff says pasta is ready, whichever comes first. The
//! families are the host's: pasta copies the host's addresses and routes for each family that
//! has a default route on the host. Should the guess be wrong, the go-ahead at pasta's readiness
//! still comes.

use std::os::fd::{AsFd, OwnedFd, RawFd};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol};

use super::channel::{wait_for_go_ahead, GoAhead};
use super::process::borrowed;
use super::spec::{ContainerSpec, NetworkBackend, NetworkMode};

/// The address families that get a default route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Families {
    fn covers(self, wanted: Families) -> bool {
        (self.ipv4 || !wanted.ipv4) && (self.ipv6 || !wanted.ipv6)
    }
}

/// The default routes a container's first process may wait for instead of pasta's readiness;
/// None when it must wait for pasta (see the module's comment).
pub(crate) fn early_start(spec: &ContainerSpec) -> Option<Families> {
    let eligible = spec.network == NetworkMode::Private
        && spec.network_backend == NetworkBackend::Pasta
        && spec.ports.is_empty()
        && spec.network_options.is_empty()
        // A nested user namespace is entered after the go-ahead, and pasta must have joined
        // the first one by then.
        && spec.nested_ids.is_none();
    if !eligible {
        return None;
    }
    let read = |path| std::fs::read_to_string(path).unwrap_or_default();
    let host = host_default_routes(&read("/proc/net/route"), &read("/proc/net/ipv6_route"));
    (host.ipv4 || host.ipv6).then_some(host)
}

/// The families with a default route in the host's route tables (the text of /proc/net/route
/// and /proc/net/ipv6_route), leaving out rejecting routes and routes on loopback.
fn host_default_routes(ipv4_table: &str, ipv6_table: &str) -> Families {
    const RTF_UP: u32 = 0x1;
    const RTF_REJECT: u32 = 0x200;
    let flags = |text: &str| u32::from_str_radix(text, 16).unwrap_or(0);
    let ipv4 = ipv4_table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Iface Destination Gateway Flags RefCnt Use Metric Mask …
        f.len() > 7
            && f[0] != "lo"
            && f[1] == "00000000"
            && f[7] == "00000000"
            && flags(f[3]) & RTF_UP != 0
            && flags(f[3]) & RTF_REJECT == 0
    });
    let ipv6 = ipv6_table.lines().any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // destination, its length, source, its length, next hop, metric, refs, use, flags, device
        f.len() > 9
            && f[9] != "lo"
            && f[0].bytes().all(|b| b == b'0')
            && f[1] == "00"
            && flags(f[8]) & RTF_UP != 0
            && flags(f[8]) & RTF_REJECT == 0
    });
    Families { ipv4, ipv6 }
}

/// In the container's first process: returns once this network namespace has a default route
/// for each of `wanted`, or once skiff's go-ahead arrives. When the routes cannot be watched,
/// the go-ahead alone.
pub(crate) fn wait_for_routes_or_go_ahead(sync_read: RawFd, wanted: Families) {
    let Ok(routes) = watch_routes() else {
        return wait_for_go_ahead(sync_read, GoAhead::NetworkReady);
    };
    let mut seen = Families::default();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let mut fds = [
            PollFd::new(routes.as_fd(), PollFlags::POLLIN),
            PollFd::new(borrowed(sync_read), PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return wait_for_go_ahead(sync_read, GoAhead::NetworkReady),
            Ok(_) => {}
        }
        if fds[1].any().unwrap_or(true) {
            return wait_for_go_ahead(sync_read, GoAhead::NetworkReady);
        }
        match socket::recv(
            std::os::fd::AsRawFd::as_raw_fd(&routes),
            &mut buffer,
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(length) => {
                let found = default_routes_in(&buffer[..length]);
                seen.ipv4 |= found.ipv4;
                seen.ipv6 |= found.ipv6;
                if seen.covers(wanted) {
                    return;
                }
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            // ENOBUFS: events were lost; the go-ahead still comes.
            Err(_) => return wait_for_go_ahead(sync_read, GoAhead::NetworkReady),
        }
    }
}

const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const RT_TABLE_MAIN: u8 = 254;
const RTN_UNICAST: u8 = 1;
/// struct nlmsghdr: length, type, flags, sequence, port.
const HEADER_LENGTH: usize = 16;
/// struct rtmsg: family, destination length, source length, tos, table, protocol, scope, type,
/// flags.
const ROUTE_MESSAGE_LENGTH: usize = 12;

/// An rtnetlink socket told of every route added from now on, with a dump of the routes there
/// already asked for, so that none is missed whenever pasta adds them.
fn watch_routes() -> nix::Result<OwnedFd> {
    let routes = socket::socket(
        AddressFamily::Netlink,
        socket::SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    let raw = std::os::fd::AsRawFd::as_raw_fd(&routes);
    socket::bind(
        raw,
        &NetlinkAddr::new(0, RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE),
    )?;
    let mut request = [0u8; HEADER_LENGTH + ROUTE_MESSAGE_LENGTH];
    let length = request.len() as u32;
    request[0..4].copy_from_slice(&length.to_ne_bytes());
    request[4..6].copy_from_slice(&RTM_GETROUTE.to_ne_bytes());
    request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // rtm_family AF_UNSPEC (0): every family's routes.
    socket::send(raw, &request, MsgFlags::empty())?;
    Ok(routes)
}

/// The families of the default unicast routes of the main table that the rtnetlink messages in
/// `buffer` add (or list, in a dump).
fn default_routes_in(mut buffer: &[u8]) -> Families {
    let mut found = Families::default();
    while buffer.len() >= HEADER_LENGTH {
        let length = u32::from_ne_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
        let kind = u16::from_ne_bytes([buffer[4], buffer[5]]);
        if length < HEADER_LENGTH || length > buffer.len() {
            break;
        }
        let body = &buffer[HEADER_LENGTH..length];
        if kind == RTM_NEWROUTE && body.len() >= ROUTE_MESSAGE_LENGTH {
            let (family, destination_length, table, route_type) =
                (body[0], body[1], body[4], body[7]);
            if destination_length == 0 && table == RT_TABLE_MAIN && route_type == RTN_UNICAST {
                match i32::from(family) {
                    libc::AF_INET => found.ipv4 = true,
                    libc::AF_INET6 => found.ipv6 = true,
                    _ => {}
                }
            }
        }
        // Messages are aligned to 4 bytes.
        let next = (length + 3) & !3;
        buffer = buffer.get(next..).unwrap_or_default();
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_default_routes_are_read_from_procfs_text() {
        let ipv4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let ipv6_without_default = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
             00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        assert_eq!(
            host_default_routes(ipv4, ipv6_without_default),
            Families {
                ipv4: true,
                ipv6: false
            }
        );
        let ipv6_default = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0\n";
        let only_a_subnet = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                             eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
        assert_eq!(
            host_default_routes(only_a_subnet, ipv6_default),
            Families {
                ipv4: false,
                ipv6: true
            }
        );
        assert_eq!(host_default_routes("", ""), Families::default());
    }

    /// One rtnetlink route message: family, destination length, table and type as given.
    fn route_message(family: i32, destination_length: u8, table: u8, kind: u8) -> Vec<u8> {
        let length = HEADER_LENGTH + ROUTE_MESSAGE_LENGTH + 8;
        let mut message = vec![0u8; length];
        message[0..4].copy_from_slice(&(length as u32).to_ne_bytes());
        message[4..6].copy_from_slice(&RTM_NEWROUTE.to_ne_bytes());
        let body = &mut message[HEADER_LENGTH..];
        body[0] = family as u8;
        body[1] = destination_length;
        body[4] = table;
        body[7] = kind;
        message
    }

    #[test]
    fn only_default_unicast_routes_of_the_main_table_count() {
        let subnet = route_message(libc::AF_INET, 24, RT_TABLE_MAIN, RTN_UNICAST);
        let local_table = route_message(libc::AF_INET, 0, 255, RTN_UNICAST);
        let unreachable = route_message(libc::AF_INET6, 0, RT_TABLE_MAIN, 7);
        let none = [subnet.clone(), local_table, unreachable].concat();
        assert_eq!(default_routes_in(&none), Families::default());

        let ipv4 = route_message(libc::AF_INET, 0, RT_TABLE_MAIN, RTN_UNICAST);
        let ipv6 = route_message(libc::AF_INET6, 0, RT_TABLE_MAIN, RTN_UNICAST);
        let both = [subnet, ipv4.clone(), ipv6].concat();
        assert_eq!(
            default_routes_in(&both),
            Families {
                ipv4: true,
                ipv6: true
            }
        );
        // A truncated message ends the reading without a panic.
        assert_eq!(default_routes_in(&ipv4[..20]), Families::default());
    }

    #[test]
    fn the_wanted_families_are_covered_only_when_all_are_seen() {
        let v4 = Families {
            ipv4: true,
            ipv6: false,
        };
        let both = Families {
            ipv4: true,
            ipv6: true,
        };
        assert!(v4.covers(v4));
        assert!(!v4.covers(both));
        assert!(both.covers(v4));
    }
}
