//! Layers for containers with another id mapping (`--userns=keep-id`, `nomap`).
//!
//! A layer's files are owned on disk by the host ids the default mapping gives the image's
//! owners. Under another mapping the same owners are other host ids, so such a container needs
//! a copy of each layer with its owners moved. A rootless user cannot have the kernel do this
//! instead: on this kernel (6.18) an idmapped mount is refused for a bind of the host's ext4
//! (EPERM) and for an overlay made in the user namespace (EINVAL); only a tmpfs can be
//! idmapped there. So each layer is copied once per mapping, and kept beside the layer
//! (`<layer>/idmap-<key>/diff`) for every later container with that mapping. The copy moves file
//! data with copy_file_range on several threads, and links hard links again.

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::Digest;

use crate::context::Context;
use crate::runtime::userns::IdMapping;

/// Where a layer's copy for `mapping` lives, relative to the layers directory.
fn mapped_name(layer: &str, mapping: &IdMapping) -> String {
    let json = serde_json::to_vec(mapping).unwrap_or_default();
    let key = crate::store::hex(&sha2::Sha256::digest(&json));
    format!("{layer}/idmap-{}", &key[..12])
}

/// The layers (topmost first, relative to the layers directory, as the runtime wants them) of
/// an image for a container whose mapping is `mapping` instead of the user's default one,
/// copying the ones not copied for it yet.
pub fn mapped_layers(ctx: &Context, layers: &[String], mapping: &IdMapping) -> Result<Vec<String>> {
    let Some(default) = ctx.id_mapping.clone() else {
        return Ok(layers.to_vec());
    };
    let layers_dir = ctx.store.layers_dir();
    let names: Vec<String> = layers.iter().map(|l| mapped_name(l, mapping)).collect();
    let mut missing = Vec::new();
    for (layer, name) in layers.iter().zip(&names) {
        if !layers_dir.join(name).join("diff").is_dir() {
            // In the store's tmp/, whose leftovers of a killed copy are cleaned away.
            let staging = ctx.store.staging_path("idmap-layer");
            missing.push((
                layers_dir.join(layer).join("diff"),
                staging,
                layers_dir.join(name),
            ));
        }
    }
    if missing.is_empty() {
        return Ok(names);
    }
    // A notice, not output: on a big image the copy takes a moment, once.
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "Copying {} image layer(s) for this id mapping (once; later containers reuse them)",
            missing.len()
        );
    }
    let target = mapping.clone();
    let jobs: Vec<(PathBuf, PathBuf)> = missing
        .iter()
        .map(|(from, staging, _)| (from.clone(), staging.join("diff")))
        .collect();
    let translate = IdTranslation {
        default: default.clone(),
        target,
    };
    crate::runtime::run_in_user_namespace(Some(&default), move || {
        for (from, to) in &jobs {
            copy_tree(from, to, &translate)
                .map_err(|e| format!("copying {} for the id mapping: {e}", from.display()))?;
        }
        Ok(())
    })?;
    for (_, staging, done) in missing {
        if std::fs::rename(&staging, &done).is_err() {
            // Another container made the same copy meanwhile: keep that one.
            crate::image::remove_tree_in_userns(ctx, staging)?;
        }
    }
    Ok(names)
}

/// Owners seen in the default mapping's namespace (the image's ids), turned into the ids of
/// that namespace that are, on the host, what the target mapping gives the same image ids.
struct IdTranslation {
    default: IdMapping,
    target: IdMapping,
}

impl IdTranslation {
    fn uid(&self, image_uid: u32) -> Option<u32> {
        self.default.container_uid(self.target.host_uid(image_uid)?)
    }

    fn gid(&self, image_gid: u32) -> Option<u32> {
        self.default.container_gid(self.target.host_gid(image_gid)?)
    }
}

