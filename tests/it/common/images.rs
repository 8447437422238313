//! Test images made offline from the host's busybox-static: a docker-archive and an oci-archive
//! (gzip layers) of a two-layer image, built once per test process.
//!
//! Layer 1: busybox with its applets, /etc/passwd (root, tester 1000), /etc/group,
//! /etc/to-be-deleted, /var/opaque-dir/lower-file.
//! Layer 2: /owned-by-1000 (uid and gid 1000), /suid-file (mode 4755), /hardlink (to
//! /owned-by-1000), a whiteout of /etc/to-be-deleted, and /var/opaque-dir made opaque with
//! upper-file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;

use sha2::Digest;

pub struct TestImages {
    pub docker_archive: PathBuf,
    pub oci_archive: PathBuf,
    /// Hex sha256 of the config: the image ID.
    pub id: String,
    pub diff_ids: Vec<String>,
}

pub const DOCKER_NAME: &str = "localhost/testbox:latest";
pub const OCI_NAME: &str = "localhost/testbox-oci:latest";

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn header(path: &str, kind: tar::EntryType, mode: u32, uid: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).unwrap();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_size(size);
    h.set_mtime(1_600_000_000);
    h
}

/// A tar builder with helpers for the entry kinds the tests need.
pub struct Layer(tar::Builder<Vec<u8>>);

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    pub fn new() -> Self {
        Layer(tar::Builder::new(Vec::new()))
    }
    pub fn dir(mut self, path: &str, mode: u32, uid: u64) -> Self {
        let mut h = header(path, tar::EntryType::Directory, mode, uid, 0);
        h.set_cksum();
        self.0.append(&h, std::io::empty()).unwrap();
        self
    }
    pub fn file(mut self, path: &str, mode: u32, uid: u64, data: &[u8]) -> Self {
        let mut h = header(path, tar::EntryType::Regular, mode, uid, data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(path, tar::EntryType::Symlink, 0o777, 0, 0);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        self.0.append(&h, std::io::empty()).unwrap();
        self
    }
    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = header(path, tar::EntryType::Link, 0o644, 0, 0);
        h.set_link_name(target).unwrap();
        h.set_cksum();
        self.0.append(&h, std::io::empty()).unwrap();
        self
    }
    /// An entry whose name is written raw, bypassing the tar crate's own checks (for `..` names).
    pub fn raw_file(mut self, raw_name: &str, data: &[u8]) -> Self {
        let mut h = header(
            "placeholder",
            tar::EntryType::Regular,
            0o644,
            0,
            data.len() as u64,
        );
        let name = &mut h.as_old_mut().name;
        name.fill(0);
        name[..raw_name.len()].copy_from_slice(raw_name.as_bytes());
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    pub fn raw_hardlink(mut self, raw_name: &str, target: &str) -> Self {
        let mut h = header("placeholder", tar::EntryType::Link, 0o644, 0, 0);
        let link = &mut h.as_old_mut().linkname;
        link.fill(0);
        link[..target.len()].copy_from_slice(target.as_bytes());
        let name = &mut h.as_old_mut().name;
        name.fill(0);
        name[..raw_name.len()].copy_from_slice(raw_name.as_bytes());
        h.set_cksum();
        self.0.append(&h, std::io::empty()).unwrap();
        self
    }
    /// An entry from a header the test made itself (a GNU sparse file's, with its map).
    pub fn entry(mut self, header: &tar::Header, data: &[u8]) -> Self {
        self.0.append(header, data).unwrap();
        self
    }
    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A busybox root filesystem layer (the base of every test image).
pub fn busybox_layer() -> Layer {
    let busybox = std::fs::read("/bin/busybox")
        .expect("/bin/busybox is missing: run scripts/setup-host.sh as root (busybox-static)");
    let list = std::process::Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .unwrap();
    let mut layer = Layer::new()
        .dir("bin", 0o755, 0)
        .dir("etc", 0o755, 0)
        .dir("tmp", 0o1777, 0)
        .dir("root", 0o700, 0)
        .dir("home", 0o755, 0)
        .dir("home/tester", 0o755, 1000)
        .dir("var", 0o755, 0)
        .dir("var/opaque-dir", 0o755, 0)
        .file("var/opaque-dir/lower-file", 0o644, 0, b"lower\n")
        .file("bin/busybox", 0o755, 0, &busybox)
        .file(
            "etc/passwd",
            0o644,
            0,
            b"root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000:tester:/home/tester:/bin/sh\n",
        )
        .file(
            "etc/group",
            0o644,
            0,
            b"root:x:0:\ntester:x:1000:\nwheel:x:10:tester\n",
        )
        .file("etc/to-be-deleted", 0o644, 0, b"gone soon\n")
        .file("not-executable", 0o644, 0, b"#!/bin/sh\necho hi\n");
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" {
            layer = layer.symlink(&format!("bin/{applet}"), "busybox");
        }
    }
    layer
}

