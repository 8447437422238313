//! The cgroup flags (`--memory`, `--cpus`, `--pids-limit`, the device ones…): real limits as
//! root through this host's cgroup v1 controllers, a container's own cgroup in a cgroup v2
//! subtree delegated to the unprivileged user (a cgroup2 mount in a private mount namespace,
//! as a systemd user session would give), the one warning rootless on cgroup v1, and inspect's
//! fields as Podman 4.3.1 prints them for the same flags on this machine.

use std::ffi::OsString;
use std::path::Path;

use crate::common::{skiff_test, TestEnv, TEST_USER};

/// Holds 60 MB in a shell variable: past a 10 MB limit the kernel kills it.
const MEMORY_HOG: &str = "x=$(head -c 60000000 /dev/zero | tr '\\0' a); echo survived";

/// A host whose memory controller is on cgroup v1 (this project's CI hosts are hybrid).
fn memory_on_cgroup_v1() -> bool {
    Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists()
}

/// A block device of this host, for the device rate flags.
fn some_disk() -> String {
    let name = std::fs::read_dir("/sys/class/block")
        .expect("/sys/class/block")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| Path::new(&format!("/dev/{name}")).exists())
        .expect("a block device in /dev");
    format!("/dev/{name}")
}

fn inspect(env: &TestEnv, name: &str, field: &str) -> String {
    let format = format!("{{{{json .{field}}}}}");
    env.skiff(&["inspect", "--format", &format, name])
        .stdout()
        .trim()
        .to_string()
}

#[test]
fn resource_flags_are_checked_and_shown_in_inspect_as_podmans_are() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let disk = some_disk();
        let rate = format!("{disk}:1mb");
        let flags = [
            "--memory",
            "20m",
            "--memory-reservation",
            "10m",
            "--cpus",
            "1.5",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            "--pids-limit",
            "50",
            "--memory-swappiness",
            "10",
            "--oom-kill-disable",
            "--device-read-bps",
            &rate,
        ];
        let mut args = vec!["create", "--name", "limited"];
        args.extend(flags);
        args.extend([image, "true"]);
        let (_, stderr) = env.skiff(&args).assert_exit(0);
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("WARN")).collect();
        if env.as_root || !memory_on_cgroup_v1() {
            assert!(warnings.is_empty(), "{stderr}");
        } else {
            // One line, naming each flag it drops and why.
            assert_eq!(warnings.len(), 1, "{stderr}");
            for named in ["--memory,", "--cpus", "--pids-limit", "on cgroup v1 here"] {
                assert!(warnings[0].contains(named), "{named}: {stderr}");
            }
        }
        // Podman 4.3.1's values for the same flags on this machine.
        for (field, podmans) in [
            ("Memory", "20971520".to_string()),
            ("MemorySwap", "41943040".into()),
            ("MemoryReservation", "10485760".into()),
            ("MemorySwappiness", "10".into()),
            ("OomKillDisable", "true".into()),
            ("NanoCpus", "1500000000".into()),
            ("CpuShares", "512".into()),
            ("CpuQuota", "150000".into()),
            ("CpuPeriod", "100000".into()),
            ("CpusetCpus", "\"0\"".into()),
            ("PidsLimit", "50".into()),
            (
                "BlkioDeviceReadBps",
                format!("[{{\"Path\":\"{disk}\",\"Rate\":1048576}}]"),
            ),
            ("Cgroups", "\"default\"".into()),
        ] {
            let shown = inspect(&env, "limited", &format!("HostConfig.{field}"));
            assert_eq!(shown, podmans, "HostConfig.{field}");
        }
        env.skiff(&["rm", "limited"]).stdout();
        // containers.conf's default pids limit, where it applies: 0 rootless on cgroup v1.
        env.skiff(&["create", "--name", "plain", image, "true"])
            .stdout();
        let default_limit = match env.as_root || !memory_on_cgroup_v1() {
            true => "2048",
            false => "0",
        };
        assert_eq!(
            inspect(&env, "plain", "HostConfig.PidsLimit"),
            default_limit
        );
        env.skiff(&["rm", "plain"]).stdout();
        // Podman's global --cgroup-manager: cgroupfs is what skiff does; systemd it refuses.
        let args = [
            "--cgroup-manager",
            "cgroupfs",
            "create",
            "--name",
            "managed",
            image,
            "true",
        ];
        env.skiff(&args).stdout();
        assert_eq!(
            inspect(&env, "managed", "HostConfig.CgroupManager"),
            "\"cgroupfs\""
        );
        env.skiff(&["rm", "managed"]).stdout();
        env.skiff(&["--cgroup-manager", "systemd", "create", image, "true"])
            .refused("--cgroup-manager systemd: skiff writes containers' cgroups itself");

        for (flags, says) in [
            (&["--memory", "1m"][..], "the smallest memory limit is 6MB"),
            (&["--memory-swap", "20m"], "--memory-swap needs --memory"),
            (
                &["--cpus", "1", "--cpu-quota", "5000"],
                "--cpus and --cpu-period/--cpu-quota cannot be used together",
            ),
            (
                &["--cgroups", "disabled", "--memory", "20m"],
                "cannot have resource limits",
            ),
            (&["--cgroups", "sometimes"], "invalid --cgroups"),
            (
                &["--device-cgroup-rule", "x 1:3 r"],
                "invalid device type in device-access-add: x",
            ),
            (&["--device-read-bps", "/dev/null:1m"], "not a block device"),
            (
                &["--cgroup-conf", "cgroup.procs=1"],
                "invalid --cgroup-conf",
            ),
        ] {
            let mut args = vec!["create"];
            args.extend(flags);
            args.extend([image, "true"]);
            env.skiff(&args).refused(says);
        }
    }
}

