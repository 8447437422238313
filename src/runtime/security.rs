//! Who the container's process runs as, and with which privileges: the user resolved from the
//! container's own /etc/passwd and /etc/group (as runc does), Podman's default capability set,
//! and no_new_privs.

use caps::{CapSet, Capability, CapsHashSet};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

use super::channel::{sys_error, Cause, ChildError};

/// Podman's default capabilities (containers.conf `default_capabilities`).
pub const DEFAULT_CAPABILITIES: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
    Capability::CAP_KILL,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETGID,
    Capability::CAP_SETPCAP,
    Capability::CAP_SETUID,
    Capability::CAP_SYS_CHROOT,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// The highest uid or gid a container's process may have, as Podman allows. Above it an id is
/// negative to the kernel, and 4294967295 (-1) tells setuid to change nothing: the process
/// stayed root.
pub const MAX_ID: u32 = i32::MAX.unsigned_abs();

/// Refuses a `user[:group]` with a number outside 0–2147483647 (a negative one included), at
/// `create` for `--user` and at start for the image's User.
pub fn check_user_ids(spec: &str) -> Result<(), String> {
    let (user, group) = spec.split_once(':').unwrap_or((spec, ""));
    for (kind, part) in [("uid", user), ("gid", group)] {
        let digits = part.strip_prefix('-').unwrap_or(part);
        let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        if numeric && !part.parse::<u32>().is_ok_and(|id| id <= MAX_ID) {
            return Err(format!(
                "invalid user {spec:?}: {kind} {part} is out of range 0-{MAX_ID}"
            ));
        }
    }
    Ok(())
}

/// Resolves `user[:group]` (names or numbers) against passwd and group file contents, with
/// Docker's rules: a numeric uid absent from passwd is allowed (gid 0, HOME /), a name must exist,
/// supplementary groups come from the group file. Every id must lie in 0–[`MAX_ID`].
pub fn resolve_user_in(spec: &str, passwd: &str, group: &str) -> Result<ResolvedUser, String> {
    check_user_ids(spec)?;
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let passwd_entries: Vec<Vec<&str>> = passwd
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    let numeric_uid = user_part.parse::<u32>().ok();
    let entry = passwd_entries.iter().find(|f| match numeric_uid {
        Some(uid) => f[2].parse::<u32>().ok() == Some(uid),
        None => f[0] == user_part,
    });
    let (uid, mut gid, home, name) = match (entry, numeric_uid) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| format!("invalid uid for {} in /etc/passwd", f[0]))?,
            f[3].parse()
                .map_err(|_| format!("invalid gid for {} in /etc/passwd", f[0]))?,
            f[5].to_string(),
            Some(f[0].to_string()),
        ),
        (None, Some(uid)) => (uid, 0, "/".to_string(), None),
        (None, None) => {
            return Err(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            ))
        }
    };
    let group_entries: Vec<Vec<&str>> = group
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| {
                    format!("unable to find group {g}: no matching entries in group file")
                })?,
        };
    }
    let mut additional_gids = Vec::new();
    if let (Some(name), None) = (&name, group_part) {
        for f in &group_entries {
            let members = f.get(3).copied().unwrap_or("");
            if members.split(',').any(|m| m == name) {
                if let Ok(g) = f[2].parse::<u32>() {
                    if g != gid && !additional_gids.contains(&g) {
                        additional_gids.push(g);
                    }
                }
            }
        }
    }
    // The image's own files may name an id out of range too.
    if uid > MAX_ID || gid > MAX_ID {
        return Err(format!(
            "user {spec:?} resolves to uid {uid} and gid {gid}: ids must be in range 0-{MAX_ID}"
        ));
    }
    additional_gids.retain(|g| *g <= MAX_ID);
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// The process's user (`process.user`) as the container's /etc/passwd and /etc/group resolve
/// it, with its `--group-add` groups.
/// A user or group the container's files do not have is Podman's 126; an id out of range and
/// the like stay skiff's own errors.
fn user_error(reason: String) -> ChildError {
    match reason.contains("no matching entries") {
        true => ChildError::new(Cause::UnknownUser, reason),
        false => ChildError::other(reason),
    }
}

