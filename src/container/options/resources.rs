//! The cgroup flags of `run` and `create` (`--memory`, `--cpus`, `--pids-limit`, the block I/O
//! and device ones, `--cgroups`, `--cgroup-parent`, `--cgroup-conf`), read and checked as
//! Podman checks them, over containers.conf's `pids_limit` and `cgroups`.

use anyhow::{bail, Context as _, Result};

use crate::config::containers::ContainersTable;
use crate::runtime::cgroups::{self, DeviceRate, DeviceWeight, ResourceLimits, Setting};

/// The cgroup flags as given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ResourceFlags {
    /// Memory limit: bytes, or a number with b, k, m or g (at least 6m). The kernel kills the container's processes past it (exit 137, inspect's State.OOMKilled).
    #[arg(short = 'm', long, value_name = "SIZE", overrides_with = "memory")]
    pub memory: Option<String>,
    /// Memory and swap together (a SIZE not below --memory, or -1 for unlimited swap); needs --memory. Default: twice --memory.
    #[arg(
        long,
        value_name = "SIZE",
        allow_hyphen_values = true,
        overrides_with = "memory_swap"
    )]
    pub memory_swap: Option<String>,
    /// Memory soft limit the kernel reclaims the container down to when the host runs short (SIZE, not above --memory).
    #[arg(long, value_name = "SIZE", overrides_with = "memory_reservation")]
    pub memory_reservation: Option<String>,
    /// How readily the container's anonymous memory is swapped, 0 to 100 (-1: the host's); cgroup v1 only.
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        overrides_with = "memory_swappiness"
    )]
    pub memory_swappiness: Option<i64>,
    /// Do not kill the container's processes past --memory: they wait for memory instead (cgroup v1 only).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub oom_kill_disable: Option<bool>,
    /// Number of CPUs the container may use, a decimal such as 1.5 (a quota of 150000 µs per 100000 µs period).
    #[arg(long, value_name = "N", overrides_with = "cpus")]
    pub cpus: Option<String>,
    /// CPU shares, a relative weight (default 1024; 2 to 262144).
    #[arg(short = 'c', long, value_name = "N", overrides_with = "cpu_shares")]
    pub cpu_shares: Option<u64>,
    /// CPU time the container may use per --cpu-period, in µs (at least 1000; -1: no limit).
    #[arg(
        long,
        value_name = "µS",
        allow_hyphen_values = true,
        overrides_with = "cpu_quota"
    )]
    pub cpu_quota: Option<i64>,
    /// Length of the CPU period --cpu-quota counts in, in µs (1000 to 1000000; default 100000).
    #[arg(long, value_name = "µS", overrides_with = "cpu_period")]
    pub cpu_period: Option<u64>,
    /// Real-time scheduling period in µs (cgroup v1, as root).
    #[arg(long, value_name = "µS", overrides_with = "cpu_rt_period")]
    pub cpu_rt_period: Option<u64>,
    /// Real-time CPU time per --cpu-rt-period in µs (cgroup v1, as root; the parent cgroup must have that much).
    #[arg(
        long,
        value_name = "µS",
        allow_hyphen_values = true,
        overrides_with = "cpu_rt_runtime"
    )]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may run on, such as 0-2,4.
    #[arg(long, value_name = "LIST", overrides_with = "cpuset_cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may allocate from, such as 0,1 (NUMA hosts).
    #[arg(long, value_name = "LIST", overrides_with = "cpuset_mems")]
    pub cpuset_mems: Option<String>,
    /// Block I/O weight, 10 to 1000 (needs a kernel with I/O weights: BFQ on cgroup v1).
    #[arg(long, value_name = "N", overrides_with = "blkio_weight")]
    pub blkio_weight: Option<u16>,
    /// Block I/O weight of one device, DEVICE:WEIGHT (such as /dev/sda:200). Repeatable.
    #[arg(long, value_name = "DEVICE:WEIGHT")]
    pub blkio_weight_device: Vec<String>,
    /// Read rate limit of a device, DEVICE:RATE (bytes per second, or a number with k, m or g). Repeatable.
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_read_bps: Vec<String>,
    /// Write rate limit of a device, DEVICE:RATE (bytes per second, or a number with k, m or g). Repeatable.
    #[arg(long, value_name = "DEVICE:RATE")]
    pub device_write_bps: Vec<String>,
    /// Read operations per second a device may serve the container, DEVICE:N. Repeatable.
    #[arg(long, value_name = "DEVICE:N")]
    pub device_read_iops: Vec<String>,
    /// Write operations per second a device may serve the container, DEVICE:N. Repeatable.
    #[arg(long, value_name = "DEVICE:N")]
    pub device_write_iops: Vec<String>,
    /// Most processes the container may have (-1 or 0: no limit; default containers.conf pids_limit, else 2048, where the host allows limits).
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        overrides_with = "pids_limit"
    )]
    pub pids_limit: Option<i64>,
    /// The cgroup the container's own goes under: a path from the hierarchy's root (rootless: from the subtree delegated to you). Default skiff.
    #[arg(long, value_name = "PATH", overrides_with = "cgroup_parent")]
    pub cgroup_parent: Option<String>,
    /// Whether the container gets a cgroup: enabled (the default), disabled (none: no limits), no-conmon (the same here: skiff's supervisor never joins it), or split (below the caller's own cgroup).
    #[arg(long, value_name = "MODE", overrides_with = "cgroups")]
    pub cgroups: Option<String>,
    /// Write VALUE to the cgroup v2 file KEY of the container's cgroup, such as memory.high=1g (cgroup v2 only). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub cgroup_conf: Vec<String>,
    /// Accepted for old scripts and ignored with a warning: kernels no longer limit kernel memory apart.
    #[arg(long, value_name = "SIZE", hide = true)]
    pub kernel_memory: Option<String>,
    /// Let the container use devices that match RULE, "TYPE MAJOR:MINOR ACCESS" such as "c 10:200 rwm" (TYPE a, b or c; * for any number; ACCESS of r, w, m), as root on cgroup v1. Repeatable.
    #[arg(long, value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
}

