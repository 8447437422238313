//! A container's cgroup in the v2 hierarchy: made below the parent with the controllers it
//! needs enabled on the way down, and its limits written in v2's files.

use std::path::{Path, PathBuf};

use super::discovery::V2Subtree;
use super::{write_file, CgroupSpec, Controller, ResourceLimits};
use crate::runtime::error::Error;

/// Makes the container's cgroup below `subtree`, the `controllers` enabled for it; returns it.
pub(super) fn make(
    subtree: &V2Subtree,
    spec: &CgroupSpec,
    controllers: &[Controller],
) -> Result<PathBuf, Error> {
    let base = match spec.under_caller {
        true => subtree.own.clone(),
        false => subtree.top.clone(),
    };
    let dir = path(subtree, spec);
    let parent = dir.parent().unwrap_or(&base).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|source| Error::Sys {
        context: format!("making the cgroup {}", parent.display()),
        source,
    })?;
    let enable: Vec<String> = controllers
        .iter()
        .map(|c| format!("+{}", c.v2_name()))
        .collect();
    if !enable.is_empty() {
        // From the base down: each level gives its children what it has itself. The caller's
        // own cgroup (`--cgroups split`) holds processes and cannot: it had them on already.
        let levels: Vec<&Path> = parent
            .ancestors()
            .take_while(|level| level.starts_with(&base))
            .filter(|level| !spec.under_caller || *level != base)
            .collect();
        for level in levels.into_iter().rev() {
            write_file(level, "cgroup.subtree_control", &enable.join(" "))?;
        }
    }
    // One left by a start that was killed is empty: it goes first.
    let _ = std::fs::remove_dir(&dir);
    std::fs::create_dir(&dir).map_err(|source| Error::Sys {
        context: format!("making the cgroup {}", dir.display()),
        source,
    })?;
    Ok(dir)
}

/// Where the container's cgroup is below `subtree`.
pub(super) fn path(subtree: &V2Subtree, spec: &CgroupSpec) -> PathBuf {
    let parent = match spec.under_caller {
        true => subtree.own.clone(),
        false => {
            let parent = spec.parent.as_deref().unwrap_or("skiff");
            subtree.top.join(parent.trim_start_matches('/'))
        }
    };
    parent.join(&spec.name)
}

/// Writes the limits of `controllers` in `dir`, then `--cgroup-conf`'s files.
pub(super) fn apply(
    dir: &Path,
    limits: &ResourceLimits,
    controllers: &[Controller],
) -> Result<(), Error> {
    let mut writes = Vec::new();
    for controller in controllers {
        writes.extend(match controller {
            Controller::Memory => memory(limits),
            Controller::Cpu => cpu(limits),
            Controller::Cpuset => limits.cpuset_writes(),
            Controller::Io => io(limits, dir),
            Controller::Pids => limits.pids_writes(),
            Controller::Devices => Vec::new(),
        });
    }
    for (file, value) in writes {
        write_file(dir, file, &value)?;
    }
    for (file, value) in &limits.unified {
        write_file(dir, file, value)?;
    }
    Ok(())
}

fn memory(limits: &ResourceLimits) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    if let Some(memory) = limits.memory {
        writes.push(("memory.max", memory.to_string()));
    }
    // v2 limits swap on its own: what Docker's memory-and-swap total leaves above memory.
    match (limits.memory, limits.memory_swap) {
        (_, Some(-1)) => writes.push(("memory.swap.max", "max".into())),
        (Some(memory), Some(total)) => {
            writes.push(("memory.swap.max", (total - memory).max(0).to_string()))
        }
        _ => {}
    }
    if let Some(reservation) = limits.memory_reservation {
        writes.push(("memory.low", reservation.to_string()));
    }
    writes
}

fn cpu(limits: &ResourceLimits) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    if let Some(shares) = limits.cpu_shares {
        writes.push(("cpu.weight", weight_of_shares(shares).to_string()));
    }
    if limits.cpu_quota.is_some() || limits.cpu_period.is_some() {
        let quota = match limits.cpu_quota {
            Some(quota) if quota > 0 => quota.to_string(),
            _ => "max".into(),
        };
        let period = limits.cpu_period.unwrap_or(100_000);
        writes.push(("cpu.max", format!("{quota} {period}")));
    }
    writes
}

/// v1's shares (2 to 262144, 1024 the default) on v2's weights (1 to 10000, 100 the
/// default), as runc and crun convert them.
fn weight_of_shares(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

fn io(limits: &ResourceLimits, dir: &Path) -> Vec<(&'static str, String)> {
    let mut writes = Vec::new();
    // io.weight with the default I/O scheduler's weights, io.bfq.weight with BFQ's.
    let weight_file = match dir.join("io.weight").exists() {
        true => "io.weight",
        false => "io.bfq.weight",
    };
    if let Some(weight) = limits.blkio_weight {
        writes.push((weight_file, format!("default {weight}")));
    }
    for device in &limits.blkio_weight_device {
        let line = format!("{}:{} {}", device.major, device.minor, device.weight);
        writes.push((weight_file, line));
    }
    for (key, rates) in [
        ("rbps", &limits.device_read_bps),
        ("wbps", &limits.device_write_bps),
        ("riops", &limits.device_read_iops),
        ("wiops", &limits.device_write_iops),
    ] {
        for rate in rates {
            let line = format!("{}:{} {key}={}", rate.major, rate.minor, rate.rate);
            writes.push(("io.max", line));
        }
    }
    writes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroups::DeviceRate;

    #[test]
    fn swap_is_what_the_total_leaves_above_memory() {
        let limits = ResourceLimits {
            memory: Some(100),
            memory_swap: Some(300),
            ..Default::default()
        };
        assert_eq!(
            memory(&limits),
            [
                ("memory.max", "100".to_string()),
                ("memory.swap.max", "200".to_string())
            ]
        );
    }

    #[test]
    fn cpus_become_a_quota_per_period_and_shares_a_weight() {
        let limits = ResourceLimits {
            cpu_quota: Some(150_000),
            cpu_period: Some(100_000),
            cpu_shares: Some(1024),
            ..Default::default()
        };
        assert_eq!(
            cpu(&limits),
            [
                ("cpu.weight", "39".to_string()),
                ("cpu.max", "150000 100000".to_string())
            ]
        );
        assert_eq!((weight_of_shares(2), weight_of_shares(262_144)), (1, 10000));
    }

    #[test]
    fn device_rates_are_io_max_lines() {
        let limits = ResourceLimits {
            device_read_bps: vec![DeviceRate {
                path: "/dev/sda".into(),
                major: 8,
                minor: 0,
                rate: 1_048_576,
            }],
            ..Default::default()
        };
        let dir = Path::new("/nonexistent");
        assert_eq!(
            io(&limits, dir),
            [("io.max", "8:0 rbps=1048576".to_string())]
        );
    }
}
