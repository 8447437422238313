//! `--privileged` and `--security-opt`, as Podman reads them: `seccomp=`, `no-new-privileges`,
//! `mask=`, `unmask=`, `systempaths=unconfined`, `proc-opts=`, and the `label=` and
//! `apparmor=` options of hosts that have SELinux or AppArmor. The old `key:value` spelling is
//! taken too.

use anyhow::{bail, Context as _, Result};

use crate::config::containers::ContainersTable;
use crate::runtime::mount_plan::{MASKED_PATHS, READONLY_PATHS};
use crate::runtime::seccomp::SeccompPolicy;

/// How a container is confined, from `--privileged`, `--security-opt` and containers.conf.
#[derive(Debug, Clone, PartialEq)]
pub struct Confinement {
    pub privileged: bool,
    pub seccomp: SeccompPolicy,
    pub no_new_privileges: bool,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    pub proc_options: Vec<String>,
    /// `--seccomp-policy image`, with no `seccomp=` option given: an image that carries a
    /// profile (its label `io.containers.seccomp.profile`) gets that one.
    pub seccomp_from_image: bool,
    /// `label=…`: kept as Podman's annotation, which inspect shows; without SELinux on the
    /// host, as with Podman there, it changes nothing.
    pub labels: Vec<String>,
}

impl Default for Confinement {
    /// Podman's: the default filter and capabilities, its masked and read-only paths.
    fn default() -> Self {
        Confinement {
            privileged: false,
            seccomp: SeccompPolicy::default(),
            no_new_privileges: false,
            seccomp_from_image: false,
            masked_paths: MASKED_PATHS.iter().map(|p| p.to_string()).collect(),
            readonly_paths: READONLY_PATHS.iter().map(|p| p.to_string()).collect(),
            proc_options: Vec::new(),
            labels: Vec::new(),
        }
    }
}

/// `options` (each `--security-opt`, in order: a later one wins) over containers.conf's
/// `seccomp_profile`, for a container that is `privileged` or not.
pub fn confinement(
    options: &[String],
    privileged: bool,
    defaults: &ContainersTable,
) -> Result<Confinement> {
    confinement_with_policy(options, privileged, "default", defaults)
}

