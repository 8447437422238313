//! skiff's integration tests: one binary, real processes. Each test gets its own HOME, XDG
//! directories and store, and runs the built `skiff` as the unprivileged test user (when the test
//! process is root, through runuser) — and, where it says so, as root too.
//!
//! A test begins with `let test = skiff_test!();`, which names its environments after the
//! function (`test.each_env()`, `test.rootless()`, `test.root()`); whatever a test cannot do on
//! this host goes through `test.skip(reason)`, which scripts/test.sh counts and which fails the
//! test as root or with `SKIFF_TEST_REQUIRE=1` (see common/test_case.rs).
#![allow(clippy::unwrap_used)]

mod archive_safety;
mod build;
mod build_config;
mod capabilities;
mod commit;
mod common;
mod completion;
mod config;
mod container_prune;
mod copy;
mod docs;
mod events;
mod format_podman;
mod harness;
mod image;
mod info_df_podman;
mod lifecycle;
mod namespaces;
mod network;
mod packaging;
mod pull;
mod resources;
mod run;
mod run_addresses;
mod run_flag_list;
mod run_flags;
mod run_rootfs;
mod run_streams;
mod run_subids;
mod security;
mod storage;
mod store;
mod system;
mod system_check;
mod system_reset;
mod systemd;
mod ulimits;
mod userns_holder;
mod volumes;
