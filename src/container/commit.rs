//! `commit`: a container's changes (`container::changes`, under any storage driver) as a new
//! image on top of its own (a container verb, as `podman container commit`: it reads the
//! container and asks image/ to add the image), and `diff`: those changes, or what an image's top layer changes, as
//! `A`/`C`/`D` lines.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::clock::now_rfc3339;
use crate::context::Context;
use crate::image::config::{self, History, ImageConfig};
use crate::image::reference::Reference;
use crate::image::{add_image, clean_staging, unpack_stream, NewImage};
use crate::store::containers::ContainerRecord;
use crate::store::images::ImageIndex;

pub struct CommitOptions {
    /// `--author`: the config's and the history entry's author.
    pub author: Option<String>,
    /// `--message`: the history entry's comment, which inspect shows as Comment.
    pub message: Option<String>,
    /// `--change` instructions applied to the new config.
    pub changes: Vec<String>,
    /// `--pause`: freeze a running container while its files are read.
    pub pause: bool,
    /// `--squash`: the whole file system as one layer instead of the image's layers plus one.
    pub squash: bool,
    /// `--format docker`: a Docker schema 2 manifest instead of an OCI one.
    pub docker_format: bool,
    /// A build step's commit: an intermediate image, with the step's config and history line.
    pub step: Option<StepCommit>,
}

/// What a build step puts in its image instead of the container's own config and command.
pub struct StepCommit {
    pub run_config: config::RunConfig,
    pub created_by: String,
}

/// The run configuration a container was made with, as the new image's: its image's, with the
/// command, environment, working directory, user, labels and ports the container has.
fn container_run_config(record: &ContainerRecord, base: &config::RunConfig) -> config::RunConfig {
    let process = &record.spec.process;
    let mut run = base.clone();
    // The container's argv is the image's entrypoint (when kept) followed by its command.
    let args = &process.args;
    run.cmd = match &base.entrypoint {
        Some(entrypoint) if args.starts_with(entrypoint) => Some(args[entrypoint.len()..].to_vec()),
        _ => {
            run.entrypoint = None;
            Some(args.clone())
        }
    };
    run.env = Some(process.env.clone());
    run.working_dir = Some(process.cwd.clone()).filter(|dir| dir != "/");
    run.user = Some(process.user.clone()).filter(|user| !user.is_empty());
    if !record.labels.is_empty() {
        run.labels = Some(record.labels.clone());
    }
    if !record.exposed_ports.is_empty() {
        run.exposed_ports = Some(
            record
                .exposed_ports
                .iter()
                .map(|port| (port.clone(), serde_json::json!({})))
                .collect(),
        );
    }
    run
}

/// Writes the tar of the container's changes (or, `squash`, of its whole file system) to a
/// new file in the store's tmp/ directory; returns its path.
fn write_changes(ctx: &Context, record: &ContainerRecord, squash: bool) -> Result<PathBuf> {
    let path = ctx.store.staging_path("commit").with_extension("tar");
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    if squash {
        super::copy::export(ctx, &record.id, &mut file)?;
        return Ok(path);
    }
    let (mut reader, writer) = std::io::pipe()?;
    let spec = record.spec.clone();
    let child = move || super::changes::write_layer(&spec, writer).map_err(|e| e.to_string());
    let parent = move || -> std::result::Result<(), String> {
        std::io::copy(&mut reader, &mut file).map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())
    };
    // Read where the container's files show the image's owners.
    let ids = super::changes::namespace(&record.spec);
    crate::runtime::run_in_user_namespace_streaming(ids.as_ref(), child, parent)?;
    Ok(path)
}

