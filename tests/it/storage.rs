//! Storage drivers (`--storage-driver`, `$STORAGE_DRIVER`): skiff's FUSE union seen from inside
//! a container, containers moving between it and the kernel's overlay, the server's life, vfs.

use crate::common::{finish, skiff_test, until, TestEnv};

/// What a container sees of the changes the union test makes, listed the same way by either
/// overlay driver.
const VIEW: &str = "test -e /etc/to-be-deleted && echo deleted-visible; \
    test -e /owned-by-1000 && echo removed-visible; \
    ls /var/opaque-dir; cat /renamed; \
    [ $(stat -c %h /linked) = 2 ] && echo linked; \
    readlink /symlink; stat -c '%u:%g %a' /etc/group";

const CHANGES: &str = "echo changed >> /etc/passwd && rm /owned-by-1000 && \
    rm -rf /var/opaque-dir && mkdir /var/opaque-dir && echo fresh > /var/opaque-dir/new && \
    echo moved > /tmp/f && mv /tmp/f /renamed && ln /etc/passwd /linked && \
    ln -s /etc/passwd /symlink && chown 1000:10 /etc/group && chmod 600 /etc/group && \
    mv /home /home-moved && mkfifo /fifo && test -p /fifo";

const EXPECTED_VIEW: &str = "new\nmoved\nlinked\n/etc/passwd\n1000:10 600\n";

fn pids_of_servers(env: &TestEnv) -> Vec<String> {
    // The servers of this test's containers: processes named skiff-overlay holding a file
    // under this test's directory.
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim() != "skiff-overlay" {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .any(|target| target.starts_with(&env.dir))
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn the_fuse_overlay_copies_up_whiteouts_renames_links_and_checks_permissions() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let out = env
            .skiff(&[
                "--storage-driver",
                "fuse-overlay",
                "run",
                "--name",
                "u",
                image,
                "sh",
                "-c",
                &format!(
                    "{CHANGES} && {VIEW} && tail -n 1 /etc/passwd && test -d /home-moved/tester && \
                     df / | tail -n 1 | wc -l"
                ),
            ])
            .stdout();
        assert_eq!(
            out,
            format!("{EXPECTED_VIEW}changed\n1\n"),
            "as root: {}",
            env.as_root
        );
        // The lower layer is as it was: a new container sees the image's file.
        let fresh = env
            .skiff(&[
                "--storage-driver",
                "fuse-overlay",
                "run",
                "--rm",
                image,
                "sh",
                "-c",
                "grep -c changed /etc/passwd; cat /var/opaque-dir/upper-file",
            ])
            .stdout();
        assert_eq!(fresh, "0\nupper\n");
        // The container's user is checked as the kernel would check it.
        let (_, err) = env
            .skiff(&[
                "--storage-driver",
                "fuse-overlay",
                "run",
                "--rm",
                "--user",
                "1000",
                image,
                "sh",
                "-c",
                "echo x >> /etc/passwd",
            ])
            .assert_exit(1);
        assert!(err.contains("ermission denied"), "{err}");
        let mine = env
            .skiff(&[
                "--storage-driver",
                "fuse-overlay",
                "run",
                "--rm",
                "--user",
                "1000:1000",
                image,
                "sh",
                "-c",
                "echo ok >> /owned-by-1000 && touch /tmp/new && stat -c '%u:%g' /tmp/new && tail -n 1 /owned-by-1000",
            ])
            .stdout();
        assert_eq!(mine, "1000:1000\nok\n");
        env.skiff(&["rm", "u"]).stdout();
    }
}

