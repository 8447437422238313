//! Reading docker-archive and oci-archive files, as `docker save` and `podman save` write them.
//!
//! Contract: `ImageArchive::open` reads the outer tar's headers once and remembers where each
//! file's bytes lie; nothing is unpacked to disk (except a compressed archive, which is first
//! decompressed to an unnamed temporary file). Config and manifest bytes are returned exactly as
//! stored, because image ids and manifest digests are computed over them, and are checked against
//! their digests where the archive names them. Layers are handed out as readers over the archive
//! file, still compressed if they were stored so.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::compression::{decompress, sniff_compression, Compression};
use super::oci::{
    host_oci_architecture, is_index_media_type, DockerManifestEntry, ImageIndex, ImageManifest,
    CONTAINERD_NAME_ANNOTATION, DOCKER_MANIFEST_FILE, OCI_INDEX_FILE, REF_NAME_ANNOTATION,
};
use super::paths::normalize_entry_name;
use super::Error;
use crate::digest::{hex_of_sha256_digest, sha256_digest};

/// JSON documents larger than this are refused rather than read into memory.
const MAX_DOCUMENT_SIZE: u64 = 64 << 20;
/// Symlinks between archive entries (old `docker save` links duplicate layers) are followed at
/// most this many times.
const MAX_LINK_HOPS: usize = 16;

/// Which kind of image archive a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `manifest.json` with Config/RepoTags/Layers (`docker save`, `podman save`).
    DockerArchive,
    /// An OCI image layout with `index.json` (`podman save --format oci-archive`).
    OciArchive,
}

/// One image found in an archive, with the exact bytes that digests are computed over.
#[derive(Debug, Clone)]
pub struct ArchiveImage {
    /// Exact config JSON bytes; the image id is the sha256 of these.
    pub config: Vec<u8>,
    /// Exact manifest bytes when the archive has one (oci-archive).
    pub manifest: Option<Vec<u8>>,
    /// Base layer first.
    pub layers: Vec<ArchiveLayer>,
    /// Tags as written in the archive ("busybox:latest", "localhost/x:1"); empty if none.
    pub names: Vec<String>,
}

impl ArchiveImage {
    /// `sha256:<hex>` of the config bytes: the image id.
    pub fn config_digest(&self) -> String {
        sha256_digest(&self.config)
    }
}

/// One layer of an archived image.
#[derive(Debug, Clone)]
pub struct ArchiveLayer {
    /// From the manifest when known.
    pub media_type: Option<String>,
    /// `sha256:<hex>` of the blob as stored in the archive, when the manifest gives it.
    pub digest: Option<String>,
    /// Size in bytes of the blob as stored in the archive.
    pub size: u64,
    span: EntrySpan,
}

/// Where one file's bytes lie in the archive file.
#[derive(Debug, Clone, Copy)]
struct EntrySpan {
    offset: u64,
    size: u64,
}

#[derive(Debug, Clone)]
enum IndexedEntry {
    File(EntrySpan),
    /// A symlink or hard link, with its target as a path from the archive root.
    Link(String),
}

/// An opened image archive, indexed once.
#[derive(Debug)]
pub struct ImageArchive {
    file: File,
    format: ArchiveFormat,
    entries: HashMap<String, IndexedEntry>,
    images: Vec<ArchiveImage>,
}

