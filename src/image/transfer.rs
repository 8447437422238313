//! Moving images in and out of the store without a registry: `load` and `save` (docker-archive,
//! oci-archive) and `import` (a root filesystem tarball).
//!
//! Layers are unpacked in a child process inside the user namespace (see
//! `runtime::run_in_user_namespace`), so file owners land on the mapped ids. Each layer is staged in
//! tmp/ and renamed into place only once its digest is verified; the image enters the index last.
//! A kill -9 at any point leaves tmp/ leftovers that the next writer removes.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use super::config::{self, History, ImageConfig, RootFs, RunConfig};
use super::reference::Reference;
use crate::archive::{self, ApplyOptions, ImageArchive, SaveImage, SaveLayer};
use crate::context::Context;
use crate::digest::{sha256_digest, Sha256};
use crate::events::{self, Event, Status as EventStatus};
use crate::store::images::{ImageIndex, ImageRecord};
use crate::store::layers::{chain_id, LayerRecord};
use crate::store::StoreLock;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

/// The media type of a layer blob from its first bytes.
fn sniff_layer_media_type(head: &[u8], docker: bool) -> &'static str {
    match (head, docker) {
        ([0x1f, 0x8b, ..], false) => "application/vnd.oci.image.layer.v1.tar+gzip",
        ([0x28, 0xb5, 0x2f, 0xfd, ..], false) => "application/vnd.oci.image.layer.v1.tar+zstd",
        (_, false) => "application/vnd.oci.image.layer.v1.tar",
        ([0x1f, 0x8b, ..], true) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        (_, true) => DOCKER_LAYER,
    }
}

/// Counts and hashes what passes through, and optionally copies it to a file.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    copy: Option<std::fs::File>,
    head: Vec<u8>,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R, copy: Option<std::fs::File>) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::default(),
            count: 0,
            copy,
            head: Vec::new(),
        }
    }

    fn finish(mut self) -> std::io::Result<(String, u64, Vec<u8>)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        if let Some(file) = &self.copy {
            file.sync_all()?;
        }
        Ok((self.hasher.digest(), self.count, self.head))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.head.len() < 8 {
            let take = (8 - self.head.len()).min(n);
            self.head.extend_from_slice(&buf[..take]);
        }
        if let Some(file) = &mut self.copy {
            file.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

/// A layer unpacked into tmp/, not yet verified against the image config.
#[derive(Debug, Serialize, Deserialize)]
pub struct UnpackedLayer {
    pub(super) staged_dir: PathBuf,
    pub(super) blob_file: PathBuf,
    pub(super) blob_digest: String,
    pub(super) blob_size: u64,
    pub(super) blob_head: Vec<u8>,
    pub diff_id: String,
    pub(super) size: u64,
}

/// Streams one layer: copy of the raw blob to `blob_file`, unpacked into `staged_dir/diff`.
pub fn unpack_stream(
    source: impl Read,
    staged_dir: &Path,
    rootless: bool,
) -> Result<UnpackedLayer, String> {
    let diff_dir = staged_dir.join("diff");
    std::fs::create_dir_all(&diff_dir)
        .map_err(|e| format!("creating {}: {e}", diff_dir.display()))?;
    let blob_file = staged_dir.join("blob");
    let copy = std::fs::File::create(&blob_file)
        .map_err(|e| format!("creating {}: {e}", blob_file.display()))?;
    let mut raw = HashingReader::new(source, Some(copy));
    let (diff_id, size) = {
        let tar = archive::decompress(&mut raw).map_err(|e| e.to_string())?;
        let mut uncompressed = HashingReader::new(tar, None);
        archive::apply_layer(
            &mut uncompressed,
            &diff_dir,
            &ApplyOptions {
                skip_devices: rootless,
            },
        )
        .map_err(|e| e.to_string())?;
        // The layer's size is its tar stream's length, as containers/storage counts it (not
        // the bytes of its files): `history` and `images` then show Podman's figures.
        let (diff_id, tar_size, _) = uncompressed
            .finish()
            .map_err(|e| format!("reading layer: {e}"))?;
        (diff_id, tar_size)
    };
    let (blob_digest, blob_size, blob_head) =
        raw.finish().map_err(|e| format!("reading layer: {e}"))?;
    Ok(UnpackedLayer {
        staged_dir: staged_dir.to_path_buf(),
        blob_file,
        blob_digest,
        blob_size,
        blob_head,
        diff_id,
        size,
    })
}

/// Removes tmp/ leftovers of writers that died, from inside the user namespace (they may hold
/// files owned by subordinate ids).
pub fn clean_staging(ctx: &Context, lock: &StoreLock) -> Result<()> {
    let stale = ctx.store.stale_staging(lock);
    if stale.is_empty() {
        return Ok(());
    }
    remove_trees(ctx, stale)
}

pub fn remove_trees(ctx: &Context, paths: Vec<PathBuf>) -> Result<()> {
    crate::runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), move || {
        for path in &paths {
            make_writable_and_remove(path)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// remove_dir_all fails on directories without write permission (overlay's work/work is 000).
pub fn make_writable_and_remove(path: &Path) -> Result<(), String> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_dir()) {
        return std::fs::remove_file(path).map_err(|e| format!("removing {}: {e}", path.display()));
    }
    match std::fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    open_up(path);
    std::fs::remove_dir_all(path).map_err(|e| format!("removing {}: {e}", path.display()))
}

/// Gives the user every permission on the directories under `path` (and on `path`), so that a
/// walk of the tree can read and empty each one.
pub fn open_up(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.is_dir() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(path) {
                for entry in entries.flatten() {
                    open_up(&entry.path());
                }
            }
        }
    }
}

