//! The end of a build: `--env` and `--label` on the target's image, `--layers=false`, the
//! image named and listed, and `--output`.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};

use super::engine::{BuildOutcome, Builder, StageState};
use super::options::Output;
use crate::store::images::ImageIndex;

impl Builder<'_> {
    /// `--layers=false`: the built image's file system as one layer, with its config.
    fn squashed(&mut self, id: &str) -> Result<String> {
        let index = ImageIndex::load(&self.ctx.store)?;
        let image = index.by_id(id).context("the built image vanished")?.clone();
        let config = crate::image::read_config(&self.ctx.store, &image)?;
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
        self.with_idle_container(id, |container| {
            crate::container::commit::commit(self.ctx, container, None, &commit)
        })
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
        // A failed write is an --output error; a container that cannot be made or removed is not.
        let written =
            self.with_idle_container(id, |container| Ok(self.write_through(container, output)))?;
        written.context("--output")
    }

    /// The files of the container `container` written where `--output` says.
    fn write_through(&self, container: &str, output: &Output) -> Result<()> {
        match output {
            Output::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                crate::container::copy::copy(
                    self.ctx,
                    &crate::container::copy::Location::Container {
                        reference: container.to_string(),
                        path: "/".into(),
                    },
                    &crate::container::copy::Location::Host(dir.clone()),
                    false,
                )
            }
            Output::Tar(path) => {
                let mut file = std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                crate::container::copy::export(self.ctx, container, &mut file)
            }
        }
    }

    pub(super) fn finish(mut self, id: String) -> Result<BuildOutcome> {
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
}
