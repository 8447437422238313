//! User-defined networks: one JSON file each under `<root>/networks/`, written atomically under
//! the store lock, in the spirit of the files netavark keeps for Podman.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Error, Store, StoreLock};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkRecord {
    pub name: String,
    pub id: String,
    pub driver: String,
    /// The bridge's name (in the rootless network namespace, or on the host as root).
    pub interface: String,
    pub created: String,
    /// IPv4 subnet, `10.89.0.0/24`.
    pub subnet: String,
    pub gateway: String,
    /// `--ip-range`: where automatic addresses come from (default: the whole subnet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// `--internal`: no route out of the network.
    #[serde(default)]
    pub internal: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Store {
    fn networks_dir(&self) -> PathBuf {
        self.root().join("networks")
    }

    pub fn all_networks(&self) -> Vec<NetworkRecord> {
        let mut networks: Vec<NetworkRecord> = super::read_json_records(&self.networks_dir());
        networks.sort_by(|a, b| a.name.cmp(&b.name));
        networks
    }

    /// A network by name, full id or unique id prefix.
    pub fn find_network(&self, reference: &str) -> Result<NetworkRecord, Error> {
        let networks = self.all_networks();
        if let Some(network) = networks.iter().find(|n| n.name == reference) {
            return Ok(network.clone());
        }
        let mut by_id = networks.iter().filter(|n| n.id.starts_with(reference));
        match (by_id.next(), by_id.next()) {
            (Some(network), None) if !reference.is_empty() => Ok(network.clone()),
            _ => Err(Error::NetworkNotFound {
                reference: reference.to_string(),
            }),
        }
    }

    pub fn write_network(&self, _lock: &StoreLock, network: &NetworkRecord) -> Result<(), Error> {
        super::write_json_record(&self.networks_dir(), &network.name, network)
    }

    pub fn remove_network(&self, _lock: &StoreLock, name: &str) -> Result<(), Error> {
        super::remove_json_record(&self.networks_dir(), name)
    }
}
