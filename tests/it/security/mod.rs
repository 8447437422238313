//! The ways out of a container that a security review found (issue 18), each reproduced by a
//! probe and shown closed: a test here must fail on a skiff that has the hole again.

mod build_context;
mod confinement;
mod descriptors;
mod host_binary;
mod ids;
mod new_modes;
mod seccomp;
mod setup_errors;
mod small;
mod store_modes;
mod terminal;
