//! `run -a/--attach` and `--sig-proxy`: which of the container's streams a foreground run
//! connects to skiff's, and whether the signals skiff receives reach the container.

use std::io::BufRead;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::common::{finish, skiff_test, until};

const BOTH: &str = "echo out; echo err >&2";

#[test]
fn attach_connects_only_the_named_streams() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let run = |attach: &[&str], command: &str| {
            let mut args = vec!["run", "--rm", "--network", "none"];
            args.extend(attach);
            args.extend([image, "sh", "-c", command]);
            env.skiff(&args).assert_exit(0)
        };
        assert_eq!(run(&["-a", "stdout"], BOTH), ("out\n".into(), "".into()));
        assert_eq!(
            run(&["--attach", "stderr"], BOTH),
            ("".into(), "err\n".into())
        );
        assert_eq!(
            run(&["-a", "stdout,stderr"], BOTH),
            ("out\n".into(), "err\n".into())
        );
        // Neither output stream: the ID is printed, as Podman's `run --attach stdin` does.
        let (stdout, stderr) = run(&["-a", "stdin"], BOTH);
        let id = stdout.trim();
        assert!(
            id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{stdout:?}"
        );
        assert_eq!(stderr, "");
        // Input reaches the process only when stdin is attached too.
        let piped = |attach: &[&str]| {
            let mut args = vec!["run", "--rm", "-i", "--network", "none"];
            args.extend(attach);
            args.extend([image, "sh", "-c", "cat; echo end"]);
            env.skiff(&args).stdin("typed\n").stdout()
        };
        assert_eq!(piped(&["-a", "stdin", "-a", "stdout"]), "typed\nend\n");
        assert_eq!(piped(&["-a", "stdout"]), "end\n");
        env.skiff(&["run", "-a", "bogus", image, "true"])
            .refused("invalid stream \"bogus\" for --attach");
        env.skiff(&["run", "-d", "-a", "stdout", image, "true"])
            .refused("conflicting options: --attach and --detach");
        assert_eq!(
            env.skiff(&["ps", "-a", "-q"]).stdout(),
            "",
            "nothing was left behind"
        );
    }
}

#[test]
fn attach_leaves_a_detached_containers_log_whole() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let id = env
            .skiff(&[
                "create",
                "-a",
                "stderr",
                "--network",
                "none",
                image,
                "sh",
                "-c",
                BOTH,
            ])
            .stdout();
        env.skiff(&["start", id.trim()]).stdout();
        env.skiff(&["wait", id.trim()]).stdout();
        let (stdout, stderr) = env.skiff(&["logs", id.trim()]).assert_exit(0);
        assert_eq!((stdout.as_str(), stderr.as_str()), ("out\n", "err\n"));
        env.skiff(&["rm", id.trim()]).stdout();
    }
}

/// Runs a container that says READY and traps SIGTERM, sends SIGTERM to the foreground skiff
/// (the `--conmon-pidfile` names it), and returns what the container printed and its exit code.
fn terminate_foreground(
    env: &crate::common::TestEnv,
    image: &str,
    flags: &[&str],
) -> (String, i32) {
    let pidfile = env.path("tmp/skiff.pid");
    let _ = std::fs::remove_file(&pidfile);
    let mut args = vec![
        "run",
        "--rm",
        "--network",
        "none",
        "--conmon-pidfile",
        pidfile.to_str().unwrap(),
    ];
    args.extend(flags);
    args.extend([
        image,
        "sh",
        "-c",
        "trap 'echo GOT; exit 3' TERM; echo READY; sleep 2; echo DONE",
    ]);
    let mut child = env.skiff(&args).spawn();
    // A terminal (`-t`) ends its lines with \r\n.
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|line| line.unwrap().trim_end_matches('\r').to_string());
    assert_eq!(lines.next().unwrap(), "READY");
    until("the pid file", || pidfile.exists());
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    let rest: Vec<String> = lines.collect();
    let out = finish(child, "skiff run");
    (rest.join("\n"), out.status.code().unwrap())
}

#[test]
fn sig_proxy_false_keeps_skiffs_signals_from_the_container() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        assert_eq!(terminate_foreground(&env, image, &[]), ("GOT".into(), 3));
        assert_eq!(
            terminate_foreground(&env, image, &["--sig-proxy=false"]),
            ("DONE".into(), 0)
        );
        assert_eq!(
            terminate_foreground(&env, image, &["--sig-proxy=true"]),
            ("GOT".into(), 3)
        );
        // With a terminal, ^C travels through it: skiff's own signals are not passed on.
        assert_eq!(
            terminate_foreground(&env, image, &["-t"]),
            ("DONE".into(), 0)
        );
        env.skiff(&["run", "--sig-proxy=maybe", image, "true"])
            .assert_exit(125);
    }
}

#[test]
fn attach_with_a_terminal_leaves_nothing_out_silently() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // The terminal carries stdout and stderr together: leaving one out cannot be done.
        env.skiff(&["run", "--rm", "-t", "-a", "stdout", image, "true"])
            .refused("-a with -t: the terminal carries");
        env.skiff(&[
            "run", "--rm", "-i", "-t", "-a", "stdout", "-a", "stderr", image, "true",
        ])
        .refused("-a with -t: the terminal carries");
        // All it carries attached: as without -a.
        env.skiff(&[
            "run", "--rm", "-t", "-a", "stdout", "-a", "stderr", image, "true",
        ])
        .assert_exit(0);
    }
}