/// What the cgroup flags ask for, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// None: `--cgroups disabled`.
    pub cgroup: Option<CgroupRequest>,
    /// `--cgroups` as given, for inspect (`default` when not).
    pub mode: String,
    /// `--kernel-memory` was given: it is warned about and ignored.
    pub kernel_memory_ignored: bool,
}

/// The cgroup the container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupRequest {
    pub parent: Option<String>,
    pub under_caller: bool,
    pub limits: ResourceLimits,
    /// `--device-cgroup-rule`, checked.
    pub device_rules: Vec<String>,
    /// Settings in `limits` that no flag gave (containers.conf's `pids_limit`, the swap that
    /// `--memory` implies, the period of `--cpus`): the warning does not name them, and Podman
    /// gives none for the default pids limit rootless on cgroup v1.
    pub derived: Vec<Setting>,
}

/// Podman's default `pids_limit`.
const DEFAULT_PIDS_LIMIT: i64 = 2048;

/// The smallest `--memory` Podman takes.
const MINIMUM_MEMORY: i64 = 6 * 1024 * 1024;

/// `flags` over containers.conf's `cgroups` and `pids_limit`.
pub fn resources(flags: &ResourceFlags, defaults: &ContainersTable) -> Result<Resources> {
    let mode = flags
        .cgroups
        .clone()
        .or_else(|| defaults.cgroups.clone())
        .unwrap_or_else(|| "enabled".into());
    let limits = limits(flags)?;
    let device_rules = flags
        .device_cgroup_rule
        .iter()
        .map(|rule| device_rule(rule))
        .collect::<Result<Vec<_>>>()?;
    let under_caller = match mode.as_str() {
        "enabled" | "no-conmon" => false,
        "split" => true,
        "disabled" => {
            if limits != ResourceLimits::default() || !device_rules.is_empty() {
                bail!("--cgroups disabled: the container gets no cgroup, so it cannot have resource limits");
            }
            return Ok(Resources {
                cgroup: None,
                mode,
                kernel_memory_ignored: flags.kernel_memory.is_some(),
            });
        }
        other => bail!("invalid --cgroups {other:?}: enabled, disabled, no-conmon or split"),
    };
    if under_caller && flags.cgroup_parent.is_some() {
        bail!("--cgroup-parent and --cgroups split cannot be used together");
    }
    let mut limits = limits;
    let mut derived = Vec::new();
    if limits.pids_limit.is_none() {
        limits.pids_limit = Some(defaults.pids_limit.unwrap_or(DEFAULT_PIDS_LIMIT));
        derived.push(Setting::PidsLimit);
    }
    if flags.memory_swap.is_none() {
        derived.push(Setting::MemorySwap);
    }
    if flags.cpu_period.is_none() {
        derived.push(Setting::CpuPeriod);
    }
    Ok(Resources {
        cgroup: Some(CgroupRequest {
            parent: flags
                .cgroup_parent
                .clone()
                .map(|p| cgroup_parent(&p))
                .transpose()?,
            under_caller,
            limits,
            device_rules,
            derived,
        }),
        mode: flags.cgroups.clone().unwrap_or_else(|| "default".into()),
        kernel_memory_ignored: flags.kernel_memory.is_some(),
    })
}

