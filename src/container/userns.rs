//! `--userns`: which ids a container has. The default maps the user to root and the
//! subordinate ids above it; keep-id keeps the user's own uid and gid inside, so that files it
//! makes in a bind mount are the user's on the host.

use anyhow::{bail, Result};

use crate::context::Context;
use crate::runtime::userns::IdMapping;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum UsernsMode {
    /// The user's default mapping (`host` means the same: the user namespace skiff always
    /// uses); none as root.
    #[default]
    Default,
    /// `keep-id[:uid=U,gid=G]`: the user's ids are U and G inside (default: the same numbers).
    KeepId { uid: Option<u32>, gid: Option<u32> },
}

impl UsernsMode {
    pub fn parse(text: &str) -> Result<Self> {
        let (mode, options) = text.split_once(':').unwrap_or((text, ""));
        match mode {
            "" | "host" | "private" => Ok(UsernsMode::Default),
            // The container's user namespace must reach the user's store, whose directories
            // are the user's own and closed to ids it does not map.
            "nomap" => {
                bail!("--userns=nomap is not supported by skiff yet: use keep-id or the default")
            }
            "keep-id" => {
                let (mut uid, mut gid) = (None, None);
                for option in options.split(',').filter(|o| !o.is_empty()) {
                    let number = |value: &str| {
                        value.parse::<u32>().map_err(|_| {
                            anyhow::anyhow!("invalid --userns option {option:?}: expected a number")
                        })
                    };
                    match option.split_once('=') {
                        Some(("uid", value)) => uid = Some(number(value)?),
                        Some(("gid", value)) => gid = Some(number(value)?),
                        _ => {
                            bail!("invalid --userns=keep-id option {option:?}: use uid=N and gid=N")
                        }
                    }
                }
                Ok(UsernsMode::KeepId { uid, gid })
            }
            "auto" => {
                bail!("--userns=auto is not supported by skiff yet: use keep-id or the default")
            }
            _ => bail!("invalid --userns {text:?}: use keep-id[:uid=N,gid=N] or host"),
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
    /// The process's user when none was asked for.
    pub default_user: Option<String>,
    /// /etc/passwd and /etc/group with the kept user added, where the image lacks it.
    pub etc_files: Vec<(&'static str, String)>,
}

pub fn plan(ctx: &Context, mode: &UsernsMode, layers: Vec<String>) -> Result<UsernsPlan> {
    let unchanged = |layers| UsernsPlan {
        mapping: ctx.id_mapping.clone(),
        layers,
        layer_owners: None,
        default_user: None,
        etc_files: Vec::new(),
    };
    let base = match (mode, &ctx.id_mapping) {
        (UsernsMode::Default, _) => return Ok(unchanged(layers)),
        (_, None) => bail!(
            "--userns=keep-id is for rootless containers: as root, a container's ids are the host's already"
        ),
        (UsernsMode::KeepId { uid, gid }, Some(base)) => (base, uid, gid),
    };
    let (base, uid, gid) = base;
    let uid = uid.unwrap_or_else(|| nix::unistd::getuid().as_raw());
    let gid = gid.unwrap_or_else(|| nix::unistd::getgid().as_raw());
    let mapping = base.keep_id(uid, gid).map_err(anyhow::Error::msg)?;
    // Shown shifted by a FUSE server where the user may run one: nothing to copy. Otherwise
    // copies for this mapping, made once.
    let (mounted, layer_owners) = if crate::runtime::idshift::available() {
        (layers.clone(), Some(base.clone()))
    } else {
        let copies = crate::image::idmap::mapped_layers(ctx, &layers, &mapping)?;
        (copies, None)
    };
    let mut plan = UsernsPlan {
        mapping: Some(mapping.clone()),
        layers: mounted,
        layer_owners,
        default_user: None,
        etc_files: Vec::new(),
    };
    plan.default_user = Some(format!("{uid}:{gid}"));
    plan.etc_files = user_entries(ctx, &layers, uid, gid);
    Ok(plan)
}

/// The image's own copy of `path` (relative), from the topmost layer that has it.
fn image_file(ctx: &Context, layers: &[String], path: &str) -> Option<String> {
    for layer in layers {
        let candidate = ctx.store.layers_dir().join(layer).join("diff").join(path);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.is_file() => return std::fs::read_to_string(candidate).ok(),
            // Whited out, a symlink, or something else: not a file skiff extends.
            Ok(_) => return None,
            Err(_) => continue,
        }
    }
    None
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
        for bad in ["auto", "nomap", "keep-id:uid=x", "keep-id:size=3", "bogus"] {
            assert!(UsernsMode::parse(bad).is_err(), "{bad}");
        }
    }
}
