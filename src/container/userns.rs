//! `--userns`: which ids a container has. The default maps the user to root and the
//! subordinate ids above it; keep-id keeps the user's own uid and gid inside, so that files it
//! makes in a bind mount are the user's on the host.

use std::path::Path;

use anyhow::{bail, Result};

use crate::context::Context;
use crate::runtime::userns::{IdMapping, IdRange};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UsernsMode {
    /// The user's default mapping (`host` means the same: the user namespace skiff always
    /// uses); none as root.
    #[default]
    Default,
    /// `keep-id[:uid=U,gid=G]`: the user's ids are U and G inside (default: the same numbers).
    KeepId { uid: Option<u32>, gid: Option<u32> },
    /// `nomap`: the subordinate ids only; the user's own id is not in the container.
    NoMap,
    /// `auto[:size=N]`: N subordinate ids (default: enough for the image's users, at least
    /// 1024) that no other `auto` container has.
    Auto { size: Option<u32> },
    /// `--uidmap`/`--gidmap CONTAINER_ID:FROM_ID:COUNT`: the container's ids, mapped onto the
    /// ids of the user's namespace (0 the user, 1… the subordinate ids), as Podman's rootless
    /// maps are read.
    Map {
        uids: Vec<IdRange>,
        gids: Vec<IdRange>,
    },
}

/// `--uidmap` and `--gidmap` values (`CONTAINER_ID:FROM_ID[:COUNT]`, repeatable); the gid map
/// is the uid map when only that is given, as in Podman. None when neither is given.
pub fn parse_id_maps(uidmap: &[String], gidmap: &[String]) -> Result<Option<UsernsMode>> {
    let ranges = |flag: &str, values: &[String]| -> Result<Vec<IdRange>> {
        values
            .iter()
            .flat_map(|value| value.split(',').map(move |one| (value, one)))
            .map(|(value, one)| {
                let numbers: Vec<Option<u32>> = one.split(':').map(|n| n.parse().ok()).collect();
                match numbers[..] {
                    [Some(inside), Some(outside)] => Ok(IdRange {
                        inside,
                        outside,
                        count: 1,
                    }),
                    [Some(inside), Some(outside), Some(count)] if count > 0 => Ok(IdRange {
                        inside,
                        outside,
                        count,
                    }),
                    _ => bail!("invalid {flag} {value:?}: expected CONTAINER_ID:FROM_ID[:COUNT]"),
                }
            })
            .collect()
    };
    let uids = ranges("--uidmap", uidmap)?;
    let gids = ranges("--gidmap", gidmap)?;
    Ok(match (uids.is_empty(), gids.is_empty()) {
        (true, true) => None,
        (false, true) => Some(UsernsMode::Map {
            gids: uids.clone(),
            uids,
        }),
        (true, false) => Some(UsernsMode::Map {
            uids: gids.clone(),
            gids,
        }),
        (false, false) => Some(UsernsMode::Map { uids, gids }),
    })
}

/// `--subuidname`/`--subgidname NAME`: the container's ids are the range /etc/subuid (and
/// /etc/subgid) give NAME, as a map from 0, like `--uidmap 0:1:COUNT` over the user's namespace
/// (whose ids 1… are that range). Rootless, newuidmap maps only the caller's own ranges, so NAME
/// must be the caller (by name or uid) and have an entry; as root skiff makes no user namespace.
/// Either name stands for both when only one is given (Podman takes the gid range from the uid
/// name). None when neither is given.
pub fn parse_subordinate_names(
    subuidname: Option<&str>,
    subgidname: Option<&str>,
) -> Result<Option<UsernsMode>> {
    let Some(uid_name) = subuidname.or(subgidname) else {
        return Ok(None);
    };
    let gid_name = subgidname.unwrap_or(uid_name);
    let uid = nix::unistd::getuid();
    if uid.is_root() {
        bail!("--subuidname and --subgidname are for rootless containers here: as root, skiff makes no user namespace and a container's ids are the host's");
    }
    let me = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|user| user.name)
        .unwrap_or_else(|| uid.to_string());
    let me = (me.as_str(), uid.as_raw());
    let read = |file: &str| std::fs::read_to_string(file).unwrap_or_default();
    Ok(Some(UsernsMode::Map {
        uids: named_range(
            "subuidname",
            uid_name,
            me,
            &read("/etc/subuid"),
            "/etc/subuid",
        )?,
        gids: named_range(
            "subgidname",
            gid_name,
            me,
            &read("/etc/subgid"),
            "/etc/subgid",
        )?,
    }))
}