/// Copies the tree `from` to `to` (which must not exist) with owners translated, keeping modes,
/// times, extended attributes (overlay's opaque markers among them), whiteouts and hard links.
fn copy_tree(from: &Path, to: &Path, ids: &IdTranslation) -> std::io::Result<()> {
    let mut directories = vec![(from.to_path_buf(), to.to_path_buf())];
    let mut files = Vec::new();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut first_link: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut others = Vec::new();
    let mut index = 0;
    std::fs::create_dir_all(to)?;
    while index < directories.len() {
        let (source_dir, target_dir) = directories[index].clone();
        index += 1;
        for entry in std::fs::read_dir(&source_dir)? {
            let entry = entry?;
            let source = entry.path();
            let target = target_dir.join(entry.file_name());
            let meta = std::fs::symlink_metadata(&source)?;
            let kind = meta.file_type();
            if kind.is_dir() {
                // Writable until its contents are in; its own mode comes last.
                std::fs::create_dir(&target)?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700))?;
                directories.push((source, target));
            } else if kind.is_file() && meta.nlink() > 1 {
                match first_link.get(&(meta.dev(), meta.ino())) {
                    Some(first) => links.push((first.clone(), target)),
                    None => {
                        first_link.insert((meta.dev(), meta.ino()), target.clone());
                        files.push((source, target));
                    }
                }
            } else if kind.is_file() {
                files.push((source, target));
            } else {
                others.push((source, target, meta));
            }
        }
    }
    for (source, target, meta) in &others {
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(source)?, target)?;
        } else {
            // Whiteouts (character devices 0:0) and fifos.
            let kind = rustix::fs::FileType::from_raw_mode(meta.mode());
            rustix::fs::mknodat(
                rustix::fs::CWD,
                target,
                kind,
                rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
                meta.rdev(),
            )?;
        }
        finish_entry(source, target, meta, ids)?;
    }
    copy_files(&files, ids)?;
    for (first, target) in &links {
        std::fs::hard_link(first, target)?;
    }
    // Deepest first, so that no later change inside a directory moves its times again.
    for (source, target) in directories.iter().rev() {
        let meta = std::fs::symlink_metadata(source)?;
        finish_entry(source, target, &meta, ids)?;
    }
    Ok(())
}

/// Copies regular files' contents on a few threads (most of the work is the kernel's).
fn copy_files(files: &[(PathBuf, PathBuf)], ids: &IdTranslation) -> std::io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get().min(8));
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> std::io::Result<()> {
                    for (source, target) in part {
                        std::fs::copy(source, target)?;
                        let meta = std::fs::symlink_metadata(source)?;
                        finish_entry(source, target, &meta, ids)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("copy thread failed")))
        })
    })
}

/// Owner, extended attributes, mode and times of a copied entry.
fn finish_entry(
    source: &Path,
    target: &Path,
    meta: &std::fs::Metadata,
    ids: &IdTranslation,
) -> std::io::Result<()> {
    let uid = ids.uid(meta.uid()).unwrap_or(meta.uid());
    let gid = ids.gid(meta.gid()).unwrap_or(meta.gid());
    std::os::unix::fs::lchown(target, Some(uid), Some(gid))?;
    copy_xattrs(source, target)?;
    let symlink = meta.file_type().is_symlink();
    if !symlink {
        // After the owner: chown clears set-id bits.
        std::fs::set_permissions(
            target,
            std::fs::Permissions::from_mode(meta.mode() & 0o7777),
        )?;
    }
    let time = |seconds: i64, nanos: i64| rustix::fs::Timespec {
        tv_sec: seconds,
        tv_nsec: nanos as _,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        target,
        &rustix::fs::Timestamps {
            last_access: time(meta.atime(), meta.atime_nsec()),
            last_modification: time(meta.mtime(), meta.mtime_nsec()),
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// The user.* attributes (overlay's markers live there in a user namespace) must follow; the
/// others are copied where the namespace allows.
fn copy_xattrs(source: &Path, target: &Path) -> std::io::Result<()> {
    let mut names = vec![0u8; 4096];
    let length = match rustix::fs::llistxattr(source, &mut names[..]) {
        Ok(length) => length,
        Err(rustix::io::Errno::NOTSUP) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for name in names[..length].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut value = vec![0u8; 65536];
        let size = rustix::fs::lgetxattr(source, name.as_str(), &mut value[..])?;
        let set = rustix::fs::lsetxattr(
            target,
            name.as_str(),
            &value[..size],
            rustix::fs::XattrFlags::empty(),
        );
        if let Err(e) = set {
            if name.starts_with("user.") {
                return Err(e.into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::userns::plan_mapping;

    #[test]
    fn owners_are_translated_through_both_mappings() {
        let default = plan_mapping("a", 1000, 1000, "a:100000:65536", "a:100000:65536");
        let kept = default.keep_id(1000, 1000).unwrap();
        let ids = IdTranslation {
            default,
            target: kept,
        };
        // The image's root is a subordinate id under keep-id: 1 in the default namespace.
        assert_eq!(ids.uid(0), Some(1));
        assert_eq!(ids.uid(999), Some(1000));
        // The image's uid 1000 is the user: 0 in the default namespace.
        assert_eq!(ids.uid(1000), Some(0));
        assert_eq!(ids.uid(5000), Some(5000));
        assert_eq!(
            mapped_name("abc", &ids.target).len(),
            "abc/idmap-".len() + 12
        );
    }
}
