//! `build`: Dockerfiles read into stages and steps (`dockerfile`), with Docker's word and
//! substitution rules (`words`), run step by step into images (`engine`), COPY's files
//! gathered from the build context (`copy`).

mod copy;
pub mod dockerfile;
pub mod engine;
pub mod words;
