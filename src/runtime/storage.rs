//! The container's root made of its image's layers and its changes, by the storage driver the
//! spec names: the kernel's overlay, skiff's FUSE union (`fuse_overlay`), or a plain copy of
//! the merged layers (vfs). Both overlays keep the changes in the container's upper directory in
//! one on-disk form, so either mounts a container the other made. A vfs root is a copy, made
//! once, at the container's first start, in its user namespace so that owners come out right;
//! the upper and work directories are not used then, and its changes are found by comparing the
//! copy with the layers (`archive::compare_tree`, with the owners `vfs_copy_owners` gives),
//! in the container's user namespace, where the copy was made.
//!
//! Everything here runs in the container's (or a helper's) new mount namespace, before
//! `pivot_root`; the FUSE servers were forked by skiff before the clone.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

use super::channel::{sys_error, Cause, ChildError};
use super::error::Error;
use super::spec::{ContainerSpec, StorageDriver};
use super::userns::{IdMapping, IdTranslation};

/// The servers the container's root needs, which skiff forked before the clone.
#[derive(Clone, Copy, Default)]
pub(crate) struct Servers<'a> {
    /// The id-shifted layer directory (keep-id under the kernel's overlay).
    pub layers: Option<BorrowedFd<'a>>,
    /// The FUSE union.
    pub union: Option<BorrowedFd<'a>>,
}

/// The overlay mount options; lower layers are relative to the layers directory (the mount is
/// made from there), which keeps the option string within one page for many layers.
pub fn overlay_options(spec: &ContainerSpec) -> String {
    let mut lower: Vec<String> = match &spec.root_directory {
        Some(root) => vec![root.path.display().to_string()],
        None => spec.layers.iter().map(|l| format!("{l}/diff")).collect(),
    };
    if lower.is_empty() {
        // An image `FROM scratch`: the empty mount point stands in for the missing layer.
        lower.push(spec.rootfs_dir.display().to_string());
    }
    // Not under id-shifted layers, whose owners it would not share.
    if let Some(skeleton) = spec
        .mount_point_skeleton
        .as_ref()
        .filter(|_| layer_translation(spec).is_none())
    {
        lower.push(skeleton.display().to_string());
    }
    let mut options = format!(
        "lowerdir={},upperdir={},workdir={},userxattr",
        lower.join(":"),
        spec.upper_dir.display(),
        spec.work_dir.display()
    );
    if spec.volatile {
        options.push_str(",volatile");
    }
    options
}

/// The layers' directories, absolute, topmost first.
pub(crate) fn lower_dirs(spec: &ContainerSpec) -> Vec<PathBuf> {
    if let Some(root) = &spec.root_directory {
        return vec![root.path.clone()];
    }
    spec.layers
        .iter()
        .map(|l| spec.layers_dir.join(l).join("diff"))
        .collect()
}

/// Where a vfs container's root is copied to, beside its (unused) upper directory.
pub fn vfs_root(spec: &ContainerSpec) -> PathBuf {
    spec.upper_dir.with_file_name("vfs")
}

/// Keeps this namespace's mounts from propagating to the host's, puts the id-shifted layers in
/// place when the container has them, and moves to the layer store, from which the overlay
/// options name the layers.
fn enter_private_layer_store(spec: &ContainerSpec, servers: Servers<'_>) -> Result<(), String> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making / private: {}", e.desc().to_lowercase()))?;
    if let Some(server) = servers.layers {
        super::idshift::mount_shifted_layers(&spec.layers_dir, server)?;
    }
    nix::unistd::chdir(&spec.layers_dir)
        .map_err(|e| format!("chdir to the layer store: {}", e.desc().to_lowercase()))
}

