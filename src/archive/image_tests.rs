//! Tests of the image archive formats: write then read both formats, archives made the way
//! other tools make them (gzip layers, nested indexes, symlinked layers), and broken archives.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::oci::host_oci_architecture;
use super::{
    decompress, write_docker_archive, write_oci_archive, ArchiveFormat, Error, ImageArchive,
    SaveImage, SaveLayer,
};
use crate::digest::{hex, sha256_digest};

const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const PLAIN_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// A small tar standing in for a layer.
fn layer_tar(file_name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_path(file_name).unwrap();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, content).unwrap();
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Stores a blob in `dir` the way the store would and describes it for saving.
fn save_layer(dir: &Path, blob: &[u8], diff: &[u8], media_type: &str) -> SaveLayer {
    let digest = sha256_digest(blob);
    let path = dir.join(digest.replace(':', "-"));
    std::fs::write(&path, blob).unwrap();
    SaveLayer {
        digest,
        size: blob.len() as u64,
        media_type: media_type.to_string(),
        path,
        diff_id: sha256_digest(diff),
    }
}

fn read_layer(archive: &ImageArchive, index: (usize, usize)) -> Vec<u8> {
    let layer = &archive.images()[index.0].layers[index.1];
    let mut bytes = Vec::new();
    archive
        .open_layer(layer)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

fn read_layer_plain(archive: &ImageArchive, index: (usize, usize)) -> Vec<u8> {
    let mut bytes = Vec::new();
    decompress(read_layer(archive, index).as_slice())
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

struct Fixture {
    dir: tempfile::TempDir,
    configs: Vec<Vec<u8>>,
    plain_layers: Vec<Vec<u8>>,
    layers: Vec<SaveLayer>,
}

impl Fixture {
    /// Two images sharing a gzip base layer; the second adds an uncompressed layer.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = layer_tar("etc/os-release", b"ID=test\n");
        let top = layer_tar("app/run", b"#!/bin/sh\n");
        let layers = vec![
            save_layer(dir.path(), &gzip(&base), &base, GZIP_LAYER),
            save_layer(dir.path(), &top, &top, PLAIN_LAYER),
        ];
        let configs = vec![
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}"#.to_vec(),
            br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["/app/run"]}}"#.to_vec(),
        ];
        Fixture {
            dir,
            configs,
            plain_layers: vec![base, top],
            layers,
        }
    }

    fn images(&self) -> Vec<SaveImage<'_>> {
        vec![
            SaveImage {
                config: &self.configs[0],
                manifest: None,
                names: vec!["localhost/base:1".to_string(), "base:latest".to_string()],
                layers: vec![self.layers[0].clone()],
            },
            SaveImage {
                config: &self.configs[1],
                manifest: None,
                names: Vec::new(),
                layers: self.layers.clone(),
            },
        ]
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// An outer tar from (name, content) pairs and (name, target) symlinks.
fn outer_tar(files: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_path(name).unwrap();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, *content).unwrap();
    }
    for (name, target) in symlinks {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_path(name).unwrap();
        header.set_link_name(target).unwrap();
        header.set_size(0);
        header.set_cksum();
        builder.append(&header, &b""[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

#[test]
fn docker_archive_round_trip_keeps_config_bytes_and_layers() {
    let fixture = Fixture::new();
    let mut bytes = Vec::new();
    write_docker_archive(&mut bytes, &fixture.images()).unwrap();
    let archive = ImageArchive::open(&fixture.write("docker.tar", &bytes)).unwrap();
    assert_eq!(archive.format(), ArchiveFormat::DockerArchive);
    let images = archive.images();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0].config, fixture.configs[0]);
    assert_eq!(images[1].config, fixture.configs[1]);
    assert_eq!(
        images[0].config_digest(),
        sha256_digest(&fixture.configs[0])
    );
    assert_eq!(images[0].names, ["localhost/base:1", "base:latest"]);
    assert!(images[1].names.is_empty());
    assert!(images[0].manifest.is_none());
    assert_eq!(images[1].layers.len(), 2);
    // docker-archive layers are the uncompressed tars, whose digests are the diff ids.
    for (position, plain) in fixture.plain_layers.iter().enumerate() {
        let stored = read_layer(&archive, (1, position));
        assert_eq!(&stored, plain);
        assert_eq!(sha256_digest(&stored), fixture.layers[position].diff_id);
    }
    assert_eq!(read_layer(&archive, (0, 0)), fixture.plain_layers[0]);

    // Deterministic: a second save gives the same bytes.
    let mut again = Vec::new();
    write_docker_archive(&mut again, &fixture.images()).unwrap();
    assert_eq!(bytes, again);

    // The layout podman writes: <diff hex>.tar, <config hex>.json, RepoTags null when untagged.
    let mut outer = tar::Archive::new(bytes.as_slice());
    let names: Vec<String> = outer
        .entries()
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let base_hex = &fixture.layers[0].diff_id["sha256:".len()..];
    assert!(names.contains(&format!("{base_hex}.tar")), "{names:?}");
    assert_eq!(names.last().map(String::as_str), Some("manifest.json"));
    assert_eq!(names.len(), 5, "shared layer written once: {names:?}");
}

#[test]
fn oci_archive_round_trip_keeps_blobs_and_manifests() {
    let fixture = Fixture::new();
    let given_manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"{GZIP_LAYER}","digest":"{}","size":{}}}]}}"#,
        sha256_digest(&fixture.configs[0]),
        fixture.configs[0].len(),
        fixture.layers[0].digest,
        fixture.layers[0].size,
    );
    let mut images = fixture.images();
    images[0].manifest = Some(given_manifest.as_bytes());
    let mut bytes = Vec::new();
    write_oci_archive(&mut bytes, &images).unwrap();
    let archive = ImageArchive::open(&fixture.write("oci.tar", &bytes)).unwrap();
    assert_eq!(archive.format(), ArchiveFormat::OciArchive);
    let read = archive.images();
    assert_eq!(read.len(), 2);
    // Two tags on one manifest come back as one image with two names.
    assert_eq!(read[0].names, ["localhost/base:1", "base:latest"]);
    assert_eq!(read[0].manifest.as_deref(), Some(given_manifest.as_bytes()));
    assert_eq!(read[0].config, fixture.configs[0]);
    assert_eq!(read[1].config, fixture.configs[1]);
    assert!(read[1].names.is_empty());
    let generated: serde_json::Value =
        serde_json::from_slice(read[1].manifest.as_deref().unwrap()).unwrap();
    assert_eq!(generated["schemaVersion"], 2);
    assert_eq!(
        generated["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    assert_eq!(generated["layers"][1]["mediaType"], PLAIN_LAYER);
    // Blobs are kept as stored: the gzip layer stays gzip.
    for (position, layer) in fixture.layers.iter().enumerate() {
        let read_layer_meta = &read[1].layers[position];
        assert_eq!(
            read_layer_meta.digest.as_deref(),
            Some(layer.digest.as_str())
        );
        assert_eq!(
            read_layer_meta.media_type.as_deref(),
            Some(layer.media_type.as_str())
        );
        let stored = read_layer(&archive, (1, position));
        assert_eq!(sha256_digest(&stored), layer.digest);
        assert_eq!(
            read_layer_plain(&archive, (1, position)),
            fixture.plain_layers[position]
        );
    }
    let mut again = Vec::new();
    write_oci_archive(&mut again, &images).unwrap();
    assert_eq!(bytes, again);
}

#[test]
fn reads_gzip_layers_and_symlinked_layers_in_docker_archives() {
    let plain = layer_tar("hello", b"world");
    let gzipped = gzip(&plain);
    let config = br#"{"os":"linux"}"#;
    let manifest =
        br#"[{"Config":"cfg.json","RepoTags":null,"Layers":["aaa/layer.tar","bbb/layer.tar"]}]"#;
    let bytes = outer_tar(
        &[
            ("cfg.json", config),
            ("aaa/layer.tar", &gzipped),
            ("manifest.json", manifest),
            ("repositories", b"{}"),
        ],
        // Old `docker save` links a repeated layer to the first copy.
        &[("bbb/layer.tar", "../aaa/layer.tar")],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old-docker.tar");
    std::fs::write(&path, &bytes).unwrap();
    let archive = ImageArchive::open(&path).unwrap();
    let image = &archive.images()[0];
    assert!(image.names.is_empty());
    assert_eq!(image.config, config);
    assert_eq!(read_layer_plain(&archive, (0, 0)), plain);
    assert_eq!(read_layer_plain(&archive, (0, 1)), plain);

    // The whole archive gzip-compressed, as `docker save | gzip` makes it.
    let gz_path = dir.path().join("old-docker.tar.gz");
    std::fs::write(&gz_path, gzip(&bytes)).unwrap();
    let archive = ImageArchive::open(&gz_path).unwrap();
    assert_eq!(read_layer_plain(&archive, (0, 1)), plain);
}

#[test]
fn picks_the_host_platform_from_a_nested_index() {
    let config_other = br#"{"architecture":"other"}"#.to_vec();
    let config_host = br#"{"architecture":"host"}"#.to_vec();
    let manifest_for = |config: &[u8]| {
        format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
            sha256_digest(config),
            config.len()
        )
    };
    let manifest_other = manifest_for(&config_other);
    let manifest_host = manifest_for(&config_host);
    let nested = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"not-{}","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"platform":{{"architecture":"{}","os":"linux"}}}}]}}"#,
        sha256_digest(manifest_other.as_bytes()),
        manifest_other.len(),
        host_oci_architecture(),
        sha256_digest(manifest_host.as_bytes()),
        manifest_host.len(),
        host_oci_architecture(),
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"multi:1"}}}}]}}"#,
        sha256_digest(nested.as_bytes()),
        nested.len()
    );
    let blob = |bytes: &[u8]| format!("blobs/sha256/{}", &sha256_digest(bytes)["sha256:".len()..]);
    let paths = [
        blob(&config_other),
        blob(&config_host),
        blob(manifest_other.as_bytes()),
        blob(manifest_host.as_bytes()),
        blob(nested.as_bytes()),
    ];
    let bytes = outer_tar(
        &[
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
            (&paths[0], &config_other),
            (&paths[1], &config_host),
            (&paths[2], manifest_other.as_bytes()),
            (&paths[3], manifest_host.as_bytes()),
            (&paths[4], nested.as_bytes()),
            ("index.json", index.as_bytes()),
        ],
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multi.tar");
    std::fs::write(&path, &bytes).unwrap();
    let archive = ImageArchive::open(&path).unwrap();
    let image = &archive.images()[0];
    assert_eq!(image.config, config_host);
    assert_eq!(image.manifest.as_deref(), Some(manifest_host.as_bytes()));
    assert_eq!(image.names, ["multi:1"]);
}

