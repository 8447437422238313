//! `build`: Dockerfiles read into stages and steps (`dockerfile`), with Docker's word and
//! substitution rules (`words`) and here-documents (`heredoc`), run step by step into images
//! (`engine`), COPY's files gathered from the build context (`copy`), every path resolved
//! inside the context (`context_files`), RUN's mounts made (`run_mounts`).

pub mod context_files;
mod copy;
pub mod dockerfile;
pub mod engine;
mod heredoc;
mod run_mounts;
pub mod words;
