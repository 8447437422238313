//! Image operations on the store: list, inspect, history, tag, remove; and (in `transfer`) load,
//! import and save. Output shapes follow `podman images` / `podman image inspect`.

pub mod config;
pub mod idmap;
pub mod platform;
pub mod pull;
mod pull_policy;
pub mod push;
/// Image names as the store keeps them (the parser lives below the store, which needs it).
pub use crate::store::reference;
mod transfer;
pub use pull_policy::{stored_or_pulled, ImagePull, PullPolicy};
pub use transfer::{make_writable_and_remove, open_up, remove_trees};

use anyhow::{Context as _, Result};
use serde_json::{json, Value};

pub use transfer::{
    add_config_image, add_image, clean_staging, import, load, remove_tree_in_userns, save,
    unpack_stream, ArchiveFormat, ImportOptions, NewImage, UnpackedLayer,
};

use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::filter::PruneFilters;
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::{self, Store, StoreLock};
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

/// The images `images` lists, newest first, each as Podman's `ImageSummary` (the entity its
/// `--format json` encodes, field for field in Podman 5's order; `Created` in Unix seconds).
/// A build's intermediate images (its cache) are listed with `all` only, as with Podman.
pub fn list(ctx: &Context, all: bool) -> Result<Vec<ListedImage>> {
    let index = ImageIndex::load(&ctx.store)?;
    let mut images: Vec<(i64, &ImageRecord, ImageConfig)> = Vec::new();
    for image in index
        .images
        .iter()
        .filter(|i| all || !i.intermediate || !i.names.is_empty())
    {
        // An image whose config cannot be read still lists, as created at the epoch.
        let config = read_config(&ctx.store, image).unwrap_or_default();
        let created = config
            .created
            .as_deref()
            .and_then(crate::clock::parse_timestamp)
            .map_or(0, |t| t.as_second());
        images.push((created, image, config));
    }
    images.sort_by_key(|i| std::cmp::Reverse(i.0));
    let containers = ctx.store.all_containers();
    Ok(images
        .into_iter()
        .map(|(created, image, config)| {
            let mut summary = json!({
                "Id": image.id,
                "ParentId": "",
                "RepoTags": image.names,
                "RepoDigests": image.repo_digests(),
                "Created": created,
                "Size": image.size,
                "SharedSize": 0,
                "VirtualSize": image.size,
                "Labels": config.config.labels.filter(|l| !l.is_empty()),
                "Containers": containers.iter().filter(|c| c.image_id == image.id).count(),
            });
            // Podman 5's omitempty fields: Dangling (no name), History and Names.
            if image.names.is_empty() {
                summary["Dangling"] = json!(true);
            }
            summary["Digest"] = json!(image.digest());
            if !image.names.is_empty() {
                // skiff keeps no earlier names, so the names history is the names.
                summary["History"] = json!(image.names);
                summary["Names"] = json!(image.names);
            }
            ListedImage {
                summary,
                repository: image.repositories.first().cloned(),
            }
        })
        .collect())
}

