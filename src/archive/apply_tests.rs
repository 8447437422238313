//! Tests of `apply_layer`: hostile tarballs must never reach outside the destination, and the
//! ordinary entries (whiteouts, modes, owners, links, xattrs) must come out as overlayfs wants.
//!
//! Every tarball is built here with the low-level `tar::Header` API, writing raw name bytes so
//! that names the `tar` crate would refuse (`../x`) can be made. The tests run as root.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{apply_layer, ApplyOptions, ApplyStats, Error};

/// A layer tar written entry by entry with raw header fields.
struct LayerTar {
    builder: tar::Builder<Vec<u8>>,
}

const MTIME: u64 = 1_600_000_000;

impl LayerTar {
    fn new() -> Self {
        LayerTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    fn header(name: &[u8], entry_type: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        assert!(name.len() <= 100, "test names must fit the old header");
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(entry_type);
        header.set_size(size);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(MTIME);
        header
    }

    fn append(&mut self, mut header: tar::Header, content: &[u8]) -> &mut Self {
        header.set_cksum();
        self.builder.append(&header, content).unwrap();
        self
    }

    fn file(&mut self, name: &str, content: &[u8]) -> &mut Self {
        let header = Self::header(
            name.as_bytes(),
            tar::EntryType::Regular,
            content.len() as u64,
            0o644,
        );
        self.append(header, content)
    }

    fn file_owned(&mut self, name: &str, mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut header = Self::header(name.as_bytes(), tar::EntryType::Regular, 2, mode);
        header.set_uid(uid);
        header.set_gid(gid);
        self.append(header, b"ok")
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let header = Self::header(name.as_bytes(), tar::EntryType::Directory, 0, mode);
        self.append(header, b"")
    }

    fn link(&mut self, entry_type: tar::EntryType, name: &str, target: &str) -> &mut Self {
        let mut header = Self::header(name.as_bytes(), entry_type, 0, 0o777);
        header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        self.append(header, b"")
    }

    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Symlink, name, target)
    }

    fn hard_link(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Link, name, target)
    }

    fn device(
        &mut self,
        entry_type: tar::EntryType,
        name: &str,
        major: u32,
        minor: u32,
    ) -> &mut Self {
        let mut header = Self::header(name.as_bytes(), entry_type, 0, 0o600);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        self.append(header, b"")
    }

    fn file_with_xattrs(&mut self, name: &str, xattrs: &[(&str, &[u8])]) -> &mut Self {
        let records: Vec<(String, &[u8])> = xattrs
            .iter()
            .map(|(key, value)| (format!("SCHILY.xattr.{key}"), *value))
            .collect();
        self.builder
            .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
            .unwrap();
        self.file(name, b"x")
    }

    fn bytes(&mut self) -> Vec<u8> {
        let builder = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        builder.into_inner().unwrap()
    }
}

/// A scratch area: `dest` to unpack into and `canary`, a sibling outside it that must never change.
struct Sandbox {
    work: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        fs::create_dir(work.path().join("dest")).unwrap();
        let canary = work.path().join("canary");
        fs::create_dir(&canary).unwrap();
        fs::write(canary.join("passwd"), b"root:x:0:0").unwrap();
        fs::set_permissions(canary.join("passwd"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::create_dir(canary.join("sub")).unwrap();
        Sandbox { work }
    }

    fn dest(&self) -> PathBuf {
        self.work.path().join("dest")
    }

    fn canary(&self) -> PathBuf {
        self.work.path().join("canary")
    }

    fn apply(&self, tar: &[u8]) -> Result<ApplyStats, Error> {
        apply_layer(tar, &self.dest(), &ApplyOptions::default())
    }

    /// Everything under the work directory except `dest`: path, type, mode, owner, size, mtime
    /// and content.
    fn outside_snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut snapshot = BTreeMap::new();
        let dest = self.dest();
        snapshot_tree(self.work.path(), &dest, &mut snapshot);
        // The temp dir's parent too: nothing new may appear next to the sandbox.
        snapshot
    }

