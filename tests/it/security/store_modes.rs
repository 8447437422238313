//! The store is the user's alone (issue 18, finding 7): its root, its directories and the
//! runroot are 0700 and its logs 0600, as Podman keeps its storage, so another local user
//! cannot reach a setuid file a container made in its upper directory.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use super::small::find_file;
use crate::common::{probes, skiff_test, TestEnv, TEST_USER};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn assert_mode(path: &Path, expected: u32, env: &TestEnv) {
    assert_eq!(
        mode(path),
        expected,
        "mode of {} (as root: {}): {:o}",
        path.display(),
        env.as_root,
        mode(path)
    );
}

#[test]
fn store_runroot_and_logs_are_private_after_a_run() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = env
            .skiff(&["run", "-d", image, "sh", "-c", "echo logged"])
            .stdout();
        let id = id.trim();
        env.skiff(&["wait", id]).stdout();
        env.skiff(&["volume", "create", "private"]).stdout();
        let root = env.store_root();
        let runroot = env.path("run/skiff");
        for dir in [
            root.clone(),
            root.join("blobs"),
            root.join("layers"),
            root.join("images"),
            root.join("containers"),
            root.join("tmp"),
            root.join("volumes/private"),
            runroot.clone(),
            runroot.join("containers"),
            runroot.join("events"),
        ] {
            assert_mode(&dir, 0o700, &env);
        }
        assert_mode(&runroot.join("events/events.log"), 0o600, &env);
        assert_mode(&root.join(format!("containers/{id}/ctr.log")), 0o600, &env);
    }
}

#[test]
fn a_missing_data_directory_is_created_private() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    env.skiff_with_env(&[], &["XDG_DATA_HOME"], &["images"])
        .stdout();
    let share = env.path("home/.local/share");
    assert_mode(&env.path("home/.local"), 0o700, &env);
    assert_mode(&share, 0o700, &env);
    assert_mode(&share.join("skiff"), 0o700, &env);
}

#[test]
fn a_store_made_world_readable_is_closed_when_opened() {
    let test = skiff_test!();
    for env in test.each_env() {
        env.skiff(&["images"]).stdout();
        let root = env.store_root();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        env.skiff(&["images"]).stdout();
        assert_mode(&root, 0o700, &env);
    }
}

#[test]
fn another_user_cannot_reach_a_setuid_file_a_container_made() {
    let test = skiff_test!();
    if test.lacks_root("acting as another user") {
        return;
    }
    let probe = probes::static_c(
        "say-ran",
        "#include <stdio.h>\nint main(void) { puts(\"ran\"); return 0; }\n",
    );
    for env in test.each_env() {
        let image = env.load_testbox();
        let out = env
            .skiff(&[
                "run",
                "--name",
                "maker",
                "-v",
                &probes::mount_arg(&probe),
                image,
                "sh",
                "-c",
                "cp /probe/say-ran /setuid-probe && chmod 4755 /setuid-probe",
            ])
            .stdout();
        assert_eq!(out, "");
        let id = env
            .skiff(&["inspect", "--format", "{{.Id}}", "maker"])
            .stdout();
        // In the upper directory (overlay) or the container's own copy (vfs).
        let made = find_file(
            &env.store_root().join("containers").join(id.trim()),
            "setuid-probe",
        )
        .expect("the container's file is in the store");
        assert_eq!(mode(&made) & 0o4000, 0o4000, "{}", made.display());
        let ran = Command::new(&made).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout),
            "ran\n",
            "the probe runs for root"
        );
        // Neither the test user (for root's store) nor nobody (for either) gets to it.
        let others: &[&str] = if env.as_root {
            &["nobody", TEST_USER]
        } else {
            &["nobody"]
        };
        for other in others {
            let out = Command::new("runuser")
                .args(["-u", other, "--"])
                .arg(&made)
                .output()
                .unwrap();
            assert!(
                !out.status.success(),
                "{other} ran {}: {}",
                made.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
