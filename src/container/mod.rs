//! Container operations: turning an image and a command line into a stored container and a
//! runtime spec (Docker's rules for Entrypoint, Cmd, Env, WorkingDir and User), running it in the
//! foreground, and removing it. Each verb has a file of its own; this one names what the rest of
//! skiff uses.

pub mod attach;
pub mod build_lease;
mod capabilities;
pub mod cascade;
mod cgroup_plan;
pub mod changes;
pub mod commit;
pub mod copy;
mod create;
pub mod detached;
mod environment;
mod etc_users;
mod registration;
pub use etc_users::UserEntries;
mod inspect;
mod isolation;
pub mod lifecycle;
mod list;
mod names;
mod network_plan;
mod options;
mod remove;
mod sizes;
mod start;
mod state;
mod sysctls;
mod systemd;
pub mod top;
mod ulimits;
pub mod userns;

/// The annotation that keeps a container's `--security-opt label=…` values, as Podman's.
pub const LABEL_ANNOTATION: &str = "io.podman.annotations.label";

pub use crate::store::containers::{ContainerRecord, ContainerState, Status};
pub use create::create;
use environment::expand_env_entry;
pub use environment::{compose_command, key_value_lines, merge_env, parse_env_file};
pub use inspect::inspect;
pub use list::{list, list_sizes, port_lines, ListOptions};
pub use names::rename;
pub use options::{
    create_options, seccomp_policy, security_opt_seccomp, Confinement, CreateOptions,
    HostNameFlags, RunFlags,
};
use registration::store_container;
pub use remove::{prune, remove, remove_after_run, remove_listed, remove_locked, RmOptions};
pub use sizes::{tree_sizes, writable_layer_sizes};
pub(crate) use start::{record_ended, record_started, runtime_spec};
pub use start::{run, run_attached, run_detached, start, start_attached_as_asked, start_detached};
pub use state::{current_state, still_running};

pub(crate) use crate::digest::random_bytes;