    /// Applies a hostile tarball and checks that nothing outside `dest` changed.
    fn apply_hostile(&self, tar: &[u8]) -> Result<ApplyStats, Error> {
        let before = self.outside_snapshot();
        let result = self.apply(tar);
        assert_eq!(
            before,
            self.outside_snapshot(),
            "something outside dest changed"
        );
        assert_eq!(
            fs::read(self.canary().join("passwd")).unwrap(),
            b"root:x:0:0"
        );
        result
    }
}

fn snapshot_tree(dir: &Path, skip: &Path, snapshot: &mut BTreeMap<PathBuf, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path == skip {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        let content = if meta.is_file() {
            format!("{:?}", fs::read(&path).unwrap())
        } else if meta.file_type().is_symlink() {
            format!("{:?}", fs::read_link(&path).unwrap())
        } else {
            String::new()
        };
        let description = format!(
            "mode={:o} uid={} gid={} size={} mtime={}.{} xattrs={:?} {content}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
            list_xattrs(&path),
        );
        snapshot.insert(path.clone(), description);
        if meta.is_dir() {
            snapshot_tree(&path, skip, snapshot);
        }
    }
}

fn list_xattrs(path: &Path) -> Vec<u8> {
    let mut buffer = vec![0u8; 4096];
    match rustix::fs::llistxattr(path, &mut buffer[..]) {
        Ok(len) => buffer[..len].to_vec(),
        Err(_) => Vec::new(),
    }
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buffer = vec![0u8; 256];
    let len = rustix::fs::lgetxattr(path, name, &mut buffer[..]).ok()?;
    Some(buffer[..len].to_vec())
}

#[test]
fn refuses_parent_escape() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new().file("../escape", b"evil").bytes();
    let error = sandbox.apply_hostile(&tar).unwrap_err();
    assert!(
        matches!(&error, Error::PathEscapes { entry } if entry == "../escape"),
        "{error:?}"
    );
    assert!(!sandbox.work.path().join("escape").exists());
}

#[test]
fn refuses_deep_escape() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new()
        .file("ok", b"fine")
        .file("a/../../../x", b"evil")
        .file("../../x", b"evil")
        .bytes();
    let error = sandbox.apply_hostile(&tar).unwrap_err();
    assert!(
        matches!(&error, Error::PathEscapes { entry } if entry == "a/../../../x"),
        "{error:?}"
    );
}

#[test]
fn absolute_names_land_inside_dest() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new().file("/etc/evil", b"inside").bytes();
    sandbox.apply_hostile(&tar).unwrap();
    assert_eq!(
        fs::read(sandbox.dest().join("etc/evil")).unwrap(),
        b"inside"
    );
    // The implicit parent is made 0755, as Docker does.
    let mode = fs::metadata(sandbox.dest().join("etc")).unwrap().mode();
    assert_eq!(mode & 0o7777, 0o755);
}

#[test]
fn symlinks_to_root_are_resolved_inside_dest() {
    let sandbox = Sandbox::new();
    // Unique names, so that a regression writing to the host's `/` is seen, cleaned up, and
    // never clobbers a real file.
    let unique = sandbox
        .work
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let names = [
        format!("skiff-test-{unique}-1"),
        format!("skiff-test-{unique}-2"),
        format!("tmp/skiff-test-{unique}-3"),
    ];
    let tar = LayerTar::new()
        .symlink("root", "/")
        .symlink("up", "../../..")
        .file(&format!("root/{}", names[0]), b"1")
        .file(&format!("up/{}", names[1]), b"2")
        .file(&format!("up/{}", names[2]), b"3")
        .bytes();
    let result = sandbox.apply_hostile(&tar);
    let on_host: Vec<_> = names
        .iter()
        .map(|name| Path::new("/").join(name))
        .filter(|path| path.exists())
        .collect();
    for path in &on_host {
        fs::remove_file(path).unwrap();
    }
    assert!(on_host.is_empty(), "written outside dest: {on_host:?}");
    result.unwrap();
    for (name, content) in names.iter().zip([b"1", b"2", b"3"]) {
        assert_eq!(fs::read(sandbox.dest().join(name)).unwrap(), content);
    }
}

