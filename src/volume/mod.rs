//! Volumes and mounts: what `-v`, `--mount` and `--tmpfs` mean (Docker's and Podman's syntax),
//! named and anonymous volumes in the store, and the `volume` commands.

pub mod mounts;
mod resolve;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::filter::{LabelFilter, PruneFilters};
use crate::store::containers::{ContainerRecord, Status};
use crate::store::volumes::VolumeRecord;
use crate::store::StoreLock;

/// Docker's rule for volume names.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// What `volume create` was asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `--opt KEY=VALUE`.
    pub options: BTreeMap<String, String>,
    /// `--ignore`: an existing volume of that name is not an error.
    pub ignore_existing: bool,
}

/// The options a local volume takes: `type`, `o` and `device`, as `mount` would (only a bind of
/// a host directory can be made without root, so that is what skiff supports).
fn check_options(options: &BTreeMap<String, String>) -> Result<()> {
    for key in options.keys() {
        if !["type", "o", "device"].contains(&key.as_str()) {
            bail!("invalid volume option {key:?}: a local volume takes type, o and device");
        }
    }
    if let Some(device) = options.get("device") {
        let binds = options
            .get("o")
            .is_some_and(|o| o.split(',').any(|o| o == "bind" || o == "rbind"));
        if !binds || options.get("type").is_some_and(|t| t != "none") {
            bail!(
                "volume option device={device} needs type=none and o=bind: skiff mounts host directories, not devices"
            );
        }
        if !PathBuf::from(device).is_absolute() {
            bail!("volume option device={device}: give an absolute path");
        }
        if !PathBuf::from(device).is_dir() {
            bail!("volume option device={device}: no such directory");
        }
    } else if options.contains_key("type") || options.contains_key("o") {
        bail!("volume options type and o need device= (a host directory to bind)");
    }
    Ok(())
}

/// Creates a volume under the lock the caller holds.
pub fn create_locked(
    ctx: &Context,
    lock: &StoreLock,
    request: &CreateRequest,
    anonymous: bool,
) -> Result<VolumeRecord> {
    let name = match &request.name {
        Some(name) => {
            if !valid_name(name) {
                bail!("invalid volume name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit");
            }
            if let Ok(existing) = ctx.store.find_volume(name) {
                if request.ignore_existing {
                    return Ok(existing);
                }
                bail!("volume with name {name} already exists: volume already exists");
            }
            name.clone()
        }
        None => crate::digest::random_id(),
    };
    check_options(&request.options)?;
    let volume = VolumeRecord {
        name,
        created: crate::clock::now_rfc3339(),
        labels: request.labels.clone(),
        options: request.options.clone(),
        anonymous,
        needs_copy_up: true,
    };
    ctx.store.write_volume(lock, &volume)?;
    events::record(&ctx.store, Event::volume(EventStatus::Create, &volume.name));
    Ok(volume)
}

/// `volume create`.
pub fn create(ctx: &Context, request: &CreateRequest) -> Result<VolumeRecord> {
    let lock = ctx.store.lock()?;
    create_locked(ctx, &lock, request, false)
}

/// Where a volume's files are: its bound host directory, or its directory in the store.
pub fn mountpoint(ctx: &Context, volume: &VolumeRecord) -> PathBuf {
    match volume.options.get("device") {
        Some(device) => PathBuf::from(device),
        None => ctx.store.volume_data_dir(&volume.name),
    }
}

/// The containers among `containers` (the store's, read once by the caller) that mount the
/// volume.
pub fn users<'a>(containers: &'a [ContainerRecord], name: &str) -> Vec<&'a ContainerRecord> {
    containers
        .iter()
        .filter(|c| c.volumes.iter().any(|v| v.name == name))
        .collect()
}

/// The ids of the containers that use the volumes `names` name: `volume rm -f` removes them
/// first (`container::cascade::remove_volumes`).
pub fn containers_using(ctx: &Context, names: &[String]) -> Result<Vec<String>> {
    let containers = ctx.store.all_containers();
    let mut ids: Vec<String> = Vec::new();
    for name in names {
        let volume = ctx.store.find_volume(name)?;
        for user in users(&containers, &volume.name) {
            if !ids.contains(&user.id) {
                ids.push(user.id.clone());
            }
        }
    }
    Ok(ids)
}

/// `volume rm`: refused while a container uses the volume (with `-f`,
/// `container::cascade::remove_volumes` removes those containers first, running ones too).
pub fn remove(ctx: &Context, names: &[String]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let containers = ctx.store.all_containers();
    for name in names {
        let volume = ctx.store.find_volume(name)?;
        let using = users(&containers, &volume.name);
        if !using.is_empty() {
            let names: Vec<&str> = using.iter().map(|c| c.name.as_str()).collect();
            bail!(
                "volume {} is being used by the following container(s): {}: volume is being used (remove them first, or use volume rm -f)",
                volume.name,
                names.join(", ")
            );
        }
        let lock = ctx.store.lock()?;
        remove_locked(ctx, &lock, &volume)?;
        removed.push(volume.name);
    }
    Ok(removed)
}

