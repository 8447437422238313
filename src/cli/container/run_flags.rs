//! `run` and `create`, and the flags they share.

use clap::Args;

use super::DEFAULT_DETACH_KEYS;
use crate::cli::Outcome;
use crate::container::{self, attach, CreateOptions};
use crate::context::Context;

/// The flags `run` and `create` share.
#[derive(Debug, Args)]
pub struct ContainerFlags {
    #[command(flatten)]
    run: container::RunFlags,
    /// When to pull the image: always, missing (default), never, newer.
    #[arg(long, value_enum, default_value = "missing", value_name = "POLICY")]
    pull: crate::cli::registry::PullPolicy,
    #[command(flatten)]
    registry: crate::cli::registry::RegistryFlags,
    #[command(flatten)]
    platform: crate::cli::registry::PlatformFlags,
    /// Print nothing about the image's pull.
    #[arg(short, long)]
    quiet: bool,
}

impl ContainerFlags {
    /// What clap parsed, handed to the operations, which merge it over containers.conf; the
    /// warning about ports a host or absent network discards is printed here.
    fn create_options(self, ctx: &Context) -> anyhow::Result<CreateOptions> {
        let flags = container::RunFlags {
            pull: crate::cli::registry::image_pull(
                self.pull,
                &self.registry,
                &self.platform,
                self.quiet,
            )?,
            ..self.run
        };
        let options = container::create_options(ctx, flags)?;
        if let Some(warning) = options.discarded_ports_warning() {
            eprintln!("{warning}");
        }
        let warnings = [
            options.resource_warning(),
            options.kernel_memory_warning(),
            options.oom_score_warning(),
        ];
        for warning in warnings.into_iter().flatten() {
            eprintln!("WARN: {warning}");
        }
        Ok(options)
    }
}

/// Run a command in a new container, in the foreground; exits with the command's exit code.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run in the background under a supervisor of its own, and print the container ID.
    #[arg(short, long)]
    detach: bool,
    /// Keys that detach from a container run with -it, leaving it running ("" turns detaching off).
    #[arg(long, default_value = DEFAULT_DETACH_KEYS, value_name = "KEYS")]
    detach_keys: String,
    #[command(flatten)]
    flags: ContainerFlags,
    /// Print help (-h is --hostname here, as in Podman).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl RunArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        if let Some(warning) = ctx.warn_if_single_mapping() {
            eprintln!("WARN: {warning}");
        }
        let detach_keys = attach::parse_detach_keys(&self.detach_keys)?;
        if self.detach && !self.flags.run.attach.is_empty() {
            anyhow::bail!("conflicting options: --attach and --detach (a detached container's streams go to its log)");
        }
        let attached = self.flags.run.tty && self.flags.run.interactive;
        let options = self.flags.create_options(ctx)?;
        if self.detach {
            println!("{}", container::run_detached(ctx, &options)?);
            return Ok(0);
        }
        let code = if attached {
            let session = attach::SessionOptions {
                stdin: true,
                detach_keys,
                forward_signals: options.forwards_signals(),
            };
            container::run_attached(ctx, &options, &session)?
        } else {
            // Podman prints the ID when neither output stream is shown.
            let quiet = options.shows_no_output();
            container::run(ctx, &options, |id| {
                if quiet {
                    println!("{id}");
                }
            })?
        };
        Ok(u8::try_from(code).unwrap_or(255))
    }
}

/// Create a container without starting it; prints its ID.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    #[command(flatten)]
    flags: ContainerFlags,
    /// Print help (-h is --hostname here, as in Podman).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

impl CreateArgs {
    pub fn run(self, ctx: &Context) -> Outcome {
        let options = self.flags.create_options(ctx)?;
        let record = container::create(ctx, &options)?;
        println!("{}", record.id);
        Ok(0)
    }
}
