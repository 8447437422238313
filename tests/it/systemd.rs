//! `--systemd` and `--sdnotify`: a container whose init is systemd gets what Podman 4.3.1 gives
//! it, checked from inside by a fake init; and a systemd unit of Type=notify running skiff is
//! told that the container is ready, as each mode of `--sdnotify` says.

use crate::common::images::{busybox_image_archive, Layer};
use crate::common::{skiff_test, TestEnv};

const INITBOX: &str = "localhost/initbox:latest";

/// The places systemd mode puts a tmpfs.
const TMPFS: [&str; 4] = ["/run", "/run/lock", "/tmp", "/var/log/journal"];

/// busybox with /sbin/init a script that runs its first argument: a fake systemd that reports
/// what it finds.
fn load_initbox(env: &TestEnv) -> &'static str {
    static ARCHIVE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let archive = ARCHIVE.get_or_init(|| {
        let init = Layer::new().dir("sbin", 0o755, 0).file(
            "sbin/init",
            0o755,
            0,
            b"#!/bin/sh\neval \"$1\"\n",
        );
        busybox_image_archive(
            "initbox-docker.tar",
            INITBOX,
            init,
            serde_json::json!({"Cmd": ["/sbin/init", "echo up"]}),
        )
    });
    env.skiff(&["load", "-i", archive.to_str().unwrap()])
        .stdout();
    INITBOX
}

/// What a container run with `flags` and `command` reports of systemd's needs, one line each:
/// the tmpfs mounts, `container` and `container_uuid`, /etc/machine-id, the cgroup mounts and
/// whether a hierarchy takes writes, and the virtual consoles in /dev.
const REPORT: &str = r#"
for p in /run /run/lock /tmp /var/log/journal; do
  grep -q " $p [^ ]* [^-]*- tmpfs " /proc/self/mountinfo && echo "tmpfs $p $(stat -c %a $p)"
done
echo "container=$container uuid=$container_uuid"
echo "machine-id=$(cat /etc/machine-id 2>/dev/null)"
echo "cgroup mounts=$(grep -c ' /sys/fs/cgroup/[^ ]* [^-]*- cgroup' /proc/self/mountinfo)"
mkdir /sys/fs/cgroup/pids/skiff-probe 2>/dev/null && rmdir /sys/fs/cgroup/pids/skiff-probe && echo "cgroup pids writable"
echo "consoles=$(ls /dev | grep -c '^tty[0-9]')"
"#;

fn report(env: &TestEnv, flags: &[&str], command: &[&str]) -> String {
    env.run_output(INITBOX, flags, command)
}

