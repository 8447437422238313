//! A container's state as it stands now: read from the store and checked against /proc.

use crate::context::Context;
use crate::runtime::{self};
use crate::store::containers::{ContainerState, Status};
use crate::store::{self};

/// Whether a state recorded as running still is: its watcher (the supervisor, or the foreground
/// `run`) is alive. Reads nothing but /proc, so shell completion can ask it of every container.
pub fn still_running(state: &ContainerState) -> bool {
    state.status == Status::Running
        && state
            .supervisor_pid
            .or(state.pid)
            .is_some_and(|pid| store::process_alive(pid as u32))
}

/// A container's state, with a container whose watcher died shown (and recorded) as exited: its
/// process died with it (the runtime ties it to its parent), and its mounts with its namespace.
pub fn current_state(ctx: &Context, id: &str) -> ContainerState {
    let mut state = ctx.store.read_container_state(id);
    if state.status == Status::Running && !still_running(&state) {
        state.status = Status::Exited;
        state.pid = None;
        state.supervisor_pid = None;
        // Killed with SIGKILL when its watcher went away; its pasta, which does not notice
        // the namespace go, goes now.
        runtime::network::stop_pid_file(&ctx.store.container_run_dir(id).join("pasta.pid"));
        state.exit_code = Some(137);
        state.finished_at = Some(jiff::Timestamp::now().to_string());
        let _ = ctx.store.write_container_state(id, &state);
    }
    state
}
