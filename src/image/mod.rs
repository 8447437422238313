//! Image operations on the store: list, inspect, history, tag, remove; and (in `transfer`) load,
//! import and save. Output shapes follow `podman images` / `podman image inspect`.

pub mod commit;
pub mod config;
pub mod idmap;
pub mod pull;
pub mod push;
pub mod reference;
mod transfer;
pub use transfer::{make_writable_and_remove, remove_trees};

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

pub use transfer::{
    add_config_image, import, load, remove_tree_in_userns, save, ArchiveFormat, ImportOptions,
};

use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::filter::PruneFilters;
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::{self, Store};
use config::ImageConfig;

/// Finds the image a reference names: a stored name, a short name, or an ID prefix.
pub fn find<'a>(index: &'a ImageIndex, reference: &str) -> Result<&'a ImageRecord, store::Error> {
    if let Some((name, digest)) = reference.split_once('@') {
        return find_by_digest(index, reference, name, digest);
    }
    let names = reference::candidate_names(
        reference,
        index
            .images
            .iter()
            .flat_map(|i| i.names.iter().map(String::as_str)),
    );
    index.find(reference, &names)
}

/// `name@sha256:…`: an image with that manifest (or index) digest, known in that repository.
fn find_by_digest<'a>(
    index: &'a ImageIndex,
    reference: &str,
    name: &str,
    digest: &str,
) -> Result<&'a ImageRecord, store::Error> {
    let wanted = reference::Reference::parse(
        name.rsplit_once(':')
            .filter(|(_, t)| !t.contains('/'))
            .map(|(n, _)| n)
            .unwrap_or(name),
    )
    .ok();
    index
        .images
        .iter()
        .find(|image| {
            let has_digest =
                image.manifest_digest == digest || image.index_digest.as_deref() == Some(digest);
            has_digest
                && wanted.as_ref().is_some_and(|wanted| {
                    image
                        .names
                        .iter()
                        .map(|n| reference::split_name(n).0)
                        .chain(image.repositories.iter().cloned())
                        .any(|repository| wanted.matches_repository(&repository))
                })
        })
        .ok_or_else(|| store::Error::ImageNotFound {
            reference: reference.to_string(),
        })
}

pub fn read_config(store: &Store, image: &ImageRecord) -> Result<ImageConfig> {
    let bytes = store.read_blob(&image.config_digest())?;
    ImageConfig::parse(&bytes)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("image {}", &image.id[..12]))
}

/// One row of `images`: an image once per name, or once as `<none>` without names.
pub fn list_rows(ctx: &Context, all: bool) -> Result<Vec<Value>> {
    let index = ImageIndex::load(&ctx.store)?;
    let mut rows = Vec::new();
    // A build's intermediate images (its cache) show with -a only, as with Podman.
    let mut images: Vec<&ImageRecord> = index
        .images
        .iter()
        .filter(|i| all || !i.intermediate || !i.names.is_empty())
        .collect();
    let created_of = |image: &ImageRecord| {
        read_config(&ctx.store, image)
            .ok()
            .and_then(|c| c.created)
            .unwrap_or_default()
    };
    let mut with_created: Vec<(String, &ImageRecord)> =
        images.drain(..).map(|i| (created_of(i), i)).collect();
    with_created.sort_by(|a, b| b.0.cmp(&a.0));
    for (created, image) in with_created {
        let names: Vec<(String, String)> = if image.names.is_empty() {
            match image.repositories.first() {
                Some(repository) => vec![(repository.clone(), "<none>".into())],
                None => vec![("<none>".into(), "<none>".into())],
            }
        } else {
            image
                .names
                .iter()
                .map(|n| reference::split_name(n))
                .collect()
        };
        for (repository, tag) in names {
            rows.push(json!({
                "Repository": repository,
                "Tag": tag,
                "ID": image.id,
                "Id": image.id,
                "Digest": image.digest(),
                "Created": created,
                "Size": image.size,
                "Names": image.names,
                "Containers": containers_using(&ctx.store, &image.id).len(),
                "ReadOnly": false,
            }));
        }
    }
    Ok(rows)
}

