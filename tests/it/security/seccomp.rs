//! Finding 5 of issue 18: containers had no seccomp filter at all. A static probe makes each
//! call of the review directly and prints its errno; under the default profile each is decided
//! as Podman's default profile decides it (the values below are what Podman 4.3.1 printed for
//! the same probe on this host), `seccomp=unconfined` lifts the filter, a profile file in
//! Docker's format is honoured, and `info` says what is configured.

use std::collections::BTreeMap;

use crate::common::{probes, skiff_test, TestEnv};

const PROBE: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* NAME=ERRNO for each call, 0 when it ran. The arguments are harmless or invalid on purpose:
   a filtered call fails before the kernel looks at them. */
static void report(const char *name, long result) {
    printf("%s=%d\n", name, result < 0 ? errno : 0);
}

int main(void) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    report("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -2));
    report("request_key", syscall(SYS_request_key, "user", "probe", NULL, 0));
    report("keyctl", syscall(SYS_keyctl, 0, -3, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    report("userfaultfd", syscall(SYS_userfaultfd, 0));
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    report("personality_read_implies_exec", syscall(SYS_personality, 0x0400000));
    report("personality_query", syscall(SYS_personality, 0xffffffff));
    report("bpf", syscall(SYS_bpf, 0, NULL, 0));
    report("setns", syscall(SYS_setns, -1, 0));
    report("mount", syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, NULL));
    report("clone3", syscall(SYS_clone3, NULL, 0));
    report("socket_netlink_audit", syscall(SYS_socket, 16, 3, 9));
    report("getpid", syscall(SYS_getpid));
    long child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (child == 0) _exit(0);
    if (child > 0) waitpid(child, NULL, 0);
    report("clone_newuser", child);
    report("unshare_newuser", syscall(SYS_unshare, CLONE_NEWUSER));
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    while (status && fgets(line, sizeof line, status))
        if (strncmp(line, "Seccomp:", 8) == 0) printf("seccomp_mode=%d\n", atoi(line + 8));
    return 0;
}
"#;

/// What Podman's default profile gives: ENOSYS (38) for calls it does not list, EPERM (1) for
/// those it refuses, EINVAL (22) for audit sockets; the rest reach the kernel, which decides
/// (setns on a bad descriptor: EBADF; mount without CAP_SYS_ADMIN: EPERM; clone3 without
/// arguments: EINVAL; a nested user namespace: allowed).
const PODMAN_DEFAULT: &[(&str, i32)] = &[
    ("add_key", 38),
    ("request_key", 38),
    ("keyctl", 0),
    ("perf_event_open", 1),
    ("userfaultfd", 1),
    ("io_uring_setup", 38),
    ("personality_read_implies_exec", 38),
    ("personality_query", 0),
    ("bpf", 1),
    ("setns", 9),
    ("mount", 1),
    ("clone3", 22),
    ("socket_netlink_audit", 22),
    ("getpid", 0),
    ("clone_newuser", 0),
    ("unshare_newuser", 0),
    ("seccomp_mode", 2),
];

fn probe() -> std::path::PathBuf {
    probes::static_c("seccomp-probe", PROBE)
}

fn results(out: &str) -> BTreeMap<String, i32> {
    out.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, errno)| (name.to_string(), errno.trim().parse().unwrap()))
        .collect()
}

fn run_probe(env: &TestEnv, image: &str, options: &[&str]) -> BTreeMap<String, i32> {
    let mount = probes::mount_arg(&probe());
    let mut args = vec!["run", "--rm", "-v", &mount];
    args.extend(options);
    args.extend([image, "/probe/seccomp-probe"]);
    results(&env.skiff(&args).stdout())
}

/// A profile in Docker's format: everything allowed but mkdir (EACCES) and, in the older
/// one-name form, rmdir (ENOSYS).
const CUSTOM_PROFILE: &str = r#"{
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": []},
        {"name": "rmdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
    ]
}"#;

/// A profile that refuses a call the container's start makes after the filter is loaded (the
/// filter comes before the process drops its capabilities, as runc loads it): the start fails,
/// as Podman's does with this profile.
const CHDIR_REFUSED: &str = r#"{
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"name": "chdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
}"#;

/// The `Seccomp:` line of a container's first process: 2 when filtered, 0 when not.
fn seccomp_status(env: &TestEnv, options: &[&str], image: &str) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend(options);
    args.extend([image, "grep", "Seccomp:", "/proc/self/status"]);
    env.skiff(&args).stdout()
}

const CUSTOM_CHECK: &str =
    "mkdir /tmp/made 2>&1; rmdir /tmp/none 2>&1; grep Seccomp: /proc/self/status";

