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
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::context_files::Source;
use super::dockerfile::{self, CommandForm, CopySpec, Dockerfile, Instruction, RunNetwork, Stage};
use super::words;
use crate::context::Context;
use crate::image::config::{History, ImageConfig};
use crate::store::images::ImageIndex;

pub struct BuildOptions {
    /// The build context: COPY reads from here.
    pub context: PathBuf,
    /// The Dockerfile's name (for errors) and text.
    pub file_name: String,
    pub file_text: String,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: Vec<(String, String)>,
    pub no_cache: bool,
    /// Only the image ID on standard output.
    pub quiet: bool,
    /// `--target`: the stage to build (default: the last).
    pub target: Option<String>,
    /// `--network`: the network of RUN steps that do not name one.
    pub network: RunNetwork,
    /// `--layers=false`: the image as one layer (its steps are still cached).
    pub squash: bool,
    /// `--format docker`: Docker schema 2 manifests instead of OCI ones.
    pub docker_format: bool,
    /// `--pull`: when base images are pulled.
    pub pull: PullPolicy,
    /// `--secret`: by id, what RUN --mount=type=secret mounts.
    pub secrets: BTreeMap<String, Vec<u8>>,
    /// How base images are pulled.
    pub registry: RegistryAccess,
    /// What every RUN step's container gets besides its own mounts.
    pub step_defaults: StepDefaults,
    /// `--env`: variables set in the built image.
    pub env: Vec<(String, String)>,
    /// `--ignorefile`: read instead of the context's .containerignore or .dockerignore.
    pub ignore_file: Option<PathBuf>,
    /// `--output`: where the built image's files are written too.
    pub output: Option<Output>,
}

/// `--add-host`, `--dns*`, `--no-hosts`, `-v` and `--security-opt`: for every RUN step.
#[derive(Default)]
pub struct StepDefaults {
    pub add_hosts: Vec<String>,
    pub dns: crate::network::DnsOptions,
    pub no_hosts: bool,
    pub volumes: Vec<crate::volume::mounts::MountRequest>,
    pub seccomp: crate::runtime::seccomp::SeccompPolicy,
}

/// `--output`: the built image's file system, as a directory or a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Directory(PathBuf),
    Tar(PathBuf),
}

impl Output {
    /// `DIR`, `type=local,dest=DIR` or `type=tar,dest=FILE`.
    pub fn parse(text: &str) -> Result<Output> {
        // Standard output carries the steps' output and the image ID.
        if text == "-" || text.ends_with("dest=-") {
            bail!("--output {text}: skiff does not write the archive to standard output, which carries the build's output; name a file: type=tar,dest=FILE");
        }
        if !text.contains('=') {
            return Ok(Output::Directory(PathBuf::from(text)));
        }
        let mut kind = None;
        let mut dest = None;
        for field in text.split(',') {
            match field.split_once('=') {
                Some(("type", value)) => kind = Some(value),
                Some(("dest", value)) => dest = Some(value),
                _ => {
                    bail!("--output {text}: unknown field {field:?}; use type=local|tar,dest=PATH")
                }
            }
        }
        let dest = dest.with_context(|| format!("--output {text}: dest=PATH is missing"))?;
        match kind {
            Some("local") => Ok(Output::Directory(PathBuf::from(dest))),
            Some("tar") => Ok(Output::Tar(PathBuf::from(dest))),
            _ => bail!("--output {text}: skiff writes type=local or type=tar"),
        }
    }
}

/// `--tls-verify`, `--authfile`, `--creds`: for pulling base images.
pub struct RegistryAccess {
    pub tls_verify: Option<bool>,
    pub authfile: Option<PathBuf>,
    pub credentials: Option<crate::registry::auth::Credentials>,
}

/// `--pull`: when a base image is pulled rather than taken from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    /// Only when the store does not have it (the default).
    Missing,
    /// Every time; a failed pull fails the build.
    Always,
    /// Every time, but the stored image does when the registry cannot give one.
    Newer,
    /// Never: the store must have it.
    Never,
}

/// What a COPY or ADD copies: host paths, those of them never unpacked (fetched files), and
/// whether it is an ADD.
struct CopyWhat<'a> {
    sources: &'a [Source],
    packed: &'a [PathBuf],
    add: bool,
}

/// A RUN instruction's parts.
struct RunWhat<'a> {
    form: &'a CommandForm,
    /// Here-documents run as programs, at /dev/pipes/NAME.
    programs: &'a [dockerfile::HereDoc],
    mounts: &'a [dockerfile::RunMount],
    network: RunNetwork,
}

