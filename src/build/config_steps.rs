//! The steps that change only the image's config (ENV, LABEL, USER, CMD, …), each a new image
//! with the same layers, and WORKDIR, which adds a layer when the directory is missing.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::dockerfile::CommandForm;
use super::engine::{BuildOutcome, Builder, StageState};
use crate::image::config::History;
use crate::store::images::ImageIndex;

impl Builder<'_> {
    /// A config-only step: a new image with the same layers and `state.config`.
    pub(super) fn metadata_step(
        &self,
        state: &StageState,
        key: &str,
        created_by: &str,
    ) -> Result<String> {
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

    /// The first directory of `path` the image lacks, and those below it (relative): what
    /// WORKDIR makes. Empty when the image has them all.
    pub(super) fn missing_directories(
        &self,
        state: &StageState,
        path: &Path,
    ) -> Result<Vec<PathBuf>> {
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
    pub(super) fn make_workdir(
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
    pub(super) fn command_argv(&self, state: &StageState, form: &CommandForm) -> Vec<String> {
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
}

pub(super) fn argv_json(argv: Option<&[String]>) -> String {
    serde_json::to_string(&argv.unwrap_or_default()).unwrap_or_default()
}
