//! skiff: a daemonless, rootless container tool with a Docker/Podman-compatible CLI.
//!
//! Layers, from the top: `cli` parses and prints; `image` and `container` are the operations;
//! `store`, `archive` and `runtime` do the work. Nothing calls upward.

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
