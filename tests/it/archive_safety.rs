//! Malicious layers: whatever a tarball says, nothing lands outside the layer directory. Each case
//! goes through `skiff import` and through a docker-archive layer; a canary directory beside the
//! store must be untouched, and no file named with the marker may appear outside the store.

use crate::common::images::{write_docker_archive, Layer};
use crate::common::{skiff_test, TestEnv};

const MARKER: &str = "skiff-escape-marker";

/// Unpacked layer contents (any store's `…/diff/` trees) are where tar entries belong; a marker
/// anywhere else, the store's own directories included, escaped.
fn inside_a_layer(path: &std::path::Path) -> bool {
    let text = path.to_string_lossy();
    text.contains("/data/skiff/") && text.contains("/diff/")
}

fn files_named(dir: &std::path::Path, name: &str, found: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if inside_a_layer(&path) {
            continue;
        }
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains(name))
        {
            found.push(path.clone());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            files_named(&path, name, found);
        }
    }
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut entries: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    entries.sort();
    entries
}

fn check(env: &TestEnv, case: &str, layer: Vec<u8>) {
    let canary = env.path("canary");
    std::fs::create_dir_all(&canary).unwrap();
    std::fs::write(canary.join("passwd"), "original\n").unwrap();
    env.give(&canary);
    let before = snapshot(&canary);

    let tarball = env.path(&format!("tmp/{case}.tar"));
    std::fs::write(&tarball, &layer).unwrap();
    env.give(&tarball);
    let import = env
        .skiff(&["import", tarball.to_str().unwrap(), &format!("evil-{case}")])
        .output();

    let archive = env.path(&format!("tmp/{case}-archive.tar"));
    let diff_id = format!("sha256:{}", crate::common::images::sha256_for_tests(&layer));
    let config = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux", "config": {}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}})).unwrap();
    write_docker_archive(
        &archive,
        &format!("localhost/evil-archive-{case}:latest"),
        &[layer],
        &config,
    );
    env.give(&archive);
    let load = env
        .skiff(&["load", "-i", archive.to_str().unwrap()])
        .output();

    for (what, out) in [("import", &import), ("load", &load)] {
        let code = out.status.code();
        assert!(
            code == Some(0) || code == Some(125),
            "{case} {what}: exit {code:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if code == Some(125) {
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                err.trim().lines().count(),
                1,
                "{case} {what}: one-line error: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
    assert_eq!(
        snapshot(&canary),
        before,
        "{case}: the canary directory changed"
    );
    assert_eq!(
        std::fs::read_to_string(canary.join("passwd")).unwrap(),
        "original\n",
        "{case}"
    );
    let mut found = Vec::new();
    files_named(std::path::Path::new("/tmp"), MARKER, &mut found);
    assert!(
        found.is_empty(),
        "{case}: files escaped the layer directory: {found:?}"
    );
    // The store stays usable.
    env.skiff(&["images"]).stdout();
}

#[test]
fn dot_dot_names_are_refused() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    check(
        &env,
        "dotdot",
        Layer::new()
            .raw_file(&format!("../{MARKER}"), b"x")
            .finish(),
    );
    check(
        &env,
        "deep-dotdot",
        Layer::new()
            .dir("a", 0o755, 0)
            .raw_file(&format!("a/../../../{MARKER}"), b"x")
            .finish(),
    );
}

#[test]
fn absolute_names_stay_inside() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let target = env.path(&format!("canary/{MARKER}-abs"));
    check(
        &env,
        "absolute",
        Layer::new()
            .raw_file(target.to_str().unwrap(), b"x")
            .finish(),
    );
}

#[test]
fn symlinked_parents_stay_inside() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let canary = env.path("canary");
    check(
        &env,
        "symlink-parent-abs",
        Layer::new()
            .symlink("link", canary.to_str().unwrap())
            .raw_file(&format!("link/{MARKER}"), b"x")
            .finish(),
    );
    check(
        &env,
        "symlink-parent-rel",
        Layer::new()
            .symlink("up", "../../../../../../../..")
            .raw_file(&format!("up{}/{MARKER}", canary.display()), b"x")
            .finish(),
    );
    check(
        &env,
        "symlink-root",
        Layer::new()
            .symlink("root", "/")
            .raw_file(&format!("root{}/passwd", canary.display()), b"overwritten")
            .finish(),
    );
}

#[test]
fn hard_links_to_outside_paths_are_refused_or_stay_inside() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let canary_passwd = env.path("canary/passwd");
    check(
        &env,
        "hardlink-dotdot",
        Layer::new()
            .raw_hardlink(&format!("{MARKER}-hl"), "../../../../../../etc/passwd")
            .finish(),
    );
    check(
        &env,
        "hardlink-abs",
        Layer::new()
            .raw_hardlink(&format!("{MARKER}-hl2"), canary_passwd.to_str().unwrap())
            .finish(),
    );
}

#[test]
fn a_file_over_a_symlink_replaces_the_symlink() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let canary_passwd = env.path("canary/passwd");
    check(
        &env,
        "symlink-then-file",
        Layer::new()
            .symlink("victim", canary_passwd.to_str().unwrap())
            .file("victim", 0o644, 0, b"overwritten")
            .finish(),
    );
}

#[test]
fn malicious_layers_as_root_stay_inside_too() {
    let test = skiff_test!();
    let Some(env) = test.root() else {
        return;
    };
    let canary = env.path("canary");
    check(
        &env,
        "root-symlink-parent",
        Layer::new()
            .symlink("link", canary.to_str().unwrap())
            .raw_file(&format!("link/{MARKER}"), b"x")
            .finish(),
    );
    check(
        &env,
        "root-dotdot",
        Layer::new()
            .raw_file(&format!("../{MARKER}"), b"x")
            .finish(),
    );
}
