//! `--systemd`: what a container whose init is systemd gets, as Podman gives it. systemd wants
//! /run, /run/lock and /tmp on tmpfs and its journal's directory writable, tells a container
//! by the `container` variable of its first process (skiff's `container=skiff`, which every
//! container has, is enough: systemd takes any value, and reports an unknown one as "other"),
//! reads the container's id from `container_uuid` and /etc/machine-id, makes its units'
//! cgroups under its own, and halts on SIGRTMIN+3 rather than SIGTERM.

use anyhow::Result;

use super::CreateOptions;
use crate::image::config::RunConfig;
use crate::store::policies::Signal;
use crate::volume::mounts::parse_tmpfs;

/// Where systemd mode puts a tmpfs unless the container mounts something there. Podman's
/// documentation says /var/lib/journal, but journald writes /var/log/journal, which is where
/// Podman's code mounts it.
const TMPFS: [&str; 4] = ["/run", "/run/lock", "/tmp", "/var/log/journal"];

/// `options` as systemd mode changes them for a container running `argv` from an image whose
/// configuration is `run`, with whether the mode applies: the tmpfs mounts, `container_uuid`
/// (the id's first 32 characters) under `--env`, and SIGRTMIN+3 as the stop signal unless
/// `--stop-signal` or the image's STOPSIGNAL names another.
pub(super) fn adapt(
    options: &CreateOptions,
    run: &RunConfig,
    argv: &[String],
    id: &str,
) -> Result<(CreateOptions, bool)> {
    let mut options = options.clone();
    if !options.systemd.applies_to(argv) {
        return Ok((options, false));
    }
    for path in TMPFS {
        if !options.mounts.iter().any(|m| m.destination == path) {
            // rw, nosuid and nodev as Podman mounts them: systemd runs programs from /run.
            options.mounts.push(parse_tmpfs(&format!("{path}:exec"))?);
        }
    }
    options
        .env
        .insert(0, format!("container_uuid={}", uuid(id)));
    if options.stop_signal.is_none() && run.stop_signal.is_none() {
        options.stop_signal = Some(Signal::rtmin_plus(3));
    }
    Ok((options, true))
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
    use super::*;
    use crate::container::options::SystemdMode;

    #[test]
    fn an_init_gets_tmpfs_its_id_and_the_halt_signal_unless_given_otherwise() {
        let id = "0123456789abcdef".repeat(4);
        let mut options = CreateOptions {
            mounts: vec![parse_tmpfs("/tmp:size=1m").unwrap()],
            ..Default::default()
        };
        let init = ["/sbin/init".to_string()];
        let (adapted, systemd) = adapt(&options, &RunConfig::default(), &init, &id).unwrap();
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
        assert_eq!(
            adapt(&options, &image, &init, &id).unwrap().0.stop_signal,
            None
        );
        options.systemd = SystemdMode::Never;
        let (same, systemd) = adapt(&options, &RunConfig::default(), &init, &id).unwrap();
        assert!(!systemd && same.mounts.len() == 1 && same.env.is_empty());
        assert!(etc_files(&same, systemd, &id).is_empty());
    }
}
