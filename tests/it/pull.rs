//! pull, push, login, logout and search against the real Docker distribution registry on
//! loopback, with images the tests build offline and skiff pushes itself.

use crate::common::images::{big_layers, busybox_layer, write_docker_archive};
use crate::common::registry::Registry;
use crate::common::{finish, skiff_test, TestEnv};

const NO_TLS: &str = "--tls-verify=false";

/// Loads the testbox into `env` and pushes it to `destination`; returns (image id, digest).
fn push_testbox(env: &TestEnv, destination: &str) -> (String, String) {
    let image = env.load_testbox();
    let id = env
        .skiff(&["inspect", "--format", "{{.Id}}", image])
        .stdout();
    let digestfile = env.path("tmp/digest");
    env.skiff(&[
        "push",
        NO_TLS,
        "--digestfile",
        digestfile.to_str().unwrap(),
        image,
        destination,
    ])
    .stdout();
    let digest = std::fs::read_to_string(&digestfile).unwrap();
    (id.trim().to_string(), digest)
}

/// `run --rm --network none` of a pulled image (with `flags` before the image); its stdout.
fn run_offline(env: &TestEnv, flags: &[&str], image: &str, command: &[&str]) -> String {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(flags);
    args.push(image);
    args.extend_from_slice(command);
    env.skiff(&args).stdout()
}

#[test]
fn pushed_image_pulls_back_into_a_clean_store_and_runs() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(source) = test.rootless() else {
        return;
    };
    let name = format!("{}/lab/testbox:v1", registry.addr);
    let (id, digest) = push_testbox(&source, &name);
    assert!(digest.starts_with("sha256:"), "{digest}");
    for (n, env) in test.part("pull").each_env().into_iter().enumerate() {
        let out = env.skiff(&["pull", NO_TLS, &name]).stdout();
        assert_eq!(out.trim(), id, "pull prints the image ID");
        let inspect = env
            .skiff(&[
                "image",
                "inspect",
                "--format",
                "{{.Id}} {{.Digest}} {{index .RepoDigests 0}}",
                &name,
            ])
            .stdout();
        assert_eq!(
            inspect.trim(),
            format!("{id} {digest} {}/lab/testbox@{digest}", registry.addr)
        );
        let digests = env
            .skiff(&["images", "--digests", "--format", "{{.Digest}}"])
            .stdout();
        assert_eq!(digests.trim(), digest);
        let out = run_offline(
            &env,
            &[],
            &name,
            &["sh", "-c", "stat -c %u /home/tester; echo ok"],
        );
        assert_eq!(out, "1000\nok\n", "owners survive push and pull");
        // A second pull fetches nothing and gives the same image.
        let (again, stderr) = env.skiff(&["pull", NO_TLS, &name]).assert_exit(0);
        assert_eq!(again.trim(), id);
        assert!(stderr.contains("already exists"), "{stderr}");
        // By digest: the same image.
        let by_digest = format!("{}/lab/testbox@{digest}", registry.addr);
        let out = env.skiff(&["pull", "-q", NO_TLS, &by_digest]).stdout();
        assert_eq!(out.trim(), id);
        // Pushed to another repository of the same registry, the layers are mounted, not sent.
        let copy = format!("{}/lab/copy-{n}:v1", registry.addr);
        let (_, stderr) = env.skiff(&["push", NO_TLS, &name, &copy]).assert_exit(0);
        assert!(stderr.contains("mounted from lab/testbox"), "{stderr}");
    }
}

#[test]
fn run_pulls_a_missing_image_unless_told_never() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(source) = test.rootless() else {
        return;
    };
    let name = format!("{}/lab/runme", registry.addr);
    push_testbox(&source, &name);
    let env = test.part("pull").rootless().unwrap();
    let (_, stderr) = env
        .skiff(&["run", "--rm", "--pull", "never", &name, "true"])
        .assert_exit(125);
    assert!(stderr.contains("image not known"), "{stderr}");
    let out = run_offline(&env, &[NO_TLS], &name, &["echo", "pulled and ran"]);
    assert_eq!(out, "pulled and ran\n");
}

