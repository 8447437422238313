//! `-v`, `--mount`, `--tmpfs` and `--device`: parsed when the command line is read (resolved
//! into the runtime's mounts when the container is created: `resolve.rs`, re-exported here).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

pub use super::resolve::{resolve, volumes_from, Resolved};
use crate::runtime::{MountFlags, Propagation};

/// What one of the mount flags asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    pub kind: RequestKind,
    pub destination: String,
    pub readonly: bool,
    pub flags: MountFlags,
    pub propagation: Option<Propagation>,
    /// `:U`: the source's files are given to the container's user (inside its namespace).
    pub chown: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// A host path. `create`: made when missing (`-v`), else refused (`--mount`).
    /// `overlay`: `:O`, changes go to a layer of the container's own.
    Bind {
        source: PathBuf,
        recursive: bool,
        create: bool,
        overlay: bool,
    },
    /// A named volume, made on first use; `copy_up` false for `nocopy`.
    Named {
        name: String,
        copy_up: bool,
    },
    Anonymous {
        copy_up: bool,
    },
    Tmpfs {
        size: Option<u64>,
        mode: Option<u32>,
    },
    /// `--mount type=image`: an image's files, read-only unless `rw=true`; then the container's
    /// changes to them are thrown away with it, as Podman does.
    Image {
        reference: String,
        writable: bool,
    },
}

pub(super) fn destination(text: &str) -> Result<String> {
    if !text.starts_with('/') {
        bail!("invalid container path {text:?}: it must be absolute");
    }
    let cleaned: Vec<&str> = text
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if cleaned.contains(&"..") {
        bail!("invalid container path {text:?}: '..' is not allowed");
    }
    if cleaned.is_empty() {
        bail!("invalid container path {text:?}: cannot mount over /");
    }
    Ok(format!("/{}", cleaned.join("/")))
}

/// A host path as given: absolute, or relative to the working directory (`./src`).
fn host_path(text: &str) -> Result<PathBuf> {
    let path = PathBuf::from(text);
    if path.is_absolute() {
        return Ok(path);
    }
    let cwd = std::env::current_dir().context("finding the working directory")?;
    Ok(cwd.join(path))
}

/// `-v` options that set flags; true when `option` was one of them.
fn apply_flag_option(option: &str, request: &mut MountRequest) -> bool {
    let flags = &mut request.flags;
    match option {
        "ro" => request.readonly = true,
        "rw" => request.readonly = false,
        "nosuid" => flags.nosuid = true,
        "suid" => flags.nosuid = false,
        "nodev" => flags.nodev = true,
        "dev" => flags.nodev = false,
        "noexec" => flags.noexec = true,
        "exec" => flags.noexec = false,
        // SELinux relabelling: nothing to relabel where SELinux is off, and skiff does not
        // change labels.
        "z" | "Z" => {}
        other => match Propagation::parse(other) {
            Some(propagation) => request.propagation = Some(propagation),
            None => return false,
        },
    }
    true
}

/// `-v [SOURCE:]DESTINATION[:OPTIONS]`: SOURCE is a host path when it starts with a slash or a
/// dot (`./src` and `../src` are relative to the working directory), else a volume name, as in
/// Podman: `rel/path` is no volume name, and is refused rather than made under $PWD. No SOURCE
/// makes an anonymous volume.
pub fn parse_volume(text: &str) -> Result<MountRequest> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => (None, *target, ""),
        [target, options] if !options.starts_with('/') => (None, *target, *options),
        [source, target] => (Some(*source), *target, ""),
        [source, target, options] => (Some(*source), *target, *options),
        _ => bail!("invalid volume {text:?}: expected [SOURCE:]DESTINATION[:OPTIONS]"),
    };
    let mut copy_up = true;
    let mut recursive = true;
    let mut overlay = false;
    let mut request = MountRequest {
        kind: RequestKind::Anonymous { copy_up },
        destination: destination(target)?,
        readonly: false,
        flags: MountFlags::default(),
        propagation: None,
        chown: false,
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        if apply_flag_option(option, &mut request) {
            continue;
        }
        match option {
            "rbind" => recursive = true,
            "bind" => recursive = false,
            "nocopy" => copy_up = false,
            "copy" => copy_up = true,
            "O" => overlay = true,
            "U" => request.chown = true,
            "idmap" => bail!(
                "volume option idmap is not supported by skiff yet: leave it out (use U, or --userns=keep-id for your own files)"
            ),
            _ => bail!("invalid volume option {option:?} in {text:?}"),
        }
    }
    request.kind = match source {
        None => RequestKind::Anonymous { copy_up },
        Some(source) if source.starts_with(['/', '.']) => RequestKind::Bind {
            source: host_path(source)?,
            recursive,
            create: true,
            overlay,
        },
        Some(name) => {
            if !super::valid_name(name) {
                bail!("invalid volume name {name:?} in {text:?}: a host path must be absolute or start with ./");
            }
            RequestKind::Named {
                name: name.to_string(),
                copy_up,
            }
        }
    };
    if overlay && !matches!(request.kind, RequestKind::Bind { .. }) {
        bail!("volume option O needs a host directory: {text:?}");
    }
    Ok(request)
}