fn limits(flags: &ResourceFlags) -> Result<ResourceLimits> {
    // 0: no limit, as Podman takes it.
    let memory = flags
        .memory
        .as_deref()
        .map(|m| size("--memory", m))
        .transpose()?
        .filter(|m| *m != 0);
    if memory.is_some_and(|m| m < MINIMUM_MEMORY) {
        bail!("--memory: the smallest memory limit is 6MB");
    }
    let memory_swap = match flags.memory_swap.as_deref() {
        None => memory.map(|m| m * 2),
        Some("-1") => Some(-1),
        Some(text) => {
            let swap = size("--memory-swap", text)?;
            match memory {
                None => bail!("--memory-swap needs --memory: swap is limited together with memory"),
                Some(m) if swap < m => bail!("--memory-swap {text}: it counts memory and swap together, so it may not be below --memory"),
                Some(_) => Some(swap),
            }
        }
    };
    let memory_reservation = flags
        .memory_reservation
        .as_deref()
        .map(|r| size("--memory-reservation", r))
        .transpose()?;
    if let (Some(reservation), Some(memory)) = (memory_reservation, memory) {
        if reservation > memory {
            bail!("--memory-reservation may not be above --memory");
        }
    }
    let memory_swappiness = match flags.memory_swappiness {
        None | Some(-1) => None,
        Some(n @ 0..=100) => Some(n as u64),
        Some(n) => bail!("invalid --memory-swappiness {n}: 0 to 100, or -1"),
    };
    let (cpu_quota, cpu_period) = cpu_time(flags)?;
    if let Some(shares) = flags.cpu_shares.filter(|s| !(2..=262_144).contains(s)) {
        bail!("invalid --cpu-shares {shares}: 2 to 262144");
    }
    if let Some(weight) = flags.blkio_weight.filter(|w| !(10..=1000).contains(w)) {
        bail!("invalid --blkio-weight {weight}: 10 to 1000");
    }
    Ok(ResourceLimits {
        memory,
        memory_swap,
        memory_reservation,
        memory_swappiness,
        oom_kill_disable: flags.oom_kill_disable.unwrap_or(false),
        cpu_shares: flags.cpu_shares,
        cpu_quota,
        cpu_period,
        cpu_rt_period: flags.cpu_rt_period,
        cpu_rt_runtime: flags.cpu_rt_runtime,
        cpuset_cpus: cpu_list("--cpuset-cpus", flags.cpuset_cpus.as_deref())?,
        cpuset_mems: cpu_list("--cpuset-mems", flags.cpuset_mems.as_deref())?,
        blkio_weight: flags.blkio_weight,
        blkio_weight_device: device_weights(&flags.blkio_weight_device)?,
        device_read_bps: device_rates("--device-read-bps", &flags.device_read_bps, true)?,
        device_write_bps: device_rates("--device-write-bps", &flags.device_write_bps, true)?,
        device_read_iops: device_rates("--device-read-iops", &flags.device_read_iops, false)?,
        device_write_iops: device_rates("--device-write-iops", &flags.device_write_iops, false)?,
        pids_limit: flags.pids_limit,
        allowed_devices: None,
        unified: flags
            .cgroup_conf
            .iter()
            .map(|pair| cgroup_conf(pair))
            .collect::<Result<_>>()?,
    })
}