fn second_layer() -> Vec<u8> {
    Layer::new()
        .file("owned-by-1000", 0o644, 1000, b"mine\n")
        .file("suid-file", 0o4755, 0, b"#!/bin/sh\n")
        .hardlink("hardlink", "owned-by-1000")
        .dir("etc", 0o755, 0)
        .file("etc/.wh.to-be-deleted", 0o644, 0, b"")
        .dir("var", 0o755, 0)
        .dir("var/opaque-dir", 0o755, 0)
        .file("var/opaque-dir/.wh..wh..opq", 0o644, 0, b"")
        .file("var/opaque-dir/upper-file", 0o644, 0, b"upper\n")
        .finish()
}

fn config(diff_ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "FROM_IMAGE=yes"],
            "Cmd": ["sh", "-c", "echo default command"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop) ADD busybox in /"},
            {"created": "2024-01-02T03:04:05Z", "created_by": "/bin/sh -c #(nop) ADD extras in /"},
        ],
    }))
    .unwrap()
}

fn add(builder: &mut tar::Builder<std::fs::File>, path: &str, data: &[u8]) {
    let mut h = header(path, tar::EntryType::Regular, 0o644, 0, data.len() as u64);
    h.set_cksum();
    builder.append(&h, data).unwrap();
}

/// Writes a docker-archive of the given layers (uncompressed tars) and config.
pub fn write_docker_archive(path: &std::path::Path, name: &str, layers: &[Vec<u8>], config: &[u8]) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    let config_hex = sha256_hex(config);
    add(&mut builder, &format!("{config_hex}.json"), config);
    let mut names = Vec::new();
    for layer in layers {
        let file = format!("{}.tar", sha256_hex(layer));
        add(&mut builder, &file, layer);
        names.push(file);
    }
    let manifest = serde_json::json!([{"Config": format!("{config_hex}.json"), "RepoTags": [name], "Layers": names}]);
    add(
        &mut builder,
        "manifest.json",
        &serde_json::to_vec(&manifest).unwrap(),
    );
    builder.finish().unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write_oci_archive(path: &std::path::Path, name: &str, layers: &[Vec<u8>], config: &[u8]) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
    add(
        &mut builder,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    let config_hex = sha256_hex(config);
    add(&mut builder, &format!("blobs/sha256/{config_hex}"), config);
    let mut descriptors = Vec::new();
    for layer in layers {
        let compressed = gzip(layer);
        let hex = sha256_hex(&compressed);
        add(&mut builder, &format!("blobs/sha256/{hex}"), &compressed);
        descriptors.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{hex}"), "size": compressed.len()}));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config.len()},
        "layers": descriptors,
    }))
    .unwrap();
    let manifest_hex = sha256_hex(&manifest);
    add(
        &mut builder,
        &format!("blobs/sha256/{manifest_hex}"),
        &manifest,
    );
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_hex}"),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    });
    add(
        &mut builder,
        "index.json",
        &serde_json::to_vec(&index).unwrap(),
    );
    builder.finish().unwrap();
}

/// A directory every user can read, for archives shared by all tests of this process.
pub fn shared_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("skiff-it-images-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
    .clone()
}

pub fn test_images() -> &'static TestImages {
    static IMAGES: OnceLock<TestImages> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let dir = shared_dir();
        let layers = vec![busybox_layer().finish(), second_layer()];
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| format!("sha256:{}", sha256_hex(l)))
            .collect();
        let config = config(&diff_ids);
        let docker_archive = dir.join("testbox-docker.tar");
        let oci_archive = dir.join("testbox-oci.tar");
        write_docker_archive(&docker_archive, DOCKER_NAME, &layers, &config);
        write_oci_archive(&oci_archive, OCI_NAME, &layers, &config);
        for file in [&docker_archive, &oci_archive] {
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        TestImages {
            docker_archive,
            oci_archive,
            id: sha256_hex(&config),
            diff_ids,
        }
    })
}

pub const NETTOOLS_NAME: &str = "localhost/nettools:latest";

/// busybox plus the host's OpenBSD netcat, as `netcat` (busybox sh would run its own `nc`),
/// and the libraries `ldd` names for it; it exposes 80/tcp and 5353/udp, for `-P`.
fn nettools_archive() -> &'static PathBuf {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let netcat = "/bin/nc.openbsd";
        let binary = std::fs::read(netcat).unwrap_or_else(|_| {
            panic!("{netcat} is missing: run scripts/setup-host.sh as root (netcat-openbsd)")
        });
        let ldd = std::process::Command::new("ldd")
            .arg(netcat)
            .output()
            .unwrap();
        let mut layer = Layer::new()
            .dir("usr", 0o755, 0)
            .dir("usr/bin", 0o755, 0)
            .file("usr/bin/netcat", 0o755, 0, &binary);
        let mut dirs = std::collections::BTreeSet::new();
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux... (0x...)"
            let Some(path) = line.split_whitespace().find(|word| word.starts_with('/')) else {
                continue;
            };
            let path = path.trim_start_matches('/');
            let mut parent = std::path::Path::new(path).parent();
            let mut missing = Vec::new();
            while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
                if dirs.insert(dir.to_path_buf()) {
                    missing.push(dir.to_path_buf());
                }
                parent = dir.parent();
            }
            for dir in missing.iter().rev() {
                layer = layer.dir(dir.to_str().unwrap(), 0o755, 0);
            }
            let library = std::fs::read(format!("/{path}")).unwrap();
            layer = layer.file(path, 0o755, 0, &library);
        }
        busybox_image_archive(
            "nettools-docker.tar",
            NETTOOLS_NAME,
            layer,
            serde_json::json!({"ExposedPorts": {"80/tcp": {}, "5353/udp": {}}}),
        )
    })
}

