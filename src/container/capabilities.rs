//! A container's capabilities: `--cap-add` and `--cap-drop` over containers.conf
//! `default_capabilities` (else Podman's default set), merged by Podman's rules, and how
//! inspect shows the result.

use anyhow::{bail, Result};

use crate::runtime::{self, DEFAULT_CAPABILITIES};

/// `ALL` in `--cap-add` or `--cap-drop`.
const ALL: &str = "ALL";

/// Docker's default set, against which inspect's `HostConfig.CapAdd` and `CapDrop` are
/// reckoned (as Podman does): Podman's default plus these three.
const DOCKER_EXTRA_DEFAULTS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"];

/// The capabilities a container's process gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitySet {
    /// Its bounding set (`CAP_…` names, sorted); None for the default set.
    pub bounding: Option<Vec<String>>,
    /// What `--cap-add` gave (`ALL` spelled out), which a process that does not run as root
    /// keeps in its effective and ambient sets.
    pub added: Vec<String>,
}

impl CapabilitySet {
    /// Merges `add` and `drop` (repeatable, comma-separated already split; any case, with or
    /// without `CAP_`, or `ALL`) into `base` (containers.conf's set, else the default):
    /// - `--cap-drop ALL` keeps only what is added;
    /// - `--cap-add ALL` starts from every capability skiff has, less what is dropped;
    /// - a capability both added and dropped is an error, as is ALL for both.
    pub fn merge(base: Option<&[String]>, add: &[String], drop: &[String]) -> Result<Self> {
        let add = names_or_all(add)?;
        let drop = names_or_all(drop)?;
        let every = || runtime::bounding_capabilities();
        let added = if add.iter().any(|c| c == ALL) {
            every()
        } else {
            add.clone()
        };
        if add.is_empty() && drop.is_empty() {
            return Ok(CapabilitySet {
                bounding: base.map(<[String]>::to_vec),
                added,
            });
        }
        let dropping_all = drop.iter().any(|c| c == ALL);
        let adding_all = add.iter().any(|c| c == ALL);
        if dropping_all && adding_all {
            bail!("adding all caps and removing all caps not allowed");
        }
        if let Some(both) = add.iter().find(|c| drop.contains(c)) {
            bail!("capability {both:?} cannot be dropped and added");
        }
        let mut bounding = if dropping_all {
            added.clone()
        } else {
            let base = match (adding_all, base) {
                (true, _) => every(),
                (false, Some(base)) => base.to_vec(),
                (false, None) => default_names(),
            };
            base.into_iter()
                .chain(added.iter().cloned())
                .filter(|c| !drop.contains(c))
                .collect()
        };
        bounding.sort();
        bounding.dedup();
        Ok(CapabilitySet {
            bounding: Some(bounding),
            added,
        })
    }
}

/// Capability names as a user or containers.conf writes them (`CHOWN` or `CAP_CHOWN`, any
/// case), checked and spelled `CAP_CHOWN`; the error is Podman's.
pub fn capability_names(names: &[String]) -> Result<Vec<String>> {
    names.iter().map(|name| capability_name(name)).collect()
}

fn capability_name(name: &str) -> Result<String> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<caps::Capability>()
        .map(|cap| cap.to_string())
        .map_err(|_| anyhow::anyhow!("{full:?}: unknown capability"))
}

fn names_or_all(names: &[String]) -> Result<Vec<String>> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|name| match name.trim().to_ascii_uppercase().as_str() {
            ALL => Ok(ALL.to_string()),
            _ => capability_name(name),
        })
        .collect()
}

fn default_names() -> Vec<String> {
    DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect()
}

/// inspect's EffectiveCaps, BoundingCaps, and HostConfig's CapAdd and CapDrop, for a process
/// running as `user` with `bounding` (None: the default set) and `added`.
pub struct InspectedCapabilities {
    pub effective: Vec<String>,
    pub bounding: Vec<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
}

