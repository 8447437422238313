//! `run`, `create` + `start -a`: namespaces, ids, the process, exit codes, network, hardening.

use crate::common::{finish, skiff_test, until};

#[test]
fn rootless_uid_map_is_the_user_then_a_subordinate_range() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let out = env
        .skiff(&["run", "--rm", image, "cat", "/proc/self/uid_map"])
        .stdout();
    let lines: Vec<Vec<u64>> = out
        .lines()
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "expected the user and a subordinate range: {out}"
    );
    assert_eq!(lines[0], vec![0, u64::from(env.uid), 1]);
    assert_eq!((lines[1][0], lines[1][2]), (1, 65536));
    let gid_map = env
        .skiff(&["run", "--rm", image, "cat", "/proc/self/gid_map"])
        .stdout();
    assert_eq!(gid_map.lines().count(), 2, "{gid_map}");
}

#[test]
fn layer_ownership_whiteouts_opaque_dirs_setuid_and_hard_links_survive() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let script = "stat -c '%u:%g' /owned-by-1000; \
                      test -e /etc/to-be-deleted && echo visible || echo hidden; \
                      ls /var/opaque-dir; \
                      stat -c '%a' /suid-file; \
                      [ $(stat -c %i /hardlink) = $(stat -c %i /owned-by-1000) ] && echo linked";
        let out = env
            .skiff(&["run", "--rm", image, "sh", "-c", script])
            .stdout();
        assert_eq!(
            out, "1000:1000\nhidden\nupper-file\n4755\nlinked\n",
            "as root: {}",
            env.as_root
        );
    }
}

#[test]
fn exit_codes_follow_docker() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["run", "--rm", image, "sh", "-c", "exit 7"])
            .assert_exit(7);
        let (_, err) = env
            .skiff(&["run", "--rm", image, "no-such-command"])
            .assert_exit(127);
        assert!(err.contains("no-such-command"), "{err}");
        env.skiff(&["run", "--rm", image, "/not-executable"])
            .assert_exit(126);
        env.skiff(&["run", "--rm", image, "/etc"]).assert_exit(126);
        let (_, err) = env
            .skiff(&["run", "--rm", "--pull", "never", "no-such-image", "true"])
            .assert_exit(125);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("no-such-image"), "{err}");
        // Without --pull never, run tries the registry (unreachable here) and says so in one
        // error line that names the image.
        let (_, err) = env
            .skiff(&["run", "--rm", "no-such-image", "true"])
            .assert_exit(125);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains("no-such-image"), "{err}");
        env.skiff(&["run", "--rm", "--no-such-flag", image])
            .assert_exit(125);
        // A process killed by a signal: the shell reports 128 + signal, and so does skiff.
        env.skiff(&[
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "sh -c 'kill -9 $$'; exit $?",
        ])
        .assert_exit(137);
    }
}

#[test]
fn process_sees_pid_1_hostname_env_workdir_and_user() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        assert_eq!(
            env.skiff(&["run", "--rm", image, "sh", "-c", "echo $$"])
                .stdout(),
            "1\n"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", "--hostname", "x", image, "hostname"])
                .stdout(),
            "x\n"
        );
        let envfile = env.path("tmp/env");
        std::fs::write(&envfile, "FROM_FILE=1\n# comment\nOVERRIDE=file\n").unwrap();
        env.give(&envfile);
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "-e",
                "A=b c",
                "-e",
                "OVERRIDE=flag",
                "--env-file",
                envfile.to_str().unwrap(),
                image,
                "sh",
                "-c",
                "echo $A $FROM_IMAGE $FROM_FILE $OVERRIDE",
            ])
            .stdout();
        assert_eq!(out, "b c yes 1 flag\n");
        assert_eq!(
            env.skiff(&["run", "--rm", "-w", "/new/dir", image, "pwd"])
                .stdout(),
            "/new/dir\n"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", "-u", "1000", image, "id", "-u"])
                .stdout(),
            "1000\n"
        );
        assert_eq!(
            env.skiff(&[
                "run",
                "--rm",
                "-u",
                "tester",
                image,
                "sh",
                "-c",
                "id -un; id -G; echo $HOME"
            ])
            .stdout(),
            "tester\n1000 10\n/home/tester\n"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", "-u", "1000:10", image, "id", "-g"])
                .stdout(),
            "10\n"
        );
        // 126, as Podman's runtime gives a user the image does not have.
        env.skiff(&["run", "--rm", "-u", "nobody-here", image, "true"])
            .assert_exit(126);
    }
}

