//! The smaller findings of issue 18 (9): `cp -` of a tar stream from a pipe, sparse layer
//! entries, `-v` with a relative source, and a command line clap refuses.

use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::images::{busybox_image_archive, Layer};
use crate::common::{skiff_test, TestEnv};

#[test]
fn a_tar_stream_from_a_pipe_is_copied_in_and_succeeds() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = env.path("tmp/cp-source");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("file"), "copied through a pipe\n").unwrap();
        // tar writes whole records of 10240 bytes: zeros follow the end-of-archive marker.
        let archive = std::process::Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .args(["-cf", "-", "file"])
            .output()
            .unwrap();
        assert!(archive.status.success());
        assert_eq!(archive.stdout.len(), 10240);
        let archive_path = env.path("tmp/stream.tar");
        std::fs::write(&archive_path, &archive.stdout).unwrap();
        env.give(&archive_path);
        env.skiff(&["create", "--name", "target", image, "cat", "/tmp/file"])
            .stdout();
        // The header, the data and the first block of the end marker, then the rest of the
        // record once skiff has read the end: as a pipe delivers it from a slower writer.
        let feed = format!(
            "{{ head -c 1536 '{0}'; sleep 1; tail -c +1537 '{0}'; }} | exec SKIFF",
            archive_path.display()
        );
        skiff_in_shell(&env, &feed, &["cp", "-", "target:/tmp"], 0);
        let out = env.skiff(&["start", "-a", "target"]).stdout();
        assert_eq!(out, "copied through a pipe\n", "as root: {}", env.as_root);
    }
}

const GIB: u64 = 1 << 30;
const HALF: u64 = GIB / 2;

/// Octal in a GNU header field: digits, then NUL.
fn octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}", width = field.len() - 1);
    field[..text.len()].copy_from_slice(text.as_bytes());
    field[text.len()] = 0;
}

/// A layer holding /sparse-file: 1 GiB apparent size, 4 KiB of 'a' at 0, of 'b' at 512 MiB and
/// of 'c' at the end, as GNU tar writes a sparse file (type 'S', the map in the header).
fn sparse_layer() -> Layer {
    let regions = [(0, b'a'), (HALF, b'b'), (GIB - 4096, b'c')];
    let mut header = tar::Header::new_gnu();
    header.set_path("sparse-file").unwrap();
    header.set_entry_type(tar::EntryType::GNUSparse);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_600_000_000);
    header.set_size(4096 * regions.len() as u64);
    let gnu = header.as_gnu_mut().unwrap();
    for (slot, (offset, _)) in gnu.sparse.iter_mut().zip(regions) {
        octal(&mut slot.offset, offset);
        octal(&mut slot.numbytes, 4096);
    }
    octal(&mut gnu.realsize, GIB);
    header.set_cksum();
    let data: Vec<u8> = regions
        .iter()
        .flat_map(|(_, byte)| std::iter::repeat_n(*byte, 4096))
        .collect();
    Layer::new().entry(&header, &data)
}

pub(super) fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            return Some(path);
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        }
    }
    None
}

#[test]
fn a_sparse_layer_entry_stays_sparse_on_disk() {
    let test = skiff_test!();
    let name = "localhost/sparse:latest";
    let archive = busybox_image_archive(
        "sparse-docker.tar",
        name,
        sparse_layer(),
        serde_json::json!({"Cmd": ["stat", "-c", "%s", "/sparse-file"]}),
    );
    for env in test.each_env() {
        env.skiff(&["load", "-i", archive.to_str().unwrap()])
            .stdout();
        let unpacked = find_file(&env.store_root().join("layers"), "sparse-file")
            .expect("the layer holds sparse-file");
        assert_sparse_copy(&unpacked);
        let out = env.skiff(&["run", "--rm", name]).stdout();
        assert_eq!(out, format!("{GIB}\n"));
        // vfs copies the layers into each container: the copy keeps the holes too.
        let out = env
            .skiff(&["--storage-driver", "vfs", "run", "--name", "copied", name])
            .stdout();
        assert_eq!(out, format!("{GIB}\n"));
        let id = env
            .skiff(&["inspect", "--format", "{{.Id}}", "copied"])
            .stdout();
        let copy = find_file(
            &env.store_root().join("containers").join(id.trim()),
            "sparse-file",
        )
        .expect("vfs copied the layer into the container");
        assert_sparse_copy(&copy);
    }
}