/// Gives the container's root the top of `dir`, which is its `/`: skiff made it as the user,
/// who is the container's root only under the default mapping. Runs in the container's user
/// namespace, as its root.
fn give_root(spec: &ContainerSpec, dir: &Path) -> Result<(), String> {
    let (uid, gid) = match &spec.nested_ids {
        // Root of the nested namespace, in the ids of this one.
        Some(nested) => (
            nested.host_uid(0).unwrap_or(0),
            nested.host_gid(0).unwrap_or(0),
        ),
        None => (0, 0),
    };
    let meta = std::fs::metadata(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    if (meta.uid(), meta.gid()) == (uid, gid) {
        return Ok(());
    }
    std::os::unix::fs::chown(dir, Some(uid), Some(gid))
        .map_err(|e| format!("giving the container's root its root directory: {e}"))
}

fn mount_overlay(spec: &ContainerSpec, options: &str, flags: MsFlags) -> nix::Result<()> {
    mount(
        Some("overlay"),
        &spec.rootfs_dir,
        Some("overlay"),
        flags,
        Some(options),
    )
}

/// Mounts the container's root on `spec.rootfs_dir`, read-only unless `writable`. A read-only
/// kernel overlay has the upper directory as its topmost lower layer instead, which leaves the
/// upper and work directories to a container that may be running. The kernel refusing its
/// overlay is a failure of its own kind, which `skiff system check` explains.
pub(crate) fn mount_root(
    spec: &ContainerSpec,
    writable: bool,
    servers: Servers<'_>,
) -> Result<(), ChildError> {
    let other = ChildError::other;
    enter_private_layer_store(spec, servers).map_err(other)?;
    if let Some(root) = spec.root_directory.as_ref().filter(|root| !root.overlay) {
        return bind_root_directory(&root.path, &spec.rootfs_dir, writable);
    }
    let readonly = if writable {
        MsFlags::empty()
    } else {
        MsFlags::MS_RDONLY
    };
    // A root directory's overlay is the kernel's whatever the store's driver.
    let driver = match spec.root_directory {
        Some(_) => StorageDriver::Overlay,
        None => spec.storage_driver,
    };
    match driver {
        StorageDriver::Vfs => return mount_vfs(spec, readonly).map_err(other),
        StorageDriver::FuseOverlay => {
            give_root(spec, &spec.upper_dir).map_err(other)?;
            let server = servers
                .union
                .ok_or_else(|| ChildError::other("the fuse overlay's server did not start"))?;
            return super::fuse_overlay::mount_union(&spec.rootfs_dir, !writable, server)
                .map_err(other);
        }
        StorageDriver::Overlay => give_root(spec, &spec.upper_dir).map_err(other)?,
    }
    let mounted = if writable {
        mount_overlay(spec, &overlay_options(spec), MsFlags::empty())
    } else if spec.layers.is_empty() {
        // An overlay needs two lower layers when it has no upper one.
        mount(
            Some(&spec.upper_dir),
            &spec.rootfs_dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_RDONLY,
            None::<&str>,
        )
    } else {
        let mut lower = vec![spec.upper_dir.display().to_string()];
        lower.extend(spec.layers.iter().map(|l| format!("{l}/diff")));
        let options = format!("lowerdir={},userxattr", lower.join(":"));
        mount_overlay(spec, &options, MsFlags::MS_RDONLY)
    };
    mounted.map_err(|e| {
        ChildError::new(Cause::OverlayRefused, format!(
            "mounting the container's files with the kernel's overlay: {} (--storage-driver fuse-overlay serves them without it)",
            e.desc().to_lowercase()
        ))
    })
}

/// `--rootfs DIR`: the directory itself is the root, the container's writes going to it.
fn bind_root_directory(dir: &Path, target: &Path, writable: bool) -> Result<(), ChildError> {
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(dir), target, None::<&str>, bind, None::<&str>)
        .map_err(|e| sys_error(&format!("binding {} as the root", dir.display()), e))?;
    if !writable {
        let readonly = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(None::<&str>, target, None::<&str>, readonly, None::<&str>)
            .map_err(|e| sys_error("making the root read-only", e))?;
    }
    Ok(())
}

/// Mounts an overlay (as `mount_root` does, with `userxattr` in a user namespace) in this
/// process's mount namespace, over directories made under `scratch` (on the store's file
/// system), then unmounts it and removes them: Err says why the kernel refused. Run in a fresh
/// mount namespace; both the driver's choice and `system check` ask it.
pub(crate) fn try_overlay_mount(scratch: &Path, rootless: bool) -> Result<(), String> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making / private: {e}"))?;
    let dir = |name: &str| {
        let path = scratch.join(name);
        std::fs::create_dir_all(&path)
            .map(|()| path)
            .map_err(|e| format!("creating {}: {e}", scratch.display()))
    };
    let (lower, upper, work, merged) = (dir("lower")?, dir("upper")?, dir("work")?, dir("merged")?);
    let mut options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    if rootless {
        options.push_str(",userxattr");
    }
    let mounted = mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    );
    if mounted.is_ok() {
        let _ = nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH);
    }
    // Here, as root of the namespace: the kernel's work/work is closed to everyone else.
    let _ = std::fs::remove_dir_all(scratch);
    mounted.map_err(|e| format!("mounting an overlay: {}", e.desc().to_lowercase()))
}

