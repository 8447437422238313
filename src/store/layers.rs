//! Unpacked layers, shared between images, named by chain id. A layer directory is staged in
//! tmp/ and renamed into place complete with its meta.json, so its presence means it is whole.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{io_error, write_atomic, Error, Store, StoreLock};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRecord {
    pub chain_id: String,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    pub parent: Option<String>,
    /// The layer as received, kept so `save` and `push` give back the same bytes and digests.
    pub blob_digest: String,
    pub blob_media_type: String,
    pub blob_size: u64,
    /// Bytes of the uncompressed tar stream, as containers/storage counts a layer (records
    /// written before skiff did so hold the bytes of file content unpacked).
    pub size: u64,
}

/// The chain id of a layer: its diff id for a base layer, else sha256 of "parent-chain diff-id"
/// (OCI image spec, config.md).
pub fn chain_id(parent_chain: Option<&str>, diff_id: &str) -> String {
    let hex = match parent_chain {
        None => diff_id
            .strip_prefix("sha256:")
            .unwrap_or(diff_id)
            .to_string(),
        Some(parent) => crate::digest::sha256_hex(format!("sha256:{parent} {diff_id}").as_bytes()),
    };
    hex
}

impl Store {
    pub fn layer_path(&self, chain_id: &str) -> PathBuf {
        self.layers_dir().join(chain_id)
    }

    pub fn read_layer(&self, chain_id: &str) -> Result<Option<LayerRecord>, Error> {
        let path = self.layer_path(chain_id).join("meta.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Corrupt {
                    path,
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(format!("reading {}", path.display()))(e)),
        }
    }

    /// Moves a staged layer directory (holding `diff/`) into place with its record.
    pub fn commit_layer(
        &self,
        _lock: &StoreLock,
        staged: &std::path::Path,
        record: &LayerRecord,
    ) -> Result<(), Error> {
        let meta = serde_json::to_vec_pretty(record).map_err(|e| Error::Corrupt {
            path: staged.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(&staged.join("meta.json"), &meta)?;
        let target = self.layer_path(&record.chain_id);
        std::fs::rename(staged, &target)
            .map_err(io_error(format!("moving layer into {}", target.display())))?;
        super::fsync_dir(&self.layers_dir())
    }

    /// Every layer directory present.
    pub fn layer_ids(&self) -> Vec<String> {
        std::fs::read_dir(self.layers_dir())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_definition() {
        let base = "sha256:aaaa";
        assert_eq!(chain_id(None, base), "aaaa");
        let expected = crate::digest::sha256_digest(b"sha256:aaaa sha256:bbbb");
        assert_eq!(
            format!("sha256:{}", chain_id(Some("aaaa"), "sha256:bbbb")),
            expected
        );
    }
}