/// `--cpus`, or `--cpu-quota` and `--cpu-period`, which it may not come with.
fn cpu_time(flags: &ResourceFlags) -> Result<(Option<i64>, Option<u64>)> {
    if let Some(period) = flags.cpu_period.filter(|p| !(1000..=1_000_000).contains(p)) {
        bail!("invalid --cpu-period {period}: 1000 to 1000000 µs");
    }
    if let Some(quota) = flags.cpu_quota.filter(|q| *q != -1 && *q < 1000) {
        bail!("invalid --cpu-quota {quota}: at least 1000 µs, or -1");
    }
    let Some(text) = &flags.cpus else {
        return Ok((flags.cpu_quota, flags.cpu_period));
    };
    if flags.cpu_quota.is_some() || flags.cpu_period.is_some() {
        bail!("--cpus and --cpu-period/--cpu-quota cannot be used together");
    }
    let cpus: f64 = text
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .with_context(|| format!("invalid --cpus {text:?}: give a number of CPUs such as 1.5"))?;
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus > available as f64 {
        bail!("--cpus {text}: this host has {available} CPUs");
    }
    if cpus == 0.0 {
        return Ok((None, None));
    }
    const PERIOD: u64 = 100_000;
    Ok((Some((cpus * PERIOD as f64).round() as i64), Some(PERIOD)))
}

fn size(flag: &str, text: &str) -> Result<i64> {
    let bytes = crate::size::parse_size(text).map_err(|_| {
        anyhow::anyhow!("invalid {flag} {text:?}: give bytes, or a number with b, k, m or g")
    })?;
    i64::try_from(bytes).with_context(|| format!("{flag} {text}: too large"))
}

/// A cpuset list: numbers and ranges, comma-separated (`0-2,4`).
fn cpu_list(flag: &str, text: Option<&str>) -> Result<Option<String>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let number = |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    let valid = text.split(',').all(|part| match part.split_once('-') {
        Some((from, to)) => {
            number(from) && number(to) && from.parse::<u32>().ok() <= to.parse::<u32>().ok()
        }
        None => number(part),
    });
    if !valid {
        bail!("invalid {flag} {text:?}: give numbers and ranges such as 0-2,4");
    }
    Ok(Some(text.to_string()))
}

/// A device node's major and minor numbers.
fn device_numbers(flag: &str, path: &str) -> Result<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).with_context(|| format!("{flag} {path}"))?;
    if !meta.file_type().is_block_device() {
        bail!("{flag} {path}: not a block device");
    }
    let rdev = meta.rdev();
    Ok((nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev)))
}

fn device_weights(given: &[String]) -> Result<Vec<DeviceWeight>> {
    let flag = "--blkio-weight-device";
    given
        .iter()
        .map(|text| {
            let (path, weight) = text
                .rsplit_once(':')
                .with_context(|| format!("invalid {flag} {text:?}: give DEVICE:WEIGHT"))?;
            let weight: u16 = weight
                .parse()
                .ok()
                .filter(|w| (10..=1000).contains(w))
                .with_context(|| format!("invalid {flag} {text:?}: a weight of 10 to 1000"))?;
            let (major, minor) = device_numbers(flag, path)?;
            Ok(DeviceWeight {
                path: path.to_string(),
                major,
                minor,
                weight,
            })
        })
        .collect()
}

/// DEVICE:RATE pairs; a byte rate may carry a size suffix.
fn device_rates(flag: &str, given: &[String], bytes: bool) -> Result<Vec<DeviceRate>> {
    given
        .iter()
        .map(|text| {
            let (path, rate) = text
                .rsplit_once(':')
                .with_context(|| format!("invalid {flag} {text:?}: give DEVICE:RATE"))?;
            let rate = match bytes {
                true => crate::size::parse_size(rate).ok(),
                false => rate.parse().ok(),
            }
            .with_context(|| format!("invalid {flag} {text:?}: the rate is not a number"))?;
            let (major, minor) = device_numbers(flag, path)?;
            Ok(DeviceRate {
                path: path.to_string(),
                major,
                minor,
                rate,
            })
        })
        .collect()
}

