//! Signalling and waiting for containers: `stop`, `kill`, `wait`. The container's watcher (its
//! supervisor, or the foreground `run`) records the exit; these commands only signal and poll
//! the recorded state, so they work from any process without a daemon.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::current_state;
use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::store::containers::{ContainerState, Status};
use crate::store::policies::Signal;

const POLL: Duration = Duration::from_millis(20);

/// Parses `-s`: a name with or without `SIG` (any case), or a number.
pub fn parse_signal(text: &str) -> Result<Signal> {
    Ok(text.parse::<Signal>()?)
}

fn send(pid: i32, signal: Signal) {
    crate::runtime::send_signal(pid, signal.0);
}

/// Waits until the container is no longer running, at most `timeout` (None: for ever).
pub fn wait_until_stopped(ctx: &Context, id: &str, timeout: Option<Duration>) -> ContainerState {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let state = current_state(ctx, id);
        if state.status != Status::Running || deadline.is_some_and(|d| Instant::now() >= d) {
            return state;
        }
        std::thread::sleep(POLL);
    }
}

/// Waits up to `timeout` for the container to stop, sending `signal` again to each process a
/// restart put in the place of `signaled` meanwhile (its supervisor may have been restarting it
/// as the stop was asked for); returns the status at the end.
fn signal_until_stopped(
    ctx: &Context,
    id: &str,
    mut signaled: i32,
    signal: Signal,
    timeout: Duration,
) -> Status {
    let deadline = Instant::now() + timeout;
    loop {
        let state = current_state(ctx, id);
        if state.status != Status::Running || Instant::now() >= deadline {
            return state.status;
        }
        if let Some(pid) = state.pid.filter(|pid| *pid != signaled) {
            send(pid, signal);
            signaled = pid;
        }
        std::thread::sleep(POLL);
    }
}

/// `kill`: sends a signal to a running container's first process.
pub fn kill(ctx: &Context, reference: &str, signal: Signal) -> Result<String> {
    let record = ctx.store.find_container(reference)?;
    let state = current_state(ctx, &record.id);
    match (state.status, state.pid) {
        (Status::Running, Some(pid)) => {
            send(pid, signal);
            let killed = Event::container(EventStatus::Kill, &record);
            events::record(
                &ctx.store,
                killed.with_attribute("signal", signal.0.to_string()),
            );
            Ok(record.id)
        }
        _ => bail!(
            "can only kill running containers. {} is in state {}: container state improper",
            record.id,
            state.status.name()
        ),
    }
}

/// `stop`: SIGTERM (or the given signal), then SIGKILL after `timeout`; returns once stopped.
pub fn stop(ctx: &Context, reference: &str, signal: Signal, timeout: Duration) -> Result<String> {
    let record = ctx.store.find_container(reference)?;
    let state = current_state(ctx, &record.id);
    let (Status::Running, Some(pid)) = (state.status, state.pid) else {
        return Ok(record.id);
    };
    ctx.store.request_stop(&record.id)?;
    send(pid, signal);
    if signal_until_stopped(ctx, &record.id, pid, signal, timeout) == Status::Running {
        let now = current_state(ctx, &record.id).pid.unwrap_or(pid);
        send(now, Signal::KILL);
        let killed =
            signal_until_stopped(ctx, &record.id, now, Signal::KILL, Duration::from_secs(10));
        if killed == Status::Running {
            bail!("container {} did not stop after SIGKILL", record.id);
        }
    }
    events::record(&ctx.store, Event::container(EventStatus::Stop, &record));
    Ok(record.id)
}

/// `stop` with the container's own stop signal and timeout unless `timeout` overrides it;
/// returns the container's id.
pub fn stop_as_configured(ctx: &Context, reference: &str, timeout: Option<u64>) -> Result<String> {
    let record = ctx.store.find_container(reference)?;
    let signal = record.stop_signal.unwrap_or(Signal::TERM);
    let seconds = timeout.or(record.stop_timeout).unwrap_or(10);
    stop(ctx, &record.id, signal, Duration::from_secs(seconds))
}

