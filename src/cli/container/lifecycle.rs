//! Starting, stopping, signalling, waiting for, attaching to, renaming and removing containers.

use clap::Args;

use super::DEFAULT_DETACH_KEYS;
use crate::cli::Outcome;
use crate::container::{self, attach};
use crate::context::Context;

/// Start a created or exited container.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output and exit with its exit code.
    #[arg(short, long)]
    attach: bool,
    /// Attach standard input as well (with --attach): what you type reaches the container's
    /// process.
    #[arg(short, long)]
    interactive: bool,
    /// Keys that detach from a container with a terminal, leaving it running.
    #[arg(long, default_value = DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    detach_keys: String,
    /// Container name or ID.
    container: String,
}

impl StartArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let session = attach::SessionOptions {
            stdin: self.interactive,
            detach_keys: attach::parse_detach_keys(&self.detach_keys)?,
            forward_signals: true,
        };
        if !self.attach {
            container::start_detached(ctx, &self.container)?;
            println!("{}", self.container);
            return Ok(0);
        }
        let code = container::start_attached_as_asked(ctx, &self.container, session)?;
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// Stop running containers: the stop signal (SIGTERM), then SIGKILL after the timeout.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10).
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    time: Option<u64>,
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl StopArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.containers {
            container::lifecycle::stop_as_configured(ctx, reference, self.time)?;
            println!("{reference}");
        }
        Ok(0)
    }
}

/// Stop containers and start them again in the background.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing each container (default: its --stop-timeout, else 10).
    #[arg(short = 't', long = "time", value_name = "SECONDS")]
    time: Option<u64>,
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl RestartArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.containers {
            let id = container::lifecycle::restart(ctx, reference, self.time)?;
            println!("{id}");
        }
        Ok(0)
    }
}

/// Give a container a new name.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// Container name or ID.
    container: String,
    /// The new name.
    name: String,
}

impl RenameArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        container::rename(ctx, &self.container, &self.name)?;
        Ok(0)
    }
}

/// Send a signal to running containers.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The signal to send (default KILL): a name with or without SIG (TERM, SIGHUP) or a number.
    /// The container stops only if its process dies of it.
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl KillArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let signal = container::lifecycle::parse_signal(&self.signal)?;
        for reference in &self.containers {
            container::lifecycle::kill(ctx, reference, signal)?;
            println!("{reference}");
        }
        Ok(0)
    }
}

/// Wait for containers to stop and print their exit codes.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl WaitArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        for reference in &self.containers {
            println!("{}", container::lifecycle::wait(ctx, reference)?);
        }
        Ok(0)
    }
}

/// Pause (freeze) or unpause running containers.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Containers by name or ID.
    #[arg(required = true)]
    containers: Vec<String>,
}

impl PauseArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        container::lifecycle::pause(ctx, &self.containers)?;
        Ok(0)
    }
}

/// Attach to a running container's terminal or output and input.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Keys that detach, leaving the container running ("" turns detaching off).
    #[arg(long, default_value = DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    detach_keys: String,
    /// Do not relay standard input to the container: only its output is shown.
    #[arg(long)]
    no_stdin: bool,
    /// Container name or ID.
    container: String,
}

impl AttachArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let session = attach::SessionOptions {
            stdin: !self.no_stdin,
            detach_keys: attach::parse_detach_keys(&self.detach_keys)?,
            forward_signals: true,
        };
        let code = attach::attach(ctx, &self.container, &session)?;
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// The supervisor of a detached container (started by skiff itself).
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// Standard input is the first attach client (`run -it`, `start -ai`).
    #[arg(long)]
    attached_stdin: bool,
    id: String,
}

impl SuperviseArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let code = container::detached::supervise(ctx, &self.id, self.attached_stdin)?;
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// Remove containers.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove running containers too: they are stopped with SIGKILL first, without the stop
    /// timeout. Without it, removing a running container is an error.
    #[arg(short, long)]
    force: bool,
    /// Remove every container (running ones only with --force).
    #[arg(short, long)]
    all: bool,
    /// Remove the container's anonymous volumes too (named volumes stay).
    #[arg(short, long)]
    volumes: bool,
    /// With --force: give a running container its stop signal and SECONDS to stop before SIGKILL, as stop -t does (without it, --force kills at once).
    #[arg(short, long, value_name = "SECONDS")]
    time: Option<u64>,
    /// A name or ID that is no container is no error.
    #[arg(short, long)]
    ignore: bool,
    /// Container names or IDs.
    containers: Vec<String>,
}

impl RmArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = container::RmOptions {
            all: self.all,
            force: self.force,
            volumes: self.volumes,
            time: self.time,
            ignore: self.ignore,
        };
        let removed = container::remove_listed(ctx, self.containers, &options)?;
        for id in removed {
            println!("{id}");
        }
        Ok(0)
    }
}
