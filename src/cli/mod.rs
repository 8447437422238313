//! Command-line layer: clap definitions, dispatch and output. Each command parses its flags into
//! an options struct, calls one operation, and prints through `format`. Nothing here touches
//! namespaces or the store's files.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod build;
mod complete;
mod container;
mod events;
pub mod format;
pub mod human;
mod image;
mod lazy;
mod network;
mod objects;
mod registry;
mod system;
mod volume;
mod yaml;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lazy::Lazy;

use crate::context::StoreRequest;
use crate::system::failure;

/// Daemonless, rootless containers with the Docker and Podman command line.
#[derive(Debug, Parser)]
#[command(
    name = "skiff",
    version,
    about,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Path to the store (images, layers, containers). Default: $XDG_DATA_HOME/skiff, or /var/lib/skiff as root.
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Path to runtime state that vanishes on reboot. Default: $XDG_RUNTIME_DIR/skiff, or /run/skiff as root.
    #[arg(long, global = true, value_name = "DIR")]
    pub runroot: Option<PathBuf>,
    /// How containers' files are stored: overlay (the kernel's, or skiff's own over FUSE where the kernel refuses it), fuse-overlay or vfs (plain copies). Default: $STORAGE_DRIVER, else overlay.
    #[arg(long, global = true, value_name = "DRIVER")]
    pub storage_driver: Option<String>,
    /// How containers' cgroups are managed: cgroupfs, the only way skiff has (it writes them itself; systemd's is refused, skiff having no systemd client).
    #[arg(long, global = true, value_name = "MANAGER")]
    pub cgroup_manager: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Run(Lazy<container::RunArgs>),
    Create(Lazy<container::CreateArgs>),
    Start(Lazy<container::StartArgs>),
    #[command(name = "rm")]
    Rm(Lazy<container::RmArgs>),
    #[command(name = "ps")]
    Ps(Lazy<container::PsArgs>),
    Images(Lazy<image::ImagesArgs>),
    #[command(subcommand)]
    Image(Lazy<image::ImageCommand>),
    #[command(subcommand)]
    Container(Lazy<container::ContainerCommand>),
    #[command(subcommand)]
    Network(Lazy<network::NetworkCommand>),
    #[command(subcommand)]
    Volume(Lazy<volume::VolumeCommand>),
    #[command(subcommand)]
    System(Lazy<system::SystemCommand>),
    Inspect(Lazy<objects::InspectArgs>),
    Load(Lazy<image::LoadArgs>),
    Save(Lazy<image::SaveArgs>),
    Import(Lazy<image::ImportArgs>),
    Tag(Lazy<image::TagArgs>),
    Rmi(Lazy<image::RmiArgs>),
    History(Lazy<image::HistoryArgs>),
    Logs(Lazy<container::LogsArgs>),
    Exec(Lazy<container::ExecArgs>),
    Stop(Lazy<container::StopArgs>),
    Restart(Lazy<container::RestartArgs>),
    Rename(Lazy<container::RenameArgs>),
    Pause(Lazy<container::PauseArgs>),
    Unpause(Lazy<container::PauseArgs>),
    Top(Lazy<container::TopArgs>),
    Port(Lazy<container::PortArgs>),
    Kill(Lazy<container::KillArgs>),
    Wait(Lazy<container::WaitArgs>),
    Attach(Lazy<container::AttachArgs>),
    Cp(Lazy<container::CpArgs>),
    Export(Lazy<container::ExportArgs>),
    Commit(Lazy<container::CommitArgs>),
    Build(Lazy<build::BuildArgs>),
    Diff(Lazy<objects::DiffArgs>),
    Events(Lazy<events::EventsArgs>),
    Info(Lazy<system::SystemInfoArgs>),
    #[command(name = "container-supervise", hide = true)]
    Supervise(Lazy<container::SuperviseArgs>),
    Pull(Lazy<registry::PullArgs>),
    Push(Lazy<registry::PushArgs>),
    Login(Lazy<registry::LoginArgs>),
    Logout(Lazy<registry::LogoutArgs>),
    Search(Lazy<registry::SearchArgs>),
    Completion(Lazy<complete::CompletionArgs>),
    /// Show the skiff version.
    Version,
}

/// What a command ends with: a container's exit code or success.
pub type Outcome = anyhow::Result<u8>;

// The flags of `container prune`, `image prune`, `network prune` and `volume prune` (each variant
// gives its own help).
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation: skiff never asks; accepted for Docker and Podman scripts.
    #[arg(short = 'f', long = "force")]
    _force: bool,
    #[command(flatten)]
    filters: PruneFilterFlags,
}

/// `--filter` of every prune, `system prune`'s included.
#[derive(Debug, clap::Args)]
pub struct PruneFilterFlags {
    /// Remove only what matches, as Podman's filters: until=TIMESTAMP (only what was created
    /// before the timestamp: a Unix time, an RFC 3339 time, or a Go duration such as 10m or 1h30m
    /// before now), label=KEY[=VALUE] (only what has the label) or label!=KEY[=VALUE] (only what
    /// does not). Repeatable; every filter must match.
    #[arg(long, value_name = "FILTER")]
    filter: Vec<String>,
}

