//! `push`: uploading an image from the store to a registry.
//!
//! Layers are pushed as the store keeps them (the blob that was loaded or pulled) unless a
//! different compression is asked for, so an image pulled and pushed keeps its digests. A blob
//! the registry already has is skipped after a HEAD; one another repository of the same
//! registry has is mounted; the rest is uploaded, at most [`PARALLEL_UPLOADS`] at once,
//! monolithic when small and in chunks when large. The manifest goes last, so a failed push
//! leaves the registry without a half image under the tag.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context as _, Result};
use serde_json::json;

use super::reference::Reference;
use crate::context::Context;
use crate::digest::{sha256_digest, HashingWriter};
use crate::registry::auth::{AuthStore, Credentials};
use crate::registry::client::{Client, DOCKER_MANIFEST, OCI_MANIFEST};
use crate::registry::config::RegistriesConf;
use crate::store::images::ImageIndex;
use crate::store::layers::LayerRecord;

const PARALLEL_UPLOADS: usize = 6;
/// Blobs above this go up in chunks of this size, so memory stays bounded.
const CHUNK_SIZE: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    Oci,
    V2s2,
}

#[derive(Debug, Clone)]
pub struct PushOptions {
    pub tls_verify: Option<bool>,
    pub authfile: Option<PathBuf>,
    pub credentials: Option<Credentials>,
    /// `--compression-format`; None keeps compressed blobs as stored and gzips the rest.
    pub compression: Option<Compression>,
    pub format: Option<ManifestFormat>,
    pub digestfile: Option<PathBuf>,
    pub quiet: bool,
}

/// A layer as it will be pushed.
struct Upload {
    digest: String,
    size: u64,
    compression: Option<Compression>,
    path: PathBuf,
    /// Whether `path` is a converted copy in tmp/, removed after the push.
    temporary: bool,
}

fn stored_compression(record: &LayerRecord) -> Option<Compression> {
    if record.blob_media_type.ends_with("gzip") {
        Some(Compression::Gzip)
    } else if record.blob_media_type.ends_with("zstd") {
        Some(Compression::Zstd)
    } else {
        None
    }
}

fn layer_media_type(
    compression: Option<Compression>,
    format: ManifestFormat,
) -> Result<&'static str> {
    Ok(match (format, compression) {
        (ManifestFormat::Oci, Some(Compression::Gzip)) => {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        }
        (ManifestFormat::Oci, Some(Compression::Zstd)) => {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        }
        (ManifestFormat::Oci, None) => "application/vnd.oci.image.layer.v1.tar",
        (ManifestFormat::V2s2, Some(Compression::Gzip)) => {
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        }
        (ManifestFormat::V2s2, None) => "application/vnd.docker.image.rootfs.diff.tar",
        (ManifestFormat::V2s2, Some(Compression::Zstd)) => {
            bail!("zstd layers need an OCI manifest: use --format oci")
        }
    })
}

/// Recompresses a stored blob into tmp/, returning (path, digest, size). gzip and zstd output
/// is deterministic for the same input, so pushing twice gives the same digest.
fn recompress(
    ctx: &Context,
    record: &LayerRecord,
    to: Compression,
) -> Result<(PathBuf, String, u64)> {
    let source = std::fs::File::open(ctx.store.blob_path(&record.blob_digest))
        .with_context(|| format!("opening blob {}", record.blob_digest))?;
    let mut tar = crate::archive::decompress(std::io::BufReader::new(source))?;
    let path = ctx.store.staging_path("push");
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut hashing = HashingWriter::new(std::io::BufWriter::new(file));
    match to {
        Compression::Gzip => {
            let mut encoder =
                flate2::GzBuilder::new().write(&mut hashing, flate2::Compression::default());
            std::io::copy(&mut tar, &mut encoder)?;
            encoder.finish()?;
        }
        Compression::Zstd => {
            let mut encoder = zstd::Encoder::new(&mut hashing, 3)?;
            std::io::copy(&mut tar, &mut encoder)?;
            encoder.finish()?;
        }
    }
    hashing.inner.flush()?;
    Ok((path, hashing.hash.digest(), hashing.count))
}