/// `path` is sparse_layer's file, 1 GiB long, taking well under 1 MiB on disk: its data regions
/// are where they were, and its holes read zeros.
fn assert_sparse_copy(path: &Path) {
    let file = std::fs::File::open(path).unwrap();
    let meta = file.metadata().unwrap();
    assert_eq!(meta.len(), GIB, "{}", path.display());
    assert!(
        meta.blocks() * 512 < 1 << 20,
        "{} takes {} bytes on disk",
        path.display(),
        meta.blocks() * 512
    );
    for (offset, expected) in [(0, b'a'), (4096, 0), (HALF - 4096, 0), (HALF, b'b')]
        .into_iter()
        .chain([(GIB - 8192, 0), (GIB - 4096, b'c')])
    {
        let mut block = vec![1u8; 4096];
        file.read_exact_at(&mut block, offset).unwrap();
        assert!(
            block.iter().all(|b| *b == expected),
            "{} at {offset}: expected {expected}",
            path.display()
        );
    }
}

#[test]
fn a_relative_volume_source_without_a_dot_is_refused() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let cwd = env.path("tmp/cwd");
        std::fs::create_dir_all(cwd.join("here")).unwrap();
        env.give(&cwd);
        // skiff runs in cwd: `rel/path` there must not be created.
        let in_cwd = format!("cd '{}' && exec SKIFF", cwd.display());
        let (_, err) = skiff_in_shell(
            &env,
            &in_cwd,
            &["run", "--rm", "-v", "rel/path:/x", image, "true"],
            125,
        );
        assert!(
            err.lines().count() == 1 && err.starts_with("Error: ") && err.contains("rel/path"),
            "{err}"
        );
        assert!(!cwd.join("rel").exists(), "rel/path was made on the host");
        // A source starting with a dot is a path relative to the working directory.
        let script = "echo through > /x/file";
        skiff_in_shell(
            &env,
            &in_cwd,
            &["run", "--rm", "-v", "./here:/x", image, "sh", "-c", script],
            0,
        );
        assert_eq!(
            std::fs::read_to_string(cwd.join("here/file")).unwrap(),
            "through\n"
        );
    }
}

/// skiff run by the sh script `shell`, where SKIFF stands for skiff and its arguments
/// (`cd DIR && exec SKIFF`, `producer | exec SKIFF`): a working directory, a standard input or
/// a standard output that the harness does not give.
fn skiff_in_shell(env: &TestEnv, shell: &str, args: &[&str], code: i32) -> (String, String) {
    let wrapper = env.path("tmp/skiff-in-shell");
    let skiff = format!("'{}' \"$@\"", env!("CARGO_BIN_EXE_skiff"));
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\n{}\n", shell.replace("SKIFF", &skiff)),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.give(&wrapper);
    env.skiff_binary(wrapper.to_str().unwrap(), &[], &[], args)
        .assert_exit(code)
}

#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let code = env.path("tmp/code");
    std::fs::write(&code, "").unwrap();
    env.give(&code);
    // The reader (true) is gone when skiff writes; skiff's own exit code goes to a file.
    let shell = format!(
        "(sleep 0.5; SKIFF; echo $? > '{0}') | true; exit \"$(cat '{0}')\"",
        code.display()
    );
    for args in [&["images"][..], &["ps", "-a"], &["inspect", image]] {
        let (_, err) = skiff_in_shell(&env, &shell, args, 0);
        assert_eq!(err, "", "{args:?}");
    }
}

#[test]
fn an_unknown_flag_is_one_error_line() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let (out, err) = env.skiff(&["ps", "--al"]).assert_exit(125);
    assert_eq!(out, "");
    assert_eq!(
        err,
        "Error: unknown flag: --al (a similar argument exists: '--all')\n"
    );
    let (_, err) = env.skiff(&["run", "--no-such-flag", "x"]).assert_exit(125);
    assert!(
        err.starts_with("Error: unknown flag: --no-such-flag"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let help = env.skiff(&["ps", "--help"]).stdout();
    assert!(help.contains("Usage: skiff ps"), "{help}");
    let mut version = env.skiff(&["--version"]).stdout();
    version.pop();
    assert!(version.starts_with("skiff "), "{version}");
}
