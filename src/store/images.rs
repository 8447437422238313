//! The image index: which images the store holds, under which names, with which layers.
//! One JSON file replaced atomically; readers take no lock.

use serde::{Deserialize, Serialize};

use super::{io_error, write_atomic, Error, Store, StoreLock};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// Hex sha256 of the config bytes: the image ID.
    pub id: String,
    /// `sha256:` digest of the manifest bytes (Podman's `Digest`).
    pub manifest_digest: String,
    pub manifest_media_type: String,
    /// Fully qualified names, e.g. `localhost/app:latest`, newest first.
    pub names: Vec<String>,
    /// Chain ids of the layers, base first.
    pub layers: Vec<String>,
    /// Podman's image size: the layers' uncompressed tar bytes, the config's and twice the
    /// manifest's (stores written before this counted the layers' file bytes alone).
    pub size: u64,
    /// When the image entered this store (RFC 3339).
    pub added: String,
    /// The digest of the image index it was pulled through, for a multi-platform image: then
    /// Podman's `Digest`, and a second RepoDigest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// Repositories (`registry/path`) it was pulled from, which give RepoDigests even when it
    /// has no tag (a pull by digest).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    /// Made by a build step (its cache): listed by `images` only with -a while it has no name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intermediate: bool,
}

impl ImageRecord {
    pub fn config_digest(&self) -> String {
        format!("sha256:{}", self.id)
    }

    /// Podman's `Digest`: the digest the image was pulled by.
    pub fn digest(&self) -> &str {
        self.index_digest
            .as_deref()
            .unwrap_or(&self.manifest_digest)
    }

    /// Podman's `RepoDigests`: every repository it is known in, with each of its digests.
    pub fn repo_digests(&self) -> Vec<String> {
        let mut repositories: Vec<String> = self
            .names
            .iter()
            .map(|n| super::reference::split_name(n).0)
            .chain(self.repositories.iter().cloned())
            .collect();
        repositories.dedup();
        let mut seen = std::collections::HashSet::new();
        repositories.retain(|r| seen.insert(r.clone()));
        let digests: Vec<&str> = self
            .index_digest
            .iter()
            .map(String::as_str)
            .chain([self.manifest_digest.as_str()])
            .collect();
        repositories
            .iter()
            .flat_map(|r| digests.iter().map(move |d| format!("{r}@{d}")))
            .collect()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageIndex {
    pub images: Vec<ImageRecord>,
}

fn index_path(store: &Store) -> std::path::PathBuf {
    store.root().join("images/index.json")
}

impl ImageIndex {
    pub fn load(store: &Store) -> Result<Self, Error> {
        let path = index_path(store);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path,
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ImageIndex::default()),
            Err(e) => Err(io_error(format!("reading {}", path.display()))(e)),
        }
    }

    pub fn save(&self, store: &Store, _lock: &StoreLock) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Corrupt {
            path: index_path(store),
            reason: e.to_string(),
        })?;
        write_atomic(&index_path(store), &bytes)
    }

    pub fn by_id(&self, id: &str) -> Option<&ImageRecord> {
        self.images.iter().find(|i| i.id == id)
    }

    /// Adds an image or merges names into the existing one with the same ID; a name moves from
    /// any other image to this one, as a tag does in Docker.
    pub fn upsert(&mut self, mut record: ImageRecord) {
        for other in &mut self.images {
            if other.id != record.id {
                other.names.retain(|n| !record.names.contains(n));
            }
        }
        match self.images.iter_mut().find(|i| i.id == record.id) {
            Some(existing) => {
                // Named, pulled or loaded as itself: no longer only a build's step.
                existing.intermediate &= record.intermediate && record.names.is_empty();
                for repository in record.repositories.drain(..) {
                    if !existing.repositories.contains(&repository) {
                        existing.repositories.push(repository);
                    }
                }
                if record.index_digest.is_some() {
                    existing.index_digest = record.index_digest.take();
                }
                for name in record.names.drain(..).rev() {
                    existing.names.retain(|n| n != &name);
                    existing.names.insert(0, name);
                }
            }
            None => self.images.push(record),
        }
    }

    /// Finds an image by full or abbreviated ID (with or without `sha256:`), or by one of the
    /// candidate names a reference may mean (see `image::reference`).
    pub fn find(&self, reference: &str, candidate_names: &[String]) -> Result<&ImageRecord, Error> {
        for name in candidate_names {
            if let Some(image) = self
                .images
                .iter()
                .find(|i| i.names.iter().any(|n| n == name))
            {
                return Ok(image);
            }
        }
        let id = reference.strip_prefix("sha256:").unwrap_or(reference);
        if !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            let matches: Vec<&ImageRecord> = self
                .images
                .iter()
                .filter(|i| i.id.starts_with(id))
                .collect();
            match matches.len() {
                1 => return Ok(matches[0]),
                0 => {}
                _ => {
                    return Err(Error::Ambiguous {
                        reference: reference.to_string(),
                        kind: "image",
                    })
                }
            }
        }
        Err(Error::ImageNotFound {
            reference: reference.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, names: &[&str]) -> ImageRecord {
        ImageRecord {
            id: id.into(),
            manifest_digest: String::new(),
            manifest_media_type: String::new(),
            names: names.iter().map(|s| s.to_string()).collect(),
            layers: vec![],
            size: 0,
            added: String::new(),
            index_digest: None,
            repositories: vec![],
            intermediate: false,
        }
    }

    #[test]
    fn upsert_moves_names_and_find_matches_ids() {
        let mut index = ImageIndex::default();
        index.upsert(record("aaaa1111", &["localhost/a:latest"]));
        index.upsert(record("bbbb2222", &["localhost/a:latest", "localhost/b:1"]));
        assert!(index.by_id("aaaa1111").unwrap().names.is_empty());
        assert_eq!(
            index.find("x", &["localhost/b:1".into()]).unwrap().id,
            "bbbb2222"
        );
        assert_eq!(index.find("bbbb", &[]).unwrap().id, "bbbb2222");
        assert_eq!(index.find("sha256:aaaa", &[]).unwrap().id, "aaaa1111");
        index.upsert(record("aaaa3333", &[]));
        assert!(matches!(
            index.find("aaaa", &[]),
            Err(Error::Ambiguous { .. })
        ));
        assert!(matches!(
            index.find("nope", &[]),
            Err(Error::ImageNotFound { .. })
        ));
    }
}