/// Sizes as Docker writes them (the one parser, in `size.rs`; build's tmpfs mounts use it here).
pub use crate::size::parse_size;

fn parse_mode(text: &str) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| anyhow::anyhow!("invalid mode {text:?}: expected octal, such as 1777"))
}

/// The options of a tmpfs, Podman's defaults first (rw, nosuid, nodev, noexec).
fn tmpfs_request(target: &str, options: &str, text: &str) -> Result<MountRequest> {
    let mut size = None;
    let mut mode = None;
    let mut request = MountRequest {
        kind: RequestKind::Tmpfs {
            size: None,
            mode: None,
        },
        destination: destination(target)?,
        readonly: false,
        flags: MountFlags {
            nosuid: true,
            nodev: true,
            noexec: true,
        },
        propagation: None,
        chown: false,
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        if apply_flag_option(option, &mut request) {
            continue;
        }
        match option.split_once('=') {
            Some(("size" | "tmpfs-size", value)) => size = Some(parse_size(value)?),
            Some(("mode" | "tmpfs-mode", value)) => mode = Some(parse_mode(value)?),
            _ => bail!("invalid tmpfs option {option:?} in {text:?}"),
        }
    }
    request.kind = RequestKind::Tmpfs { size, mode };
    Ok(request)
}

/// `--tmpfs PATH[:OPTIONS]`.
pub fn parse_tmpfs(text: &str) -> Result<MountRequest> {
    let (target, options) = text.split_once(':').unwrap_or((text, ""));
    tmpfs_request(target, options, text)
}

/// `--mount type=bind|volume|tmpfs|image,source=…,target=…,…`.
pub fn parse_mount(text: &str) -> Result<MountRequest> {
    let mut kind = None;
    let mut source = None;
    let mut target = None;
    // None: not said; an image mount is read-only unless asked otherwise, which skiff refuses.
    let mut readonly: Option<bool> = None;
    let mut propagation = None;
    let mut recursive = true;
    let mut copy_up = true;
    let mut tmpfs_options = Vec::new();
    let mut type_options = Vec::new();
    let flag = |key: &str, value: &str| match value {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => bail!("invalid {key}={value} in --mount {text:?}: use true or false"),
    };
    for field in text.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        if let Some((prefix, _)) = key.split_once('-') {
            type_options.push((prefix, key));
        }
        match key {
            "type" => kind = Some(value.to_string()),
            "src" | "source" => source = Some(value.to_string()),
            "dst" | "destination" | "target" => target = Some(value.to_string()),
            "ro" | "readonly" => readonly = Some(flag(key, value)?),
            "rw" => readonly = Some(!flag(key, value)?),
            "bind-propagation" => {
                propagation = Some(Propagation::parse(value).ok_or_else(|| {
                    anyhow::anyhow!("invalid bind-propagation {value:?}: use private, rprivate, shared, rshared, slave or rslave")
                })?)
            }
            "bind-nonrecursive" => recursive = !flag(key, value)?,
            "volume-nocopy" => copy_up = !flag(key, value)?,
            "tmpfs-size" | "tmpfs-mode" => tmpfs_options.push(field.to_string()),
            "relabel" | "z" | "Z" => {}
            _ => bail!("invalid --mount option {key:?} in {text:?}"),
        }
    }
    let target = target.ok_or_else(|| {
        anyhow::anyhow!("--mount {text:?} needs target= (the path in the container)")
    })?;
    // bind-…, volume-… and tmpfs-… options belong to their type only, as Docker has it.
    if let Some((_, key)) = type_options
        .iter()
        .find(|(prefix, _)| Some(*prefix) != kind.as_deref())
    {
        bail!(
            "--mount option {key} does not apply to type={}",
            kind.as_deref().unwrap_or("(none)")
        );
    }
    let writable_image = readonly == Some(false);
    let readonly = readonly.unwrap_or(false);
    let mut request = match kind.as_deref() {
        Some("bind") => {
            let source = source
                .ok_or_else(|| anyhow::anyhow!("--mount type=bind needs source= (a host path)"))?;
            MountRequest {
                kind: RequestKind::Bind {
                    source: host_path(&source)?,
                    recursive,
                    create: false,
                    overlay: false,
                },
                destination: destination(&target)?,
                readonly,
                flags: MountFlags::default(),
                propagation,
                chown: false,
            }
        }
        Some("volume") => {
            let kind = match source {
                Some(name) if !name.is_empty() => {
                    if !super::valid_name(&name) {
                        bail!("invalid volume name {name:?} in --mount {text:?}");
                    }
                    RequestKind::Named { name, copy_up }
                }
                _ => RequestKind::Anonymous { copy_up },
            };
            MountRequest {
                kind,
                destination: destination(&target)?,
                readonly,
                flags: MountFlags::default(),
                propagation: None,
                chown: false,
            }
        }
        Some("tmpfs") => tmpfs_request(&target, &tmpfs_options.join(","), text)?,
        Some("image") => {
            let reference = source
                .filter(|s| !s.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--mount type=image needs source= (an image)"))?;
            MountRequest {
                kind: RequestKind::Image {
                    reference,
                    writable: writable_image,
                },
                destination: destination(&target)?,
                readonly: !writable_image,
                flags: MountFlags::default(),
                propagation: None,
                chown: false,
            }
        }
        Some(other) => {
            bail!("invalid --mount type {other:?}: skiff mounts bind, volume, tmpfs and image")
        }
        None => bail!("--mount {text:?} needs type= (bind, volume, tmpfs or image)"),
    };
    if kind.as_deref() == Some("tmpfs") {
        request.readonly |= readonly;
    }
    Ok(request)
}

