//! Containers in the store: `config.json` (what to run, written once at create) and `state.json`
//! (status, pid, exit code; rewritten atomically as the container moves through its life).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::policies::{LogDriver, RestartPolicy, SdNotify, Signal};
use super::{io_error, write_atomic, Error, Store, StoreLock};
use crate::runtime::ContainerSpec;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The image as the user named it.
    pub image_name: String,
    pub created: String,
    /// Remove the container once it exits (`--rm`).
    pub auto_remove: bool,
    /// `--rmi`: and its image too, unless another container uses it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_remove_image: bool,
    /// `--pidfile`: where the container's process id is written at each start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pidfile: Option<std::path::PathBuf>,
    /// `--conmon-pidfile`: where the id of the process that watches the container (a detached
    /// container's supervisor, or the `run` in the foreground: skiff's conmon) is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conmon_pidfile: Option<std::path::PathBuf>,
    /// `--timeout`: seconds the container may run at each start before it is killed (its exit
    /// code is then -1, as Podman records it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `--requires`: the ids of the containers started before this one at each of its starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// `--stop-signal` (else the image's StopSignal): what `stop` sends first.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::policies::lenient_signal"
    )]
    pub stop_signal: Option<Signal>,
    /// `--sdnotify` and the socket it was made with.
    #[serde(default, skip_serializing_if = "SdNotify::is_default")]
    pub sdnotify: SdNotify,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// `--log-driver`: k8s-file (default), json-file, none.
    #[serde(default, skip_serializing_if = "LogDriver::is_default")]
    pub log_driver: LogDriver,
    /// `--log-opt max-size=`, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_max_size: Option<u64>,
    /// `--restart`: no, on-failure[:N], always, unless-stopped.
    #[serde(default, skip_serializing_if = "RestartPolicy::is_no")]
    pub restart: RestartPolicy,
    /// `--label`, over the image's labels.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    /// `--annotation`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// `--network` as inspect's HostConfig.NetworkMode shows it: `pasta`, `slirp4netns`, `none`,
    /// `host`, `container:ID`, `ns:PATH`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    /// `--pid`, `--ipc` and `--uts` as inspect's HostConfig shows them (`private`, `host`,
    /// `shareable`, `none`, `container:ID`); empty in records from before the flags.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pid_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ipc_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uts_mode: String,
    /// `--cgroupns` likewise (`host`, `private`, `container:ID`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroupns_mode: String,
    /// `--cgroups` as inspect's HostConfig.Cgroups shows it (`default` when not given).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroups_mode: String,
    /// `--userns` as inspect's HostConfig.UsernsMode shows it: empty for the default.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userns_mode: String,
    /// User-defined networks the container is on, by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub networks: std::collections::BTreeMap<String, NetworkAttachment>,
    /// Container ports the image and `--expose` declare, as `80/tcp`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed_ports: Vec<String>,
    /// The volumes it mounts, named and anonymous.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeUse>,
    /// The build whose step it runs (see `container::build_lease`): `ps` leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The files written to the container's run directory when it was made (its /etc/hosts,
    /// hostname, resolv.conf…), by name: the run directory lives on a tmpfs that a reboot
    /// empties, and a start that finds them gone writes them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_files: Vec<(String, String)>,
    pub spec: ContainerSpec,
}

/// A volume a container mounts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeUse {
    pub name: String,
    pub destination: String,
    /// Made for this container: `rm -v` and `run --rm` remove it with the container.
    pub anonymous: bool,
    /// Filled from the image on first use (not with `nocopy`).
    pub copy_up: bool,
}