#[test]
fn attributes_pass_through_the_fuse_overlay_but_its_own_stay_hidden() {
    let test = skiff_test!();
    // Only root's run can reach the container's files from outside (no setfattr in busybox).
    let Some(env) = test.root() else {
        return;
    };
    let image = env.load_testbox();
    let id = env
        .skiff(&[
            "--storage-driver",
            "fuse-overlay",
            "run",
            "-d",
            image,
            "sh",
            "-c",
            "rm -rf /var/opaque-dir; mkdir /var/opaque-dir; sleep 1000",
        ])
        .stdout();
    let id = id.trim();
    let pid = env
        .skiff(&["inspect", "--format", "{{.State.Pid}}", id])
        .stdout();
    let root = format!("/proc/{}/root", pid.trim());
    until("the container's changes", || {
        std::path::Path::new(&format!("{root}/var/opaque-dir")).exists()
            && !std::path::Path::new(&format!("{root}/var/opaque-dir/upper-file")).exists()
    });
    let script = format!(
        "import os\n\
         p = '{root}/etc/passwd'\n\
         os.setxattr(p, 'user.test', b'value')\n\
         print(os.getxattr(p, 'user.test').decode())\n\
         print(sorted(os.listxattr('{root}/var/opaque-dir')))\n\
         try:\n    os.setxattr(p, 'user.overlay.opaque', b'y')\nexcept PermissionError:\n    print('refused')\n"
    );
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "value\n[]\nrefused\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // On disk, the copy-up carries the attribute and the new directory is opaque.
    let upper = env.store_root().join(format!("containers/{id}/upper"));
    let read = |path: &std::path::Path, name: &str| {
        let mut value = [0u8; 16];
        rustix::fs::lgetxattr(path, name, &mut value[..]).map(|n| value[..n].to_vec())
    };
    assert_eq!(
        read(&upper.join("etc/passwd"), "user.test").unwrap(),
        b"value"
    );
    assert_eq!(
        read(&upper.join("var/opaque-dir"), "user.overlay.opaque").unwrap(),
        b"y"
    );
    env.skiff(&["rm", "-f", id]).stdout();
    assert!(pids_of_servers(&env).is_empty());
}

#[test]
fn containers_move_between_the_kernel_and_the_fuse_overlay() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "--storage-driver",
            "overlay",
            "create",
            "--name",
            "m",
            image,
            "sh",
            "-c",
            &format!("test -e /renamed || ({CHANGES}); {VIEW}"),
        ])
        .stdout();
        let kernel = env
            .skiff(&["--storage-driver", "overlay", "start", "-a", "m"])
            .stdout();
        assert_eq!(kernel, EXPECTED_VIEW);
        let fuse = env
            .skiff(&["--storage-driver", "fuse-overlay", "start", "-a", "m"])
            .stdout();
        assert_eq!(fuse, EXPECTED_VIEW);
        // And back: a container made with fuse-overlay starts with the kernel's.
        env.skiff(&[
            "--storage-driver",
            "fuse-overlay",
            "create",
            "--name",
            "fuse-made",
            image,
            "sh",
            "-c",
            &format!("test -e /renamed || ({CHANGES}); {VIEW}"),
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["start", "-a", "fuse-made"]).stdout(),
            EXPECTED_VIEW
        );
        let kernel = env
            .skiff(&["--storage-driver", "overlay", "start", "-a", "fuse-made"])
            .stdout();
        assert_eq!(kernel, EXPECTED_VIEW);
        // vfs cannot read an overlay's changes: the container keeps its own driver.
        let kept = env
            .skiff(&["--storage-driver", "vfs", "start", "-a", "fuse-made"])
            .stdout();
        assert_eq!(kept, EXPECTED_VIEW);
        env.skiff(&["rm", "m", "fuse-made"]).stdout();
    }
}

