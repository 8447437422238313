//! Ids and references that failed open (issue 18, finding 8): `-u 4294967295` (or an image
//! `User` of it) ran as root, since setuid(-1) changes nothing, and an empty name or id matched
//! a container — `rm -f ''` removed one. Ids outside 0–2147483647 are refused, as Podman does,
//! and an empty reference names nothing.

use super::setup_errors::assert_one_error_line;
use crate::common::images::{busybox_image_archive, Layer};
use crate::common::skiff_test;

#[test]
fn user_ids_out_of_range_are_refused() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        for user in ["4294967295", "2147483648", "0:4294967295", "-1", "0:-1"] {
            let flag = format!("--user={user}");
            assert_one_error_line(
                &env,
                &["run", "--rm", &flag, image, "id", "-u"],
                "out of range",
            );
            assert_one_error_line(&env, &["create", &flag, image], "out of range");
        }
        // The highest id is allowed (rootless, it is not mapped, which the kernel refuses).
        if env.as_root {
            let out = env
                .skiff(&["run", "--rm", "--user=2147483647", image, "id", "-u"])
                .stdout();
            assert_eq!(out, "2147483647\n");
        }
        let id = env.skiff(&["run", "-d", image, "sleep", "30"]).stdout();
        assert_one_error_line(
            &env,
            &["exec", "--user=4294967295", id.trim(), "id", "-u"],
            "out of range",
        );
        env.skiff(&["rm", "-f", id.trim()]).stdout();
    }
}

#[test]
fn an_image_user_out_of_range_is_refused_when_the_container_starts() {
    let test = skiff_test!();
    let name = "localhost/huge-user:latest";
    let archive = busybox_image_archive(
        "huge-user-docker.tar",
        name,
        Layer::new(),
        serde_json::json!({"Cmd": ["id", "-u"], "User": "4294967295"}),
    );
    for env in test.each_env() {
        env.skiff(&["load", "-i", archive.to_str().unwrap()])
            .stdout();
        assert_one_error_line(&env, &["run", "--rm", name], "out of range");
    }
}

#[test]
fn an_empty_reference_names_nothing() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = env
            .skiff(&["run", "-d", "--name", "kept", image, "sleep", "60"])
            .stdout();
        env.skiff(&["volume", "create", "kept"]).stdout();
        env.skiff(&["network", "create", "kept"]).stdout();
        for args in [
            &["rm", "-f", ""][..],
            &["rm", ""],
            &["inspect", ""],
            &["container", "inspect", ""],
            &["stop", ""],
            &["kill", ""],
            &["rmi", ""],
            &["rmi", "-f", ""],
            &["image", "inspect", ""],
            &["volume", "rm", ""],
            &["volume", "rm", "-f", ""],
            &["volume", "inspect", ""],
            &["network", "rm", ""],
            &["network", "rm", "-f", ""],
            &["network", "inspect", ""],
        ] {
            let (_, err) = env.skiff(args).assert_exit(125);
            assert!(err.starts_with("Error: "), "{args:?}: {err}");
        }
        let running = env
            .skiff(&["ps", "-q", "--no-trunc", "--filter", "name=kept"])
            .stdout();
        assert_eq!(running.trim(), id.trim(), "the container was touched");
        env.skiff(&["image", "inspect", image]).stdout();
        env.skiff(&["volume", "inspect", "kept"]).stdout();
        env.skiff(&["network", "inspect", "kept"]).stdout();
        env.skiff(&["rm", "-f", "kept"]).stdout();
    }
}
