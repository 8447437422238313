//! `run` and `create` flags a script types around the container itself: `--cidfile` and
//! `--replace`, with Podman 4.3.1's behaviour and words.

use crate::common::skiff_test;

#[test]
fn cidfile_gets_the_id_and_must_not_exist() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let file = env.path("tmp/created.cid");
        let file_arg = file.to_str().unwrap();
        let id = env
            .skiff(&["create", "--cidfile", file_arg, image, "true"])
            .stdout();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), id.trim());
        let (_, stderr) = env
            .skiff(&["create", "--cidfile", file_arg, image, "true"])
            .assert_exit(125);
        assert_eq!(
            stderr,
            format!(
                "Error: container id file exists. Ensure another container is not using it or delete {file_arg}\n"
            )
        );
        assert_eq!(
            env.skiff(&["ps", "-a", "-q", "--no-trunc"]).stdout(),
            id,
            "nothing else was created"
        );
        let ran = env.path("tmp/ran.cid");
        env.skiff(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--cidfile",
            ran.to_str().unwrap(),
            image,
            "true",
        ])
        .stdout();
        let ran_id = std::fs::read_to_string(&ran).unwrap();
        assert!(
            ran_id.len() == 64 && ran_id.chars().all(|c| c.is_ascii_hexdigit()),
            "{ran_id:?}"
        );
        env.skiff(&["rm", id.trim()]).stdout();
    }
}

#[test]
fn replace_takes_the_name_from_a_container_running_or_not() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["create", "--name", "named", image, "true"])
            .stdout();
        env.skiff(&["create", "--name", "named", image, "true"])
            .refused("already in use");
        env.skiff(&[
            "create",
            "--replace",
            "--name",
            "named",
            image,
            "echo",
            "replaced",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["ps", "-a", "--format", "{{.Names}} {{.Command}}"])
                .stdout(),
            "named echo replaced\n"
        );
        env.skiff(&["rm", "named"]).stdout();
        env.skiff(&["run", "-d", "--name", "busy", image, "sleep", "60"])
            .stdout();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--replace",
                "--name",
                "busy",
                "--network",
                "none",
                image,
                "echo",
                "took it",
            ])
            .stdout();
        assert_eq!(out, "took it\n");
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
    }
}

/// The container's environment, with Podman's rules: `--unsetenv` and `--unsetenv-all` leave
/// out defaults but never `--env`; `--env-host` brings skiff's own, under `--env`.
#[test]
fn environment_flags_leave_out_defaults_and_bring_the_hosts() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let environment = |extra: &[&str], host: &[(&str, &str)]| {
            let mut args = vec!["run", "--rm", "--network", "none"];
            args.extend_from_slice(extra);
            args.extend_from_slice(&[image, "/bin/env"]);
            let out = env.skiff_with_env(host, &[], &args).stdout();
            let mut keys: Vec<String> = out
                .lines()
                .filter(|line| !line.starts_with("HOSTNAME=") && !line.starts_with("HOME="))
                .map(String::from)
                .collect();
            keys.sort();
            keys.join(" ")
        };
        assert!(environment(&[], &[]).contains("PATH=/usr/local/sbin"));
        assert_eq!(
            environment(&["--unsetenv", "PATH", "-e", "A=1"], &[]),
            "A=1 FROM_IMAGE=yes container=skiff"
        );
        assert_eq!(
            environment(&["--unsetenv", "PATH", "--unsetenv", "FROM_IMAGE"], &[]),
            "container=skiff"
        );
        assert_eq!(
            environment(&["--unsetenv-all", "-e", "A=1", "--unsetenv", "A"], &[]),
            "A=1"
        );
        let hosts = environment(
            &["--env-host", "-e", "FLAG=wins"],
            &[("FROM_HOST", "yes"), ("FLAG", "host")],
        );
        assert!(hosts.contains("FROM_HOST=yes"), "{hosts}");
        assert!(
            hosts.contains("FLAG=wins") && !hosts.contains("FLAG=host"),
            "{hosts}"
        );
    }
}

