//! Bridge networks: containers on one network reach each other through a bridge and a veth pair
//! each. As root the bridges live on the host. Rootless they live in one network namespace per
//! user (Podman's "rootless-netns"): a user namespace with the user's id maps holding a network
//! namespace, kept by a small paused process, with pasta giving it a way out. Containers on such
//! a network are made inside that user namespace, so the veth can cross into them.
//!
//! The links, addresses and routes are set with iproute2's `ip -batch`, and the way out with an
//! nftables masquerade rule (`nft -f`), each run inside the right namespaces.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use nix::sched::CloneFlags;

use super::channel::{send_go_ahead, wait_for_go_ahead, GoAhead};
use super::error::{Error, Helper};
use super::namespace_work::run_in_namespace_of;
use super::process::{clone_child, close_all_but_stdio, pipe};
pub use super::spec::BridgeAttachment;
use super::userns::{write_id_maps, IdMapping};

/// Starts the rootless network namespace: a process in a new user namespace (with `mapping`)
/// and network namespace that only waits to be killed. Returns its pid. It belongs to no
/// session and no parent of ours, so it outlives the command that started it.
pub fn start_namespace_holder(mapping: &IdMapping) -> Result<i32, Error> {
    let (sync_read, sync_write) = pipe()?;
    // The child's copy of the write end goes first: should the id maps fail, it sees this
    // process's end close, and leaves instead of holding a namespace no one can use.
    let sync_write_fd = sync_write.as_raw_fd();
    let pid = clone_child(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET, || {
        let _ = nix::unistd::close(sync_write_fd);
        wait_for_go_ahead(sync_read.as_raw_fd(), GoAhead::IdMapsWritten);
        let _ = nix::unistd::setsid();
        let _ = nix::sys::prctl::set_name(c"skiff-netns");
        let _ = super::detach::silence_output();
        // It never execs, so close-on-exec closes nothing: a pipe it kept (a `run -d` waiting
        // for its supervisor's report) would never see its end, nor a lock its release.
        close_all_but_stdio();
        // Nothing more here: this runs on the small clone stack (its loopback comes up with
        // the first bridge).
        loop {
            nix::unistd::pause();
        }
    })?;
    drop(sync_read);
    write_id_maps(pid.as_raw(), mapping)?;
    send_go_ahead(&sync_write, GoAhead::IdMapsWritten)?;
    Ok(pid.as_raw())
}

/// Fails with what to install when `helper` is not in $PATH: checked here, as the child that
/// runs it in a network's namespaces could only say so in words.
fn require(helper: Helper) -> Result<(), Error> {
    match crate::paths::find_program(helper.program()) {
        Some(_) => Ok(()),
        None => Err(Error::MissingHelper {
            helper,
            error: None,
        }),
    }
}

/// Runs `helper` with `input` on its standard input; its stderr becomes the error.
fn feed(helper: Helper, args: &[&str], input: &str) -> Result<(), String> {
    let program = helper.program();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Runs `work` in a child inside the network namespace of `pid` (and, with `rootless`, its user
/// namespace); with `pid` None, here, in the host's.
fn in_network_of<F>(pid: Option<i32>, rootless: bool, work: F) -> Result<(), Error>
where
    F: FnOnce() -> Result<(), String>,
{
    let Some(pid) = pid else {
        return work().map_err(Error::Network);
    };
    run_in_namespace_of(
        pid,
        rootless,
        ("net", CloneFlags::CLONE_NEWNET),
        || Ok(()),
        work,
        || Ok(()),
    )
    .map_err(|e| Error::Network(e.to_string()))
}

/// Makes a bridge with its gateway address where it is missing, in the namespace of
/// `holder_pid` (None: the host's).
pub fn make_bridge(
    holder_pid: Option<i32>,
    rootless: bool,
    bridge: &str,
    gateway: std::net::Ipv4Addr,
    prefix: u8,
) -> Result<(), Error> {
    let setup = format!(
        "link set lo up\n\
         link add {bridge} type bridge\n\
         addr add {gateway}/{prefix} dev {bridge}\n\
         link set {bridge} up\n"
    );
    in_network_of(holder_pid, rootless, || {
        // The bridge may exist already (-force goes on past "File exists").
        let _ = feed(Helper::Ip, &["-force", "-batch", "-"], &setup);
        Ok(())
    })
}

/// Wires the container whose first process is `container_pid` into a bridge: makes the bridge
/// (and its way out) where it is missing, in the namespace of `holder_pid` (None: the host's),
/// then a veth pair into the container with its address and default route.
pub fn attach(
    holder_pid: Option<i32>,
    container_pid: i32,
    rootless: bool,
    attachment: &BridgeAttachment,
) -> Result<(), Error> {
    let bridge = &attachment.bridge;
    let interface = &attachment.interface;
    // Host-side names are unique per container and interface, and at most 15 bytes.
    let veth = format!("v{}{}", container_pid, interface);
    let outer = format!(
        "link add {veth} type veth peer name {interface} netns {container_pid}\n\
         link set {veth} master {bridge} up\n"
    );
    let masquerade = (!attachment.internal).then(|| {
        let subnet = &attachment.subnet;
        format!(
            "add table ip skiff\n\
             add chain ip skiff nat-{bridge} {{ type nat hook postrouting priority 100 ; }}\n\
             flush chain ip skiff nat-{bridge}\n\
             add rule ip skiff nat-{bridge} ip saddr {subnet} ip daddr != {subnet} masquerade\n"
        )
    });
    require(Helper::Ip)?;
    if masquerade.is_some() {
        require(Helper::Nft)?;
    }
    make_bridge(
        holder_pid,
        rootless,
        bridge,
        attachment.gateway,
        attachment.prefix,
    )?;
    in_network_of(holder_pid, rootless, || {
        if let Some(rules) = &masquerade {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
                .map_err(|e| format!("enabling forwarding: {e}"))?;
            feed(Helper::Nft, &["-f", "-"], rules)?;
        }
        feed(Helper::Ip, &["-batch", "-"], &outer)
    })?;
    let mut inner = String::from("link set lo up\n");
    if let Some(mac) = &attachment.mac {
        inner.push_str(&format!("link set {interface} address {mac}\n"));
    }
    inner.push_str(&format!(
        "addr add {}/{} dev {interface}\n\
         link set {interface} up\n",
        attachment.address, attachment.prefix
    ));
    if attachment.default_route {
        inner.push_str(&format!("route add default via {}\n", attachment.gateway));
    }
    in_network_of(Some(container_pid), rootless, || {
        feed(Helper::Ip, &["-batch", "-"], &inner)
    })
}

/// Takes a running container off a bridge: deleting its end of the veth pair deletes both.
pub fn detach(container_pid: i32, rootless: bool, interface: &str) -> Result<(), Error> {
    require(Helper::Ip)?;
    in_network_of(Some(container_pid), rootless, || {
        feed(
            Helper::Ip,
            &["-batch", "-"],
            &format!("link del {interface}\n"),
        )
    })
}

/// Removes a bridge (as root, on the host, when its network is removed).
pub fn remove_bridge(holder_pid: Option<i32>, rootless: bool, bridge: &str) -> Result<(), Error> {
    in_network_of(holder_pid, rootless, || {
        let _ = feed(
            Helper::Nft,
            &["-f", "-"],
            &format!("delete chain ip skiff nat-{bridge}\n"),
        );
        let _ = feed(
            Helper::Ip,
            &["-batch", "-"],
            &format!("link del {bridge}\n"),
        );
        Ok(())
    })
}
