//! Writing docker-archive and oci-archive files, as `podman save` writes them.
//!
//! Contract: the output depends only on the images given (every header has mtime 0, owner 0:0,
//! mode 0644, and files come in a fixed order), so saving twice gives the same bytes. Config and
//! manifest bytes are written exactly as given, so image ids and manifest digests survive a round
//! trip. Layer bytes are streamed from the caller's files and hashed on the way; a layer whose
//! bytes do not match its digest fails the save (the partial output is the caller's to remove).

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use super::compression::{decompress, sniff_compression, Compression};
use super::oci::{
    oci_layer_media_type, Descriptor, DockerManifestEntry, ImageIndex, ImageManifest, OciLayout,
    DOCKER_MANIFEST_FILE, OCI_CONFIG, OCI_INDEX_FILE, OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION,
    OCI_MANIFEST, REF_NAME_ANNOTATION,
};
use super::Error;
use crate::digest::{hex_of_sha256_digest, sha256_digest, sha256_hex, HashingReader};

/// What `save` writes for one image.
#[derive(Debug, Clone)]
pub struct SaveImage<'a> {
    pub config: &'a [u8],
    /// Used for oci-archive when present; otherwise an OCI manifest is generated.
    pub manifest: Option<&'a [u8]>,
    /// Tags to record.
    pub names: Vec<String>,
    /// Base layer first.
    pub layers: Vec<SaveLayer>,
}

/// One layer to save; the store keeps each layer blob as a file.
#[derive(Debug, Clone)]
pub struct SaveLayer {
    /// `sha256:<hex>` of the bytes in `path`.
    pub digest: String,
    pub size: u64,
    /// OCI or Docker layer media type of those bytes.
    pub media_type: String,
    /// File holding the bytes.
    pub path: PathBuf,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
}

/// Writes a docker-archive: `<config hex>.json`, `<diff id hex>.tar` holding the uncompressed
/// layer (decompressed on the way when the blob is compressed), then `manifest.json`. The legacy
/// `repositories` file and per-layer directories are not written; `docker load` and `podman load`
/// read `manifest.json`.
pub fn write_docker_archive<W: Write>(out: W, images: &[SaveImage]) -> Result<(), Error> {
    let mut builder = tar::Builder::new(out);
    let mut written = HashSet::new();
    let mut manifest = Vec::with_capacity(images.len());
    for image in images {
        let config_name = format!("{}.json", sha256_hex(image.config));
        if written.insert(config_name.clone()) {
            append_bytes(&mut builder, &config_name, image.config)?;
        }
        let mut layer_names = Vec::with_capacity(image.layers.len());
        for layer in &image.layers {
            let diff_hex = hex_of_sha256_digest(&layer.diff_id)
                .ok_or_else(|| Error::invalid(format!("malformed diff id {:?}", layer.diff_id)))?;
            let layer_name = format!("{diff_hex}.tar");
            if written.insert(layer_name.clone()) {
                append_uncompressed_layer(&mut builder, &layer_name, layer)?;
            }
            layer_names.push(layer_name);
        }
        manifest.push(DockerManifestEntry {
            config: config_name,
            repo_tags: (!image.names.is_empty()).then(|| image.names.clone()),
            layers: layer_names,
        });
    }
    append_json(&mut builder, DOCKER_MANIFEST_FILE, &manifest)?;
    finish(builder)
}

/// Writes an oci-archive: `oci-layout`, every blob under `blobs/sha256/` as stored, then
/// `index.json` with one entry per tag (annotation `org.opencontainers.image.ref.name`).
pub fn write_oci_archive<W: Write>(out: W, images: &[SaveImage]) -> Result<(), Error> {
    let mut builder = tar::Builder::new(out);
    append_json(
        &mut builder,
        OCI_LAYOUT_FILE,
        &OciLayout {
            image_layout_version: OCI_LAYOUT_VERSION.to_string(),
        },
    )?;
    let mut written = HashSet::new();
    let mut index_entries = Vec::new();
    for image in images {
        let config_digest = sha256_digest(image.config);
        if written.insert(config_digest.clone()) {
            append_bytes(&mut builder, &blob_name(&config_digest)?, image.config)?;
        }
        for layer in &image.layers {
            if written.insert(layer.digest.clone()) {
                append_layer_blob(&mut builder, layer)?;
            }
        }
        let generated;
        let manifest_bytes = match image.manifest {
            Some(bytes) => bytes,
            None => {
                generated = generate_manifest(image, &config_digest)?;
                generated.as_slice()
            }
        };
        let manifest_digest = sha256_digest(manifest_bytes);
        if written.insert(manifest_digest.clone()) {
            append_bytes(&mut builder, &blob_name(&manifest_digest)?, manifest_bytes)?;
        }
        let descriptor = Descriptor {
            media_type: manifest_media_type(manifest_bytes),
            digest: manifest_digest,
            size: manifest_bytes.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        };
        if image.names.is_empty() {
            index_entries.push(descriptor.clone());
        }
        for name in &image.names {
            let mut tagged = descriptor.clone();
            tagged
                .annotations
                .insert(REF_NAME_ANNOTATION.to_string(), name.clone());
            index_entries.push(tagged);
        }
    }
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(super::oci::OCI_INDEX.to_string()),
        manifests: index_entries,
    };
    append_json(&mut builder, OCI_INDEX_FILE, &index)?;
    finish(builder)
}

