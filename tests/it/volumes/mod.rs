//! Volumes and mounts: binds (-v, --mount), named and anonymous volumes seeded from the image,
//! tmpfs, read-only roots, overlay binds, and the `volume` commands.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::common::{skiff_test, TestEnv};

mod userns;

/// A directory of the test's, holding `files`, that skiff's user may bind and write.
pub fn bind_dir(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = env.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, content) in files {
        std::fs::write(dir.join(file), content).unwrap();
    }
    env.give(&dir);
    dir
}

#[test]
fn binds_reach_the_host_and_ro_refuses_writes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let shared = bind_dir(&env, "shared", &[]);
        let bind = format!("{}:/work", shared.display());
        env.skiff(&[
            "run",
            "--rm",
            "-v",
            &bind,
            image,
            "sh",
            "-c",
            "echo from-container > /work/out",
        ])
        .stdout();
        let written = shared.join("out");
        assert_eq!(
            std::fs::read_to_string(&written).unwrap(),
            "from-container\n"
        );
        // Root in the container is the user (or root) on the host.
        assert_eq!(std::fs::metadata(&written).unwrap().uid(), env.uid);

        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "-v",
                &format!("{bind}:ro"),
                image,
                "sh",
                "-c",
                "echo x > /work/other",
            ])
            .assert_exit(1);
        assert!(stderr.contains("Read-only file system"), "{stderr}");
        assert!(!shared.join("other").exists());

        // -v makes a missing host directory; --mount type=bind refuses one, by name.
        let missing = env.path("made-by-v");
        env.skiff(&[
            "run",
            "--rm",
            "-v",
            &format!("{}:/m", missing.display()),
            image,
            "true",
        ])
        .stdout();
        assert!(missing.is_dir());
        let absent = env.path("absent");
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--mount",
                &format!("type=bind,source={},target=/m", absent.display()),
                image,
                "true",
            ])
            .assert_exit(125);
        assert!(
            stderr.contains("bind source path does not exist"),
            "{stderr}"
        );

        // --mount type=bind,readonly says the same as :ro.
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--mount",
                &format!("type=bind,src={},dst=/work,readonly", shared.display()),
                image,
                "touch",
                "/work/x",
            ])
            .assert_exit(1);
        assert!(stderr.contains("Read-only file system"), "{stderr}");

        // :O: the container changes its own layer over the directory, never the host's files.
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "-v",
                &format!("{bind}:O"),
                image,
                "sh",
                "-c",
                "echo changed > /work/out; rm -f /work/gone; cat /work/out",
            ])
            .stdout();
        assert_eq!(out, "changed\n");
        assert_eq!(
            std::fs::read_to_string(&written).unwrap(),
            "from-container\n"
        );
    }
}

