//! Detached containers and their lifecycle: run -d, ps, logs, stop, start, kill, wait, rm, and
//! what happens when a supervisor dies.

use std::time::{Duration, Instant};

use crate::common::{finish, skiff_test, until, TestEnv};

mod policies;

pub fn status(env: &TestEnv, name: &str) -> String {
    let rows = env
        .skiff(&["ps", "-a", "--format", "{{.Names}}|{{.Status}}"])
        .stdout();
    rows.lines()
        .find_map(|row| row.strip_prefix(&format!("{name}|")))
        .unwrap_or_default()
        .to_string()
}

fn supervisors(id: &str) -> usize {
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("container-supervise {id}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

pub const SERVICE: &str =
    "echo started; trap 'echo got-term; exit 3' TERM; while true; do sleep 0.1; done";

#[test]
fn a_detached_container_lives_through_stop_start_and_rm() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = env
            .skiff(&["run", "-d", "--name", "web", image, "sh", "-c", SERVICE])
            .stdout();
        let id = id.trim().to_string();
        assert_eq!(id.len(), 64, "run -d prints the full ID: {id}");
        assert!(
            status(&env, "web").starts_with("Up"),
            "{}",
            status(&env, "web")
        );
        until("the first log line", || {
            env.skiff(&["logs", "web"]).stdout() == "started\n"
        });
        // logs -f follows until the container stops, and sees its last words.
        let follower = env.skiff(&["logs", "-f", "web"]).spawn();
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        assert_eq!(env.skiff(&["stop", "-t", "5", "web"]).stdout(), "web\n");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "SIGTERM was enough"
        );
        let followed = finish(follower, "skiff logs -f web");
        assert_eq!(
            String::from_utf8_lossy(&followed.stdout),
            "started\ngot-term\n"
        );
        assert!(
            status(&env, "web").starts_with("Exited (3)"),
            "{}",
            status(&env, "web")
        );
        let code = env
            .skiff(&["inspect", "--format", "{{.State.ExitCode}}", "web"])
            .stdout();
        assert_eq!(code.trim(), "3");
        assert_eq!(
            supervisors(&id),
            0,
            "the supervisor exits with its container"
        );
        // Started again, it logs a second run after the first.
        assert_eq!(env.skiff(&["start", "web"]).stdout(), "web\n");
        until("the second run's log line", || {
            env.skiff(&["logs", "web"]).stdout() == "started\ngot-term\nstarted\n"
        });
        let tail = env.skiff(&["logs", "--tail", "1", "web"]).stdout();
        assert_eq!(tail, "started\n");
        let (_, stderr) = env.skiff(&["rm", "web"]).assert_exit(125);
        assert!(stderr.contains("is running"), "{stderr}");
        env.skiff(&["rm", "-f", "web"]).stdout();
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
        assert_eq!(supervisors(&id), 0);
    }
}

#[test]
fn kill_wait_and_detached_rm() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "short",
            image,
            "sh",
            "-c",
            "sleep 0.3; exit 5",
        ])
        .stdout();
        assert_eq!(env.skiff(&["wait", "short"]).stdout(), "5\n");
        env.skiff(&["run", "-d", "--name", "long", image, "sh", "-c", SERVICE])
            .stdout();
        until("the trap to be set", || {
            env.skiff(&["logs", "long"]).stdout() == "started\n"
        });
        env.skiff(&["kill", "-s", "TERM", "long"]).stdout();
        assert_eq!(env.skiff(&["wait", "long"]).stdout(), "3\n");
        let (_, stderr) = env.skiff(&["kill", "long"]).assert_exit(125);
        assert!(
            stderr.contains("can only kill running containers"),
            "{stderr}"
        );
        // A command that cannot run fails `run -d` itself, with Docker's exit codes.
        let (_, stderr) = env
            .skiff(&["run", "-d", "--name", "missing", image, "no-such-command"])
            .assert_exit(127);
        assert!(stderr.contains("no-such-command"), "{stderr}");
        assert!(
            status(&env, "missing").starts_with("Exited (127)"),
            "{}",
            status(&env, "missing")
        );
        env.skiff(&["run", "-d", image, "/etc"]).assert_exit(126);
        // --rm -d: the supervisor removes the container once it exits.
        env.skiff(&["run", "-d", "--rm", "--name", "gone", image, "true"])
            .stdout();
        until("the --rm container to go", || {
            !env.skiff(&["ps", "-a", "--format", "{{.Names}}"])
                .stdout()
                .contains("gone")
        });
    }
}

