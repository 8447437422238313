//! The process flags of `run` and `create` that each take a line or two of checking: the
//! time zone, the umask, the OOM score, the init, `--chrootdirs`, `--shm-size` and
//! `--group-add`, over containers.conf where it has them.

use std::path::PathBuf;

use anyhow::{bail, Result};

use super::RunFlags;
use crate::config::containers::ContainersTable;

/// `--group-add`: `keep-groups` only alone, as Podman has it.
pub(super) fn group_add(groups: &[String]) -> Result<Vec<String>> {
    if groups.len() > 1 && groups.iter().any(|g| g == "keep-groups") {
        bail!("the '--group-add keep-groups' option is not allowed with any other --group-add options");
    }
    Ok(groups.to_vec())
}

/// `--shm-size`, with Podman's words for a bad one.
pub(super) fn shm_size(text: &str) -> Result<u64> {
    crate::size::parse_size(text)
        .map_err(|_| anyhow::anyhow!("unable to translate --shm-size: invalid size: '{text}'"))
}

/// The host's file for the time zone `zone`: `local` is the host's own zone, any other a name
/// under /usr/share/zoneinfo (not a path out of it).
pub(super) fn zone_file(zone: &str) -> Result<PathBuf> {
    let path = match zone {
        "local" => PathBuf::from("/etc/localtime"),
        _ if zone.starts_with('/') || zone.split('/').any(|part| part == "..") => {
            bail!("invalid time zone {zone:?}: name one under /usr/share/zoneinfo, or local")
        }
        _ => PathBuf::from("/usr/share/zoneinfo").join(zone),
    };
    match std::fs::canonicalize(&path) {
        Ok(file) if file.is_file() => Ok(file),
        Ok(_) => bail!("{} is not a time zone file", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("stat {}: no such file or directory", path.display())
        }
        Err(e) => bail!("stat {}: {e}", path.display()),
    }
}

/// `--oom-score-adj`, which the kernel takes from -1000 to 1000.
pub(super) fn oom_score_adj(score: i32) -> Result<i32> {
    if !(-1000..=1000).contains(&score) {
        bail!("invalid value {score} for --oom-score-adj: it must be between -1000 and 1000");
    }
    Ok(score)
}

/// An umask in octal (`0077`, `77`), as Podman takes it.
pub(super) fn parse_umask(text: &str) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mask| *mask <= 0o777)
        .ok_or_else(|| anyhow::anyhow!("invalid umask string {text}: invalid argument"))
}

/// `--chrootdirs`: absolute paths in the container, without a trailing slash.
pub(super) fn chrootdirs(dirs: &[String]) -> Result<Vec<String>> {
    dirs.iter()
        .map(|dir| match dir.trim_end_matches('/') {
            root if dir.starts_with('/') && !root.is_empty() => Ok(root.to_string()),
            _ => bail!("invalid --chrootdirs {dir:?}: give an absolute directory in the container other than /"),
        })
        .collect()
}

/// `--init-path`, else containers.conf `init_path`: a file that must exist on the host.
pub(super) fn init_path(flags: &RunFlags, defaults: &ContainersTable) -> Result<Option<PathBuf>> {
    let Some(path) = flags
        .init_path
        .clone()
        .or_else(|| defaults.init_path.clone())
    else {
        return Ok(None);
    };
    if !path.is_absolute() || !path.is_file() {
        bail!("--init-path {}: no such file on the host (give the absolute path of an init such as catatonit or tini)", path.display());
    }
    Ok(Some(path))
}

/// `--tz`, else containers.conf `tz`: the zone file to bind.
pub(super) fn timezone(flags: &RunFlags, defaults: &ContainersTable) -> Result<Option<PathBuf>> {
    flags
        .tz
        .as_deref()
        .or(defaults.tz.as_deref())
        .filter(|zone| !zone.is_empty())
        .map(zone_file)
        .transpose()
}

/// `--umask`, else containers.conf `umask`.
pub(super) fn umask(flags: &RunFlags, defaults: &ContainersTable) -> Result<Option<u32>> {
    flags
        .umask
        .as_deref()
        .or(defaults.umask.as_deref())
        .map(parse_umask)
        .transpose()
}