#[test]
fn an_init_gets_what_systemd_needs() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = load_initbox(&env);
        let id = env
            .skiff(&["create", "--network", "none", image, "/sbin/init", REPORT])
            .stdout();
        let id = id.trim();
        let seen = env.skiff(&["start", "-a", id]).stdout();
        for path in TMPFS {
            // Only /tmp is everyone's to write, as with Podman's runc.
            let mode = if path == "/tmp" { "1777" } else { "755" };
            let line = format!("tmpfs {path} {mode}\n");
            assert!(seen.contains(&line), "{line}: {seen}");
        }
        assert!(
            seen.contains(&format!("container=skiff uuid={}\n", &id[..32])),
            "{seen}"
        );
        assert!(
            seen.contains(&format!("machine-id={}\n", &id[..32])),
            "{seen}"
        );
        let mounts: usize = seen
            .lines()
            .find_map(|l| l.strip_prefix("cgroup mounts="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(mounts > 0, "the host's hierarchies are shown: {seen}");
        assert!(
            !seen.contains("cgroup pids writable"),
            "outside its own cgroup, the hierarchies are read-only: {seen}"
        );
        assert!(seen.contains("consoles=0\n"), "{seen}");
        // Podman 4's inspect shows the signal's number: SIGRTMIN+3 is 37.
        let stop_signal = |container: &str| {
            env.skiff(&["inspect", "--format", "{{.Config.StopSignal}}", container])
                .stdout()
        };
        assert_eq!(stop_signal(id), "37\n");
        env.skiff(&["rm", id]).stdout();

        // --stop-signal wins; a command that is no init gets nothing unless always.
        let id = env
            .skiff(&["create", "--stop-signal", "TERM", image])
            .stdout();
        assert_eq!(stop_signal(id.trim()), "15\n");
        let id = env.skiff(&["create", image, "sh"]).stdout();
        assert_eq!(stop_signal(id.trim()), "15\n");
        let plain = report(&env, &[], &["sh", "-c", REPORT]);
        assert!(
            !plain.contains("tmpfs") && plain.contains("uuid=\n"),
            "{plain}"
        );
        let always = report(&env, &["--systemd=always"], &["sh", "-c", REPORT]);
        assert_eq!(always.matches("tmpfs ").count(), 4, "{always}");
        let off = report(&env, &["--systemd", "false"], &["/sbin/init", REPORT]);
        assert!(
            !off.contains("tmpfs") && off.contains("machine-id=\n"),
            "{off}"
        );

        // What the user mounts there is left as it is.
        let own = report(
            &env,
            &[
                "--tmpfs",
                "/tmp:size=1m",
                "-v",
                "/etc/hostname:/etc/machine-id:ro",
            ],
            &[
                "/sbin/init",
                "grep ' /tmp ' /proc/self/mountinfo; cat /etc/machine-id",
            ],
        );
        let hostname = std::fs::read_to_string("/etc/hostname").unwrap();
        assert!(
            own.contains("size=1024k") && own.ends_with(&hostname),
            "{own}"
        );

        // stop sends systemd's halt signal, which a fake init traps by its number.
        let halting = "trap 'echo halted; exit 0' 37; echo up; while :; do sleep 0.1; done";
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "halting",
            image,
            "/sbin/init",
            halting,
        ])
        .stdout();
        crate::common::until("the init is up", || {
            env.skiff(&["logs", "halting"]).stdout() == "up\n"
        });
        env.skiff(&["stop", "halting"]).stdout();
        assert_eq!(env.skiff(&["logs", "halting"]).stdout(), "up\nhalted\n");
        assert_eq!(inspect(&env, "halting", "{{.State.ExitCode}}"), "0");

        env.skiff(&["run", "--systemd=maybe", image])
            .refused("--systemd values must be one of \"true, false, always\"");
        env.skiff(&["rm", "-a", "-f"]).stdout();
    }
}

/// As root, where the container has cgroups of its own in the host's cgroup namespace (one in
/// systemd's own hierarchy too), systemd may make its units' cgroups under them, and nowhere
/// else unless `--privileged`.
#[test]
fn a_root_init_may_write_its_own_cgroup() {
    let test = skiff_test!();
    let Some(env) = test.root() else {
        return;
    };
    load_initbox(&env);
    let script = r#"own=$(sed -n 's/^[0-9]*:pids://p' /proc/self/cgroup)
mkdir "/sys/fs/cgroup/pids$own/unit" && rmdir "/sys/fs/cgroup/pids$own/unit" && echo own writable
own=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
case $own in */skiff-*) echo "in its own systemd cgroup";; esac
mkdir "/sys/fs/cgroup/systemd$own/init.scope" && rmdir "/sys/fs/cgroup/systemd$own/init.scope" && echo systemd writable
mkdir /sys/fs/cgroup/pids/elsewhere 2>/dev/null && rmdir /sys/fs/cgroup/pids/elsewhere || echo host read-only"#;
    let seen = report(&env, &[], &["/sbin/init", script]);
    assert_eq!(
        seen,
        "own writable\nin its own systemd cgroup\nsystemd writable\nhost read-only\n"
    );
    // --privileged: the hierarchies are writable, as /sys is; the host's virtual consoles stay
    // out, as Podman leaves them out of a systemd container, and its serial terminals come in.
    let script =
        "grep ' /sys/fs/cgroup/pids ' /proc/self/mountinfo | tail -n 1 | cut -d ' ' -f 6 | cut -d , -f 1
