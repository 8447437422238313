//! `system df`: the store's disk use by kind — images, containers, local volumes — with what is
//! in use (active) and what a prune could free (reclaimable), as `podman system df` counts
//! them, and with `-v` the per-item breakdown. Measures only; changes nothing.

use std::collections::HashMap;

use anyhow::Result;

use crate::context::Context;
use crate::store::containers::Status;

pub struct ImageUsage {
    pub repository: String,
    pub tag: String,
    pub id: String,
    pub created: String,
    pub size: u64,
    /// Bytes of layers another image has too.
    pub shared: u64,
    pub containers: usize,
}

pub struct ContainerUsage {
    pub id: String,
    pub image: String,
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
    /// Every layer of every image, each counted once.
    pub layers_size: u64,
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
}

pub fn disk_use(ctx: &Context) -> Result<DiskUse> {
    let index = crate::store::images::ImageIndex::load(&ctx.store)?;
    let records = ctx.store.all_containers();
    let mut layer_users: HashMap<&str, usize> = HashMap::new();
    for image in &index.images {
        for layer in &image.layers {
            *layer_users.entry(layer.as_str()).or_default() += 1;
        }
    }
    let layer_size = |chain: &str| {
        ctx.store
            .read_layer(chain)
            .ok()
            .flatten()
            .map_or(0, |l| l.size)
    };
    let images = index
        .images
        .iter()
        .map(|image| {
            let (repository, tag) = image
                .names
                .first()
                .map(|n| crate::image::reference::split_name(n))
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            let created = crate::image::read_config(&ctx.store, image)
                .ok()
                .and_then(|c| c.created)
                .unwrap_or_default();
            ImageUsage {
                repository,
                tag,
                id: image.id.clone(),
                created,
                size: image.size,
                shared: image
                    .layers
                    .iter()
                    .filter(|l| layer_users.get(l.as_str()).is_some_and(|n| *n > 1))
                    .map(|l| layer_size(l))
                    .sum(),
                containers: records.iter().filter(|c| c.image_id == image.id).count(),
            }
        })
        .collect();
    let ids: Vec<String> = records.iter().map(|c| c.id.clone()).collect();
    let sizes = crate::container::writable_layer_sizes(ctx, &ids)?;
    let containers = records
        .iter()
        .zip(sizes)
        .map(|(record, size)| ContainerUsage {
            id: record.id.clone(),
            image: record.image_name.clone(),
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
    let layers_size = layer_users.keys().map(|l| layer_size(l)).sum();
    Ok(DiskUse {
        layers_size,
        images,
        containers,
        volumes,
    })
}

impl DiskUse {
    /// Podman's three lines. Images: their layers counted once, reclaimable those no container
    /// uses; containers: writable layers, reclaimable those not running; volumes: reclaimable
    /// those no container uses.
    pub fn summary(&self) -> [Usage; 3] {
        let unused_images: u64 = self
            .images
            .iter()
            .filter(|i| i.containers == 0)
            .map(|i| i.size - i.shared.min(i.size))
            .sum();
        let stopped = |c: &&ContainerUsage| c.status != Status::Running;
        [
            Usage {
                kind: "Images",
                total: self.images.len(),
                active: self.images.iter().filter(|i| i.containers > 0).count(),
                size: self.layers_size,
                reclaimable: unused_images,
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
                active: self.volumes.iter().filter(|v| v.links > 0).count(),
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
