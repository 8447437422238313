//! A container's cgroup: where it goes, the limits written in it (`--memory`, `--cpus`,
//! `--pids-limit`…), and what it tells once the container ends (was it killed for memory).
//!
//! Each controller a container needs comes from cgroup v2 where the caller may write a v2
//! subtree that has it (all of the host's cgroups as root; rootless, a delegated subtree: a
//! systemd user session's, or one an administrator chowned), else, as root, from the
//! controller's v1 hierarchy. A hybrid host binds memory, cpu, io and pids to v1: root uses
//! them there, and a rootless user gets no limits at all. `unavailable` names what a request
//! cannot get, for the caller's one warning; the container then runs without those limits.

mod discovery;
mod limits;
mod v1;
mod v2;
mod view;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use discovery::Hierarchies;
pub use limits::{DeviceRate, DeviceWeight, ResourceLimits, Setting, Unmet};
pub(crate) use view::CgroupView;

use super::error::Error;

/// The cgroup mounts of a hybrid host (this project's CI), for the tests that read them.
#[cfg(test)]
const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

/// Where a container's cgroup goes and what is written in it; kept in the container's spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupSpec {
    /// The container's own cgroup, a directory name (`skiff-ID`).
    pub name: String,
    /// `--cgroup-parent`: a path from the hierarchy's root (absolute) or, rootless, from the
    /// delegated subtree's; None for `skiff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// `--cgroups split`: under the caller's own cgroup instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub under_caller: bool,
    #[serde(default)]
    pub limits: ResourceLimits,
    /// `--systemd`: also in systemd's v1 hierarchy (`name=systemd`, where the caller may write
    /// it), where systemd as the container's init makes its units' cgroups.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub systemd: bool,
}

/// The controllers skiff writes limits through (v2 names; `io` is v1's `blkio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Memory,
    Cpu,
    Cpuset,
    Io,
    Pids,
    /// v1 only: v2 filters devices with an eBPF program, which skiff does not load.
    Devices,
}

impl Controller {
    pub fn v2_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuset => "cpuset",
            Controller::Io => "io",
            Controller::Pids => "pids",
            Controller::Devices => "devices",
        }
    }

    /// The v1 hierarchies that carry it (cpu's accounting half lives in cpuacct).
    fn v1_names(self) -> &'static [&'static str] {
        match self {
            Controller::Memory => &["memory"],
            Controller::Cpu => &["cpu", "cpuacct"],
            Controller::Cpuset => &["cpuset"],
            Controller::Io => &["blkio"],
            Controller::Pids => &["pids"],
            Controller::Devices => &["devices"],
        }
    }
}

/// What of `limits` this host cannot give a container started by this caller, each with why
/// (empty: everything is applied).
pub fn unavailable(limits: &ResourceLimits) -> Vec<Unmet> {
    limits.unmet(Hierarchies::discover())
}

/// A container's cgroup, made and joined by its first process.
#[derive(Debug)]
pub struct Cgroup {
    v2: Option<PathBuf>,
    /// One directory per v1 hierarchy.
    v1: Vec<PathBuf>,
}

impl Cgroup {
    /// Makes the container's cgroup wherever this caller may, writes its limits and moves
    /// `pid` into it (before it runs anything of the container's). None where the caller may
    /// write no cgroup at all (rootless on a cgroup v1 host): nothing to do, at no cost.
    pub fn create(spec: &CgroupSpec, pid: i32) -> Result<Option<Cgroup>, Error> {
        let hierarchies = Hierarchies::discover();
        if hierarchies.is_empty() {
            return Ok(None);
        }
        let mut cgroup = Cgroup {
            v2: None,
            v1: Vec::new(),
        };
        let result = cgroup.make(hierarchies, spec, pid);
        match result {
            Ok(()) => Ok(Some(cgroup)),
            Err(error) => {
                cgroup.remove();
                Err(error)
            }
        }
    }

