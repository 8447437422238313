//! `--cap-add` and `--cap-drop`: the sets a container's process holds (read from its
//! /proc/self/status), what inspect shows, and the errors, each as Podman 4.3.1 gives them on
//! this machine (measured with `podman --runtime runc run`).

use crate::common::{skiff_test, TestEnv};

/// The Cap* lines of /proc/self/status in a container run with `flags`, as "Inh Prm Eff Bnd
/// Amb" hex masks without leading zeros.
fn capability_masks(env: &TestEnv, image: &str, flags: &[&str]) -> String {
    env.run_output(image, flags, &["grep", "^Cap", "/proc/self/status"])
        .lines()
        .map(|line| {
            let mask = line.split_whitespace().nth(1).unwrap();
            format!("{:x}", u64::from_str_radix(mask, 16).unwrap())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn capabilities_are_added_and_dropped_as_podmans_are() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let masks = |flags: &[&str]| capability_masks(&env, image, flags);
        // Root in the container: nothing inheritable, nothing ambient.
        assert_eq!(masks(&[]), "0 800405fb 800405fb 800405fb 0");
        assert_eq!(
            masks(&["--cap-add", "net_admin", "--cap-drop", "CHOWN,cap_kill"]),
            "0 800415da 800415da 800415da 0"
        );
        assert_eq!(
            masks(&["--cap-drop", "all", "--cap-add", "CHOWN"]),
            "0 1 1 1 0"
        );
        // Another user keeps only what was added, as ambient capabilities too.
        assert_eq!(masks(&["--user", "1000"]), "0 0 0 800405fb 0");
        assert_eq!(
            masks(&["--user", "1000", "--cap-add", "NET_RAW"]),
            "2000 2000 2000 800425fb 2000"
        );
        if !env.as_root {
            // Every capability the kernel knows: a user namespace holds them all.
            let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            let all = format!("{:x}", (1u64 << (last + 1)) - 1);
            assert_eq!(
                masks(&["--cap-add", "ALL"]),
                format!("0 {all} {all} {all} 0")
            );
        }

        // What they allow: chown needs CAP_CHOWN.
        let chown = ["sh", "-c", "touch /f && chown 1 /f && echo changed"];
        let mut dropped = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--cap-drop",
            "chown",
            image,
        ];
        dropped.extend_from_slice(&chown);
        let (_, stderr) = env.skiff(&dropped).assert_exit(1);
        assert!(stderr.contains("Operation not permitted"), "{stderr}");
        let mut kept = vec!["run", "--rm", "--network", "none", image];
        kept.extend_from_slice(&chown);
        assert_eq!(env.skiff(&kept).stdout(), "changed\n");

        for (flags, error) in [
            (
                ["--cap-add", "foo", "--cap-drop", "kill"],
                "Error: \"CAP_FOO\": unknown capability\n",
            ),
            (
                ["--cap-add", "chown", "--cap-drop", "CAP_CHOWN"],
                "Error: capability \"CAP_CHOWN\" cannot be dropped and added\n",
            ),
            (
                ["--cap-add", "ALL", "--cap-drop", "all"],
                "Error: adding all caps and removing all caps not allowed\n",
            ),
        ] {
            let mut args = vec!["run", "--rm"];
            args.extend_from_slice(&flags);
            args.extend_from_slice(&[image, "true"]);
            let (_, stderr) = env.skiff(&args).assert_exit(125);
            assert_eq!(stderr, error);
        }
    }
}

#[test]
fn inspect_shows_the_sets_as_podman_does() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let template = "{{json .EffectiveCaps}} {{json .BoundingCaps}} {{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}}";
        env.skiff(&[
            "create",
            "--name",
            "added",
            "--cap-add",
            "net_admin,sys_time",
            "--cap-drop",
            "chown",
            image,
            "true",
        ])
        .stdout();
        let set = r#"["CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_FSETID","CAP_KILL","CAP_NET_ADMIN","CAP_NET_BIND_SERVICE","CAP_SETFCAP","CAP_SETGID","CAP_SETPCAP","CAP_SETUID","CAP_SYS_CHROOT","CAP_SYS_TIME"]"#;
        assert_eq!(
            env.skiff(&["inspect", "--format", template, "added"]).stdout(),
            format!(
                "{set} {set} [\"CAP_NET_ADMIN\",\"CAP_SYS_TIME\"] [\"CAP_AUDIT_WRITE\",\"CAP_CHOWN\",\"CAP_MKNOD\",\"CAP_NET_RAW\"]\n"
            )
        );
        env.skiff(&[
            "create",
            "--name",
            "user",
            "--user",
            "1000",
            "--cap-add",
            "net_raw",
            image,
            "true",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["inspect", "--format", template, "user"]).stdout(),
            "[\"CAP_NET_RAW\"] [\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_FSETID\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\",\"CAP_NET_RAW\",\"CAP_SETFCAP\",\"CAP_SETGID\",\"CAP_SETPCAP\",\"CAP_SETUID\",\"CAP_SYS_CHROOT\"] [] [\"CAP_AUDIT_WRITE\",\"CAP_MKNOD\"]\n"
        );
        env.skiff(&["rm", "added", "user"]).stdout();
    }
}