fn generate_manifest(image: &SaveImage, config_digest: &str) -> Result<Vec<u8>, Error> {
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_string()),
        config: plain_descriptor(OCI_CONFIG, config_digest, image.config.len() as u64),
        layers: image
            .layers
            .iter()
            .map(|layer| {
                plain_descriptor(
                    oci_layer_media_type(&layer.media_type),
                    &layer.digest,
                    layer.size,
                )
            })
            .collect(),
    };
    serde_json::to_vec(&manifest)
        .map_err(|error| Error::invalid(format!("encoding the manifest: {error}")))
}

fn plain_descriptor(media_type: &str, digest: &str, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

/// The manifest's own `mediaType` (a Docker schema 2 manifest says so), else OCI.
fn manifest_media_type(manifest: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct MediaTypeOnly {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<MediaTypeOnly>(manifest)
        .ok()
        .and_then(|m| m.media_type)
        .unwrap_or_else(|| OCI_MANIFEST.to_string())
}

fn blob_name(digest: &str) -> Result<String, Error> {
    let hex = hex_of_sha256_digest(digest)
        .ok_or_else(|| Error::invalid(format!("unsupported or malformed digest {digest:?}")))?;
    Ok(format!("blobs/sha256/{hex}"))
}

/// Copies a layer blob as stored, checking its size and digest on the way.
fn append_layer_blob<W: Write>(
    builder: &mut tar::Builder<W>,
    layer: &SaveLayer,
) -> Result<(), Error> {
    let name = blob_name(&layer.digest)?;
    let file = open_layer_file(layer)?;
    let actual_size = file_len(&file, layer)?;
    if actual_size != layer.size {
        return Err(Error::SizeMismatch {
            digest: layer.digest.clone(),
            expected: layer.size,
            actual: actual_size,
        });
    }
    append_hashed(
        builder,
        &name,
        actual_size,
        file,
        &layer.digest,
        &layer.digest,
    )
}

/// Writes a layer as an uncompressed tar named after its diff id. A compressed blob is first
/// decompressed to a temporary file, because a tar header needs the size before the bytes.
fn append_uncompressed_layer<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    layer: &SaveLayer,
) -> Result<(), Error> {
    let mut file = open_layer_file(layer)?;
    let mut head = Vec::new();
    let context = || format!("reading layer {}", layer.path.display());
    (&mut file)
        .take(8)
        .read_to_end(&mut head)
        .map_err(|source| Error::io(context(), source))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|source| Error::io(context(), source))?;
    let plain = if sniff_compression(&head)? == Compression::None {
        file
    } else {
        let mut plain = tempfile::tempfile()
            .map_err(|source| Error::io("creating a temporary file for a layer", source))?;
        std::io::copy(&mut decompress(file)?, &mut plain)
            .map_err(|source| Error::io(format!("decompressing {}", layer.digest), source))?;
        plain
            .seek(SeekFrom::Start(0))
            .map_err(|source| Error::io(context(), source))?;
        plain
    };
    let size = file_len(&plain, layer)?;
    append_hashed(builder, name, size, plain, &layer.diff_id, &layer.digest)
}

fn open_layer_file(layer: &SaveLayer) -> Result<File, Error> {
    File::open(&layer.path)
        .map_err(|source| Error::io(format!("opening layer {}", layer.path.display()), source))
}

fn file_len(file: &File, layer: &SaveLayer) -> Result<u64, Error> {
    Ok(file
        .metadata()
        .map_err(|source| Error::io(format!("inspecting layer {}", layer.path.display()), source))?
        .len())
}

/// Appends `size` bytes from `reader` and checks they hash to `expected`.
fn append_hashed<W: Write, R: Read>(
    builder: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    reader: R,
    expected: &str,
    what: &str,
) -> Result<(), Error> {
    let mut hashing = HashingReader::new(reader.take(size));
    builder
        .append(&deterministic_header(name, size)?, &mut hashing)
        .map_err(|source| Error::io(format!("writing {name} to the archive"), source))?;
    super::image_read::check_digest(hashing.hash.digest(), expected, what)
}

fn append_json<W: Write, T: serde::Serialize>(
    builder: &mut tar::Builder<W>,
    name: &str,
    value: &T,
) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value)
        .map_err(|error| Error::invalid(format!("encoding {name}: {error}")))?;
    append_bytes(builder, name, &bytes)
}

fn append_bytes<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
) -> Result<(), Error> {
    builder
        .append(&deterministic_header(name, bytes.len() as u64)?, bytes)
        .map_err(|source| Error::io(format!("writing {name} to the archive"), source))
}

/// A regular-file header that depends only on the name and size.
fn deterministic_header(name: &str, size: u64) -> Result<tar::Header, Error> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(name)
        .map_err(|source| Error::io(format!("naming {name} in the archive"), source))?;
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    Ok(header)
}

fn finish<W: Write>(builder: tar::Builder<W>) -> Result<(), Error> {
    let mut out = builder
        .into_inner()
        .map_err(|source| Error::io("finishing the archive", source))?;
    out.flush()
        .map_err(|source| Error::io("flushing the archive", source))
}