#[test]
fn roots_limits_are_enforced_through_the_hosts_cgroups() {
    let test = skiff_test!();
    let Some(env) = test.root() else { return };
    let image = env.load_testbox();
    // The hog survives without a limit: the kill below is the limit's.
    assert_eq!(
        env.run_output(image, &[], &["sh", "-c", MEMORY_HOG]).trim(),
        "survived"
    );
    let limited = ["--memory", "10m", "--memory-swap", "10m"];
    let mut args = vec!["run", "--name", "hog"];
    args.extend(limited);
    args.extend([image, "sh", "-c", MEMORY_HOG]);
    env.skiff(&args).assert_exit(137);
    assert_eq!(inspect(&env, "hog", "State.OOMKilled"), "true");
    let mut args = vec!["run", "-d", "--name", "hog-detached"];
    args.extend(limited);
    let later = format!("sleep 0.2; {MEMORY_HOG}");
    args.extend([image, "sh", "-c", &later]);
    env.skiff(&args).stdout();
    assert_eq!(env.skiff(&["wait", "hog-detached"]).stdout().trim(), "137");
    assert_eq!(inspect(&env, "hog-detached", "State.OOMKilled"), "true");

    let forks = "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait";
    let limited = env
        .skiff(&["run", "--rm", "--pids-limit", "5", image, "sh", "-c", forks])
        .output();
    let stderr = String::from_utf8_lossy(&limited.stderr);
    assert!(
        !limited.status.success() && stderr.contains("can't fork"),
        "{stderr}"
    );

    env.skiff(&[
        "run",
        "-d",
        "--name",
        "busy",
        "--cpus",
        "0.5",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "40",
        image,
        "sleep",
        "60",
    ])
    .stdout();
    let pid = inspect(&env, "busy", "State.Pid");
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let cpu_path = membership
        .lines()
        .find_map(|line| {
            line.split_once(":cpu,cpuacct:")
                .or(line.split_once(":cpu:"))
        })
        .map(|(_, path)| path.to_string())
        .expect("a cpu cgroup");
    assert!(cpu_path.ends_with(&format!(
        "skiff-{}",
        inspect(&env, "busy", "Id").trim_matches('"')
    )));
    let cpu_dir = ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"]
        .iter()
        .map(|mount| format!("{mount}{cpu_path}"))
        .find(|dir| Path::new(dir).exists())
        .expect("the container's cpu cgroup on the host");
    let quota = std::fs::read_to_string(format!("{cpu_dir}/cpu.cfs_quota_us")).unwrap();
    assert_eq!(quota.trim(), "50000");
    // exec's processes join the container's cgroups, and so its limits.
    let exec_membership = env
        .skiff(&["exec", "busy", "cat", "/proc/self/cgroup"])
        .stdout();
    assert_eq!(exec_membership, membership);
    let cpus = env
        .skiff(&[
            "exec",
            "busy",
            "grep",
            "Cpus_allowed_list",
            "/proc/self/status",
        ])
        .stdout();
    assert_eq!(cpus.split_whitespace().last(), Some("0"));
    env.skiff(&["rm", "-f", "busy"]).stdout();
    assert!(!Path::new(&cpu_dir).exists(), "{cpu_dir} left behind");

    // A supervisor killed before it removed its container's cgroup leaves it; rm takes it.
    env.skiff(&["run", "-d", "--name", "orphaned", image, "sleep", "60"])
        .stdout();
    let id = inspect(&env, "orphaned", "Id");
    let leaf = format!("/sys/fs/cgroup/memory/skiff/skiff-{}", id.trim_matches('"'));
    assert!(Path::new(&leaf).exists(), "{leaf}");
    // Both read first: with its supervisor gone, the container reads as exited.
    let pids: Vec<i32> = ["State.ConmonPid", "State.Pid"]
        .iter()
        .map(|field| inspect(&env, "orphaned", field).parse().unwrap())
        .collect();
    for pid in pids {
        assert!(pid > 0, "{pid}");
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    env.skiff(&["rm", "-f", "orphaned"]).stdout();
    crate::common::until("the orphaned cgroup to go", || !Path::new(&leaf).exists());

    // Where the cgroup goes: under --cgroup-parent, under skiff's own cgroup (split), or
    // nowhere of its own (disabled).
    let memory_path = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend([image, "cat", "/proc/self/cgroup"]);
        let seen = env.skiff(&args).stdout();
        seen.lines()
            .find_map(|l| l.split_once(":memory:").map(|(_, path)| path.to_string()))
            .unwrap()
    };
    let own_memory = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let own_memory = own_memory
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, path)| path.to_string()))
        .unwrap();
    assert!(memory_path(&["--cgroup-parent", "/skiff-it/sub"]).starts_with("/skiff-it/sub/skiff-"));
    let split = memory_path(&["--cgroups", "split"]);
    let own_prefix = format!("{}/skiff-", own_memory.trim_end_matches('/'));
    assert!(
        split.starts_with(&own_prefix),
        "{split} (own: {own_memory})"
    );
    assert_eq!(memory_path(&["--cgroups", "disabled"]), own_memory);
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let parent = hierarchy.path().join("skiff-it");
        let _ = std::fs::remove_dir(parent.join("sub"));
        let _ = std::fs::remove_dir(parent);
    }

    // A node for a block device it may make (CAP_MKNOD) it may not open, unless a rule allows.
    let open_loop = "mknod /tmp/disk b 7 0 && exec 3</tmp/disk";
    let (_, denied) = env
        .skiff(&[
            "run",
            "--rm",
            "--cap-add",
            "MKNOD",
            image,
            "sh",
            "-c",
            open_loop,
        ])
        .assert_exit(1);
    assert!(denied.contains("Operation not permitted"), "{denied}");
    let allowed = env
        .skiff(&[
            "run",
            "--rm",
            "--cap-add",
            "MKNOD",
            "--device-cgroup-rule",
            "b 7:* r",
            image,
            "sh",
            "-c",
            open_loop,
        ])
        .output();
    let stderr = String::from_utf8_lossy(&allowed.stderr);
    assert!(!stderr.contains("Operation not permitted"), "{stderr}");
}

