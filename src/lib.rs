//! skiff: a daemonless, rootless container tool with a Docker/Podman-compatible CLI.
//!
//! Layers, from the top: `cli` parses and prints; `image` and `container` are the operations;
//! `store`, `archive` and `runtime` do the work. Nothing calls upward.

// Functions stay at most 120 lines (clippy.toml's threshold). Not in the test build, whose
// test modules may be longer: each test is one scenario read top to bottom; the code they test
// is held to it by the normal build, which `cargo clippy --all-targets` checks too.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod archive;
pub mod build;
pub mod cli;
pub mod clock;
pub mod config;
pub mod container;
pub mod context;
pub mod digest;
pub mod events;
pub mod filter;
pub mod image;
pub mod network;
pub mod paths;
pub mod registry;
pub mod runtime;
pub mod size;
pub mod store;
pub mod system;
pub mod volume;
pub mod words;
