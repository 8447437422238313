//! Issue 18, finding 4 (runc's CVE-2024-21626 pattern): a directory descriptor skiff's caller
//! left open (fd 7 here) reached the container, which listed and wrote the host's files through
//! `/proc/self/fd/7/..`, and `exec -w /proc/self/fd/7` started a process whose working
//! directory was on the host. Only descriptors 0–2, and those `--preserve-fds` names, may pass.

use std::process::{Command, Output, Stdio};

use crate::common::{self, skiff_test, Cmd, TestEnv};

pub(super) const MARKER: &str = "host-side-marker-file";

/// A host directory with a marker file in it.
pub(super) fn host_directory(env: &TestEnv) -> std::path::PathBuf {
    let dir = env.path("host-directory");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(MARKER), "host\n").unwrap();
    dir
}

/// Runs `skiff` from a shell that opened `dir` as descriptor 7 and left it open.
pub(super) fn with_directory_as_fd7(dir: &std::path::Path, skiff: &Cmd) -> Output {
    run_shell(&format!(
        "exec 7<'{}'; exec {}",
        dir.display(),
        skiff.shell_line()
    ))
}

pub(super) fn run_shell(line: &str) -> Output {
    let mut shell = Command::new("sh");
    shell
        .args(["-c", line])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut shell, 0);
    common::finish(shell.spawn().unwrap(), line)
}

/// skiff's own refusal (125) of a working directory that is not in the container, and nothing
/// of the directory behind the descriptor listed.
fn assert_no_such_workdir(out: &Output) {
    let shown = text(out);
    assert_eq!(out.status.code(), Some(125), "{shown}");
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        stderr.contains("/proc/self/fd/7: no such file or directory"),
        "{shown}"
    );
    assert!(!shown.contains(MARKER), "{shown}");
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What the container's process sees: its descriptors, then the inherited one's directory.
pub(super) const LOOK: &str = "ls /proc/self/fd/; echo ---; ls /proc/self/fd/7/ 2>&1; true";

/// The listing shows no descriptor 7 and nothing of the host directory.
pub(super) fn assert_not_inherited(out: &Output) {
    let shown = text(out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (descriptors, _) = stdout.split_once("---").expect("the listing");
    assert!(
        !descriptors.lines().any(|fd| fd.trim() == "7"),
        "descriptor 7 reached the container:\n{shown}"
    );
    assert!(
        !stdout.contains(MARKER),
        "the container listed the host directory:\n{shown}"
    );
}

/// skiff refused to start the process in a working directory outside the container's root.
fn assert_outside_root_refused(out: &Output) {
    let shown = text(out);
    assert_eq!(out.status.code(), Some(125), "{shown}");
    assert!(!shown.contains(MARKER), "{shown}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("outside the container's root"),
        "{shown}"
    );
}

#[test]
fn run_closes_a_directory_descriptor_its_caller_left_open() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = host_directory(&env);
        let look = env.skiff(&["run", "--rm", image, "sh", "-c", LOOK]);
        assert_not_inherited(&with_directory_as_fd7(&dir, &look));

        let inside = env.skiff(&["run", "--rm", "-w", "/proc/self/fd/7", image, "ls"]);
        let out = with_directory_as_fd7(&dir, &inside);
        assert_no_such_workdir(&out);

        // Asked for, it passes (Podman's --preserve-fds: 3 to 3+N-1).
        let kept = env.skiff(&[
            "run",
            "--rm",
            "--preserve-fds",
            "5",
            image,
            "ls",
            "/proc/self/fd/7/",
        ]);
        let out = with_directory_as_fd7(&dir, &kept);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(MARKER),
            "--preserve-fds 5 did not pass descriptor 7:\n{}",
            text(&out)
        );
        let passed = env.skiff(&[
            "run",
            "--rm",
            "--preserve-fds",
            "5",
            "-w",
            "/proc/self/fd/7",
            image,
            "ls",
        ]);
        assert_outside_root_refused(&with_directory_as_fd7(&dir, &passed));
    }
}

#[test]
fn exec_closes_a_directory_descriptor_its_caller_left_open() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dir = host_directory(&env);
        env.skiff(&["run", "-d", "--name", "target", image, "sleep", "600"])
            .stdout();
        let look = env.skiff(&["exec", "target", "sh", "-c", LOOK]);
        assert_not_inherited(&with_directory_as_fd7(&dir, &look));

        let inside = env.skiff(&["exec", "-w", "/proc/self/fd/7", "target", "ls"]);
        let out = with_directory_as_fd7(&dir, &inside);
        assert_no_such_workdir(&out);

        // A descriptor passed on purpose is still no way out as the working directory: after
        // chdir the directory must lie inside the container's root.
        let passed = env.skiff(&[
            "exec",
            "--preserve-fds",
            "5",
            "-w",
            "/proc/self/fd/7",
            "target",
            "ls",
        ]);
        let out = with_directory_as_fd7(&dir, &passed);
        assert_outside_root_refused(&out);
        env.skiff(&["rm", "-f", "target"]).stdout();
    }
}

#[test]
fn socket_activation_passes_its_descriptors_on() {
    let test = skiff_test!();
    // Only root's skiff keeps the shell's pid through exec (runuser forks), which LISTEN_PID
    // must name.
    let Some(env) = test.root() else {
        return;
    };
    let image = env.load_testbox();
    let dir = host_directory(&env);
    let look = env.skiff(&[
        "run",
        "--rm",
        image,
        "sh",
        "-c",
        "ls /proc/self/fd/7/; echo fds=$LISTEN_FDS pid=$LISTEN_PID",
    ]);
    let activated = |pid: &str| {
        let line = look.shell_line().replacen(
            "env -i ",
            &format!("env -i LISTEN_FDS=5 LISTEN_PID={pid} "),
            1,
        );
        run_shell(&format!("exec 7<'{}'; exec {line}", dir.display()))
    };
    let out = activated("$$");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(MARKER), "{}", text(&out));
    assert!(stdout.contains("fds=5 pid=1"), "{}", text(&out));
    // Variables meant for another process pass nothing.
    let out = activated("1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(MARKER), "{}", text(&out));
    assert!(stdout.contains("fds= pid="), "{}", text(&out));
}