/// Runs a root shell `script` in a private mount namespace where cgroup v2 is mounted at
/// /sys/fs/cgroup alone (the v1 hierarchies unmounted): the view of a cgroup v2 host.
fn in_cgroup2_view(script: &str) -> String {
    let full = format!(
        "umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 cgroup2 /sys/fs/cgroup && {script}"
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &full])
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_delegated_cgroup_v2_subtree_holds_the_containers_cgroups() {
    let test = skiff_test!();
    if test.lacks_root("mounting cgroup v2 in a mount namespace of its own") {
        return;
    }
    let Some(env) = test.rootless() else { return };
    let image = env.load_testbox();
    let subtree = format!("skiff-it-{}", std::process::id());
    // The user's delegated cgroup: theirs to write, with the command's process in it.
    let delegated = |cmd: crate::common::Cmd| {
        let script = r#"umount -R /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 99
d=/sys/fs/cgroup/$1; mkdir -p $d && chown $2 $d $d/cgroup.procs $d/cgroup.subtree_control $d/cgroup.threads || exit 99
echo $$ > $d/cgroup.procs || exit 99
shift 2; "$@"; rc=$?; echo $$ > /sys/fs/cgroup/cgroup.procs; exit $rc"#;
        let words = [OsString::from(&subtree), OsString::from(TEST_USER)];
        cmd.in_mount_namespace(script, &words, "skiff in a delegated cgroup v2".into())
    };
    let run = |flags: &[&str], command: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.push(image);
        args.extend(command);
        delegated(env.skiff(&args)).assert_exit(0)
    };

    let (seen, _) = run(&["--cgroupns", "host"], &["cat", "/proc/self/cgroup"]);
    let own = seen.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    assert!(
        own.starts_with(&format!("/{subtree}/skiff/skiff-")),
        "{seen}"
    );
    // A cgroup v2 host's default: a cgroup namespace whose root is the container's cgroup.
    let (seen, _) = run(&[], &["cat", "/proc/self/cgroup"]);
    assert!(seen.lines().any(|l| l == "0::/"), "{seen}");
    // This host's memory controller is bound to cgroup v1: the subtree cannot have it.
    let (_, stderr) = run(&["--memory", "10m"], &["true"]);
    assert!(
        stderr.contains("--memory: the memory controller: not delegated"),
        "{stderr}"
    );

    let started = delegated(env.skiff(&[
        "run",
        "-d",
        "--name",
        "delegated",
        "--cgroup-conf",
        "cgroup.max.descendants=3",
        image,
        "sleep",
        "60",
    ]));
    started.assert_exit(0);
    let pid = inspect(&env, "delegated", "State.Pid");
    let written = in_cgroup2_view(&format!(
        r#"cat /sys/fs/cgroup$(sed -n 's/^0:://p' /proc/{pid}/cgroup)/cgroup.max.descendants"#
    ));
    assert_eq!(written.trim(), "3");
    env.skiff(&["rm", "-f", "delegated"]).stdout();
    // The user namespace's holder lives in the subtree too, until `system migrate` ends it.
    env.skiff(&["system", "migrate"]).stdout();
    let left = in_cgroup2_view(&format!(
        "ls -d /sys/fs/cgroup/{subtree}/skiff/skiff-* 2>/dev/null; rmdir /sys/fs/cgroup/{subtree}/skiff && \
         for try in $(seq 50); do rmdir /sys/fs/cgroup/{subtree} 2>/dev/null && break; sleep 0.1; done; \
         test ! -e /sys/fs/cgroup/{subtree}"
    ));
    assert!(left.trim().is_empty(), "left behind: {left}");
}

