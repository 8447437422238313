//! What a container is told to do, and how it is listed: ps filters, rename, restart policies
//! and stop settings, many runs at once, log drivers, inspect and pause, top, and init.

use std::time::{Duration, Instant};

use super::{status, SERVICE};
use crate::common::{finish, skiff_test, until};

#[test]
fn ps_filters_rename_restart_prune_and_stop_settings() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    env.skiff(&[
        "create", "--name", "made", "-l", "tier=web", "--label", "solo", image, "true",
    ])
    .stdout();
    env.skiff(&[
        "run", "--name", "ran", "-l", "tier=db", image, "sh", "-c", "exit 2",
    ])
    .assert_exit(2);
    // USR1 stops it at once; with the default TERM it would wait out the timeout.
    let script = "trap 'exit 0' USR1; while true; do sleep 0.1; done";
    env.skiff(&[
        "run",
        "-d",
        "--name",
        "svc",
        "--stop-signal",
        "USR1",
        "--stop-timeout",
        "30",
        image,
        "sh",
        "-c",
        script,
    ])
    .stdout();
    let names = |args: &[&str]| {
        let mut all = vec!["ps", "--format", "{{.Names}}"];
        all.extend_from_slice(args);
        env.skiff(&all).stdout()
    };
    assert_eq!(names(&[]), "svc\n");
    assert_eq!(names(&["-l"]), "svc\n");
    assert_eq!(names(&["--filter", "label=tier"]), "ran\nmade\n");
    assert_eq!(names(&["--filter", "label=tier=web"]), "made\n");
    assert_eq!(names(&["--filter", "label=solo"]), "made\n");
    // A label file's KEY alone is an empty label, never a value from skiff's environment.
    let labels = env.path("tmp/labels");
    std::fs::create_dir_all(labels.parent().unwrap()).unwrap();
    std::fs::write(&labels, "# team labels\nteam=core\nPATH\n").unwrap();
    env.give(&labels);
    env.skiff(&[
        "create",
        "--name",
        "filed",
        "--label-file",
        labels.to_str().unwrap(),
        image,
        "true",
    ])
    .stdout();
    assert_eq!(
        env.skiff(&["inspect", "--format", "{{json .Config.Labels}}", "filed"])
            .stdout(),
        "{\"PATH\":\"\",\"team\":\"core\"}\n"
    );
    env.skiff(&["rm", "filed"]).stdout();
    assert_eq!(
        env.skiff(&[
            "inspect",
            "--format",
            "{{index .Config.Labels \"tier\"}}",
            "made"
        ])
        .stdout(),
        "web\n"
    );
    assert_eq!(names(&["-n", "2"]), "svc\nran\n");
    assert_eq!(names(&["--filter", "status=exited"]), "ran\n");
    assert_eq!(names(&["--filter", "exited=2"]), "ran\n");
    assert_eq!(names(&["--filter", "status=created"]), "made\n");
    assert_eq!(
        names(&["-a", "--filter", "name=ma", "--filter", "name=ra"]),
        "ran\nmade\n"
    );
    // Podman's JSON shape: Names and Command are arrays, times are Unix seconds.
    let listed: serde_json::Value = serde_json::from_str(
        &env.skiff(&["ps", "--format", "json", "--filter", "name=ran"])
            .stdout(),
    )
    .unwrap();
    let ran = &listed[0];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(ran["Names"], serde_json::json!(["ran"]));
    assert_eq!(ran["Command"], serde_json::json!(["sh", "-c", "exit 2"]));
    assert_eq!(ran["Labels"], serde_json::json!({"tier": "db"}));
    assert_eq!(
        (&ran["State"], &ran["Exited"], &ran["ExitCode"], &ran["Pid"]),
        (
            &serde_json::json!("exited"),
            &serde_json::json!(true),
            &serde_json::json!(2),
            &serde_json::json!(0)
        )
    );
    assert_eq!(ran["Id"].as_str().unwrap().len(), 64);
    assert!(ran["Created"].as_i64().unwrap() > 1_700_000_000, "{ran}");
    assert!(ran["Size"].is_null(), "{ran}");
    // -s counts what the container wrote, also inside a directory only a subordinate id may enter.
    env.skiff(&[
        "run",
        "--name",
        "sized",
        image,
        "sh",
        "-c",
        "mkdir -p /home/u && echo abc > /home/u/f && chown -R 1000 /home/u && chmod 700 /home/u",
    ])
    .stdout();
    let sized = |format: &str| {
        env.skiff(&["ps", "-s", "--filter", "name=sized", "--format", format])
            .stdout()
    };
    assert!(
        sized("{{.Size}}").starts_with("4B (virtual "),
        "{}",
        sized("{{.Size}}")
    );
    let listed: serde_json::Value = serde_json::from_str(&sized("json")).unwrap();
    assert_eq!(listed[0]["Size"]["rwSize"], 4, "{listed}");
    assert!(
        env.skiff(&["ps", "-a", "-s"])
            .stdout()
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .last()
            == Some("SIZE"),
        "the SIZE column comes last"
    );
    env.skiff(&["rm", "sized"]).stdout();
    let (_, stderr) = env
        .skiff(&["ps", "--filter", "colour=red"])
        .assert_exit(125);
    assert!(stderr.contains("invalid filter"), "{stderr}");

    let (_, stderr) = env.skiff(&["rename", "made", "ran"]).assert_exit(125);
    assert!(stderr.contains("already in use"), "{stderr}");
    env.skiff(&["rename", "made", "renamed"]).stdout();
    assert_eq!(names(&["--filter", "status=created"]), "renamed\n");

    until("the trap", || {
        let out = std::process::Command::new("pgrep")
            .args(["-f", "trap 'exit 0' USR1"])
            .output()
            .unwrap();
        !out.stdout.is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    env.skiff(&["restart", "svc"]).stdout();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the stop signal was USR1"
    );
    assert!(
        status(&env, "svc").starts_with("Up"),
        "{}",
        status(&env, "svc")
    );

    let pruned = env.skiff(&["container", "prune", "-f"]).stdout();
    assert_eq!(pruned.lines().count(), 2, "{pruned}");
    assert_eq!(names(&["-a"]), "svc\n");
    env.skiff(&["rm", "-f", "svc"]).stdout();
}