/// Moves one verified layer into the store, or drops it when another writer brought the same
/// layer in meanwhile. Returns its unpacked size. Runs where `layer`'s files can be removed: in
/// the user namespace, or as root.
pub(super) fn commit_layer(
    ctx: &Context,
    lock: &StoreLock,
    parent: Option<&str>,
    diff_id: &str,
    layer: UnpackedLayer,
    media_type: &str,
) -> Result<u64> {
    if layer.diff_id != diff_id {
        bail!(
            "layer digest mismatch: the image config says {diff_id}, the layer's content is {}",
            layer.diff_id
        );
    }
    let chain = chain_id(parent, diff_id);
    if ctx.store.read_layer(&chain)?.is_some() {
        make_writable_and_remove(&layer.staged_dir).map_err(anyhow::Error::msg)?;
        return Ok(layer.size);
    }
    let blob_path = ctx.store.blob_path(&layer.blob_digest);
    std::fs::rename(&layer.blob_file, &blob_path)
        .with_context(|| format!("storing blob {}", layer.blob_digest))?;
    let record = LayerRecord {
        chain_id: chain,
        diff_id: diff_id.to_string(),
        parent: parent.map(String::from),
        blob_digest: layer.blob_digest.clone(),
        blob_media_type: media_type.to_string(),
        blob_size: layer.blob_size,
        size: layer.size,
    };
    ctx.store.commit_layer(lock, &layer.staged_dir, &record)?;
    Ok(layer.size)
}

/// Moves verified layers into the store, on top of the layer `parent` (a chain id) when given;
/// returns their chain ids, base first, and their unpacked size.
fn commit_layers(
    ctx: &Context,
    lock: &StoreLock,
    parent: Option<&str>,
    diff_ids: &[String],
    unpacked: Vec<Option<UnpackedLayer>>,
    docker: bool,
) -> Result<(Vec<String>, u64)> {
    let mut parent: Option<String> = parent.map(String::from);
    let mut chain_ids = Vec::new();
    let mut total = 0u64;
    for (diff_id, layer) in diff_ids.iter().zip(unpacked) {
        let chain = chain_id(parent.as_deref(), diff_id);
        total += match layer {
            Some(layer) => {
                let media_type = sniff_layer_media_type(&layer.blob_head, docker);
                if ctx.id_mapping.is_some() && ctx.store.read_layer(&chain)?.is_some() {
                    // Another image brought the same layer in meanwhile; its staged copy holds
                    // files of subordinate ids, removable only inside the user namespace.
                    if layer.diff_id != *diff_id {
                        bail!("layer digest mismatch: the image config says {diff_id}, the layer's content is {}", layer.diff_id);
                    }
                    remove_trees(ctx, vec![layer.staged_dir.clone()])?;
                    layer.size
                } else {
                    commit_layer(ctx, lock, parent.as_deref(), diff_id, layer, media_type)?
                }
            }
            None => ctx.store.read_layer(&chain)?.map(|r| r.size).unwrap_or(0),
        };
        chain_ids.push(chain.clone());
        parent = Some(chain);
    }
    Ok((chain_ids, total))
}