fn say(options: &PushOptions, line: &str) {
    if !options.quiet {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// Pushes `source` (a local image) to `destination` (default: the source's own name).
/// Returns the digest of the manifest pushed.
pub fn push(
    ctx: &Context,
    source: &str,
    destination: Option<&str>,
    options: &PushOptions,
) -> Result<String> {
    let index = ImageIndex::load(&ctx.store)?;
    let image = super::find(&index, source)?.clone();
    let target_text = destination
        .map(|d| d.strip_prefix("docker://").unwrap_or(d))
        .unwrap_or(source);
    let target = Reference::parse(target_text)?;
    let Some(registry) = target.registry.clone() else {
        bail!(
            "{target_text}: the destination needs a registry, as in {}",
            target.to_docker_name()
        );
    };
    let repository = target.path.clone();
    let tag = target
        .digest
        .clone()
        .or(target.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let conf = RegistriesConf::load()?;
    let insecure = match options.tls_verify {
        Some(verify) => !verify,
        None => conf.is_insecure(&registry, &repository),
    };
    let credentials = match &options.credentials {
        Some(c) => Some(c.clone()),
        None => AuthStore::new(options.authfile.clone()).lookup(&registry, &repository)?,
    };
    let client = Client::connect(&registry, insecure, credentials)?;

    let mut records = Vec::new();
    for chain in &image.layers {
        records.push(
            ctx.store
                .read_layer(chain)?
                .with_context(|| format!("layer {chain} is missing"))?,
        );
    }
    say(options, "Getting image source signatures");
    let mut uploads = Vec::new();
    let mut converted = false;
    for record in &records {
        let stored = stored_compression(record);
        let wanted = options.compression.or(stored).or(Some(Compression::Gzip));
        if wanted == stored {
            uploads.push(Upload {
                digest: record.blob_digest.clone(),
                size: record.blob_size,
                compression: stored,
                path: ctx.store.blob_path(&record.blob_digest),
                temporary: false,
            });
        } else {
            let to = wanted.unwrap_or(Compression::Gzip);
            let (path, digest, size) = recompress(ctx, record, to)?;
            converted = true;
            uploads.push(Upload {
                digest,
                size,
                compression: Some(to),
                path,
                temporary: true,
            });
        }
    }
    // Another repository of the same registry that holds these blobs, for cross-repo mounts.
    let mount_from: Option<String> = image.repositories.iter().find_map(|r| {
        let parsed = Reference::parse(r).ok()?;
        (parsed.registry.as_deref() == Some(registry.as_str()) && parsed.path != repository)
            .then_some(parsed.path)
    });
    let result = upload_all(
        &client,
        &repository,
        &uploads,
        mount_from.as_deref(),
        options,
    );
    for upload in &uploads {
        if upload.temporary {
            let _ = std::fs::remove_file(&upload.path);
        }
    }
    result?;

    let config_digest = image.config_digest();
    let config_path = ctx.store.blob_path(&config_digest);
    if !client.blob_exists(&repository, &config_digest)? {
        client.upload_blob(&repository, &config_digest, &config_path, None)?;
    }
    say(options, &format!("Copying config {} done", &image.id[..12]));

    let stored_format = if image.manifest_media_type == DOCKER_MANIFEST {
        ManifestFormat::V2s2
    } else {
        ManifestFormat::Oci
    };
    let format = options.format.unwrap_or(stored_format);
    let stored_manifest = ctx.store.read_blob(&image.manifest_digest)?;
    // The stored manifest describes exactly these blobs unless something was converted (or the
    // image came from a docker-archive, whose manifest Podman writes with gzip media types for
    // uncompressed layers).
    let reusable =
        !converted && format == stored_format && manifest_matches(&stored_manifest, &uploads);
    let (manifest, media_type) = if reusable {
        (stored_manifest, image.manifest_media_type.clone())
    } else {
        build_manifest(
            &config_digest,
            config_bytes_len(&config_path)?,
            &uploads,
            format,
        )?
    };
    say(options, "Writing manifest to image destination");
    client.put_manifest(&repository, &tag, &media_type, &manifest)?;
    let digest = sha256_digest(&manifest);
    if let Some(path) = &options.digestfile {
        std::fs::write(path, &digest).with_context(|| format!("writing {}", path.display()))?;
    }
    let pushed = crate::events::Event::image(crate::events::Status::Push, &image.id, target_text);
    crate::events::record(&ctx.store, pushed);
    Ok(digest)
}

fn config_bytes_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}

fn manifest_matches(manifest: &[u8], uploads: &[Upload]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(manifest) else {
        return false;
    };
    let Some(layers) = value.get("layers").and_then(|l| l.as_array()) else {
        return false;
    };
    layers.len() == uploads.len()
        && layers.iter().zip(uploads).all(|(layer, upload)| {
            let media_type = layer
                .get("mediaType")
                .and_then(|m| m.as_str())
                .unwrap_or("");
            let compressed_type = media_type.ends_with("gzip") || media_type.ends_with("zstd");
            layer.get("digest").and_then(|d| d.as_str()) == Some(upload.digest.as_str())
                && compressed_type == upload.compression.is_some()
        })
}

fn build_manifest(
    config_digest: &str,
    config_size: u64,
    uploads: &[Upload],
    format: ManifestFormat,
) -> Result<(Vec<u8>, String)> {
    let mut layers = Vec::new();
    for upload in uploads {
        layers.push(json!({
            "mediaType": layer_media_type(upload.compression, format)?,
            "digest": upload.digest,
            "size": upload.size,
        }));
    }
    let (media_type, config_type) = match format {
        ManifestFormat::Oci => (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json"),
        ManifestFormat::V2s2 => (
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
        ),
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config_digest, "size": config_size},
        "layers": layers,
    });
    Ok((serde_json::to_vec(&manifest)?, media_type.to_string()))
}

fn upload_all(
    client: &Client,
    repository: &str,
    uploads: &[Upload],
    mount_from: Option<&str>,
    options: &PushOptions,
) -> Result<()> {
    let next = Mutex::new(0usize);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_UPLOADS.min(uploads.len()) {
            scope.spawn(|| loop {
                let i = match next.lock() {
                    Ok(mut n) if *n < uploads.len() => {
                        *n += 1;
                        *n - 1
                    }
                    _ => return,
                };
                if let Err(e) = upload_one(client, repository, &uploads[i], mount_from, options) {
                    if let Ok(mut errors) = errors.lock() {
                        errors.push(format!("{e:#}"));
                    }
                    return;
                }
            });
        }
    });
    match errors
        .into_inner()
        .ok()
        .and_then(|mut e| e.drain(..).next())
    {
        Some(error) => bail!("{error}"),
        None => Ok(()),
    }
}

fn upload_one(
    client: &Client,
    repository: &str,
    upload: &Upload,
    mount_from: Option<&str>,
    options: &PushOptions,
) -> Result<()> {
    let short = &upload.digest.trim_start_matches("sha256:")[..12];
    if client.blob_exists(repository, &upload.digest)? {
        say(
            options,
            &format!("Copying blob {short} skipped: already exists"),
        );
        return Ok(());
    }
    if upload.size > CHUNK_SIZE && mount_from.is_none() {
        let file = std::fs::File::open(&upload.path)
            .with_context(|| format!("opening {}", upload.path.display()))?;
        client.upload_blob_chunked(
            repository,
            &upload.digest,
            std::io::BufReader::new(file).take(upload.size),
            CHUNK_SIZE as usize,
        )?;
    } else {
        let mounted = client.upload_blob(repository, &upload.digest, &upload.path, mount_from)?;
        if mounted {
            say(
                options,
                &format!(
                    "Copying blob {short} mounted from {}",
                    mount_from.unwrap_or("")
                ),
            );
            return Ok(());
        }
    }
    say(options, &format!("Copying blob {short} done"));
    Ok(())
}