/// The map `--FLAG NAME` asks for, from `file`'s text: NAME must be the caller (`me`, by name
/// or uid) and have a range there, which the caller's namespace has as its ids 1….
fn named_range(
    flag: &str,
    name: &str,
    (me, uid): (&str, u32),
    text: &str,
    file: &str,
) -> Result<Vec<IdRange>> {
    if name != me && name != uid.to_string() {
        bail!("--{flag} {name}: rootless, newuidmap and newgidmap map only your own ranges ({me}'s), not {name}'s");
    }
    let (_, count) = crate::runtime::userns::parse_subordinate_range(text, me, uid)
        .ok_or_else(|| anyhow::anyhow!("--{flag} {name}: {file} has no range for {name}"))?;
    Ok(vec![IdRange {
        inside: 0,
        outside: 1,
        count,
    }])
}

/// The fewest ids `--userns=auto` gives a container, as Podman does.
const AUTO_MIN_SIZE: u32 = 1024;

impl UsernsMode {
    pub fn parse(text: &str) -> Result<Self> {
        let (mode, options) = text.split_once(':').unwrap_or((text, ""));
        let options: Vec<(&str, &str)> = options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(|o| o.split_once('=').unwrap_or((o, "")))
            .collect();
        let number = |key: &str, value: &str| {
            value.parse::<u32>().map_err(|_| {
                anyhow::anyhow!("invalid --userns option {key}={value:?}: expected a number")
            })
        };
        match mode {
            "" | "host" | "private" | "nomap" if !options.is_empty() => {
                bail!("--userns={mode} takes no options")
            }
            "" | "host" | "private" => Ok(UsernsMode::Default),
            "nomap" => Ok(UsernsMode::NoMap),
            "keep-id" => {
                let (mut uid, mut gid) = (None, None);
                for (key, value) in options {
                    match key {
                        "uid" => uid = Some(number(key, value)?),
                        "gid" => gid = Some(number(key, value)?),
                        _ => bail!("invalid --userns=keep-id option {key:?}: use uid=N and gid=N"),
                    }
                }
                Ok(UsernsMode::KeepId { uid, gid })
            }
            "auto" => {
                let mut size = None;
                for (key, value) in options {
                    match (key, number(key, value)) {
                        ("size", Ok(0)) => bail!("--userns=auto:size must be at least 1"),
                        ("size", given) => size = Some(given?),
                        _ => bail!("invalid --userns=auto option {key:?}: use size=N"),
                    }
                }
                Ok(UsernsMode::Auto { size })
            }
            _ => bail!(
                "invalid --userns {text:?}: use keep-id[:uid=N,gid=N], nomap, auto[:size=N] or host"
            ),
        }
    }