impl PruneFilterFlags {
    /// The --filter values, parsed once; `command` names the prune in errors.
    pub fn parse(&self, command: &str) -> anyhow::Result<crate::filter::PruneFilters> {
        crate::filter::PruneFilters::parse(&self.filter, command)
    }
}

impl PruneArgs {
    pub fn filters(&self, command: &str) -> anyhow::Result<crate::filter::PruneFilters> {
        self.filters.parse(command)
    }

    /// Prints what a prune removed, one per line.
    pub fn report(&self, removed: anyhow::Result<Vec<String>>) -> Outcome {
        for name in removed? {
            println!("{name}");
        }
        Ok(0)
    }
}

fn dispatch(command: Command, request: &StoreRequest) -> Outcome {
    let ctx = || request.open();
    match command {
        Command::Run(Lazy(args)) => args.run(&ctx()?),
        Command::Create(Lazy(args)) => args.run(&ctx()?),
        Command::Start(Lazy(args)) => args.run(&ctx()?),
        Command::Rm(Lazy(args)) => args.run(&ctx()?),
        Command::Ps(Lazy(args)) => args.run(&ctx()?),
        Command::Images(Lazy(args)) => args.run(&ctx()?),
        Command::Image(Lazy(command)) => command.run(&ctx()?),
        Command::Container(Lazy(command)) => command.run(&ctx()?),
        Command::Network(Lazy(command)) => command.run(&ctx()?),
        Command::Volume(Lazy(command)) => command.run(&ctx()?),
        Command::System(Lazy(command)) => command.run(request),
        Command::Inspect(Lazy(args)) => args.run(&ctx()?),
        Command::Load(Lazy(args)) => args.run(&ctx()?),
        Command::Save(Lazy(args)) => args.run(&ctx()?),
        Command::Import(Lazy(args)) => args.run(&ctx()?),
        Command::Tag(Lazy(args)) => args.run(&ctx()?),
        Command::Rmi(Lazy(args)) => args.run(&ctx()?),
        Command::History(Lazy(args)) => args.run(&ctx()?),
        Command::Logs(Lazy(args)) => args.run(&ctx()?),
        Command::Exec(Lazy(args)) => args.run(&ctx()?),
        Command::Stop(Lazy(args)) => args.run(&ctx()?),
        Command::Restart(Lazy(args)) => args.run(&ctx()?),
        Command::Rename(Lazy(args)) => args.run(&ctx()?),
        Command::Pause(Lazy(args)) | Command::Unpause(Lazy(args)) => args.run(&ctx()?),
        Command::Top(Lazy(args)) => args.run(&ctx()?),
        Command::Port(Lazy(args)) => args.run(&ctx()?),
        Command::Kill(Lazy(args)) => args.run(&ctx()?),
        Command::Wait(Lazy(args)) => args.run(&ctx()?),
        Command::Attach(Lazy(args)) => args.run(&ctx()?),
        Command::Cp(Lazy(args)) => args.run(&ctx()?),
        Command::Export(Lazy(args)) => args.run(&ctx()?),
        Command::Commit(Lazy(args)) => args.run(&ctx()?),
        Command::Build(Lazy(args)) => args.run(&ctx()?),
        Command::Diff(Lazy(args)) => args.run(&ctx()?),
        Command::Events(Lazy(args)) => args.run(&ctx()?),
        Command::Info(Lazy(args)) => args.run(&ctx()?),
        Command::Supervise(Lazy(args)) => args.run(&ctx()?),
        Command::Pull(Lazy(args)) => args.run(&ctx()?),
        Command::Push(Lazy(args)) => args.run(&ctx()?),
        Command::Login(Lazy(args)) => args.run(&ctx()?),
        Command::Logout(Lazy(args)) => args.run(&ctx()?),
        Command::Search(Lazy(args)) => args.run(&ctx()?),
        Command::Completion(Lazy(args)) => args.run(),
        Command::Version => {
            println!("skiff version {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    }
}

/// One line, lowercase, `Error: ` first, as Podman prints.
fn error_line(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ").replace('\n', " ")
}

/// A command line clap refused, as one line the way Podman words it (`unknown flag: --foo`),
/// with clap's suggestion kept: clap's own report is several lines with the usage.
fn usage_error_line(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = error.render().to_string();
    // The message is the first paragraph (a missing argument's names are on lines of their own).
    let (message, rest) = rendered.split_once("\n\n").unwrap_or((&rendered, ""));
    let message: Vec<&str> = message.lines().map(str::trim).collect();
    let message = message.join(" ");
    let first = message.strip_prefix("error: ").unwrap_or(&message);
    let unknown_flag = match (error.kind(), error.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(arg))) if arg.starts_with('-') => {
            Some(format!("unknown flag: {arg}"))
        }
        _ => None,
    };
    let tips: Vec<&str> = rest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tip: "))
        .filter(|tip| !tip.starts_with("to pass '") || unknown_flag.is_none())
        .collect();
    let mut line = unknown_flag.unwrap_or_else(|| first.to_string());
    if !tips.is_empty() {
        line.push_str(&format!(" ({})", tips.join("; ")));
    }
    line
}

/// Whether skiff's own standard output has lost its reader (`skiff logs c | head -1`): the
/// kernel flags a pipe without readers, or a closed socket, as an error condition.
fn stdout_is_broken() -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let stdout = std::io::stdout();
    let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP))
}