/// `--env-merge` rewrites a default from its value (Podman's word rules); `--http-proxy`, on
/// unless the flag or containers.conf says otherwise, passes skiff's proxy variables;
/// `--disable-content-trust` is taken and changes nothing, as in Podman.
#[test]
fn env_merge_and_http_proxy() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let variables = |extra: &[&str]| {
            let args = [
                &["run", "--rm", "--network", "none"],
                extra,
                &[image, "/bin/env"],
            ]
            .concat();
            let host = [
                ("http_proxy", "http://proxy.example:3128"),
                ("NO_PROXY", "localhost"),
            ];
            let out = env.skiff_with_env(&host, &[], &args).stdout();
            let mut lines: Vec<String> = out.lines().map(String::from).collect();
            lines.sort();
            lines
        };
        let merged = variables(&[
            "--env-merge",
            "PATH=/opt/bin:${PATH}",
            "--env-merge",
            "FROM_IMAGE=${FROM_IMAGE}-merged",
            "--env-merge",
            "UNSET=${NOT_THERE:-fallback}",
            "--disable-content-trust",
        ]);
        assert!(
            merged.contains(
                &"PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                    .to_string()
            ),
            "{merged:?}"
        );
        assert!(
            merged.contains(&"FROM_IMAGE=yes-merged".to_string()),
            "{merged:?}"
        );
        assert!(merged.contains(&"UNSET=fallback".to_string()), "{merged:?}");
        assert!(
            merged.contains(&"http_proxy=http://proxy.example:3128".to_string()),
            "{merged:?}"
        );
        assert!(
            merged.contains(&"NO_PROXY=localhost".to_string()),
            "{merged:?}"
        );
        let without = variables(&["--http-proxy=false"]);
        assert!(
            !without.iter().any(|l| l.to_lowercase().contains("proxy")),
            "{without:?}"
        );
        env.write_given(
            "config/containers/containers.conf",
            "[containers]\nhttp_proxy = false\n",
        );
        let conf = variables(&[]);
        assert!(
            !conf.iter().any(|l| l.contains("proxy.example")),
            "{conf:?}"
        );
        assert!(variables(&["--http-proxy"]).contains(&"NO_PROXY=localhost".to_string()));
        env.skiff(&["run", "--rm", "--env-merge", "NOEQUALS", image, "true"])
            .refused("invalid --env-merge \"NOEQUALS\"");
    }
}

/// `--personality LINUX32`: the command, and what exec starts in the container, run in the
/// 32-bit domain.
#[test]
fn personality_sets_the_execution_domain() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        if std::env::consts::ARCH != "x86_64" {
            continue;
        }
        assert_eq!(
            env.run_output(image, &["--personality", "LINUX32"], &["uname", "-m"]),
            "i686\n"
        );
        assert_eq!(
            env.run_output(image, &["--personality", "linux"], &["uname", "-m"]),
            "x86_64\n"
        );
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "narrow",
            "--personality",
            "LINUX32",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["exec", "narrow", "uname", "-m"]).stdout(),
            "i686\n"
        );
        env.skiff(&["rm", "-f", "narrow"]).stdout();
        env.skiff(&["run", "--rm", "--personality", "PDP11", image, "true"])
            .refused("the domains are LINUX and LINUX32");
    }
}

/// `--requires`: the containers named start before this one at each of its starts, and none of
/// them can be removed while it exists, as in Podman.
#[test]
fn requires_starts_what_a_container_needs_first() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dep = env
            .skiff(&["create", "--name", "dep", image, "sleep", "60"])
            .stdout();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "main",
            "--requires",
            "dep",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        let running = || env.skiff(&["ps", "--format", "{{.Names}}"]).stdout();
        let names = running();
        assert!(
            names.contains("dep\n") && names.contains("main\n"),
            "{names}"
        );
        assert_eq!(
            env.skiff(&["inspect", "--format", "{{json .Dependencies}}", "main"])
                .stdout(),
            format!("[\"{}\"]\n", dep.trim())
        );
        env.skiff(&["rm", "-f", "dep"])
            .refused("has dependent containers which must be removed before it: main");
        env.skiff(&["stop", "-t", "0", "dep", "main"]).stdout();
        assert_eq!(running(), "");
        env.skiff(&["start", "main"]).stdout();
        let names = running();
        assert!(
            names.contains("dep\n") && names.contains("main\n"),
            "{names}"
        );
        env.skiff(&["run", "--rm", "--requires", "nowhere", image, "true"])
            .refused("\"nowhere\" is not a valid container, cannot be used as a dependency");
        env.skiff(&["rm", "-f", "main", "dep"]).stdout();
    }
}

