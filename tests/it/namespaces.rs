//! `--pid`, `--ipc`, `--uts` and `--cgroupns`: the container's own namespace, the host's, or
//! another container's, as Podman gives them.

use crate::common::skiff_test;

#[test]
fn host_namespaces_are_the_hosts() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let own = |kind: &str| std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        let theirs = |flags: &[&str], kind: &str| {
            let path = format!("/proc/self/ns/{kind}");
            env.run_output(image, flags, &["readlink", &path])
                .trim()
                .to_string()
        };
        for (flag, kind) in [("--pid", "pid"), ("--ipc", "ipc"), ("--uts", "uts")] {
            let host = theirs(&[flag, "host"], kind);
            assert_eq!(host, own(kind).display().to_string(), "{flag} host");
            assert_ne!(theirs(&[], kind), host, "{flag} private by default");
        }
        // The cgroup namespace: the host's by default on this cgroup v1 host, or its own.
        let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let cgroup = own("cgroup").display().to_string();
        assert_eq!(theirs(&[], "cgroup") == cgroup, !v2);
        assert_ne!(theirs(&["--cgroupns", "private"], "cgroup"), cgroup);
        assert_eq!(theirs(&["--cgroupns", "host"], "cgroup"), cgroup);
        // With the host's pids, the host's processes: this test's own among them.
        let me = std::process::id().to_string();
        let pids = env.run_output(image, &["--pid", "host"], &["ls", "/proc"]);
        assert!(pids.lines().any(|p| p == me), "{pids}");
        let hostname = nix::unistd::gethostname().unwrap();
        let named = env.run_output(image, &["--uts", "host"], &["hostname"]);
        assert_eq!(named.trim(), hostname.to_str().unwrap());
        // --ipc none: no /dev/shm at all.
        let none = env.run_output(
            image,
            &["--ipc", "none"],
            &["sh", "-c", "[ -e /dev/shm ] || echo gone"],
        );
        assert_eq!(none, "gone\n");
    }
}

/// Rootless, a container that sees the host's processes does not share the user namespace the
/// other containers share: in it, it could trace theirs.
#[test]
fn a_container_with_the_hosts_pids_has_a_user_namespace_of_its_own() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else { return };
    let image = env.load_testbox();
    let user = |flags: &[&str]| env.run_output(image, flags, &["readlink", "/proc/self/ns/user"]);
    let shared = user(&[]);
    assert_eq!(user(&[]), shared);
    assert_ne!(user(&["--pid", "host"]), shared);
}

#[test]
fn a_container_joins_anothers_namespaces_which_stays_while_it_exists() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["create", "--pid", "container:first", image, "true"])
            .refused("no container with name or ID \"first\"");
        let first = env
            .skiff(&[
                "run",
                "-d",
                "--name",
                "first",
                "--hostname",
                "first-host",
                image,
                "sleep",
                "60",
            ])
            .stdout();
        let joined = [
            "--pid",
            "container:first",
            "--ipc",
            "container:first",
            "--uts",
            "container:first",
        ];
        let seen = env.run_output(
            image,
            &joined,
            &[
                "sh",
                "-c",
                "ps -o args | grep -c '^sleep 60'; hostname; readlink /proc/self/ns/ipc",
            ],
        );
        let ipc = env
            .skiff(&["exec", "first", "readlink", "/proc/self/ns/ipc"])
            .stdout();
        assert_eq!(seen, format!("1\nfirst-host\n{ipc}"));
        let args = [
            &["create", "--name", "second"],
            &joined[..],
            &[image, "true"],
        ]
        .concat();
        env.skiff(&args).stdout();
        let modes = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}} {{json .Dependencies}}",
                "second",
            ])
            .stdout();
        let id = first.trim();
        assert_eq!(
            modes,
            format!("container:{id} container:{id} container:{id} [\"{id}\"]\n")
        );
        let defaults = env
            .skiff(&[
                "inspect",
                "--format",
                "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}",
                "first",
            ])
            .stdout();
        assert_eq!(defaults, "private shareable private\n", "Podman's defaults");
        env.skiff(&["rm", "-f", "first"])
            .refused("has dependent containers which must be removed before it: second");
        env.skiff(&["stop", "-t", "0", "first"]).stdout();
        env.skiff(&["start", "second"])
            .refused("is not running: start it first");
        env.skiff(&["rm", "-f", "second", "first"]).stdout();
        // An IPC namespace made private is not another's to join, as in Podman; a cgroup
        // namespace is.
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "closed",
            "--ipc",
            "private",
            "--cgroupns",
            "private",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        env
            .skiff(&["run", "--rm", "--ipc", "container:closed", image, "true"]).refused("is not allowed: non-shareable IPC (hint: use IpcMode:shareable for the donor container)");
        let theirs = env
            .skiff(&["exec", "closed", "readlink", "/proc/self/ns/cgroup"])
            .stdout();
        let joined = env.run_output(
            image,
            &["--cgroupns", "container:closed"],
            &["readlink", "/proc/self/ns/cgroup"],
        );
        assert_eq!(joined, theirs);
        env.skiff(&["rm", "-f", "closed"]).stdout();
        env.skiff(&["run", "--rm", "--ipc", "bogus", image, "true"])
            .refused("invalid --ipc \"bogus\"");
    }
}

/// `--uidmap`/`--gidmap`: the container's ids mapped onto the user's namespace, as Podman reads
/// them rootless; the image's files keep their owners inside; as root, refused.
#[test]
fn uidmap_maps_the_containers_ids_onto_the_users_namespace() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        if env.as_root {
            env.skiff(&["run", "--rm", "--uidmap", "0:100:10000", image, "true"])
                .refused("--uidmap and --gidmap are for rootless containers");
            continue;
        }
        let maps = env.run_output(
            image,
            &["--uidmap", "0:100:10000", "--hostname", "mapped-host"],
            &["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /bin; grep -c mapped-host /etc/hosts"],
        );
        let lines: Vec<Vec<&str>> = maps
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(lines[0], ["0", "100", "10000"], "{maps}");
        assert_eq!(
            lines[1],
            ["0", "100", "10000"],
            "the gids follow the uids: {maps}"
        );
        assert_eq!(lines[2], ["0:0"], "{maps}");
        assert_eq!(lines[3], ["1"], "{maps}");
        let split = env.run_output(
            image,
            &["--uidmap", "0:1:500", "--gidmap", "0:2:600"],
            &["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"],
        );
        let split: Vec<&str> = split.split_whitespace().collect();
        assert_eq!(split, ["0", "1", "500", "0", "2", "600"]);
        env.skiff(&["run", "--rm", "--uidmap", "0:1:999999", image, "true"])
            .refused("your user namespace has uids 0 to");
        env.skiff(&[
            "run", "--rm", "--uidmap", "0:1", "--userns", "keep-id", image, "true",
        ])
        .refused("--userns and --uidmap/--gidmap cannot be used together");
    }
}

#[test]
fn sharing_the_network_of_a_container_on_the_hosts_is_the_hosts() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "on-host",
            "--network",
            "host",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        let shared = env
            .skiff(&[
                "run",
                "--rm",
                "--network",
                "container:on-host",
                image,
                "readlink",
                "/proc/self/ns/net",
            ])
            .stdout();
        let host = std::fs::read_link("/proc/self/ns/net").unwrap();
        assert_eq!(shared.trim(), host.to_str().unwrap());
        env.skiff(&["rm", "-f", "-t0", "on-host"]).stdout();
    }
}