#[test]
fn broken_archives_give_invalid_archive_errors() {
    let fixture = Fixture::new();
    let mut bytes = Vec::new();
    write_docker_archive(&mut bytes, &fixture.images()).unwrap();
    // Everything before the end-of-archive zero blocks matters; cut anywhere in it.
    let meaningful = bytes.len() - 1024;
    for tenth in 1..10 {
        let cut = meaningful * tenth / 10;
        let path = fixture.write("cut.tar", &bytes[..cut]);
        let result = ImageArchive::open(&path);
        assert!(
            matches!(result, Err(Error::InvalidArchive { .. })),
            "cut at {cut}: {result:?}"
        );
    }
    let mut garbage = Vec::new();
    let mut state = 0x1234_5678u32;
    for _ in 0..10_000 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        garbage.push((state >> 24) as u8);
    }
    let garbage_with_gzip_magic = [&[0x1f, 0x8b][..], &garbage].concat();
    for (name, content) in [
        ("garbage", garbage.as_slice()),
        ("empty", &[][..]),
        ("zeros", &[0u8; 4096][..]),
        ("bad-gzip", garbage_with_gzip_magic.as_slice()),
        (
            "not-json",
            &outer_tar(&[("manifest.json", b"{not json")], &[])[..],
        ),
    ] {
        let result = ImageArchive::open(&fixture.write(name, content));
        assert!(
            matches!(result, Err(Error::InvalidArchive { .. })),
            "{name}: {result:?}"
        );
    }
    let missing = outer_tar(
        &[(
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":[],"Layers":[]}]"#,
        )],
        &[],
    );
    let result = ImageArchive::open(&fixture.write("missing", &missing));
    assert!(matches!(result, Err(Error::MissingEntry { path }) if path == "c.json"));
}

#[test]
fn saving_checks_layer_digests() {
    let fixture = Fixture::new();
    let mut images = fixture.images();
    images[0].layers[0].diff_id = format!("sha256:{}", hex(&[0u8; 32]));
    let error = write_docker_archive(std::io::sink(), &images).unwrap_err();
    assert!(matches!(error, Error::DigestMismatch { .. }), "{error:?}");

    let mut images = fixture.images();
    images[0].layers[0].size += 1;
    let error = write_oci_archive(std::io::sink(), &images).unwrap_err();
    assert!(matches!(error, Error::SizeMismatch { .. }), "{error:?}");
}
