//! `build`: Dockerfiles read into stages and steps (`dockerfile`), with Docker's word and
//! substitution rules (`words`).

pub mod dockerfile;
pub mod words;