/// A `--privileged` container's: every capability, none added or dropped (as Podman shows it).
pub fn inspected_privileged() -> InspectedCapabilities {
    let all = crate::runtime::bounding_capabilities();
    InspectedCapabilities {
        effective: all.clone(),
        bounding: all,
        cap_add: Vec::new(),
        cap_drop: Vec::new(),
    }
}

pub fn inspected(
    bounding: Option<&[String]>,
    added: &[String],
    user: &str,
) -> InspectedCapabilities {
    let mut bounding = bounding
        .map(<[String]>::to_vec)
        .unwrap_or_else(default_names);
    bounding.sort();
    let runs_as_root = matches!(user.split(':').next().unwrap_or(""), "" | "root" | "0");
    let mut effective = if runs_as_root {
        bounding.clone()
    } else {
        added.to_vec()
    };
    effective.sort();
    let docker: Vec<String> = default_names()
        .into_iter()
        .chain(DOCKER_EXTRA_DEFAULTS.iter().map(|c| c.to_string()))
        .collect();
    let mut cap_add: Vec<String> = bounding
        .iter()
        .filter(|c| !docker.contains(c))
        .cloned()
        .collect();
    let mut cap_drop: Vec<String> = docker
        .into_iter()
        .filter(|c| !bounding.contains(c))
        .collect();
    cap_add.sort();
    cap_drop.sort();
    InspectedCapabilities {
        effective,
        bounding,
        cap_add,
        cap_drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn merged(add: &[&str], drop: &[&str]) -> Result<Vec<String>> {
        CapabilitySet::merge(None, &strings(add), &strings(drop)).map(|set| set.bounding.unwrap())
    }

    #[test]
    fn adds_and_drops_merge_over_the_default_set_as_podmans_do() {
        let set = merged(&["net_admin", "CAP_SYS_TIME"], &["chown"]).unwrap();
        assert!(set.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(set.contains(&"CAP_SYS_TIME".to_string()));
        assert!(!set.contains(&"CAP_CHOWN".to_string()));
        assert_eq!(set.len(), DEFAULT_CAPABILITIES.len() + 1);
        assert_eq!(
            merged(&["chown"], &["all"]).unwrap(),
            strings(&["CAP_CHOWN"])
        );
        assert_eq!(merged(&[], &["ALL"]).unwrap(), Vec::<String>::new());
        assert!(merged(&["ALL"], &["kill"]).unwrap().len() > DEFAULT_CAPABILITIES.len());
        let unchanged = CapabilitySet::merge(None, &[], &[]).unwrap();
        assert_eq!(unchanged.bounding, None);
    }

    #[test]
    fn conflicts_and_unknown_names_fail_with_podmans_words() {
        let error = |add: &[&str], drop: &[&str]| merged(add, drop).unwrap_err().to_string();
        assert_eq!(error(&["foo"], &[]), "\"CAP_FOO\": unknown capability");
        assert_eq!(
            error(&["chown"], &["CAP_CHOWN"]),
            "capability \"CAP_CHOWN\" cannot be dropped and added"
        );
        assert_eq!(
            error(&["all"], &["ALL"]),
            "adding all caps and removing all caps not allowed"
        );
    }

    #[test]
    fn inspect_reckons_additions_and_drops_against_dockers_default_set() {
        let bounding = merged(&["net_admin"], &["chown"]).unwrap();
        let shown = inspected(Some(&bounding), &strings(&["CAP_NET_ADMIN"]), "");
        assert_eq!(shown.cap_add, strings(&["CAP_NET_ADMIN"]));
        assert_eq!(
            shown.cap_drop,
            strings(&["CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_MKNOD", "CAP_NET_RAW"])
        );
        assert_eq!(shown.effective, shown.bounding);
        let non_root = inspected(None, &strings(&["CAP_NET_RAW"]), "1000");
        assert_eq!(non_root.effective, strings(&["CAP_NET_RAW"]));
    }
}