/// One image of [`list`].
pub struct ListedImage {
    /// Podman's `ImageSummary`.
    pub summary: Value,
    /// The repository a nameless image came from, which `images` shows with tag `<none>`.
    pub repository: Option<String>,
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

/// One entry of an image's history, as Podman's `ImageHistoryLayer` holds it.
pub struct HistoryLayer {
    /// The image id at the top entry, `<missing>` below it (skiff keeps no parent images).
    pub id: String,
    /// RFC 3339, as the image config has it.
    pub created: Option<String>,
    pub created_by: String,
    /// The layer's uncompressed tar bytes; 0 for an entry that made no layer.
    pub size: u64,
    pub comment: String,
}

/// The history of an image, newest first, as `podman history` lists it.
pub fn history(ctx: &Context, reference: &str) -> Result<Vec<HistoryLayer>> {
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
    let mut layers: Vec<HistoryLayer> = config
        .history
        .iter()
        .map(|h| HistoryLayer {
            id: "<missing>".into(),
            created: h.created.clone(),
            created_by: h.created_by.clone().unwrap_or_default(),
            size: if h.empty_layer {
                0
            } else {
                layer_sizes.next().unwrap_or(0)
            },
            comment: h.comment.clone().unwrap_or_default(),
        })
        .collect();
    layers.reverse();
    match layers.first_mut() {
        Some(top) => top.id = image.id.clone(),
        None => layers.push(HistoryLayer {
            id: image.id.clone(),
            created: config.created.clone(),
            created_by: String::new(),
            size: image.size,
            comment: String::new(),
        }),
    }
    Ok(layers)
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

/// `image prune`: removes the images no container uses that have no name (with `all`: every
/// such image, named or not) that `filters` match: `until=` on the config's creation time,
/// `label=`/`label!=` on its labels (an image whose config cannot be read is kept then); the
/// build cache forgets them. Returns the removed IDs. (`container::cascade::prune_images` first
/// removes what killed builds left, whose containers would keep their images.)
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
    ctx.store.forget_build_cache_for(&doomed)?;
    Ok(doomed)
}

/// What removing some images does, worked out on the index before anything is written.
struct RemovalPlan {
    report: Vec<Removal>,
    /// Logged once the index is saved.
    events: Vec<Event>,
    /// The containers of the images deleted (not only untagged).
    orphans: Vec<String>,
}

/// Works out `rmi` on `index`: a name of an image with other names is only untagged; an ID (or
/// an image's last name) removes the image; `all` removes every image.
fn plan_removal(
    store: &Store,
    index: &mut ImageIndex,
    references: &[String],
    all: bool,
) -> Result<RemovalPlan> {
    let mut targets: Vec<(String, Option<String>)> = Vec::new();
    if all {
        targets.extend(index.images.iter().map(|i| (i.id.clone(), None)));
    }
    for reference in references {
        let image = find(index, reference)?;
        let by_name = image
            .names
            .iter()
            .find(|n| reference::candidate_names(reference, std::iter::once(n.as_str())).len() == 1)
            .cloned();
        targets.push((image.id.clone(), by_name));
    }
    let mut plan = RemovalPlan {
        report: Vec::new(),
        events: Vec::new(),
        orphans: Vec::new(),
    };
    for (id, name) in targets {
        let Some(image) = index.images.iter_mut().find(|i| i.id == id) else {
            continue;
        };
        if let Some(name) = name.filter(|_| image.names.len() > 1) {
            image.names.retain(|n| n != &name);
            plan.events
                .push(Event::image(EventStatus::Untag, &id, &name));
            plan.report.push(Removal::Untagged(name));
            continue;
        }
        plan.orphans.extend(containers_using(store, &id));
        plan.report
            .extend(image.names.iter().cloned().map(Removal::Untagged));
        plan.events.extend(
            image
                .names
                .iter()
                .map(|n| Event::image(EventStatus::Untag, &id, n)),
        );
        let name = image.names.first().map_or("", String::as_str);
        plan.events
            .push(Event::image(EventStatus::Remove, &id, name));
        index.images.retain(|i| i.id != id);
        plan.report.push(Removal::Deleted(id));
    }
    Ok(plan)
}

/// The containers that removing `references` (every image with `all`) would leave without their
/// image: `rmi --force` removes them first (`container::cascade::remove_images`).
pub fn containers_of_removed(
    ctx: &Context,
    references: &[String],
    all: bool,
) -> Result<Vec<String>> {
    let mut index = ImageIndex::load(&ctx.store)?;
    Ok(plan_removal(&ctx.store, &mut index, references, all)?.orphans)
}

/// Removes images (`rmi`) under the store lock the caller holds. A name of an image with other
/// names is only untagged; an ID removes the image. An image a container uses is refused (with
/// `--force`, `container::cascade::remove_images` removes those containers first).
pub fn remove_locked(
    ctx: &Context,
    lock: &StoreLock,
    references: &[String],
    all: bool,
) -> Result<Vec<Removal>> {
    let mut index = ImageIndex::load(&ctx.store)?;
    let plan = plan_removal(&ctx.store, &mut index, references, all)?;
    if let Some(first) = plan.orphans.first() {
        return Err(store::Error::ImageInUse {
            container: first.clone(),
        }
        .into());
    }
    index.save(&ctx.store, lock)?;
    for event in plan.events {
        events::record(&ctx.store, event);
    }
    transfer::remove_unused_layers(ctx, lock, &index)?;
    Ok(plan.report)
}