/// `confinement`, with `--seccomp-policy` (default or image).
pub fn confinement_with_policy(
    options: &[String],
    privileged: bool,
    seccomp_policy: &str,
    defaults: &ContainersTable,
) -> Result<Confinement> {
    let from_image = match seccomp_policy {
        "default" => false,
        "image" => true,
        other => bail!("invalid --seccomp-policy {other:?}: default or image"),
    };
    let mut seccomp = None;
    let mut no_new_privileges = false;
    let podmans = Confinement::default();
    let (mut masked, mut readonly) = match privileged {
        true => (Vec::new(), Vec::new()),
        false => (podmans.masked_paths, podmans.readonly_paths),
    };
    let mut proc_options = Vec::new();
    let mut labels = Vec::new();
    for option in options {
        let (key, value) = split(option);
        match (key, value) {
            ("seccomp", Some(value)) => seccomp = Some(value),
            ("no-new-privileges", None | Some("true")) => no_new_privileges = true,
            ("no-new-privileges", Some("false")) => no_new_privileges = false,
            ("mask", Some(paths)) => {
                for path in absolute_paths(option, paths)? {
                    if !masked.contains(&path) {
                        masked.push(path);
                    }
                }
            }
            ("unmask", Some("ALL")) | ("systempaths", Some("unconfined")) => {
                masked.clear();
                readonly.clear();
            }
            ("unmask", Some(paths)) => {
                let patterns = absolute_paths(option, paths)?;
                let kept = |path: &String| {
                    !patterns
                        .iter()
                        .any(|pattern| crate::filter::wildcard_match(pattern, path))
                };
                masked.retain(kept);
                readonly.retain(kept);
            }
            ("proc-opts", Some(list)) => {
                proc_options = list
                    .split(',')
                    .filter(|o| !o.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            ("label", Some(value)) if !value.is_empty() => {
                check_label(value)?;
                labels.push(value.to_string())
            }
            ("apparmor", Some(profile)) => check_apparmor(profile)?,
            _ => bail!(
                "invalid --security-opt {option:?}: skiff knows seccomp=unconfined|PROFILE, no-new-privileges[=true|false], mask=PATHS, unmask=ALL|PATHS, systempaths=unconfined, proc-opts=OPTIONS, label=… and apparmor=…"
            ),
        }
    }
    let seccomp_given = seccomp;
    let seccomp = match (seccomp, defaults.seccomp_profile.as_deref()) {
        (Some(value), _) => super::seccomp_policy(value)?,
        // As in Podman's containers.conf, an empty path means the built-in profile.
        (None, None | Some("")) => SeccompPolicy::default(),
        (None, Some(value)) => {
            super::seccomp_policy(value).context("containers.conf seccomp_profile")?
        }
    };
    let seccomp_from_image = from_image && seccomp_given.is_none() && !privileged;
    Ok(Confinement {
        seccomp_from_image,
        privileged,
        // A profile given with --privileged is read (and refused if bad), then not applied.
        seccomp: if privileged {
            SeccompPolicy::Unconfined
        } else {
            seccomp
        },
        no_new_privileges,
        masked_paths: masked,
        readonly_paths: readonly,
        proc_options,
        labels,
    })
}

/// `key=value`, or the deprecated `key:value`; a key alone (`no-new-privileges`) has no value.
fn split(option: &str) -> (&str, Option<&str>) {
    match option.split_once('=') {
        Some((key, value)) => (key, Some(value)),
        None => match option.split_once(':') {
            Some((key, value)) => (key, Some(value)),
            None => (option, None),
        },
    }
}

fn absolute_paths(option: &str, paths: &str) -> Result<Vec<String>> {
    paths
        .split(':')
        .map(|path| match path.starts_with('/') {
            true => Ok(path.to_string()),
            false => Err(anyhow::anyhow!(
                "invalid --security-opt {option:?}: {path:?} is not an absolute path"
            )),
        })
        .collect()
}

/// Without SELinux on the host, a label changes nothing, as with Podman there; with it, skiff
/// still applies none, so a label other than `disable` (which asks for none) is refused rather
/// than ignored.
fn check_label(value: &str) -> Result<()> {
    let enabled = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    if enabled && value != "disable" {
        bail!(
            "label={value}: skiff does not apply SELinux labels; use label=disable or leave it out"
        );
    }
    Ok(())
}

/// Without AppArmor on the host, only `unconfined` (what the container gets anyway) is taken,
/// as by Podman; with it, skiff still applies no profile, so none but `unconfined` is taken.
fn check_apparmor(profile: &str) -> Result<()> {
    if profile == "unconfined" {
        return Ok(());
    }
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|v| v.trim() == "Y");
    match enabled {
        false => bail!(
            "apparmor profile {profile:?} specified, but AppArmor is not enabled on this system"
        ),
        true => bail!(
            "apparmor profile {profile:?}: skiff does not apply AppArmor profiles; use apparmor=unconfined or leave it out"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confine(options: &[&str], privileged: bool) -> Result<Confinement> {
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        confinement(&options, privileged, &ContainersTable::default())
    }

    #[test]
    fn defaults_are_podmans() {
        let default = confine(&[], false).unwrap();
        assert_eq!(default.masked_paths.len(), MASKED_PATHS.len());
        assert!(default.readonly_paths.contains(&"/proc/sys".to_string()));
        assert!(!default.no_new_privileges);
        assert_eq!(default, Confinement::default());
    }

    #[test]
    fn privileged_drops_the_filter_and_the_system_paths() {
        let privileged = confine(&["mask=/etc/shadow"], true).unwrap();
        assert_eq!(privileged.seccomp, SeccompPolicy::Unconfined);
        assert_eq!(privileged.masked_paths, ["/etc/shadow"]);
        assert!(privileged.readonly_paths.is_empty());
        assert!(confine(&["seccomp=/no/such/profile.json"], true).is_err());
    }

    #[test]
    fn masks_unmasks_and_system_paths() {
        let masked = confine(&["mask=/proc/cpuinfo:/etc/hostname"], false).unwrap();
        assert!(masked
            .masked_paths
            .ends_with(&["/proc/cpuinfo".to_string(), "/etc/hostname".to_string()]));
        let one = confine(&["unmask=/proc/timer_list"], false).unwrap();
        assert!(!one.masked_paths.contains(&"/proc/timer_list".to_string()));
        assert!(one.readonly_paths.contains(&"/proc/sys".to_string()));
        let pattern = confine(&["unmask=/proc/*"], false).unwrap();
        assert!(pattern.masked_paths.iter().all(|p| p.starts_with("/sys")));
        assert!(pattern.readonly_paths.is_empty());
        for all in ["unmask=ALL", "systempaths=unconfined"] {
            let none = confine(&[all], false).unwrap();
            assert!(none.masked_paths.is_empty() && none.readonly_paths.is_empty());
        }
        assert!(confine(&["mask=proc/cpuinfo"], false).is_err());
    }

    #[test]
    fn no_new_privileges_seccomp_labels_and_the_old_spelling() {
        let set = confine(
            &[
                "no-new-privileges",
                "label=disable",
                "seccomp:unconfined",
                "proc-opts=hidepid=2,subset=pid",
            ],
            false,
        )
        .unwrap();
        assert!(set.no_new_privileges);
        assert_eq!(set.labels, ["disable"]);
        assert_eq!(set.seccomp, SeccompPolicy::Unconfined);
        assert_eq!(set.proc_options, ["hidepid=2", "subset=pid"]);
        let unset = confine(
            &["no-new-privileges=true", "no-new-privileges=false"],
            false,
        );
        assert!(!unset.unwrap().no_new_privileges);
        assert!(confine(&["no-new-privileges=maybe"], false).is_err());
        assert!(confine(&["bogus=1"], false)
            .unwrap_err()
            .to_string()
            .contains("invalid --security-opt \"bogus=1\""));
        assert!(confine(&["apparmor=unconfined"], false).is_ok());
    }
}