#[test]
fn an_unreadable_bind_source_is_a_clear_error() {
    let test = skiff_test!();
    if test.lacks_root("making a directory the test user cannot read") {
        return;
    }
    // Only the unprivileged user is refused: root reads everything.
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let secret = env.path("secret");
    std::fs::create_dir_all(&secret).unwrap();
    std::os::unix::fs::chown(&secret, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (_, stderr) = env
        .skiff(&[
            "run",
            "--rm",
            "-v",
            &format!("{}:/s", secret.display()),
            image,
            "true",
        ])
        .assert_exit(125);
    assert!(stderr.contains("permission denied"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn named_volumes_keep_data_and_anonymous_ones_are_seeded() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_volumebox();
        env.skiff(&[
            "run",
            "--rm",
            "-v",
            "keep:/data",
            image,
            "sh",
            "-c",
            "echo persisted > /data/file",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&[
                "run",
                "--rm",
                "-v",
                "keep:/elsewhere",
                image,
                "cat",
                "/elsewhere/file"
            ])
            .stdout(),
            "persisted\n"
        );
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "keep\n");

        // The image's VOLUME gets an anonymous volume holding the image's files, owners kept.
        let id = env
            .skiff(&["create", "--name", "seeded", image, "sh", "-c", "stat -c '%u %a %n' /srv/seed/hello.txt /srv/seed/sub; cat /srv/seed/hello.txt; echo more > /srv/seed/added"])
            .stdout();
        assert!(!id.trim().is_empty());
        let out = env.skiff(&["start", "-a", "seeded"]).stdout();
        assert_eq!(
            out,
            "1000 640 /srv/seed/hello.txt\n1000 700 /srv/seed/sub\nseeded\n"
        );
        let anonymous = env
            .skiff(&[
                "inspect",
                "--format",
                "{{range .Mounts}}{{.Name}}{{end}}",
                "seeded",
            ])
            .stdout();
        let anonymous = anonymous.trim().to_string();
        assert_eq!(anonymous.len(), 64, "{anonymous}");
        let mountpoint = env
            .skiff(&[
                "volume",
                "inspect",
                "--format",
                "{{.Mountpoint}}",
                &anonymous,
            ])
            .stdout();
        assert_eq!(
            std::fs::read_to_string(std::path::Path::new(mountpoint.trim()).join("added")).unwrap(),
            "more\n"
        );

        // --volumes-from: the same volume at the same place, read-only when asked; no
        // anonymous volume of its own for the image's VOLUME there.
        let (stdout, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--volumes-from",
                "seeded:ro",
                image,
                "sh",
                "-c",
                "cat /srv/seed/added; touch /srv/seed/x",
            ])
            .assert_exit(1);
        assert_eq!(stdout, "more\n");
        assert!(stderr.contains("Read-only file system"), "{stderr}");
        assert_eq!(
            env.skiff(&["volume", "ls", "-q"]).stdout().lines().count(),
            2
        );

        // In use: refused, by name.
        let (_, stderr) = env.skiff(&["volume", "rm", &anonymous]).assert_exit(125);
        assert!(stderr.contains("seeded"), "{stderr}");
        // rm -v takes the anonymous volume with the container; the named one stays.
        env.skiff(&["rm", "-v", "seeded"]).stdout();
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "keep\n");
        // A second run gets a fresh copy; --rm removes it again.
        env.skiff(&["run", "--rm", image, "test", "-f", "/srv/seed/hello.txt"])
            .stdout();
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "keep\n");

        // export and import as tar, owners kept.
        env.skiff(&[
            "run",
            "--rm",
            "-v",
            "keep:/data",
            image,
            "chown",
            "1000",
            "/data/file",
        ])
        .stdout();
        let archive = env.path("keep.tar");
        env.skiff(&["volume", "export", "-o", archive.to_str().unwrap(), "keep"])
            .stdout();
        env.skiff(&["volume", "create", "copy"]).stdout();
        env.skiff(&["volume", "import", "copy", archive.to_str().unwrap()])
            .stdout();
        assert_eq!(
            env.skiff(&["run", "--rm", "-v", "copy:/c", image, "stat", "-c", "%u %n", "/c/file"])
                .stdout(),
            "1000 /c/file\n"
        );

        // A local volume bound to a host directory (--opt type=none,o=bind,device=DIR).
        let backing = bind_dir(&env, "backing", &[]);
        let device = format!("device={}", backing.display());
        env.skiff(&[
            "volume",
            "create",
            "--opt",
            "type=none",
            "--opt",
            "o=bind",
            "--opt",
            &device,
            "bound",
        ])
        .stdout();
        env.skiff(&[
            "run",
            "--rm",
            "-v",
            "bound:/b",
            image,
            "sh",
            "-c",
            "echo via-volume > /b/f",
        ])
        .stdout();
        assert_eq!(
            std::fs::read_to_string(backing.join("f")).unwrap(),
            "via-volume\n"
        );
        let (_, stderr) = env
            .skiff(&["volume", "create", "--opt", "device=/dev/sda1", "raw"])
            .assert_exit(125);
        assert!(stderr.contains("o=bind"), "{stderr}");

        // nocopy: the volume starts empty.
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "-v",
                "empty:/srv/seed:nocopy",
                image,
                "ls",
                "-A",
                "/srv/seed",
            ])
            .stdout();
        assert_eq!(out, "");

        assert!(env
            .skiff(&["volume", "exists", "keep"])
            .output()
            .status
            .success());
        assert_eq!(
            env.skiff(&["volume", "exists", "nope"])
                .output()
                .status
                .code(),
            Some(1)
        );
        let (_, stderr) = env.skiff(&["volume", "inspect", "nope"]).assert_exit(125);
        assert!(stderr.contains("no such volume nope"), "{stderr}");
        env.skiff(&["volume", "create", "--label", "team=a", "labelled"])
            .stdout();
        assert_eq!(
            env.skiff(&["volume", "ls", "-q", "--filter", "label=team=a"])
                .stdout(),
            "labelled\n"
        );
        let mut pruned: Vec<String> = env
            .skiff(&["volume", "prune", "-f"])
            .stdout()
            .lines()
            .map(String::from)
            .collect();
        pruned.sort();
        assert_eq!(pruned, ["bound", "copy", "empty", "keep", "labelled"]);
        assert!(
            backing.join("f").exists(),
            "a bound volume's directory stays"
        );
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "");
    }
}

