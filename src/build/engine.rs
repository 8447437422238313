//! `build`: runs a Dockerfile's stages step by step on skiff's own machinery.
//!
//! Every step ends as an image in the store, unnamed (an intermediate image, hidden from
//! `images` but not from `images -a`, as with Podman): RUN runs a container of the current image
//! and commits its changes, COPY unpacks the files into a container that never runs and commits
//! it, and the other instructions change only the config. A step's result is remembered under
//! a key of its parent image, its instruction after substitution, the build arguments it sees,
//! and for COPY the content and metadata of what it copies; the next build with the same key
//! reuses the image, `created` time included, so a fully cached build gives the same image ID.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context as _, Result};

use super::base::take_onbuild_triggers;
use super::config_steps::{add_onbuild_trigger, healthcheck_config, set_shell};
use super::dockerfile::{self, Dockerfile, Instruction, Stage};
use super::run_step::RunWhat;
use super::variables::global_args;
use crate::context::Context;
use crate::image::config::ImageConfig;

// What `build` is asked for, where callers have always found it.
pub use super::options::{
    host_platform_only, BuildOptions, Output, PullPolicy, RegistryAccess, StepDefaults,
};

/// How a build ended.
pub enum BuildOutcome {
    Built(String),
    /// A RUN step exited with this code: the build stopped there.
    StepFailed {
        step: String,
        code: i32,
    },
}

/// One stage as it builds: the image it has reached and what is in scope.
pub(super) struct StageState {
    pub(super) image_id: String,
    pub(super) config: ImageConfig,
    /// ARGs declared in the stage, with their values.
    pub(super) args: BTreeMap<String, String>,
    /// A CMD was set in this stage: a later ENTRYPOINT keeps it (it drops only an inherited one).
    pub(super) cmd_set: bool,
}

/// A build under way: what it was asked, the Dockerfile, and what it has built and pulled.
pub(super) struct Builder<'a> {
    pub(super) ctx: &'a Context,
    pub(super) options: &'a BuildOptions,
    pub(super) file: Dockerfile,
    /// The global ARGs with their values (defaults, overridden by --build-arg).
    pub(super) global_args: BTreeMap<String, String>,
    /// Built stages: index → final image id.
    pub(super) built: Vec<Option<String>>,
    /// The context's .containerignore or .dockerignore.
    pub(super) ignore: super::copy::Ignore,
    out: Box<dyn Write>,
    step_number: usize,
    step_count: usize,
    multi_stage: bool,
    /// Images this build pulled, by reference: `--pull=always` pulls each once, and FROM and
    /// every `--from=` naming it see the same image.
    pub(super) pulled: std::cell::RefCell<BTreeMap<String, String>>,
    /// The lease this build holds: its step containers carry its id.
    pub(super) lease: crate::container::build_lease::BuildLease,
}

