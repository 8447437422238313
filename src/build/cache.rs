//! The build cache: a step's key (its parent image, its instruction after substitution, the
//! arguments in scope, and what it copies or mounts), and the image a key gave before, kept in
//! the store (`store::build_cache`) and reused while that image is still stored.

use anyhow::Result;

use super::engine::{Builder, StageState};
use crate::digest::sha256_hex;
use crate::store::images::ImageIndex;

impl Builder<'_> {
    /// The image a step with `key` made before, when it is still in the store (and the build
    /// may use its cache), announced as Podman does.
    pub(super) fn reuse(&mut self, key: &str) -> Option<String> {
        if self.options.no_cache {
            return None;
        }
        let id = self.cached_image(key)?;
        self.say(&format!("--> Using cache {id}"));
        Some(id)
    }

    /// The image the cache holds under `key`, when it is still in the store.
    pub(super) fn cached_image(&self, key: &str) -> Option<String> {
        let id = self.ctx.store.build_cache_entry(key)?;
        let index = ImageIndex::load(&self.ctx.store).ok()?;
        index.by_id(&id)?;
        Some(id)
    }

    /// Remembers that the step with `key` gave the image `id`.
    pub(super) fn remember(&self, key: &str, id: &str) -> Result<()> {
        Ok(self.ctx.store.remember_build_step(key, id)?)
    }

    /// A step's key: its parent image, the instruction as substituted (`text`), the stage's
    /// arguments, and `content` (what it copies or mounts, its network).
    pub(super) fn key(&self, state: &StageState, text: &str, content: &str) -> String {
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
}
