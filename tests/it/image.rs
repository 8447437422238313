//! load, save, import, images, inspect, tag, rmi, history.

use crate::common::images::{test_images, DOCKER_NAME, OCI_NAME};
use crate::common::skiff_test;

#[test]
fn loaded_image_is_listed_and_inspected_like_podman() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let images = test_images();
        assert_eq!(
            env.skiff(&["inspect", "--format", "{{.Id}}", image])
                .stdout()
                .trim(),
            images.id
        );
        assert_eq!(
            env.skiff(&[
                "image",
                "inspect",
                "--format",
                "{{len .RootFS.Layers}}",
                "testbox"
            ])
            .stdout(),
            "2\n"
        );
        let inspect: serde_json::Value =
            serde_json::from_str(&env.skiff(&["image", "inspect", image]).stdout()).unwrap();
        let first = &inspect[0];
        for key in [
            "Id",
            "Digest",
            "RepoTags",
            "RepoDigests",
            "Created",
            "Author",
            "Comment",
            "Config",
            "RootFS",
            "History",
            "Size",
            "Architecture",
            "Os",
        ] {
            assert!(first.get(key).is_some(), "inspect lacks {key}: {first}");
        }
        assert_eq!(first["RepoTags"][0], DOCKER_NAME);
        assert_eq!(
            first["RootFS"]["Layers"],
            serde_json::json!(images.diff_ids)
        );
        assert_eq!(first["Config"]["Cmd"][0], "sh");
        assert_eq!(first["Created"], "2024-01-02T03:04:05Z");
        assert!(first["Digest"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(first["Architecture"], "amd64");

        let table = env.skiff(&["images"]).stdout();
        let mut lines = table.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap()
            .split("  ")
            .filter(|c| !c.is_empty())
            .map(str::trim)
            .collect();
        assert_eq!(header, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
        let row = lines.next().unwrap();
        assert!(
            row.starts_with("localhost/testbox") && row.contains(&images.id[..12]),
            "{table}"
        );
        assert_eq!(
            env.skiff(&["images", "-q"]).stdout().trim(),
            &images.id[..12]
        );
        assert_eq!(
            env.skiff(&["images", "-q", "--no-trunc"]).stdout().trim(),
            format!("sha256:{}", images.id)
        );
        assert_eq!(
            env.skiff(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
                .stdout(),
            format!("{DOCKER_NAME}\n")
        );
        assert!(env
            .skiff(&["images", "--digests"])
            .stdout()
            .lines()
            .next()
            .unwrap()
            .contains("DIGEST"));
        let json: serde_json::Value =
            serde_json::from_str(&env.skiff(&["images", "--format", "json"]).stdout()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 1);
        let history = env.skiff(&["history", image]).stdout();
        assert_eq!(history.lines().count(), 3, "{history}");
        assert!(history
            .lines()
            .nth(1)
            .unwrap()
            .starts_with(&images.id[..12]));
        env.skiff(&["inspect", "no-such-thing"]).assert_exit(125);
    }
}

#[test]
fn save_rmi_load_gives_back_the_same_image() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = test_images().id.clone();
        let digest = env
            .skiff(&["inspect", "--format", "{{.Digest}}", image])
            .stdout();
        for format in ["docker-archive", "oci-archive"] {
            let archive = env.path(&format!("tmp/saved-{format}.tar"));
            env.skiff(&[
                "save",
                "--format",
                format,
                "-o",
                archive.to_str().unwrap(),
                image,
            ])
            .stdout();
            let removed = env.skiff(&["rmi", image]).stdout();
            assert!(removed.contains(&format!("Deleted: {id}")), "{removed}");
            assert_eq!(env.skiff(&["images", "-q"]).stdout(), "");
            let loaded = env
                .skiff(&["load", "-i", archive.to_str().unwrap()])
                .stdout();
            assert_eq!(loaded.trim(), format!("Loaded image: {DOCKER_NAME}"));
            assert_eq!(
                env.skiff(&["inspect", "--format", "{{.Id}}", image])
                    .stdout()
                    .trim(),
                id,
                "{format}"
            );
            if format == "docker-archive" {
                assert_eq!(
                    env.skiff(&["inspect", "--format", "{{.Digest}}", image])
                        .stdout(),
                    digest
                );
            }
        }
        // Standard input works too, and the image still runs.
        let archive = std::fs::read(&test_images().oci_archive).unwrap();
        // -q silences only progress, as with Podman: the name is still printed.
        let loaded = env.skiff(&["load", "-q"]).stdin(archive).stdout();
        assert_eq!(loaded.trim(), format!("Loaded image: {OCI_NAME}"));
        assert_eq!(
            env.skiff(&["run", "--rm", OCI_NAME, "cat", "/owned-by-1000"])
                .stdout(),
            "mine\n"
        );
    }
}