/// A container's place on a user-defined network.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkAttachment {
    pub ip: String,
    /// `--network-alias`: more names it answers to on the network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Its interface in the container (eth0, eth1…), kept from `network connect` to
    /// `disconnect` and across restarts, so the first network keeps eth0 and the route out.
    pub interface: String,
    /// `--mac-address`: the interface's hardware address (else the kernel's random one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl ContainerRecord {
    /// The first interface name (ethN) none of the container's networks has.
    pub fn free_interface(&self) -> String {
        (0..)
            .map(|n| format!("eth{n}"))
            .find(|name| !self.networks.values().any(|a| &a.interface == name))
            .unwrap_or_default()
    }

    /// The container whose network namespace this one shares (`--network container:`).
    pub fn network_container(&self) -> Option<&str> {
        self.network_mode.strip_prefix("container:")
    }

    /// The containers this one needs: the ones `--requires` named, and the ones whose network,
    /// pid, ipc or uts namespace it shares; none of them may be removed before it.
    pub fn dependencies(&self) -> impl Iterator<Item = &str> {
        let shared = [
            &self.pid_mode,
            &self.ipc_mode,
            &self.uts_mode,
            &self.cgroupns_mode,
        ]
        .into_iter()
        .filter_map(|mode| mode.strip_prefix("container:"));
        let mut seen = Vec::new();
        self.required
            .iter()
            .map(String::as_str)
            .chain(self.network_container())
            .chain(shared)
            .filter(move |id| {
                let new = !seen.contains(id);
                seen.push(*id);
                new
            })
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Exited,
}