#[test]
fn a_container_made_before_a_reboot_starts_after_it() {
    // The run directory, with the container's /etc/hosts, hostname and resolv.conf, is on a
    // tmpfs that a reboot empties; the container in the store must start all the same.
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = env
            .skiff(&[
                "create",
                "--hostname",
                "before-reboot",
                "--add-host",
                "kept.example:10.9.8.7",
                image,
                "sh",
                "-c",
                "cat /etc/hostname; grep -c kept.example /etc/hosts; grep -c nameserver /etc/resolv.conf",
            ])
            .stdout();
        let run_dir = env.path("run").join("skiff/containers").join(id.trim());
        assert!(run_dir.join("hosts").exists(), "{}", run_dir.display());
        std::fs::remove_dir_all(&run_dir).unwrap();
        let out = env.skiff(&["start", "-a", id.trim()]).stdout();
        assert_eq!(out, "before-reboot\n1\n1\n");
        // Started again with the files there, it leaves them as they are.
        std::fs::write(run_dir.join("hostname"), "rewritten\n").unwrap();
        let out = env.skiff(&["start", "-a", id.trim()]).stdout();
        assert!(out.starts_with("rewritten\n"), "{out}");
    }
}

#[test]
fn a_killed_supervisor_leaves_an_exited_container_that_rm_cleans_up() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = env
            .skiff(&[
                "run",
                "-d",
                "--name",
                "orphan",
                image,
                "sh",
                "-c",
                "echo orphan-marker; while true; do sleep 0.1; done",
            ])
            .stdout();
        let id = id.trim().to_string();
        assert_eq!(supervisors(&id), 1);
        std::process::Command::new("pkill")
            .args(["-KILL", "-f", &format!("container-supervise {id}")])
            .status()
            .unwrap();
        until("ps to see the container exited", || {
            status(&env, "orphan").starts_with("Exited")
        });
        let error = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.State.ExitCode}} {{.State.Error}}",
                "orphan",
            ])
            .stdout();
        assert!(
            error.starts_with("137 its watcher (skiff, pid ")
                && error.ends_with(
                    ") ended without recording how the container ended
"
                ),
            "{error}"
        );
        // The container's processes went with their supervisor.
        until("the container's processes to go", || {
            let out = std::process::Command::new("pgrep")
                .args(["-f", "orphan-marker"])
                .output()
                .unwrap();
            out.stdout.is_empty()
        });
        // Its pasta too, which does not notice the namespace go.
        until("the container's pasta to go", || {
            let out = std::process::Command::new("pgrep")
                .args(["-f", &format!("{id}/pasta.pid")])
                .output()
                .unwrap();
            out.stdout.is_empty()
        });
        env.skiff(&["rm", "orphan"]).stdout();
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
    }
}