    /// As inspect's HostConfig.UsernsMode shows it, which Podman leaves empty for the default.
    pub fn inspect_text(&self) -> String {
        match self {
            UsernsMode::Default => String::new(),
            UsernsMode::KeepId { uid, gid } => {
                let options: Vec<String> = [("uid", uid), ("gid", gid)]
                    .iter()
                    .filter_map(|(key, value)| Some(format!("{key}={}", value.as_ref()?)))
                    .collect();
                match options.is_empty() {
                    true => "keep-id".into(),
                    false => format!("keep-id:{}", options.join(",")),
                }
            }
            UsernsMode::NoMap => "nomap".into(),
            UsernsMode::Auto { size: None } => "auto".into(),
            UsernsMode::Auto { size: Some(size) } => format!("auto:size={size}"),
            UsernsMode::Map { .. } => "private".into(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            UsernsMode::Default => "host",
            UsernsMode::KeepId { .. } => "keep-id",
            UsernsMode::NoMap => "nomap",
            UsernsMode::Auto { .. } => "auto",
            UsernsMode::Map { .. } => "private",
        }
    }
}

/// What a container's user namespace changes in it.
pub struct UsernsPlan {
    pub mapping: Option<IdMapping>,
    /// The image's layers as the runtime mounts them (topmost first).
    pub layers: Vec<String>,
    /// The mapping the layers' files belong to, when the runtime shows them to the container
    /// with their owners moved (instead of mounting copies made for its mapping).
    pub layer_owners: Option<IdMapping>,
    /// The container's ids on the host when its layers are copies made for them (an image
    /// mounted into it needs copies too).
    pub copied_for: Option<IdMapping>,
    /// `nomap`, `auto`: the maps of the user namespace the command runs in, nested in the
    /// container's (`runtime::ContainerSpec::nested_ids`).
    pub nested: Option<IdMapping>,
    /// The process's user when none was asked for.
    pub default_user: Option<String>,
    /// /etc/passwd and /etc/group with the kept user added, where the image lacks it.
    pub etc_files: Vec<(&'static str, String)>,
}

pub fn plan(ctx: &Context, mode: &UsernsMode, layers: Vec<String>) -> Result<UsernsPlan> {
    let mut plan = UsernsPlan {
        mapping: ctx.id_mapping.clone(),
        layers,
        layer_owners: None,
        copied_for: None,
        nested: None,
        default_user: None,
        etc_files: Vec::new(),
    };
    let base = match (mode, &ctx.id_mapping) {
        (UsernsMode::Default, _) => return Ok(plan),
        (UsernsMode::Map { .. }, None) => bail!(
            "--uidmap and --gidmap are for rootless containers here: as root, skiff makes no user namespace and a container's ids are the host's"
        ),
        (_, None) => bail!(
            "--userns={} is for rootless containers: as root, a container's ids are the host's already",
            mode.name()
        ),
        (_, Some(base)) => base.clone(),
    };
    // The container's ids as host ids, which its layers must show as the image's.
    let target = match mode {
        UsernsMode::KeepId { uid, gid } => {
            let uid = uid.unwrap_or_else(|| nix::unistd::getuid().as_raw());
            let gid = gid.unwrap_or_else(|| nix::unistd::getgid().as_raw());
            let kept = base.keep_id(uid, gid).map_err(anyhow::Error::msg)?;
            plan.mapping = Some(kept.clone());
            plan.default_user = Some(format!("{uid}:{gid}"));
            plan.etc_files = user_entries(ctx, &plan.layers, uid, gid);
            kept
        }
        UsernsMode::Map { uids, gids } => {
            let nested = IdMapping {
                uids: uids.clone(),
                gids: gids.clone(),
            };
            check_within(&nested, &base)?;
            let target = base.compose(&nested);
            plan.nested = Some(nested);
            target
        }
        UsernsMode::NoMap | UsernsMode::Auto { .. } => {
            let nested = nested_ids(ctx, mode, &base, &plan.layers)?;
            let target = base.compose(&nested);
            plan.nested = Some(nested);
            target
        }
        UsernsMode::Default => unreachable!("returned above"),
    };
    // Shown shifted by a FUSE server where the user may run one: nothing to copy. Otherwise
    // copies for this mapping, made once.
    if crate::runtime::fuse_server::available() {
        plan.layer_owners = Some(base);
    } else {
        plan.layers = crate::image::idmap::mapped_layers(ctx, &plan.layers, &target)?;
        plan.copied_for = Some(target);
    }
    Ok(plan)
}

/// The maps of a `nomap` or `auto` container's nested namespace; their outside ids are those
/// of the user's default namespace, whose 0 is the user and whose 1.. are the subordinate ids.
fn nested_ids(
    ctx: &Context,
    mode: &UsernsMode,
    base: &IdMapping,
    layers: &[String],
) -> Result<IdMapping> {
    let subordinate = |ranges: &[crate::runtime::userns::IdRange], kind: &str| match ranges {
        [_, subordinate] => Ok(subordinate.count),
        _ => Err(anyhow::anyhow!(
            "--userns={} needs subordinate ids in /etc/sub{kind}: add a range for your user",
            mode.name()
        )),
    };
    let available = subordinate(&base.uids, "uid")?.min(subordinate(&base.gids, "gid")?);
    let (start, count) = match mode {
        UsernsMode::Auto { size } => {
            let size = size.unwrap_or_else(|| auto_size(ctx, layers));
            let taken: Vec<(u32, u32)> = ctx
                .store
                .all_containers()
                .iter()
                .filter_map(|c| c.spec.nested_ids.as_ref()?.uids.first().copied())
                // nomap's range is every subordinate id, and shared, as Podman has it.
                .filter(|range| range.count < available)
                .map(|range| (range.outside, range.count))
                .collect();
            let start = free_range(&taken, size, available).ok_or_else(|| {
                anyhow::anyhow!(
                    "--userns=auto: no {size} subordinate ids are left for this container (of {available}, others hold {}); remove containers or ask for fewer with auto:size=N",
                    taken.iter().map(|(_, n)| n).sum::<u32>()
                )
            })?;
            (start, size)
        }
        _ => (1, available),
    };
    let range = vec![crate::runtime::userns::IdRange {
        inside: 0,
        outside: start,
        count,
    }];
    Ok(IdMapping {
        uids: range.clone(),
        gids: range,
    })
}

/// `--uidmap`/`--gidmap` name only ids the user's namespace has: the user (0) and the
/// subordinate ids (1…).
fn check_within(nested: &IdMapping, base: &IdMapping) -> Result<()> {
    for (kind, ranges, available) in [
        ("uid", &nested.uids, &base.uids),
        ("gid", &nested.gids, &base.gids),
    ] {
        let total: u64 = available.iter().map(|r| u64::from(r.count)).sum();
        for range in ranges {
            if u64::from(range.outside) + u64::from(range.count) > total {
                bail!(
                    "--{kind}map {}:{}:{}: your user namespace has {kind}s 0 to {} (you, then /etc/sub{kind}'s range)",
                    range.inside,
                    range.outside,
                    range.count,
                    total.saturating_sub(1)
                );
            }
        }
    }
    Ok(())
}

/// How many ids an `auto` container needs: one more than the highest its image's /etc/passwd
/// and /etc/group name, and at least [`AUTO_MIN_SIZE`].
fn auto_size(ctx: &Context, layers: &[String]) -> u32 {
    let highest = ["etc/passwd", "etc/group"]
        .iter()
        .filter_map(|file| image_file(ctx, layers, file))
        .flat_map(|text| {
            text.lines()
                .filter_map(|line| line.split(':').nth(2)?.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        // nobody (65534) and the like are not ids an image's files belong to.
        .filter(|id| *id < 65534)
        .max()
        .unwrap_or(0);
    highest.saturating_add(1).max(AUTO_MIN_SIZE)
}

/// The lowest start (from 1, below `available` + 1) of `size` ids that meets none of `taken`
/// (start, count).
fn free_range(taken: &[(u32, u32)], size: u32, available: u32) -> Option<u32> {
    let mut taken = taken.to_vec();
    taken.sort_unstable();
    let mut start = 1u32;
    for (from, count) in taken {
        if start.checked_add(size)? <= from {
            break;
        }
        start = start.max(from.saturating_add(count));
    }
    (u64::from(start) + u64::from(size) <= u64::from(available) + 1).then_some(start)
}

/// The image's own copy of the file `path` (relative), from the topmost layer that has it.
pub(super) fn image_file(ctx: &Context, layers: &[String], path: &str) -> Option<String> {
    let found = crate::archive::layer_entry(&ctx.store.layers_dir(), layers, Path::new(path))?;
    // A symlink or something else: not a file skiff extends.
    match std::fs::symlink_metadata(&found) {
        Ok(meta) if meta.is_file() => std::fs::read_to_string(found).ok(),
        _ => None,
    }
}

/// The numeric uid and gid a `--user` value names in the image (as the runtime resolves it
/// when the container starts).
pub fn resolve_ids(ctx: &Context, layers: &[String], user: &str) -> Result<(u32, u32)> {
    let passwd = image_file(ctx, layers, "etc/passwd").unwrap_or_default();
    let group = image_file(ctx, layers, "etc/group").unwrap_or_default();
    let resolved =
        crate::runtime::resolve_user_in(user, &passwd, &group).map_err(anyhow::Error::msg)?;
    Ok((resolved.uid, resolved.gid))
}

/// /etc/passwd and /etc/group of the image, each with an entry for the kept user added when
/// the image has none with its id (as Podman does), so `id`, `whoami` and `ls -l` name it.
fn user_entries(
    ctx: &Context,
    layers: &[String],
    uid: u32,
    gid: u32,
) -> Vec<(&'static str, String)> {
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten();
    let name = me
        .as_ref()
        .map_or_else(|| "user".to_string(), |u| u.name.clone());
    let home = me
        .as_ref()
        .map_or_else(|| "/".to_string(), |u| u.dir.display().to_string());
    let group = nix::unistd::Group::from_gid(nix::unistd::getgid())
        .ok()
        .flatten()
        .map_or_else(|| name.clone(), |g| g.name);
    let mut files = Vec::new();
    let entries = [
        (
            "passwd",
            uid,
            format!("{name}:*:{uid}:{gid}:{name}:{home}:/bin/sh"),
        ),
        ("group", gid, format!("{group}:x:{gid}:{name}")),
    ];
    for (file, id, entry) in entries {
        let mut text = image_file(ctx, layers, &format!("etc/{file}")).unwrap_or_default();
        // The third field of both files is the id.
        let id = id.to_string();
        if text
            .lines()
            .any(|line| line.split(':').nth(2) == Some(id.as_str()))
        {
            continue;
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&entry);
        text.push('\n');
        files.push((file, text));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_ranges_go_in_the_first_gap_that_fits() {
        assert_eq!(free_range(&[], 1024, 65536), Some(1));
        assert_eq!(free_range(&[(1, 1024)], 1024, 65536), Some(1025));
        assert_eq!(free_range(&[(1025, 1024)], 1024, 65536), Some(1));
        assert_eq!(
            free_range(&[(1500, 10), (1, 1024)], 1024, 65536),
            Some(1510)
        );
        assert_eq!(free_range(&[(1, 1024)], 1024, 2048), Some(1025));
        assert_eq!(free_range(&[(1, 1024)], 1025, 2048), None);
        assert_eq!(free_range(&[], 65537, 65536), None);
    }

    #[test]
    fn subordinate_names_take_only_the_callers_own_range() {
        let text = "other:200000:65536\nme:100000:1000\n";
        let me = ("me", 1001);
        let own = named_range("subuidname", "me", me, text, "/etc/subuid").unwrap();
        assert_eq!(
            own,
            [IdRange {
                inside: 0,
                outside: 1,
                count: 1000
            }]
        );
        assert_eq!(
            named_range("subuidname", "1001", me, text, "/etc/subuid").unwrap(),
            own
        );
        let theirs = named_range("subuidname", "other", me, text, "/etc/subuid").unwrap_err();
        assert!(theirs
            .to_string()
            .contains("only your own ranges (me's), not other's"));
        let none = named_range("subgidname", "me", me, "other:1:2\n", "/etc/subgid").unwrap_err();
        assert_eq!(
            none.to_string(),
            "--subgidname me: /etc/subgid has no range for me"
        );
    }

    #[test]
    fn modes_parse() {
        assert_eq!(UsernsMode::parse("").unwrap(), UsernsMode::Default);
        assert_eq!(UsernsMode::parse("host").unwrap(), UsernsMode::Default);
        assert_eq!(
            UsernsMode::parse("keep-id:uid=1000,gid=100").unwrap(),
            UsernsMode::KeepId {
                uid: Some(1000),
                gid: Some(100)
            }
        );
        assert_eq!(UsernsMode::parse("nomap").unwrap(), UsernsMode::NoMap);
        for text in [
            "",
            "keep-id",
            "keep-id:uid=5",
            "keep-id:uid=5,gid=6",
            "nomap",
            "auto:size=9",
        ] {
            assert_eq!(UsernsMode::parse(text).unwrap().inspect_text(), text);
        }
        assert_eq!(
            UsernsMode::parse("auto").unwrap(),
            UsernsMode::Auto { size: None }
        );
        assert_eq!(
            UsernsMode::parse("auto:size=2048").unwrap(),
            UsernsMode::Auto { size: Some(2048) }
        );
        for bad in [
            "auto:size=0",
            "auto:uidmapping=0:1:1",
            "nomap:size=3",
            "keep-id:uid=x",
            "keep-id:size=3",
            "bogus",
        ] {
            assert!(UsernsMode::parse(bad).is_err(), "{bad}");
        }
    }
}
