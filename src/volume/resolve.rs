//! A container's mount requests resolved into the runtime's mounts when it is created: named
//! volumes made on first use, anonymous ones always, the image's VOLUMEs, `--volumes-from`,
//! binds checked before anything runs, and the changes directories of overlay mounts.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::mounts::{destination, MountRequest, RequestKind};
use crate::context::Context;
use crate::runtime::userns::IdMapping;
use crate::runtime::{Mount, MountFlags, MountSource, OverlayChanges};
use crate::store::containers::VolumeUse;
use crate::store::volumes::VolumeRecord;
use crate::store::StoreLock;

/// The upper and work directories of the `index`th mount's overlay, under `overlay_dir` (which
/// goes with the container).
fn changes_dir(overlay_dir: &Path, index: usize) -> Result<OverlayChanges> {
    let layer = overlay_dir.join(index.to_string());
    for dir in ["upper", "work"] {
        std::fs::create_dir_all(layer.join(dir))
            .with_context(|| format!("creating {}", layer.display()))?;
    }
    Ok(OverlayChanges {
        upper: layer.join("upper"),
        work: layer.join("work"),
    })
}

/// What a container's mount requests came to.
pub struct Resolved {
    pub mounts: Vec<Mount>,
    pub volumes: Vec<VolumeUse>,
    /// Sources to give to the container's user (`:U`).
    pub chown: Vec<PathBuf>,
}

/// The runtime's mounts for a new container and the volumes it uses: named volumes are made
/// on first use, anonymous ones always; the image's VOLUMEs not covered by a request get
/// anonymous volumes. A bind of a path the user cannot read is refused here, before anything
/// runs. `overlay_dir` holds the changes of `:O` and `rw=true` image mounts. `copied_for` is the container's id
/// mapping when its image's layers are copies made for it (`image::idmap`), which an image
/// mounted in it then needs too.
pub fn resolve(
    ctx: &Context,
    requests: &[MountRequest],
    inherited: Vec<(Mount, Option<VolumeUse>)>,
    image_volumes: &[String],
    overlay_dir: &Path,
    copied_for: Option<&IdMapping>,
) -> Result<Resolved> {
    let (all, mut mounts, mut uses) = requests_in_order(requests, inherited, image_volumes)?;
    let mut resolving = Resolving {
        ctx,
        overlay_dir,
        copied_for,
        lock: None,
    };
    let mut chown = Vec::new();
    for request in all {
        let (source, used) = resolving.source(&request, mounts.len())?;
        uses.extend(used);
        if request.chown {
            match &source {
                MountSource::Bind { path, .. } => chown.push(path.clone()),
                _ => bail!(
                    "volume option U needs a host directory or a volume: {}",
                    request.destination
                ),
            }
        }
        mounts.push(Mount {
            destination: request.destination,
            source,
            readonly: request.readonly,
            flags: request.flags,
            propagation: request.propagation,
        });
    }
    Ok(Resolved {
        mounts,
        volumes: uses,
        chown,
    })
}

/// The requests to resolve, in order (the container's own, then anonymous volumes for the
/// image's VOLUMEs where the user mounted nothing), after the mounts of `--volumes-from` that
/// the container's own leave room for, with the volumes those use. Two requests for one
/// destination are refused.
fn requests_in_order(
    requests: &[MountRequest],
    inherited: Vec<(Mount, Option<VolumeUse>)>,
    image_volumes: &[String],
) -> Result<(Vec<MountRequest>, Vec<Mount>, Vec<VolumeUse>)> {
    let mut seen = std::collections::HashSet::new();
    for request in requests {
        if !seen.insert(request.destination.clone()) {
            bail!("duplicate mount destination {}", request.destination);
        }
    }
    let mut mounts = Vec::new();
    let mut uses = Vec::new();
    for (mount, used) in inherited {
        if seen.insert(mount.destination.clone()) {
            uses.extend(used);
            mounts.push(mount);
        }
    }
    let image_requests = image_volumes
        .iter()
        .filter_map(|path| destination(path).ok())
        .filter(|destination| seen.insert(destination.clone()))
        .map(|destination| MountRequest {
            kind: RequestKind::Anonymous { copy_up: true },
            destination,
            readonly: false,
            flags: MountFlags::default(),
            propagation: None,
            chown: false,
        });
    let all = requests.iter().cloned().chain(image_requests).collect();
    Ok((all, mounts, uses))
}

/// What resolving one container's mount requests needs.
struct Resolving<'a> {
    ctx: &'a Context,
    /// Holds the changes of `:O` and `rw=true` image mounts.
    overlay_dir: &'a Path,
    /// The container's id mapping when its image's layers are copies made for it.
    copied_for: Option<&'a IdMapping>,
    /// Taken only to make volumes: most containers have none, and `run` should not wait on it.
    lock: Option<StoreLock>,
}

