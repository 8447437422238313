//! Recording a planned container: its ID in the `--cidfile`, written once and never over
//! another's, and its entry in the store, checked under the store's lock.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::context::Context;
use crate::events::{self, Event, Status as EventStatus};
use crate::image;
use crate::network;
use crate::store::{self, containers::ContainerRecord, images::ImageIndex};

/// Podman's words for a `--cidfile` that exists already.
pub(super) fn cidfile_taken(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "container id file exists. Ensure another container is not using it or delete {}",
        path.display()
    )
}

/// Made with O_EXCL: a file that appeared since the check is not overwritten.
pub(super) fn write_cidfile(path: &std::path::Path, id: &str) -> Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => cidfile_taken(path),
            _ => anyhow::anyhow!("writing the container id file {}: {e}", path.display()),
        })?;
    file.write_all(id.as_bytes())
        .with_context(|| format!("writing the container id file {}", path.display()))
}

/// Records a planned container in the store, checking under the lock that its image is still
/// there and its name free.
pub(super) fn store_container(
    ctx: &Context,
    record: &ContainerRecord,
    image_reference: &str,
) -> Result<()> {
    let lock = ctx.store.lock()?;
    // What killed runs left in tmp/ goes with the next container written, as with images.
    image::clean_staging(ctx, &lock)?;
    let rootfs = record.spec.root_directory.is_some();
    if !rootfs
        && ImageIndex::load(&ctx.store)?
            .by_id(&record.image_id)
            .is_none()
    {
        return Err(store::Error::ImageNotFound {
            reference: image_reference.to_string(),
        }
        .into());
    }
    // Addresses were picked without the lock: one taken meanwhile is an error, not a clash.
    for (name, attachment) in &record.networks {
        let taken = network::manage::users(ctx, name).iter().any(|other| {
            other
                .networks
                .get(name)
                .is_some_and(|a| a.ip == attachment.ip)
        });
        if taken {
            bail!(
                "address {} on network {name} was taken meanwhile by another container: try again",
                attachment.ip
            );
        }
    }
    ctx.store.create_container(&lock, record)?;
    events::record(&ctx.store, Event::container(EventStatus::Create, record));
    Ok(())
}