/// How a build ended.
pub enum BuildOutcome {
    Built(String),
    /// A RUN step exited with this code: the build stopped there.
    StepFailed {
        step: String,
        code: i32,
    },
}

/// The arguments Docker predefines: usable without an ARG line, kept out of the image.
const PROXY_ARGS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// One stage as it builds: the image it has reached and what is in scope.
struct StageState {
    image_id: String,
    config: ImageConfig,
    /// ARGs declared in the stage, with their values.
    args: BTreeMap<String, String>,
    /// A CMD was set in this stage: a later ENTRYPOINT keeps it (it drops only an inherited one).
    cmd_set: bool,
}

struct Builder<'a> {
    ctx: &'a Context,
    options: &'a BuildOptions,
    file: Dockerfile,
    /// The global ARGs with their values (defaults, overridden by --build-arg).
    global_args: BTreeMap<String, String>,
    /// Built stages: index → final image id.
    built: Vec<Option<String>>,
    /// The context's .containerignore or .dockerignore.
    ignore: super::copy::Ignore,
    out: Box<dyn Write>,
    step_number: usize,
    step_count: usize,
    multi_stage: bool,
    /// Images this build pulled, by reference: `--pull=always` pulls each once, and FROM and
    /// every `--from=` naming it see the same image.
    pulled: std::cell::RefCell<BTreeMap<String, String>>,
    /// The lease this build holds: its step containers carry its id.
    lease: crate::container::build_lease::BuildLease,
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::store::sha256_digest(bytes)
        .trim_start_matches("sha256:")
        .to_string()
}

/// Where the cache of build steps lives: one file per key, holding the image ID it gave.
fn cache_dir(ctx: &Context) -> PathBuf {
    ctx.store.root().join("build-cache")
}

/// Drops the cache entries that name any of `images` (removed by `image prune`).
pub fn forget_cached(ctx: &Context, images: &[String]) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(cache_dir(ctx)) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let id = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if images.iter().any(|image| image == id.trim()) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
        }
    }
    Ok(())
}