impl Status {
    /// The name Podman and Docker print: `created`, `running`, `exited`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ContainerState {
    pub status: Status,
    pub pid: Option<i32>,
    /// How often the supervisor restarted it (`--restart`).
    #[serde(default)]
    pub restart_count: u32,
    /// The skiff process watching the container (its supervisor, or the foreground `run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor_pid: Option<i32>,
    pub exit_code: Option<i32>,
    /// Its last run ended with a process killed for want of memory in its cgroup.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Why the container's watcher ended without recording how the container did (inspect's
    /// State.Error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Store {
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root().join("containers").join(id)
    }

    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.runroot().join("containers").join(id)
    }

    pub fn container_ids(&self) -> Vec<String> {
        std::fs::read_dir(self.root().join("containers"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn read_container(&self, id: &str) -> Result<ContainerRecord, Error> {
        let path = self.container_dir(id).join("config.json");
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::ContainerNotFound {
                reference: id.to_string(),
            },
            _ => io_error(format!("reading {}", path.display()))(e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    pub fn read_container_state(&self, id: &str) -> ContainerState {
        std::fs::read(self.container_dir(id).join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn write_container_state(&self, id: &str, state: &ContainerState) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::Corrupt {
            path: self.container_dir(id),
            reason: e.to_string(),
        })?;
        write_atomic(&self.container_dir(id).join("state.json"), &bytes)
    }

    pub fn all_containers(&self) -> Vec<ContainerRecord> {
        self.container_ids()
            .iter()
            .filter_map(|id| self.read_container(id).ok())
            .collect()
    }

    /// Creates the container's directories and records, appearing under its id only when whole.
    pub fn create_container(
        &self,
        _lock: &StoreLock,
        record: &ContainerRecord,
    ) -> Result<(), Error> {
        if let Some(other) = self
            .all_containers()
            .into_iter()
            .find(|c| c.name == record.name)
        {
            return Err(Error::NameInUse {
                name: record.name.clone(),
                id: other.id,
            });
        }
        let staged = self.staging_path("container");
        for sub in ["upper", "work", "merged"] {
            std::fs::create_dir_all(staged.join(sub))
                .map_err(io_error(format!("creating {}", staged.display())))?;
        }
        // No state.json yet: a container without one is one just created.
        let config = serde_json::to_vec_pretty(record).map_err(|e| Error::Corrupt {
            path: staged.clone(),
            reason: e.to_string(),
        })?;
        // The staged directory is invisible until the rename below, which publishes it whole:
        // its files need no atomic replacement of their own. A `--rm` container is thrown away
        // when it exits, so it is not synced to disk either; a kill -9 at any point still leaves
        // either no container or a whole one.
        let durable = !record.auto_remove;
        write_new_file(&staged.join("config.json"), &config, durable)?;
        let target = self.container_dir(&record.id);
        std::fs::rename(&staged, &target).map_err(io_error(format!(
            "moving container into {}",
            target.display()
        )))?;
        if durable {
            super::fsync_dir(&self.root().join("containers"))?;
        }
        Ok(())
    }

    /// Gives a container a new name, refusing one that is taken.
    pub fn rename_container(&self, _lock: &StoreLock, id: &str, name: &str) -> Result<(), Error> {
        if let Some(other) = self.all_containers().into_iter().find(|c| c.name == name) {
            return Err(Error::NameInUse {
                name: name.to_string(),
                id: other.id,
            });
        }
        let mut record = self.read_container(id)?;
        record.name = name.to_string();
        self.update_container(_lock, &record)
    }

    /// Rewrites a stored container's record.
    pub fn update_container(
        &self,
        _lock: &StoreLock,
        record: &ContainerRecord,
    ) -> Result<(), Error> {
        let dir = self.container_dir(&record.id);
        let config = serde_json::to_vec_pretty(record).map_err(|e| Error::Corrupt {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&dir.join("config.json"), &config)
    }

    /// Resolves a full id, a unique id prefix or a name. An empty reference names nothing (it is
    /// a prefix of every id: `rm -f ''` removed a container).
    pub fn find_container(&self, reference: &str) -> Result<ContainerRecord, Error> {
        // `/NAME`, Docker's form of a name, names it too.
        let reference = match reference.strip_prefix('/') {
            Some(name) if !name.is_empty() => name,
            _ => reference,
        };
        if reference.is_empty() {
            return Err(Error::ContainerNotFound {
                reference: String::new(),
            });
        }
        let all = self.all_containers();
        if let Some(c) = all
            .iter()
            .find(|c| c.id == reference || c.name == reference)
        {
            return Ok(c.clone());
        }
        let matches: Vec<&ContainerRecord> =
            all.iter().filter(|c| c.id.starts_with(reference)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::ContainerNotFound {
                reference: reference.to_string(),
            }),
            _ => Err(Error::Ambiguous {
                reference: reference.to_string(),
                kind: "container",
            }),
        }
    }
}

/// Writes a file that no one reads before its directory is published, owner-only like every
/// store file, synced to disk when `durable`.
fn write_new_file(path: &Path, bytes: &[u8], durable: bool) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(format!("creating {}", path.display())))?;
    file.write_all(bytes)
        .map_err(io_error(format!("writing {}", path.display())))?;
    if durable {
        file.sync_all()
            .map_err(io_error(format!("syncing {}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as skiff wrote it when the restart policy, log driver and stop signal were kept as
    /// the text the user typed.
    fn old_record(stop_signal: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "0".repeat(64),
            "name": "old",
            "image_id": "1".repeat(64),
            "image_name": "localhost/app:latest",
            "created": "2026-01-01T00:00:00Z",
            "auto_remove": false,
            "stop_signal": stop_signal,
            "log_driver": "json-file",
            "restart": "on-failure:3",
            "spec": {
                "layers_dir": "/s/layers",
                "layers": ["a"],
                "upper_dir": "/s/c/upper",
                "work_dir": "/s/c/work",
                "rootfs_dir": "/s/c/merged",
                "volatile": false,
                "hostname": "old",
                "process": {
                    "args": ["sleep", "100"],
                    "env": [],
                    "cwd": "/",
                    "user": "",
                    "terminal": false,
                    "interactive": false,
                    "init": false,
                },
                "network": "none",
                "etc_files": [],
                "id_mapping": null,
                "run_dir": "/r/c",
                "network_backend": "pasta",
            },
        })
    }

    #[test]
    fn a_record_written_with_text_settings_still_loads_typed() {
        let record: ContainerRecord = serde_json::from_value(old_record("TERM")).unwrap();
        assert_eq!(record.stop_signal, Some(Signal::TERM));
        assert_eq!(record.restart, RestartPolicy::OnFailure(Some(3)));
        assert_eq!(record.log_driver, LogDriver::JsonFile);
        let written = serde_json::to_value(&record).unwrap();
        assert_eq!(written["stop_signal"], "SIGTERM");
        assert_eq!(written["restart"], "on-failure:3");
        assert_eq!(written["log_driver"], "json-file");
    }

    #[test]
    fn a_stored_stop_signal_that_no_longer_parses_reads_as_none() {
        let record: ContainerRecord = serde_json::from_value(old_record("SIGNOPE")).unwrap();
        assert_eq!(record.stop_signal, None);
        let mut defaults = old_record("TERM");
        let fields = defaults.as_object_mut().unwrap();
        for key in ["stop_signal", "log_driver", "restart"] {
            fields.remove(key);
        }
        let record: ContainerRecord = serde_json::from_value(defaults).unwrap();
        assert_eq!(record.restart, RestartPolicy::No);
        assert_eq!(record.log_driver, LogDriver::K8sFile);
    }
}