pub(crate) fn resolve_user(process: &super::spec::ProcessSpec) -> Result<ResolvedUser, ChildError> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut user = resolve_user_in(&process.user, &passwd, &group).map_err(user_error)?;
    for added in process.group_add.iter().filter(|g| *g != KEEP_GROUPS) {
        let gid = added_group(added, &group).map_err(|e| {
            ChildError::new(
                Cause::UnknownUser,
                format!("looking up supplemental groups: {e}"),
            )
        })?;
        if !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(user)
}

/// `--group-add keep-groups`: the process keeps the caller's supplementary groups.
const KEEP_GROUPS: &str = "keep-groups";

/// A `--group-add` group: an id, or a name in the container's /etc/group (`group`).
fn added_group(name: &str, group: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse::<u32>() {
        return (gid <= MAX_ID)
            .then_some(gid)
            .ok_or_else(|| format!("group id {gid} is out of range 0-{MAX_ID}"));
    }
    group
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 3 && fields[0] == name)
        .and_then(|fields| fields[2].parse().ok())
        .ok_or_else(|| format!("Unable to find group {name}: no matching entries in group file"))
}

/// Creates the working directory if the image lacks it, as runc does, owned by the user.
pub(crate) fn prepare_workdir(cwd: &str, user: &ResolvedUser) -> Result<(), ChildError> {
    if std::path::Path::new(cwd).is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(cwd)
        .map_err(|e| ChildError::other(format!("creating working directory {cwd}: {e}")))?;
    let _ = nix::unistd::chown(cwd, Some(user.uid.into()), Some(user.gid.into()));
    Ok(())
}

/// RLIMIT_NOFILE when `--ulimit` does not set it: Podman's 1048576, lowered rootless to the
/// hard limit skiff has (as Podman's is).
const DEFAULT_NOFILE: u64 = 1_048_576;

/// `--personality`: switches the process's execution domain, which its exec keeps.
pub(crate) fn apply_personality(
    personality: Option<super::spec::Personality>,
) -> Result<(), ChildError> {
    use super::spec::Personality;
    // <linux/personality.h>; the libc crate does not have them.
    const PER_LINUX: libc::c_ulong = 0x0000;
    const PER_LINUX32: libc::c_ulong = 0x0008;
    let persona = match personality {
        None => return Ok(()),
        Some(Personality::Linux) => PER_LINUX,
        Some(Personality::Linux32) => PER_LINUX32,
    };
    // SAFETY: personality(2) only sets this process's execution domain; it touches no memory.
    let previous = unsafe { libc::personality(persona) };
    match previous {
        -1 => Err(sys_error("personality", nix::errno::Errno::last())),
        _ => Ok(()),
    }
}

/// Sets the process's resource limits. A hard limit above the present one needs
/// CAP_SYS_RESOURCE in the host's user namespace, which a rootless container has not: it gets
/// the present hard limit instead (Podman 5 lowers `-1` so), with the soft one no higher.
pub(crate) fn apply_rlimits(rlimits: &super::spec::Rlimits) -> Result<(), ChildError> {
    use super::spec::{Rlimit, Rlimits};
    let Rlimits::Set(limits) = rlimits else {
        return Ok(());
    };
    let default_nofile = Rlimit {
        name: "RLIMIT_NOFILE".into(),
        soft: DEFAULT_NOFILE,
        hard: DEFAULT_NOFILE,
    };
    let nofile_given = limits.iter().any(|l| l.name == default_nofile.name);
    for limit in limits
        .iter()
        .chain((!nofile_given).then_some(&default_nofile))
    {
        let resource = rlimit_resource(&limit.name)
            .ok_or_else(|| ChildError::other(format!("unknown resource limit {}", limit.name)))?;
        let (_, present_hard) = getrlimit(resource).map_err(|e| sys_error("getrlimit", e))?;
        let set = |soft: u64, hard: u64| setrlimit(resource, soft, hard);
        let outcome = match set(limit.soft, limit.hard) {
            Err(nix::errno::Errno::EPERM) if limit.hard > present_hard => {
                set(limit.soft.min(present_hard), present_hard)
            }
            outcome => outcome,
        };
        outcome.map_err(|e| {
            sys_error(
                &format!("setting {} to {}:{}", limit.name, limit.soft, limit.hard),
                e,
            )
        })?;
    }
    Ok(())
}