#[test]
fn twenty_detached_runs_and_removals_at_once_leave_nothing_behind() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // A duration of its own, so the process check below does not see the other user's run.
        let sleep = if env.as_root { "59" } else { "60" };
        let runs: Vec<_> = (0..20)
            .map(|i| {
                env.skiff(&[
                    "run",
                    "-d",
                    "--network",
                    "none",
                    "--name",
                    &format!("c{i}"),
                    image,
                    "sleep",
                    sleep,
                ])
                .spawn()
            })
            .collect();
        // ps runs while the containers start: it must never fail.
        for _ in 0..5 {
            env.skiff(&["ps", "-a", "-q"]).stdout();
        }
        for (i, run) in runs.into_iter().enumerate() {
            let out = finish(run, "skiff run -d");
            assert!(
                out.status.success(),
                "run -d c{i}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(env.skiff(&["ps", "-q"]).stdout().lines().count(), 20);
        let removals: Vec<_> = (0..20)
            .map(|i| env.skiff(&["rm", "-f", &format!("c{i}")]).spawn())
            .collect();
        for _ in 0..5 {
            env.skiff(&["ps", "-a", "-q"]).stdout();
        }
        for (i, rm) in removals.into_iter().enumerate() {
            let out = finish(rm, "skiff rm -f");
            assert!(
                out.status.success(),
                "rm -f c{i}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
        until("every supervisor and container process to go", || {
            let out = std::process::Command::new("pgrep")
                .args([
                    "-U",
                    &env.uid.to_string(),
                    "-f",
                    // This store's supervisors (their command line names it), and the containers.
                    &format!(
                        "{}.*container-supervise|^sleep {sleep}$",
                        env.store_root().display()
                    ),
                ])
                .output()
                .unwrap();
            out.stdout.is_empty()
        });
        let leftovers = std::fs::read_dir(env.store_root().join("containers"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 0, "no container directories remain");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(env.store_root().to_str().unwrap()),
            "no mounts of the store remain"
        );
    }
}

#[test]
fn restart_policies_are_carried_out_by_the_supervisor() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:3",
            image,
            "sh",
            "-c",
            "echo run; exit 1",
        ])
        .stdout();
        assert_eq!(env.skiff(&["wait", "flaky"]).stdout(), "1\n");
        assert_eq!(
            env.skiff(&["logs", "flaky"]).stdout(),
            "run\nrun\nrun\nrun\n",
            "started once and restarted exactly three times"
        );
        let count = env
            .skiff(&["inspect", "--format", "{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "flaky"])
            .stdout();
        assert_eq!(count.trim(), "3 on-failure 3");
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "forever",
            "--restart",
            "always",
            image,
            "sh",
            "-c",
            "echo up; sleep 0.2",
        ])
        .stdout();
        until("a few restarts", || {
            env.skiff(&["logs", "forever"]).stdout().lines().count() >= 3
        });
        env.skiff(&["stop", "forever"]).stdout();
        let after_stop = env.skiff(&["logs", "forever"]).stdout().lines().count();
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(
            env.skiff(&["logs", "forever"]).stdout().lines().count(),
            after_stop,
            "stop ends the restarts"
        );
        assert!(
            status(&env, "forever").starts_with("Exited"),
            "{}",
            status(&env, "forever")
        );
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--restart", "always", image, "true"])
            .assert_exit(125);
        assert!(stderr.contains("conflicting options"), "{stderr}");
        env.skiff(&["rm", "-a", "-f"]).stdout();
    }
}

