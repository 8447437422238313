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
//!
//! Its files form a ladder: each uses only files listed before it, so the toolbox at the bottom
//! knows nothing of containers.
//! 1. `error`; then `process` (clone, pipes, waiting, signals, namespaces opened and joined),
//!    `sealed_exec`, `fstree`, `in_root`, `detach`, `userns` and `userns_holder`;
//! 2. `channel` (the parent/child protocol); `seccomp`; `spec` (plain data);
//! 3. `pasta`, then `network` and `network_wait`; `security`, `tty`, `stdio_relay`,
//!    `fuse_server`; `idshift` and `fuse_overlay`; `storage`; `mount_plan`, then `rootfs`;
//! 4. `namespace_work` (skiff's own work run in a namespace);
//! 5. `bridge`, `forward`, `seed`, `probe`, `child` (the container's side until exec);
//! 6. `foreground` (supervising a started process); `exec` and `container` (starting one).
#![allow(unsafe_code)]

pub mod background;
pub mod bridge;
pub mod cgroups;
mod channel;
mod child;
pub mod container;
pub mod detach;
mod error;
mod exec;
mod foreground;
mod forward;
pub mod fstree;
pub mod fuse_overlay;
pub mod fuse_server;
pub mod idshift;
pub mod in_root;
pub mod mount_plan;
mod namespace_work;
pub mod network;
mod network_wait;
mod pasta;
pub mod probe;
mod process;
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
pub mod userns_holder;

pub use container::{spawn_container, SpawnedContainer};
pub use error::{Error, Helper};
pub use exec::exec_in_container;
pub use foreground::RunOutcome;
pub use namespace_work::{
    run_in_container_root, run_in_user_namespace, run_in_user_namespace_streaming, ContainerRoot,
};
pub use process::{send_signal, SignalWatch};
pub use security::{bounding_capabilities, check_user_ids, resolve_user_in, DEFAULT_CAPABILITIES};
pub use spec::*;
