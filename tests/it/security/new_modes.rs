//! The ways into a container that issue 20 added (the host's or another container's pid, ipc
//! and uts namespaces, `--preserve-fds`, `--rootfs`) keep what confines the default one: the
//! same capabilities, filter, masked and read-only paths; the caller's other descriptors closed
//! (issue 18's finding 4 again); and, with the host's pids in view, no way into the host's
//! processes through /proc.

use super::confinement::PROBE;
use super::descriptors::{
    assert_not_inherited, host_directory, run_shell, with_directory_as_fd7, LOOK, MARKER,
};
use crate::common::{skiff_test, TestEnv};

/// `run --rm FLAGS [IMAGE] sh -c SCRIPT`, the image left out with `--rootfs` (whose
/// directory is among the flags).
fn run_args<'a>(flags: &[&'a str], image: &'a str, script: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", "--rm"];
    args.extend(flags);
    if !flags.contains(&"--rootfs") {
        args.push(image);
    }
    args.extend(["sh", "-c", script]);
    args
}

/// The modes, each as flags (`--rootfs` with the directory it takes).
fn modes(rootfs: &str) -> Vec<Vec<&str>> {
    vec![
        vec!["--pid", "host"],
        vec!["--ipc", "host"],
        vec!["--uts", "host"],
        vec!["--pid", "container:target"],
        vec!["--ipc", "container:target"],
        vec!["--uts", "container:target"],
        vec!["--rootfs", rootfs],
    ]
}

fn start_target(env: &TestEnv, image: &str) {
    env.skiff(&[
        "run",
        "-d",
        "--name",
        "target",
        "--ipc",
        "shareable",
        image,
        "sleep",
        "60",
    ])
    .stdout();
}

#[test]
fn new_ways_in_keep_the_default_confinement_and_close_the_callers_descriptors() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        start_target(&env, image);
        let rootfs = env.busybox_rootfs("rootfs").display().to_string();
        let default = env.skiff(&run_args(&[], image, PROBE)).stdout();
        assert!(default.contains("Seccomp: 2\n"), "{default}");
        let dir = host_directory(&env);
        for flags in modes(&rootfs) {
            let seen = env.skiff(&run_args(&flags, image, PROBE)).stdout();
            assert_eq!(seen, default, "{flags:?} confines otherwise");
            let look = env.skiff(&run_args(&flags, image, LOOK));
            assert_not_inherited(&with_directory_as_fd7(&dir, &look));
        }

        // --preserve-fds 1 passes descriptor 3 on, and no other.
        let look = env.skiff(&run_args(&["--preserve-fds", "1"], image, LOOK));
        let line = format!(
            "exec 3</dev/null 7<'{}'; exec {}",
            dir.display(),
            look.shell_line()
        );
        let out = run_shell(&line);
        assert_not_inherited(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let (listed, _) = stdout.split_once("---").unwrap();
        assert!(listed.lines().any(|fd| fd.trim() == "3"), "{stdout}");
        assert!(!stdout.contains(MARKER));
        env.skiff(&["rm", "-f", "target"]).stdout();
    }
}

#[test]
fn the_hosts_pids_in_view_do_not_open_the_hosts_processes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        start_target(&env, image);
        // The target's supervisor: a host process of the same user, skiff itself.
        let supervisor = env
            .skiff(&["inspect", "--format", "{{.State.ConmonPid}}", "target"])
            .stdout();
        let supervisor = supervisor.trim();
        assert_ne!(supervisor, "0");
        let reach = format!(
            "test -d /proc/{supervisor} && echo listed; \
             ls /proc/{supervisor}/root/ 2>&1 | head -1; \
             cat /proc/{supervisor}/environ 2>&1 | head -c 200; \
             ls -l /proc/{supervisor}/exe 2>&1; true"
        );
        let seen = env
            .skiff(&run_args(&["--pid", "host"], image, &reach))
            .stdout();
        assert!(
            seen.starts_with("listed\n"),
            "the host's pids are not in view: {seen}"
        );
        assert_eq!(
            seen.matches("Permission denied").count(),
            3,
            "a host process was opened: {seen}"
        );
        env.skiff(&["rm", "-f", "target"]).stdout();
    }
}

#[test]
fn the_hosts_sys_bound_for_a_host_network_is_read_only_all_the_way_down() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // Rootless, /sys is the host's bound (sysfs needs the network namespace's owner), with
        // the host's cgroup hierarchies mounted below it; each must be read-only.
        let writable = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "host",
                image,
                "sh",
                "-c",
                "awk '$5 ~ \"^/sys\" && $6 ~ \"^rw\"' /proc/self/mountinfo; \
                 grep -c ' /sys' /proc/self/mountinfo",
            ])
            .stdout();
        let lines: Vec<&str> = writable.lines().collect();
        assert_eq!(lines.len(), 1, "writable below /sys: {writable}");
        assert_ne!(lines[0], "0", "no /sys at all");
    }
}