#[test]
fn stop_ends_a_container_its_supervisor_keeps_restarting() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // `true` exits at once, so the supervisor is restarting it whenever `stop` comes: the
        // stop must not be lost in a restart, nor signal the process of the run before.
        for round in 0..8 {
            let name = format!("churn-{round}");
            env.skiff(&[
                "run",
                "-d",
                "--name",
                &name,
                "--restart",
                "always",
                image,
                "true",
            ])
            .stdout();
            std::thread::sleep(Duration::from_millis(20 * round));
            env.skiff(&["stop", "-t", "3", &name]).stdout();
            let restarts = |env: &crate::common::TestEnv| {
                env.skiff(&["inspect", "--format", "{{.RestartCount}}", &name])
                    .stdout()
            };
            let after_stop = restarts(&env);
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(
                restarts(&env),
                after_stop,
                "round {round}: restarted after stop"
            );
            assert!(status(&env, &name).starts_with("Exited"), "round {round}");
        }
        env.skiff(&["rm", "-a", "-f"]).stdout();
    }
}

#[test]
fn log_drivers_and_the_size_cap() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let script = "echo out; echo err >&2";
    env.skiff(&[
        "run",
        "-d",
        "--name",
        "json",
        "--log-driver",
        "json-file",
        image,
        "sh",
        "-c",
        script,
    ])
    .stdout();
    env.skiff(&["wait", "json"]).stdout();
    let (out, err) = env.skiff(&["logs", "json"]).assert_exit(0);
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("out\n", "err\n"),
        "stdout and stderr kept apart"
    );
    let raw = std::fs::read_to_string(
        env.store_root()
            .join("containers")
            .join(
                env.skiff(&["inspect", "--format", "{{.Id}}", "json"])
                    .stdout()
                    .trim(),
            )
            .join("ctr.log"),
    )
    .unwrap();
    assert!(raw.starts_with(r#"{"log":"#), "{raw}");
    env.skiff(&[
        "run",
        "-d",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        image,
        "sh",
        "-c",
        script,
    ])
    .stdout();
    env.skiff(&["wait", "quiet"]).stdout();
    let (_, stderr) = env.skiff(&["logs", "quiet"]).assert_exit(125);
    assert!(stderr.contains("'none' log driver"), "{stderr}");
    env.skiff(&[
        "run",
        "-d",
        "--name",
        "capped",
        "--log-opt",
        "max-size=1k",
        image,
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done",
    ])
    .stdout();
    env.skiff(&["wait", "capped"]).stdout();
    let logs = env.skiff(&["logs", "capped"]).stdout();
    assert!(logs.len() < 1024 && logs.ends_with("line 199\n"), "{logs}");
    let (_, stderr) = env
        .skiff(&["run", "--log-driver", "syslog", image, "true"])
        .assert_exit(125);
    assert!(stderr.contains("invalid log driver"), "{stderr}");
}

#[test]
fn inspect_shows_the_log_and_pause_says_why_it_cannot() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    env.skiff(&["run", "-d", "--name", "p", image, "sleep", "30"])
        .stdout();
    let out = env
        .skiff(&[
            "inspect",
            "--format",
            "{{.LogPath}} {{.HostConfig.LogConfig.Type}} {{.State.Status}}",
            "p",
        ])
        .stdout();
    assert!(out.contains("/ctr.log k8s-file running"), "{out}");
    assert_eq!(
        env.skiff(&["port", "p"]).stdout(),
        "",
        "nothing is published"
    );
    let (_, stderr) = env.skiff(&["port", "p", "80"]).assert_exit(125);
    assert!(
        stderr.contains("failed to find published port \"80\""),
        "{stderr}"
    );
    let (_, stderr) = env.skiff(&["pause", "p"]).assert_exit(125);
    assert!(stderr.contains("cgroup freezer"), "{stderr}");
    let (_, stderr) = env.skiff(&["unpause", "nope"]).assert_exit(125);
    assert!(stderr.contains("no such container"), "{stderr}");
    env.skiff(&["rm", "-f", "-v", "p"]).stdout();
}