#[test]
fn command_replaces_cmd_and_entrypoint_replaces_both() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        assert_eq!(
            env.skiff(&["run", "--rm", image]).stdout(),
            "default command\n"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", image, "echo", "args"]).stdout(),
            "args\n"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", "--entrypoint", "/bin/echo", image])
                .stdout(),
            "\n"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", "--entrypoint", "/bin/echo", image, "a", "b"])
                .stdout(),
            "a b\n"
        );
    }
}

#[test]
fn terminal_stdin_and_interactive() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        assert_eq!(
            env.skiff(&["run", "--rm", "-t", image, "tty"])
                .stdout()
                .trim_end(),
            "/dev/pts/0"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", image, "tty"])
                .assert_exit(1)
                .0
                .trim(),
            "not a tty"
        );
        assert_eq!(
            env.skiff(&["run", "--rm", "-i", image, "cat"])
                .stdin("through stdin\n")
                .stdout(),
            "through stdin\n"
        );
        // Without -i the process reads /dev/null, as with Docker.
        assert_eq!(
            env.skiff(&["run", "--rm", image, "cat"])
                .stdin("ignored\n")
                .stdout(),
            ""
        );
    }
}

#[test]
fn filesystem_hardening_and_devices() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let script = "wc -c < /proc/keys; \
                      echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro; \
                      ls /dev | tr '\\n' ' '; echo; \
                      grep -E '^(CapEff|NoNewPrivs)' /proc/self/status | tr -s '\\t ' ' '";
        let out = env
            .skiff(&["run", "--rm", image, "sh", "-c", script])
            .stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0].trim(), "0", "/proc/keys is masked: {out}");
        assert_eq!(lines[1], "sys-ro");
        for device in [
            "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue",
        ] {
            assert!(
                lines[2].split(' ').any(|d| d == device),
                "/dev/{device} missing: {out}"
            );
        }
        assert_eq!(
            lines[3], "CapEff: 00000000800405fb",
            "Podman's default capabilities"
        );
        // Podman's default: setuid programs in the container work.
        assert_eq!(lines[4], "NoNewPrivs: 0");
        let mounts = env
            .skiff(&["run", "--rm", image, "cat", "/proc/mounts"])
            .stdout();
        assert!(
            mounts
                .lines()
                .next()
                .map(|root| root.starts_with("overlay / overlay")
                    || root.starts_with("skiff-overlay / fuse.skiff-overlay"))
                .unwrap(),
            "{mounts}"
        );
        assert!(
            mounts.contains("/sys sysfs ro") || mounts.contains(" /sys sysfs ro"),
            "{mounts}"
        );
    }
}

#[test]
fn the_root_is_writable_and_rm_throws_changes_away() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "echo data > /new-file && cat /new-file && rm /etc/passwd",
        ])
        .stdout();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                image,
                "sh",
                "-c",
                "test -e /new-file && echo kept || echo gone; test -e /etc/passwd && echo passwd",
            ])
            .stdout();
        assert_eq!(out, "gone\npasswd\n");
        assert_eq!(
            env.skiff(&["ps", "-a", "-q"]).stdout(),
            "",
            "--rm containers are removed"
        );
    }
}