impl ImageArchive {
    /// Opens an image archive file and indexes its entries once. Detects docker-archive vs
    /// oci-archive by content (`manifest.json` wins when both are present, as in archives of
    /// Docker 25 and later, because only it carries the tags). A gzip or zstd compressed archive
    /// is decompressed to a temporary file first.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let context = || format!("opening image archive {}", path.display());
        let mut file = File::open(path).map_err(|source| Error::io(context(), source))?;
        let mut head = Vec::new();
        (&mut file)
            .take(8)
            .read_to_end(&mut head)
            .map_err(|source| Error::io(context(), source))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|source| Error::io(context(), source))?;
        if sniff_compression(&head)? != Compression::None {
            file = decompress_to_temp_file(file)?;
        }
        let entries = index_entries(&file)?;
        let mut archive = ImageArchive {
            file,
            format: ArchiveFormat::DockerArchive,
            entries,
            images: Vec::new(),
        };
        if archive.entries.contains_key(DOCKER_MANIFEST_FILE) {
            archive.images = archive.read_docker_images()?;
        } else if archive.entries.contains_key(OCI_INDEX_FILE) {
            archive.format = ArchiveFormat::OciArchive;
            archive.images = archive.read_oci_images()?;
        } else {
            return Err(Error::invalid(
                "neither manifest.json nor index.json found: not a docker-archive or oci-archive",
            ));
        }
        Ok(archive)
    }

    pub fn format(&self) -> ArchiveFormat {
        self.format
    }

    pub fn images(&self) -> &[ArchiveImage] {
        &self.images
    }

    /// A reader over one layer's bytes as stored in the archive (possibly compressed: callers
    /// pass it through `decompress`).
    pub fn open_layer(&self, layer: &ArchiveLayer) -> Result<LayerReader<'_>, Error> {
        Ok(LayerReader {
            file: &self.file,
            position: layer.span.offset,
            end: layer.span.offset + layer.span.size,
        })
    }

    fn read_docker_images(&self) -> Result<Vec<ArchiveImage>, Error> {
        let manifest: Vec<DockerManifestEntry> = parse_json(
            &self.read_document(DOCKER_MANIFEST_FILE)?,
            DOCKER_MANIFEST_FILE,
        )?;
        if manifest.is_empty() {
            return Err(Error::invalid("manifest.json lists no images"));
        }
        manifest
            .into_iter()
            .map(|entry| {
                let config = self.read_document(&entry.config)?;
                if let Some(expected) = digest_from_blob_path(&entry.config) {
                    verify_digest(&config, &expected, &entry.config)?;
                }
                let layers = entry
                    .layers
                    .iter()
                    .map(|layer_path| {
                        let span = self.span_of(layer_path)?;
                        Ok(ArchiveLayer {
                            media_type: None,
                            digest: digest_from_blob_path(layer_path),
                            size: span.size,
                            span,
                        })
                    })
                    .collect::<Result<_, Error>>()?;
                Ok(ArchiveImage {
                    config,
                    manifest: None,
                    layers,
                    names: entry.repo_tags.unwrap_or_default(),
                })
            })
            .collect()
    }

    fn read_oci_images(&self) -> Result<Vec<ArchiveImage>, Error> {
        let index: ImageIndex = parse_json(&self.read_document(OCI_INDEX_FILE)?, OCI_INDEX_FILE)?;
        let mut images: Vec<ArchiveImage> = Vec::new();
        let mut manifest_digests: Vec<String> = Vec::new();
        for descriptor in &index.manifests {
            let (manifest_digest, manifest_bytes) = if is_index_media_type(&descriptor.media_type) {
                self.pick_platform_manifest(&descriptor.digest)?
            } else {
                (
                    descriptor.digest.clone(),
                    self.read_blob(&descriptor.digest)?,
                )
            };
            let name = descriptor
                .annotations
                .get(CONTAINERD_NAME_ANNOTATION)
                .or_else(|| descriptor.annotations.get(REF_NAME_ANNOTATION))
                .cloned();
            // Several index entries (one per tag) may point at the same manifest.
            if let Some(position) = manifest_digests.iter().position(|d| *d == manifest_digest) {
                images[position].names.extend(name);
                continue;
            }
            let manifest: ImageManifest = parse_json(&manifest_bytes, &manifest_digest)?;
            let config = self.read_blob(&manifest.config.digest)?;
            let layers = manifest
                .layers
                .iter()
                .map(|layer| {
                    let span = self.span_of(&blob_path(&layer.digest)?)?;
                    Ok(ArchiveLayer {
                        media_type: Some(layer.media_type.clone()).filter(|m| !m.is_empty()),
                        digest: Some(layer.digest.clone()),
                        size: span.size,
                        span,
                    })
                })
                .collect::<Result<_, Error>>()?;
            manifest_digests.push(manifest_digest);
            images.push(ArchiveImage {
                config,
                manifest: Some(manifest_bytes),
                layers,
                names: name.into_iter().collect(),
            });
        }
        if images.is_empty() {
            return Err(Error::invalid("index.json lists no images"));
        }
        Ok(images)
    }

    /// From a nested index, the first manifest for this host's linux architecture, else the
    /// first manifest.
    fn pick_platform_manifest(&self, index_digest: &str) -> Result<(String, Vec<u8>), Error> {
        let index: ImageIndex = parse_json(&self.read_blob(index_digest)?, index_digest)?;
        let manifests: Vec<_> = index
            .manifests
            .iter()
            .filter(|descriptor| !is_index_media_type(&descriptor.media_type))
            .collect();
        let host = host_oci_architecture();
        let chosen = manifests
            .iter()
            .find(|descriptor| {
                descriptor
                    .platform
                    .as_ref()
                    .is_some_and(|p| p.os == "linux" && p.architecture == host)
            })
            .or(manifests.first())
            .ok_or_else(|| Error::invalid(format!("index {index_digest} lists no manifests")))?;
        Ok((chosen.digest.clone(), self.read_blob(&chosen.digest)?))
    }

    /// A blob of the OCI layout, checked against its digest (only small documents come here).
    fn read_blob(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let path = blob_path(digest)?;
        if self.resolve(&path).is_none() {
            return Err(Error::MissingBlob {
                digest: digest.to_string(),
            });
        }
        let bytes = self.read_document(&path)?;
        verify_digest(&bytes, digest, digest)?;
        Ok(bytes)
    }

    fn read_document(&self, path: &str) -> Result<Vec<u8>, Error> {
        let span = self.span_of(path)?;
        if span.size > MAX_DOCUMENT_SIZE {
            return Err(Error::invalid(format!(
                "{path} is {} bytes, too large for a JSON document",
                span.size
            )));
        }
        let mut bytes = Vec::new();
        self.open_span(span)
            .read_to_end(&mut bytes)
            .map_err(|source| Error::io(format!("reading {path} from the archive"), source))?;
        Ok(bytes)
    }

    fn span_of(&self, path: &str) -> Result<EntrySpan, Error> {
        self.resolve(path).ok_or_else(|| Error::MissingEntry {
            path: path.to_string(),
        })
    }

    fn resolve(&self, path: &str) -> Option<EntrySpan> {
        let mut current = normalized_key(path.as_bytes())?;
        for _ in 0..MAX_LINK_HOPS {
            match self.entries.get(&current)? {
                IndexedEntry::File(span) => return Some(*span),
                IndexedEntry::Link(target) => current = target.clone(),
            }
        }
        None
    }

    fn open_span(&self, span: EntrySpan) -> LayerReader<'_> {
        LayerReader {
            file: &self.file,
            position: span.offset,
            end: span.offset + span.size,
        }
    }
}