#[test]
fn the_fuse_server_ends_with_its_container() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let fuse = |args: &[&str]| {
            let mut all = vec!["--storage-driver", "fuse-overlay"];
            all.extend_from_slice(args);
            env.skiff(&all)
        };
        fuse(&["run", "--rm", image, "true"]).stdout();
        until("the server to go after a normal exit", || {
            pids_of_servers(&env).is_empty()
        });

        fuse(&["run", "-d", "--name", "s", image, "sleep", "1000"]).stdout();
        assert_eq!(pids_of_servers(&env).len(), 1);
        // exec joins the container's mounts, and cp reads them.
        fuse(&["exec", "s", "sh", "-c", "echo via-exec > /x"]).stdout();
        assert_eq!(fuse(&["exec", "s", "cat", "/x"]).stdout(), "via-exec\n");
        env.skiff(&["stop", "-t", "0", "s"]).stdout();
        until("the server to go after stop", || {
            pids_of_servers(&env).is_empty()
        });
        // cp and export mount the union for themselves, and their servers go with them.
        let exported = fuse(&["export", "s"]).output();
        assert!(exported.status.success());
        until("the server to go after export", || {
            pids_of_servers(&env).is_empty()
        });

        fuse(&["start", "s"]).stdout();
        let pid = env
            .skiff(&["inspect", "--format", "{{.State.Pid}}", "s"])
            .stdout();
        std::process::Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        until("the server to go after kill -9 of the container", || {
            pids_of_servers(&env).is_empty()
        });

        let child = fuse(&["run", "--name", "fuse-life-k", image, "sleep", "1000"]).spawn();
        until("the foreground container's server", || {
            pids_of_servers(&env).len() == 1
        });
        // The runuser wrapper or skiff itself: kill every skiff of this test's run.
        std::process::Command::new("pkill")
            .args(["-KILL", "-f", "--", "run --name fuse-life-k"])
            .status()
            .unwrap();
        let _ = finish(child, "skiff run");
        until("the server to go after kill -9 of skiff run", || {
            pids_of_servers(&env).is_empty()
        });
        env.skiff(&["rm", "-f", "s", "fuse-life-k"]).output();
    }
}

#[test]
fn vfs_copies_the_merged_layers_once_and_keeps_changes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "--storage-driver",
            "vfs",
            "create",
            "--name",
            "v",
            image,
            "sh",
            "-c",
            "cat /count 2>/dev/null; echo again >> /count; \
             test -e /etc/to-be-deleted && echo deleted-visible; ls /var/opaque-dir; stat -c %u /owned-by-1000",
        ])
        .stdout();
        let first = env.skiff(&["start", "-a", "v"]).stdout();
        assert_eq!(first, "upper-file\n1000\n");
        // Another default does not move it: its root is its copy.
        let second = env
            .skiff(&["--storage-driver", "fuse-overlay", "start", "-a", "v"])
            .stdout();
        assert_eq!(second, "again\nupper-file\n1000\n");
        let upper = env.store_root().join("containers");
        let id = env.skiff(&["inspect", "--format", "{{.Id}}", "v"]).stdout();
        assert!(upper.join(id.trim()).join("vfs/count").exists());
        // As Podman's vfs driver names itself.
        let driver = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.Driver}} {{.GraphDriver.Name}}",
                "v",
            ])
            .stdout();
        assert_eq!(driver, "vfs vfs\n");
        let exported = env.skiff(&["export", "v"]).output();
        assert!(exported.status.success());
        env.skiff(&["rm", "v"]).stdout();
    }
}

#[test]
fn keep_id_works_through_the_fuse_overlay() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let out = env
        .skiff(&[
            "--storage-driver",
            "fuse-overlay",
            "run",
            "--rm",
            "--userns=keep-id",
            "--user",
            "0",
            image,
            "sh",
            "-c",
            "stat -c '%u:%g' /owned-by-1000 /not-executable; echo x >> /not-executable; \
             stat -c '%u:%g' /not-executable",
        ])
        .stdout();
    assert_eq!(out, "1000:1000\n0:0\n0:0\n");
}

#[test]
fn an_unknown_storage_driver_is_refused() {
    let test = skiff_test!();
    for env in test.each_env() {
        let (_, err) = env
            .skiff(&["--storage-driver", "btrfs", "ps"])
            .assert_exit(125);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("Error: unknown storage driver"), "{err}");
    }
}

/// What the vfs change tests do to the test image: a file and a directory tree added, a file
/// changed, one deleted, a directory of the layers replaced, a symlink, a hard link to a file of
/// the layers, a chmod only and a chown only.
const VFS_ACTIONS: &str =
    "echo added > /added && mkdir -p /new-dir/sub && echo deep > /new-dir/sub/file && \
    echo changed >> /etc/passwd && rm /suid-file && \
    rm -rf /var/opaque-dir && mkdir /var/opaque-dir && echo fresh > /var/opaque-dir/new && \
    ln -s /etc/passwd /symlink && ln /not-executable /linked && \
    chmod 600 /etc/group && chown 10:10 /home/tester";

