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
use std::path::Path;

use anyhow::{Context as _, Result};

use super::config_steps::argv_json;
use super::dockerfile::{self, CommandForm, Dockerfile, Instruction, Stage};
use super::run_step::RunWhat;
use super::variables::{platform_args, PROXY_ARGS};
use super::words;
use crate::context::Context;
use crate::image::config::ImageConfig;
use crate::store::images::ImageIndex;

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
    pub(super) out: Box<dyn Write>,
    pub(super) step_number: usize,
    pub(super) step_count: usize,
    pub(super) multi_stage: bool,
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
    pub(super) fn idle_container(
        &self,
        image: &str,
    ) -> Result<crate::store::containers::ContainerRecord> {
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

    /// Builds one stage; Err(outcome) inside Ok when a RUN step failed.
    fn build_stage(
        &mut self,
        index: usize,
        stage: &Stage,
    ) -> Result<std::result::Result<String, BuildOutcome>> {
        self.step_header(index, &stage.text);
        let global = |name: &str| self.lookup_global(name);
        let base = words::expand(&stage.base, &global, self.file.escape)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", self.options.file_name, stage.line))?;
        if let Some(platform) = &stage.platform {
            let platform = words::expand(platform, &global, self.file.escape).unwrap_or_default();
            if !platform.is_empty() {
                host_platform_only(&platform).map_err(|e| {
                    anyhow::anyhow!("{}:{}: {e:#}", self.options.file_name, stage.line)
                })?;
            }
        }
        let image_id = match self.stage_index(&base, index) {
            Some(earlier) => self.built[earlier]
                .clone()
                .context("an earlier stage was not built")?,
            None if base == "scratch" => self.scratch_image()?,
            None => self.base_image(&base)?,
        };
        let index_file = ImageIndex::load(&self.ctx.store)?;
        let record = index_file
            .by_id(&image_id)
            .context("the base image vanished")?
            .clone();
        let mut state = StageState {
            image_id,
            config: crate::image::read_config(&self.ctx.store, &record)?,
            args: BTreeMap::new(),
            cmd_set: false,
        };
        // As in Docker: the base image's ONBUILD triggers run first, and are not handed on.
        let triggers: Vec<String> = state
            .config
            .config
            .other
            .remove("OnBuild")
            .and_then(|list| serde_json::from_value(list).ok())
            .unwrap_or_default();
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
        let described: String;
        match &step.instruction {
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
            Instruction::Env(pairs) => {
                let mut shown = Vec::new();
                for (name, value) in pairs {
                    let value = self.substitute(state, value).map_err(at)?;
                    state.config.config.set_env(name, &value);
                    shown.push(format!("{name}={value}"));
                }
                described = format!("ENV {}", shown.join(" "));
            }
            Instruction::Arg(decls) => {
                for decl in decls {
                    let value = match self.options.build_args.get(&decl.name) {
                        Some(given) => Some(given.clone()),
                        None => match &decl.default {
                            Some(default) => Some(self.substitute(state, default).map_err(at)?),
                            // A global ARG of the same name lends its value.
                            None => self.global_args.get(&decl.name).cloned(),
                        },
                    };
                    if let Some(value) = value {
                        state.args.insert(decl.name.clone(), value);
                    } else {
                        state.args.remove(&decl.name);
                    }
                }
                // ARG changes nothing in the image: its values enter later steps' keys.
                return Ok(None);
            }
            Instruction::Label(pairs) => {
                let mut shown = Vec::new();
                for (key, value) in pairs {
                    let value = self.substitute(state, value).map_err(at)?;
                    let run = &mut state.config.config;
                    run.labels
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key.clone(), value.clone());
                    shown.push(format!("{key}={value}"));
                }
                described = format!("LABEL {}", shown.join(" "));
            }
            Instruction::Expose(ports) => {
                let mut shown = Vec::new();
                for port in ports {
                    let port = self.substitute(state, port).map_err(at)?;
                    let port = if port.contains('/') {
                        port
                    } else {
                        format!("{port}/tcp")
                    };
                    let run = &mut state.config.config;
                    run.exposed_ports
                        .get_or_insert_with(BTreeMap::new)
                        .insert(port.clone(), serde_json::json!({}));
                    shown.push(port);
                }
                described = format!("EXPOSE {}", shown.join(" "));
            }
            Instruction::Workdir(dir) => {
                let dir = self.substitute(state, dir).map_err(at)?;
                let run = &mut state.config.config;
                let current = run.working_dir.clone().unwrap_or_else(|| "/".into());
                let joined = Path::new(&current).join(&dir);
                run.working_dir = Some(joined.display().to_string());
                described = format!("WORKDIR {}", joined.display());
                let missing = self.missing_directories(state, &joined).map_err(at)?;
                if !missing.is_empty() {
                    return self.make_workdir(state, &missing, &described).map_err(at);
                }
            }
            Instruction::User(user) => {
                let user = self.substitute(state, user).map_err(at)?;
                state.config.config.user = Some(user.clone());
                described = format!("USER {user}");
            }
            Instruction::Cmd(form) => {
                state.config.config.cmd = Some(self.command_argv(state, form));
                state.cmd_set = true;
                described = format!("CMD {}", argv_json(state.config.config.cmd.as_deref()));
            }
            Instruction::Entrypoint(form) => {
                let argv = self.command_argv(state, form);
                let run = &mut state.config.config;
                run.entrypoint = Some(argv);
                // As in Docker: a new ENTRYPOINT drops the CMD inherited from the base image.
                if !state.cmd_set {
                    run.cmd = None;
                }
                described = format!(
                    "ENTRYPOINT {}",
                    argv_json(state.config.config.entrypoint.as_deref())
                );
            }
            Instruction::Volume(paths) => {
                let mut shown = Vec::new();
                for path in paths {
                    let path = self.substitute(state, path).map_err(at)?;
                    let run = &mut state.config.config;
                    run.volumes
                        .get_or_insert_with(BTreeMap::new)
                        .insert(path.clone(), serde_json::json!({}));
                    shown.push(path);
                }
                described = format!("VOLUME {shown:?}");
            }
            Instruction::Shell(shell) => {
                state
                    .config
                    .config
                    .other
                    .insert("Shell".into(), serde_json::json!(shell));
                described = format!("SHELL {}", argv_json(Some(shell)));
            }
            Instruction::Stopsignal(signal) => {
                let signal = self.substitute(state, signal).map_err(at)?;
                state.config.config.stop_signal = Some(signal.clone());
                described = format!("STOPSIGNAL {signal}");
            }
            Instruction::Healthcheck(check) => {
                let value = match check {
                    None => serde_json::json!({"Test": ["NONE"]}),
                    Some(check) => {
                        let test = match &check.command {
                            CommandForm::Exec(argv) => {
                                let mut test = vec!["CMD".to_string()];
                                test.extend(argv.iter().cloned());
                                test
                            }
                            CommandForm::Shell(text) => vec!["CMD-SHELL".into(), text.clone()],
                        };
                        let mut value = serde_json::json!({"Test": test});
                        for (key, given) in [
                            ("Interval", &check.interval),
                            ("Timeout", &check.timeout),
                            ("StartPeriod", &check.start_period),
                            ("StartInterval", &check.start_interval),
                        ] {
                            if let Some(given) = given {
                                let nanos = crate::clock::go_duration(given)
                                    .map_err(|e| at(anyhow::anyhow!(e)))?;
                                value[key] = serde_json::json!(nanos);
                            }
                        }
                        if let Some(retries) = &check.retries {
                            let retries: u64 = retries.parse().map_err(|_| {
                                at(anyhow::anyhow!(
                                    "HEALTHCHECK --retries={retries}: expected a number"
                                ))
                            })?;
                            value["Retries"] = serde_json::json!(retries);
                        }
                        value
                    }
                };
                state
                    .config
                    .config
                    .other
                    .insert("Healthcheck".into(), value);
                described = step.text.clone();
            }
            Instruction::Onbuild(text) => {
                let list = state
                    .config
                    .config
                    .other
                    .entry("OnBuild")
                    .or_insert_with(|| serde_json::json!([]));
                if let Some(list) = list.as_array_mut() {
                    list.push(serde_json::json!(text));
                }
                described = step.text.clone();
            }
            Instruction::Maintainer(name) => {
                state.config.author = Some(name.clone());
                described = format!("MAINTAINER {name}");
            }
        }
        // The parent image, the substituted instruction and the arguments in scope decide the
        // new config.
        let key = self.key(state, &described, "");
        state.image_id = match self.reuse(&key) {
            Some(id) => id,
            None => self.metadata_step(state, &key, &described)?,
        };
        Ok(None)
    }

    pub(super) fn commit(
        &self,
        container: &str,
        state: &StageState,
        created_by: String,
    ) -> Result<String> {
        let options = crate::image::commit::CommitOptions {
            author: state.config.author.clone(),
            message: None,
            changes: Vec::new(),
            pause: false,
            squash: false,
            docker_format: self.options.docker_format,
            step: Some(crate::image::commit::StepCommit {
                run_config: state.config.config.clone(),
                created_by,
            }),
        };
        crate::image::commit::commit(self.ctx, container, None, &options)
    }
}

/// Builds the Dockerfile of `options`; progress goes to standard output.
pub fn build(ctx: &Context, options: &BuildOptions) -> Result<BuildOutcome> {
    let file = dockerfile::parse(&options.file_name, &options.file_text)?;
    let mut global_args = BTreeMap::new();
    for decl in &file.global_args {
        let value = match options.build_args.get(&decl.name) {
            Some(given) => Some(given.clone()),
            None => decl.default.clone(),
        };
        if let Some(value) = value {
            global_args.insert(decl.name.clone(), value);
        }
    }
    for proxy in PROXY_ARGS {
        if let Some(value) = options.build_args.get(proxy) {
            global_args.insert(proxy.to_string(), value.clone());
        }
    }
    // As with BuildKit, the platform arguments are in the global scope without an ARG line
    // (so FROM may use them); a stage sees one after `ARG NAME`. Build and target platform are
    // the same: skiff builds for this host only.
    for (name, value) in platform_args() {
        global_args.entry(name).or_insert(value);
    }
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