/// Ids of containers made from an image.
pub fn containers_using(store: &Store, image_id: &str) -> Vec<String> {
    store
        .all_containers()
        .into_iter()
        .filter(|c| c.image_id == image_id)
        .map(|c| c.id)
        .collect()
}

/// The JSON `podman image inspect` prints for one image.
pub fn inspect(ctx: &Context, reference: &str) -> Result<Value> {
    let index = ImageIndex::load(&ctx.store)?;
    let image = find(&index, reference)?;
    let config_bytes = ctx.store.read_blob(&image.config_digest())?;
    let config: Value =
        serde_json::from_slice(&config_bytes).context("parsing the image config")?;
    let parsed = ImageConfig::parse(&config_bytes).map_err(anyhow::Error::msg)?;
    let repo_digests = image.repo_digests();
    let layers = &image.layers;
    let layer_dirs: Vec<String> = layers
        .iter()
        .rev()
        .map(|l| ctx.store.layer_path(l).join("diff").display().to_string())
        .collect();
    let mut graph_data = serde_json::Map::new();
    if let Some((upper, lower)) = layer_dirs.split_first() {
        graph_data.insert("UpperDir".into(), json!(upper));
        if !lower.is_empty() {
            graph_data.insert("LowerDir".into(), json!(lower.join(":")));
        }
    }
    Ok(json!({
        "Id": image.id,
        "Digest": image.digest(),
        "RepoTags": image.names,
        "RepoDigests": repo_digests,
        "Parent": "",
        "Comment": config.get("comment").cloned().unwrap_or(json!("")),
        "Created": parsed.created.clone().unwrap_or_default(),
        "Config": config.get("config").cloned().unwrap_or(json!({})),
        "Version": config.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": parsed.author.clone().unwrap_or_default(),
        "Architecture": parsed.architecture,
        "Os": parsed.os,
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": { "Name": "overlay", "Data": graph_data },
        "RootFS": { "Type": "layers", "Layers": parsed.rootfs.diff_ids },
        "Labels": parsed.config.labels,
        "Annotations": {},
        "ManifestType": image.manifest_media_type,
        "User": parsed.config.user.clone().unwrap_or_default(),
        "History": config.get("history").cloned().unwrap_or(json!([])),
        "NamesHistory": image.names,
    }))
}

/// Rows of `history`, newest first, as `podman history` lists them.
pub fn history(ctx: &Context, reference: &str) -> Result<Vec<Value>> {
    let index = ImageIndex::load(&ctx.store)?;
    let image = find(&index, reference)?;
    let config = read_config(&ctx.store, image)?;
    let mut layer_sizes = image.layers.iter().map(|l| {
        ctx.store
            .read_layer(l)
            .ok()
            .flatten()
            .map(|r| r.size)
            .unwrap_or(0)
    });
    let mut rows: Vec<Value> = config
        .history
        .iter()
        .map(|h| {
            let size = if h.empty_layer {
                0
            } else {
                layer_sizes.next().unwrap_or(0)
            };
            json!({
                "ID": "<missing>",
                "Created": h.created.clone().unwrap_or_default(),
                "CreatedBy": h.created_by.clone().unwrap_or_default(),
                "Size": size,
                "Comment": h.comment.clone().unwrap_or_default(),
                "Tags": Value::Null,
            })
        })
        .collect();
    rows.reverse();
    match rows.first_mut() {
        Some(top) => {
            top["ID"] = json!(image.id);
            top["Tags"] = json!(image.names);
        }
        None => rows.push(json!({
            "ID": image.id, "Created": config.created.clone().unwrap_or_default(), "CreatedBy": "",
            "Size": image.size, "Comment": "", "Tags": image.names,
        })),
    }
    Ok(rows)
}

/// Adds names to an image (`tag SOURCE TARGET...`).
pub fn tag(ctx: &Context, source: &str, targets: &[String]) -> Result<()> {
    let names = targets
        .iter()
        .map(|t| reference::Reference::parse(t).map(|r| r.to_local_name()))
        .collect::<Result<Vec<_>, _>>()?;
    let lock = ctx.store.lock()?;
    let mut index = ImageIndex::load(&ctx.store)?;
    let mut record = find(&index, source)?.clone();
    let id = record.id.clone();
    record.names = names;
    index.upsert(record);
    index.save(&ctx.store, &lock)?;
    for target in targets {
        events::record(&ctx.store, Event::image(EventStatus::Tag, &id, target));
    }
    Ok(())
}