/// Each file of a container (but the standard mounts and the files skiff writes for it): its
/// type, mode, owner, link count, and for all but directories its size and content digest.
const LISTING: &str = "cd / && skip='( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \
    -o -path ./etc/hosts -o -path ./etc/hostname -o -path ./etc/resolv.conf ) -prune -o' && \
    { find . $skip -type d -exec stat -c '%N %F %a %u:%g' {} + && \
    find . $skip ! -type d -exec stat -c '%N %F %a %u:%g %h %s' {} + && \
    find . $skip -type f -exec md5sum {} +; } | sort";

#[test]
fn vfs_diff_commit_and_size_match_the_overlay_driver() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let mut diffs = Vec::new();
        let mut listings = Vec::new();
        let mut sizes = Vec::new();
        for driver in ["overlay", "vfs"] {
            let name = format!("changes-{driver}");
            env.skiff(&[
                "--storage-driver",
                driver,
                "run",
                "--name",
                &name,
                image,
                "sh",
                "-c",
                VFS_ACTIONS,
            ])
            .stdout();
            diffs.push(env.skiff(&["diff", &name]).stdout());
            sizes.push(
                env.skiff(&[
                    "ps",
                    "-a",
                    "--size",
                    "--filter",
                    &format!("name={name}"),
                    "--format",
                    "{{.Size}}",
                ])
                .stdout(),
            );
            let committed = format!("localhost/committed-{driver}");
            env.skiff(&["--storage-driver", driver, "commit", &name, &committed])
                .stdout();
            // Both images read through one driver, so only their layers can differ.
            listings.push(
                env.skiff(&["run", "--rm", &committed, "sh", "-c", LISTING])
                    .stdout(),
            );
        }
        assert_eq!(
            diffs[0],
            "A /added\nC /etc\nC /etc/group\nC /etc/passwd\nC /home\nC /home/tester\n\
             A /linked\nA /new-dir\nA /new-dir/sub\nA /new-dir/sub/file\nC /not-executable\n\
             D /suid-file\nA /symlink\nC /var\nC /var/opaque-dir\nA /var/opaque-dir/new\n",
            "as root: {}",
            env.as_root
        );
        assert_eq!(diffs[1], diffs[0], "vfs diff, as root: {}", env.as_root);
        assert!(!sizes[0].starts_with("0B"), "{}", sizes[0]);
        assert_eq!(sizes[1], sizes[0], "vfs size, as root: {}", env.as_root);
        for expected in [
            "./linked regular file 644 0:0 2 18\n",
            "'./symlink' -> '/etc/passwd' symbolic link 777 0:0 1 11\n",
            "./etc/group regular file 600 0:0 1 43\n",
            "./home/tester directory 755 10:10\n",
            "./var/opaque-dir/new regular file 644 0:0 1 6\n",
        ] {
            assert!(
                listings[0].contains(expected),
                "{expected}: {}",
                listings[0]
            );
        }
        assert!(!listings[0].contains("suid-file"), "{}", listings[0]);
        assert!(!listings[0].contains("upper-file"), "{}", listings[0]);
        assert_eq!(
            listings[1], listings[0],
            "vfs commit, as root: {}",
            env.as_root
        );
        env.skiff(&["rm", "changes-overlay", "changes-vfs"])
            .stdout();
    }
}

#[test]
fn a_build_under_vfs_keeps_what_its_run_steps_change() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = env.build_context(
            "context",
            &[(
                "Containerfile",
                &format!(
                    "FROM {image}\n\
                     RUN echo added > /added && echo changed >> /etc/passwd && rm /suid-file\n\
                     RUN rm -rf /var/opaque-dir && mkdir /var/opaque-dir && \
                     echo fresh > /var/opaque-dir/new && chmod 600 /etc/group && \
                     ln -s /added /symlink\n"
                ),
            )],
        );
        env.skiff_with_env(
            &[("STORAGE_DRIVER", "vfs")],
            &[],
            &["build", "-t", "vfs-built", &dir],
        )
        .stdout();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "vfs-built",
                "sh",
                "-c",
                "cat /added; tail -n 1 /etc/passwd; test -e /suid-file || echo deleted; \
                 ls /var/opaque-dir; stat -c %a /etc/group; readlink /symlink",
            ])
            .stdout();
        assert_eq!(
            out, "added\nchanged\ndeleted\nnew\n600\n/added\n",
            "as root: {}",
            env.as_root
        );
    }
}