impl Builder<'_> {
    pub(super) fn say(&mut self, line: &str) {
        if !self.options.quiet {
            let _ = writeln!(self.out, "{line}");
            let _ = self.out.flush();
        }
    }

    fn step_header(&mut self, stage_index: usize, text: &str) {
        self.step_number += 1;
        let line = match self.multi_stage {
            true => format!(
                "[{}/{}] STEP {}/{}: {text}",
                stage_index + 1,
                self.file.stages.len(),
                self.step_number,
                self.step_count
            ),
            false => format!("STEP {}/{}: {text}", self.step_number, self.step_count),
        };
        self.say(&line);
    }

    fn run(mut self) -> Result<BuildOutcome> {
        let target = match &self.options.target {
            Some(target) => self
                .file
                .stages
                .iter()
                .position(|s| s.name.as_deref() == Some(target.to_lowercase().as_str()))
                .with_context(|| format!("--target {target}: no stage has that name"))?,
            None => self.file.stages.len() - 1,
        };
        let needed = self.needed_stages(target);
        self.step_count = self
            .file
            .stages
            .iter()
            .zip(&needed)
            .filter(|(_, n)| **n)
            .map(|(s, _)| s.steps.len() + 1)
            .sum();
        self.multi_stage = self.file.stages.len() > 1;
        let stages = self.file.stages.clone();
        for (index, stage) in stages.iter().enumerate() {
            if !needed[index] {
                continue;
            }
            match self.build_stage(index, stage)? {
                Ok(id) => self.built[index] = Some(id),
                Err(failed) => return Ok(failed),
            }
        }
        let final_id = self.built[target]
            .clone()
            .context("the target stage was not built")?;
        self.finish(final_id)
    }

    /// A container of `image` that never runs: files go in or come out through its union.
    fn idle_container(&self, image: &str) -> Result<crate::store::containers::ContainerRecord> {
        let options = crate::container::CreateOptions {
            image: image.to_string(),
            command: vec!["true".into()],
            entrypoint: Some(String::new()),
            network: crate::network::NetworkRequest::None,
            build: Some(self.lease.id.clone()),
            ..Default::default()
        };
        crate::container::create(self.ctx, &options)
    }

    /// `work` done with an [`idle_container`](Self::idle_container) of `image`, given its id;
    /// the container is removed afterwards whatever `work` returned.
    pub(super) fn with_idle_container<T>(
        &self,
        image: &str,
        work: impl FnOnce(&str) -> Result<T>,
    ) -> Result<T> {
        let record = self.idle_container(image)?;
        self.removing_step_container(&record.id, || work(&record.id))
    }

    /// `work` done with the step container `id`, then the container removed, whatever `work`
    /// returned; a failed removal is the error then, as it leaves the build's store unclean.
    pub(super) fn removing_step_container<T>(
        &self,
        id: &str,
        work: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let result = work();
        crate::container::remove(self.ctx, &[id.to_string()], true, true)?;
        result
    }

    /// Builds one stage; Err(outcome) inside Ok when a RUN step failed.
    fn build_stage(
        &mut self,
        index: usize,
        stage: &Stage,
    ) -> Result<std::result::Result<String, BuildOutcome>> {
        self.step_header(index, &stage.text);
        let (base, mut state) = self.stage_start(index, stage)?;
        // As in Docker: the base image's ONBUILD triggers run first, and are not handed on.
        let triggers = take_onbuild_triggers(&mut state.config);
        if !triggers.is_empty() {
            let text = format!("FROM scratch\n{}\n", triggers.join("\n"));
            let parsed = dockerfile::parse(&format!("{base} ONBUILD"), &text)?;
            for step in &parsed.stages[0].steps {
                self.say(&format!("--> ONBUILD {}", step.text));
                if let Some(failed) = self.build_step(&mut state, step)? {
                    return Ok(Err(failed));
                }
            }
        }
        for step in &stage.steps {
            self.step_header(index, &step.text);
            if let Some(failed) = self.build_step(&mut state, step)? {
                return Ok(Err(failed));
            }
        }
        let short: String = state.image_id.chars().take(12).collect();
        self.say(&format!("--> {short}"));
        Ok(Ok(state.image_id))
    }

    /// Runs one step; Some(outcome) when a RUN failed.
    fn build_step(
        &mut self,
        state: &mut StageState,
        step: &dockerfile::Step,
    ) -> Result<Option<BuildOutcome>> {
        let at =
            |e: anyhow::Error| anyhow::anyhow!("{}:{}: {e:#}", self.options.file_name, step.line);
        let described = match &step.instruction {
            Instruction::Run {
                command,
                heredocs,
                mounts,
                network,
            } => {
                let run = RunWhat {
                    form: command,
                    programs: heredocs,
                    mounts,
                    network: *network,
                };
                return self.run_step(state, &run, &step.text).map_err(at);
            }
            Instruction::Copy(spec) => {
                return self
                    .copy_step(state, spec, &step.text, false)
                    .map(|()| None)
                    .map_err(at);
            }
            Instruction::Add(spec) => {
                return self
                    .copy_step(state, spec, &step.text, true)
                    .map(|()| None)
                    .map_err(at);
            }
            Instruction::Arg(decls) => {
                // ARG changes nothing in the image: its values enter later steps' keys.
                return self.declare_args(state, decls).map(|()| None).map_err(at);
            }
            Instruction::Workdir(dir) => {
                let (described, missing) = self.set_workdir(state, dir).map_err(at)?;
                if !missing.is_empty() {
                    return self.make_workdir(state, &missing, &described).map_err(at);
                }
                described
            }
            Instruction::Env(pairs) => self.set_env(state, pairs).map_err(at)?,
            Instruction::Label(pairs) => self.set_labels(state, pairs).map_err(at)?,
            Instruction::Expose(ports) => self.expose(state, ports).map_err(at)?,
            Instruction::User(user) => self.set_user(state, user).map_err(at)?,
            Instruction::Cmd(form) => self.set_cmd(state, form),
            Instruction::Entrypoint(form) => self.set_entrypoint(state, form),
            Instruction::Volume(paths) => self.declare_volumes(state, paths).map_err(at)?,
            Instruction::Shell(shell) => set_shell(&mut state.config.config, shell),
            Instruction::Stopsignal(signal) => self.set_stop_signal(state, signal).map_err(at)?,
            Instruction::Healthcheck(check) => {
                let value = healthcheck_config(check.as_ref()).map_err(at)?;
                let other = &mut state.config.config.other;
                other.insert("Healthcheck".into(), value);
                step.text.clone()
            }
            Instruction::Onbuild(trigger) => {
                add_onbuild_trigger(&mut state.config.config, trigger);
                step.text.clone()
            }
            Instruction::Maintainer(name) => {
                state.config.author = Some(name.clone());
                format!("MAINTAINER {name}")
            }
        };
        self.config_only_step(state, &described)?;
        Ok(None)
    }

    pub(super) fn commit(
        &self,
        container: &str,
        state: &StageState,
        created_by: String,
    ) -> Result<String> {
        let options = crate::container::commit::CommitOptions {
            author: state.config.author.clone(),
            message: None,
            changes: Vec::new(),
            pause: false,
            squash: false,
            docker_format: self.options.docker_format,
            step: Some(crate::container::commit::StepCommit {
                run_config: state.config.config.clone(),
                created_by,
            }),
        };
        crate::container::commit::commit(self.ctx, container, None, &options)
    }
}