/// A reader that went away ends skiff quietly, as a closed pipe ends any Unix tool; a broken
/// pipe anywhere else (a container that died during its set-up) is an error to report.
fn is_closed_output(error: &anyhow::Error, stdout_broken: bool) -> bool {
    stdout_broken
        && error.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
}

/// `println!` panics when stdout's reader went away (`skiff images | head -0`): that, too, ends
/// skiff quietly, as a closed pipe ends any Unix tool, instead of a panic and its backtrace.
fn end_quietly_on_a_closed_stdout() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        let printing = message.is_some_and(|m| m.starts_with("failed printing to stdout"));
        if printing && stdout_is_broken() {
            std::process::exit(0);
        }
        report(info);
    }));
}

/// Parses the command line. clap builds only the arguments of the command it is given (see
/// `lazy.rs`), unless the first word is not a command (`skiff`, `skiff --help`, a global flag's
/// value, a mistyped command): then skiff's whole tree, whose list of commands that help and
/// errors print needs each command's description.
fn parse(args: Vec<std::ffi::OsString>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    let first_word = args
        .iter()
        .skip(1)
        .find(|a| !a.to_string_lossy().starts_with('-'));
    let names_a_command = first_word.is_some_and(|word| {
        let word = word.to_string_lossy();
        word != "help" && command.find_subcommand(word.as_ref()).is_some()
    });
    if !names_a_command {
        command.build();
    }
    let mut matches = command.try_get_matches_from(args)?;
    Cli::from_arg_matches_mut(&mut matches)
}

pub fn main() -> ExitCode {
    complete::answer_if_asked();
    end_quietly_on_a_closed_stdout();
    let cli = match parse(std::env::args_os().collect()) {
        Ok(cli) => cli,
        // --help and --version, and a command given without its subcommand, print as clap does.
        Err(e)
            if !e.use_stderr()
                || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
        {
            let code = if e.use_stderr() { 125 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
        Err(e) => {
            eprintln!("Error: {}", usage_error_line(&e));
            return ExitCode::from(125);
        }
    };
    if let Some(manager) = cli.cgroup_manager.as_deref().filter(|m| *m != "cgroupfs") {
        eprintln!("Error: --cgroup-manager {manager}: skiff writes containers' cgroups itself (cgroupfs) and has no systemd client: give cgroupfs or leave the flag out");
        return ExitCode::from(125);
    }
    let request = StoreRequest::configured(cli.root, cli.runroot, cli.storage_driver);
    let request = match request {
        Ok(request) => request,
        Err(error) => {
            eprintln!("Error: {error}");
            return ExitCode::from(125);
        }
    };
    match dispatch(cli.command, &request) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            if is_closed_output(&error, stdout_is_broken()) {
                return ExitCode::SUCCESS;
            }
            let hint = failure::prerequisite_hint(&error);
            eprintln!("Error: {}{hint}", error_line(&error));
            ExitCode::from(failure::exit_code(&error))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_error_and_its_causes_are_one_line() {
        let not_found = anyhow::anyhow!("x: executable file not found in $PATH").context("running");
        assert_eq!(
            error_line(&not_found),
            "running: x: executable file not found in $PATH"
        );
    }

    #[test]
    fn a_refused_command_line_is_one_line_with_clap_s_suggestion() {
        let error = |args: &[&str]| {
            let e = Cli::try_parse_from(args).unwrap_err();
            usage_error_line(&e)
        };
        assert_eq!(
            error(&["skiff", "ps", "--al"]),
            "unknown flag: --al (a similar argument exists: '--all')"
        );
        assert_eq!(error(&["skiff", "ps", "--zzz"]), "unknown flag: --zzz");
        let missing = error(&["skiff", "tag"]);
        assert!(
            !missing.contains('\n') && missing.ends_with("not provided: <IMAGE> <TARGETS>..."),
            "{missing}"
        );
        let subcommand = error(&["skiff", "imagse"]);
        assert!(subcommand.contains("'images'"), "{subcommand}");
    }

    #[test]
    fn a_broken_pipe_is_quiet_only_when_stdout_is_the_broken_one() {
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("signalling the container process");
        assert!(is_closed_output(&pipe, true));
        assert!(!is_closed_output(&pipe, false));
        assert!(!is_closed_output(&anyhow::anyhow!("boom"), true));
    }
}