#[test]
fn symlinked_parent_pointing_outside_never_writes_outside() {
    let sandbox = Sandbox::new();
    let absolute_canary = sandbox.canary().to_string_lossy().into_owned();
    for parent_target in [absolute_canary.as_str(), "../canary", "../../canary/sub"] {
        let tar = LayerTar::new()
            .symlink("dir", parent_target)
            .file("dir/file", b"evil")
            .bytes();
        // Resolved as if dest were `/`: the target does not exist there, so the entry fails.
        let error = sandbox.apply_hostile(&tar).unwrap_err();
        assert!(matches!(error, Error::Io { .. }), "{error:?}");
        assert!(!sandbox.canary().join("file").exists());
    }
    // Whiteouts, opaque markers, directories and devices through such a parent fail the same way.
    for entry in ["dir/.wh.passwd", "dir/.wh..wh..opq", "dir/sub/"] {
        let mut tar = LayerTar::new();
        tar.symlink("dir", &absolute_canary);
        if entry.ends_with('/') {
            tar.dir(entry, 0o777);
        } else {
            tar.file(entry, b"");
        }
        assert!(sandbox.apply_hostile(&tar.bytes()).is_err(), "{entry}");
    }
}

#[test]
fn hard_links_cannot_reach_host_files() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new().hard_link("hl", "../../etc/passwd").bytes();
    let error = sandbox.apply_hostile(&tar).unwrap_err();
    assert!(matches!(error, Error::PathEscapes { .. }), "{error:?}");

    let canary_passwd = sandbox.canary().join("passwd");
    let tar = LayerTar::new()
        .hard_link("hl", &canary_passwd.to_string_lossy())
        .bytes();
    let error = sandbox.apply_hostile(&tar).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");

    let tar = LayerTar::new().hard_link("hl2", "/etc/passwd").bytes();
    assert!(sandbox.apply_hostile(&tar).is_err());
    assert!(!sandbox.dest().join("hl2").exists());

    // Through a symlinked directory pointing outside: resolved inside dest, so it fails too.
    let tar = LayerTar::new()
        .symlink("c", &sandbox.canary().to_string_lossy())
        .hard_link("hl3", "c/passwd")
        .bytes();
    assert!(sandbox.apply_hostile(&tar).is_err());
    assert_eq!(fs::metadata(&canary_passwd).unwrap().nlink(), 1);

    // With the file present inside dest, `/etc/passwd` means dest/etc/passwd.
    let tar = LayerTar::new()
        .file("etc/passwd", b"layer passwd")
        .hard_link("hl4", "/etc/passwd")
        .bytes();
    sandbox.apply_hostile(&tar).unwrap();
    let linked = fs::metadata(sandbox.dest().join("hl4")).unwrap();
    let original = fs::metadata(sandbox.dest().join("etc/passwd")).unwrap();
    assert_eq!(linked.ino(), original.ino());
}