impl Builder<'_> {
    fn say(&mut self, line: &str) {
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

    /// The image a step with `key` made before, when it is still in the store (and the build
    /// may use its cache), announced as Podman does.
    fn reuse(&mut self, key: &str) -> Option<String> {
        if self.options.no_cache {
            return None;
        }
        let id = self.cached_image(key)?;
        self.say(&format!("--> Using cache {id}"));
        Some(id)
    }

    /// The image the cache holds under `key`, when it is still in the store.
    fn cached_image(&self, key: &str) -> Option<String> {
        let id = std::fs::read_to_string(cache_dir(self.ctx).join(key)).ok()?;
        let id = id.trim().to_string();
        let index = ImageIndex::load(&self.ctx.store).ok()?;
        index.by_id(&id)?;
        Some(id)
    }

    fn remember(&self, key: &str, id: &str) -> Result<()> {
        let dir = cache_dir(self.ctx);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        crate::store::write_atomic(&dir.join(key), id.as_bytes())?;
        Ok(())
    }

    /// The stages the target needs, by index: itself, the stages it starts from, and those it
    /// copies from, transitively.
    fn needed_stages(&self, target: usize) -> Vec<bool> {
        let mut needed = vec![false; self.file.stages.len()];
        let mut pending = vec![target];
        while let Some(index) = pending.pop() {
            if needed[index] {
                continue;
            }
            needed[index] = true;
            let stage = &self.file.stages[index];
            if let Some(base) = self.stage_index(&stage.base, index) {
                pending.push(base);
            }
            for step in &stage.steps {
                let froms: Vec<&str> = match &step.instruction {
                    Instruction::Copy(CopySpec {
                        from: Some(from), ..
                    }) => vec![from],
                    Instruction::Run { mounts, .. } => mounts
                        .iter()
                        .filter_map(|m| m.options.get("from").map(String::as_str))
                        .collect(),
                    _ => Vec::new(),
                };
                pending.extend(froms.into_iter().filter_map(|f| self.stage_index(f, index)));
            }
        }
        needed
    }

    /// An earlier stage named `name` (or numbered), seen from stage `before`.
    fn stage_index(&self, name: &str, before: usize) -> Option<usize> {
        let name = name.to_lowercase();
        if let Ok(number) = name.parse::<usize>() {
            return (number < before).then_some(number);
        }
        self.file.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(name.as_str()))
    }

    fn lookup_global(&self, name: &str) -> Option<String> {
        self.global_args.get(name).cloned()
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

    /// `--layers=false`: the built image's file system as one layer, with its config.
    fn squashed(&mut self, id: &str) -> Result<String> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let image = index.by_id(id).context("the built image vanished")?.clone();
        let config = crate::image::read_config(&self.ctx.store, &image)?;
        let record = self.idle_container(id)?;
        let commit = crate::container::commit::CommitOptions {
            author: config.author.clone(),
            message: None,
            changes: Vec::new(),
            pause: false,
            squash: true,
            docker_format: self.options.docker_format,
            step: Some(crate::container::commit::StepCommit {
                run_config: config.config.clone(),
                created_by: "/bin/sh -c #(nop) squashed by skiff build --layers=false".into(),
            }),
        };
        let squashed = crate::container::commit::commit(self.ctx, &record.id, None, &commit);
        crate::container::remove(self.ctx, std::slice::from_ref(&record.id), true, true)?;
        squashed
    }

    /// `--env` then `--label`: on the target's image only, each a cached step of its own.
    fn finishing_steps(&mut self, mut id: String) -> Result<String> {
        type Apply = fn(&mut crate::image::config::RunConfig, &str, &str);
        let set_env: Apply = |run, name, value| run.set_env(name, value);
        let set_label: Apply = |run, key, value| {
            let labels = run.labels.get_or_insert_with(BTreeMap::new);
            labels.insert(key.to_string(), value.to_string());
        };
        let settings = [
            ("ENV", &self.options.env, set_env),
            ("LABEL", &self.options.labels, set_label),
        ];
        for (instruction, pairs, apply) in settings {
            if pairs.is_empty() {
                continue;
            }
            let index = ImageIndex::load(&self.ctx.store)?;
            let image = index.by_id(&id).context("the built image vanished")?;
            let mut state = StageState {
                config: crate::image::read_config(&self.ctx.store, image)?,
                image_id: id.clone(),
                args: BTreeMap::new(),
                cmd_set: false,
            };
            let shown: Vec<String> = pairs
                .iter()
                .map(|(key, value)| {
                    apply(&mut state.config.config, key, value);
                    format!("{key}={value}")
                })
                .collect();
            let described = format!("{instruction} {}", shown.join(" "));
            let key = self.key(&state, &described, "");
            id = match self.reuse(&key) {
                Some(id) => id,
                None => self.metadata_step(&state, &key, &described)?,
            };
        }
        Ok(id)
    }

    /// `--output`: the image's files written out, through a container that never runs.
    fn write_output(&self, id: &str, output: &Output) -> Result<()> {
        let record = self.idle_container(id)?;
        let written = (|| -> Result<()> {
            match output {
                Output::Directory(dir) => {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    crate::container::copy::copy(
                        self.ctx,
                        &crate::container::copy::Location::Container {
                            reference: record.id.clone(),
                            path: "/".into(),
                        },
                        &crate::container::copy::Location::Host(dir.clone()),
                        false,
                    )
                }
                Output::Tar(path) => {
                    let mut file = std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    crate::container::copy::export(self.ctx, &record.id, &mut file)
                }
            }
        })();
        crate::container::remove(self.ctx, std::slice::from_ref(&record.id), true, true)?;
        written.context("--output")
    }

    fn finish(mut self, id: String) -> Result<BuildOutcome> {
        let mut id = self.finishing_steps(id)?;
        if self.options.squash {
            id = self.squashed(&id)?;
        }
        let names: Vec<String> = self
            .options
            .tags
            .iter()
            .map(|t| crate::image::reference::Reference::parse(t).map(|r| r.to_local_name()))
            .collect::<Result<_, _>>()?;
        if let Some(first) = names.first() {
            self.say(&format!("COMMIT {first}"));
        }
        // The result is no build step's cache: `images` lists it, with its names or as <none>.
        let lock = self.ctx.store.lock()?;
        let mut index = ImageIndex::load(&self.ctx.store)?;
        let mut record = index
            .by_id(&id)
            .context("the built image vanished")?
            .clone();
        record.names = names.clone();
        record.intermediate = false;
        index.upsert(record);
        index.save(&self.ctx.store, &lock)?;
        drop(lock);
        for name in &names {
            self.say(&format!("Successfully tagged {name}"));
        }
        if let Some(output) = &self.options.output {
            self.write_output(&id, output)?;
        }
        Ok(BuildOutcome::Built(id))
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

    /// `FROM scratch`: an image without layers, made once and then kept in the cache (where
    /// its fixed key gives every build the same one, so steps on it stay cached).
    fn scratch_image(&self) -> Result<String> {
        let key = sha256_hex(
            format!(
                "skiff-build-1\nFROM scratch\ndocker={}",
                self.options.docker_format
            )
            .as_bytes(),
        );
        if let Some(id) = self.cached_image(&key) {
            return Ok(id);
        }
        let config = ImageConfig {
            created: Some(jiff::Timestamp::now().to_string()),
            architecture: crate::image::config::host_architecture().to_string(),
            os: "linux".into(),
            ..ImageConfig::default()
        };
        let id =
            crate::image::add_config_image(self.ctx, &[], &config, self.options.docker_format)?;
        self.remember(&key, &id)?;
        Ok(id)
    }

    /// A base image from the store, or pulled, as `--pull` says.
    fn base_image(&self, reference: &str) -> Result<String> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let stored = crate::image::find(&index, reference).map(|image| image.id.clone());
        match (self.options.pull, stored) {
            (PullPolicy::Missing, Ok(id)) => return Ok(id),
            (PullPolicy::Never, stored) => {
                return stored
                    .map_err(|e| anyhow::anyhow!("{e:#} (and --pull=never forbids pulling it)"))
            }
            (PullPolicy::Newer, Ok(id)) => {
                return Ok(self.pull_base(reference).unwrap_or(id));
            }
            _ => {}
        }
        self.pull_base(reference)
    }

    fn pull_base(&self, reference: &str) -> Result<String> {
        if let Some(id) = self.pulled.borrow().get(reference) {
            return Ok(id.clone());
        }
        let pulled = crate::image::pull::pull(
            self.ctx,
            reference,
            &crate::image::pull::PullOptions {
                platform: crate::image::pull::Platform::host(),
                quiet: self.options.quiet,
                tls_verify: self.options.registry.tls_verify,
                authfile: self.options.registry.authfile.clone(),
                credentials: self.options.registry.credentials.clone(),
                all_tags: false,
            },
        )?;
        let id = pulled
            .first()
            .map(|p| p.id.clone())
            .with_context(|| format!("pulling {reference} gave no image"))?;
        self.pulled
            .borrow_mut()
            .insert(reference.to_string(), id.clone());
        Ok(id)
    }

    /// What variables a step sees: the stage's ARGs, then its ENV (which wins, as in Docker).
    fn variables(&self, state: &StageState) -> BTreeMap<String, String> {
        let mut vars = state.args.clone();
        for entry in state.config.config.env.iter().flatten() {
            if let Some((name, value)) = entry.split_once('=') {
                vars.insert(name.to_string(), value.to_string());
            }
        }
        vars
    }

    fn key(&self, state: &StageState, text: &str, content: &str) -> String {
        let args = serde_json::to_string(&state.args).unwrap_or_default();
        // Docker-format steps are other images than OCI ones of the same content.
        let format = match self.options.docker_format {
            true => "docker\n",
            false => "",
        };
        sha256_hex(
            format!(
                "skiff-build-1\n{format}{}\n{text}\n{args}\n{content}",
                state.image_id
            )
            .as_bytes(),
        )
    }

    /// A config-only step: a new image with the same layers and `state.config`.
    fn metadata_step(&self, state: &StageState, key: &str, created_by: &str) -> Result<String> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let base = index
            .by_id(&state.image_id)
            .context("the image vanished")?
            .clone();
        // The parent's own config holds the whole history and rootfs (RUN and COPY steps
        // commit on top of it); the step changes only the run config and the author.
        let mut config = crate::image::read_config(&self.ctx.store, &base)?;
        config.config = state.config.config.clone();
        config.author = state.config.author.clone();
        let created = jiff::Timestamp::now().to_string();
        config.created = Some(created.clone());
        config.history.push(History {
            created: Some(created),
            created_by: Some(format!("/bin/sh -c #(nop) {created_by}")),
            empty_layer: true,
            ..History::default()
        });
        let id = crate::image::add_config_image(
            self.ctx,
            &base.layers,
            &config,
            self.options.docker_format,
        )?;
        self.remember(key, &id)?;
        Ok(id)
    }

    fn substitute_document(&self, state: &StageState, text: &str) -> Result<String> {
        let vars = self.variables(state);
        let lookup = |name: &str| vars.get(name).cloned();
        words::expand_document(text, &lookup, self.file.escape).map_err(anyhow::Error::msg)
    }

    fn substitute(&self, state: &StageState, word: &str) -> Result<String> {
        let vars = self.variables(state);
        let lookup = |name: &str| vars.get(name).cloned();
        words::expand(word, &lookup, self.file.escape).map_err(anyhow::Error::msg)
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

    /// The first directory of `path` the image lacks, and those below it (relative): what
    /// WORKDIR makes. Empty when the image has them all.
    fn missing_directories(&self, state: &StageState, path: &Path) -> Result<Vec<PathBuf>> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let image = index.by_id(&state.image_id).context("the image vanished")?;
        let layers: Vec<String> = image.layers.iter().rev().cloned().collect();
        let layers_dir = self.ctx.store.layers_dir();
        let mut prefix = PathBuf::new();
        let mut missing = Vec::new();
        for part in path.components().skip(1) {
            prefix.push(part);
            if missing.is_empty()
                && crate::archive::layer_entry(&layers_dir, &layers, &prefix).is_some()
            {
                continue;
            }
            missing.push(prefix.clone());
        }
        Ok(missing)
    }

    /// WORKDIR of a directory the image lacks: the `missing` directories made (0755, owned by
    /// the stage's USER, as BuildKit makes them) in a layer of their own.
    fn make_workdir(
        &mut self,
        state: &mut StageState,
        missing: &[PathBuf],
        described: &str,
    ) -> Result<Option<BuildOutcome>> {
        let key = self.key(state, described, "mkdir");
        if let Some(id) = self.reuse(&key) {
            state.image_id = id;
            return Ok(None);
        }
        let (uid, gid) = match state.config.config.user.clone() {
            Some(user) if !user.is_empty() => self.resolve_owner(state, &user)?,
            _ => (0, 0),
        };
        let mut archive = tar::Builder::new(Vec::new());
        let now = jiff::Timestamp::now().as_second().max(0) as u64;
        for directory in missing {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_uid(uid.into());
            header.set_gid(gid.into());
            header.set_mtime(now);
            header.set_size(0);
            header.set_path(directory)?;
            header.set_cksum();
            archive.append(&header, std::io::empty())?;
        }
        let bytes = archive.into_inner()?;
        let record = self.idle_container(&state.image_id)?;
        let made = crate::container::copy::put_archive(self.ctx, &record.id, &mut &bytes[..])
            .and_then(|()| {
                self.commit(&record.id, state, format!("/bin/sh -c #(nop) {described}"))
            });
        crate::container::remove(self.ctx, std::slice::from_ref(&record.id), true, true)?;
        let id = made?;
        self.remember(&key, &id)?;
        state.image_id = id;
        Ok(None)
    }

    /// The argv of a CMD, ENTRYPOINT or RUN: the exec form as written, the shell form through
    /// the stage's SHELL (default `/bin/sh -c`).
    fn command_argv(&self, state: &StageState, form: &CommandForm) -> Vec<String> {
        match form {
            CommandForm::Exec(argv) => argv.clone(),
            CommandForm::Shell(text) => {
                let mut argv: Vec<String> = state
                    .config
                    .config
                    .other
                    .get("Shell")
                    .and_then(|s| serde_json::from_value(s.clone()).ok())
                    .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                argv.push(text.clone());
                argv
            }
        }
    }

    /// What a RUN step's mounts give the build: its files are made only when `plan` is given
    /// back to `prepare` (`run_mounts` explains the two steps).
    fn mount_sources<'s>(&'s self, scratch: &'s Path) -> super::run_mounts::MountSources<'s> {
        super::run_mounts::MountSources {
            ctx: self.ctx,
            context: &self.options.context,
            ignore: &self.ignore,
            secrets: &self.options.secrets,
            scratch,
        }
    }

    fn run_step(
        &mut self,
        state: &mut StageState,
        run: &RunWhat<'_>,
        text: &str,
    ) -> Result<Option<BuildOutcome>> {
        let scratch = self.ctx.store.staging_path("run-mounts");
        let result = self.run_step_with(state, run, text, &scratch);
        if scratch.exists() {
            crate::image::remove_tree_in_userns(self.ctx, scratch)?;
        }
        result
    }

    fn run_step_with(
        &mut self,
        state: &mut StageState,
        run: &RunWhat<'_>,
        text: &str,
        scratch: &Path,
    ) -> Result<Option<BuildOutcome>> {
        let form = run.form;
        let network = run.network;
        let argv = self.command_argv(state, form);
        let sources = self.mount_sources(scratch);
        let mut image_of = |from: &str| self.image_of_from(state, from);
        let plan = super::run_mounts::plan(&sources, run.mounts, run.programs, &mut image_of)?;
        let key = self.key(
            state,
            &format!("RUN {}", argv_json(Some(&argv))),
            &format!("{network:?}\n{}", plan.key),
        );
        if let Some(id) = self.reuse(&key) {
            state.image_id = id;
            return Ok(None);
        }
        let mut copies = 0;
        let mut copy_out = |image: &str, source: &str| -> Result<PathBuf> {
            copies += 1;
            let holder = scratch.join(format!("from-{copies}"));
            let copied = self.copy_out_of(image, &[source.to_string()], &holder)?;
            let first = copied.into_iter().next();
            first.map(|s| s.path()).context("nothing was copied out")
        };
        let sources = self.mount_sources(scratch);
        let mounts =
            super::run_mounts::prepare(&sources, run.mounts, run.programs, &plan, &mut copy_out)?;
        // Build arguments reach the command as environment, but not the image.
        let mut env: Vec<String> = state
            .args
            .iter()
            .filter(|(name, _)| {
                !state
                    .config
                    .config
                    .env
                    .iter()
                    .flatten()
                    .any(|e| e.starts_with(&format!("{name}=")))
            })
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        env.extend(mounts.env);
        let defaults = &self.options.step_defaults;
        let mut requests = defaults.volumes.clone();
        requests.extend(mounts.requests);
        let options = crate::container::CreateOptions {
            image: state.image_id.clone(),
            command: argv.clone(),
            entrypoint: Some(String::new()),
            env,
            mounts: requests,
            add_hosts: defaults.add_hosts.clone(),
            dns: defaults.dns.clone(),
            no_hosts: defaults.no_hosts,
            seccomp: defaults.seccomp.clone(),
            workdir: state.config.config.working_dir.clone(),
            user: state.config.config.user.clone(),
            network: match network {
                RunNetwork::Default if self.options.network != RunNetwork::Default => {
                    match self.options.network {
                        RunNetwork::None => crate::network::NetworkRequest::None,
                        _ => crate::network::NetworkRequest::Host,
                    }
                }
                RunNetwork::Default => crate::network::NetworkRequest::default(),
                RunNetwork::None => crate::network::NetworkRequest::None,
                RunNetwork::Host => crate::network::NetworkRequest::Host,
            },
            build: Some(self.lease.id.clone()),
            ..Default::default()
        };
        let record = crate::container::create(self.ctx, &options)?;
        let result = (|| -> Result<Option<BuildOutcome>> {
            let code = crate::container::start(self.ctx, &record.id, false)?;
            if code != 0 {
                return Ok(Some(BuildOutcome::StepFailed {
                    step: text.to_string(),
                    code,
                }));
            }
            let created_by = match form {
                CommandForm::Shell(_) => argv.join(" "),
                CommandForm::Exec(_) => format!("/bin/sh -c #(nop) RUN {}", argv_json(Some(&argv))),
            };
            let id = self.commit(&record.id, state, created_by)?;
            self.remember(&key, &id)?;
            state.image_id = id;
            Ok(None)
        })();
        crate::container::remove(self.ctx, std::slice::from_ref(&record.id), true, true)?;
        result
    }

    fn commit(&self, container: &str, state: &StageState, created_by: String) -> Result<String> {
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

    /// The image `from` names (`--from=`): an earlier stage's result, else an image.
    fn image_of_from(&self, state: &StageState, from: &str) -> Result<String> {
        let from = self.substitute(state, from)?;
        match self.stage_index(&from, self.built.len()) {
            Some(stage) => self.built[stage]
                .clone()
                .with_context(|| format!("--from={from}: that stage is not built before this one")),
            None => self.base_image(&from),
        }
    }

    /// The files `sources` (substituted already) names in `image`, copied out to `scratch`
    /// (removed by the caller), where they are read as from a build context. A source that is
    /// a link is followed inside the image, as BuildKit follows it.
    fn copy_out_of(&self, image: &str, sources: &[String], scratch: &Path) -> Result<Vec<Source>> {
        let record = self.idle_container(image)?;
        let copied = (|| -> Result<Vec<Source>> {
            let mut found = Vec::new();
            let has_wildcard = |text: &str| text.contains(['*', '?', '[']);
            for (number, source) in sources.iter().enumerate() {
                let holder = scratch.join(number.to_string());
                std::fs::create_dir_all(&holder)?;
                let inside = Path::new("/").join(source.trim_start_matches('/'));
                // With a pattern: the directory above its first wildcard is copied out, and
                // the rest matched there.
                let literal: PathBuf = inside
                    .components()
                    .take_while(|c| !has_wildcard(&c.as_os_str().to_string_lossy()))
                    .collect();
                let pattern = inside.strip_prefix(&literal).unwrap_or(&inside);
                let patterned = !pattern.as_os_str().is_empty();
                let fetched = match patterned {
                    true => literal.as_path(),
                    false => &inside,
                };
                let copied = self
                    .copy_following_links(&record.id, fetched, &holder)
                    .with_context(|| format!("copying {source} out"))?;
                match patterned {
                    true => found.extend(super::context_files::matching_sources(
                        &copied,
                        &pattern.to_string_lossy(),
                        &super::copy::Ignore::default(),
                    )?),
                    false => found.push(Source::at(&copied)),
                }
            }
            Ok(found)
        })();
        crate::container::remove(self.ctx, std::slice::from_ref(&record.id), true, true)?;
        copied
    }

    /// Copies `path` of the container `id` into `holder`; while what came out is a link, its
    /// target (inside the container) is copied out in its place. Returns where it landed.
    fn copy_following_links(&self, id: &str, path: &Path, holder: &Path) -> Result<PathBuf> {
        let copy = |path: &Path, dest: &Path| {
            crate::container::copy::copy(
                self.ctx,
                &crate::container::copy::Location::Container {
                    reference: id.to_string(),
                    path: path.display().to_string(),
                },
                &crate::container::copy::Location::Host(dest.to_path_buf()),
                false,
            )
        };
        copy(path, holder)?;
        let copied = holder.join(path.file_name().unwrap_or_default());
        let mut path = path.to_path_buf();
        for _ in 0..40 {
            if !std::fs::symlink_metadata(&copied).is_ok_and(|m| m.file_type().is_symlink()) {
                return Ok(copied);
            }
            let target = std::fs::read_link(&copied)?;
            path = in_image(&path.parent().unwrap_or(Path::new("/")).join(target));
            std::fs::remove_file(&copied)?;
            copy(&path, &copied)?;
        }
        bail!("{}: too many levels of symbolic links", path.display())
    }

    /// COPY, or ADD (`add`): local tar archives unpacked, URLs fetched.
    fn copy_step(
        &mut self,
        state: &mut StageState,
        spec: &CopySpec,
        text: &str,
        add: bool,
    ) -> Result<()> {
        let dest = self.substitute(state, &spec.dest)?;
        let workdir = state
            .config
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let dest_path = Path::new(&workdir).join(&dest);
        let scratch = self.ctx.store.staging_path("copy-from");
        let sources = match &spec.from {
            Some(from) => self.image_of_from(state, from).and_then(|image| {
                let sources = spec
                    .sources
                    .iter()
                    .map(|source| self.substitute(state, source))
                    .collect::<Result<Vec<_>>>()?;
                self.copy_out_of(&image, &sources, &scratch)
                    .with_context(|| format!("COPY --from={from}"))
            }),
            None => spec
                .sources
                .iter()
                .enumerate()
                .map(|(number, source)| {
                    let source = self.substitute(state, source)?;
                    if add && (source.starts_with("http://") || source.starts_with("https://")) {
                        let dir = scratch.join(format!("url-{number}"));
                        return super::copy::download(&source, &dir)
                            .map(|path| vec![Source::at(&path)]);
                    }
                    super::context_files::matching_sources(
                        &self.options.context,
                        &source,
                        &self.ignore,
                    )
                    .context(if add { "ADD" } else { "COPY" })
                })
                .collect::<Result<Vec<_>>>()
                .map(|found| found.concat()),
        };
        // `COPY <<NAME dest`: each document a file named after its delimiter, substituted
        // unless the delimiter is quoted.
        let sources = sources.and_then(|mut sources| {
            for (number, document) in spec.heredocs.iter().enumerate() {
                let body = match document.expand {
                    true => self.substitute_document(state, &document.body)?,
                    false => document.body.clone(),
                };
                let dir = scratch.join(format!("document-{number}"));
                std::fs::create_dir_all(&dir)?;
                let path = dir.join(&document.name);
                std::fs::write(&path, body)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
                sources.push(Source::at(&path));
            }
            Ok(sources)
        });
        let copied = sources.and_then(|sources| {
            // A fetched file is never unpacked, as in Docker.
            let packed: Vec<PathBuf> = sources
                .iter()
                .map(Source::path)
                .filter(|path| path.starts_with(&scratch))
                .collect();
            let what = CopyWhat {
                sources: &sources,
                packed: &packed,
                add,
            };
            self.copy_sources(state, spec, text, &what, &dest, &dest_path)
        });
        let _ = std::fs::remove_dir_all(&scratch);
        copied
    }

    fn copy_sources(
        &mut self,
        state: &mut StageState,
        spec: &CopySpec,
        text: &str,
        what: &CopyWhat<'_>,
        dest: &str,
        dest_path: &Path,
    ) -> Result<()> {
        let sources = what.sources;
        let unpacked = |s: &Source| {
            what.add && !what.packed.contains(&s.path()) && super::copy::is_tar_archive(s)
        };
        // A source is what it resolved to, never followed further.
        let is_dir = |s: &Source| s.metadata().is_ok_and(|m| m.is_dir());
        let into_directory = dest.ends_with('/')
            || sources.len() > 1
            || sources.iter().any(|s| is_dir(s) || unpacked(s));
        let owner = match &spec.chown {
            Some(chown) => {
                let chown = self.substitute(state, chown)?;
                Some(self.resolve_owner(state, &chown)?)
            }
            None => None,
        };
        let mode = spec
            .chmod
            .as_deref()
            .map(|m| u32::from_str_radix(m, 8))
            .transpose()
            .context("--chmod")?;
        let archive_path = self.ctx.store.staging_path("copy").with_extension("tar");
        let archive = std::fs::File::create(&archive_path)
            .with_context(|| format!("creating {}", archive_path.display()))?;
        let plan = super::copy::CopyPlan {
            sources,
            dest: dest_path,
            into_directory,
            owner,
            mode,
            unpack_archives: what.add,
            packed: what.packed,
            context: &self.options.context,
            ignore: &self.ignore,
        };
        let digest = super::copy::write_archive(&plan, archive);
        let digest = match digest {
            Ok(digest) => digest,
            Err(e) => {
                let _ = std::fs::remove_file(&archive_path);
                return Err(e);
            }
        };
        // The archive's digest covers every name (so the destination), owner, mode and byte.
        let key = self.key(state, text, &digest);
        if let Some(id) = self.reuse(&key) {
            let _ = std::fs::remove_file(&archive_path);
            state.image_id = id;
            return Ok(());
        }
        let record = self.idle_container(&state.image_id)?;
        let result = (|| -> Result<String> {
            let mut input = std::fs::File::open(&archive_path)?;
            crate::container::copy::put_archive(self.ctx, &record.id, &mut input)?;
            let instruction = if what.add { "ADD" } else { "COPY" };
            let created_by = format!(
                "/bin/sh -c #(nop) {instruction} file:{digest} in {}",
                dest_path.display()
            );
            self.commit(&record.id, state, created_by)
        })();
        let _ = std::fs::remove_file(&archive_path);
        crate::container::remove(self.ctx, std::slice::from_ref(&record.id), true, true)?;
        let id = result?;
        self.remember(&key, &id)?;
        state.image_id = id;
        Ok(())
    }

    /// `--chown=user[:group]`: numbers as they are, names looked up in the image.
    fn resolve_owner(&self, state: &StageState, chown: &str) -> Result<(u32, u32)> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let image = index.by_id(&state.image_id).context("the image vanished")?;
        let layers: Vec<String> = image.layers.iter().rev().cloned().collect();
        crate::container::userns::resolve_ids(self.ctx, &layers, chown)
    }
}