#[test]
fn a_terminal_kept_by_the_supervisor_takes_attach_and_detach() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["run", "-dit", "--name", "term", image, "sh"])
            .stdout();
        // The default keys (ctrl-p ctrl-q) detach; what came before them reached the shell.
        let (out, _) = env
            .skiff(&["attach", "term"])
            .stdin(b"echo hi-$((6*7))\n\x10\x11".to_vec())
            .assert_exit(0);
        assert!(!out.contains('\x10'), "{out:?}");
        until("the shell's answer in the log", || {
            env.skiff(&["logs", "term"]).stdout().contains("hi-42")
        });
        assert!(
            status(&env, "term").starts_with("Up"),
            "detaching leaves it running"
        );
        // Other keys: ctrl-x alone detaches now.
        env.skiff(&["attach", "--detach-keys", "ctrl-x", "term"])
            .stdin(b"echo again-$((1+1))\n\x18".to_vec())
            .assert_exit(0);
        until("the second answer in the log", || {
            env.skiff(&["logs", "term"]).stdout().contains("again-2")
        });
        // A client that stays until the end gets the exit code.
        env.skiff(&["attach", "term"])
            .stdin(b"exit 7\n".to_vec())
            .assert_exit(7);
        assert!(
            status(&env, "term").starts_with("Exited (7)"),
            "{}",
            status(&env, "term")
        );
        let (_, err) = env.skiff(&["attach", "term"]).assert_exit(125);
        assert!(err.contains("only attach to running containers"), "{err}");
        // start -ai reattaches the kept terminal from the first byte.
        let (out, _) = env
            .skiff(&["start", "-ai", "term"])
            .stdin(b"echo back-$((2*2))\nexit 2\n".to_vec())
            .assert_exit(2);
        assert!(out.contains("back-4"), "{out:?}");
        // start -ai on a container that already runs attaches to it.
        env.skiff(&["start", "term"]).stdout();
        let (out, _) = env
            .skiff(&["start", "-ai", "term"])
            .stdin(b"echo again-$((3*3))\nexit 5\n".to_vec())
            .assert_exit(5);
        assert!(out.contains("again-9"), "{out:?}");
        // run -it goes through a supervisor too: the exit code comes back, --rm removes it.
        let (out, _) = env
            .skiff(&[
                "run",
                "-it",
                "--rm",
                image,
                "sh",
                "-c",
                "read line; echo got-$line; tty; exit 4",
            ])
            .stdin(b"abc\n".to_vec())
            .assert_exit(4);
        assert!(
            out.contains("got-abc") && out.contains("/dev/pts/0"),
            "{out:?}"
        );
        assert_eq!(
            env.skiff(&["ps", "-a", "--format", "{{.Names}}"]).stdout(),
            "term\n",
            "--rm removed the container"
        );
        let (_, err) = env
            .skiff(&["run", "-it", "--detach-keys", "alt-q", image, "true"])
            .assert_exit(125);
        assert!(err.contains("invalid detach key"), "{err}");
        env.skiff(&["rm", "-f", "term"]).stdout();
    }
}

#[test]
fn attach_relays_standard_streams_of_a_container_without_a_terminal() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let script = "while read line; do echo \"out<$line>\"; echo \"err<$line>\" >&2; done";
        env.skiff(&["run", "-di", "--name", "pipe", image, "sh", "-c", script])
            .stdout();
        let client = env
            .skiff(&["attach", "--detach-keys", "", "pipe"])
            .stdin(b"one\n".to_vec())
            .spawn_with_stdin();
        until("the container's answer in the log", || {
            env.skiff(&["logs", "pipe"]).stdout().contains("out<one>")
        });
        env.skiff(&["stop", "-t", "1", "pipe"]).stdout();
        let out = finish(client, "attach pipe");
        // The client ends with the container, and kept the two streams apart.
        assert_eq!(out.status.code(), Some(137));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "out<one>\n");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "err<one>\n");
        env.skiff(&["rm", "pipe"]).stdout();
    }
}

