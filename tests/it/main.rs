//! skiff's integration tests: one binary, real processes. Each test gets its own HOME, XDG
//! directories and store, and runs the built `skiff` as the unprivileged test user (when the test
//! process is root, through runuser) — and, where it says so, as root too.

mod archive_safety;
mod common;
mod image;
mod run;
mod store;