/// A docker-archive in the shared directory of busybox plus `layer`, with a config of busybox's
/// PATH and `sh`, and the fields of `extra_config`.
/// A docker-archive named `file` in the shared directory of image `name`: busybox, then `layer`,
/// with `extra_config` over a config that runs sh.
pub fn busybox_image_archive(
    file: &str,
    name: &str,
    layer: Layer,
    extra_config: serde_json::Value,
) -> PathBuf {
    let layers = vec![busybox_layer().finish(), layer.finish()];
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let mut run_config = serde_json::json!({
        "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    });
    if let (Some(fields), Some(extra)) = (run_config.as_object_mut(), extra_config.as_object()) {
        fields.extend(extra.clone());
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": run_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let archive = shared_dir().join(file);
    write_docker_archive(&archive, name, &layers, &config);
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    archive
}

pub const VOLUMEBOX_NAME: &str = "localhost/volumebox:latest";

/// busybox with a VOLUME at /srv/seed that the image fills: a file of uid 1000 and a
/// subdirectory, which a new anonymous volume must receive with their owners.
fn volumebox_archive() -> &'static PathBuf {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let seed = Layer::new()
            .dir("srv", 0o755, 0)
            .dir("srv/seed", 0o755, 0)
            .file("srv/seed/hello.txt", 0o640, 1000, b"seeded\n")
            .dir("srv/seed/sub", 0o700, 1000);
        busybox_image_archive(
            "volumebox-docker.tar",
            VOLUMEBOX_NAME,
            seed,
            serde_json::json!({"Volumes": {"/srv/seed": {}}}),
        )
    })
}

/// The docker-archive of [`VOLUMEBOX_NAME`], for a test that runs skiff as another user.
pub fn volumebox_archive_path() -> PathBuf {
    volumebox_archive().clone()
}

impl super::TestEnv {
    /// Loads the image with a seeded VOLUME and returns its name.
    pub fn load_volumebox(&self) -> &'static str {
        let archive = volumebox_archive();
        self.skiff(&["load", "-i", archive.to_str().unwrap()])
            .stdout();
        VOLUMEBOX_NAME
    }

    /// Loads the network tools image (busybox and OpenBSD netcat) and returns its name.
    pub fn load_nettools(&self) -> &'static str {
        let archive = nettools_archive();
        self.skiff(&["load", "-i", archive.to_str().unwrap()])
            .stdout();
        NETTOOLS_NAME
    }

    /// Loads the docker-archive test image and returns its name.
    /// A busybox root filesystem unpacked in the test's directory `name`, given to the user
    /// skiff runs as (for `--rootfs`).
    pub fn busybox_rootfs(&self, name: &str) -> PathBuf {
        use std::io::Write as _;
        let root = self.path(name);
        std::fs::create_dir_all(&root).unwrap();
        let mut untar = std::process::Command::new("tar")
            .arg("-x")
            .arg("-C")
            .arg(&root)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let tar = busybox_layer().finish();
        untar.stdin.take().unwrap().write_all(&tar).unwrap();
        assert!(untar.wait().unwrap().success());
        self.give(&root);
        root
    }

    pub fn load_testbox(&self) -> &'static str {
        let images = test_images();
        let out = self
            .skiff(&["load", "-i", images.docker_archive.to_str().unwrap()])
            .stdout();
        assert_eq!(out.trim(), format!("Loaded image: {DOCKER_NAME}"));
        DOCKER_NAME
    }
}

pub fn sha256_for_tests(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

/// A docker-archive of `count` layers of `bytes` pseudo-random bytes each (so compression
/// cannot shrink them), for transfers big enough to interrupt. Returns (archive, image name).
pub fn big_layers(dir: &std::path::Path, count: usize, bytes: usize) -> (PathBuf, String) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut layers = vec![busybox_layer().finish()];
    for n in 0..count {
        let mut data = vec![0u8; bytes];
        for chunk in data.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        layers.push(
            Layer::new()
                .file(&format!("data-{n}"), 0o644, 0, &data)
                .finish(),
        );
    }
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_hex(l)))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let name = "localhost/big-layers:latest".to_string();
    let path = dir.join("big-layers.tar");
    write_docker_archive(&path, &name, &layers, &config);
    (path, name)
}
