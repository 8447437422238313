//! The sandbox: the only home of `fork`/`clone`, `unsafe` and raw system calls in skiff.
//!
//! It knows nothing of images or registries. Callers hand it a fully resolved [`ContainerSpec`]
//! (layer directories, process, namespaces, id mapping, network) and it makes it run, or hands
//! it a closure to run inside a user namespace ([`userns::run_in_user_namespace`]), which is how
//! layer files get the right owners without root.
//!
//! Contract: nothing here spawns threads in the caller's process (the port relay, a process of
//! its own, is the one user of threads), and every entry point expects the calling process to be
//! single-threaded, because a child made by `clone`/`fork` keeps only the calling thread.
#![allow(unsafe_code)]

pub mod bridge;
mod child;
pub mod container;
pub mod detach;
mod forward;
pub mod fstree;
pub mod fuse_overlay;
pub mod fuse_server;
pub mod idshift;
pub mod in_root;
mod namespace_work;
pub mod network;
pub mod probe;
mod rootfs;
mod sealed_exec;
pub mod seccomp;
mod security;
pub mod seed;
pub mod spec;
mod stdio_relay;
pub mod storage;
pub mod tty;
pub mod userns;

pub use container::{
    exec_in_container, spawn_container, RunOutcome, SignalWatch, SpawnedContainer,
};
pub use namespace_work::{
    run_in_container_root, run_in_user_namespace, run_in_user_namespace_streaming, ContainerRoot,
};
pub use security::{check_user_ids, resolve_user_in, DEFAULT_CAPABILITIES};
pub use spec::*;

/// Errors a caller can act on. Exit codes follow Docker: 126 cannot execute, 127 not found,
/// 125 for everything that is skiff's own failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: executable file not found in $PATH")]
    CommandNotFound { path: String },
    #[error("{path}: permission denied: cannot execute")]
    NotExecutable { path: String },
    #[error("setting up the user namespace: {reason}")]
    IdMap { reason: String },
    #[error("{context}: {source}")]
    Sys {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("container setup failed: {0}")]
    Setup(String),
    /// The work run inside a user namespace failed; its own message.
    #[error("{0}")]
    Work(String),
    #[error("network setup failed: {0}")]
    Network(String),
    /// The caller's own bookkeeping between `spawn_container` and `SpawnedContainer::run` failed.
    #[error(transparent)]
    Prepare(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The exit code Docker gives for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::CommandNotFound { .. } => 127,
            Error::NotExecutable { .. } => 126,
            _ => 125,
        }
    }

    /// Whether the error comes from the host lacking a prerequisite `skiff system check` tests
    /// (the id-map helpers, user namespaces, an overlay mount, /dev/net/tun, pasta), so that
    /// the message can point there.
    pub fn is_host_prerequisite(&self) -> bool {
        use nix::errno::Errno;
        match self {
            Error::IdMap { .. } => true,
            // clone(2) refusing the namespaces: a sysctl, the namespace limit or AppArmor.
            Error::Sys { context, source } => {
                context == "clone"
                    && [Errno::EPERM, Errno::ENOSPC, Errno::EUSERS, Errno::EACCES]
                        .iter()
                        .any(|e| source.raw_os_error() == Some(*e as i32))
            }
            // The same failures, reported from a helper process as text.
            Error::Setup(message) | Error::Work(message) => {
                message.starts_with("mounting the overlay root filesystem")
                    || message.contains("setting up the user namespace: ")
            }
            Error::Network(message) => {
                message.contains("/dev/net/tun")
                    || message.contains("tun socket")
                    || message.starts_with("cannot run pasta")
                    || message.starts_with("cannot run slirp4netns")
                    || message.contains("is not installed")
                    || message.starts_with("neither pasta nor slirp4netns")
            }
            _ => false,
        }
    }

    pub(crate) fn sys(context: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Error::Sys {
            context: context.into(),
            source: std::io::Error::from(errno),
        }
    }
}