/// A `--rm` container's files are deleted after skiff has returned, by a process of their own
/// (which held the container's mount namespace until then, and ends): those the container made
/// as another user and a closed directory too, with nothing left in the store.
#[test]
fn a_rm_containers_files_are_deleted_after_skiff_returns() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let name = format!("deleted-{}", env.uid);
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--name",
                &name,
                image,
                "sh",
                "-c",
                "mkdir -p /made/deep && echo x > /made/deep/f && chown -R 1000:1000 /made \
                 && chmod 000 /made/deep && echo done",
            ])
            .stdout();
        assert_eq!(out, "done\n");
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
        assert_eq!(env.staging_entries(), Vec::<String>::new());
        let containers = std::fs::read_dir(env.store_root().join("containers"))
            .unwrap()
            .count();
        assert_eq!(containers, 0);
        let pattern = format!("skiff.*--name {name} ");
        until("the deleting process ended", || {
            std::process::Command::new("pgrep")
                .args(["-f", &pattern])
                .output()
                .is_ok_and(|out| out.stdout.is_empty())
        });
    }
}

#[test]
fn create_then_start_attached_keeps_state_between_starts() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = env
            .skiff(&[
                "create",
                "--name",
                "job",
                image,
                "sh",
                "-c",
                "cat /count 2>/dev/null; echo x >> /count; exit 3",
            ])
            .stdout();
        assert_eq!(id.trim().len(), 64);
        env.skiff(&["start", "-a", "job"]).assert_exit(3);
        let (out, _) = env.skiff(&["start", "-a", &id.trim()[..12]]).assert_exit(3);
        assert_eq!(out, "x\n", "the second start sees the first one's file");
        let status = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                "job",
            ])
            .stdout();
        assert_eq!(status, "exited 3\n");
        assert!(env.skiff(&["ps", "-a"]).stdout().contains("Exited (3)"));
        env.skiff(&["create", "--name", "job", image, "true"])
            .assert_exit(125);
        env.skiff(&["rm", "job"]).stdout();
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
    }
}

#[test]
fn network_none_has_only_loopback() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        assert_eq!(
            env.skiff(&[
                "run",
                "--rm",
                "--network",
                "none",
                image,
                "ls",
                "/sys/class/net"
            ])
            .stdout(),
            "lo\n"
        );
    }
}

#[test]
fn network_host_shares_the_hosts_interfaces() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let inside = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "host",
                image,
                "ls",
                "/sys/class/net",
            ])
            .stdout();
        let mut host: Vec<String> = std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        host.sort();
        let mut seen: Vec<String> = inside.split_whitespace().map(String::from).collect();
        seen.sort();
        assert_eq!(seen, host);
    }
}

/// A one-shot HTTP server on the host's loopback; returns its port.
fn serve_once(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn default_network_is_private_with_outbound_connectivity() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let port = serve_once("reached the host");
    // pasta maps the gateway address to the host's loopback.
    // busybox-static's wget crashes in glibc's static NSS; nc needs no name service. nc's stdin
    // stays open until the reply is in: pasta 2023.06 does not pass the server's FIN on to a
    // container that half-closed first, and busybox nc's -w bounds only the connect.
    let script = format!("ls /sys/class/net | grep -v '^lo$' | head -1; gw=$(ip route | awk '/default/ {{print $3}}'); {{ printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 1; }} | timeout 20 nc $gw {port} | tail -1; echo");
    let out = env
        .skiff(&["run", "--rm", image, "sh", "-c", &script])
        .stdout();
    let mut lines = out.lines();
    assert!(
        lines.next().is_some_and(|l| !l.is_empty()),
        "a network interface besides lo: {out}"
    );
    assert_eq!(lines.next(), Some("reached the host"), "{out}");
}

#[test]
fn as_root_the_private_network_works_too() {
    let test = skiff_test!();
    let Some(env) = test.root() else {
        return;
    };
    let image = env.load_testbox();
    let out = env
        .skiff(&[
            "run",
            "--rm",
            image,
            "sh",
            "-c",
            "ip route | grep -c default; ls /sys/class/net | wc -l",
        ])
        .stdout();
    assert_eq!(
        out, "1\n2\n",
        "a default route and an interface besides lo: {out}"
    );
}