/// Sets the process's OOM score adjustment. Lowering it below its present value needs
/// CAP_SYS_RESOURCE in the host's user namespace: without it the present value stays, as Podman 5
/// clamps it rootless.
pub(crate) fn apply_oom_score_adj(score: Option<i32>) -> Result<(), ChildError> {
    let Some(score) = score else {
        return Ok(());
    };
    let path = "/proc/self/oom_score_adj";
    let present: i32 = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0);
    match std::fs::write(path, score.to_string()) {
        Ok(()) => Ok(()),
        Err(e) if score < present && e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        Err(e) => Err(ChildError::other(format!(
            "setting oom_score_adj to {score}: {e}"
        ))),
    }
}

fn rlimit_resource(name: &str) -> Option<Resource> {
    Some(match name {
        "RLIMIT_AS" => Resource::RLIMIT_AS,
        "RLIMIT_CORE" => Resource::RLIMIT_CORE,
        "RLIMIT_CPU" => Resource::RLIMIT_CPU,
        "RLIMIT_DATA" => Resource::RLIMIT_DATA,
        "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => Resource::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => Resource::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => Resource::RLIMIT_NICE,
        "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
        "RLIMIT_RSS" => Resource::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => Resource::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => Resource::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => Resource::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => Resource::RLIMIT_STACK,
        _ => return None,
    })
}

/// What `--cap-add ALL` gives, as Podman's does (`CAP_…` names, sorted): rootless, every
/// capability the kernel knows, which a new user namespace holds whatever skiff's own bounding
/// set lacks; as root, skiff's own bounding set.
pub fn bounding_capabilities() -> Vec<String> {
    let all = if nix::unistd::geteuid().is_root() {
        caps::read(None, CapSet::Bounding).unwrap_or_default()
    } else {
        caps::runtime::procfs_all_supported(None)
            .unwrap_or_else(|_| caps::runtime::thread_all_supported())
    };
    let mut names: Vec<String> = all.iter().map(|cap| cap.to_string()).collect();
    names.sort();
    names
}

/// The capabilities the process keeps: every one of its bounding set when privileged, the
/// names it was given, else the default ones.
pub(crate) fn kept_capabilities(
    process: &super::spec::ProcessSpec,
) -> Result<CapsHashSet, ChildError> {
    Ok(match &process.capabilities {
        _ if process.privileged => caps::read(None, CapSet::Bounding)
            .map_err(|e| ChildError::other(format!("reading capabilities: {e}")))?,
        // The names were checked when the container was created.
        Some(names) => names.iter().filter_map(|n| n.parse().ok()).collect(),
        None => DEFAULT_CAPABILITIES.iter().copied().collect(),
    })
}