/// `--device HOST[:CONTAINER[:PERMISSIONS]]`: the host's device node bound into the container's
/// /dev (a rootless container cannot make device nodes). PERMISSIONS are r, w and m; only the
/// device cgroup can keep a process from writing to a node it may open (a read-only mount does
/// not stop writes to devices), and skiff has none, so leaving out w is refused. A node the
/// user cannot open is refused here too.
pub fn parse_device(text: &str) -> Result<MountRequest> {
    let parts: Vec<&str> = text.split(':').collect();
    let (host, inside, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, permissions] if !permissions.starts_with('/') => (*host, *host, *permissions),
        [host, inside] => (*host, *inside, "rwm"),
        [host, inside, permissions] => (*host, *inside, *permissions),
        _ => bail!("invalid --device {text:?}: expected HOST[:CONTAINER[:PERMISSIONS]]"),
    };
    if permissions.is_empty() || !permissions.chars().all(|c| "rwm".contains(c)) {
        bail!("invalid --device permissions {permissions:?}: use r, w and m");
    }
    let path = PathBuf::from(host);
    let meta =
        std::fs::metadata(&path).with_context(|| format!("--device {host}: cannot use it"))?;
    use std::os::unix::fs::FileTypeExt;
    if !(meta.file_type().is_char_device() || meta.file_type().is_block_device()) {
        bail!("--device {host}: not a device node");
    }
    if !permissions.contains('r') || !permissions.contains('w') {
        bail!("--device {text}: skiff cannot limit access to a device to {permissions:?} (that needs a device cgroup); give rw or leave the permissions out");
    }
    let access = nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK;
    if nix::unistd::access(&path, access).is_err() {
        bail!("--device {host}: permission denied: you cannot open it for reading and writing; a rootless container gets only the devices its user can open");
    }
    device_bind(path, inside)
}

fn device_bind(source: PathBuf, inside: &str) -> Result<MountRequest> {
    Ok(MountRequest {
        kind: RequestKind::Bind {
            source,
            recursive: false,
            create: false,
            overlay: false,
        },
        destination: destination(inside)?,
        readonly: false,
        flags: MountFlags::default(),
        propagation: None,
        chown: false,
    })
}

/// `--privileged`: every device node of the host's /dev, bound at the same place, as Podman
/// binds them for a rootless container (those its user may not open are there and refuse to
/// open). Left out: what every container has already (`runtime`'s standard devices, its own
/// /dev/pts, /dev/ptmx, /dev/shm and /dev/mqueue), and the virtual consoles (console, tty1…,
/// ttyS0…), as by Podman.
pub fn host_devices() -> Vec<MountRequest> {
    let mut found = Vec::new();
    collect_devices(Path::new("/dev"), &mut found);
    found.sort();
    found
        .into_iter()
        .filter_map(|path| {
            let inside = path.to_str()?.to_string();
            device_bind(path, &inside).ok()
        })
        .collect()
}

