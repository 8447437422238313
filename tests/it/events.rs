//! `skiff events`: what commands log, read back with filters, times, formats and following.

use std::io::BufRead;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::common::{finish, skiff_test, TestEnv};

/// Type, status and name of each logged event since `since`, as `events --stream=false` prints
/// them through a template.
fn logged(env: &TestEnv, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "events",
        "--stream=false",
        "--format",
        "{{.Type}} {{.Status}} {{.Name}}",
    ];
    args.extend_from_slice(extra);
    env.skiff(&args)
        .stdout()
        .lines()
        .map(str::to_string)
        .collect()
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

#[test]
fn commands_log_podmans_events_in_order() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let start = now();
        env.skiff(&["run", "--name", "ev1", "--label", "team=a", image, "true"])
            .stdout();
        env.skiff(&["rename", "ev1", "ev2"]).stdout();
        env.skiff(&["rm", "ev2"]).stdout();
        env.skiff(&["volume", "create", "vol1"]).stdout();
        env.skiff(&["volume", "rm", "vol1"]).stdout();
        env.skiff(&["tag", image, "ev:1"]).stdout();
        env.skiff(&["rmi", "ev:1"]).stdout();
        assert_eq!(
            logged(&env, &["--since", &start]),
            [
                "container create ev1",
                "container init ev1",
                "container start ev1",
                "container attach ev1",
                "container died ev1",
                "container cleanup ev1",
                "container rename ev2",
                "container remove ev2",
                "volume create vol1",
                "volume remove vol1",
                "image tag ev:1",
                "image untag localhost/ev:1",
            ]
        );
        // The default line, as Podman's: time, type, status, full id, image, name, labels.
        let id_line = env
            .skiff(&[
                "events",
                "--stream=false",
                "--since",
                &start,
                "--filter",
                "event=create",
                "--filter",
                "type=container",
            ])
            .stdout();
        let line = id_line.trim_end();
        assert!(line.contains(" +0000 UTC container create "), "{line}");
        assert!(
            line.ends_with(&format!("(image={image}, name=ev1, team=a)")),
            "{line}"
        );
        let id = line.split(' ').nth(6).unwrap();
        assert_eq!(id.len(), 64, "{line}");
        let short = env
            .skiff(&[
                "events",
                "--stream=false",
                "--no-trunc=false",
                "--since",
                &start,
                "-f",
                "event=create",
                "-f",
                "container=ev1",
            ])
            .stdout();
        assert!(
            short.contains(&format!(" container create {} (", &id[..12])),
            "{short}"
        );
    }
}

#[test]
fn filters_times_and_json_select_and_shape_events() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let start = now();
        env.skiff(&["run", "--name", "ev-ax", image, "sh", "-c", "exit 3"])
            .assert_exit(3);
        let middle = now();
        env.skiff(&["run", "--rm", "--name", "ev-bx", image, "true"])
            .stdout();
        env.skiff(&["volume", "create", "ev-vx"]).stdout();

        // Same key: either; different keys: both.
        assert_eq!(
            logged(
                &env,
                &[
                    "--since",
                    &start,
                    "-f",
                    "container=ev-ax",
                    "-f",
                    "container=ev-bx",
                    "-f",
                    "event=died"
                ]
            ),
            ["container died ev-ax", "container died ev-bx"]
        );
        assert_eq!(
            logged(&env, &["--since", &middle, "--filter", "type=volume"]),
            ["volume create ev-vx"]
        );
        assert_eq!(
            logged(
                &env,
                &["--since", &start, "--until", &middle, "-f", "event=start"]
            ),
            ["container start ev-ax"]
        );
        assert!(logged(&env, &["-f", "pod=ev-ax"]).is_empty());
        let (_, stderr) = env
            .skiff(&["events", "--stream=false", "--filter", "colour=red"])
            .assert_exit(125);
        assert_eq!(
            stderr,
            "Error: failed to parse event filters: colour is an invalid filter\n"
        );

        let json = env
            .skiff(&[
                "events",
                "--stream=false",
                "--since",
                &start,
                "-f",
                "event=died",
                "-f",
                "container=ev-ax",
                "--format",
                "json",
            ])
            .stdout();
        let lines: Vec<&str> = json.lines().collect();
        assert_eq!(lines.len(), 1, "{json}");
        let event: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        let keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "ContainerExitCode",
                "ID",
                "Image",
                "Name",
                "Status",
                "time",
                "timeNano",
                "Type",
                "Attributes"
            ]
        );
        assert_eq!(event["ContainerExitCode"], 3);
        assert_eq!(event["Status"], "died");
        assert_eq!(event["Type"], "container");
        let nanos = event["timeNano"].as_i64().unwrap();
        assert_eq!(event["time"].as_i64().unwrap(), nanos / 1_000_000_000);

        // A detached container's death is logged by its supervisor.
        env.skiff(&["run", "-d", "--name", "ev-dx", image, "sh", "-c", "exit 4"])
            .stdout();
        env.skiff(&["wait", "ev-dx"]).stdout();
        let died = env
            .skiff(&[
                "events",
                "--stream=false",
                "--since",
                &start,
                "-f",
                "container=ev-dx",
                "-f",
                "event=died",
                "--format",
                "{{.Status}} {{.ContainerExitCode}}",
            ])
            .stdout();
        assert_eq!(died, "died 4\n");
    }
}

#[test]
fn stream_follows_new_events_until_interrupted() {
    let test = skiff_test!();
    for env in test.each_env() {
        let mut child = env.skiff(&["events", "--filter", "type=volume"]).spawn();
        let stdout = child.stdout.take().unwrap();
        let (lines, seen) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if lines.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        // The follower starts at the end of the log: volumes are made until one is seen.
        let mut line = None;
        for i in 0..40 {
            env.skiff(&["volume", "create", &format!("sv{i}")]).stdout();
            if let Ok(seen) = seen.recv_timeout(Duration::from_millis(500)) {
                line = Some(seen);
                break;
            }
        }
        let line = line.expect("events printed no line while volumes were made");
        assert!(line.contains(" +0000 UTC volume create sv"), "{line}");
        let group = Pid::from_raw(i32::try_from(child.id()).unwrap());
        killpg(group, Signal::SIGINT).unwrap();
        let out = finish(child, "skiff events");
        if env.as_root {
            assert_eq!(out.status.code(), Some(0), "{out:?}");
        }
        assert!(out.stderr.is_empty(), "{out:?}");
    }
}

#[test]
fn concurrent_writers_leave_a_parseable_log() {
    let test = skiff_test!();
    for env in test.each_env() {
        // Six writers at once, ten commands each.
        let writers: Vec<_> = (0..6)
            .map(|w| {
                let commands: Vec<_> = (0..10)
                    .map(|i| env.skiff(&["volume", "create", &format!("cw{w}x{i}")]))
                    .collect();
                std::thread::spawn(move || {
                    for command in commands {
                        command.stdout();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let events = logged(&env, &["-f", "type=volume"]);
        assert_eq!(events.len(), 60, "{events:?}");
        for w in 0..6 {
            for i in 0..10 {
                let line = format!("volume create cw{w}x{i}");
                assert!(events.contains(&line), "{line} missing: {events:?}");
            }
        }
    }
}