#[test]
fn vfs_changes_read_right_under_keep_id_and_nested_user_namespaces() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    for userns in ["keep-id", "auto"] {
        let mut seen = Vec::new();
        for driver in ["overlay", "vfs"] {
            let name = format!("{userns}-{driver}");
            let userns_flag = format!("--userns={userns}");
            env.skiff(&[
                "--storage-driver",
                driver,
                "run",
                "--name",
                &name,
                &userns_flag,
                image,
                "sh",
                "-c",
                "echo new > /tmp/new",
            ])
            .stdout();
            // The layers' owners, moved for the container, are no change.
            assert_eq!(
                env.skiff(&["diff", &name]).stdout(),
                "C /tmp\nA /tmp/new\n",
                "{name}"
            );
            let committed = format!("localhost/{name}");
            env.skiff(&["commit", &name, &committed]).stdout();
            seen.push(
                env.skiff(&[
                    "run",
                    "--rm",
                    &committed,
                    "stat",
                    "-c",
                    "%n %u:%g %a",
                    "/tmp/new",
                    "/etc/group",
                    "/owned-by-1000",
                ])
                .stdout(),
            );
            env.skiff(&["rm", &name]).stdout();
        }
        assert!(
            seen[0].contains("/owned-by-1000 1000:1000 644"),
            "{}",
            seen[0]
        );
        assert_eq!(seen[1], seen[0], "--userns={userns}");
    }
}

#[test]
fn overlay_falls_back_to_the_fuse_union_where_the_kernel_refused_it() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    // What the probe remembers for this boot when the kernel refuses an overlay in the user
    // namespace (a kernel before 5.11, a store on a file system overlayfs cannot use).
    let remembered = env.path("run/skiff/kernel-overlay");
    std::fs::write(&remembered, "no\n").unwrap();
    env.give(&remembered);
    let unforced = |args: &[&str]| env.skiff_with_env(&[], &["STORAGE_DRIVER"], args).stdout();
    assert_eq!(
        unforced(&["info", "--format", "{{.Store.GraphDriverName}}"]),
        "fuse-overlay\n"
    );
    let root = unforced(&["run", "--rm", image, "grep", " / ", "/proc/mounts"]);
    assert!(
        root.starts_with("skiff-overlay / fuse.skiff-overlay"),
        "{root}"
    );
    // Without a usable /dev/fuse either, vfs is the last resort (a root-made namespace).
    let Some(without_fuse) = env.skiff_without_fuse(&["run", "--name", "copied", image, "true"])
    else {
        return;
    };
    without_fuse.stdout();
    let driver = env
        .skiff(&["inspect", "--format", "{{.Driver}}", "copied"])
        .stdout();
    assert_eq!(driver, "vfs\n");
}

#[test]
fn a_container_that_writes_nothing_leaves_nothing_in_its_upper_directory() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // The test image has none of /proc, /sys, /dev, /etc/hosts, /etc/hostname and
        // /etc/resolv.conf: the overlay finds them in the mount-point skeleton below the image
        // instead of making them in the container's upper directory at each start.
        let listing = env
            .skiff(&[
                "run",
                "--rm",
                image,
                "ls",
                "-d",
                "/etc/hosts",
                "/proc/1",
                "/sys/kernel",
            ])
            .stdout();
        assert_eq!(listing, "/etc/hosts\n/proc/1\n/sys/kernel\n");
        let id = env
            .skiff(&["create", "--network", "none", image, "true"])
            .stdout();
        env.skiff(&["start", "-a", id.trim()]).assert_exit(0);
        let upper = env
            .store_root()
            .join("containers")
            .join(id.trim())
            .join("upper");
        let made: Vec<_> = std::fs::read_dir(&upper)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(made.is_empty(), "{made:?} in {}", upper.display());
        // The image's own /etc/hosts is kept where it has one, and a container that leaves
        // /etc/hosts to the image (--no-hosts) does not get the skeleton's empty one.
        env.skiff(&[
            "run",
            "--rm",
            "--no-hosts",
            image,
            "test",
            "!",
            "-e",
            "/etc/hosts",
        ])
        .assert_exit(0);
    }
}