/// What `rmi` did, line by line as Podman prints it.
pub enum Removal {
    Untagged(String),
    Deleted(String),
}

/// Removes images (`rmi`). A name of an image with other names is only untagged; an ID removes the
/// image. An image used by a container is refused unless `force`, which removes the containers.
/// `image prune`: removes the images no container uses that have no name (with `all`: every
/// such image, named or not) that `filters` match: `until=` on the config's creation time,
/// `label=`/`label!=` on its labels (an image whose config cannot be read is kept then); the
/// build cache forgets them. Returns the removed IDs.
pub fn prune(ctx: &Context, all: bool, filters: &PruneFilters) -> Result<Vec<String>> {
    let lock = ctx.store.lock()?;
    let mut index = ImageIndex::load(&ctx.store)?;
    let wanted = |image: &ImageRecord| {
        filters.is_empty()
            || read_config(&ctx.store, image).is_ok_and(|c| {
                let labels = c.config.labels.unwrap_or_default();
                filters.matches(c.created.as_deref(), &labels)
            })
    };
    let doomed: Vec<String> = index
        .images
        .iter()
        .filter(|i| all || i.names.is_empty())
        .filter(|i| containers_using(&ctx.store, &i.id).is_empty())
        .filter(|i| wanted(i))
        .map(|i| i.id.clone())
        .collect();
    index.images.retain(|i| !doomed.contains(&i.id));
    index.save(&ctx.store, &lock)?;
    for id in &doomed {
        events::record(&ctx.store, Event::image(EventStatus::Remove, id, ""));
    }
    transfer::remove_unused_layers(ctx, &lock, &index)?;
    crate::build::engine::forget_cached(ctx, &doomed)?;
    Ok(doomed)
}

pub fn remove(
    ctx: &Context,
    references: &[String],
    force: bool,
    all: bool,
) -> Result<Vec<Removal>> {
    let lock = ctx.store.lock()?;
    let mut index = ImageIndex::load(&ctx.store)?;
    let mut targets: Vec<(String, Option<String>)> = Vec::new();
    if all {
        targets.extend(index.images.iter().map(|i| (i.id.clone(), None)));
    }
    for reference in references {
        let image = find(&index, reference)?;
        let by_name = image
            .names
            .iter()
            .find(|n| reference::candidate_names(reference, std::iter::once(n.as_str())).len() == 1)
            .cloned();
        targets.push((image.id.clone(), by_name));
    }
    let mut report = Vec::new();
    // Logged once the index is saved.
    let mut logged = Vec::new();
    let mut doomed_containers = Vec::new();
    for (id, name) in targets {
        let Some(image) = index.images.iter_mut().find(|i| i.id == id) else {
            continue;
        };
        if let Some(name) = name.filter(|_| image.names.len() > 1) {
            image.names.retain(|n| n != &name);
            logged.push(Event::image(EventStatus::Untag, &id, &name));
            report.push(Removal::Untagged(name));
            continue;
        }
        let users = containers_using(&ctx.store, &id);
        if let Some(first) = users.first() {
            if !force {
                return Err(store::Error::ImageInUse {
                    container: first.clone(),
                }
                .into());
            }
            doomed_containers.extend(users);
        }
        report.extend(image.names.iter().cloned().map(Removal::Untagged));
        logged.extend(
            image
                .names
                .iter()
                .map(|n| Event::image(EventStatus::Untag, &id, n)),
        );
        let name = image.names.first().map_or("", String::as_str);
        logged.push(Event::image(EventStatus::Remove, &id, name));
        index.images.retain(|i| i.id != id);
        report.push(Removal::Deleted(id));
    }
    for container in &doomed_containers {
        crate::container::remove_locked(ctx, &lock, container, false)?;
    }
    index.save(&ctx.store, &lock)?;
    for event in logged {
        events::record(&ctx.store, event);
    }
    transfer::remove_unused_layers(ctx, &lock, &index)?;
    Ok(report)
}