/// `--passwd` (on by default), `--passwd-entry`, `--group-entry` and `--hostuser`: the
/// container's /etc/passwd and /etc/group name a numeric user and group, and host users, as
/// Podman writes them.
#[test]
fn passwd_and_group_entries_name_the_containers_user() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let out = env.run_output(
            image,
            &["--user", "1234:5678", "--workdir", "/tmp"],
            &[
                "sh",
                "-c",
                "id -un; id -gn; grep 1234 /etc/passwd; grep 5678 /etc/group",
            ],
        );
        assert_eq!(
            out,
            "1234\n5678\n1234:*:1234:5678:container user:/tmp:/bin/sh\n5678:x:5678:1234\n"
        );
        let off = env.run_output(
            image,
            &["--user", "1234", "--passwd=false"],
            &["sh", "-c", "grep 1234 /etc/passwd || echo none"],
        );
        assert_eq!(off, "none\n");
        let templated = env.run_output(
            image,
            &[
                "--user",
                "1234:5678",
                "--passwd-entry",
                "tester:x:$UID:$GID:$NAME:$HOME:/bin/false",
                "--group-entry",
                "testers:x:$GID:$USERLIST",
            ],
            &["sh", "-c", "id -un; id -gn"],
        );
        assert_eq!(templated, "tester\ntesters\n");
        // A host user, by name or uid; the image's own root is left as it is.
        let me = nix::unistd::User::from_uid(env.uid.into())
            .unwrap()
            .unwrap();
        let by_id = env.run_output(
            image,
            &["--hostuser", &env.uid.to_string()],
            &["grep", "-c", &format!("^{}:", me.name), "/etc/passwd"],
        );
        assert_eq!(by_id, "1\n");
        // 126, as Podman's runtime gives a user it cannot find.
        let unknown = [
            "run",
            "--rm",
            "--hostuser",
            "no-such-user-here",
            image,
            "true",
        ];
        let (_, stderr) = env.skiff(&unknown).assert_exit(126);
        assert!(
            stderr.contains("--hostuser no-such-user-here: no such user on the host"),
            "{stderr}"
        );
    }
}

/// `--timeout`: the container is killed once its time is up, and its exit code is then -1
/// (255 from `run`), in the foreground and detached, as Podman's suite has it.
#[test]
fn timeout_kills_the_container_when_its_time_is_up() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let started = std::time::Instant::now();
        env.skiff(&[
            "run",
            "--name",
            "late",
            "--timeout",
            "1",
            image,
            "sleep",
            "60",
        ])
        .assert_exit(255);
        let took = started.elapsed();
        assert!(took >= std::time::Duration::from_secs(1), "{took:?}");
        assert!(took < std::time::Duration::from_secs(10), "{took:?}");
        let state = "{{.State.Status}} {{.State.ExitCode}} {{.Config.Timeout}}";
        assert_eq!(
            env.skiff(&["inspect", "--format", state, "late"]).stdout(),
            "exited -1 1\n"
        );
        env.skiff(&["rm", "late"]).stdout();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "later",
            "--timeout",
            "1",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        crate::common::until("the detached container is timed out", || {
            env.skiff(&[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                "later",
            ])
            .stdout()
                == "exited -1\n"
        });
        env.skiff(&["rm", "later"]).stdout();
        // Done in time: its own exit code.
        env.skiff(&[
            "run",
            "--rm",
            "--timeout",
            "30",
            image,
            "sh",
            "-c",
            "exit 3",
        ])
        .assert_exit(3);
    }
}

#[test]
fn umask_is_podmans_0022_unless_set() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let umask = |extra: &[&str]| {
            env.run_output(
                image,
                extra,
                &["sh", "-c", "umask; touch /f; stat -c %a /f"],
            )
        };
        assert_eq!(umask(&[]), "0022\n644\n");
        assert_eq!(umask(&["--umask", "0077"]), "0077\n600\n");
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--umask", "999", image, "true"])
            .assert_exit(125);
        assert_eq!(
            stderr,
            "Error: invalid umask string 999: invalid argument\n"
        );
    }
}

