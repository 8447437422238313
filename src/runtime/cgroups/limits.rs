//! The limits a container's cgroup is asked for, as plain data (the container layer parses and
//! checks the flags), and which controller each needs.

use serde::{Deserialize, Serialize};

use super::{Controller, Hierarchies};

/// A device's share of I/O (`--blkio-weight-device`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceWeight {
    /// The device as given, for inspect.
    #[serde(default)]
    pub path: String,
    pub major: u64,
    pub minor: u64,
    pub weight: u16,
}

/// A device's I/O ceiling (`--device-read-bps` and its kin): bytes or operations per second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    /// The device as given, for inspect.
    #[serde(default)]
    pub path: String,
    pub major: u64,
    pub minor: u64,
    pub rate: u64,
}

/// `--memory`, `--cpus` and the rest; None and empty: not asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceLimits {
    /// Bytes.
    pub memory: Option<i64>,
    /// Memory and swap together, in bytes (Docker's sense); -1: unlimited swap.
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub memory_swappiness: Option<u64>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oom_kill_disable: bool,
    pub cpu_shares: Option<u64>,
    /// Microseconds per period; -1: none.
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub blkio_weight: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blkio_weight_device: Vec<DeviceWeight>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_read_bps: Vec<DeviceRate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_write_bps: Vec<DeviceRate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_read_iops: Vec<DeviceRate>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_write_iops: Vec<DeviceRate>,
    /// -1: unlimited.
    pub pids_limit: Option<i64>,
    /// The devices the container may use (v1 `devices.allow` lines such as `c 1:3 rwm`), all
    /// others denied; None: every device (`--privileged`, or a v2 host).
    pub allowed_devices: Option<Vec<String>>,
    /// `--cgroup-conf`: cgroup v2 files and the values written to them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unified: Vec<(String, String)>,
}

/// One thing a container asked of its cgroup, for saying which could not be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Memory,
    MemorySwap,
    MemoryReservation,
    MemorySwappiness,
    OomKillDisable,
    CpuShares,
    CpuQuota,
    CpuPeriod,
    CpuRealtime,
    Cpuset,
    BlkioWeight,
    BlkioWeightDevice,
    DeviceRates,
    PidsLimit,
    DeviceRules,
    CgroupConf,
}

impl Setting {
    /// The controller it is written through; None for `--cgroup-conf`, whose files are any
    /// v2 controller's (or the core's).
    pub fn controller(self) -> Option<Controller> {
        Some(match self {
            Setting::Memory
            | Setting::MemorySwap
            | Setting::MemoryReservation
            | Setting::MemorySwappiness
            | Setting::OomKillDisable => Controller::Memory,
            Setting::CpuShares | Setting::CpuQuota | Setting::CpuPeriod | Setting::CpuRealtime => {
                Controller::Cpu
            }
            Setting::Cpuset => Controller::Cpuset,
            Setting::BlkioWeight | Setting::BlkioWeightDevice | Setting::DeviceRates => {
                Controller::Io
            }
            Setting::PidsLimit => Controller::Pids,
            Setting::DeviceRules => Controller::Devices,
            Setting::CgroupConf => return None,
        })
    }
}

/// Settings of `limits` this host cannot apply, with why: the `controllers` they need (their
/// v2 names) and what stands in the way, or, with no controller named, why the setting itself
/// cannot be had.
pub struct Unmet {
    pub settings: Vec<Setting>,
    pub controllers: Vec<&'static str>,
    pub reason: String,
}

