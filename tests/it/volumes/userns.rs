//! Volumes and binds seen from a user namespace of the container's own: keep-id (with and
//! without FUSE), nomap and auto.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::bind_dir;
use crate::common::{skiff_test, TestEnv};

/// What a keep-id container sees of the test image: its ids, the owners of the image's files
/// (kept as the image has them), deletions and opaque directories of the upper layer, and hard
/// links.
const KEEP_ID_VIEW: &str = "id -u; id -g; whoami; stat -c %u /src/mine /bin /owned-by-1000 /; \
    touch /src/made; test -e /etc/to-be-deleted || echo deleted; ls /var/opaque-dir; \
    stat -c %h /hardlink";

fn keep_id_view_args<'a>(image: &'a str, bind: &'a str) -> [&'a str; 9] {
    let mode = "--userns=keep-id";
    [
        "run",
        "--rm",
        mode,
        "-v",
        bind,
        image,
        "sh",
        "-c",
        KEEP_ID_VIEW,
    ]
}

fn check_keep_id_view(env: &TestEnv, stdout: &str) {
    let uid = env.uid.to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{stdout}");
    assert_eq!(lines[0], uid, "{stdout}");
    assert_ne!(lines[2], "", "{stdout}");
    // The user's file is theirs; the image's root and uid 1000 stay what the image says, and
    // `/` is root's.
    assert_eq!(&lines[3..7], [uid.as_str(), "0", "1000", "0"], "{stdout}");
    assert_eq!(&lines[7..], ["deleted", "upper-file", "2"], "{stdout}");
}

#[test]
fn keep_id_keeps_the_users_own_files_and_never_copies_the_image() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let shared = bind_dir(&env, "project", &[("mine", "host file\n")]);
        let bind = format!("{}:/src", shared.display());
        let args = keep_id_view_args(image, &bind);
        if env.as_root {
            let (_, stderr) = env.skiff(&args).assert_exit(125);
            assert!(stderr.contains("rootless"), "{stderr}");
            continue;
        }
        let first = env.skiff(&args).output();
        let stdout = String::from_utf8_lossy(&first.stdout);
        let stderr = String::from_utf8_lossy(&first.stderr);
        assert!(first.status.success(), "{stderr}");
        check_keep_id_view(&env, &stdout);
        assert_eq!(
            std::fs::metadata(shared.join("made")).unwrap().uid(),
            env.uid,
            "a file made inside belongs to the user on the host"
        );
        // The layers are served with their owners moved: no copy, not even the first time.
        assert!(!stderr.contains("Copying"), "{stderr}");
        let copies = std::fs::read_dir(env.store_root().join("layers"))
            .unwrap()
            .flat_map(|layer| std::fs::read_dir(layer.unwrap().path()).unwrap())
            .filter(|entry| {
                let name = entry.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("idmap-")
            })
            .count();
        assert_eq!(copies, 0);
        // Changing an image file copies it up with the image's owner.
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--userns=keep-id",
                "--user",
                "0",
                image,
                "sh",
                "-c",
                "echo x >> /not-executable && stat -c %u:%g /not-executable",
            ])
            .stdout();
        assert_eq!(out, "0:0\n");
        // An image mounted into such a container is shown the same way.
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--userns=keep-id",
                "--mount",
                &format!("type=image,source={image},target=/img"),
                image,
                "stat",
                "-c",
                "%u",
                "/img/bin",
                "/img/owned-by-1000",
            ])
            .stdout();
        assert_eq!(out, "0\n1000\n");
        // Without keep-id the same file is root's inside.
        assert_eq!(
            env.skiff(&[
                "run",
                "--rm",
                "-v",
                &bind,
                image,
                "stat",
                "-c",
                "%u",
                "/src/mine"
            ])
            .stdout(),
            "0\n"
        );
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--userns=keep-id:uid=99999999",
                image,
                "true",
            ])
            .assert_exit(125);
        assert!(stderr.contains("beyond"), "{stderr}");
        // A shared network's user namespace would decide the ids instead: refused.
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--userns=keep-id",
                "--network",
                "ns:/proc/1/ns/net",
                image,
                "true",
            ])
            .assert_exit(125);
        assert!(stderr.contains("cannot be used with --network"), "{stderr}");
    }
}

#[test]
fn keep_id_without_fuse_copies_each_layer_once() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let shared = bind_dir(&env, "project", &[("mine", "host file\n")]);
    let bind = format!("{}:/src", shared.display());
    // The FUSE storage driver has no way without /dev/fuse: this is the kernel overlay's case,
    // whatever driver the suite's pass forces.
    let kernel_overlay = ["--storage-driver", "overlay"];
    let args = [&kernel_overlay[..], &keep_id_view_args(image, &bind)].concat();
    let Some(cmd) = env.skiff_without_fuse(&args) else {
        return;
    };
    let first = cmd.output();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("Copying 2 image layer(s)"), "{stderr}");
    check_keep_id_view(&env, &String::from_utf8_lossy(&first.stdout));
    let second = env.skiff_without_fuse(&args).unwrap().output();
    assert!(second.status.success());
    assert!(!String::from_utf8_lossy(&second.stderr).contains("Copying"));
    // nomap's ids get copies of their own, which show the image's owners as well.
    let nomap = [
        "--storage-driver",
        "overlay",
        "run",
        "--rm",
        "--userns=nomap",
        image,
        "stat",
        "-c",
        "%u",
        "/bin",
        "/owned-by-1000",
    ];
    let out = env.skiff_without_fuse(&nomap).unwrap().output();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Copying 2"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n1000\n");
}