fn assert_custom_profile_applies(out: &str, who: &str) {
    assert!(
        out.contains("Permission denied"),
        "mkdir refused: {who}: {out}"
    );
    assert!(
        out.contains("Function not implemented"),
        "rmdir refused: {who}: {out}"
    );
    assert!(out.contains("Seccomp:\t2"), "{who}: {out}");
}

#[test]
fn the_default_profile_refuses_what_podmans_refuses() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let who = format!("as root: {}", env.as_root);
        let expected: BTreeMap<String, i32> = PODMAN_DEFAULT
            .iter()
            .map(|(name, errno)| (name.to_string(), *errno))
            .collect();
        assert_eq!(run_probe(&env, image, &[]), expected, "{who}");
        // Ordinary work goes on.
        let out = env
            .skiff(&[
                "run",
                "--rm",
                image,
                "sh",
                "-c",
                "ls / | grep -c etc; echo done",
            ])
            .stdout();
        assert_eq!(out, "1\ndone\n", "{who}");

        // `exec` gets the container's filter, and so do the RUN steps of a build.
        env.skiff(&["run", "-d", "--name", "held", image, "sleep", "600"])
            .stdout();
        let status = env
            .skiff(&["exec", "held", "grep", "Seccomp:", "/proc/self/status"])
            .stdout();
        assert_eq!(status, "Seccomp:\t2\n", "{who}");
        env.skiff(&["rm", "-f", "held"]).stdout();
        let context = env.build_context(
            "filtered-build",
            &[(
                "Containerfile",
                &format!("FROM {image}\nRUN grep -q 'Seccomp:.2' /proc/self/status\n"),
            )],
        );
        env.skiff(&["build", "-t", "filtered", &context]).stdout();
        let context = env.build_context(
            "unconfined-build",
            &[(
                "Containerfile",
                &format!("FROM {image}\nRUN grep -q 'Seccomp:.0' /proc/self/status\n"),
            )],
        );
        env.skiff(&[
            "build",
            "--security-opt",
            "seccomp=unconfined",
            "-t",
            "loose",
            &context,
        ])
        .stdout();
    }
}

#[test]
fn unconfined_lifts_the_filter_and_is_kept_by_created_containers() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let who = format!("as root: {}", env.as_root);
        let results = run_probe(&env, image, &["--security-opt", "seccomp=unconfined"]);
        assert_eq!(results["seccomp_mode"], 0, "{who}: {results:?}");
        assert_ne!(results["add_key"], 38, "{who}: {results:?}");
        assert_ne!(results["io_uring_setup"], 38, "{who}: {results:?}");

        env.skiff(&[
            "create",
            "--name",
            "loose",
            "--security-opt",
            "seccomp=unconfined",
            image,
            "grep",
            "Seccomp:",
            "/proc/self/status",
        ])
        .stdout();
        let opts = env
            .skiff(&[
                "inspect",
                "--format",
                "{{json .HostConfig.SecurityOpt}}",
                "loose",
            ])
            .stdout();
        assert_eq!(opts, "[\"seccomp=unconfined\"]\n", "{who}");
        env.skiff(&["start", "loose"]).stdout();
        env.skiff(&["wait", "loose"]).stdout();
        assert_eq!(
            env.skiff(&["logs", "loose"]).stdout(),
            "Seccomp:\t0\n",
            "{who}"
        );
    }
}

#[test]
fn a_profile_in_dockers_format_is_honoured() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let who = format!("as root: {}", env.as_root);
        let profile = env.write_given("profiles/custom.json", CUSTOM_PROFILE);
        let option = format!("seccomp={profile}");
        let out = env
            .skiff(&[
                "run",
                "--name",
                "custom",
                "--security-opt",
                &option,
                image,
                "sh",
                "-c",
                CUSTOM_CHECK,
            ])
            .stdout();
        assert_custom_profile_applies(&out, &who);
        let opts = env
            .skiff(&[
                "inspect",
                "--format",
                "{{json .HostConfig.SecurityOpt}}",
                "custom",
            ])
            .stdout();
        assert_eq!(opts, format!("[\"{option}\"]\n"), "{who}");
        let refusing = env.write_given("profiles/chdir.json", CHDIR_REFUSED);
        let option = format!("seccomp={refusing}");
        let (_, stderr) = env
            .skiff(&["run", "--rm", "--security-opt", &option, image, "true"])
            .assert_exit(125);
        assert_eq!(stderr.lines().count(), 1, "{who}: {stderr}");
        assert!(
            stderr.contains("chdir to /: function not implemented"),
            "{who}: {stderr}"
        );
    }
}