#[test]
fn podmans_smaller_rules_for_the_resource_flags_hold() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // --memory 0 is no limit: nothing to apply, nothing to warn about.
        let (out, err) = env
            .skiff(&["run", "--rm", "--memory=0", image, "echo", "hello"])
            .assert_exit(0);
        assert_eq!((out.as_str(), err.as_str()), ("hello\n", ""));
        let (_, err) = env
            .skiff(&["run", "--rm", "--kernel-memory", "100", image, "true"])
            .assert_exit(0);
        assert!(
            err.contains("The --kernel-memory flag is no longer supported. This flag is a noop."),
            "{err}"
        );
        for (rule, says) in [
            ("b 7:* rmX", "invalid device access in device-access-add: X"),
            (
                "b 7:2",
                "invalid device cgroup rule requires type, major:Minor, and access rules: \"b 7:2\"",
            ),
            ("x 7:* rmw", "invalid device type in device-access-add: x"),
            ("a a:* rmw", "strconv.ParseUint: parsing \"a\": invalid syntax"),
        ] {
            let flag = format!("--device-cgroup-rule={rule}");
            env.skiff(&["run", "--rm", &flag, image, "true"])
                .refused(says);
        }
        let valid = env.skiff(&["run", "--rm", "--device-cgroup-rule=a 7 rmw", image, "true"]);
        if env.as_root {
            valid.assert_exit(0);
        } else {
            valid.refused("device cgroup rules are not supported in rootless mode");
        }

        // An unlimited rlimit shows as -1, as Podman's inspect has it.
        env.skiff(&[
            "create",
            "--name",
            "core",
            "--ulimit",
            "core=-1:-1",
            image,
            "true",
        ])
        .stdout();
        assert_eq!(
            inspect(&env, "core", "HostConfig.Ulimits"),
            r#"[{"Name":"RLIMIT_CORE","Soft":-1,"Hard":-1}]"#
        );
        env.skiff(&["rm", "core"]).stdout();

        // containers.conf oom_score_adj, and the flag over it.
        env.write_given(
            "config/containers/containers.conf",
            "[containers]\noom_score_adj=7\n",
        );
        let conf = env.path("config/containers/containers.conf");
        let conf = conf.to_str().unwrap();
        let score = |flags: &[&str]| {
            let mut args = vec!["run", "--rm"];
            args.extend(flags);
            args.extend([image, "cat", "/proc/self/oom_score_adj"]);
            env.skiff_with_env(&[("CONTAINERS_CONF", conf)], &[], &args)
                .stdout()
        };
        assert_eq!(score(&[]), "7\n");
        assert_eq!(score(&["--oom-score-adj=9"]), "9\n");
        if !env.as_root {
            let (_, err) = env
                .skiff(&["run", "--rm", "--oom-score-adj=-1000", image, "true"])
                .assert_exit(0);
            assert!(
                err.contains(
                    "Requested oom_score_adj=-1000 is lower than the current one, changing to "
                ),
                "{err}"
            );
        }
    }
}