#[test]
fn signals_are_forwarded_to_the_container() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let child = env
            .skiff(&[
                "run",
                "--rm",
                image,
                "sh",
                "-c",
                "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.1; done",
            ])
            .spawn();
        let mut child = child;
        let pid = child.id();
        // Signal only once the trap is set: the script says so on its first line.
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
        assert_eq!(first, "ready\n");
        // When the tests are root, `child` is runuser; signal the skiff process under it.
        let target = std::process::Command::new("pgrep")
            .args(["-n", "-f", "^[^ ]*skiff run --rm.*trap"])
            .output()
            .unwrap();
        let skiff_pid = String::from_utf8_lossy(&target.stdout).trim().to_string();
        let skiff_pid = if skiff_pid.is_empty() {
            pid.to_string()
        } else {
            skiff_pid
        };
        std::process::Command::new("kill")
            .args(["-TERM", &skiff_pid])
            .status()
            .unwrap();
        let out = finish(child, "skiff run (signals)");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        assert_eq!(
            out.status.code(),
            Some(42),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(rest, "got-term\n");
    }
}

#[test]
fn container_processes_start_with_sigpipe_at_its_default_and_nothing_blocked() {
    let test = skiff_test!();
    // skiff's Rust runtime ignores SIGPIPE, and an ignored signal survives execve.
    const SIGPIPE_BIT: u64 = 1 << (13 - 1);
    for env in test.each_env() {
        let image = env.load_testbox();
        for init in [&[][..], &["--init"][..]] {
            let mut args = vec!["run", "--rm"];
            args.extend(init);
            args.extend([image, "sh", "-c"]);
            args.push("grep -E '^Sig(Ign|Blk)' /proc/self/status; yes | head -1");
            let (out, err) = env.skiff(&args).assert_exit(0);
            let mask = |name: &str| {
                let line = out.lines().find(|l| l.starts_with(name)).unwrap();
                u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
            };
            assert_eq!(mask("SigIgn:") & SIGPIPE_BIT, 0, "{init:?}: {out}");
            assert_eq!(mask("SigBlk:"), 0, "{init:?}: {out}");
            assert!(!err.contains("Broken pipe"), "{init:?}: {err}");
        }
    }
}

/// A script without `#!` runs under /bin/sh, as execvp and Podman's default runtime run it,
/// with its arguments.
#[test]
fn a_script_without_an_interpreter_line_runs_under_sh() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let script = env.write_given("scripts/plain", "echo ran as $0 with \"$@\"\n");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let dir = env.path("scripts").display().to_string();
        let out = env.run_output(
            image,
            &["-v", &format!("{dir}:/scripts")],
            &["/scripts/plain", "a", "b"],
        );
        assert_eq!(out, "ran as /scripts/plain with a b\n");
    }
}

#[test]
fn nothing_after_the_image_is_read_as_skiffs_flag() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // -c and -m are skiff's short flags too (--cpu-shares, --memory), as in Podman.
        assert_eq!(
            env.run_output(image, &["--entrypoint", "sh"], &["-c", "echo ran"]),
            "ran\n"
        );
        assert_eq!(
            env.run_output(image, &[], &["echo", "-c", "-m", "--memory"]),
            "-c -m --memory\n"
        );
        env.skiff(&["run", "--bogus", image, "true"])
            .refused("unknown flag: --bogus");
    }
}