#[test]
fn top_lists_the_containers_processes_as_it_sees_them() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "t",
            image,
            "sh",
            "-c",
            "sleep 100 & su -s /bin/sh tester -c 'sleep 101' & wait",
        ])
        .stdout();
        until("both sleeps", || {
            env.skiff(&["top", "t"]).stdout().lines().count() == 4
        });
        let out = env.skiff(&["top", "t"]).stdout();
        let rows: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(&rows[0][..3], ["USER", "PID", "PPID"]);
        assert_eq!(&rows[1][..3], ["root", "1", "0"], "{out}");
        assert!(
            rows.iter()
                .any(|r| r[0] == "tester" && r.ends_with(&["sleep", "101"])),
            "{out}"
        );
        env.skiff(&["rm", "-f", "t"]).stdout();
        let (_, stderr) = env.skiff(&["top", "t"]).assert_exit(125);
        assert!(stderr.contains("no such container"), "{stderr}");
    }
}

#[test]
fn init_runs_the_command_as_its_child_and_passes_signals_on() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--init",
                "--network",
                "none",
                image,
                "sh",
                "-c",
                "echo $$; cat /proc/1/status | grep -c '^PPid:\t0'",
            ])
            .stdout();
        assert_eq!(out, "2\n1\n", "the command is pid 2 under an init");
        env.skiff(&["run", "--rm", "--init", image, "sh", "-c", "exit 3"])
            .assert_exit(3);
        env.skiff(&["run", "--rm", "--init", image, "no-such-command"])
            .assert_exit(127);
        // A detached container with --init stops on SIGTERM through its init.
        env.skiff(&[
            "run", "-d", "--init", "--name", "i", image, "sh", "-c", SERVICE,
        ])
        .stdout();
        until("the trap", || {
            env.skiff(&["logs", "i"]).stdout() == "started\n"
        });
        let started = Instant::now();
        env.skiff(&["stop", "i"]).stdout();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "SIGTERM reached the command"
        );
        assert!(
            status(&env, "i").starts_with("Exited (3)"),
            "{}",
            status(&env, "i")
        );
        env.skiff(&["rm", "i"]).stdout();
    }
}
