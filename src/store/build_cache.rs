//! The build cache on disk: `<root>/build-cache/<key>`, one file per build step, holding the
//! ID of the image that step gave. What a key covers is the build's business (`build::cache`);
//! the store keeps the files, and drops those naming an image that is removed.

use std::path::PathBuf;

use super::{io_error, write_atomic, Error, Store};

impl Store {
    fn build_cache_dir(&self) -> PathBuf {
        self.root().join("build-cache")
    }

    /// The image ID remembered under `key`, whether or not that image is still stored.
    pub fn build_cache_entry(&self, key: &str) -> Option<String> {
        let id = std::fs::read_to_string(self.build_cache_dir().join(key)).ok()?;
        Some(id.trim().to_string())
    }

    /// Remembers that the build step with `key` gave `image_id`.
    pub fn remember_build_step(&self, key: &str, image_id: &str) -> Result<(), Error> {
        let dir = self.build_cache_dir();
        std::fs::create_dir_all(&dir).map_err(io_error(format!("creating {}", dir.display())))?;
        write_atomic(&dir.join(key), image_id.as_bytes())
    }

    /// Drops the entries that name any of `images` (removed by `image prune`).
    pub fn forget_build_cache_for(&self, images: &[String]) -> Result<(), Error> {
        let Ok(entries) = std::fs::read_dir(self.build_cache_dir()) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let id = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if images.iter().any(|image| image == id.trim()) {
                std::fs::remove_file(entry.path())
                    .map_err(io_error(format!("removing {}", entry.path().display())))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_remembered_and_forgotten_by_image() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
        assert_eq!(store.build_cache_entry("k1"), None);
        store.remember_build_step("k1", "aaa").unwrap();
        store.remember_build_step("k2", "bbb").unwrap();
        store.remember_build_step("k3", "aaa").unwrap();
        assert_eq!(store.build_cache_entry("k1").as_deref(), Some("aaa"));
        // The file holds the bare ID, as stores written before this module hold it.
        let raw = std::fs::read_to_string(dir.path().join("root/build-cache/k2")).unwrap();
        assert_eq!(raw, "bbb");
        store.forget_build_cache_for(&["aaa".to_string()]).unwrap();
        assert_eq!(store.build_cache_entry("k1"), None);
        assert_eq!(store.build_cache_entry("k3"), None);
        assert_eq!(store.build_cache_entry("k2").as_deref(), Some("bbb"));
    }
}
