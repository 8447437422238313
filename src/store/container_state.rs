//! A container's state as it stands now: its record in the store, checked against /proc. The
//! store owns container state, so every floor above (networks and volumes asking whether a
//! container still uses them, the container verbs, completion) reads it here.

use super::containers::{ContainerState, Status};
use super::{process_alive, Store};
use crate::runtime;

/// Whether a state recorded as running still is: its watcher (the supervisor, or the foreground
/// `run`) is alive. Reads nothing but /proc, so shell completion can ask it of every container.
pub fn still_running(state: &ContainerState) -> bool {
    state.status == Status::Running
        && state
            .supervisor_pid
            .or(state.pid)
            .is_some_and(|pid| process_alive(pid as u32))
}

impl Store {
    /// A container's state, with a container whose watcher died shown (and recorded) as exited:
    /// its process died with it (the runtime ties it to its parent), and its mounts with its
    /// namespace.
    pub fn current_container_state(&self, id: &str) -> ContainerState {
        let mut state = self.read_container_state(id);
        if state.status == Status::Running && !still_running(&state) {
            state.status = Status::Exited;
            state.pid = None;
            state.supervisor_pid = None;
            // Killed with SIGKILL when its watcher went away; its pasta, which does not notice
            // the namespace go, goes now.
            runtime::network::stop_pid_file(&self.container_run_dir(id).join("pasta.pid"));
            state.exit_code = Some(137);
            state.finished_at = Some(crate::clock::now_rfc3339());
            let _ = self.write_container_state(id, &state);
        }
        state
    }
}