/// `pause` and `unpause`: each container must exist, and none can be frozen yet.
pub fn pause(ctx: &Context, references: &[String]) -> Result<()> {
    for reference in references {
        ctx.store.find_container(reference)?;
    }
    bail!("pause and unpause need a cgroup freezer for the container, and skiff does not place containers in cgroups yet on this host (cgroup v1 without a delegated hierarchy)")
}

/// `wait`: blocks until the container stops; returns its exit code.
pub fn wait(ctx: &Context, reference: &str) -> Result<i32> {
    let record = ctx.store.find_container(reference)?;
    let state = wait_until_stopped(ctx, &record.id, None);
    Ok(state.exit_code.unwrap_or(0))
}

/// What `exec` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    /// `-e`: KEY=VALUE, or KEY alone for skiff's own value.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub privileged: bool,
    /// `-d`: start it and return; it runs on with its output discarded.
    pub detach: bool,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 are passed on to the command.
    pub preserve_fds: u32,
}

/// `exec`: runs a command in a running container; returns its exit code.
pub fn exec(ctx: &Context, reference: &str, options: &ExecOptions) -> Result<i32> {
    let record = ctx.store.find_container(reference)?;
    let state = current_state(ctx, &record.id);
    let (Status::Running, Some(pid)) = (state.status, state.pid) else {
        bail!("can only create exec sessions on running containers: container state improper");
    };
    if options.command.is_empty() {
        bail!("exec requires a command to run");
    }
    if options.detach && (options.tty || options.interactive) {
        bail!("exec -d cannot be combined with -i or -t: a detached exec has no terminal or input");
    }
    let base = &record.spec.process;
    let mut env = base.env.clone();
    env.extend(
        options
            .env
            .iter()
            .filter_map(|e| super::expand_env_entry(e)),
    );
    let process = crate::runtime::ProcessSpec {
        args: options.command.clone(),
        env: super::merge_env(env),
        cwd: options.workdir.clone().unwrap_or_else(|| base.cwd.clone()),
        user: options.user.clone().unwrap_or_else(|| base.user.clone()),
        terminal: options.tty,
        interactive: options.interactive,
        init: false,
        privileged: options.privileged || base.privileged,
        capabilities: base.capabilities.clone(),
        added_capabilities: base.added_capabilities.clone(),
        rlimits: base.rlimits.clone(),
        umask: base.umask,
        oom_score_adj: base.oom_score_adj,
        group_add: base.group_add.clone(),
        detached: options.detach,
        preserve_fds: options.preserve_fds,
        personality: base.personality,
        no_new_privileges: base.no_new_privileges,
        seccomp: base.seccomp.clone(),
        unattached: Vec::new(),
        signals_kept: false,
    };
    // Podman names each exec session; skiff's have no other use for an id than the events.
    let session = crate::digest::random_id();
    let exec = Event::container(EventStatus::Exec, &record).with_attribute("execID", &session);
    events::record(&ctx.store, exec);
    let outcome = crate::runtime::exec_in_container(pid, ctx.id_mapping.is_some(), &process)?;
    if !options.detach {
        let died = Event::container(EventStatus::ExecDied, &record)
            .with_attribute("execID", session)
            .with_exit_code(outcome.exit_code);
        events::record(&ctx.store, died);
    }
    Ok(outcome.exit_code)
}

/// `restart`: stops the container as configured (when it runs) and starts it again under a
/// supervisor; returns its id.
pub fn restart(ctx: &Context, reference: &str, timeout: Option<u64>) -> Result<String> {
    let id = stop_as_configured(ctx, reference, timeout)?;
    let record = ctx.store.read_container(&id)?;
    super::detached::start_detached(ctx, &record, None)?;
    events::record(&ctx.store, Event::container(EventStatus::Restart, &record));
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_as_docker_takes_them() {
        assert_eq!(parse_signal("TERM").unwrap(), Signal::TERM);
        assert_eq!(parse_signal("sigkill").unwrap(), Signal::KILL);
        assert_eq!(parse_signal("9").unwrap(), Signal::KILL);
        assert!(parse_signal("NOPE").is_err());
    }
}