/// The first line of /proc/self/uid_map: (inside, outside, count).
fn first_uid_range(map: &str) -> (u64, u64, u64) {
    let fields: Vec<u64> = map
        .split_whitespace()
        .take(3)
        .map(|f| f.parse().unwrap())
        .collect();
    (fields[0], fields[1], fields[2])
}

#[test]
fn nomap_leaves_the_users_own_id_out() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let open_dir = bind_dir(&env, "open", &[]);
        std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let bind = format!("{}:/open", open_dir.display());
        let script = "id -u; stat -c %u /bin /owned-by-1000; touch /open/made /made && \
            echo written; head -1 /proc/self/uid_map";
        let args = [
            "run",
            "--rm",
            "--userns=nomap",
            "-v",
            &bind,
            image,
            "sh",
            "-c",
            script,
        ];
        if env.as_root {
            let (_, stderr) = env.skiff(&args).assert_exit(125);
            assert!(stderr.contains("rootless"), "{stderr}");
            continue;
        }
        let out = env.skiff(&args).stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(&lines[..4], ["0", "0", "1000", "written"], "{out}");
        // Nested in the container's namespace, whose 0 is the user: its ids start at 1.
        let (inside, outside, count) = first_uid_range(lines[4]);
        assert_eq!((inside, outside), (0, 1), "{out}");
        assert!(count >= 65536, "{out}");
        // Root's file belongs to a subordinate id on the host, not to the user.
        let owner = std::fs::metadata(open_dir.join("made")).unwrap().uid();
        assert_ne!(owner, env.uid);
        assert_ne!(owner, 0);

        // exec and cp reach the command's namespace, as its root.
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "nm",
            "--userns=nomap",
            image,
            "sleep",
            "600",
        ])
        .stdout();
        let out = env
            .skiff(&[
                "exec",
                "nm",
                "sh",
                "-c",
                "id -u; head -1 /proc/self/uid_map",
            ])
            .stdout();
        assert!(out.starts_with("0\n"), "{out}");
        assert_eq!(first_uid_range(out.lines().nth(1).unwrap()).1, 1, "{out}");
        let host_file = bind_dir(&env, "to-copy", &[("note", "copied in\n")]).join("note");
        env.skiff(&["cp", host_file.to_str().unwrap(), "nm:/note"])
            .stdout();
        assert_eq!(
            env.skiff(&["exec", "nm", "stat", "-c", "%u", "/note"])
                .stdout(),
            "0\n"
        );
        let mode = env
            .skiff(&["inspect", "--format", "{{.HostConfig.UsernsMode}}", "nm"])
            .stdout();
        assert_eq!(mode, "nomap\n");
        env.skiff(&["stop", "-t", "0", "nm"]).stdout();
        let exported = env.skiff(&["export", "nm"]).output();
        let listing = tar_listing(&exported.stdout);
        assert!(listing.contains(&("note".to_string(), 0)), "{listing:?}");
        assert!(
            listing.contains(&("bin/busybox".to_string(), 0)),
            "{listing:?}"
        );
        env.skiff(&["rm", "nm"]).stdout();
    }
}

/// Names and owners in a tar archive.
fn tar_listing(bytes: &[u8]) -> Vec<(String, u64)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            (name, entry.header().uid().unwrap())
        })
        .collect()
}

#[test]
fn auto_gives_each_container_ids_of_its_own() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let map = "head -1 /proc/self/uid_map";
    env.skiff(&[
        "run",
        "-d",
        "--name",
        "auto-first",
        "--userns=auto",
        image,
        "sleep",
        "600",
    ])
    .stdout();
    let first = first_uid_range(&env.skiff(&["exec", "auto-first", "sh", "-c", map]).stdout());
    // Enough for the image's users (up to 1000), and at least Podman's 1024.
    assert_eq!(first.2, 1024);
    let out = env
        .skiff(&[
            "run",
            "--rm",
            "--userns=auto:size=2000",
            image,
            "sh",
            "-c",
            map,
        ])
        .stdout();
    let second = first_uid_range(&out);
    assert_eq!(second.2, 2000);
    assert!(
        second.1 >= first.1 + first.2 || second.1 + second.2 <= first.1,
        "{first:?} and {second:?} overlap"
    );
    let (_, stderr) = env
        .skiff(&["run", "--rm", "--userns=auto:size=99999999", image, "true"])
        .assert_exit(125);
    assert!(stderr.contains("no 99999999 subordinate ids"), "{stderr}");
    env.skiff(&["rm", "-f", "auto-first"]).stdout();
}
