//! The store under concurrency and crashes: two commands at once, and kill -9 mid-write.

use crate::common::images::{busybox_layer, test_images, write_docker_archive, DOCKER_NAME};
use crate::common::{finish, pastas_under, skiff_test, until};

#[test]
fn two_loads_at_once_both_succeed_and_store_the_image_once() {
    let test = skiff_test!();
    for env in test.each_env() {
        let archive = test_images().docker_archive.to_str().unwrap().to_string();
        let a = env.skiff(&["load", "-i", &archive]).spawn();
        let b = env.skiff(&["load", "-i", &archive]).spawn();
        for child in [a, b] {
            let out = finish(child, "skiff load");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            env.skiff(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
                .stdout(),
            format!("{DOCKER_NAME}\n")
        );
        env.skiff(&["run", "--rm", DOCKER_NAME, "true"]).stdout();
    }
}

#[test]
fn kill_9_during_load_leaves_a_consistent_store() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    // A big layer (many files) so that the kill lands mid-extraction.
    let mut layer = busybox_layer();
    let chunk = vec![7u8; 64 * 1024];
    for i in 0..3000 {
        layer = layer.file(&format!("bulk-{i}"), 0o644, 0, &chunk);
    }
    let layer = layer.finish();
    let diff_id = format!("sha256:{}", crate::common::images::sha256_for_tests(&layer));
    let config = serde_json::to_vec(&serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["true"]}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}})).unwrap();
    let archive = env.path("tmp/big.tar");
    write_docker_archive(&archive, "localhost/big:latest", &[layer], &config);
    env.give(&archive);
    for delay_ms in [30u64, 150, 400] {
        let mut child = env
            .skiff(&["load", "-i", archive.to_str().unwrap()])
            .spawn();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        // As root, `child` is runuser: kill the skiff processes of this test's store.
        let _ = std::process::Command::new("pkill")
            .args([
                "-KILL",
                "-f",
                &format!("skiff.*load -i {}", archive.display()),
            ])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        let images = env
            .skiff(&["images", "--format", "{{.Repository}}"])
            .stdout();
        assert!(
            images.is_empty() || images == "localhost/big\n",
            "a half image is never listed: {images}"
        );
        if images.is_empty() {
            env.skiff(&["run", "--rm", "localhost/big", "true"])
                .assert_exit(125);
        }
    }
    env.skiff(&["load", "-i", archive.to_str().unwrap()])
        .stdout();
    env.skiff(&[
        "run",
        "--rm",
        "localhost/big",
        "sh",
        "-c",
        "test -f /bulk-2999",
    ])
    .stdout();
    let leftovers = env.staging_entries().len();
    assert_eq!(
        leftovers, 0,
        "staging leftovers are cleaned by the next writer"
    );
}

#[test]
fn kill_9_at_any_point_of_a_rm_run_leaves_a_consistent_store() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // A `--rm` run writes its container without syncing it: killed at any point between
        // its start and its end, the store must still hold either no container or a whole one
        // that lists, inspects and removes.
        for (round, delay_ms) in [0u64, 2, 4, 6, 8, 12, 16, 25, 40, 80]
            .into_iter()
            .enumerate()
        {
            let name = format!("killed-{round}");
            let mut child = env
                .skiff(&["run", "--rm", "--name", &name, image, "sleep", "5"])
                .spawn();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            // As root, `child` is runuser: kill the skiff processes of this run, again until none
            // is left (one forked while pkill reads the process list escapes it).
            let pattern = format!("skiff.*--name {name} ");
            until("every process of this run killed", || {
                let _ = std::process::Command::new("pkill")
                    .args(["-KILL", "-f", &pattern])
                    .status();
                std::process::Command::new("pgrep")
                    .args(["-f", &pattern])
                    .output()
                    .is_ok_and(|out| out.stdout.is_empty())
            });
            let _ = child.kill();
            let _ = child.wait();
            let listed = env
                .skiff(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"])
                .stdout();
            for line in listed.lines() {
                let listed_name = line.split(' ').next().unwrap();
                env.skiff(&["inspect", "--format", "{{.Name}}", listed_name])
                    .stdout();
                env.skiff(&["rm", "-f", listed_name]).stdout();
            }
            let on_disk = std::fs::read_dir(env.store_root().join("containers"))
                .map(|entries| entries.count())
                .unwrap_or(0);
            assert_eq!(on_disk, 0, "round {round}: after `rm` of {listed:?}");
        }
        // The pasta of each run went with it, however far it had got.
        let run_dir = env.path("run").to_string_lossy().into_owned();
        until("no pasta left by the killed runs", || {
            pastas_under(&run_dir).is_empty()
        });
        env.skiff(&["run", "--rm", image, "true"]).stdout();
        let leftovers = env.staging_entries();
        assert!(
            leftovers.is_empty(),
            "cleaned by the next writer: {leftovers:?}"
        );
    }
}
