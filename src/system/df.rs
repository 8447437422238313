//! `system df`: the store's disk use by kind — images, containers, local volumes — with what is
//! in use (active) and what a prune could free (reclaimable), as `podman system df` counts
//! them, and with `-v` the per-item breakdown. Measures only; changes nothing.

use std::collections::HashMap;

use anyhow::Result;

use crate::context::Context;
use crate::store::containers::Status;

/// One image under one of its names: Podman lists an image once per repository tag.
pub struct ImageUsage {
    pub repository: String,
    pub tag: String,
    pub id: String,
    pub created: String,
    /// Shared plus unique.
    pub size: u64,
    /// Bytes of layers another image has too.
    pub shared: u64,
    /// Bytes of layers no other image has, plus the image's config and manifests.
    pub unique: u64,
    pub containers: usize,
}

pub struct ContainerUsage {
    pub id: String,
    pub image_id: String,
    pub command: String,
    pub local_volumes: usize,
    pub size: u64,
    pub created: String,
    pub status: Status,
    pub names: String,
}

pub struct VolumeUsage {
    pub name: String,
    /// Containers that use it.
    pub links: usize,
    pub size: u64,
}

/// One line of the summary.
pub struct Usage {
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

pub struct DiskUse {
    /// Every layer of every image counted once, plus each image's config and manifests.
    pub images_size: u64,
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

/// Counts as containers/common's `DiskUsage` does, which `podman system df` reports: a layer
/// is shared when more than one image has it, and an image's own data (config, manifests) is
/// unique to it; the total counts each layer once.
pub fn disk_use(ctx: &Context) -> Result<DiskUse> {
    let index = crate::store::images::ImageIndex::load(&ctx.store)?;
    let records = ctx.store.all_containers();
    let mut layer_users: HashMap<&str, usize> = HashMap::new();
    for image in &index.images {
        for layer in &image.layers {
            *layer_users.entry(layer.as_str()).or_default() += 1;
        }
    }
    let layer_sizes: HashMap<&str, u64> = layer_users
        .keys()
        .map(|chain| {
            let size = ctx
                .store
                .read_layer(chain)
                .ok()
                .flatten()
                .map_or(0, |l| l.size);
            (*chain, size)
        })
        .collect();
    let mut images_size: u64 = layer_sizes.values().sum();
    let mut images = Vec::new();
    for image in &index.images {
        let (mut shared, mut layers) = (0, 0);
        for layer in &image.layers {
            let size = layer_sizes.get(layer.as_str()).copied().unwrap_or(0);
            layers += size;
            if layer_users.get(layer.as_str()).is_some_and(|n| *n > 1) {
                shared += size;
            }
        }
        // The image's size holds its layers and its own data (config and manifests).
        let own_data = image.size.saturating_sub(layers);
        images_size += own_data;
        let unique = layers - shared + own_data;
        let created = crate::image::read_config(&ctx.store, image)
            .ok()
            .and_then(|c| c.created)
            .unwrap_or_default();
        let containers = records.iter().filter(|c| c.image_id == image.id).count();
        let tagged: Vec<(String, String)> = image
            .names
            .iter()
            .filter(|n| !n.contains('@'))
            .map(|n| crate::image::reference::split_name(n))
            .collect();
        let names = match tagged.is_empty() {
            true => vec![("<none>".to_string(), "<none>".to_string())],
            false => tagged,
        };
        for (repository, tag) in names {
            images.push(ImageUsage {
                repository,
                tag,
                id: image.id.clone(),
                created: created.clone(),
                size: shared + unique,
                shared,
                unique,
                containers,
            });
        }
    }
    let ids: Vec<String> = records.iter().map(|c| c.id.clone()).collect();
    let sizes = crate::container::writable_layer_sizes(ctx, &ids)?;
    let containers = records
        .iter()
        .zip(sizes)
        .map(|(record, size)| ContainerUsage {
            id: record.id.clone(),
            image_id: record.image_id.clone(),
            command: record.spec.process.args.join(" "),
            local_volumes: record.volumes.len(),
            size,
            created: record.created.clone(),
            status: crate::container::current_state(ctx, &record.id).status,
            names: record.name.clone(),
        })
        .collect();
    let volume_records = ctx.store.all_volumes();
    let dirs = volume_records
        .iter()
        .map(|v| crate::volume::mountpoint(ctx, v))
        .collect();
    let volume_sizes = crate::container::tree_sizes(ctx, dirs)?;
    let volumes = volume_records
        .iter()
        .zip(volume_sizes)
        .map(|(volume, size)| VolumeUsage {
            name: volume.name.clone(),
            links: crate::volume::users(&records, &volume.name).len(),
            size,
        })
        .collect();
    Ok(DiskUse {
        images_size,
        images,
        containers,
        volumes,
    })
}

impl DiskUse {
    /// Podman's three lines. Images: one per name, active the images a container uses,
    /// reclaimable all but what only those images hold; containers: writable layers,
    /// reclaimable those not running; volumes: active the containers using each (summed, as
    /// Podman sums links), reclaimable those no container uses.
    pub fn summary(&self) -> [Usage; 3] {
        let mut seen = std::collections::HashSet::new();
        let used: Vec<&ImageUsage> = self
            .images
            .iter()
            .filter(|i| seen.insert(i.id.as_str()) && i.containers > 0)
            .collect();
        let stopped = |c: &&ContainerUsage| c.status != Status::Running;
        [
            Usage {
                kind: "Images",
                total: self.images.len(),
                active: used.len(),
                size: self.images_size,
                reclaimable: self
                    .images_size
                    .saturating_sub(used.iter().map(|i| i.unique).sum()),
            },
            Usage {
                kind: "Containers",
                total: self.containers.len(),
                active: self.containers.iter().filter(|c| !stopped(c)).count(),
                size: self.containers.iter().map(|c| c.size).sum(),
                reclaimable: self.containers.iter().filter(stopped).map(|c| c.size).sum(),
            },
            Usage {
                kind: "Local Volumes",
                total: self.volumes.len(),
                active: self.volumes.iter().map(|v| v.links).sum(),
                size: self.volumes.iter().map(|v| v.size).sum(),
                reclaimable: self
                    .volumes
                    .iter()
                    .filter(|v| v.links == 0)
                    .map(|v| v.size)
                    .sum(),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(tag: &str, id: &str, shared: u64, unique: u64, containers: usize) -> ImageUsage {
        ImageUsage {
            repository: "localhost/x".into(),
            tag: tag.into(),
            id: id.into(),
            created: String::new(),
            size: shared + unique,
            shared,
            unique,
            containers,
        }
    }

    #[test]
    fn the_summary_counts_as_podman_5() {
        let volume = |name: &str, links, size| VolumeUsage {
            name: name.into(),
            links,
            size,
        };
        let usage = DiskUse {
            // One shared layer of 100, images with 10 and 20 of their own.
            images_size: 130,
            images: vec![
                image("a", "1", 100, 10, 2),
                image("b", "1", 100, 10, 2),
                image("c", "2", 100, 20, 0),
            ],
            containers: Vec::new(),
            volumes: vec![volume("v1", 2, 5), volume("v2", 0, 7)],
        };
        let [images, containers, volumes] = usage.summary();
        // Every name is a row; the image two names share is one active image, whose own
        // bytes alone are not reclaimable.
        assert_eq!((images.total, images.active), (3, 1));
        assert_eq!((images.size, images.reclaimable), (130, 120));
        assert_eq!((containers.total, containers.size), (0, 0));
        // Podman sums the links for active volumes.
        assert_eq!((volumes.total, volumes.active), (2, 2));
        assert_eq!((volumes.size, volumes.reclaimable), (12, 7));
    }
}
