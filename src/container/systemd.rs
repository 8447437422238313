//! `--systemd` and `--sdnotify`: how a container meets systemd, inside it (systemd as its
//! init) and outside it (a unit of `Type=notify` that runs skiff).
//!
//! systemd as an init wants /run, /run/lock and /tmp on tmpfs and its journal's directory
//! writable, tells a container by the `container` variable of its first process (skiff's
//! `container=skiff`, which every container has, is enough: systemd takes any value, and
//! reports an unknown one as "other"), reads the container's id from `container_uuid` and
//! /etc/machine-id, makes its units' cgroups under its own, and halts on SIGRTMIN+3 rather
//! than SIGTERM.

use std::borrow::Cow;

use std::path::Path;

use anyhow::Result;

use super::CreateOptions;
use crate::image::config::RunConfig;
use crate::store::containers::ContainerRecord;
use crate::store::policies::{SdNotify, SdNotifyMode, Signal};
use crate::volume::mounts::{parse_mount, parse_tmpfs};

/// Where systemd mode puts a tmpfs unless the container mounts something there. Podman's
/// documentation says /var/lib/journal, but journald writes /var/log/journal, which is where
/// Podman's code mounts it.
const TMPFS: [&str; 4] = ["/run", "/run/lock", "/tmp", "/var/log/journal"];

/// Where `--sdnotify container` puts the socket in the container, as Podman does.
const NOTIFY_SOCKET_INSIDE: &str = "/run/notify/notify.sock";

/// A container's options as systemd's needs change them.
pub(super) struct Adapted<'a> {
    /// Borrowed unchanged unless a socket is passed in or systemd mode applies: the common
    /// `run` copies nothing.
    pub options: Cow<'a, CreateOptions>,
    /// Whether systemd mode applies.
    pub systemd: bool,
    /// What the record keeps of `--sdnotify`.
    pub sdnotify: SdNotify,
}

/// `options` with `--sdnotify`'s socket passed in (see [`notify_socket`]) and, when systemd
/// mode applies to `argv`, its changes (see [`systemd_mode`]).
pub(super) fn adapt<'a>(
    options: &'a CreateOptions,
    run: &RunConfig,
    argv: &[String],
    id: &str,
) -> Result<Adapted<'a>> {
    let mut options = Cow::Borrowed(options);
    let sdnotify = notify_socket(&mut options, std::env::var("NOTIFY_SOCKET").ok())?;
    let systemd = options.systemd.applies_to(argv);
    if systemd {
        systemd_mode(options.to_mut(), run, id)?;
    }
    Ok(Adapted {
        options,
        systemd,
        sdnotify,
    })
}

/// `--sdnotify` with the NOTIFY_SOCKET skiff was given (`given`): kept unless `ignore`; with
/// `container`, a socket that is a file is bound at /run/notify/notify.sock and named by the
/// container's NOTIFY_SOCKET. (An abstract socket lives in the host's network namespace, out of
/// the container's reach: skiff then says READY=1 itself, as with `conmon`.)
fn notify_socket(options: &mut Cow<CreateOptions>, given: Option<String>) -> Result<SdNotify> {
    let mode = options.sdnotify;
    let socket = given.filter(|s| !s.is_empty() && mode != SdNotifyMode::Ignore);
    if let Some(path) = socket.as_deref().filter(|s| s.starts_with('/')) {
        if mode == SdNotifyMode::Container {
            // As --mount binds: a socket gone by a later start is an error, never a directory
            // made in its place (as -v would make one).
            let bind = format!("type=bind,source={path},target={NOTIFY_SOCKET_INSIDE}");
            let options = options.to_mut();
            options.mounts.push(parse_mount(&bind)?);
            options
                .env
                .insert(0, format!("NOTIFY_SOCKET={NOTIFY_SOCKET_INSIDE}"));
        }
    }
    Ok(SdNotify { mode, socket })
}

/// What each start of a container tells the systemd unit that runs skiff (the socket it was
/// made with): MAINPID, the process that watches the container (this one: the supervisor of a
/// detached container, or the foreground skiff, which inspect shows as State.ConmonPid), then,
/// unless the container says it itself (`container` mode with a socket it was given), READY=1.
/// A unit gone since is no error of the container's.
pub(crate) fn notify_started(record: &ContainerRecord) {
    let Some(socket) = &record.sdnotify.socket else {
        return;
    };
    let passed_in = record.sdnotify.mode == SdNotifyMode::Container && socket.starts_with('/');
    let mut messages = vec![format!("MAINPID={}", std::process::id())];
    if !passed_in {
        messages.push("READY=1".to_string());
    }
    for message in messages {
        let _ = send(socket, &message);
    }
}

/// One datagram to the socket at the path `socket`, or the abstract one `@NAME`.
fn send(socket: &str, message: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let sender = UnixDatagram::unbound()?;
    let address = match socket.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(Path::new(socket))?,
    };
    sender.send_to_addr(message.as_bytes(), &address)?;
    Ok(())
}