ls /dev | grep -c '^tty[0-9]'; true";
    let serial = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                n.strip_prefix("tty")
                    .is_some_and(|r| r.starts_with(|c: char| !c.is_ascii_digit()))
            })
            .collect();
        names.sort();
        names
    };
    let host_serial = serial("/dev").join(" ");
    let list = "ls /dev | grep '^tty[^0-9]' | tr '\\n' ' '";
    for privileged in [true, false] {
        let mut flags = vec!["--systemd=always"];
        if privileged {
            flags.push("--privileged");
        }
        let inside = report(&env, &flags, &["sh", "-c", list]);
        let expected = if privileged {
            host_serial.clone()
        } else {
            String::new()
        };
        assert_eq!(inside.trim_end(), expected, "privileged: {privileged}");
    }
    let seen = report(
        &env,
        &["--privileged", "--systemd=always"],
        &["sh", "-c", script],
    );
    assert_eq!(seen, "rw\n0\n");
    let seen = report(&env, &["--systemd=always"], &["sh", "-c", script]);
    assert_eq!(seen, "ro\n0\n", "read-only without --privileged");
}

/// Sends its argument (else READY=1) to $NOTIFY_SOCKET, as systemd-notify would: busybox has
/// no such tool.
const SD_NOTIFY: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path) {
        fprintf(stderr, "no NOTIFY_SOCKET\n");
        return 2;
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    const char *message = argc > 1 ? argv[1] : "READY=1";
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (sendto(fd, message, strlen(message), 0, (struct sockaddr *)&address, sizeof address) < 0) {
        perror("sendto");
        return 1;
    }
    return 0;
}
"#;

/// A systemd unit's notify socket, as the test's: a datagram socket the container's user may
/// write to.
struct Unit {
    socket: std::os::unix::net::UnixDatagram,
    path: String,
}

impl Unit {
    fn new(env: &TestEnv) -> Unit {
        use std::os::unix::fs::PermissionsExt;
        let path = env.path("unit-notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        Unit {
            socket,
            path: path.to_str().unwrap().to_string(),
        }
    }

    /// The datagrams that arrive until none has for `quiet`, at most `count` of them.
    fn heard(&self, count: usize, quiet: std::time::Duration) -> Vec<String> {
        self.socket.set_read_timeout(Some(quiet)).unwrap();
        let mut heard = Vec::new();
        let mut buffer = [0u8; 4096];
        while heard.len() < count {
            match self.socket.recv(&mut buffer) {
                Ok(n) => heard.push(String::from_utf8_lossy(&buffer[..n]).into_owned()),
                Err(_) => break,
            }
        }
        heard
    }

    /// skiff run as this unit's service runs it.
    fn skiff(&self, env: &TestEnv, args: &[&str]) -> crate::common::Cmd {
        env.skiff_with_env(&[("NOTIFY_SOCKET", &self.path)], &[], args)
    }
}

fn inspect(env: &TestEnv, container: &str, format: &str) -> String {
    env.skiff(&["inspect", "--format", format, container])
        .stdout()
        .trim_end_matches('\n')
        .to_string()
}

