//! A container whose set-up fails after its id maps are written (issue 18, finding 6): skiff
//! read the broken sync pipe as a closed stdout and exited 0 having run and printed nothing.
//! The child's own error must be reported on one line, and skiff must exit 125.

use crate::common::images::{busybox_layer, shared_dir, write_docker_archive, Layer};
use crate::common::{each_env, TestEnv};

/// Runs `args` expecting the set-up to fail: exit 125, nothing run, one `Error:` line that
/// contains `expected`.
fn assert_setup_fails(env: &TestEnv, args: &[&str], expected: &str) {
    let (out, err) = env.skiff(args).assert_exit(125);
    assert!(
        !out.contains("ran"),
        "the command ran (as root: {}): {out}",
        env.as_root
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected: {err}");
    assert!(
        lines[0].starts_with("Error: ") && lines[0].contains(expected),
        "as root {}: {err}",
        env.as_root
    );
}

#[test]
fn a_hostname_the_kernel_refuses_is_reported() {
    for env in each_env("setup-hostname") {
        let image = env.load_testbox();
        let hostname = "h".repeat(100);
        assert_setup_fails(
            &env,
            &["run", "--rm", "--hostname", &hostname, image, "echo", "ran"],
            "sethostname",
        );
    }
}

#[test]
fn a_volume_that_cannot_be_mounted_is_reported() {
    for env in each_env("setup-volume") {
        let image = env.load_testbox();
        // A directory cannot be bind-mounted over a file.
        let source = env.path("tmp");
        let volume = format!("{}:/etc/passwd", source.display());
        assert_setup_fails(
            &env,
            &["run", "--rm", "-v", &volume, image, "echo", "ran"],
            "/etc/passwd",
        );
    }
}

#[test]
fn an_image_volume_through_an_absolute_symlink_is_reported() {
    let archive = shared_dir().join("volume-symlink-docker.tar");
    let name = "localhost/volume-symlink:latest";
    let layers = vec![
        busybox_layer().finish(),
        Layer::new()
            .file("data-file", 0o644, 0, b"not a directory\n")
            .symlink("vol", "/data-file")
            .finish(),
    ];
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", crate::common::images::sha256_for_tests(l)))
        .collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["echo", "ran"], "Volumes": {"/vol": {}}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    write_docker_archive(&archive, name, &layers, &config);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    for env in each_env("setup-image-volume") {
        env.skiff(&["load", "-i", archive.to_str().unwrap()])
            .stdout();
        assert_setup_fails(&env, &["run", "--rm", name], "/vol");
    }
}
