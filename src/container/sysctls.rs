//! `--sysctl KEY=VALUE` and containers.conf `default_sysctls`: the namespaced kernel settings a
//! container may have, checked as Podman checks them (its words too), and written in the
//! container's /proc/sys before it is made read-only.

use anyhow::{bail, Result};

/// The IPC namespace's settings (`fs.mqueue.*` too), and the UTS namespace's.
const IPC_KEYS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];
const UTS_KEYS: &[&str] = &["kernel.domainname", "kernel.hostname"];

/// Podman's built-in `default_sysctls`: any group may open ICMP echo sockets.
const PODMANS_DEFAULTS: &[&str] = &["net.ipv4.ping_group_range=0 0"];

/// The settings of `given` (each checked) over `defaults` (containers.conf's, else Podman's),
/// a later one of the same key winning. A container whose network namespace is not its own
/// (`shared`: the host's, another container's, a file's, as Podman names them) gets none of the
/// default `net.*` ones, and may not be given one.
pub fn sysctls(
    given: &[String],
    defaults: Option<&[String]>,
    shared: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let defaults: Vec<String> = match defaults {
        Some(defaults) => defaults.to_vec(),
        None => PODMANS_DEFAULTS.iter().map(|d| d.to_string()).collect(),
    };
    let mut settings: Vec<(String, String)> = Vec::new();
    for (text, is_default) in defaults
        .iter()
        .map(|d| (d, true))
        .chain(given.iter().map(|g| (g, false)))
    {
        let Some((key, value)) = text.split_once('=') else {
            bail!("{text} is invalid, sysctl values must be in the form of KEY=VALUE");
        };
        let (key, value) = (key.trim().to_string(), value.to_string());
        if let Some(owner) = shared.filter(|_| key.starts_with("net.")) {
            if is_default {
                continue;
            }
            bail!("sysctl {text} can't be set since Network Namespace set to {owner}: invalid argument");
        }
        let allowed = key.starts_with("net.")
            || key.starts_with("fs.mqueue.")
            || IPC_KEYS.contains(&key.as_str())
            || UTS_KEYS.contains(&key.as_str());
        if !allowed
            || key.contains('/')
            || key.split('.').any(|part| part.is_empty() || part == "..")
        {
            bail!("sysctl '{key}' is not allowed");
        }
        settings.retain(|(k, _)| *k != key);
        settings.push((key, value));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn namespaced_settings_pass_over_the_defaults() {
        let set = sysctls(
            &strings(&["net.ipv4.ping_group_range=1 1", "kernel.shmmax=1000"]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            set,
            vec![
                ("net.ipv4.ping_group_range".into(), "1 1".into()),
                ("kernel.shmmax".into(), "1000".into()),
            ]
        );
        assert_eq!(sysctls(&[], None, Some("host")).unwrap(), vec![]);
        assert_eq!(sysctls(&[], Some(&[]), None).unwrap(), vec![]);
    }

    #[test]
    fn other_settings_fail_with_podmans_words() {
        let error = |text: &str, shared| {
            sysctls(&strings(&[text]), Some(&[]), shared)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("vm.swappiness=10", None),
            "sysctl 'vm.swappiness' is not allowed"
        );
        assert_eq!(
            error("net.ipv4.ip_forward=1", Some("host")),
            "sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: invalid argument"
        );
        assert_eq!(
            error("net.ipv4.ping_group_range", None),
            "net.ipv4.ping_group_range is invalid, sysctl values must be in the form of KEY=VALUE"
        );
        assert_eq!(
            error("net.ipv4..x=1", None),
            "sysctl 'net.ipv4..x' is not allowed"
        );
    }
}