impl Resolving<'_> {
    /// Where the mount of `request` comes from, and the volume it uses; `position` is its place
    /// among the container's mounts, which names its overlay changes.
    fn source(
        &mut self,
        request: &MountRequest,
        position: usize,
    ) -> Result<(MountSource, Option<VolumeUse>)> {
        let ctx = self.ctx;
        let source = match &request.kind {
            RequestKind::Bind {
                source,
                recursive,
                create,
                overlay,
            } => {
                let path = bind_source(source, *create)?;
                if *overlay {
                    let changes = changes_dir(self.overlay_dir, position)?;
                    MountSource::Overlay {
                        lower: path,
                        upper: changes.upper,
                        work: changes.work,
                    }
                } else {
                    MountSource::Bind {
                        path,
                        recursive: *recursive,
                    }
                }
            }
            RequestKind::Named { name, copy_up } => {
                let volume = match ctx.store.find_volume(name) {
                    Ok(volume) => volume,
                    Err(_) => super::create_locked(
                        ctx,
                        held(ctx, &mut self.lock)?,
                        &super::CreateRequest {
                            name: Some(name.clone()),
                            ..Default::default()
                        },
                        false,
                    )?,
                };
                return Ok(volume_source(ctx, &volume, request, false, *copy_up));
            }
            RequestKind::Anonymous { copy_up } => {
                let volume = super::create_locked(
                    ctx,
                    held(ctx, &mut self.lock)?,
                    &super::CreateRequest::default(),
                    true,
                )?;
                return Ok(volume_source(ctx, &volume, request, true, *copy_up));
            }
            RequestKind::Tmpfs { size, mode } => MountSource::Tmpfs {
                size: *size,
                mode: *mode,
            },
            RequestKind::Image {
                reference,
                writable,
            } => self.image_source(reference, *writable, position)?,
        };
        Ok((source, None))
    }

    /// `--mount type=image`: the image's layers, with changes of their own when writable.
    fn image_source(
        &self,
        reference: &str,
        writable: bool,
        position: usize,
    ) -> Result<MountSource> {
        let ctx = self.ctx;
        let index = crate::store::images::ImageIndex::load(&ctx.store)?;
        // Not the store's ImageNotFound: that one would make `run` pull its own image.
        let image = crate::image::find(&index, reference).map_err(|_| {
            anyhow::anyhow!("--mount type=image: no image {reference} in the store; pull it first")
        })?;
        let mut layers: Vec<String> = image.layers.iter().rev().cloned().collect();
        // Its owners as the container's mapping shows them, like the container's own.
        if let Some(mapping) = self
            .copied_for
            .filter(|m| Some(*m) != ctx.id_mapping.as_ref())
        {
            layers = crate::image::idmap::mapped_layers(ctx, &layers, mapping)?;
        }
        let layers_dir = ctx.store.layers_dir();
        let changes = match writable {
            true => Some(changes_dir(self.overlay_dir, position)?),
            false => None,
        };
        Ok(MountSource::Layers {
            lower: layers
                .iter()
                .map(|l| layers_dir.join(l).join("diff"))
                .collect(),
            changes,
        })
    }
}

/// A volume's directory bound at the request's destination, and the use recorded for it.
fn volume_source(
    ctx: &Context,
    volume: &VolumeRecord,
    request: &MountRequest,
    anonymous: bool,
    copy_up: bool,
) -> (MountSource, Option<VolumeUse>) {
    let used = VolumeUse {
        name: volume.name.clone(),
        destination: request.destination.clone(),
        anonymous,
        copy_up,
    };
    let source = MountSource::Bind {
        path: super::mountpoint(ctx, volume),
        recursive: true,
    };
    (source, Some(used))
}

/// The store lock, taken on first need.
fn held<'a>(ctx: &Context, lock: &'a mut Option<StoreLock>) -> Result<&'a StoreLock> {
    Ok(match lock {
        Some(taken) => taken,
        None => lock.insert(ctx.store.lock()?),
    })
}

/// `--volumes-from CONTAINER[:ro|rw]`: the other container's binds and volumes, at the same
/// places, read-only or writable as asked (else as they are there). Its anonymous volumes stay
/// its own: removing this container never removes them.
pub fn volumes_from(ctx: &Context, text: &str) -> Result<Vec<(Mount, Option<VolumeUse>)>> {
    let (reference, mode) = match text.rsplit_once(':') {
        Some((reference, mode @ ("ro" | "rw" | "z" | "Z"))) => (reference, Some(mode)),
        Some((_, mode)) => bail!("invalid --volumes-from mode {mode:?}: use ro or rw"),
        None => (text, None),
    };
    let other = ctx.store.find_container(reference)?;
    Ok(other
        .spec
        .mounts
        .iter()
        .filter(|m| !matches!(m.source, MountSource::Tmpfs { .. }))
        .map(|mount| {
            let mut mount = mount.clone();
            match mode {
                Some("ro") => mount.readonly = true,
                Some("rw") => mount.readonly = false,
                _ => {}
            }
            let used = other
                .volumes
                .iter()
                .find(|v| v.destination == mount.destination)
                .map(|v| VolumeUse {
                    anonymous: false,
                    copy_up: false,
                    ..v.clone()
                });
            (mount, used)
        })
        .collect())
}

/// A bind's host path, made when missing if `create` (Docker's `-v`), and checked readable;
/// not a device node, which is only bound (`--privileged` binds every one of the host's, and
/// one the user may not open refuses to open in the container as on the host).
fn bind_source(path: &Path, create: bool) -> Result<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_char_device() || meta.file_type().is_block_device() => {
            return Ok(path.to_path_buf())
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            std::fs::create_dir_all(path)
                .with_context(|| format!("creating the bind source {}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("bind source path does not exist: {}", path.display())
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => bail!(
            "cannot bind-mount {}: permission denied (you cannot reach it)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("bind source {}", path.display())),
    }
    let is_dir = path.is_dir();
    let wanted = if is_dir {
        nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::X_OK
    } else {
        nix::unistd::AccessFlags::R_OK
    };
    if nix::unistd::access(path, wanted).is_err() {
        bail!(
            "cannot bind-mount {}: permission denied (you cannot read it)",
            path.display()
        );
    }
    Ok(path.to_path_buf())
}
