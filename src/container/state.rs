//! A container's state as it stands now (the store owns it: `store/container_state.rs`).

use crate::context::Context;
pub use crate::store::container_state::still_running;
use crate::store::containers::ContainerState;

/// A container's state, with a container whose watcher died shown (and recorded) as exited.
pub fn current_state(ctx: &Context, id: &str) -> ContainerState {
    ctx.store.current_container_state(id)
}