#[test]
fn read_only_roots_and_tmpfs_mounts() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--read-only", image, "touch", "/file"])
            .assert_exit(1);
        assert!(stderr.contains("Read-only file system"), "{stderr}");
        for writable in ["/tmp", "/var/tmp", "/run"] {
            env.skiff(&[
                "run",
                "--rm",
                "--read-only",
                image,
                "touch",
                &format!("{writable}/file"),
            ])
            .stdout();
        }
        env.skiff(&[
            "run",
            "--rm",
            "--read-only",
            "--read-only-tmpfs=false",
            image,
            "touch",
            "/tmp/file",
        ])
        .assert_exit(1);

        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--tmpfs",
                "/scratch:size=2m,mode=1770",
                image,
                "sh",
                "-c",
                "stat -c %a /scratch; df -k /scratch | tail -1",
            ])
            .stdout();
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("1770"), "{out}");
        let size: u64 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        assert_eq!(size, 2048, "{out}");
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--mount",
                "type=tmpfs,target=/t,tmpfs-size=1m",
                image,
                "sh",
                "-c",
                "grep ' /t ' /proc/mounts",
            ])
            .stdout();
        assert!(out.contains("tmpfs") && out.contains("size=1024k"), "{out}");
    }
}

#[test]
fn devices_the_user_can_open_are_bound_in() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--device",
                "/dev/null:/dev/sink",
                image,
                "sh",
                "-c",
                "echo x > /dev/sink && stat -c '%t:%T' /dev/sink",
            ])
            .stdout();
        assert_eq!(out, "1:3\n");
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--device",
                "/dev/null:/dev/sink:r",
                image,
                "true",
            ])
            .assert_exit(125);
        assert!(stderr.contains("device cgroup"), "{stderr}");
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--device", "/etc/hostname", image, "true"])
            .assert_exit(125);
        assert!(stderr.contains("not a device node"), "{stderr}");
        let kmsg_writable_by_all =
            std::fs::metadata("/dev/kmsg").is_ok_and(|m| m.mode() & 0o002 != 0);
        if !env.as_root && !kmsg_writable_by_all {
            // /dev/kmsg is root's to write.
            let (_, stderr) = env
                .skiff(&["run", "--rm", "--device", "/dev/kmsg", image, "true"])
                .assert_exit(125);
            assert!(stderr.contains("permission denied"), "{stderr}");
        }
    }
}

#[test]
fn u_gives_a_bind_to_the_containers_user() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = bind_dir(&env, "given", &[("f", "data\n")]);
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--user",
                "1000:1000",
                "-v",
                &format!("{}:/d:U", dir.display()),
                image,
                "sh",
                "-c",
                "stat -c %u:%g /d /d/f && echo more >> /d/f",
            ])
            .stdout();
        assert_eq!(out, "1000:1000\n1000:1000\n");
        let owner = std::fs::metadata(dir.join("f")).unwrap().uid();
        if env.as_root {
            assert_eq!(owner, 1000);
        } else {
            // A subordinate id of the user's on the host.
            assert_ne!(owner, env.uid);
        }
    }
}

#[test]
fn an_image_mounted_read_only_or_with_throwaway_changes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let other = env.load_volumebox();
        let mount = format!("type=image,source={other},target=/other");
        let (stdout, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--mount",
                &mount,
                image,
                "sh",
                "-c",
                "cat /other/srv/seed/hello.txt; touch /other/x",
            ])
            .assert_exit(1);
        assert_eq!(stdout, "seeded\n");
        assert!(stderr.contains("Read-only file system"), "{stderr}");
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--mount",
                "type=image,source=nope,target=/n",
                image,
                "true",
            ])
            .assert_exit(125);
        assert!(stderr.contains("nope"), "{stderr}");
        // rw=true: writable, and the changes go with the container, not into the image.
        let writable = format!("{mount},rw=true");
        let script = "echo changed > /other/srv/seed/hello.txt && rm /other/etc/passwd && \
            cat /other/srv/seed/hello.txt && test ! -e /other/etc/passwd && echo gone";
        let out = env
            .skiff(&[
                "run", "--rm", "--mount", &writable, image, "sh", "-c", script,
            ])
            .stdout();
        assert_eq!(out, "changed\ngone\n");
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--mount",
                &mount,
                image,
                "cat",
                "/other/srv/seed/hello.txt",
            ])
            .stdout();
        assert_eq!(out, "seeded\n");
    }
}