/// `--privileged` in systemd mode: the host's terminals that are no virtual console (ttyS0,
/// ttyUSB0…), which Podman binds for a systemd container (its getty may serve them); bound at
/// the same place.
pub fn host_serial_terminals() -> Vec<MountRequest> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let serial = name
                .strip_prefix("tty")
                .is_some_and(|n| n.bytes().next().is_some_and(|b| !b.is_ascii_digit()));
            serial && entry.file_type().is_ok_and(|t| t.is_char_device())
        })
        .map(|entry| entry.path())
        .collect();
    found.sort();
    found
        .into_iter()
        .filter_map(|path| {
            let inside = path.to_str()?.to_string();
            device_bind(path, &inside).ok()
        })
        .collect()
}

fn collect_devices(dir: &Path, found: &mut Vec<PathBuf>) {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let top = dir == Path::new("/dev");
        if kind.is_dir() {
            if !(top && ["pts", "shm", "mqueue"].contains(&name.as_str())) {
                collect_devices(&path, found);
            }
        } else if (kind.is_char_device() || kind.is_block_device())
            && !(top && is_own_or_console(&name))
        {
            found.push(path);
        }
    }
}

/// A /dev entry every container has of its own, or a virtual console.
fn is_own_or_console(name: &str) -> bool {
    let console = name == "console"
        || name.strip_prefix("tty").is_some_and(|n| {
            !n.is_empty() && (n.starts_with('S') || n.bytes().all(|b| b.is_ascii_digit()))
        });
    console || name == "ptmx" || crate::runtime::mount_plan::DEVICES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str, recursive: bool, overlay: bool) -> RequestKind {
        RequestKind::Bind {
            source: source.into(),
            recursive,
            create: true,
            overlay,
        }
    }

    #[test]
    fn volume_flags_parse_as_docker_reads_them() {
        let r = parse_volume("/src:/work:ro,Z,nodev,rshared").unwrap();
        assert_eq!(r.kind, bind("/src", true, false));
        assert_eq!(r.destination, "/work");
        assert!(r.readonly && r.flags.nodev && !r.flags.noexec);
        assert_eq!(r.propagation, Some(Propagation::Rshared));
        assert_eq!(
            parse_volume("data:/var/lib/data/").unwrap().kind,
            RequestKind::Named {
                name: "data".into(),
                copy_up: true
            }
        );
        assert_eq!(
            parse_volume("/cache").unwrap().kind,
            RequestKind::Anonymous { copy_up: true }
        );
        assert!(parse_volume("/cache:ro").unwrap().readonly);
        assert_eq!(
            parse_volume("/h:/c:O,bind").unwrap().kind,
            bind("/h", false, true)
        );
        for bad in [
            "data:relative",
            "/a:/b:bogus",
            "/a:/b:idmap",
            "bad name:/x",
            "/a:/",
            "/a:/b/../c",
            "x:/a:O",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mount_and_tmpfs_flags_parse() {
        let r = parse_mount("type=bind,src=/h,dst=/c,readonly,bind-propagation=rslave").unwrap();
        assert!(r.readonly);
        assert_eq!(r.propagation, Some(Propagation::Rslave));
        assert!(matches!(r.kind, RequestKind::Bind { create: false, .. }));
        let r = parse_mount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            r.kind,
            RequestKind::Tmpfs {
                size: Some(64 << 20),
                mode: Some(0o1770)
            }
        );
        let r = parse_mount("type=volume,source=v,target=/d,volume-nocopy").unwrap();
        assert_eq!(
            r.kind,
            RequestKind::Named {
                name: "v".into(),
                copy_up: false
            }
        );
        let r = parse_tmpfs("/run:size=1g,exec,mode=755").unwrap();
        assert!(r.flags.nosuid && r.flags.nodev && !r.flags.noexec);
        assert_eq!(
            r.kind,
            RequestKind::Tmpfs {
                size: Some(1 << 30),
                mode: Some(0o755)
            }
        );
        for bad in [
            "type=bind,target=/c",
            "type=nfs,target=/c",
            "source=/a,target=/b",
            "type=bind,src=/a",
            "type=image,target=/y",
            "type=volume,source=v,target=/y,bind-propagation=shared",
            "type=bind,src=/a,target=/y,tmpfs-size=1m",
        ] {
            assert!(parse_mount(bad).is_err(), "{bad}");
        }
    }
}