#[test]
fn saving_twice_gives_the_same_bytes() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let a = env.path("tmp/a.tar");
    let b = env.path("tmp/b.tar");
    env.skiff(&["save", "-o", a.to_str().unwrap(), image])
        .stdout();
    env.skiff(&["save", "-o", b.to_str().unwrap(), image])
        .stdout();
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

#[test]
fn import_applies_changes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let rootfs = crate::common::images::busybox_layer().finish();
        let tarball = env.path("tmp/rootfs.tar");
        std::fs::write(&tarball, &rootfs).unwrap();
        env.give(&tarball);
        let id = env
            .skiff(&[
                "import",
                "--change",
                "CMD [\"sh\", \"-c\", \"echo $GREETING from $(pwd)\"]",
                "--change",
                "ENV GREETING=hello",
                "--change",
                "WORKDIR /tmp",
                "-c",
                "LABEL a=b",
                tarball.to_str().unwrap(),
                "imported:v1",
            ])
            .stdout();
        assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
        assert_eq!(
            env.skiff(&["run", "--rm", "imported:v1"]).stdout(),
            "hello from /tmp\n"
        );
        assert_eq!(
            env.skiff(&[
                "inspect",
                "--format",
                "{{index .Config.Labels \"a\"}} {{.RepoTags}}",
                "imported:v1"
            ])
            .stdout(),
            "b [localhost/imported:v1]\n"
        );
        let from_stdin = env.skiff(&["import", "-", "piped"]).stdin(rootfs).stdout();
        assert!(from_stdin.starts_with("sha256:"));
        env.skiff(&["import", "--change", "RUN x", tarball.to_str().unwrap()])
            .assert_exit(125);
    }
}

#[test]
fn tag_and_rmi_follow_docker() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["tag", image, "other:1", "quay.io/x/y:2"])
            .stdout();
        let names = env
            .skiff(&["inspect", "--format", "{{.RepoTags}}", "other:1"])
            .stdout();
        assert!(
            names.contains("localhost/other:1") && names.contains("quay.io/x/y:2"),
            "{names}"
        );
        assert_eq!(
            env.skiff(&["rmi", "other:1"]).stdout(),
            "Untagged: localhost/other:1\n"
        );
        assert_eq!(
            env.skiff(&["rmi", "quay.io/x/y:2"]).stdout(),
            "Untagged: quay.io/x/y:2\n"
        );
        env.skiff(&["create", "--name", "user", image, "true"])
            .stdout();
        let (_, err) = env.skiff(&["rmi", image]).assert_exit(125);
        assert!(err.contains("in use"), "{err}");
        env.skiff(&["rmi", "-f", image]).stdout();
        assert_eq!(
            env.skiff(&["ps", "-a", "-q"]).stdout(),
            "",
            "rmi -f removes the containers"
        );
        assert_eq!(env.skiff(&["images", "-q"]).stdout(), "");
        let layers = std::fs::read_dir(env.store_root().join("layers"))
            .unwrap()
            .count();
        assert_eq!(layers, 0, "unused layers are removed");
        env.load_testbox();
        env.skiff(&["rmi", "-a"]).stdout();
        assert_eq!(env.skiff(&["images", "-q"]).stdout(), "");
        env.skiff(&["rmi", "missing"]).assert_exit(125);
    }
}
