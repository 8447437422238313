//! `build`: Dockerfiles read into stages and steps (`dockerfile`), with Docker's word and
//! substitution rules (`crate::words`), run step by step into images.
//!
//! `engine` drives a build: what it was asked (`options`), the stages and their base images
//! (`base`), each step (`run_step`, `copy_step`, `config_steps`), the variables in scope
//! (`variables`), the cache of steps (`cache`) and the end of the build (`output`). COPY's
//! files are gathered from the build context (`copy`), every path resolved inside the context
//! (`context_files`), and RUN's mounts made (`run_mounts`).

mod base;
mod cache;
mod config_steps;
pub mod context_files;
mod copy;
mod copy_step;
pub mod dockerfile;
pub mod engine;
pub mod options;
mod output;
mod run_mounts;
mod run_step;
mod variables;