#[test]
fn entry_over_a_symlink_replaces_the_symlink() {
    let sandbox = Sandbox::new();
    let canary_passwd = sandbox.canary().join("passwd");
    let tar = LayerTar::new()
        .symlink("victim", &canary_passwd.to_string_lossy())
        .file("victim", b"replaced")
        .symlink("victim2", "../canary/passwd")
        .file("victim2", b"replaced too")
        .symlink("victim-dir", &sandbox.canary().to_string_lossy())
        .dir("victim-dir", 0o777)
        .symlink("victim-dev", &canary_passwd.to_string_lossy())
        .device(tar::EntryType::Fifo, "victim-dev", 0, 0)
        .bytes();
    sandbox.apply_hostile(&tar).unwrap();
    let victim = fs::symlink_metadata(sandbox.dest().join("victim")).unwrap();
    assert!(victim.is_file());
    assert_eq!(
        fs::read(sandbox.dest().join("victim")).unwrap(),
        b"replaced"
    );
    assert_eq!(
        fs::read(sandbox.dest().join("victim2")).unwrap(),
        b"replaced too"
    );
    assert!(fs::symlink_metadata(sandbox.dest().join("victim-dir"))
        .unwrap()
        .is_dir());
    assert!(fs::symlink_metadata(sandbox.dest().join("victim-dev"))
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn whiteouts_of_dot_and_dot_dot_are_refused() {
    let sandbox = Sandbox::new();
    for name in [".wh...", ".wh..", "sub/.wh...", ".wh.", "a/b/.wh..."] {
        let tar = LayerTar::new().file(name, b"").bytes();
        let error = sandbox.apply_hostile(&tar).unwrap_err();
        assert!(
            matches!(&error, Error::PathEscapes { entry } if entry == name),
            "{error:?}"
        );
    }
    assert!(sandbox.dest().is_dir());
}

#[test]
fn whiteout_over_a_symlink_removes_only_the_symlink() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new()
        .symlink("c", &sandbox.canary().to_string_lossy())
        .file(".wh.c", b"")
        .bytes();
    sandbox.apply_hostile(&tar).unwrap();
    let whiteout = fs::symlink_metadata(sandbox.dest().join("c")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert!(sandbox.canary().join("passwd").exists());
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let sandbox = Sandbox::new();
    fs::create_dir_all(sandbox.dest().join("usr/old/deep")).unwrap();
    fs::write(sandbox.dest().join("usr/old/deep/file"), b"lower").unwrap();
    let tar = LayerTar::new()
        .dir("usr/", 0o755)
        .file("usr/.wh.old", b"")
        .file("usr/bin/.wh.never-existed", b"")
        .dir("opaque/", 0o755)
        .file("opaque/.wh..wh..opq", b"")
        .file("opaque/kept", b"new")
        .file(".wh..wh.plnk", b"")
        .bytes();
    let stats = sandbox.apply_hostile(&tar).unwrap();
    assert_eq!(stats.entries, 7);
    for path in ["usr/old", "usr/bin/never-existed"] {
        let meta = fs::symlink_metadata(sandbox.dest().join(path)).unwrap();
        assert!(meta.file_type().is_char_device(), "{path}");
        assert_eq!(meta.rdev(), 0, "{path}");
    }
    assert!(!sandbox.dest().join("usr/.wh.old").exists());
    assert_eq!(
        get_xattr(&sandbox.dest().join("opaque"), "user.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(!sandbox.dest().join("opaque/.wh..wh..opq").exists());
    assert!(!sandbox.dest().join(".wh..wh.plnk").exists());
    assert!(!sandbox.dest().join("plnk").exists());
}

#[test]
fn keeps_modes_owners_and_times() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new()
        .dir("bin/", 0o755)
        .file_owned("bin/su", 0o4755, 0, 0)
        .file_owned("bin/wall", 0o2755, 1000, 5)
        .file_owned("bin/owned", 0o640, 1234, 4321)
        .dir("tmp/", 0o1777)
        .bytes();
    sandbox.apply(&tar).unwrap();
    let meta = |path: &str| fs::symlink_metadata(sandbox.dest().join(path)).unwrap();
    assert_eq!(meta("bin/su").mode() & 0o7777, 0o4755);
    let wall = meta("bin/wall");
    assert_eq!(
        (wall.mode() & 0o7777, wall.uid(), wall.gid()),
        (0o2755, 1000, 5)
    );
    let owned = meta("bin/owned");
    assert_eq!(
        (owned.mode() & 0o7777, owned.uid(), owned.gid()),
        (0o640, 1234, 4321)
    );
    assert_eq!(meta("tmp").mode() & 0o7777, 0o1777);
    // Directory times are set last, so files created inside do not disturb them.
    assert_eq!(meta("bin").mtime(), MTIME as i64);
    assert_eq!(meta("bin/su").mtime(), MTIME as i64);
}

#[test]
fn existing_directory_stays_and_takes_new_metadata() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.dest().join("keep")).unwrap();
    fs::write(sandbox.dest().join("keep/old"), b"old").unwrap();
    fs::write(sandbox.dest().join("was-file"), b"file").unwrap();
    let tar = LayerTar::new()
        .dir("keep/", 0o700)
        .dir("was-file/", 0o755)
        .file("keep", b"now a file")
        .bytes();
    sandbox.apply(&tar).unwrap();
    assert!(fs::metadata(sandbox.dest().join("was-file"))
        .unwrap()
        .is_dir());
    // A file entry replaces the directory and everything in it.
    assert_eq!(
        fs::read(sandbox.dest().join("keep")).unwrap(),
        b"now a file"
    );

    let tar = LayerTar::new().dir("was-file/", 0o711).bytes();
    fs::write(sandbox.dest().join("was-file/inner"), b"x").unwrap();
    sandbox.apply(&tar).unwrap();
    assert!(sandbox.dest().join("was-file/inner").exists());
    let mode = fs::metadata(sandbox.dest().join("was-file"))
        .unwrap()
        .mode();
    assert_eq!(mode & 0o7777, 0o711);
}

#[test]
fn hard_links_share_an_inode_and_symlinks_are_kept_verbatim() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new()
        .file("usr/bin/busybox", b"#!")
        .hard_link("usr/bin/sh", "usr/bin/busybox")
        .hard_link("bin-ls", "./usr/bin/busybox")
        .symlink("usr/bin/ash", "busybox")
        .symlink("abs", "/usr/bin/busybox")
        .bytes();
    let stats = sandbox.apply(&tar).unwrap();
    assert_eq!(stats.bytes, 2);
    let busybox = fs::metadata(sandbox.dest().join("usr/bin/busybox")).unwrap();
    assert_eq!(busybox.nlink(), 3);
    for link in ["usr/bin/sh", "bin-ls"] {
        assert_eq!(
            fs::metadata(sandbox.dest().join(link)).unwrap().ino(),
            busybox.ino()
        );
    }
    assert_eq!(
        fs::read_link(sandbox.dest().join("usr/bin/ash")).unwrap(),
        PathBuf::from("busybox")
    );
    assert_eq!(
        fs::read_link(sandbox.dest().join("abs")).unwrap(),
        PathBuf::from("/usr/bin/busybox")
    );
}