/// Reads one stretch of the archive file with positioned reads, so several readers can share
/// the file without fighting over its offset.
#[derive(Debug)]
pub struct LayerReader<'a> {
    file: &'a File,
    position: u64,
    end: u64,
}

impl Read for LayerReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let remaining = self.end.saturating_sub(self.position);
        let wanted = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if wanted == 0 {
            return Ok(0);
        }
        let read = self.file.read_at(&mut buf[..wanted], self.position)?;
        if read == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "image archive ends inside an entry",
            ));
        }
        self.position += read as u64;
        Ok(read)
    }
}

fn decompress_to_temp_file(compressed: File) -> Result<File, Error> {
    let mut plain = tempfile::tempfile()
        .map_err(|source| Error::io("creating a temporary file for the archive", source))?;
    let mut reader = decompress(compressed)?;
    std::io::copy(&mut reader, &mut plain)
        .map_err(|error| Error::invalid(format!("decompressing the archive: {error}")))?;
    plain
        .seek(SeekFrom::Start(0))
        .map_err(|source| Error::io("rewinding the decompressed archive", source))?;
    Ok(plain)
}

/// Reads every header of the outer tar once, seeking over file contents.
fn index_entries(file: &File) -> Result<HashMap<String, IndexedEntry>, Error> {
    let file_len = file
        .metadata()
        .map_err(|source| Error::io("inspecting the image archive", source))?
        .len();
    let invalid = |error: std::io::Error| Error::invalid(format!("reading the outer tar: {error}"));
    let mut archive = tar::Archive::new(file);
    let mut entries = HashMap::new();
    for entry in archive.entries_with_seek().map_err(invalid)? {
        let entry = entry.map_err(invalid)?;
        let raw_name = entry.path_bytes().into_owned();
        // Names that would climb out of the archive are simply never looked up.
        let Some(name) = normalized_key(&raw_name) else {
            continue;
        };
        let indexed = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let span = EntrySpan {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                };
                if span.offset.saturating_add(span.size) > file_len {
                    return Err(Error::invalid(format!("{name} is truncated")));
                }
                IndexedEntry::File(span)
            }
            tar::EntryType::Symlink => {
                let Some(target) = entry.link_name_bytes() else {
                    continue;
                };
                // Relative to the link's directory, unless absolute.
                let joined = match name.rsplit_once('/') {
                    Some((directory, _)) if !target.starts_with(b"/") => {
                        [directory.as_bytes(), b"/", &target].concat()
                    }
                    _ => target.into_owned(),
                };
                let Some(target) = normalized_key(&joined) else {
                    continue;
                };
                IndexedEntry::Link(target)
            }
            tar::EntryType::Link => {
                let Some(target) = entry.link_name_bytes().and_then(|t| normalized_key(&t)) else {
                    continue;
                };
                IndexedEntry::Link(target)
            }
            _ => continue,
        };
        entries.insert(name, indexed);
    }
    Ok(entries)
}

fn normalized_key(raw: &[u8]) -> Option<String> {
    let path = normalize_entry_name(raw).ok()?;
    if path.is_root() {
        return None;
    }
    Some(path.to_path().to_string_lossy().into_owned())
}

fn blob_path(digest: &str) -> Result<String, Error> {
    let hex = hex_of_sha256_digest(digest)
        .ok_or_else(|| Error::invalid(format!("unsupported or malformed digest {digest:?}")))?;
    Ok(format!("blobs/sha256/{hex}"))
}

/// `blobs/sha256/<hex>` (Docker 25+ archives) names its own digest.
fn digest_from_blob_path(path: &str) -> Option<String> {
    let hex = normalized_key(path.as_bytes())?
        .strip_prefix("blobs/sha256/")?
        .to_string();
    let digest = format!("sha256:{hex}");
    hex_of_sha256_digest(&digest).is_some().then_some(digest)
}

fn verify_digest(bytes: &[u8], expected: &str, what: &str) -> Result<(), Error> {
    check_digest(sha256_digest(bytes), expected, what)
}

/// A [`Error::DigestMismatch`] unless `actual` is `expected`.
pub(super) fn check_digest(actual: String, expected: &str, what: &str) -> Result<(), Error> {
    if actual != expected {
        return Err(Error::DigestMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(bytes)
        .map_err(|error| Error::invalid(format!("parsing {what}: {error}")))
}