#[test]
fn a_bad_profile_or_an_unknown_option_is_one_error_line() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let broken = env.write_given(
            "profiles/broken.json",
            "{\"defaultAction\": \"SCMP_ACT_ALLOW\",",
        );
        let unknown_action = env.write_given(
            "profiles/action.json",
            "{\"defaultAction\": \"SCMP_ACT_MAYBE\"}",
        );
        let missing = env.path("profiles/missing.json").display().to_string();
        for (option, named) in [
            (format!("seccomp={broken}"), broken.clone()),
            (
                format!("seccomp={unknown_action}"),
                "SCMP_ACT_MAYBE".to_string(),
            ),
            (format!("seccomp={missing}"), missing.clone()),
            ("bogus=1".to_string(), "\"bogus=1\"".to_string()),
            (
                "no-new-privileges=maybe".to_string(),
                "\"no-new-privileges=maybe\"".to_string(),
            ),
            (
                "mask=proc/kcore".to_string(),
                "not an absolute path".to_string(),
            ),
            (
                "apparmor=skiff-test".to_string(),
                "\"skiff-test\"".to_string(),
            ),
        ] {
            let (_, stderr) = env
                .skiff(&["run", "--rm", "--security-opt", &option, image, "true"])
                .assert_exit(125);
            assert_eq!(stderr.lines().count(), 1, "{option}: {stderr}");
            assert!(stderr.starts_with("Error: "), "{option}: {stderr}");
            assert!(stderr.contains(&named), "{option}: {stderr}");
        }
    }
}

#[test]
fn containers_conf_seccomp_profile_is_honoured_and_info_says_so() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let who = format!("as root: {}", env.as_root);
        let profile = env.write_given("profiles/custom.json", CUSTOM_PROFILE);
        env.write_given(
            "config/containers/containers.conf",
            &format!("[containers]\nseccomp_profile = \"{profile}\"\n"),
        );
        let out = env
            .skiff(&["run", "--rm", image, "sh", "-c", CUSTOM_CHECK])
            .stdout();
        assert_custom_profile_applies(&out, &who);
        // The command line wins.
        let out = seccomp_status(&env, &["--security-opt", "seccomp=unconfined"], image);
        assert_eq!(out, "Seccomp:\t0\n", "{who}");
        let kernel_has_it = std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .contains("\nSeccomp:");
        let info = env
            .skiff(&[
                "info",
                "--format",
                "{{.Host.Security.SECCOMPEnabled}} {{.Host.Security.SECCOMPProfilePath}}",
            ])
            .stdout();
        assert_eq!(info, format!("{kernel_has_it} {profile}\n"), "{who}");

        env.write_given(
            "config/containers/containers.conf",
            "[containers]\nseccomp_profile = \"unconfined\"\n",
        );
        assert_eq!(seccomp_status(&env, &[], image), "Seccomp:\t0\n", "{who}");
        // An empty path is the built-in profile, as in Podman.
        env.write_given(
            "config/containers/containers.conf",
            "[containers]\nseccomp_profile = \"\"\n",
        );
        assert_eq!(seccomp_status(&env, &[], image), "Seccomp:\t2\n", "{who}");
    }
}

/// `--seccomp-policy image`: the profile an image carries in its label
/// `io.containers.seccomp.profile` applies, unless `--security-opt seccomp=` names one; the
/// default policy ignores it.
#[test]
fn an_images_own_profile_applies_with_the_image_policy() {
    let test = skiff_test!();
    for env in test.each_env() {
        let base = env.load_testbox();
        let profile = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#;
        let dir = env.build_context(
            "labelled",
            &[(
                "Containerfile",
                &format!("FROM {base}\nLABEL io.containers.seccomp.profile='{profile}'\n"),
            )],
        );
        env.skiff(&["build", "-q", "-t", "labelled", &dir]).stdout();
        let mkdir = |flags: &[&str]| {
            let args = [
                &["run", "--rm"],
                flags,
                &["labelled", "sh", "-c", "mkdir /tmp/x 2>&1 && echo made"],
            ]
            .concat();
            env.skiff(&args).output()
        };
        let text = |out: std::process::Output| String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(text(mkdir(&[])), "made\n");
        assert!(text(mkdir(&["--seccomp-policy", "image"])).contains("Permission denied"));
        assert_eq!(
            text(mkdir(&[
                "--seccomp-policy",
                "image",
                "--security-opt",
                "seccomp=unconfined"
            ])),
            "made\n"
        );
        env.skiff(&[
            "run",
            "--rm",
            "--seccomp-policy",
            "other",
            "labelled",
            "true",
        ])
        .refused("invalid --seccomp-policy \"other\"");
    }
}