#[test]
fn keeps_xattrs_but_not_overlay_ones() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new()
        .file_with_xattrs(
            "with-xattrs",
            &[
                ("user.comment", b"hello"),
                ("security.capability", b"\x01\x00\x00\x02"),
                ("user.overlay.redirect", b"/etc"),
            ],
        )
        .bytes();
    sandbox.apply(&tar).unwrap();
    let path = sandbox.dest().join("with-xattrs");
    assert_eq!(
        get_xattr(&path, "user.comment").as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(get_xattr(&path, "user.overlay.redirect"), None);
}

#[test]
fn devices_are_created_as_root_and_skipped_rootless() {
    let sandbox = Sandbox::new();
    let tar = LayerTar::new()
        .device(tar::EntryType::Char, "dev/null", 1, 3)
        .device(tar::EntryType::Block, "dev/loop9", 7, 9)
        .device(tar::EntryType::Fifo, "run/fifo", 0, 0)
        .bytes();
    let rootless = ApplyOptions { skip_devices: true };
    let stats = apply_layer(tar.as_slice(), &sandbox.dest(), &rootless).unwrap();
    assert_eq!(stats.skipped_devices, 2);
    assert!(!sandbox.dest().join("dev/null").exists());
    assert!(fs::symlink_metadata(sandbox.dest().join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());

    sandbox.apply(&tar).unwrap();
    let null = fs::symlink_metadata(sandbox.dest().join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o600);
    assert!(fs::symlink_metadata(sandbox.dest().join("dev/loop9"))
        .unwrap()
        .file_type()
        .is_block_device());
}

#[test]
fn garbage_and_truncated_layers_fail_cleanly() {
    let sandbox = Sandbox::new();
    let garbage = vec![0x55u8; 2048];
    assert!(matches!(
        sandbox.apply(&garbage),
        Err(Error::InvalidArchive { .. })
    ));
    let mut truncated = LayerTar::new().file("big", &[7u8; 4096]).bytes();
    truncated.truncate(1024);
    assert!(sandbox.apply(&truncated).is_err());
}