impl ResourceLimits {
    /// The settings asked for.
    pub fn settings(&self) -> Vec<Setting> {
        let rates = [
            &self.device_read_bps,
            &self.device_write_bps,
            &self.device_read_iops,
            &self.device_write_iops,
        ];
        [
            (self.memory.is_some(), Setting::Memory),
            (self.memory_swap.is_some(), Setting::MemorySwap),
            (
                self.memory_reservation.is_some(),
                Setting::MemoryReservation,
            ),
            (self.memory_swappiness.is_some(), Setting::MemorySwappiness),
            (self.oom_kill_disable, Setting::OomKillDisable),
            (self.cpu_shares.is_some(), Setting::CpuShares),
            (self.cpu_quota.is_some(), Setting::CpuQuota),
            (self.cpu_period.is_some(), Setting::CpuPeriod),
            (
                self.cpu_rt_period.is_some() || self.cpu_rt_runtime.is_some(),
                Setting::CpuRealtime,
            ),
            (
                self.cpuset_cpus.is_some() || self.cpuset_mems.is_some(),
                Setting::Cpuset,
            ),
            (self.blkio_weight.is_some(), Setting::BlkioWeight),
            (
                !self.blkio_weight_device.is_empty(),
                Setting::BlkioWeightDevice,
            ),
            (rates.iter().any(|r| !r.is_empty()), Setting::DeviceRates),
            (self.pids_limit.is_some(), Setting::PidsLimit),
            (self.allowed_devices.is_some(), Setting::DeviceRules),
            (!self.unified.is_empty(), Setting::CgroupConf),
        ]
        .into_iter()
        .filter_map(|(asked, setting)| asked.then_some(setting))
        .collect()
    }

    /// The controllers a container's cgroup joins: those its settings need, and memory, cpu,
    /// io and pids always, whose accounting `stats` and the OOM verdict read.
    pub fn controllers(&self) -> Vec<Controller> {
        let mut controllers = vec![
            Controller::Memory,
            Controller::Cpu,
            Controller::Io,
            Controller::Pids,
        ];
        for controller in self.settings().into_iter().filter_map(Setting::controller) {
            if !controllers.contains(&controller) {
                controllers.push(controller);
            }
        }
        controllers
    }

    /// The cpuset files, the same in v1 and v2.
    pub(super) fn cpuset_writes(&self) -> Vec<(&'static str, String)> {
        [
            ("cpuset.cpus", &self.cpuset_cpus),
            ("cpuset.mems", &self.cpuset_mems),
        ]
        .into_iter()
        .filter_map(|(file, value)| value.clone().map(|v| (file, v)))
        .collect()
    }

    /// The pids file, the same in v1 and v2 (0 and -1: no limit).
    pub(super) fn pids_writes(&self) -> Vec<(&'static str, String)> {
        match self.pids_limit {
            Some(limit) if limit > 0 => vec![("pids.max", limit.to_string())],
            Some(_) => vec![("pids.max", "max".into())],
            None => Vec::new(),
        }
    }

    /// What of these limits the host cannot apply for this caller.
    pub fn unmet(&self, hierarchies: &Hierarchies) -> Vec<Unmet> {
        let mut unmet: Vec<Unmet> = Vec::new();
        let settings = self.settings();
        for setting in settings.iter().copied() {
            let mut missing_controller = None;
            let reason = match (setting, setting.controller()) {
                (_, None) if hierarchies.v2.is_none() => {
                    "it writes cgroup v2 files, and no cgroup v2 subtree is yours to write".into()
                }
                (_, None) => continue,
                (_, Some(controller)) if !hierarchies.has(controller) => {
                    missing_controller = Some(controller.v2_name());
                    hierarchies.why_not(controller)
                }
                (Setting::MemorySwappiness | Setting::OomKillDisable, Some(controller))
                    if hierarchies.in_v2(controller) =>
                {
                    "cgroup v2 has no such setting".into()
                }
                (Setting::CpuRealtime, Some(controller)) if hierarchies.in_v2(controller) => {
                    "cgroup v2 has no real-time CPU budget".into()
                }
                (Setting::BlkioWeight | Setting::BlkioWeightDevice, Some(controller))
                    if !hierarchies.in_v2(controller)
                        && !hierarchies.v1_has_file(controller, "blkio.weight") =>
                {
                    "this kernel has no I/O weights for cgroup v1 (they need the BFQ scheduler)"
                        .into()
                }
                _ => continue,
            };
            match unmet.iter_mut().find(|u| u.reason == reason) {
                Some(same) => {
                    same.settings.push(setting);
                    if let Some(name) = missing_controller.filter(|n| !same.controllers.contains(n))
                    {
                        same.controllers.push(name);
                    }
                }
                None => unmet.push(Unmet {
                    settings: vec![setting],
                    controllers: missing_controller.into_iter().collect(),
                    reason,
                }),
            }
        }
        unmet
    }
}