/// Forgets a volume and deletes its files in the store (never a bound host directory's).
pub fn remove_locked(ctx: &Context, lock: &StoreLock, volume: &VolumeRecord) -> Result<()> {
    ctx.store.remove_volume_record(lock, &volume.name)?;
    events::record(&ctx.store, Event::volume(EventStatus::Remove, &volume.name));
    let dir = ctx.store.volumes_dir().join(&volume.name);
    let staged = ctx.store.staging_path("removed-volume");
    match std::fs::rename(&dir, &staged) {
        Ok(()) => crate::image::remove_tree_in_userns(ctx, staged),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

/// `volume prune`: every volume no container uses that `filters` match (as Podman's: `until=` on
/// when it was created, `label=`/`label!=` on its labels); returns their names.
pub fn prune(ctx: &Context, filters: &PruneFilters) -> Result<Vec<String>> {
    let used: Vec<String> = ctx
        .store
        .all_containers()
        .iter()
        .flat_map(|c| c.volumes.iter().map(|v| v.name.clone()))
        .collect();
    let doomed: Vec<String> = ctx
        .store
        .all_volumes()
        .into_iter()
        .filter(|v| !used.contains(&v.name))
        .filter(|v| filters.matches(Some(&v.created), &v.labels))
        .map(|v| v.name)
        .collect();
    remove(ctx, &doomed)
}

/// `volume ls`: the volumes `filters` keep, as [`inspect_json`] shapes them.
pub fn list(ctx: &Context, filters: &[String]) -> Result<Vec<serde_json::Value>> {
    let containers = ctx.store.all_containers();
    let mut json = Vec::new();
    for volume in ctx.store.all_volumes() {
        if matches_filters(&volume, filters, &containers)? {
            json.push(inspect_json(ctx, &volume, &containers));
        }
    }
    Ok(json)
}

/// `volume inspect`: the volumes `names` names (with `all`, every volume), as [`inspect_json`]
/// shapes them.
pub fn inspect(ctx: &Context, names: &[String], all: bool) -> Result<Vec<serde_json::Value>> {
    let volumes = if all {
        ctx.store.all_volumes()
    } else {
        let mut found = Vec::new();
        for name in names {
            found.push(ctx.store.find_volume(name)?);
        }
        found
    };
    let containers = ctx.store.all_containers();
    Ok(volumes
        .iter()
        .map(|v| inspect_json(ctx, v, &containers))
        .collect())
}

/// The name of every volume, for `volume rm --all`.
pub fn names(ctx: &Context) -> Vec<String> {
    ctx.store
        .all_volumes()
        .into_iter()
        .map(|v| v.name)
        .collect()
}

/// `volume exists`.
pub fn exists(ctx: &Context, name: &str) -> bool {
    ctx.store.find_volume(name).is_ok()
}

/// Where the files of the volume `name` are ([`mountpoint`]), for `volume export` and `import`.
pub fn mountpoint_of(ctx: &Context, name: &str) -> Result<PathBuf> {
    let volume = ctx.store.find_volume(name)?;
    Ok(mountpoint(ctx, &volume))
}

/// `volume ls --filter`: name=, label=, dangling=true|false, driver=local.
fn matches_filters(
    volume: &VolumeRecord,
    filters: &[String],
    containers: &[ContainerRecord],
) -> Result<bool> {
    for filter in filters {
        let (key, value) = filter
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid filter {filter:?}: expected KEY=VALUE"))?;
        let keep = match key {
            "name" => volume.name.contains(value),
            "label" => LabelFilter::parse(value)?.matches(&volume.labels),
            "driver" => value == "local",
            "dangling" => {
                let dangling = users(containers, &volume.name).is_empty();
                match value {
                    "true" | "1" => dangling,
                    "false" | "0" => !dangling,
                    _ => bail!("invalid filter dangling={value}: use true or false"),
                }
            }
            _ => bail!(
                "invalid filter {key:?}: skiff filters volumes by name, label, driver and dangling"
            ),
        };
        if !keep {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `volume inspect`'s object, in Podman's shape (`InspectVolumeData`; skiff has no volume
/// locks, so no `LockNumber`).
fn inspect_json(
    ctx: &Context,
    volume: &VolumeRecord,
    containers: &[ContainerRecord],
) -> serde_json::Value {
    let mount_count = users(containers, &volume.name)
        .iter()
        .filter(|c| ctx.store.current_container_state(&c.id).status == Status::Running)
        .count();
    let mut entry = serde_json::json!({
        "Name": volume.name,
        "Driver": "local",
        "Mountpoint": mountpoint(ctx, volume),
        "CreatedAt": volume.created,
        "Labels": volume.labels,
        "Scope": "local",
        "Options": volume.options,
    });
    // Podman's omitempty fields, in its order. It chowns a volume to the container's user
    // at the first mount, when skiff copies the image's content up, so NeedsChown goes with
    // NeedsCopyUp.
    if volume.anonymous {
        entry["Anonymous"] = serde_json::json!(true);
    }
    entry["MountCount"] = serde_json::json!(mount_count);
    if volume.needs_copy_up {
        entry["NeedsCopyUp"] = serde_json::json!(true);
        entry["NeedsChown"] = serde_json::json!(true);
    }
    entry
}

/// Fills the volumes a container mounts for the first time with what its image has at their
/// mount points, then marks them filled. Called before each start; a no-op once done.
pub fn copy_up(ctx: &Context, record: &ContainerRecord) -> Result<()> {
    let mut pending = Vec::new();
    let mut seeds = Vec::new();
    for used in &record.volumes {
        let Ok(volume) = ctx.store.find_volume(&used.name) else {
            bail!(
                "volume {} of container {} no longer exists",
                used.name,
                record.name
            );
        };
        if !volume.needs_copy_up {
            continue;
        }
        let data = mountpoint(ctx, &volume);
        let empty = std::fs::read_dir(&data).is_ok_and(|mut d| d.next().is_none());
        if used.copy_up && empty {
            seeds.push((used.destination.clone(), data));
        }
        pending.push(volume);
    }
    if pending.is_empty() {
        return Ok(());
    }
    if !seeds.is_empty() {
        // The image's layers under an empty layer of its own: `run` has not stored the
        // container (nor made its directories) yet, and the seed is the image's content.
        let scratch = ctx.store.staging_path("volume-seed");
        let mut spec = record.spec.clone();
        spec.upper_dir = scratch.join("upper");
        spec.rootfs_dir = scratch.join("merged");
        for dir in [&spec.upper_dir, &spec.rootfs_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let seeded = crate::runtime::seed::seed_from_image(&spec, &seeds);
        let _ = std::fs::remove_dir_all(&scratch);
        seeded?;
    }
    let lock = ctx.store.lock()?;
    for mut volume in pending {
        volume.needs_copy_up = false;
        ctx.store.write_volume(&lock, &volume)?;
    }
    Ok(())
}

/// inspect's `Mounts`, in Podman's shape: binds and volumes (tmpfs mounts are listed in
/// `HostConfig.Tmpfs`).
pub fn inspect_mounts(record: &ContainerRecord) -> Vec<serde_json::Value> {
    use crate::runtime::MountSource;
    record
        .spec
        .mounts
        .iter()
        .filter_map(|mount| {
            let volume = record
                .volumes
                .iter()
                .find(|v| v.destination == mount.destination);
            let (source, recursive) = match &mount.source {
                MountSource::Bind { path, recursive } => (path.clone(), *recursive),
                MountSource::Overlay { lower, .. } => (lower.clone(), false),
                MountSource::Tmpfs { .. } | MountSource::Layers { .. } => return None,
            };
            let mut options: Vec<&str> = Vec::new();
            for (on, name) in [
                (mount.flags.nosuid, "nosuid"),
                (mount.flags.nodev, "nodev"),
                (mount.flags.noexec, "noexec"),
                (recursive, "rbind"),
                (!recursive, "bind"),
            ] {
                if on {
                    options.push(name);
                }
            }
            let mut entry = serde_json::json!({
                "Type": if volume.is_some() { "volume" } else { "bind" },
                "Source": source,
                "Destination": mount.destination,
                "Driver": if volume.is_some() { "local" } else { "" },
                "Mode": if matches!(mount.source, MountSource::Overlay { .. }) { "O" } else { "" },
                "Options": options,
                "RW": !mount.readonly,
                "Propagation": mount.propagation.map_or("rprivate", |p| p.name()),
            });
            if let Some(volume) = volume {
                entry["Name"] = serde_json::json!(volume.name);
            }
            Some(entry)
        })
        .collect()
}

/// `HostConfig.Tmpfs`: each tmpfs destination and its options.
pub fn inspect_tmpfs(record: &ContainerRecord) -> serde_json::Map<String, serde_json::Value> {
    use crate::runtime::MountSource;
    record
        .spec
        .mounts
        .iter()
        .filter_map(|mount| match &mount.source {
            MountSource::Tmpfs { size, mode } => {
                let mut options = vec![if mount.readonly { "ro" } else { "rw" }.to_string()];
                for (on, name) in [
                    (mount.flags.nosuid, "nosuid"),
                    (mount.flags.nodev, "nodev"),
                    (mount.flags.noexec, "noexec"),
                ] {
                    if on {
                        options.push(name.to_string());
                    }
                }
                if let Some(size) = size {
                    options.push(format!("size={size}"));
                }
                if let Some(mode) = mode {
                    options.push(format!("mode={mode:o}"));
                }
                Some((
                    mount.destination.clone(),
                    serde_json::json!(options.join(",")),
                ))
            }
            _ => None,
        })
        .collect()
}
