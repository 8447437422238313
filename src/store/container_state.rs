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
            let watcher = state.supervisor_pid.or(state.pid);
            state.status = Status::Exited;
            state.pid = None;
            state.supervisor_pid = None;
            // Killed with SIGKILL when its watcher went away; its pasta, which does not notice
            // the namespace go, goes now.
            runtime::network::stop_pasta_in(&self.container_run_dir(id));
            state.exit_code = Some(137);
            state.finished_at = Some(crate::clock::now_rfc3339());
            state.error = Some(format!(
                "its watcher (skiff, pid {}) ended without recording how the container ended",
                watcher.unwrap_or(0)
            ));
            let _ = self.write_container_state(id, &state);
        }
        state
    }

    /// A supervisor that fails while its container runs (`error`) records the container as
    /// exited, with the failure as its State.Error, unless the state is not its own to change.
    pub fn record_supervisor_failure(&self, id: &str, error: &str) {
        let mut state = self.read_container_state(id);
        if state.status != Status::Running
            || state.supervisor_pid != Some(std::process::id() as i32)
        {
            return;
        }
        state.status = Status::Exited;
        state.pid = None;
        state.supervisor_pid = None;
        state.finished_at = Some(crate::clock::now_rfc3339());
        state.error = Some(error.to_string());
        let _ = self.write_container_state(id, &state);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::containers::ContainerState;

    #[test]
    fn a_failing_supervisor_records_its_own_container_as_exited_with_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
        let id = "c".repeat(64);
        std::fs::create_dir_all(store.container_dir(&id)).unwrap();
        let running = |supervisor: i32| ContainerState {
            status: Status::Running,
            pid: Some(1),
            supervisor_pid: Some(supervisor),
            ..Default::default()
        };
        store
            .write_container_state(&id, &running(std::process::id() as i32 + 1))
            .unwrap();
        store.record_supervisor_failure(&id, "broken");
        assert_eq!(
            store.read_container_state(&id).status,
            Status::Running,
            "not its own"
        );
        store
            .write_container_state(&id, &running(std::process::id() as i32))
            .unwrap();
        store.record_supervisor_failure(&id, "broken");
        let state = store.read_container_state(&id);
        assert_eq!(state.status, Status::Exited);
        assert_eq!(state.error.as_deref(), Some("broken"));
        assert_eq!(state.supervisor_pid, None);
    }
}