/// Loads every image of a docker-archive or oci-archive; returns the names loaded (or IDs).
pub fn load(ctx: &Context, input: &Path) -> Result<Vec<String>> {
    let archive =
        ImageArchive::open(input).with_context(|| format!("reading {}", input.display()))?;
    let lock = ctx.store.lock()?;
    clean_staging(ctx, &lock)?;
    let mut loaded = Vec::new();
    for image in archive.images() {
        let config = ImageConfig::parse(&image.config).map_err(anyhow::Error::msg)?;
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != image.layers.len() {
            bail!(
                "invalid image archive: the config lists {} layers, the manifest {}",
                diff_ids.len(),
                image.layers.len()
            );
        }
        // Which layers the store lacks, and where to stage them.
        let mut parent: Option<String> = None;
        let mut jobs = Vec::new();
        for (i, diff_id) in diff_ids.iter().enumerate() {
            let chain = chain_id(parent.as_deref(), diff_id);
            if ctx.store.read_layer(&chain)?.is_none() {
                jobs.push((i, ctx.store.staging_path(&format!("layer{i}"))));
            }
            parent = Some(chain);
        }
        let rootless = ctx.id_mapping.is_some();
        let results: Vec<(usize, UnpackedLayer)> =
            crate::runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), || {
                let mut done = Vec::new();
                for (i, staged) in &jobs {
                    let reader = archive
                        .open_layer(&image.layers[*i])
                        .map_err(|e| e.to_string())?;
                    done.push((*i, unpack_stream(reader, staged, rootless)?));
                }
                Ok(done)
            })?;
        let mut unpacked: Vec<Option<UnpackedLayer>> = (0..diff_ids.len()).map(|_| None).collect();
        for (i, layer) in results {
            unpacked[i] = Some(layer);
        }
        let docker = image.manifest.is_none();
        let (layers, size) = commit_layers(ctx, &lock, None, &diff_ids, unpacked, docker)?;
        let config_digest = sha256_digest(&image.config);
        ctx.store.put_blob(&config_digest, &image.config)?;
        let (manifest, media_type) = match &image.manifest {
            Some(bytes) => {
                let media_type = serde_json::from_slice::<serde_json::Value>(bytes)
                    .ok()
                    .and_then(|v| {
                        v.get("mediaType")
                            .and_then(|m| m.as_str())
                            .map(String::from)
                    })
                    .unwrap_or_else(|| OCI_MANIFEST.to_string());
                (bytes.clone(), media_type)
            }
            None => (
                docker_manifest(ctx, &config_digest, image.config.len(), &layers)?,
                DOCKER_MANIFEST.to_string(),
            ),
        };
        let manifest_digest = sha256_digest(&manifest);
        ctx.store.put_blob(&manifest_digest, &manifest)?;
        let size = image_size(size, image.config.len(), manifest.len());
        let names: Vec<String> = image
            .names
            .iter()
            .filter_map(|n| Reference::parse(n).ok())
            .map(|r| {
                if image.manifest.is_none() {
                    r.to_docker_name()
                } else {
                    r.to_local_name()
                }
            })
            .collect();
        let id = config_digest.trim_start_matches("sha256:").to_string();
        let mut index = ImageIndex::load(&ctx.store)?;
        index.upsert(ImageRecord {
            id: id.clone(),
            manifest_digest,
            manifest_media_type: media_type,
            names: names.clone(),
            layers,
            size,
            added: crate::clock::now_rfc3339(),
            index_digest: None,
            repositories: Vec::new(),
            intermediate: false,
        });
        index.save(&ctx.store, &lock)?;
        if names.is_empty() {
            loaded.push(format!("sha256:{id}"));
        } else {
            loaded.extend(names);
        }
    }
    // As Podman's: one event for the archive, naming the file.
    let archive = input.display().to_string();
    events::record(
        &ctx.store,
        Event::image(EventStatus::LoadFromArchive, "", &archive),
    );
    Ok(loaded)
}

