//! Operations on the store and the host as a whole, behind `skiff system`: the doctor
//! (`check`), what skiff sees of the host and the store (`info`), disk use (`df`), unused data
//! removed (`prune`), the store emptied (`reset`) and re-owned after the user's subordinate ids
//! changed (`migrate`). They decide and gather; the CLI prints. `failure` turns any command's
//! error into its exit code and hint.

pub mod check;
pub mod df;
pub mod failure;
pub mod info;
pub mod migrate;
pub mod prune;
pub mod reset;