/// `path` (absolute) with its `.` and `..` parts worked out, `..` stopping at the root as it
/// does inside an image.
fn in_image(path: &Path) -> PathBuf {
    let mut normal = PathBuf::from("/");
    for component in path.components() {
        match component {
            std::path::Component::Normal(part) => normal.push(part),
            std::path::Component::ParentDir => {
                normal.pop();
            }
            _ => {}
        }
    }
    normal
}

/// Refuses a platform other than this host's (`linux/ARCH`, with any variant): skiff runs a
/// build's steps natively, without an emulator.
pub fn host_platform_only(platform: &str) -> Result<()> {
    let host = format!("linux/{}", crate::image::config::host_architecture());
    if platform != host && !platform.starts_with(&format!("{host}/")) {
        bail!("--platform {platform}: skiff builds for this host's platform only ({host}); another needs an emulator, which skiff does not drive");
    }
    Ok(())
}

/// TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT and their BUILD… twins, for this host.
fn platform_args() -> Vec<(String, String)> {
    let host = crate::image::pull::Platform::host();
    let variant = host.variant.clone().unwrap_or_default();
    let platform = match &host.variant {
        Some(variant) => format!("{}/{}/{variant}", host.os, host.architecture),
        None => format!("{}/{}", host.os, host.architecture),
    };
    ["TARGET", "BUILD"]
        .into_iter()
        .flat_map(|prefix| {
            [
                (format!("{prefix}PLATFORM"), platform.clone()),
                (format!("{prefix}OS"), host.os.clone()),
                (format!("{prefix}ARCH"), host.architecture.clone()),
                (format!("{prefix}VARIANT"), variant.clone()),
            ]
        })
        .collect()
}

fn argv_json(argv: Option<&[String]>) -> String {
    serde_json::to_string(&argv.unwrap_or_default()).unwrap_or_default()
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