/// Makes an image of a container's current files; returns its id.
pub fn commit(
    ctx: &Context,
    reference: &str,
    name: Option<&str>,
    options: &CommitOptions,
) -> Result<String> {
    let record = ctx.store.find_container(reference)?;
    let running =
        super::current_state(ctx, &record.id).status == crate::store::containers::Status::Running;
    if options.pause && running {
        bail!("commit --pause needs a cgroup freezer for the container, and skiff does not place containers in cgroups yet on this host; commit without --pause reads its files as they are");
    }
    let name = name
        .map(Reference::parse)
        .transpose()?
        .map(|r| r.to_local_name());
    let index = ImageIndex::load(&ctx.store)?;
    let base = index.by_id(&record.image_id).cloned().with_context(|| {
        format!(
            "the image of container {} is gone from the store: commit needs it",
            record.name
        )
    })?;
    let mut image_config: ImageConfig = crate::image::read_config(&ctx.store, &base)?;
    image_config.config = match &options.step {
        Some(step) => step.run_config.clone(),
        None => container_run_config(&record, &image_config.config),
    };
    for change in &options.changes {
        config::apply_change(&mut image_config.config, change).map_err(anyhow::Error::msg)?;
    }
    let created = now_rfc3339();
    image_config.created = Some(created.clone());
    if options.author.is_some() {
        image_config.author = options.author.clone();
    }
    // Where Docker keeps a commit message, and inspect's Comment reads it.
    match &options.message {
        Some(message) => image_config
            .other
            .insert("comment".into(), message.clone().into()),
        None => image_config.other.remove("comment"),
    };
    let entry = History {
        created: Some(created),
        created_by: Some(match &options.step {
            Some(step) => step.created_by.clone(),
            None => record.spec.process.args.join(" "),
        }),
        author: options.author.clone(),
        comment: options.message.clone(),
        empty_layer: false,
    };
    if options.squash {
        image_config.rootfs.diff_ids.clear();
        image_config.history.clear();
    }
    image_config.history.push(entry);

    let lock = ctx.store.lock()?;
    clean_staging(ctx, &lock)?;
    let changes = write_changes(ctx, &record, options.squash)?;
    let staged = ctx.store.staging_path("commit-layer");
    let rootless = ctx.id_mapping.is_some();
    let input =
        std::fs::File::open(&changes).with_context(|| format!("opening {}", changes.display()))?;
    let layer = crate::runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), move || {
        unpack_stream(input, &staged, rootless)
    });
    let _ = std::fs::remove_file(&changes);
    let layer = layer?;
    image_config.rootfs.diff_ids.push(layer.diff_id.clone());
    let base_layers = match options.squash {
        true => Vec::new(),
        false => base.layers.clone(),
    };
    let made = NewImage {
        name,
        docker: options.docker_format,
        intermediate: options.step.is_some(),
    };
    let id = add_image(ctx, &lock, &base_layers, Some(layer), &image_config, &made)?;
    let committed = crate::events::Event::container(crate::events::Status::Commit, &record);
    crate::events::record(&ctx.store, committed);
    Ok(id)
}

/// `diff`: the changes of a container, or of an image's top layer over the layers below it,
/// one `A|C|D /path` line each.
pub fn diff(ctx: &Context, reference: &str) -> Result<Vec<String>> {
    let lines = |changes: Vec<crate::archive::Change>| -> Vec<String> {
        changes.iter().map(crate::archive::Change::line).collect()
    };
    if let Ok(record) = ctx.store.find_container(reference) {
        let spec = record.spec;
        let found = crate::runtime::run_in_user_namespace(
            super::changes::namespace(&spec).as_ref(),
            || {
                super::changes::list(&spec)
                    .map(lines)
                    .map_err(|e| format!("reading the changes of container {}: {e}", record.name))
            },
        )?;
        return Ok(found);
    }
    let layers_dir = ctx.store.layers_dir();
    let index = ImageIndex::load(&ctx.store)?;
    let image = crate::image::find(&index, reference)?;
    let Some((top, rest)) = image.layers.split_last() else {
        return Ok(Vec::new());
    };
    let below: Vec<String> = rest.iter().rev().cloned().collect();
    let changes_dir = layers_dir.join(top).join("diff");
    let found = crate::runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), move || {
        let exists =
            |relative: &Path| crate::archive::layer_entry(&layers_dir, &below, relative).is_some();
        crate::archive::list_changes(&changes_dir, &exists, &[])
            .map(lines)
            .map_err(|e| format!("reading {}: {e}", changes_dir.display()))
    })?;
    Ok(found)
}
