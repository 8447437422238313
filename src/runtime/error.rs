//! The runtime's errors: typed by their cause, so that a caller acts on the type, never on the
//! message. The type decides skiff's exit code (Docker's: 126 cannot execute, 127 not found,
//! 125 skiff's own failure) and whether the failure comes from what the host lacks, which
//! `skiff system check` explains. It uses nothing else of the runtime: every other file of it
//! may use this one.

use std::io;

/// A program skiff runs on the host for what it cannot do itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    /// Writes a user namespace's uid map from the user's subordinate ids (setuid root).
    Newuidmap,
    /// The same for the gid map.
    Newgidmap,
    /// Gives a private network namespace its way out.
    Pasta,
    /// The same, where pasta is missing.
    Slirp4netns,
    /// iproute2's `ip`, which wires bridge networks.
    Ip,
    /// nftables' `nft`, which gives a bridge network its masquerade.
    Nft,
}

impl Helper {
    /// Its name in $PATH.
    pub fn program(self) -> &'static str {
        match self {
            Helper::Newuidmap => "newuidmap",
            Helper::Newgidmap => "newgidmap",
            Helper::Pasta => "pasta",
            Helper::Slirp4netns => "slirp4netns",
            Helper::Ip => "ip",
            Helper::Nft => "nft",
        }
    }
}

/// Errors a caller can act on. Exit codes follow Docker: 126 cannot execute, 127 not found,
/// 125 for everything that is skiff's own failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: executable file not found in $PATH")]
    CommandNotFound { path: String },
    #[error("{path}: permission denied: cannot execute")]
    NotExecutable { path: String },
    /// The user or group to run as is not in the container's files (126, as Podman's).
    #[error("{reason}")]
    UnknownUser { reason: String },
    /// A helper program is not in $PATH (`error` None), or could not be started.
    #[error("{}", missing_helper(*helper, error.as_ref()))]
    MissingHelper {
        helper: Helper,
        error: Option<io::Error>,
    },
    /// A private network needs pasta or slirp4netns, and neither is installed.
    #[error("network setup failed: neither pasta nor slirp4netns is installed: install the passt package (or slirp4netns), or use --network none or --network host")]
    NoNetworkHelper,
    /// newuidmap or newgidmap ran and refused the maps (not setuid, no subordinate ids…).
    #[error("setting up the user namespace: {} failed: {reason}; it must be setuid root or carry cap_setuid/cap_setgid", helper.program())]
    IdMapRefused { helper: Helper, reason: String },
    /// The id maps could not be written (`step` says which file, or which helper was lost).
    #[error("setting up the user namespace: {step}: {error}")]
    IdMapFailed { step: String, error: io::Error },
    /// clone(2) refused the new namespaces: a sysctl, the namespace limit or AppArmor.
    #[error("clone: {error}")]
    NamespacesRefused { error: io::Error },
    /// The kernel refused the overlay mount of the container's files.
    #[error("container setup failed: {reason}")]
    OverlayRefused { reason: String },
    /// The kernel refused the trampoline an executable memory file (sysctl vm.memfd_noexec).
    #[error("container setup failed: {reason}")]
    ExecMemoryRefused { reason: String },
    /// pasta could not open /dev/net/tun to make the container's interface.
    #[error("network setup failed: pasta failed: {reason}")]
    TunUnavailable { reason: String },
    /// pasta failed for another reason: its own words.
    #[error("network setup failed: pasta failed: {reason}")]
    PastaFailed { reason: String },
    /// A published host port could not be bound (in use, or below the unprivileged port start).
    #[error("publishing {address}: {error}")]
    PortUnavailable { address: String, error: io::Error },
    #[error("{context}: {source}")]
    Sys {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Any other failure while the container's process was set up; its message.
    #[error("container setup failed: {0}")]
    Setup(String),
    /// The work run inside a user namespace failed; its own message.
    #[error("{0}")]
    Work(String),
    /// Any other failure of the container's network; its message.
    #[error("network setup failed: {0}")]
    Network(String),
    /// A step of the caller's own while it starts a container (a volume's copy-up) failed; the
    /// cause is kept whole, so that what it says about the host still counts.
    #[error("container setup failed: {cause:#}")]
    SetupStep { cause: anyhow::Error },
    /// The same for the caller's network steps (a bridge network's wiring).
    #[error("network setup failed: {cause:#}")]
    NetworkStep { cause: anyhow::Error },
    /// The caller's own bookkeeping between `spawn_container` and `SpawnedContainer::run` failed.
    #[error(transparent)]
    Prepare(Box<dyn std::error::Error + Send + Sync>),
}

