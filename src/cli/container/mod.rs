//! The container commands: `run`, `create`, `start`, `rm`, `ps`… One file per group of
//! commands: the flags of `run` and `create`, the lifecycle (start, stop, kill…), what shows a
//! container (ps, logs, top, port, diff), exec, and copies (cp, export, commit).

mod copy;
mod exec;
mod inspect;
mod lifecycle;
mod run_flags;

pub use copy::{CommitArgs, CpArgs, ExportArgs};
pub use exec::ExecArgs;
pub use inspect::{LogsArgs, PortArgs, PsArgs, TopArgs};
pub use lifecycle::{
    AttachArgs, KillArgs, PauseArgs, RenameArgs, RestartArgs, RmArgs, StartArgs, StopArgs,
    SuperviseArgs, WaitArgs,
};
pub use run_flags::{CreateArgs, RunArgs};

use super::Outcome;
use crate::container::{self};
use crate::context::Context;

/// Manage containers (`container run`, `container ls`, …), as `docker container` does.
#[derive(Debug, clap::Subcommand)]
pub enum ContainerCommand {
    Run(RunArgs),
    Create(CreateArgs),
    Start(StartArgs),
    #[command(name = "rm")]
    Rm(RmArgs),
    /// List containers.
    #[command(name = "ls", visible_alias = "list", visible_alias = "ps")]
    Ls(PsArgs),
    Inspect(super::objects::InspectArgs),
    Logs(LogsArgs),
    Exec(ExecArgs),
    Stop(StopArgs),
    Restart(RestartArgs),
    Rename(RenameArgs),
    Pause(PauseArgs),
    Unpause(PauseArgs),
    Top(TopArgs),
    Port(PortArgs),
    /// Remove every container that is not running (with --filter, only those that match).
    Prune(super::PruneArgs),
    Kill(KillArgs),
    Wait(WaitArgs),
    Attach(AttachArgs),
    Cp(CpArgs),
    Export(ExportArgs),
    Commit(CommitArgs),
    Diff(super::objects::DiffArgs),
}

impl ContainerCommand {
    pub fn run(self, ctx: &Context) -> Outcome {
        match self {
            ContainerCommand::Run(a) => a.run(ctx),
            ContainerCommand::Create(a) => a.run(ctx),
            ContainerCommand::Start(a) => a.run(ctx),
            ContainerCommand::Rm(a) => a.run(ctx),
            ContainerCommand::Ls(a) => a.run(ctx),
            ContainerCommand::Inspect(a) => a.with_kind("container").run(ctx),
            ContainerCommand::Logs(a) => a.run(ctx),
            ContainerCommand::Exec(a) => a.run(ctx),
            ContainerCommand::Stop(a) => a.run(ctx),
            ContainerCommand::Restart(a) => a.run(ctx),
            ContainerCommand::Pause(a) | ContainerCommand::Unpause(a) => a.run(ctx),
            ContainerCommand::Top(a) => a.run(ctx),
            ContainerCommand::Port(a) => a.run(ctx),
            ContainerCommand::Rename(a) => a.run(ctx),
            ContainerCommand::Prune(a) => {
                let filters = a.filters("container prune")?;
                a.report(container::prune(ctx, &filters))
            }
            ContainerCommand::Kill(a) => a.run(ctx),
            ContainerCommand::Wait(a) => a.run(ctx),
            ContainerCommand::Attach(a) => a.run(ctx),
            ContainerCommand::Cp(a) => a.run(ctx),
            ContainerCommand::Export(a) => a.run(ctx),
            ContainerCommand::Commit(a) => a.run(ctx),
            ContainerCommand::Diff(a) => a.run(ctx),
        }
    }
}

/// Podman's and Docker's default: ctrl-p, ctrl-q.
pub(super) const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";