/// Binds the container's copy of its layers on its root, making the copy first if need be.
fn mount_vfs(spec: &ContainerSpec, readonly: MsFlags) -> Result<(), String> {
    let root = vfs_root(spec);
    if !root.exists() {
        copy_layers(spec, &root)?;
    }
    mount(
        Some(&root),
        &spec.rootfs_dir,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("mounting the container's copy of its layers: {e}"))?;
    if !readonly.is_empty() {
        mount(
            None::<&str>,
            &spec.rootfs_dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(|e| format!("making the container's files read-only: {e}"))?;
    }
    Ok(())
}

/// Copies the merged layers to `root`, whole or not at all: into a directory beside it, renamed
/// into place once complete.
fn copy_layers(spec: &ContainerSpec, root: &Path) -> Result<(), String> {
    let partial = root.with_file_name("vfs.partial");
    let describe = |e: std::io::Error| format!("copying the image's layers for vfs: {e}");
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(describe)?;
    }
    std::fs::create_dir(&partial).map_err(describe)?;
    let owners = vfs_copy_owners(spec);
    for lower in lower_dirs(spec).iter().rev() {
        merge_layer(lower, &partial, &owners).map_err(describe)?;
        let meta = std::fs::symlink_metadata(lower).map_err(describe)?;
        super::fstree::finish_entry(lower, &partial, &meta, &owners).map_err(describe)?;
    }
    give_root(spec, &partial)?;
    std::fs::rename(&partial, root).map_err(describe)
}

/// How the owners of the layers' files are shown in the container (keep-id and nested user
/// namespaces; None when the layers' own ids are the container's).
pub(crate) fn layer_translation(spec: &ContainerSpec) -> Option<IdTranslation> {
    let (Some(owners), Some(mapping)) = (&spec.layer_owners, &spec.id_mapping) else {
        return None;
    };
    Some(match &spec.nested_ids {
        // The server is in the outer namespace, whose mapping is the layers' own, so it sees
        // the image's ids; it reports the outer ids that the nested namespace shows as those.
        Some(nested) => IdTranslation {
            from: nested.clone(),
            to: IdMapping::identity(),
        },
        // The server is in the container's namespace: it reports, for each owner it sees, the
        // id the layers' mapping gives the same host id, which is the image's.
        None => IdTranslation {
            from: mapping.clone(),
            to: owners.clone(),
        },
    })
}

/// The owner a vfs container's copy gives an entry of its layers owned by (uid, gid), both as
/// the container's own user namespace (`spec.id_mapping`, outside any nested one) sees them:
/// the copy is made there, and its changes are read there, where every owner is mapped.
pub fn vfs_copy_owners(spec: &ContainerSpec) -> impl Fn(u32, u32) -> (u32, u32) + Sync {
    let translation = layer_translation(spec);
    move |uid, gid| match &translation {
        Some(t) => (t.uid(uid).unwrap_or(uid), t.gid(gid).unwrap_or(gid)),
        None => (uid, gid),
    }
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    let mut value = [0u8; 2];
    matches!(
        rustix::fs::lgetxattr(path, "user.overlay.opaque", &mut value[..]),
        Ok(1) if value[0] == b'y'
    )
}

fn remove_entry(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Applies one layer on the tree at `to` as the overlay would show it on top: whiteouts remove,
/// opaque directories replace, everything else is copied over what is there.
fn merge_layer(from: &Path, to: &Path, owners: &super::fstree::Owners<'_>) -> std::io::Result<()> {
    let mut linked: HashMap<u64, PathBuf> = HashMap::new();
    let mut directories = vec![(from.to_path_buf(), to.to_path_buf())];
    let mut finished = Vec::new();
    while let Some((source_dir, target_dir)) = directories.pop() {
        for entry in std::fs::read_dir(&source_dir)? {
            let entry = entry?;
            let source = entry.path();
            let target = target_dir.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&source)?;
            let existing = std::fs::symlink_metadata(&target).ok();
            if is_whiteout(&meta) {
                if let Some(existing) = existing {
                    remove_entry(&target, &existing)?;
                }
                continue;
            }
            if meta.is_dir() {
                match existing {
                    Some(existing) if existing.is_dir() => {
                        if is_opaque(&source) {
                            std::fs::remove_dir_all(&target)?;
                            std::fs::create_dir(&target)?;
                        }
                    }
                    other => {
                        if let Some(existing) = other {
                            remove_entry(&target, &existing)?;
                        }
                        std::fs::create_dir(&target)?;
                    }
                }
                // Writable until its contents are in; its own mode comes last.
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700))?;
                directories.push((source.clone(), target.clone()));
                finished.push((source, target, meta));
                continue;
            }
            if let Some(existing) = existing {
                remove_entry(&target, &existing)?;
            }
            let kind = meta.file_type();
            if kind.is_file() && meta.nlink() > 1 {
                if let Some(first) = linked.get(&meta.ino()) {
                    std::fs::hard_link(first, &target)?;
                    continue;
                }
                linked.insert(meta.ino(), target.clone());
            }
            if kind.is_file() {
                super::fstree::copy_file(&source, &target)?;
            } else if kind.is_symlink() {
                std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
            } else {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &target,
                    rustix::fs::FileType::from_raw_mode(meta.mode()),
                    rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
                    meta.rdev(),
                )?;
            }
            super::fstree::finish_entry(&source, &target, &meta, owners)?;
        }
    }
    // Deepest last in the list: finish those first, so no later change moves their times.
    for (source, target, meta) in finished.iter().rev() {
        super::fstree::finish_entry(source, target, meta, owners)?;
    }
    Ok(())
}