/// `--cgroup-parent`: a path without `..` (it may not climb out of the hierarchy).
fn cgroup_parent(text: &str) -> Result<String> {
    if text.trim_matches('/').is_empty() || text.split('/').any(|part| part == "..") {
        bail!("invalid --cgroup-parent {text:?}: give a cgroup path such as /mine or mine/sub");
    }
    Ok(text.to_string())
}

const PLACEMENT_FILES: [&str; 4] = [
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.type",
];

/// `--cgroup-conf KEY=VALUE`: a file of the container's cgroup, by name.
fn cgroup_conf(pair: &str) -> Result<(String, String)> {
    match pair.split_once('=') {
        // Not the files that place processes and controllers: skiff's own to write.
        Some((key, value))
            if key.contains('.')
                && !key.contains('/')
                && !PLACEMENT_FILES.contains(&key) =>
        {
            Ok((key.to_string(), value.to_string()))
        }
        _ => bail!("invalid --cgroup-conf {pair:?}: give a controller's file and a value, such as memory.high=1073741824"),
    }
}

/// `--device-cgroup-rule`: `TYPE MAJOR[:MINOR] ACCESS`, checked in Podman's words; a missing
/// minor number is any (`*`).
fn device_rule(rule: &str) -> Result<String> {
    let parts: Vec<&str> = rule.split_whitespace().collect();
    let [kind, numbers, access] = parts.as_slice() else {
        bail!("invalid device cgroup rule requires type, major:Minor, and access rules: {rule:?}");
    };
    if !matches!(*kind, "a" | "b" | "c") {
        bail!("invalid device type in device-access-add: {kind}");
    }
    let (major, minor) = numbers.split_once(':').unwrap_or((numbers, "*"));
    for number in [major, minor].into_iter().filter(|n| *n != "*") {
        if number.parse::<u32>().is_err() {
            bail!("strconv.ParseUint: parsing {number:?}: invalid syntax");
        }
    }
    if let Some(bad) = access.chars().find(|c| !"rwm".contains(*c)) {
        bail!("invalid device access in device-access-add: {bad}");
    }
    Ok(format!("{kind} {major}:{minor} {access}"))
}

/// The one warning a command gives for what of `request` this host cannot apply; None when
/// everything is.
pub fn unavailable_warning(request: &CgroupRequest) -> Option<String> {
    let mut limits = request.limits.clone();
    if request.derived.contains(&Setting::PidsLimit) {
        limits.pids_limit = None;
    }
    if !request.device_rules.is_empty() {
        limits.allowed_devices = Some(request.device_rules.clone());
    }
    let unmet = cgroups::unavailable(&limits);
    if unmet.is_empty() {
        return None;
    }
    let parts: Vec<String> = unmet
        .iter()
        .map(|u| {
            let flags: Vec<&str> = u
                .settings
                .iter()
                .filter(|s| !request.derived.contains(s))
                .map(|s| flag_of(*s))
                .collect();
            let because = match u.controllers.as_slice() {
                [] => u.reason.clone(),
                [one] => format!("the {one} controller: {}", u.reason),
                many => format!(
                    "the {} and {} controllers: {}",
                    many[..many.len() - 1].join(", "),
                    many[many.len() - 1],
                    u.reason
                ),
            };
            format!("{}: {because}", flags.join(", "))
        })
        .collect();
    Some(format!(
        "resource limits not applied (the container runs without them): {}",
        parts.join("; ")
    ))
}