    fn make(
        &mut self,
        hierarchies: &Hierarchies,
        spec: &CgroupSpec,
        pid: i32,
    ) -> Result<(), Error> {
        let wanted = spec.limits.controllers();
        if let Some(v2) = &hierarchies.v2 {
            let usable: Vec<Controller> = wanted
                .iter()
                .copied()
                .filter(|c| v2.controllers.contains(&c.v2_name().to_string()))
                .collect();
            let dir = v2::make(v2, spec, &usable)?;
            self.v2 = Some(dir.clone());
            v2::apply(&dir, &spec.limits, &usable)?;
        }
        for hierarchy in hierarchies.v1_for(&wanted) {
            let dir = v1::make(hierarchy, spec)?;
            self.v1.push(dir.clone());
            v1::apply(&hierarchy.names, &dir, &spec.limits)?;
        }
        if let Some(hierarchy) = hierarchies.systemd_v1().filter(|_| spec.systemd) {
            self.v1.push(v1::make(hierarchy, spec)?);
        }
        // Last: its process joins a cgroup whose limits are all in place.
        if let Some(dir) = &self.v2 {
            join(dir, pid)?;
        }
        for dir in &self.v1 {
            join(dir, pid)?;
        }
        Ok(())
    }

    /// Whether the kernel killed a process of the container for want of memory.
    pub fn oom_killed(&self) -> bool {
        // Only the memory hierarchy's directory has the v1 file.
        let v1 = self.v1.iter().map(|dir| dir.join("memory.oom_control"));
        let v2 = self.v2.iter().map(|dir| dir.join("memory.events"));
        v1.chain(v2).any(|file| count_in(&file, "oom_kill") > 0)
    }

    /// Kills what is left in it (a daemon the command left behind shares no pid namespace's
    /// end with it when the pid namespace is the host's) and removes its directories.
    pub fn remove(self) {
        let dirs: Vec<&PathBuf> = self.v2.iter().chain(&self.v1).collect();
        for dir in &dirs {
            kill_members(dir);
        }
        for dir in dirs {
            remove_dir_when_empty(dir);
        }
    }
}

/// Removes what is left of a container's cgroup, whose process is gone: a supervisor killed
/// before it removed it leaves it behind, empty (`rm` calls this).
pub fn remove_leftover(spec: &CgroupSpec) {
    let hierarchies = Hierarchies::discover();
    let v2 = hierarchies.v2.as_ref().map(|v2| v2::path(v2, spec));
    let v1 = hierarchies
        .v1
        .iter()
        .filter(|h| h.writable)
        .map(|h| v1::path(h, spec));
    let leftover = Cgroup {
        v2: v2.filter(|dir| dir.exists()),
        v1: v1.filter(|dir| dir.exists()).collect(),
    };
    leftover.remove();
}

/// The cgroups of the container whose first process is `pid` that this caller may write and
/// that are not its own: where `exec` puts the processes it starts.
pub fn container_cgroups(pid: i32) -> Vec<PathBuf> {
    let Ok(membership) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    // The mounts are read only when the container has a cgroup of its own (none rootless on
    // cgroup v1, where every line is the caller's).
    membership
        .lines()
        .filter(|line| !own.lines().any(|mine| mine == *line))
        .filter_map(|line| Hierarchies::discover().writable_dir_of(line))
        .collect()
}

/// Moves the calling process into `dirs`.
pub(crate) fn join_self(dirs: &[PathBuf]) -> Result<(), Error> {
    dirs.iter()
        .try_for_each(|dir| write_file(dir, "cgroup.procs", "0"))
}

fn join(dir: &Path, pid: i32) -> Result<(), Error> {
    write_file(dir, "cgroup.procs", &pid.to_string())
}

/// Writes `value` in the cgroup file `name`, saying which and where when the kernel refuses.
fn write_file(dir: &Path, name: &str, value: &str) -> Result<(), Error> {
    std::fs::write(dir.join(name), value).map_err(|source| Error::Sys {
        context: format!("writing {value:?} to {}", dir.join(name).display()),
        source,
    })
}

/// The number after `key` in a flat keyed cgroup file (`memory.events`, `memory.oom_control`).
fn count_in(file: &Path, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let (name, value) = line.split_once(' ')?;
                (name == key).then(|| value.trim().parse().ok()).flatten()
            })
        })
        .unwrap_or(0)
}

fn kill_members(dir: &Path) {
    if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    let Ok(members) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in members.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// rmdir fails (EBUSY) while a killed process is still on its way out: a few tries, 1 s at most.
fn remove_dir_when_empty(dir: &Path) {
    for attempt in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) if attempt < 99 => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(_) => return,
        }
    }
}