/// Drops to the bounding set `keep` (see `kept_capabilities`), switches ids and, with
/// `--security-opt no-new-privileges`, sets no_new_privs. Root keeps `keep` as its permitted and effective sets, with nothing
/// inheritable (as runc has since CVE-2022-24769). Any other user ends with no capabilities
/// but those of `keep` it was given with `--cap-add`, which it holds as ambient ones too, so
/// that they survive its exec (Podman's rule).
pub(crate) fn drop_privileges(
    user: &ResolvedUser,
    keep: &CapsHashSet,
    process: &super::spec::ProcessSpec,
) -> Result<(), ChildError> {
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| {
                ChildError::other(format!("dropping {cap} from the bounding set: {e}"))
            })?;
        }
    }
    let added: CapsHashSet = process
        .added_capabilities
        .iter()
        .filter_map(|n| n.parse().ok())
        .filter(|cap| keep.contains(cap))
        .collect();
    let keeps_added = user.uid != 0 && !added.is_empty();
    if keeps_added {
        // Otherwise setuid to a non-root id clears the permitted set.
        nix::sys::prctl::set_keepcaps(true).map_err(|e| sys_error("keeping capabilities", e))?;
    }
    // setgroups is refused where /proc/self/setgroups says deny (single-id rootless mapping).
    let groups: Vec<nix::unistd::Gid> = user.additional_gids.iter().map(|g| (*g).into()).collect();
    let keeps_callers_groups = process.group_add.iter().any(|g| g == KEEP_GROUPS);
    let set = if keeps_callers_groups {
        Ok(())
    } else {
        nix::unistd::setgroups(&groups)
    };
    if let Err(e) = set {
        if e != nix::errno::Errno::EPERM {
            return Err(sys_error("setgroups", e));
        }
    }
    nix::unistd::setresgid(user.gid.into(), user.gid.into(), user.gid.into())
        .map_err(|e| sys_error(&format!("setgid {}", user.gid), e))?;
    nix::unistd::setresuid(user.uid.into(), user.uid.into(), user.uid.into())
        .map_err(|e| sys_error(&format!("setuid {}", user.uid), e))?;
    let set_capabilities = |set: CapSet, value: &CapsHashSet| {
        caps::set(None, set, value)
            .map_err(|e| ChildError::other(format!("setting capabilities: {e}")))
    };
    if user.uid == 0 {
        set_capabilities(CapSet::Effective, keep)?;
        set_capabilities(CapSet::Permitted, keep)?;
        set_capabilities(CapSet::Inheritable, &CapsHashSet::new())?;
    } else if keeps_added {
        set_capabilities(CapSet::Permitted, &added)?;
        set_capabilities(CapSet::Effective, &added)?;
        set_capabilities(CapSet::Inheritable, &added)?;
        set_capabilities(CapSet::Ambient, &added)?;
        nix::sys::prctl::set_keepcaps(false).map_err(|e| sys_error("keeping capabilities", e))?;
    }
    if process.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(|e| sys_error("no_new_privs", e))?;
    }
    Ok(())
}

/// Loads the system call filter and drops to the capabilities and ids the process runs with.
/// Without no_new_privs the kernel takes a filter only from a process with CAP_SYS_ADMIN, so it
/// is loaded first (what it allows includes the calls that drop privileges, as Podman's profile
/// does); with it, last.
pub(crate) fn confine(
    filter: &super::seccomp::ReadyFilter,
    user: &ResolvedUser,
    keep: &CapsHashSet,
    process: &super::spec::ProcessSpec,
) -> Result<(), ChildError> {
    if process.no_new_privileges {
        drop_privileges(user, keep, process)?;
        filter.install()
    } else {
        filter.install()?;
        drop_privileges(user, keep, process)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:tester\ntester:x:1000:\n";

    #[test]
    fn resolves_names_numbers_and_groups() {
        let root = resolve_user_in("", PASSWD, GROUP).unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        let tester = resolve_user_in("tester", PASSWD, GROUP).unwrap();
        assert_eq!((tester.uid, tester.gid), (1000, 1000));
        assert_eq!(tester.additional_gids, vec![10]);
        let by_number = resolve_user_in("1000", PASSWD, GROUP).unwrap();
        assert_eq!(by_number.home, "/home/tester");
        let unknown_number = resolve_user_in("4242:7", PASSWD, GROUP).unwrap();
        assert_eq!(
            (
                unknown_number.uid,
                unknown_number.gid,
                unknown_number.home.as_str()
            ),
            (4242, 7, "/")
        );
        assert_eq!(
            resolve_user_in("tester:wheel", PASSWD, GROUP).unwrap().gid,
            10
        );
        assert!(resolve_user_in("nobody-here", PASSWD, GROUP)
            .unwrap_err()
            .contains("unable to find user nobody-here"));
        assert!(resolve_user_in("0:nogroup", PASSWD, GROUP).is_err());
    }

    #[test]
    fn ids_outside_the_kernels_range_are_refused() {
        assert!(resolve_user_in("2147483647:2147483647", PASSWD, GROUP).is_ok());
        for spec in [
            "4294967295",
            "2147483648",
            "0:4294967295",
            "-1",
            "0:-1",
            "99999999999999999999",
        ] {
            let error = resolve_user_in(spec, PASSWD, GROUP).unwrap_err();
            assert!(error.contains("out of range"), "{spec}: {error}");
        }
        let huge = "huge:x:4294967295:0::/:/bin/sh\n";
        let error = resolve_user_in("huge", huge, GROUP).unwrap_err();
        assert!(error.contains("4294967295"), "{error}");
    }
}
