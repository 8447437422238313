//! `cp` both ways, on running and stopped containers, and `export`.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use crate::common::skiff_test;

fn tar_names(archive: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut reader = tar::Archive::new(archive);
    for entry in reader.entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    names
}

#[test]
fn cp_copies_both_ways_and_export_writes_the_whole_filesystem() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let source = env.path("tmp/src");
        std::fs::create_dir_all(source.join("sub")).unwrap();
        std::fs::write(source.join("a.txt"), "hello\n").unwrap();
        std::fs::write(source.join("sub/b.txt"), "deep\n").unwrap();
        std::os::unix::fs::symlink("a.txt", source.join("link")).unwrap();
        env.give(&env.path("tmp"));
        env.skiff(&["run", "-d", "--name", "box", image, "sleep", "600"])
            .stdout();
        // Into a running container: a directory goes into an existing one; root owns it all.
        let into = format!("{}", source.display());
        env.skiff(&["cp", &into, "box:/tmp"]).stdout();
        let listing = env
            .skiff(&["exec", "box", "sh", "-c", "cd /tmp/src && stat -c '%n %u:%g' a.txt sub/b.txt && readlink link && cat sub/b.txt"])
            .stdout();
        assert_eq!(listing, "a.txt 0:0\nsub/b.txt 0:0\na.txt\ndeep\n");
        // -a keeps the host owner's numbers.
        let host_uid = std::fs::metadata(source.join("a.txt")).unwrap().uid();
        env.skiff(&[
            "cp",
            "-a",
            &format!("{}/a.txt", source.display()),
            "box:/kept",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["exec", "box", "stat", "-c", "%u", "/kept"])
                .stdout(),
            format!("{host_uid}\n")
        );
        // Out of it: a file to a new name, a directory's contents into an existing directory.
        let out = env.path("tmp/out");
        std::fs::create_dir_all(&out).unwrap();
        env.give(&out);
        env.skiff(&[
            "cp",
            "box:/tmp/src/sub/b.txt",
            &format!("{}/copy.txt", out.display()),
        ])
        .stdout();
        assert_eq!(
            std::fs::read_to_string(out.join("copy.txt")).unwrap(),
            "deep\n"
        );
        env.skiff(&["cp", "box:/tmp/src/.", &format!("{}", out.display())])
            .stdout();
        assert_eq!(
            std::fs::read_to_string(out.join("a.txt")).unwrap(),
            "hello\n"
        );
        assert_eq!(
            std::fs::read_link(out.join("link")).unwrap().to_str(),
            Some("a.txt")
        );
        // - writes a tar archive of the source.
        let archive = env.skiff(&["cp", "box:/tmp/src", "-"]).output();
        assert!(archive.status.success());
        let names = tar_names(&archive.stdout);
        assert!(names.contains(&"src/sub/b.txt".to_string()), "{names:?}");
        // Paths that climb out of the root, and missing ones, are clear errors.
        let (_, err) = env
            .skiff(&["cp", "box:/../../etc/passwd", &format!("{}", out.display())])
            .assert_exit(125);
        assert!(err.contains("escapes the container's root"), "{err}");
        let (_, err) = env
            .skiff(&["cp", "box:/no/such", &format!("{}", out.display())])
            .assert_exit(125);
        assert!(err.contains("/no/such"), "{err}");
        let (_, err) = env
            .skiff(&["cp", &into, &format!("{}", out.display())])
            .assert_exit(125);
        assert!(err.contains("must name a container"), "{err}");
        // A stopped container is written through a mount of its own, and keeps the change.
        env.skiff(&["stop", "-t", "0", "box"]).stdout();
        env.skiff(&[
            "cp",
            &format!("{}/a.txt", source.display()),
            "box:/while-stopped",
        ])
        .stdout();
        env.skiff(&["start", "box"]).stdout();
        assert_eq!(
            env.skiff(&["exec", "box", "cat", "/while-stopped"])
                .stdout(),
            "hello\n"
        );
        // export: the image's files and the container's changes, none of /proc's.
        let exported = env.path("tmp/export.tar");
        env.give(&env.path("tmp"));
        env.skiff(&["export", "-o", exported.to_str().unwrap(), "box"])
            .stdout();
        let names = tar_names(&std::fs::read(&exported).unwrap());
        for expected in ["bin/busybox", "while-stopped", "kept", "tmp/src/a.txt"] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
        assert!(
            !names.iter().any(|n| n.starts_with("proc/")),
            "nothing of /proc"
        );
        let listing = Command::new("tar")
            .arg("-tvf")
            .arg(&exported)
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(
            listing
                .lines()
                .any(|l| l.ends_with("while-stopped") && l.contains(" 0/0 ")),
            "{listing}"
        );
        env.skiff(&["rm", "-f", "box"]).stdout();
    }
}