/// What [`Error::MissingHelper`] says: which package to install, or how to do without.
fn missing_helper(helper: Helper, error: Option<&io::Error>) -> String {
    let program = helper.program();
    match (helper, error) {
        (Helper::Newuidmap | Helper::Newgidmap, Some(error)) => format!(
            "setting up the user namespace: cannot run {program}: {error}; install the uidmap package (it provides newuidmap and newgidmap)"
        ),
        (Helper::Newuidmap | Helper::Newgidmap, None) => format!(
            "setting up the user namespace: {program} is not installed: install the uidmap package (it provides newuidmap and newgidmap)"
        ),
        (_, Some(error)) => format!("network setup failed: cannot run {program}: {error}"),
        (Helper::Pasta, None) => "network setup failed: pasta is not installed: install the passt package, or use --network slirp4netns".into(),
        (Helper::Slirp4netns, None) => "network setup failed: slirp4netns is not installed: install the slirp4netns package, or use --network pasta".into(),
        (Helper::Ip, None) => bridge_tool_missing(program, "iproute2"),
        (Helper::Nft, None) => bridge_tool_missing(program, "nftables"),
    }
}

fn bridge_tool_missing(program: &str, package: &str) -> String {
    format!("network setup failed: {program} is not installed: skiff's bridge networks need it (Debian package {package})")
}

impl Error {
    /// The exit code Docker gives for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::CommandNotFound { .. } => 127,
            Error::NotExecutable { .. } | Error::UnknownUser { .. } => 126,
            _ => 125,
        }
    }

    /// Whether the error comes from the host lacking a prerequisite `skiff system check` tests
    /// (the id-map helpers, user namespaces, an overlay mount, /dev/net/tun, pasta), so that
    /// the message can point there.
    pub fn is_host_prerequisite(&self) -> bool {
        match self {
            Error::MissingHelper { .. }
            | Error::NoNetworkHelper
            | Error::IdMapRefused { .. }
            | Error::IdMapFailed { .. }
            | Error::NamespacesRefused { .. }
            | Error::OverlayRefused { .. }
            | Error::ExecMemoryRefused { .. }
            | Error::TunUnavailable { .. } => true,
            Error::SetupStep { cause } | Error::NetworkStep { cause } => cause
                .chain()
                .filter_map(|cause| cause.downcast_ref::<Error>())
                .any(Error::is_host_prerequisite),
            Error::CommandNotFound { .. }
            | Error::NotExecutable { .. }
            | Error::UnknownUser { .. }
            | Error::PastaFailed { .. }
            | Error::PortUnavailable { .. }
            | Error::Sys { .. }
            | Error::Setup(_)
            | Error::Work(_)
            | Error::Network(_)
            | Error::Prepare(_) => false,
        }
    }

    pub(crate) fn sys(context: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Error::Sys {
            context: context.into(),
            source: io::Error::from(errno),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_install() {
        let missing = |helper, error| Error::MissingHelper { helper, error }.to_string();
        let not_found = || Some(io::Error::from(io::ErrorKind::NotFound));
        assert!(missing(Helper::Newuidmap, not_found()).starts_with(
            "setting up the user namespace: cannot run newuidmap: entity not found; install the uidmap package"
        ));
        assert_eq!(
            missing(Helper::Pasta, None),
            "network setup failed: pasta is not installed: install the passt package, or use --network slirp4netns"
        );
        assert_eq!(
            missing(Helper::Ip, None),
            "network setup failed: ip is not installed: skiff's bridge networks need it (Debian package iproute2)"
        );
        assert_eq!(
            missing(Helper::Slirp4netns, not_found()),
            "network setup failed: cannot run slirp4netns: entity not found"
        );
    }

    #[test]
    fn the_type_decides_the_hint_and_the_exit_code() {
        let tun = Error::TunUnavailable {
            reason: "Failed to open() /dev/net/tun".into(),
        };
        assert!(tun.is_host_prerequisite());
        assert_eq!(tun.exit_code(), 125);
        let pasta = Error::PastaFailed {
            reason: "/dev/net/tun mentioned in the wrong variant".into(),
        };
        assert!(!pasta.is_host_prerequisite());
        let not_found = Error::CommandNotFound { path: "x".into() };
        assert!(!not_found.is_host_prerequisite());
        assert_eq!(not_found.exit_code(), 127);
        assert_eq!(Error::NotExecutable { path: "x".into() }.exit_code(), 126);
    }

    #[test]
    fn an_operation_step_keeps_its_cause() {
        let refused = Error::IdMapRefused {
            helper: Helper::Newuidmap,
            reason: "write to uid_map failed".into(),
        };
        let cause = anyhow::Error::new(refused).context("copying the image's files up");
        let step = Error::SetupStep { cause };
        assert!(step.is_host_prerequisite());
        assert!(step.to_string().starts_with(
            "container setup failed: copying the image's files up: setting up the user namespace: newuidmap failed"
        ));
        let plain = Error::SetupStep {
            cause: anyhow::anyhow!("volume v of container c no longer exists"),
        };
        assert!(!plain.is_host_prerequisite());
    }
}