#[test]
fn shm_size_sizes_dev_shm_and_inspect_shows_it_as_podman_does() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let shm_kib = |extra: &[&str]| {
            env.run_output(image, extra, &["sh", "-c", "df -k /dev/shm | tail -1"])
                .split_whitespace()
                .nth(1)
                .unwrap()
                .to_string()
        };
        assert_eq!(shm_kib(&[]), "65536");
        assert_eq!(shm_kib(&["--shm-size", "10m"]), "10240");
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--shm-size", "bogus", image, "true"])
            .assert_exit(125);
        assert_eq!(
            stderr,
            "Error: unable to translate --shm-size: invalid size: 'bogus'\n"
        );
        env.skiff(&["create", "--name", "plain", image, "true"])
            .stdout();
        env.skiff(&["create", "--name", "big", "--shm-size", "1g", image, "true"])
            .stdout();
        assert_eq!(
            env.skiff(&[
                "inspect",
                "--format",
                "{{.HostConfig.ShmSize}}",
                "plain",
                "big"
            ])
            .stdout(),
            "65536000\n1073741824\n"
        );
        env.skiff(&["rm", "plain", "big"]).stdout();
    }
}

#[test]
fn annotations_are_kept_beside_podmans_own() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "create",
            "--name",
            "noted",
            "--annotation",
            "foo=bar",
            "--annotation",
            "x=1",
            image,
            "true",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["inspect", "--format", "{{json .Config.Annotations}}", "noted"])
                .stdout(),
            "{\"foo\":\"bar\",\"io.kubernetes.cri-o.TTY\":\"false\",\"io.podman.annotations.autoremove\":\"FALSE\",\"io.podman.annotations.init\":\"FALSE\",\"io.podman.annotations.privileged\":\"FALSE\",\"io.podman.annotations.publish-all\":\"FALSE\",\"x\":\"1\"}\n"
        );
        let (_, stderr) = env
            .skiff(&["create", "--annotation", "novalue", image, "true"])
            .assert_exit(125);
        assert_eq!(stderr, "Error: annotations must be formatted KEY=VALUE\n");
        env.skiff(&["rm", "noted"]).stdout();
    }
}

/// `--oom-score-adj` reaches the container's processes, exec's too; a value below skiff's own
/// stays skiff's own where the host does not let it lower (rootless), as Podman 5 clamps it.
#[test]
fn oom_score_adj_is_set_and_clamped() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let score =
            |flags: &[&str]| env.run_output(image, flags, &["cat", "/proc/self/oom_score_adj"]);
        let own = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap();
        assert_eq!(score(&[]), own);
        assert_eq!(score(&["--oom-score-adj", "500"]), "500\n");
        let lowered = score(&["--oom-score-adj", "-100"]);
        if env.as_root {
            assert!(lowered == "-100\n" || lowered == own, "{lowered}");
        } else {
            assert_eq!(lowered, own);
        }
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "scored",
            "--oom-score-adj",
            "300",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["exec", "scored", "cat", "/proc/self/oom_score_adj"])
                .stdout(),
            "300\n"
        );
        assert_eq!(
            env.skiff(&[
                "inspect",
                "--format",
                "{{.HostConfig.OomScoreAdj}}",
                "scored"
            ])
            .stdout(),
            "300\n"
        );
        env.skiff(&["rm", "-f", "scored"]).stdout();
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--oom-score-adj", "2000", image, "true"])
            .assert_exit(125);
        assert_eq!(
            stderr,
            "Error: invalid value 2000 for --oom-score-adj: it must be between -1000 and 1000\n"
        );
    }
}

/// `--tz` binds the host's zone file at /etc/localtime (a zone without summer time, so the
/// answer holds all year); a zone that does not exist, or a path out of the zone directory,
/// is refused.
#[test]
fn tz_gives_the_container_a_time_zone() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // Given again, the last one wins, as with Podman.
        assert_eq!(
            env.run_output(
                image,
                &["--tz", "Europe/Berlin", "--tz", "Asia/Tokyo"],
                &["date", "+%Z %z"]
            ),
            "JST +0900\n"
        );
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--tz", "Bogus/Zone", image, "true"])
            .assert_exit(125);
        assert_eq!(
            stderr,
            "Error: stat /usr/share/zoneinfo/Bogus/Zone: no such file or directory\n"
        );
        env.skiff(&["run", "--rm", "--tz", "../../etc/passwd", image, "true"])
            .assert_exit(125);
    }
}