/// Systemd mode's changes: the tmpfs mounts, with `--privileged` the host's serial terminals,
/// `container_uuid` (the id's first 32 characters)
/// under `--env`, and SIGRTMIN+3 as the stop signal unless `--stop-signal` or the image's
/// STOPSIGNAL (in `run`) names another.
fn systemd_mode(options: &mut CreateOptions, run: &RunConfig, id: &str) -> Result<()> {
    for path in TMPFS {
        if !options.mounts.iter().any(|m| m.destination == path) {
            // rw, nosuid and nodev as Podman mounts them (systemd runs programs from /run);
            // only /tmp is everyone's to write.
            let mode = if path == "/tmp" { "1777" } else { "755" };
            options
                .mounts
                .push(parse_tmpfs(&format!("{path}:exec,mode={mode}"))?);
        }
    }
    if options.confinement.privileged {
        let terminals = crate::volume::mounts::host_serial_terminals();
        let given: Vec<String> = options
            .mounts
            .iter()
            .map(|m| m.destination.clone())
            .collect();
        options.mounts.extend(
            terminals
                .into_iter()
                .filter(|t| !given.contains(&t.destination)),
        );
    }
    options
        .env
        .insert(0, format!("container_uuid={}", uuid(id)));
    if options.stop_signal.is_none() && run.stop_signal.is_none() {
        options.stop_signal = Some(Signal::rtmin_plus(3));
    }
    Ok(())
}

/// The generated /etc files systemd mode adds: machine-id, the container's id as systemd
/// reads one (32 hex digits), unless the container mounts its own.
pub(super) fn etc_files(
    options: &CreateOptions,
    systemd: bool,
    id: &str,
) -> Vec<(&'static str, String)> {
    let mounted = options
        .mounts
        .iter()
        .any(|m| m.destination == "/etc/machine-id");
    match systemd && !mounted {
        true => vec![("machine-id", format!("{}\n", uuid(id)))],
        false => Vec::new(),
    }
}

fn uuid(id: &str) -> &str {
    &id[..32.min(id.len())]
}

#[cfg(test)]
mod tests {
    use super::super::options::SystemdMode;
    use super::*;

    #[test]
    fn an_init_gets_tmpfs_its_id_and_the_halt_signal_unless_given_otherwise() {
        let id = "0123456789abcdef".repeat(4);
        let mut options = CreateOptions {
            mounts: vec![parse_tmpfs("/tmp:size=1m").unwrap()],
            ..Default::default()
        };
        let init = ["/sbin/init".to_string()];
        let Adapted {
            options: adapted,
            systemd,
            ..
        } = adapt(&options, &RunConfig::default(), &init, &id).unwrap();
        assert!(systemd);
        let places: Vec<_> = adapted
            .mounts
            .iter()
            .map(|m| m.destination.as_str())
            .collect();
        assert_eq!(places, ["/tmp", "/run", "/run/lock", "/var/log/journal"]);
        assert_eq!(adapted.env, [format!("container_uuid={}", &id[..32])]);
        assert_eq!(adapted.stop_signal, Some(Signal::rtmin_plus(3)));
        assert_eq!(
            etc_files(&adapted, systemd, &id),
            [("machine-id", format!("{}\n", &id[..32]))]
        );
        let image: RunConfig =
            serde_json::from_value(serde_json::json!({"StopSignal": "SIGTERM"})).unwrap();
        let signal = adapt(&options, &image, &init, &id)
            .unwrap()
            .options
            .stop_signal;
        assert_eq!(signal, None);
        options.systemd = SystemdMode::Never;
        let Adapted {
            options: same,
            systemd,
            ..
        } = adapt(&options, &RunConfig::default(), &init, &id).unwrap();
        assert!(!systemd && same.mounts.len() == 1);
        assert!(etc_files(&same, systemd, &id).is_empty());
    }

    #[test]
    fn the_notify_socket_is_kept_and_passed_in_as_the_mode_says() {
        let given = || Some("/run/user/1/notify".to_string());
        let base = CreateOptions::default();
        let mut options = Cow::Borrowed(&base);
        let kept = notify_socket(&mut options, given()).unwrap();
        assert_eq!(kept.socket, given());
        let places: Vec<_> = options
            .mounts
            .iter()
            .map(|m| m.destination.as_str())
            .collect();
        assert_eq!(places, [NOTIFY_SOCKET_INSIDE]);
        assert_eq!(
            options.env,
            [format!("NOTIFY_SOCKET={NOTIFY_SOCKET_INSIDE}")]
        );
        for mode in [SdNotifyMode::Conmon, SdNotifyMode::Ignore] {
            let base = CreateOptions {
                sdnotify: mode,
                ..Default::default()
            };
            let mut options = Cow::Borrowed(&base);
            let kept = notify_socket(&mut options, given()).unwrap();
            assert_eq!(kept.socket.is_some(), mode == SdNotifyMode::Conmon);
            // Nothing to pass in: the options are not copied.
            assert!(matches!(options, Cow::Borrowed(_)));
        }
        let mut options = Cow::Borrowed(&base);
        let abstract_socket = notify_socket(&mut options, Some("@unit".into())).unwrap();
        assert_eq!(abstract_socket.socket.as_deref(), Some("@unit"));
        assert!(options.mounts.is_empty() && options.env.is_empty());
        assert_eq!(
            notify_socket(&mut options, None).unwrap(),
            SdNotify::default()
        );
    }
}