/// The flag a setting comes from.
fn flag_of(setting: Setting) -> &'static str {
    match setting {
        Setting::Memory => "--memory",
        Setting::MemorySwap => "--memory-swap",
        Setting::MemoryReservation => "--memory-reservation",
        Setting::MemorySwappiness => "--memory-swappiness",
        Setting::OomKillDisable => "--oom-kill-disable",
        Setting::CpuShares => "--cpu-shares",
        Setting::CpuQuota => "--cpus/--cpu-quota",
        Setting::CpuPeriod => "--cpu-period",
        Setting::CpuRealtime => "--cpu-rt-period/--cpu-rt-runtime",
        Setting::Cpuset => "--cpuset-cpus/--cpuset-mems",
        Setting::BlkioWeight => "--blkio-weight",
        Setting::BlkioWeightDevice => "--blkio-weight-device",
        Setting::DeviceRates => "--device-read/write-bps/iops",
        Setting::PidsLimit => "--pids-limit",
        Setting::DeviceRules => "--device-cgroup-rule",
        Setting::CgroupConf => "--cgroup-conf",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Resources> {
        #[derive(clap::Parser)]
        struct Probe {
            #[command(flatten)]
            flags: ResourceFlags,
        }
        use clap::Parser;
        let probe = Probe::try_parse_from(std::iter::once("probe").chain(args.iter().copied()))?;
        resources(&probe.flags, &ContainersTable::default())
    }

    fn limits_of(args: &[&str]) -> ResourceLimits {
        parsed(args).unwrap().cgroup.unwrap().limits
    }

    #[test]
    fn memory_gets_twice_as_much_with_swap_unless_told() {
        let limits = limits_of(&["--memory", "20m"]);
        assert_eq!(
            (limits.memory, limits.memory_swap),
            (Some(20 << 20), Some(40 << 20))
        );
        let limits = limits_of(&["-m", "20m", "--memory-swap", "-1"]);
        assert_eq!(limits.memory_swap, Some(-1));
    }

    #[test]
    fn podmans_memory_rules_are_kept() {
        for (args, says) in [
            (&["--memory", "1m"][..], "smallest"),
            (&["--memory-swap", "20m"], "needs --memory"),
            (&["-m", "20m", "--memory-swap", "10m"], "may not be below"),
            (
                &["-m", "20m", "--memory-reservation", "30m"],
                "may not be above",
            ),
            (&["--memory-swappiness", "101"], "0 to 100"),
        ] {
            let error = parsed(args).unwrap_err().to_string();
            assert!(error.contains(says), "{args:?}: {error}");
        }
    }

    #[test]
    fn cpus_are_a_quota_and_exclude_the_quota_flags() {
        let limits = limits_of(&["--cpus", "0.5"]);
        assert_eq!(
            (limits.cpu_quota, limits.cpu_period),
            (Some(50_000), Some(100_000))
        );
        let error = parsed(&["--cpus", "1", "--cpu-quota", "5000"]).unwrap_err();
        assert!(error.to_string().contains("cannot be used together"));
    }

    #[test]
    fn the_default_pids_limit_is_podmans_and_marked_as_a_default() {
        let request = parsed(&[]).unwrap().cgroup.unwrap();
        assert_eq!(request.limits.pids_limit, Some(2048));
        assert!(request.derived.contains(&Setting::PidsLimit));
        let request = parsed(&["--pids-limit", "-1"]).unwrap().cgroup.unwrap();
        assert_eq!(request.limits.pids_limit, Some(-1));
        assert!(!request.derived.contains(&Setting::PidsLimit));
    }

    #[test]
    fn disabled_cgroups_refuse_limits() {
        assert_eq!(parsed(&["--cgroups", "disabled"]).unwrap().cgroup, None);
        assert!(parsed(&["--cgroups", "disabled", "--pids-limit", "5"]).is_err());
        assert!(parsed(&["--cgroups", "sometimes"]).is_err());
    }

    #[test]
    fn lists_rules_and_files_are_checked() {
        assert!(parsed(&["--cpuset-cpus", "0-1,3"]).is_ok());
        assert!(parsed(&["--cpuset-cpus", "2-1"]).is_err());
        assert!(parsed(&["--device-cgroup-rule", "c 10:200 rwm"]).is_ok());
        assert!(parsed(&["--device-cgroup-rule", "x 10:200 rwm"]).is_err());
        let rule = parsed(&["--device-cgroup-rule", "a 7 rmw"])
            .unwrap()
            .cgroup
            .unwrap();
        assert_eq!(rule.device_rules, ["a 7:* rmw"]);
        assert!(parsed(&["--cgroup-conf", "memory.high=1g"]).is_ok());
        assert!(parsed(&["--cgroup-conf", "../etc/passwd=x"]).is_err());
        assert!(parsed(&["--cgroup-conf", "cgroup.procs=1"]).is_err());
        assert!(parsed(&["--cgroup-parent", "/a/../.."]).is_err());
        assert!(parsed(&["--device-read-bps", "/dev/null:1m"]).is_err());
    }
}
