//! A container's cgroup in a v1 hierarchy (root only): made below the parent, with the limits
//! of the hierarchy's controllers written in their v1 files.

use std::path::{Path, PathBuf};

use super::discovery::V1Hierarchy;
use super::{write_file, CgroupSpec, ResourceLimits};
use crate::runtime::error::Error;

/// Makes the container's directory in `hierarchy`; returns it.
pub(super) fn make(hierarchy: &V1Hierarchy, spec: &CgroupSpec) -> Result<PathBuf, Error> {
    let dir = path(hierarchy, spec);
    let new_levels: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|level| *level != hierarchy.mount && !level.exists())
        .map(Path::to_path_buf)
        .collect();
    std::fs::create_dir_all(&dir).map_err(|source| Error::Sys {
        context: format!("making the cgroup {}", dir.display()),
        source,
    })?;
    // A new cpuset cgroup starts with no CPUs and no memory nodes, where no process may join.
    if hierarchy.names.iter().any(|n| n == "cpuset") {
        for level in new_levels.iter().rev() {
            inherit_cpuset(level)?;
        }
    }
    Ok(dir)
}

fn inherit_cpuset(dir: &Path) -> Result<(), Error> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if own.trim().is_empty() {
            let inherited = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
            write_file(dir, file, inherited.trim())?;
        }
    }
    Ok(())
}

/// Where the container's directory is in `hierarchy`.
pub(super) fn path(hierarchy: &V1Hierarchy, spec: &CgroupSpec) -> PathBuf {
    let parent = match spec.under_caller {
        true => hierarchy.own.clone(),
        false => spec.parent.clone().unwrap_or_else(|| "skiff".into()),
    };
    let parent = hierarchy.mount.join(parent.trim_start_matches('/'));
    parent.join(&spec.name)
}

/// Writes the limits of the controllers `names` (one hierarchy's) in `dir`.
pub(super) fn apply(names: &[String], dir: &Path, limits: &ResourceLimits) -> Result<(), Error> {
    for name in names {
        let writes = match name.as_str() {
            "memory" => memory(limits),
            "cpu" => cpu(limits),
            "cpuset" => limits.cpuset_writes(),
            "blkio" => blkio(limits, dir),
            "pids" => limits.pids_writes(),
            "devices" => devices(limits),
            _ => Vec::new(),
        };
        for (file, value) in writes {
            write_file(dir, file, &value)?;
        }
    }
    Ok(())
}

fn memory(limits: &ResourceLimits) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    // The limit before the limit with swap, which may never be below it.
    if let Some(memory) = limits.memory {
        writes.push(("memory.limit_in_bytes", memory.to_string()));
    }
    if let Some(swap) = limits.memory_swap {
        writes.push(("memory.memsw.limit_in_bytes", swap.to_string()));
    }
    if let Some(reservation) = limits.memory_reservation {
        writes.push(("memory.soft_limit_in_bytes", reservation.to_string()));
    }
    if let Some(swappiness) = limits.memory_swappiness {
        writes.push(("memory.swappiness", swappiness.to_string()));
    }
    if limits.oom_kill_disable {
        writes.push(("memory.oom_control", "1".into()));
    }
    writes
}

fn cpu(limits: &ResourceLimits) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    if let Some(shares) = limits.cpu_shares {
        writes.push(("cpu.shares", shares.to_string()));
    }
    // The period first: a quota is checked against the period in place.
    if let Some(period) = limits.cpu_period {
        writes.push(("cpu.cfs_period_us", period.to_string()));
    }
    if let Some(quota) = limits.cpu_quota {
        writes.push(("cpu.cfs_quota_us", quota.to_string()));
    }
    if let Some(period) = limits.cpu_rt_period {
        writes.push(("cpu.rt_period_us", period.to_string()));
    }
    if let Some(runtime) = limits.cpu_rt_runtime {
        writes.push(("cpu.rt_runtime_us", runtime.to_string()));
    }
    writes
}

fn blkio(limits: &ResourceLimits, dir: &Path) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    // A kernel without BFQ has no weights (the caller was warned).
    if dir.join("blkio.weight").exists() {
        if let Some(weight) = limits.blkio_weight {
            writes.push(("blkio.weight", weight.to_string()));
        }
        for device in &limits.blkio_weight_device {
            let line = format!("{}:{} {}", device.major, device.minor, device.weight);
            writes.push(("blkio.weight_device", line));
        }
    }
    for (file, rates) in [
        ("blkio.throttle.read_bps_device", &limits.device_read_bps),
        ("blkio.throttle.write_bps_device", &limits.device_write_bps),
        ("blkio.throttle.read_iops_device", &limits.device_read_iops),
        (
            "blkio.throttle.write_iops_device",
            &limits.device_write_iops,
        ),
    ] {
        for rate in rates {
            writes.push((file, format!("{}:{} {}", rate.major, rate.minor, rate.rate)));
        }
    }
    writes
}

/// Every device denied, then the allowed ones: a container that may make device nodes (with
/// CAP_MKNOD) still cannot open the host's disks through them.
fn devices(limits: &ResourceLimits) -> Vec<(&'static str, String)> {
    let Some(allowed) = &limits.allowed_devices else {
        return Vec::new();
    };
    std::iter::once(("devices.deny", "a".to_string()))
        .chain(allowed.iter().map(|rule| ("devices.allow", rule.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_limited_before_memory_with_swap() {
        let limits = ResourceLimits {
            memory: Some(1 << 20),
            memory_swap: Some(2 << 20),
            ..Default::default()
        };
        let files: Vec<&str> = memory(&limits).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            files,
            ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        );
    }

    #[test]
    fn an_unlimited_pids_limit_writes_max() {
        for limit in [0, -1] {
            let limits = ResourceLimits {
                pids_limit: Some(limit),
                ..Default::default()
            };
            assert_eq!(limits.pids_writes(), [("pids.max", "max".to_string())]);
        }
    }

    #[test]
    fn device_rules_deny_everything_first() {
        let limits = ResourceLimits {
            allowed_devices: Some(vec!["c 1:3 rwm".into()]),
            ..Default::default()
        };
        assert_eq!(
            devices(&limits),
            [
                ("devices.deny", "a".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string())
            ]
        );
    }
}