/// Builds the Dockerfile of `options`; progress goes to standard output.
pub fn build(ctx: &Context, options: &BuildOptions) -> Result<BuildOutcome> {
    let file = dockerfile::parse(&options.file_name, &options.file_text)?;
    let global_args = global_args(&file, &options.build_args);
    let stages = file.stages.len();
    // The step containers of builds that were killed go before this one makes its own; this
    // build does not need them gone, so one that cannot be removed is only reported.
    crate::container::build_lease::remove_abandoned_or_warn(ctx);
    let builder = Builder {
        ctx,
        options,
        file,
        global_args,
        built: vec![None; stages],
        ignore: match &options.ignore_file {
            Some(path) => super::copy::Ignore::parse(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("--ignorefile {}", path.display()))?,
            ),
            None => super::context_files::ignore_of(&options.context)?,
        },
        out: Box::new(std::io::stdout()),
        step_number: 0,
        step_count: 0,
        multi_stage: false,
        pulled: Default::default(),
        lease: crate::container::build_lease::BuildLease::take(ctx)?,
    };
    let muted = crate::events::mute();
    let outcome = builder.run();
    drop(muted);
    if let Ok(BuildOutcome::Built(id)) = &outcome {
        let name = options.tags.first().map_or("", String::as_str);
        let built = crate::events::Event::image(crate::events::Status::Build, id, name);
        crate::events::record(&ctx.store, built);
    }
    outcome
}
