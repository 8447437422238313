//! `exec`.

use clap::Args;

use crate::cli::Outcome;
use crate::container::{self};
use crate::context::Context;

/// Run a command in a running container; exits with the command's exit code.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep standard input open and relay it to the command (otherwise it reads /dev/null).
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-terminal for the command (use with -i for an interactive shell).
    #[arg(short, long)]
    tty: bool,
    /// Set an environment variable (KEY=VALUE; KEY alone takes skiff's own value). Repeatable.
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Run as USER[:GROUP] (default: the container's user).
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container (default: the container's).
    #[arg(short, long, value_name = "DIR")]
    workdir: Option<String>,
    /// Run the command in the background, its output discarded.
    #[arg(short, long)]
    detach: bool,
    /// Give the command every capability the container's user namespace allows.
    #[arg(long)]
    privileged: bool,
    /// Pass descriptors 3 to 3+N-1 on to the command (every other one is closed).
    #[arg(long, value_name = "N", default_value_t = 0)]
    preserve_fds: u32,
    /// Container name or ID.
    container: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

impl ExecArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = container::lifecycle::ExecOptions {
            command: self.command,
            env: self.env,
            user: self.user,
            workdir: self.workdir,
            tty: self.tty,
            interactive: self.interactive,
            privileged: self.privileged,
            detach: self.detach,
            preserve_fds: self.preserve_fds,
        };
        let code = container::lifecycle::exec(ctx, &self.container, &options)?;
        Ok(u8::try_from(code).unwrap_or(255))
    }
}