/// `--sysctl` sets namespaced kernel settings over containers.conf's (else Podman's
/// `net.ipv4.ping_group_range=0 0`), and refuses the others with Podman's words.
#[test]
fn sysctls_set_namespaced_settings_only() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let read = |flags: &[&str], file: &str| env.run_output(image, flags, &["cat", file]);
        assert_eq!(read(&[], "/proc/sys/net/ipv4/ping_group_range"), "0\t0\n");
        assert_eq!(
            read(
                &["--sysctl", "net.ipv4.ip_unprivileged_port_start=80"],
                "/proc/sys/net/ipv4/ip_unprivileged_port_start"
            ),
            "80\n"
        );
        assert_eq!(
            read(
                &["--sysctl", "kernel.shmmax=1000000"],
                "/proc/sys/kernel/shmmax"
            ),
            "1000000\n"
        );
        for (flags, error) in [
            (
                ["--sysctl", "vm.swappiness=10", "--network", "none"],
                "Error: sysctl 'vm.swappiness' is not allowed\n",
            ),
            (
                ["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"],
                "Error: sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: invalid argument\n",
            ),
        ] {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(&flags);
            args.extend_from_slice(&[image, "true"]);
            let (_, stderr) = env.skiff(&args).assert_exit(125);
            assert_eq!(stderr, error);
        }
        // Another container's network namespace is not this one's to set.
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "netowner",
            "--network",
            "none",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        env.skiff(&[
            "run",
            "--rm",
            "--network",
            "container:netowner",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            image,
            "true",
        ])
        .refused("Network Namespace set to container");
        // …and its default net.* settings are not written there.
        env.skiff(&[
            "run",
            "--rm",
            "--network",
            "container:netowner",
            image,
            "true",
        ])
        .stdout();
        env.skiff(&["rm", "-f", "netowner"]).stdout();
        // containers.conf's list replaces Podman's: the kernel's own value stays ("1 0", groups
        // a rootless container sees unmapped).
        env.write_given(
            "config/containers/containers.conf",
            "[containers]\ndefault_sysctls = []\n",
        );
        let kernels = read(&[], "/proc/sys/net/ipv4/ping_group_range");
        assert!(
            ["1\t0\n", "65534\t65534\n"].contains(&kernels.as_str()),
            "{kernels:?}"
        );
    }
}

/// `--group-add` adds groups by id or by the container's /etc/group name; `keep-groups` alone.
#[test]
fn group_add_gives_supplementary_groups() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        assert_eq!(
            env.run_output(
                image,
                &["--user", "1000", "--group-add", "5"],
                &["id", "-G"]
            ),
            "1000 5 10\n",
            "its own group, the one added, and the one /etc/group makes it a member of"
        );
        // 126, as Podman's runtime gives it.
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--group-add", "nosuch", image, "true"])
            .assert_exit(126);
        assert!(
            stderr.contains("Unable to find group nosuch: no matching entries in group file"),
            "{stderr}"
        );
        let (_, stderr) = env
            .skiff(&[
                "run",
                "--rm",
                "--group-add",
                "keep-groups",
                "--group-add",
                "5",
                image,
                "true",
            ])
            .assert_exit(125);
        assert_eq!(
            stderr,
            "Error: the '--group-add keep-groups' option is not allowed with any other --group-add options\n"
        );
    }
}

/// `--pidfile` gets the container's process id as the host sees it (inspect's State.Pid) and
/// stays, as with Podman; `--rmi` removes the image with the container, unless another
/// container uses it.
#[test]
fn pidfile_and_rmi() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let pidfile = env.path("tmp/run.pid");
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "pid",
            "--pidfile",
            pidfile.to_str().unwrap(),
            image,
            "sleep",
            "60",
        ])
        .stdout();
        let pid = env
            .skiff(&["inspect", "--format", "{{.State.Pid}} {{.PidFile}}", "pid"])
            .stdout();
        assert_eq!(
            pid,
            format!(
                "{} {}\n",
                std::fs::read_to_string(&pidfile).unwrap(),
                pidfile.display()
            )
        );
        env.skiff(&["rm", "-f", "pid"]).stdout();
        assert!(pidfile.exists());
        // --conmon-pidfile: the process that watches the container, which inspect names too.
        let conmon = env.path("tmp/conmon.pid");
        let conmon_arg = conmon.to_str().unwrap();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "watched",
            "--conmon-pidfile",
            conmon_arg,
            image,
            "sleep",
            "60",
        ])
        .stdout();
        let watcher = std::fs::read_to_string(&conmon).unwrap();
        let cmdline = std::fs::read(format!("/proc/{watcher}/cmdline")).unwrap();
        assert!(
            String::from_utf8_lossy(&cmdline).contains("container-supervise"),
            "{watcher}"
        );
        let shown = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.State.ConmonPid}} {{.ConmonPidFile}}",
                "watched",
            ])
            .stdout();
        assert_eq!(shown, format!("{watcher} {conmon_arg}\n"));
        env.skiff(&["rm", "-f", "watched"]).stdout();
        // In the foreground, the run itself watches: a process of its own, gone with it.
        let foreground = env.path("tmp/foreground.pid");
        env.run_output(
            image,
            &["--conmon-pidfile", foreground.to_str().unwrap()],
            &["true"],
        );
        let runner = std::fs::read_to_string(&foreground).unwrap();
        assert!(runner.parse::<u32>().is_ok(), "{runner}");

        // In use by another container: the image stays.
        env.skiff(&["create", "--name", "holder", image, "true"])
            .stdout();
        env.run_output(image, &["--rmi"], &["true"]);
        assert_eq!(
            env.skiff(&["ps", "-a", "--format", "{{.Names}}"]).stdout(),
            "holder\n"
        );
        let images = || env.skiff(&["images", "-q"]).stdout();
        assert!(!images().is_empty(), "the image in use stays");
        env.skiff(&["rm", "holder"]).stdout();
        env.run_output(image, &["--rmi"], &["true"]);
        assert_eq!(images(), "", "the image went with its last container");
    }
}

