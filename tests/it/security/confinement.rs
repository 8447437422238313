//! What confines a container, probed from inside it (the capability sets, no_new_privs, the
//! seccomp mode, the masked and read-only system paths, /sys) under `--privileged`,
//! `--cap-drop ALL`, the `--security-opt` settings and the default, and compared with what
//! Podman gives the same container on this machine.

use crate::common::images::DOCKER_NAME;
use crate::common::podman::{podman_missing, Podman};
use crate::common::{skiff_test, TestEnv};

/// One line a fact: the process's status lines, then each system path as the container sees it.
pub(super) const PROBE: &str =
    "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t ' ' '; \
    for f in /proc/keys /proc/timer_list /proc/cpuinfo /etc/hostname; do \
        if [ -c $f ]; then echo \"$f masked\"; else echo \"$f visible\"; fi; done; \
    for m in /proc/sys /sys; do \
        echo \"$m $(grep \" $m \" /proc/mounts | cut -d' ' -f4 | cut -c1-2)\"; done; \
    grep ' /proc proc' /proc/mounts | grep -o 'hidepid=[a-z0-9]*' || true";

const SETTINGS: &[&[&str]] = &[
    &[],
    &["--privileged"],
    &["--cap-drop", "ALL"],
    &["--security-opt", "seccomp=unconfined"],
    &["--security-opt", "no-new-privileges"],
    &["--security-opt", "mask=/proc/cpuinfo:/etc/hostname"],
    &["--security-opt", "unmask=/proc/timer_list"],
    &["--security-opt", "unmask=ALL"],
    &["--security-opt", "systempaths=unconfined"],
    &["--security-opt", "proc-opts=hidepid=2"],
    &["--security-opt", "label=disable"],
];

fn probe(env: &TestEnv, flags: &[&str]) -> String {
    let args = [&["run", "--rm"], flags, &[DOCKER_NAME, "sh", "-c", PROBE]].concat();
    env.skiff(&args).stdout()
}

#[test]
fn each_setting_confines_as_podman_does() {
    let test = skiff_test!();
    if podman_missing(test) {
        return;
    }
    let Some(env) = test.rootless() else { return };
    let podman = Podman::setup(&env);
    env.load_testbox();
    let archive = crate::common::images::test_images().docker_archive.clone();
    podman.stdout(&["load", "-q", "-i", archive.to_str().unwrap()]);
    let mut differences = Vec::new();
    for flags in SETTINGS {
        let ours = probe(&env, flags);
        let args = [&["run", "--rm"], *flags, &[DOCKER_NAME, "sh", "-c", PROBE]].concat();
        let podmans = podman.stdout(&args);
        if ours != podmans {
            differences.push(format!(
                "{flags:?}\n  podman: {podmans:?}\n  skiff:  {ours:?}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    // The created containers say so in inspect as Podman's do.
    let created = [
        "--privileged",
        "--security-opt",
        "label=type:spc_t",
        "--security-opt",
        "no-new-privileges",
    ];
    let template = "{{.HostConfig.Privileged}} {{json .HostConfig.SecurityOpt}} {{len .EffectiveCaps}} {{json .HostConfig.CapAdd}} {{index .Config.Annotations \"io.podman.annotations.label\"}} {{index .Config.Annotations \"io.podman.annotations.privileged\"}}";
    for tool in ["podman", "skiff"] {
        let args = [
            &["create", "--name", "confined"],
            &created[..],
            &[DOCKER_NAME, "true"],
        ]
        .concat();
        let inspect = ["inspect", "--format", template, "confined"];
        let shown = match tool {
            "podman" => {
                podman.stdout(&args);
                podman.stdout(&inspect)
            }
            _ => {
                env.skiff(&args).stdout();
                env.skiff(&inspect).stdout()
            }
        };
        assert!(
            shown.starts_with("true [\"no-new-privileges\",\"label=type:spc_t\"] "),
            "{tool}: {shown}"
        );
        assert!(shown.ends_with(" [] type:spc_t TRUE\n"), "{tool}: {shown}");
    }
}

/// Rootless and as root: what each setting gives, as Podman's documentation promises it.
#[test]
fn privileged_lifts_every_confinement_and_binds_the_hosts_devices() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let default = probe(&env, &[]);
        assert!(default.contains("CapEff: 00000000800405fb\n"), "{default}");
        assert!(default.contains("NoNewPrivs: 0\nSeccomp: 2\n"), "{default}");
        assert!(
            default.contains("/proc/keys masked\n/proc/timer_list masked\n"),
            "{default}"
        );
        assert!(default.contains("/proc/sys ro\n/sys ro\n"), "{default}");
        let privileged = probe(&env, &["--privileged"]);
        assert!(
            privileged.contains("NoNewPrivs: 0\nSeccomp: 0\n"),
            "{privileged}"
        );
        assert!(!privileged.contains("masked"), "{privileged}");
        assert!(privileged.contains("/proc/sys \n/sys rw\n"), "{privileged}");
        let full = privileged
            .lines()
            .find_map(|l| l.strip_prefix("CapEff: "))
            .unwrap();
        assert_eq!(
            Some(full),
            privileged.lines().find_map(|l| l.strip_prefix("CapBnd: "))
        );
        assert!(
            u64::from_str_radix(full, 16).unwrap().count_ones() >= 38,
            "{privileged}"
        );
        let dropped = probe(&env, &["--cap-drop", "ALL"]);
        assert!(dropped.contains("CapEff: 0000000000000000\n"), "{dropped}");
        assert!(dropped.contains("Seccomp: 2\n"), "{dropped}");
        // The host's devices, the user's own among them; the ones every container has stay.
        let devices = env
            .skiff(&[
                "run",
                "--rm",
                "--privileged",
                image,
                "sh",
                "-c",
                "[ -c /dev/net/tun ] && [ -c /dev/fuse ] && echo present; ls /dev",
            ])
            .stdout();
        assert!(devices.starts_with("present\n"), "{devices}");
        for own in ["null", "pts", "shm", "mqueue", "ptmx"] {
            assert!(devices.lines().any(|d| d == own), "{own}: {devices}");
        }
        assert!(
            !devices.lines().any(|d| d == "console" || d == "tty1"),
            "{devices}"
        );
        // Without --privileged, none of them.
        let plain = env.run_output(
            image,
            &[],
            &["sh", "-c", "[ -e /dev/net/tun ] || echo none"],
        );
        assert_eq!(plain, "none\n");
    }
}
