//! Layers for containers with another id mapping (`--userns=keep-id`) where the user cannot
//! serve a FUSE file system, which is how they are shown otherwise (`runtime::idshift`).
//!
//! A layer's files are owned on disk by the host ids the default mapping gives the image's
//! owners. Under another mapping the same owners are other host ids, so without the FUSE server
//! such a container needs a copy of each layer with its owners moved. A rootless user cannot
//! have the kernel do this instead: on this kernel (6.18) an idmapped mount is refused for a
//! bind of the host's ext4 (EPERM) and for an overlay made in the user namespace (EINVAL); only
//! a tmpfs can be idmapped there. So each layer is copied once per mapping, and kept beside the
//! layer (`<layer>/idmap-<key>/diff`) for every later container with that mapping. The copy moves file
//! data with copy_file_range on several threads, and links hard links again.

use std::path::PathBuf;

use anyhow::Result;

use crate::context::Context;
use crate::runtime::userns::{IdMapping, IdTranslation};

/// Where a layer's copy for `mapping` lives, relative to the layers directory.
fn mapped_name(layer: &str, mapping: &IdMapping) -> String {
    let json = serde_json::to_vec(mapping).unwrap_or_default();
    let key = crate::digest::sha256_hex(&json);
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
    // Each image id, as the default mapping's namespace shows the host id the target gives it.
    let translate = IdTranslation {
        from: target,
        to: default.clone(),
    };
    crate::runtime::run_in_user_namespace(Some(&default), move || {
        let owners = |uid, gid| {
            (
                translate.uid(uid).unwrap_or(uid),
                translate.gid(gid).unwrap_or(gid),
            )
        };
        for (from, to) in &jobs {
            crate::runtime::fstree::copy_tree(from, to, &owners)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::userns::plan_mapping;

    #[test]
    fn owners_are_translated_through_both_mappings() {
        let default = plan_mapping("a", 1000, 1000, "a:100000:65536", "a:100000:65536");
        let kept = default.keep_id(1000, 1000).unwrap();
        let ids = IdTranslation {
            from: kept,
            to: default,
        };
        // The image's root is a subordinate id under keep-id: 1 in the default namespace.
        assert_eq!(ids.uid(0), Some(1));
        assert_eq!(ids.uid(999), Some(1000));
        // The image's uid 1000 is the user: 0 in the default namespace.
        assert_eq!(ids.uid(1000), Some(0));
        assert_eq!(ids.uid(5000), Some(5000));
        assert_eq!(mapped_name("abc", &ids.from).len(), "abc/idmap-".len() + 12);
    }
}
