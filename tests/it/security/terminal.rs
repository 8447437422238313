//! Issue 18, finding 1: a container process run from a terminal pushed keystrokes into the
//! user's shell with TIOCSTI (through /dev/tty, or the terminal skiff handed it as stdio), and
//! the shell ran them once skiff exited. skiff runs here under a real pseudo-terminal
//! (`script`), in a shell that reads one line after skiff: it must read nothing. The probe in
//! the container says what it could reach.

use std::process::{Command, Stdio};

use crate::common::{self, probes, skiff_test, Cmd, TestEnv};

const TTY_PROBE: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char KEYS[] = "echo INJECTED\n";

/* Types KEYS into the terminal on fd, as if the user had. */
static const char *inject(int fd) {
    for (const char *key = KEYS; *key; key++)
        if (ioctl(fd, TIOCSTI, key) < 0)
            return strerror(errno);
    return "INJECTED";
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int tty = open("/dev/tty", O_RDWR);
    printf("probe: dev-tty=%s\n", tty < 0 ? strerror(errno) : inject(tty));
    for (int fd = 0; fd < 3; fd++)
        printf("probe: fd%d isatty=%d sti=%s\n", fd, isatty(fd), inject(fd));
    printf("probe: session-leader=%s\n", getsid(0) == getpid() ? "yes" : "no");
    return 0;
}
"#;

fn probe() -> std::path::PathBuf {
    probes::static_c("tty-probe", TTY_PROBE)
}

/// `skiff run --rm FLAGS` of the probe.
fn run_probe(env: &TestEnv, image: &str, flags: &[&str]) -> Cmd {
    let mount = probes::mount_arg(&probe());
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.extend(["-v", &mount, image, "/probe/tty-probe"]);
    env.skiff(&args)
}

/// Runs `skiff` in a shell on a new pseudo-terminal, which then reads one line from it (what a
/// container typed there would be the next command); the transcript, `\r` removed.
fn run_under_terminal(env: &TestEnv, name: &str, skiff: &Cmd) -> String {
    type_under_terminal(env, name, skiff, b"")
}

/// [`run_under_terminal`], with `keys` typed on the terminal.
fn type_under_terminal(env: &TestEnv, name: &str, skiff: &Cmd, keys: &[u8]) -> String {
    let session = env.path(&format!("{name}-session.sh"));
    std::fs::write(
        &session,
        format!(
            "{}\necho \"skiff-exit:$?\"\nread -t 1 line\necho \"got:[$line]\"\n",
            skiff.shell_line()
        ),
    )
    .unwrap();
    let mut script = Command::new("script");
    script
        .args(["-qec", &format!("bash {}", session.display()), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut script, 0);
    let mut child = script.spawn().expect("script (util-linux) is missing");
    // Held open until the end: at end of its input, script types end-of-file into the
    // terminal, which the shell's read would take instead of what the container typed.
    let mut input = child.stdin.take();
    if let Some(input) = input.as_mut() {
        std::io::Write::write_all(input, keys).unwrap();
    }
    let out = common::finish(child, &format!("script around {name}"));
    drop(input);
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

/// The shell read nothing, skiff exited 0, and the probe ran with no terminal to reach.
fn assert_nothing_reached_the_shell(transcript: &str) {
    let line = |prefix: &str| {
        transcript
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line in:\n{transcript}"))
            .to_string()
    };
    assert_eq!(
        line("got:"),
        "got:[]",
        "the shell read keys the container typed:\n{transcript}"
    );
    assert_eq!(line("skiff-exit:"), "skiff-exit:0", "{transcript}");
    assert!(
        !line("probe: dev-tty=").ends_with("=INJECTED"),
        "the container reached the terminal through /dev/tty:\n{transcript}"
    );
    for fd in 0..3 {
        let report = line(&format!("probe: fd{fd} "));
        assert!(
            report.contains("isatty=0") && !report.ends_with("sti=INJECTED"),
            "the container's fd {fd} is the caller's terminal:\n{transcript}"
        );
    }
    assert_eq!(
        line("probe: session-leader="),
        "probe: session-leader=yes",
        "the container process is in the caller's session:\n{transcript}"
    );
}

#[test]
fn run_without_a_terminal_cannot_type_into_the_callers_shell() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let skiff = run_probe(&env, image, &[]);
        assert_nothing_reached_the_shell(&run_under_terminal(&env, "run", &skiff));
        // With -i the input is relayed too, and the probe still has no terminal.
        let interactive = run_probe(&env, image, &["-i"]);
        assert_nothing_reached_the_shell(&run_under_terminal(&env, "run-i", &interactive));
    }
}

#[test]
fn exec_without_a_terminal_cannot_type_into_the_callers_shell() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let probe = probe();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "target",
            "-v",
            &probes::mount_arg(&probe),
            image,
            "sleep",
            "600",
        ])
        .stdout();
        let skiff = env.skiff(&["exec", "target", "/probe/tty-probe"]);
        assert_nothing_reached_the_shell(&run_under_terminal(&env, "exec", &skiff));
        env.skiff(&["rm", "-f", "target"]).stdout();
    }
}

#[test]
fn a_build_step_cannot_type_into_the_callers_shell() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let containerfile = format!("FROM {image}\nCOPY tty-probe /tty-probe\nRUN /tty-probe\n");
        let context = env.build_context("context", &[("Containerfile", &containerfile)]);
        let copied = std::path::Path::new(&context).join("tty-probe");
        std::fs::copy(probe(), &copied).unwrap();
        env.give(&copied);
        let skiff = env.skiff(&["build", "-t", "tty-build", &context]);
        assert_nothing_reached_the_shell(&run_under_terminal(&env, "build", &skiff));
    }
}

#[test]
fn a_terminal_of_its_own_is_the_controlling_terminal_of_a_new_session() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let skiff = run_probe(&env, image, &["-t"]);
        let transcript = run_under_terminal(&env, "run-t", &skiff);
        assert!(
            transcript.contains("probe: session-leader=yes"),
            "{transcript}"
        );
        assert!(transcript.contains("probe: fd0 isatty=1"), "{transcript}");
        // What it typed went to its own terminal, not to the shell around skiff.
        assert!(transcript.contains("got:[]"), "{transcript}");
    }
}

#[test]
fn relayed_streams_keep_their_order_exit_code_and_end_of_input() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let script = "cat; echo out-1; echo err-1 >&2; echo out-2; echo err-2 >&2; exit 3";
        let skiff = env.skiff(&["run", "--rm", "-i", image, "sh", "-c", script]);
        // A line, then end of file (^D) for cat.
        let transcript = type_under_terminal(&env, "relay", &skiff, b"typed-line\n\x04");
        assert!(transcript.contains("skiff-exit:3"), "{transcript}");
        let lines: Vec<&str> = transcript.lines().collect();
        let relayed: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("out-") || l.starts_with("err-"))
            .collect();
        assert_eq!(
            relayed,
            ["out-1", "err-1", "out-2", "err-2"],
            "{transcript}"
        );
        // The typed line is echoed by the terminal and written back by cat.
        let typed = lines.iter().filter(|l| **l == "typed-line").count();
        assert_eq!(typed, 2, "{transcript}");
    }
}