/// The Docker schema 2 manifest of a docker-archive image, byte for byte as Podman records it
/// (containers/image's docker-archive source), so that `Digest` matches: Go's key order, no
/// spaces, and the gzip layer media type even for the uncompressed tars such archives hold.
fn docker_manifest(
    ctx: &Context,
    config_digest: &str,
    config_size: usize,
    layers: &[String],
) -> Result<Vec<u8>> {
    let mut descriptors = Vec::new();
    for chain in layers {
        let record = ctx
            .store
            .read_layer(chain)?
            .with_context(|| format!("layer {chain} is missing"))?;
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": record.blob_size,
            "digest": record.blob_digest,
        }));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": config_size, "digest": config_digest},
        "layers": descriptors,
    });
    Ok(serde_json::to_vec(&manifest)?)
}

pub struct ImportOptions {
    /// `--change` instructions.
    pub changes: Vec<String>,
    /// `--message`: the history comment.
    pub message: Option<String>,
}

/// Imports a root filesystem tarball (a path, or `-` for stdin) as a one-layer image.
pub fn import(
    ctx: &Context,
    input: &str,
    name: Option<&str>,
    options: &ImportOptions,
) -> Result<String> {
    let name = name
        .map(Reference::parse)
        .transpose()?
        .map(|r| r.to_local_name());
    let mut run_config = RunConfig::default();
    for change in &options.changes {
        config::apply_change(&mut run_config, change).map_err(anyhow::Error::msg)?;
    }
    let file = if input == "-" {
        None
    } else {
        Some(std::fs::File::open(input).with_context(|| format!("opening {input}"))?)
    };
    let lock = ctx.store.lock()?;
    clean_staging(ctx, &lock)?;
    let staged = ctx.store.staging_path("import");
    let rootless = ctx.id_mapping.is_some();
    let layer = crate::runtime::run_in_user_namespace(ctx.id_mapping.as_ref(), || match file {
        Some(f) => unpack_stream(f, &staged, rootless),
        None => unpack_stream(std::io::stdin().lock(), &staged, rootless),
    })?;
    let created = crate::clock::now_rfc3339();
    let diff_id = layer.diff_id.clone();
    let image_config = ImageConfig {
        created: Some(created.clone()),
        architecture: config::host_architecture().to_string(),
        os: "linux".into(),
        config: run_config,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff_id.clone()],
        },
        history: vec![History {
            created: Some(created),
            created_by: Some(format!(
                "/bin/sh -c #(nop) ADD file:{} in /",
                diff_id.trim_start_matches("sha256:")
            )),
            comment: Some(
                options
                    .message
                    .clone()
                    .unwrap_or_else(|| "imported from tarball".into()),
            ),
            ..History::default()
        }],
        ..ImageConfig::default()
    };
    let made = NewImage {
        name,
        ..NewImage::default()
    };
    let id = add_image(ctx, &lock, &[], Some(layer), &image_config, &made)?;
    events::record(&ctx.store, Event::image(EventStatus::Import, &id, input));
    Ok(id)
}

/// Adds an intermediate image of layers already in the store (chain ids, base first) with
/// another config: a build's config-only step, with a Docker manifest when `docker`. Returns
/// the image id.
pub fn add_config_image(
    ctx: &Context,
    layers: &[String],
    image_config: &ImageConfig,
    docker: bool,
) -> Result<String> {
    let lock = ctx.store.lock()?;
    let made = NewImage {
        intermediate: true,
        docker,
        ..NewImage::default()
    };
    add_image(ctx, &lock, layers, None, image_config, &made)
}