#[test]
fn exec_joins_a_running_container() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "box",
            "--hostname",
            "boxhost",
            image,
            "sleep",
            "30",
        ])
        .stdout();
        let out = env
            .skiff(&[
                "exec",
                "box",
                "sh",
                "-c",
                "echo $$; hostname; ls /proc | grep -c '^[0-9]'",
            ])
            .stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_ne!(lines[0], "1", "a new process beside pid 1: {out}");
        assert_eq!(lines[1], "boxhost", "{out}");
        assert!(
            lines[2].parse::<u32>().unwrap() <= 4,
            "only the container's processes: {out}"
        );
        env.skiff(&["exec", "box", "sh", "-c", "exit 4"])
            .assert_exit(4);
        env.skiff(&["exec", "box", "no-such-command"])
            .assert_exit(127);
        let out = env
            .skiff(&[
                "exec",
                "-u",
                "1000",
                "-w",
                "/tmp",
                "-e",
                "X=from-exec",
                "box",
                "sh",
                "-c",
                "id -u; pwd; echo $X",
            ])
            .stdout();
        assert_eq!(out, "1000\n/tmp\nfrom-exec\n");
        let out = env
            .skiff(&["exec", "-i", "box", "cat"])
            .stdin("through stdin\n")
            .stdout();
        assert_eq!(out, "through stdin\n");
        // A file written by exec is seen by the container's own processes: same mounts.
        env.skiff(&["exec", "box", "sh", "-c", "echo shared > /tmp/f"])
            .stdout();
        assert_eq!(
            env.skiff(&["exec", "box", "cat", "/tmp/f"]).stdout(),
            "shared\n"
        );
        // -d returns at once; the command runs on after the exec command has gone.
        let started = Instant::now();
        assert_eq!(
            env.skiff(&[
                "exec",
                "-d",
                "box",
                "sh",
                "-c",
                "sleep 0.5; echo late > /tmp/d"
            ])
            .stdout(),
            ""
        );
        assert!(started.elapsed() < Duration::from_millis(450));
        until("the detached exec's file", || {
            env.skiff(&["exec", "box", "cat", "/tmp/d"]).output().stdout == b"late\n"
        });
        env.skiff(&["exec", "-d", "box", "no-such-command"])
            .assert_exit(127);
        // --privileged keeps every capability; a plain exec has Podman's default set.
        let effective = |privileged: bool| {
            let mut args = vec!["exec"];
            if privileged {
                args.push("--privileged");
            }
            args.extend(["box", "sh", "-c", "grep CapEff /proc/self/status"]);
            let out = env.skiff(&args).stdout();
            let hex = out.split_whitespace().last().unwrap().to_string();
            u64::from_str_radix(&hex, 16).unwrap().count_ones()
        };
        let (plain, privileged) = (effective(false), effective(true));
        assert_eq!(plain, 11, "Podman's 11 default capabilities");
        assert!(
            privileged > 30,
            "{privileged} capabilities with --privileged"
        );
        env.skiff(&["stop", "-t", "0", "box"]).stdout();
        let (_, stderr) = env.skiff(&["exec", "box", "true"]).assert_exit(125);
        assert!(
            stderr.contains("can only create exec sessions on running containers"),
            "{stderr}"
        );
        env.skiff(&["rm", "box"]).stdout();
    }
}

#[test]
fn rm_takes_podmans_time_and_ignore() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let out = env.path("out");
        std::fs::create_dir_all(&out).unwrap();
        env.give(&out);
        let bind = format!("{}:/out", out.display());
        // A container that notes its stop signal: -f -t gives it that, -f alone SIGKILL.
        let start = |name: &str| {
            let trap = format!(
                "trap 'echo term > /out/{name}; exit 3' TERM; touch /out/{name}.ready; \
                 while :; do sleep 0.1; done"
            );
            env.skiff(&[
                "run", "-d", "--name", name, "-v", &bind, image, "sh", "-c", &trap,
            ])
            .stdout();
            until("the trap to be set", || {
                out.join(format!("{name}.ready")).exists()
            });
        };
        start("patient");
        env.skiff(&["rm", "-f", "-t", "5", "-i", "patient", "never-was"])
            .stdout();
        assert_eq!(
            std::fs::read_to_string(out.join("patient")).unwrap(),
            "term\n"
        );
        start("killed");
        env.skiff(&["rm", "-f", "killed"]).stdout();
        assert!(
            !out.join("killed").exists(),
            "-f alone sent the stop signal"
        );

        let (_, err) = env.skiff(&["rm", "never-was"]).assert_exit(125);
        assert!(err.contains("never-was"), "{err}");
        env.skiff(&["rm", "-t", "5", "whatever"])
            .refused("--force option must be specified to use the --time option");
        env.skiff(&["rm", "-a", "-f", "-t", "0", "--ignore"])
            .stdout();
    }
}