#[test]
fn zstd_layers_push_and_pull() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(source) = test.rootless() else {
        return;
    };
    let image = source.load_testbox();
    let name = format!("{}/lab/zstd:1", registry.addr);
    source
        .skiff(&[
            "push",
            NO_TLS,
            "--compression-format",
            "zstd",
            "--format",
            "oci",
            image,
            &name,
        ])
        .stdout();
    let (status, manifest) = registry.http_get("/v2/lab/zstd/manifests/1");
    assert_eq!(status, 200);
    let manifest = String::from_utf8_lossy(&manifest);
    assert!(manifest.contains("tar+zstd"), "{manifest}");
    let env = test.part("pull").rootless().unwrap();
    env.skiff(&["pull", "-q", NO_TLS, &name]).stdout();
    let out = run_offline(&env, &[], &name, &["cat", "/owned-by-1000"]);
    assert_eq!(out, "mine\n");
}

#[test]
fn a_corrupted_blob_fails_the_pull_and_stores_nothing() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(source) = test.rootless() else {
        return;
    };
    let name = format!("{}/lab/corrupt", registry.addr);
    push_testbox(&source, &name);
    let (_, manifest) = registry.http_get("/v2/lab/corrupt/manifests/latest");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let data = registry.blob_data_path(&layer);
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();
    let env = test.part("pull").rootless().unwrap();
    let (_, stderr) = env.skiff(&["pull", NO_TLS, &name]).assert_exit(125);
    assert!(
        stderr.contains("Error:")
            && (stderr.contains("digest")
                || stderr.contains("corrupt")
                || stderr.contains("invalid")),
        "{stderr}"
    );
    assert_eq!(env.skiff(&["images", "-q"]).stdout(), "");
    // Layers that verified may stay for the next pull; nothing of the corrupted one may.
    let hex = layer.trim_start_matches("sha256:");
    assert!(!env.store_root().join("blobs/sha256").join(hex).exists());
    for entry in std::fs::read_dir(env.store_root().join("layers")).unwrap() {
        let meta = std::fs::read_to_string(entry.unwrap().path().join("meta.json")).unwrap();
        assert!(
            !meta.contains(hex),
            "the corrupted layer was stored: {meta}"
        );
    }
    let staging = env.staging_entries().len();
    assert_eq!(staging, 0, "its staging directory is removed");
}

#[test]
fn a_pull_killed_halfway_is_completed_by_the_next() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(source) = test.rootless() else {
        return;
    };
    let dir = source.path("tmp");
    let (archive, image) = big_layers(&dir, 4, 6 << 20);
    source.give(&archive);
    source
        .skiff(&["load", "-i", archive.to_str().unwrap()])
        .stdout();
    let name = format!("{}/lab/big", registry.addr);
    source
        .skiff(&["push", "-q", NO_TLS, &image, &name])
        .stdout();
    let env = test.part("pull").rootless().unwrap();
    for delay_ms in [40u64, 200] {
        let child = env.skiff(&["pull", "-q", NO_TLS, &name]).spawn();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = std::process::Command::new("pkill")
            .args(["-KILL", "-f", &format!("skiff pull -q {NO_TLS} {name}")])
            .status();
        let _ = finish(child, "skiff pull (killed)");
        // The pull's helper in the user namespace dies with it; wait until it has.
        for _ in 0..100 {
            let alive = std::process::Command::new("pgrep")
                .args(["-f", &format!("skiff pull -q {NO_TLS} {name}")])
                .output()
                .unwrap();
            if alive.stdout.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let images = env.skiff(&["images", "-q"]).stdout();
        assert!(images.lines().count() <= 1, "{images}");
    }
    let id = env.skiff(&["pull", "-q", NO_TLS, &name]).stdout();
    assert_eq!(
        env.skiff(&["images", "-q", "--no-trunc"])
            .stdout()
            .trim()
            .trim_start_matches("sha256:"),
        id.trim()
    );
    run_offline(&env, &[], &name, &["true"]);
    let staging = env.staging_entries().len();
    assert_eq!(
        staging, 0,
        "the completing pull cleaned up after the killed ones"
    );
}