/// How a new image enters the index.
#[derive(Default)]
pub struct NewImage {
    pub name: Option<String>,
    /// A Docker schema 2 manifest instead of an OCI one.
    pub docker: bool,
    /// A build step's image: `images` lists it only with -a while it has no name.
    pub intermediate: bool,
}

/// An image's size as Podman reports it: its layers' tar bytes (`layers`), plus the config
/// and twice the manifest, which containers/storage keeps as data of the image (the manifest
/// under two keys).
pub(super) fn image_size(layers: u64, config_len: usize, manifest_len: usize) -> u64 {
    layers + config_len as u64 + 2 * manifest_len as u64
}

/// Adds an image to the store: the layers `base` (chain ids, base first, already in the store),
/// then `new_layer` on top when there is one, with `image_config` (whose rootfs and history the
/// caller made whole). Writes the config and a manifest as blobs, then the index. Returns the
/// image id.
pub fn add_image(
    ctx: &Context,
    lock: &StoreLock,
    base: &[String],
    new_layer: Option<UnpackedLayer>,
    image_config: &ImageConfig,
    made: &NewImage,
) -> Result<String> {
    let docker = made.docker;
    let mut layers = base.to_vec();
    let mut size = 0;
    for chain in base {
        size += ctx.store.read_layer(chain)?.map(|r| r.size).unwrap_or(0);
    }
    if let Some(layer) = new_layer {
        let diff_ids = [layer.diff_id.clone()];
        let parent = base.last().map(String::as_str);
        let (chains, added) =
            commit_layers(ctx, lock, parent, &diff_ids, vec![Some(layer)], docker)?;
        layers.extend(chains);
        size += added;
    }
    let config_bytes = serde_json::to_vec(image_config)?;
    let config_digest = sha256_digest(&config_bytes);
    ctx.store.put_blob(&config_digest, &config_bytes)?;
    let (manifest, manifest_media_type) = match docker {
        true => (
            docker_manifest(ctx, &config_digest, config_bytes.len(), &layers)?,
            DOCKER_MANIFEST,
        ),
        false => {
            let mut descriptors = Vec::new();
            for chain in &layers {
                let record = ctx
                    .store
                    .read_layer(chain)?
                    .with_context(|| format!("layer {chain} is missing"))?;
                descriptors.push(serde_json::json!({
                    "mediaType": record.blob_media_type,
                    "digest": record.blob_digest,
                    "size": record.blob_size,
                }));
            }
            // The manifest Podman writes for an image it made (no top-level mediaType).
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_bytes.len()},
                "layers": descriptors,
            });
            (serde_json::to_vec(&manifest)?, OCI_MANIFEST)
        }
    };
    let manifest_digest = sha256_digest(&manifest);
    ctx.store.put_blob(&manifest_digest, &manifest)?;
    let size = image_size(size, config_bytes.len(), manifest.len());
    let id = config_digest.trim_start_matches("sha256:").to_string();
    let mut index = ImageIndex::load(&ctx.store)?;
    index.upsert(ImageRecord {
        id: id.clone(),
        manifest_digest,
        manifest_media_type: manifest_media_type.into(),
        names: made.name.iter().cloned().collect(),
        layers,
        size,
        added: crate::clock::now_rfc3339(),
        index_digest: None,
        repositories: Vec::new(),
        intermediate: made.intermediate,
    });
    index.save(&ctx.store, lock)?;
    Ok(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
}

