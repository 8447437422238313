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
            // Read again now that the watcher is gone: it records the exit just before it goes,
            // and that record may have come between the first read and the check (`wait` then
            // wrote 137 over a supervisor's exit code 5, once in a loaded test run).
            state = self.read_container_state(id);
        }
        if state.status == Status::Running && !still_running(&state) {
            state.status = Status::Exited;
            state.pid = None;
            state.supervisor_pid = None;
            // Killed with SIGKILL when its watcher went away; its pasta, which does not notice
            // the namespace go, goes now.
            runtime::network::stop_pasta_in(&self.container_run_dir(id));
            state.exit_code = Some(137);
            state.finished_at = Some(crate::clock::now_rfc3339());
            let _ = self.write_container_state(id, &state);
        }
        state
    }

    /// Asks a container's supervisor not to restart it when its process exits (`stop`, `rm -f`).
    /// A file of its own, made in one step, and not a field of the state, which the supervisor
    /// rewrites at each restart: a request written over that state could be lost, or could put
    /// back the pid of the run before.
    pub fn request_stop(&self, id: &str) -> Result<(), super::Error> {
        let path = self.container_dir(id).join(STOP_REQUESTED);
        std::fs::write(&path, b"").map_err(super::io_error(format!("writing {}", path.display())))
    }

    /// Whether `stop` asked for the container's exit since its supervisor started.
    pub fn stop_requested(&self, id: &str) -> bool {
        self.container_dir(id).join(STOP_REQUESTED).exists()
    }

    /// Forgets a stop request: the container is being started again.
    pub fn clear_stop_request(&self, id: &str) {
        let _ = std::fs::remove_file(self.container_dir(id).join(STOP_REQUESTED));
    }
}

/// The marker `request_stop` leaves in the container's directory.
const STOP_REQUESTED: &str = "stop-requested";
