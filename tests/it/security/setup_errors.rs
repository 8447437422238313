//! A container whose set-up fails after its id maps are written (issue 18, finding 6): skiff
//! read the broken sync pipe as a closed stdout and exited 0 having run and printed nothing.
//! The child's own error must be reported on one line, and skiff must exit 125.

use crate::common::images::{busybox_image_archive, Layer};
use crate::common::{skiff_test, TestEnv};

/// Runs `args` expecting skiff to refuse: exit 125, nothing run or printed on stdout, and one
/// `Error:` line that contains `expected`.
pub(super) fn assert_one_error_line(env: &TestEnv, args: &[&str], expected: &str) {
    let (out, err) = env.skiff(args).assert_exit(125);
    assert_eq!(out, "", "as root {}: {args:?} printed", env.as_root);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("Error: ") && lines[0].contains(expected),
        "as root {}: {args:?}: {err}",
        env.as_root
    );
}

#[test]
fn a_hostname_the_kernel_refuses_is_reported() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let hostname = "h".repeat(100);
        assert_one_error_line(
            &env,
            &["run", "--rm", "--hostname", &hostname, image, "echo", "ran"],
            "sethostname",
        );
    }
}

#[test]
fn a_volume_that_cannot_be_mounted_is_reported() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // A directory cannot be bind-mounted over a file.
        let source = env.path("tmp");
        let volume = format!("{}:/etc/passwd", source.display());
        assert_one_error_line(
            &env,
            &["run", "--rm", "-v", &volume, image, "echo", "ran"],
            "/etc/passwd",
        );
    }
}

#[test]
fn an_image_volume_through_an_absolute_symlink_is_reported() {
    let test = skiff_test!();
    let name = "localhost/volume-symlink:latest";
    let layer = Layer::new()
        .file("data-file", 0o644, 0, b"not a directory\n")
        .symlink("vol", "/data-file");
    let archive = busybox_image_archive(
        "volume-symlink-docker.tar",
        name,
        layer,
        serde_json::json!({"Cmd": ["echo", "ran"], "Volumes": {"/vol": {}}}),
    );
    for env in test.each_env() {
        env.skiff(&["load", "-i", archive.to_str().unwrap()])
            .stdout();
        assert_one_error_line(&env, &["run", "--rm", name], "/vol");
    }
}
