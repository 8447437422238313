//! FROM: the stages a target needs, and the image each starts from: an earlier stage, an
//! empty image for `scratch`, or a base image from the store or pulled as `--pull` says,
//! with the ONBUILD triggers it brings.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::dockerfile::{CopySpec, Instruction, Stage};
use super::engine::{Builder, StageState};
use super::options::{host_platform_only, PullPolicy};
use crate::digest::sha256_hex;
use crate::image::config::ImageConfig;
use crate::store::images::ImageIndex;
use crate::words;

impl Builder<'_> {
    /// FROM: the stage's base (substituted with the global ARGs) and its platform checked,
    /// and the state the stage starts in: the base image, from an earlier stage, `scratch`, the
    /// store or a registry, with its config.
    pub(super) fn stage_start(&self, index: usize, stage: &Stage) -> Result<(String, StageState)> {
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
        let state = StageState {
            image_id,
            config: crate::image::read_config(&self.ctx.store, &record)?,
            args: BTreeMap::new(),
            cmd_set: false,
        };
        Ok((base, state))
    }

    /// The stages the target needs, by index: itself, the stages it starts from, and those it
    /// copies from, transitively.
    pub(super) fn needed_stages(&self, target: usize) -> Vec<bool> {
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
    pub(super) fn stage_index(&self, name: &str, before: usize) -> Option<usize> {
        let name = name.to_lowercase();
        if let Ok(number) = name.parse::<usize>() {
            return (number < before).then_some(number);
        }
        self.file.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(name.as_str()))
    }

    /// `FROM scratch`: an image without layers, made once and then kept in the cache (where
    /// its fixed key gives every build the same one, so steps on it stay cached).
    pub(super) fn scratch_image(&self) -> Result<String> {
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
            created: Some(crate::clock::now_rfc3339()),
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
    pub(super) fn base_image(&self, reference: &str) -> Result<String> {
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
                platform: crate::image::platform::Platform::host(),
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

    /// The image `from` names (`--from=`): an earlier stage's result, else an image.
    pub(super) fn image_of_from(&self, state: &StageState, from: &str) -> Result<String> {
        let from = self.substitute(state, from)?;
        match self.stage_index(&from, self.built.len()) {
            Some(stage) => self.built[stage]
                .clone()
                .with_context(|| format!("--from={from}: that stage is not built before this one")),
            None => self.base_image(&from),
        }
    }
}

/// The ONBUILD triggers of an image's config, taken out: a stage runs its base image's
/// triggers and does not hand them on.
pub(super) fn take_onbuild_triggers(config: &mut ImageConfig) -> Vec<String> {
    config
        .config
        .other
        .remove("OnBuild")
        .and_then(|list| serde_json::from_value(list).ok())
        .unwrap_or_default()
}