#[test]
fn sdnotify_tells_the_unit_as_each_mode_says() {
    use std::time::Duration;
    let test = skiff_test!();
    let probe = crate::common::probes::static_c("sd_notify", SD_NOTIFY);
    let probe_mount = crate::common::probes::mount_arg(&probe);
    let (soon, quiet) = (Duration::from_secs(10), Duration::from_millis(500));
    for env in test.each_env() {
        let image = env.load_testbox();
        let unit = Unit::new(&env);
        let show_socket = ["sh", "-c", "echo ${NOTIFY_SOCKET:-unset}"];

        // conmon: skiff says MAINPID and READY=1; the container never sees the socket, not
        // even with skiff's environment.
        let mut args = vec!["run", "--rm", "--network", "none", "--env-host"];
        args.extend(["--sdnotify=conmon", image]);
        args.extend(show_socket);
        assert_eq!(unit.skiff(&env, &args).stdout(), "unset\n");
        let heard = unit.heard(2, soon);
        assert!(
            heard.len() == 2 && heard[0].starts_with("MAINPID="),
            "{heard:?}"
        );
        assert_eq!(heard[1], "READY=1");
        // Detached, the supervisor says it, after `run -d` has gone.
        let detached = ["run", "-d", "--name", "conmon", "--sdnotify", "conmon"];
        unit.skiff(&env, &[&detached[..], &[image, "sleep", "60"]].concat())
            .stdout();
        let supervisor = inspect(&env, "conmon", "{{.State.ConmonPid}}");
        assert_eq!(
            unit.heard(2, soon),
            [format!("MAINPID={supervisor}"), "READY=1".to_string()]
        );
        assert_eq!(
            inspect(
                &env,
                "conmon",
                "{{.Config.SdNotifyMode}} {{.Config.SdNotifySocket}}"
            ),
            format!("conmon {}", unit.path)
        );
        env.skiff(&["rm", "-f", "conmon"]).stdout();

        // container (the default): the socket is passed in, and the container says READY.
        let says = "/probe/sd_notify 'READY=1\nSTATUS=from inside'";
        let script = format!("echo $NOTIFY_SOCKET; {says}");
        let args = [
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &probe_mount,
            image,
        ];
        let out = unit
            .skiff(&env, &[&args[..], &["sh", "-c", &script]].concat())
            .stdout();
        assert_eq!(out, "/run/notify/notify.sock\n");
        let heard = unit.heard(2, soon);
        assert!(
            heard.len() == 2 && heard[0].starts_with("MAINPID="),
            "{heard:?}"
        );
        assert_eq!(heard[1], "READY=1\nSTATUS=from inside");
        let script = format!("sleep 1; {says}; sleep 60");
        let args = ["run", "-d", "--name", "inside", "-v", &probe_mount, image];
        unit.skiff(&env, &[&args[..], &["sh", "-c", &script]].concat())
            .stdout();
        let supervisor = inspect(&env, "inside", "{{.State.ConmonPid}}");
        assert_eq!(
            unit.heard(1, soon),
            [format!("MAINPID={supervisor}")],
            "not ready before the container says so"
        );
        let ready = unit.heard(1, soon);
        // Once, in a loaded fresh-clone run, nothing came: what the container says then.
        if ready.is_empty() {
            let logs = env.skiff(&["logs", "inside"]).output();
            let state = inspect(&env, "inside", "{{.State.Status}} {{.State.ExitCode}}");
            panic!("no READY from the container ({state}); its log: {logs:?}");
        }
        assert_eq!(ready, ["READY=1\nSTATUS=from inside"]);
        assert_eq!(
            inspect(&env, "inside", "{{.Config.SdNotifyMode}}"),
            "container"
        );
        env.skiff(&["rm", "-f", "inside"]).stdout();

        // ignore: nothing is said, and the container does not see the socket.
        let id = unit
            .skiff(
                &env,
                &[&["create", "--sdnotify=ignore", image][..], &show_socket].concat(),
            )
            .stdout();
        let id = id.trim();
        assert_eq!(
            inspect(
                &env,
                id,
                "{{.Config.SdNotifyMode}} {{.Config.SdNotifySocket}}"
            ),
            "ignore "
        );
        assert_eq!(unit.skiff(&env, &["start", "-a", id]).stdout(), "unset\n");
        assert!(unit.heard(1, quiet).is_empty());
        env.skiff(&["rm", id]).stdout();

        env.skiff(&["run", "--sdnotify=healthy", image])
            .refused("invalid sdnotify value \"healthy\": must be container, conmon or ignore");
    }
}
