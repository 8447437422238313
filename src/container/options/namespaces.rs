//! `--pid`, `--ipc`, `--uts` and `--cgroupns`: a namespace of the container's own, the host's,
//! or another container's (`container:NAME`), as Podman takes them.

use anyhow::{bail, Result};

/// One of the namespace flags, checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sharing {
    /// Not given: the container's own (Podman shows the IPC one as `shareable`).
    #[default]
    Default,
    Private,
    Host,
    /// `--ipc shareable`: its own, which others may join (any container's may, here).
    Shareable,
    /// `--ipc none`: its own, without /dev/shm.
    None,
    /// Another container's, by name or id.
    Container(String),
}

/// The four flags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamespaceRequests {
    pub pid: Sharing,
    pub ipc: Sharing,
    pub uts: Sharing,
    pub cgroup: Sharing,
}

impl NamespaceRequests {
    pub fn parse(
        pid: Option<&str>,
        ipc: Option<&str>,
        uts: Option<&str>,
        cgroupns: Option<&str>,
    ) -> Result<NamespaceRequests> {
        Ok(NamespaceRequests {
            pid: sharing("--pid", pid, &["host", "private"])?,
            ipc: sharing("--ipc", ipc, &["host", "private", "shareable", "none"])?,
            uts: sharing("--uts", uts, &["host", "private"])?,
            cgroup: sharing("--cgroupns", cgroupns, &["host", "private"])?,
        })
    }
}

fn sharing(flag: &str, value: Option<&str>, modes: &[&str]) -> Result<Sharing> {
    let Some(value) = value else {
        return Ok(Sharing::Default);
    };
    if let Some(name) = value.strip_prefix("container:") {
        if name.is_empty() {
            bail!("{flag} container: needs a container's name or ID");
        }
        return Ok(Sharing::Container(name.to_string()));
    }
    let mode = match value {
        "host" => Sharing::Host,
        "private" => Sharing::Private,
        "shareable" => Sharing::Shareable,
        "none" => Sharing::None,
        _ => Sharing::Default,
    };
    if mode == Sharing::Default || !modes.contains(&value) {
        bail!(
            "invalid {flag} {value:?}: skiff takes {} or container:NAME",
            modes.join(", ")
        );
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_as_podman_takes_them() {
        let all = NamespaceRequests::parse(
            Some("host"),
            Some("none"),
            Some("container:web"),
            Some("private"),
        )
        .unwrap();
        assert_eq!(all.pid, Sharing::Host);
        assert_eq!(all.ipc, Sharing::None);
        assert_eq!(all.uts, Sharing::Container("web".into()));
        assert_eq!(all.cgroup, Sharing::Private);
        assert_eq!(
            NamespaceRequests::parse(None, None, None, None).unwrap(),
            NamespaceRequests::default()
        );
        for (pid, ipc, uts, cgroupns) in [
            (Some("shareable"), None, None, None),
            (None, Some("bogus"), None, None),
            (None, None, Some("container:"), None),
            (None, None, None, Some("shareable")),
        ] {
            assert!(NamespaceRequests::parse(pid, ipc, uts, cgroupns).is_err());
        }
    }
}