/// Writes images to `output` (written to a temporary file and renamed, so a failed save leaves
/// nothing behind), or to stdout when `output` is None.
pub fn save(
    ctx: &Context,
    references: &[String],
    format: ArchiveFormat,
    output: Option<&Path>,
) -> Result<()> {
    let index = ImageIndex::load(&ctx.store)?;
    let mut owned = Vec::new();
    for reference in references {
        let image = super::find(&index, reference)?;
        let config = ctx.store.read_blob(&image.config_digest())?;
        let manifest = ctx.store.read_blob(&image.manifest_digest).ok();
        let mut layers = Vec::new();
        for chain in &image.layers {
            let record = ctx
                .store
                .read_layer(chain)?
                .with_context(|| format!("layer {chain} is missing"))?;
            layers.push(SaveLayer {
                digest: record.blob_digest.clone(),
                size: record.blob_size,
                media_type: record.blob_media_type.clone(),
                path: ctx.store.blob_path(&record.blob_digest),
                diff_id: record.diff_id.clone(),
            });
        }
        // A tag the user asked for by name is saved under that name only, as Docker does.
        let names = match super::reference::candidate_names(
            reference,
            image.names.iter().map(String::as_str),
        )
        .first()
        {
            Some(name) => vec![name.clone()],
            None => image.names.clone(),
        };
        let keep_manifest =
            format == ArchiveFormat::OciArchive && image.manifest_media_type == OCI_MANIFEST;
        owned.push((
            config,
            if keep_manifest { manifest } else { None },
            names,
            layers,
        ));
    }
    let images: Vec<SaveImage> = owned
        .iter()
        .map(|(config, manifest, names, layers)| SaveImage {
            config,
            manifest: manifest.as_deref(),
            names: names.clone(),
            layers: layers.clone(),
        })
        .collect();
    let write = |out: &mut dyn Write| -> Result<()> {
        match format {
            ArchiveFormat::DockerArchive => archive::write_docker_archive(out, &images)?,
            ArchiveFormat::OciArchive => archive::write_oci_archive(out, &images)?,
        }
        Ok(())
    };
    match output {
        None => write(&mut std::io::stdout().lock())?,
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut temp = tempfile::Builder::new()
                .prefix(".skiff-save-")
                .tempfile_in(dir)
                .with_context(|| format!("creating a file in {}", dir.display()))?;
            {
                let mut buffered = std::io::BufWriter::new(temp.as_file_mut());
                write(&mut buffered)?;
                buffered.flush()?;
            }
            temp.as_file().sync_all()?;
            temp.persist(path)
                .map_err(|e| e.error)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let destination = output.map(|p| p.display().to_string()).unwrap_or_default();
    for reference in references {
        let id = super::find(&index, reference)?.id.as_str();
        events::record(
            &ctx.store,
            Event::image(EventStatus::Save, id, &destination),
        );
    }
    Ok(())
}

/// Deletes layers no image uses any more: renamed into tmp/ under the lock (atomic), then removed.
pub(super) fn remove_unused_layers(
    ctx: &Context,
    lock: &StoreLock,
    index: &ImageIndex,
) -> Result<()> {
    let used: std::collections::HashSet<&str> = index
        .images
        .iter()
        .flat_map(|i| i.layers.iter().map(String::as_str))
        .collect();
    let mut doomed = Vec::new();
    for layer in ctx.store.layer_ids() {
        if used.contains(layer.as_str()) {
            continue;
        }
        if let Ok(Some(record)) = ctx.store.read_layer(&layer) {
            let _ = std::fs::remove_file(ctx.store.blob_path(&record.blob_digest));
        }
        let staged = ctx
            .store
            .staging_path(&format!("removed-{}", &layer[..12.min(layer.len())]));
        std::fs::rename(ctx.store.layer_path(&layer), &staged)
            .with_context(|| format!("removing layer {layer}"))?;
        doomed.push(staged);
    }
    let _ = lock;
    // Configs and manifests of removed images go too, unless another image shares them.
    let mut kept_blobs: std::collections::HashSet<String> = std::collections::HashSet::new();
    for image in &index.images {
        kept_blobs.insert(image.config_digest());
        kept_blobs.insert(image.manifest_digest.clone());
    }
    for chain in ctx.store.layer_ids() {
        if let Ok(Some(record)) = ctx.store.read_layer(&chain) {
            kept_blobs.insert(record.blob_digest);
        }
    }
    if let Ok(entries) = std::fs::read_dir(ctx.store.root().join("blobs/sha256")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() == 64 && !kept_blobs.contains(&format!("sha256:{name}")) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    remove_trees(ctx, doomed)
}

pub fn remove_tree_in_userns(ctx: &Context, path: PathBuf) -> Result<()> {
    remove_trees(ctx, vec![path])
}