/// The FUSE servers the container's root needs (none for the kernel's overlay without
/// keep-id, nor for vfs): the container's ends of the sockets to them.
#[derive(Default)]
pub(crate) struct RootServers {
    pub(crate) layers: Option<OwnedFd>,
    pub(crate) union: Option<OwnedFd>,
}

impl RootServers {
    pub(crate) fn start(spec: &ContainerSpec) -> Result<Self, Error> {
        let translation = layer_translation(spec);
        Ok(match spec.storage_driver {
            StorageDriver::Vfs => RootServers::default(),
            StorageDriver::Overlay => RootServers {
                layers: translation
                    .map(|owners| super::idshift::start_server(&spec.layers_dir, owners))
                    .transpose()?,
                union: None,
            },
            StorageDriver::FuseOverlay => RootServers {
                // The union moves owners itself; an image mounted into the container
                // (`--mount type=image`) is a kernel overlay of the layer directory, which
                // still needs the shifted view.
                layers: match layer_translation(spec) {
                    Some(owners)
                        if spec
                            .mounts
                            .iter()
                            .any(|m| matches!(m.source, super::MountSource::Layers { .. })) =>
                    {
                        Some(super::idshift::start_server(&spec.layers_dir, owners)?)
                    }
                    _ => None,
                },
                union: Some(super::fuse_overlay::start_server(
                    super::fuse_overlay::UnionDirs {
                        upper: spec.upper_dir.clone(),
                        work: spec.work_dir.clone(),
                        lower: lower_dirs(spec),
                        owners: translation,
                    },
                )?),
            },
        })
    }

    pub(crate) fn borrowed(&self) -> Servers<'_> {
        Servers {
            layers: self.layers.as_ref().map(|fd| fd.as_fd()),
            union: self.union.as_ref().map(|fd| fd.as_fd()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::NetworkMode;

    #[test]
    fn overlay_lists_layers_topmost_first_relative_to_the_store() {
        let spec = crate::runtime::spec::fixtures::spec(NetworkMode::None, true);
        assert_eq!(
            overlay_options(&spec),
            "lowerdir=b/diff:a/diff,upperdir=/s/c/upper,workdir=/s/c/work,userxattr,volatile"
        );
        assert_eq!(
            lower_dirs(&spec),
            vec![
                PathBuf::from("/s/layers/b/diff"),
                PathBuf::from("/s/layers/a/diff")
            ]
        );
        assert_eq!(vfs_root(&spec), PathBuf::from("/s/c/vfs"));
    }

    #[test]
    fn layers_merge_with_whiteouts_and_opaque_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (bottom, top, root) = (
            dir.path().join("b"),
            dir.path().join("t"),
            dir.path().join("r"),
        );
        for d in [&bottom, &top, &root] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::create_dir_all(bottom.join("gone")).unwrap();
        std::fs::create_dir_all(bottom.join("opaque/old")).unwrap();
        std::fs::write(bottom.join("kept"), "1").unwrap();
        std::fs::write(bottom.join("replaced"), "old").unwrap();
        std::fs::create_dir_all(top.join("opaque")).unwrap();
        std::fs::write(top.join("opaque/new"), "n").unwrap();
        std::fs::write(top.join("replaced"), "new").unwrap();
        let set_opaque = rustix::fs::lsetxattr(
            top.join("opaque"),
            "user.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        );
        let whiteout = rustix::fs::mknodat(
            rustix::fs::CWD,
            top.join("gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        );
        // Either needs what an unprivileged test may lack (user xattrs on tmpfs, mknod).
        if set_opaque.is_err() || whiteout.is_err() {
            return;
        }
        let same = |uid, gid| (uid, gid);
        merge_layer(&bottom, &root, &same).unwrap();
        merge_layer(&top, &root, &same).unwrap();
        assert!(!root.join("gone").exists());
        assert!(!root.join("opaque/old").exists());
        assert_eq!(
            std::fs::read_to_string(root.join("opaque/new")).unwrap(),
            "n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("replaced")).unwrap(),
            "new"
        );
        assert_eq!(std::fs::read_to_string(root.join("kept")).unwrap(), "1");
    }
}
