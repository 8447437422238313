//! Volumes: a JSON file each under `<root>/volumes/`, beside the volume's directory, whose
//! `_data` is what containers mount (as in Podman's store). Written atomically under the lock.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{io_error, Error, Store, StoreLock};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeRecord {
    pub name: String,
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `--opt`: `type`, `o`, `device` of a local volume.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Made for one container (`-v /path`, an image's VOLUME), removed with it by `rm -v`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// Not yet mounted anywhere: the first container to mount it fills it with what its image
    /// has at that path (Docker's and Podman's copy-up).
    #[serde(default)]
    pub needs_copy_up: bool,
}

impl Store {
    pub fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    /// The directory a volume's files live in when it is not bound to a host directory.
    pub fn volume_data_dir(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    pub fn all_volumes(&self) -> Vec<VolumeRecord> {
        let mut volumes: Vec<VolumeRecord> = super::read_json_records(&self.volumes_dir());
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        volumes
    }

    pub fn find_volume(&self, name: &str) -> Result<VolumeRecord, Error> {
        let path = self.volumes_dir().join(format!("{name}.json"));
        let missing = || Error::VolumeNotFound {
            name: name.to_string(),
        };
        // A name with a slash would reach outside the volumes directory.
        if name.contains('/') || name.starts_with('.') {
            return Err(missing());
        }
        let bytes = std::fs::read(&path).map_err(|_| missing())?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// Records a volume, making its data directory first (a record always has one).
    pub fn write_volume(&self, _lock: &StoreLock, volume: &VolumeRecord) -> Result<(), Error> {
        let data = self.volume_data_dir(&volume.name);
        // The volume's own directories are private; its data keeps the mode a container sees.
        data.parent()
            .map_or(Ok(()), super::create_private_dir)
            .and_then(|()| std::fs::create_dir_all(&data))
            .map_err(io_error(format!("creating {}", data.display())))?;
        super::write_json_record(&self.volumes_dir(), &volume.name, volume)
    }

    /// Forgets a volume; its directory is the caller's to delete (it may hold files of the
    /// container's users, which only the user namespace can remove).
    pub fn remove_volume_record(&self, _lock: &StoreLock, name: &str) -> Result<(), Error> {
        super::remove_json_record(&self.volumes_dir(), name)
    }
}