#[test]
fn login_push_and_logout_with_basic_auth() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start_with_auth(test, "tester", "s3cret") else {
        return;
    };
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let name = format!("{}/lab/private", registry.addr);
    let (_, stderr) = env.skiff(&["push", NO_TLS, image, &name]).assert_exit(125);
    assert!(
        stderr.contains("authentication required") || stderr.contains("unauthorized"),
        "{stderr}"
    );
    let (_, stderr) = env
        .skiff(&[
            "login",
            NO_TLS,
            "-u",
            "tester",
            "-p",
            "wrong",
            &registry.addr,
        ])
        .assert_exit(125);
    assert!(stderr.contains("Error:"), "{stderr}");
    let out = env
        .skiff(&[
            "login",
            NO_TLS,
            "-u",
            "tester",
            "--password-stdin",
            &registry.addr,
        ])
        .stdin("s3cret\n")
        .stdout();
    assert_eq!(out, "Login Succeeded!\n");
    let auth_file = env.path("run/containers/auth.json");
    let auth = std::fs::read_to_string(&auth_file).unwrap();
    assert!(auth.contains(&registry.addr), "{auth}");
    env.skiff(&["push", "-q", NO_TLS, image, &name]).stdout();
    let fresh = test.part("pull").rootless().unwrap();
    let (_, stderr) = fresh.skiff(&["pull", NO_TLS, &name]).assert_exit(125);
    assert!(
        stderr.contains("authentication required") || stderr.contains("unauthorized"),
        "{stderr}"
    );
    fresh
        .skiff(&["pull", "-q", NO_TLS, "--creds", "tester:s3cret", &name])
        .stdout();
    let out = env.skiff(&["logout", &registry.addr]).stdout();
    assert_eq!(
        out,
        format!("Removed login credentials for {}\n", registry.addr)
    );
    let (_, stderr) = env.skiff(&["logout", &registry.addr]).assert_exit(125);
    assert!(stderr.contains("not logged into"), "{stderr}");
}

#[test]
fn the_platform_is_chosen_from_an_index() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(env) = test.rootless() else {
        return;
    };
    // Two single-layer images that differ only in architecture.
    let mut ids = Vec::new();
    for arch in ["amd64", "arm64"] {
        let layer = busybox_layer()
            .file("arch", 0o644, 0, arch.as_bytes())
            .finish();
        let diff_id = crate::common::images::sha256_for_tests(&layer);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["cat", "/arch"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
        }))
        .unwrap();
        let archive = env.path(&format!("tmp/{arch}.tar"));
        let local = format!("localhost/multi:{arch}");
        write_docker_archive(&archive, &local, &[layer], &config);
        env.give(&archive);
        env.skiff(&["load", "-i", archive.to_str().unwrap()])
            .stdout();
        let remote = format!("{}/lab/multi:{arch}", registry.addr);
        env.skiff(&["push", "-q", NO_TLS, &local, &remote]).stdout();
        ids.push(format!(
            "sha256:{}",
            crate::common::images::sha256_for_tests(&config)
        ));
    }
    let mut manifests = Vec::new();
    for arch in ["amd64", "arm64"] {
        let (status, bytes) = registry.http_get(&format!("/v2/lab/multi/manifests/{arch}"));
        assert_eq!(status, 200);
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["mediaType"]
            .as_str()
            .unwrap()
            .to_string();
        manifests.push(serde_json::json!({
            "mediaType": media_type,
            "digest": format!("sha256:{}", crate::common::images::sha256_for_tests(&bytes)),
            "size": bytes.len(),
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap();
    let status = registry.http_put(
        "/v2/lab/multi/manifests/latest",
        "application/vnd.oci.image.index.v1+json",
        &index,
    );
    assert_eq!(status, 201);
    let name = format!("{}/lab/multi", registry.addr);
    let fresh = test.part("pull").rootless().unwrap();
    let arm = fresh
        .skiff(&["pull", "-q", NO_TLS, "--platform", "linux/arm64", &name])
        .stdout();
    assert_eq!(format!("sha256:{}", arm.trim()), ids[1]);
    let amd = fresh
        .skiff(&["pull", "-q", NO_TLS, "--arch", "amd64", &name])
        .stdout();
    assert_eq!(format!("sha256:{}", amd.trim()), ids[0]);
    let digest = fresh
        .skiff(&["inspect", "--format", "{{.Digest}}", &name])
        .stdout();
    assert_eq!(
        digest.trim(),
        format!("sha256:{}", crate::common::images::sha256_for_tests(&index)),
        "Digest is the index's, as Podman shows it"
    );
    let (_, stderr) = fresh
        .skiff(&["pull", NO_TLS, "--platform", "linux/s390x", &name])
        .assert_exit(125);
    assert!(
        stderr.contains("no image found in image index for architecture s390x"),
        "{stderr}"
    );
}

#[test]
fn search_lists_the_catalog_and_tags() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    for tag in ["1", "2"] {
        env.skiff(&[
            "push",
            "-q",
            NO_TLS,
            image,
            &format!("{}/lab/findme:{tag}", registry.addr),
        ])
        .stdout();
    }
    let out = env
        .skiff(&[
            "search",
            NO_TLS,
            "--format",
            "{{.Name}}",
            &format!("{}/find", registry.addr),
        ])
        .stdout();
    assert_eq!(out, format!("{}/lab/findme\n", registry.addr));
    let out = env
        .skiff(&[
            "search",
            NO_TLS,
            "--list-tags",
            &format!("{}/lab/findme", registry.addr),
        ])
        .stdout();
    let repository = format!("{}/lab/findme", registry.addr);
    let fresh = test.part("tags").rootless().unwrap();
    let ids = fresh
        .skiff(&["pull", "-q", NO_TLS, "--all-tags", &repository])
        .stdout();
    assert_eq!(ids.lines().count(), 2, "{ids}");
    let tags = fresh.skiff(&["images", "--format", "{{.Tag}}"]).stdout();
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["1", "2"]);
    let width = repository.len() + 2;
    assert_eq!(
        out,
        format!("{:width$}TAG\n{repository}  1\n{repository}  2\n", "NAME")
    );
}

#[test]
fn bad_references_and_unreachable_registries_are_one_line_errors() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let (_, stderr) = env.skiff(&["pull", "Bad:Ref:x"]).assert_exit(125);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Bad:Ref:x"), "{stderr}");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let (_, stderr) = env
        .skiff(&["pull", NO_TLS, &format!("{addr}/nothing/here")])
        .assert_exit(125);
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("Error:")).count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains(&addr), "{stderr}");
}