/// `--image-volume`: the image's VOLUME becomes an anonymous volume seeded with its files
/// (bind, the default), an empty tmpfs, or nothing but the image's directory (ignore).
#[test]
fn image_volume_modes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_volumebox();
        let probe = "grep -c ' /srv/seed ' /proc/mounts; grep ' /srv/seed ' /proc/mounts | cut -d' ' -f3; ls /srv/seed | wc -l";
        let seen = |flags: &[&str]| {
            let args = [&["run", "--rm"], flags, &[image, "sh", "-c", probe]].concat();
            let out = env.skiff(&args).output();
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let bound = seen(&[]);
        assert_eq!(bound[0], "1", "{bound:?}");
        assert_ne!(
            bound.last().unwrap(),
            "0",
            "seeded with the image's files: {bound:?}"
        );
        let tmpfs = seen(&["--image-volume", "tmpfs"]);
        assert_eq!(tmpfs, ["1", "tmpfs", "0"]);
        let ignored = seen(&["--image-volume", "ignore"]);
        assert_eq!(ignored[0], "0", "{ignored:?}");
        assert_ne!(
            ignored.last().unwrap(),
            "0",
            "the image's directory: {ignored:?}"
        );
        env.skiff(&["run", "--rm", "--image-volume", "copy", image, "true"])
            .refused("copy");
    }
}

/// `--init-path`: with `--init`, the host's program is the container's pid 1, bound at
/// /run/podman-init and given the command after `--`, as Podman runs catatonit; without
/// `--init` it changes nothing.
#[test]
fn init_path_runs_the_hosts_init_program() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let init = env.write_given(
            "init/tiny-init",
            "#!/bin/sh\necho \"init $$ given $*\"\n[ \"$1\" = \"--\" ] && shift\nexec \"$@\"\n",
        );
        std::fs::set_permissions(&init, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = env.run_output(
            image,
            &["--init", "--init-path", &init],
            &["sh", "-c", "echo command $$"],
        );
        assert_eq!(out, "init 1 given -- sh -c echo command $$\ncommand 1\n");
        let plain = env.run_output(image, &["--init-path", &init], &["echo", "alone"]);
        assert_eq!(plain, "alone\n");
        env.skiff(&[
            "run",
            "--rm",
            "--init",
            "--init-path",
            "/no/such/init",
            image,
            "true",
        ])
        .refused("--init-path /no/such/init: no such file on the host");
    }
}

/// `--chrootdirs`: the container's hosts, hostname and resolv.conf appear in the chroot's etc/
/// as well, as Podman binds them.
#[test]
fn chrootdirs_get_the_network_files_too() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let out = env.run_output(
            image,
            &["--hostname", "jailed", "--chrootdirs", "/jail/"],
            &["sh", "-c", "cat /jail/etc/hostname; grep -c jailed /jail/etc/hosts; cmp /etc/resolv.conf /jail/etc/resolv.conf && echo same"],
        );
        assert_eq!(out, "jailed\n1\nsame\n");
        env.skiff(&["run", "--rm", "--chrootdirs", "jail", image, "true"])
            .refused("invalid --chrootdirs \"jail\"");
    }
}