#[test]
fn run_containerenv_tells_a_container_it_is_one() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        for flags in [
            &[][..],
            &["--tmpfs=/run"],
            &["--tmpfs=/run", "--init"],
            &["--read-only"],
        ] {
            let size = env.run_output(image, flags, &["stat", "-c", "%s", "/run/.containerenv"]);
            assert_eq!(size, "0\n", "{flags:?}");
        }
        // Not into a directory of the user's bound on /run.
        let own = env.path("own-run");
        std::fs::create_dir_all(&own).unwrap();
        env.give(&own);
        let bound = format!("{}:/run", own.display());
        env.skiff(&[
            "run",
            "--rm",
            "-v",
            &bound,
            image,
            "test",
            "-e",
            "/run/.containerenv",
        ])
        .assert_exit(1);
        assert!(!own.join(".containerenv").exists());
        // A privileged container may read what it is.
        let said = env.run_output(
            image,
            &["--privileged", "--name", "told"],
            &[
                "sh",
                "-c",
                ". /run/.containerenv; echo $engine $name $image $rootless",
            ],
        );
        let rootless = if env.as_root { 0 } else { 1 };
        assert_eq!(
            said,
            format!(
                "skiff-{} told {image} {rootless}\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        // The mount point does not become one of the container's changes.
        env.skiff(&["run", "--name", "changed", image, "true"])
            .stdout();
        let changes = env.skiff(&["diff", "changed"]).stdout();
        assert!(!changes.contains(".containerenv"), "{changes}");
    }
}

#[test]
fn run_keeps_podmans_small_contracts() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // Published ports a host, absent or shared network cannot have: Podman's line, first.
        env.skiff(&["run", "-d", "--name", "netowner", image, "sleep", "60"])
            .stdout();
        for (mode, network) in [
            ("host", "host"),
            ("none", "none"),
            ("container", "container:netowner"),
        ] {
            let (out, err) = env
                .skiff(&[
                    "run",
                    "--rm",
                    "-p",
                    "8080",
                    "--network",
                    network,
                    image,
                    "echo",
                    "ran",
                ])
                .assert_exit(0);
            assert_eq!(out, "ran\n");
            assert_eq!(
                err,
                format!("Port mappings have been discarded because \"{mode}\" network namespace mode does not support them\n")
            );
        }
        env.skiff(&["rm", "-f", "netowner"]).stdout();

        // containers.conf read_only, and --read-only=false over it.
        env.write_given(
            "config/containers/ro.conf",
            "[containers]\nread_only=true\n",
        );
        let conf = env.path("config/containers/ro.conf");
        let with_conf = |flags: &[&str], code: i32| {
            let mut args = vec!["run", "--rm"];
            args.extend(flags);
            args.extend([image, "touch", "/written"]);
            env.skiff_with_env(&[("CONTAINERS_CONF", conf.to_str().unwrap())], &[], &args)
                .assert_exit(code);
        };
        with_conf(&[], 1);
        with_conf(&["--read-only=false"], 0);

        // No log path with the none driver; sizes with a fraction, as Podman's units take them.
        env.skiff(&[
            "create",
            "--name",
            "quiet",
            "--log-driver",
            "none",
            image,
            "true",
        ])
        .stdout();
        let path = env
            .skiff(&["inspect", "--format", "{{.LogPath}}", "quiet"])
            .stdout();
        assert_eq!(path, "\n");
        env.skiff(&["rm", "quiet"]).stdout();
        env.skiff(&[
            "create",
            "--name",
            "sized",
            "--log-opt",
            "max-size=1.5k",
            image,
            "true",
        ])
        .stdout();
        let size = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.HostConfig.LogConfig.Size}}",
                "sized",
            ])
            .stdout();
        assert_eq!(size, "1536\n");
        env.skiff(&["rm", "sized"]).stdout();

        // Docker's /NAME is the name NAME; a name ending in / is refused.
        env.skiff(&["create", "--name", "/slashed", image, "true"])
            .stdout();
        let names = env.skiff(&["ps", "-a", "--format", "{{.Names}}"]).stdout();
        assert!(names.lines().any(|n| n == "slashed"), "{names}");
        env.skiff(&["rm", "/slashed"]).stdout();
        env.skiff(&["create", "--name", "bad/", image, "true"])
            .refused("invalid container name");
    }
}