#[test]
fn registries_conf_gives_short_names_insecure_registries_mirrors_and_blocks() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(source) = test.rootless() else {
        return;
    };
    push_testbox(&source, &format!("{}/lab/short:latest", registry.addr));
    let env = test.part("pull").rootless().unwrap();
    // Where containers/image reads the user's file: $HOME/.config, not $XDG_CONFIG_HOME.
    let conf_dir = env.path("home/.config/containers");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(
        conf_dir.join("registries.conf"),
        format!(
            r#"unqualified-search-registries = ["{addr}"]
[[registry]]
location = "{addr}"
insecure = true
[[registry]]
prefix = "mirrored.example/team"
location = "unreachable.invalid/team"
[[registry.mirror]]
location = "{addr}/lab"
insecure = true
[[registry]]
location = "blocked.example"
blocked = true
"#,
            addr = registry.addr
        ),
    )
    .unwrap();
    env.give(&env.path("home/.config"));
    // A short name, over plain HTTP because the registry is marked insecure.
    let (id, stderr) = env.skiff(&["pull", "lab/short"]).assert_exit(0);
    assert!(
        stderr.contains(&format!(
            "Trying to pull {}/lab/short:latest",
            registry.addr
        )),
        "{stderr}"
    );
    let name = env
        .skiff(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .stdout();
    assert_eq!(name, format!("{}/lab/short:latest\n", registry.addr));
    // Through a mirror: the image is stored under the name asked for.
    let (mirrored, _) = env
        .skiff(&["pull", "mirrored.example/team/short"])
        .assert_exit(0);
    assert_eq!(mirrored, id);
    let (_, stderr) = env.skiff(&["pull", "blocked.example/a/b"]).assert_exit(125);
    assert!(stderr.contains("blocked"), "{stderr}");
}

/// `run -q` pulls the image it lacks without a word; without it, the pull says what it does.
#[test]
fn run_pulls_quietly_with_q() {
    let test = skiff_test!();
    let Some(registry) = Registry::try_start(test) else {
        return;
    };
    let Some(source) = test.rootless() else {
        return;
    };
    let name = format!("{}/lab/quiet:v1", registry.addr);
    push_testbox(&source, &name);
    for (quiet, env) in [(true, test.part("quiet")), (false, test.part("said"))]
        .into_iter()
        .filter_map(|(quiet, part)| part.rootless().map(|env| (quiet, env)))
    {
        let mut args = vec!["run", "--rm", "--network", "none", NO_TLS];
        if quiet {
            args.push("-q");
        }
        args.extend_from_slice(&[&name, "echo", "ran"]);
        let out = env.skiff(&args).output();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.is_empty(), quiet, "{stderr}");
    }
}
