//! `--ulimit` and containers.conf `default_ulimits`: the limits a container's processes get,
//! rootless clamping, inspect, and the errors, as Podman gives them on this machine.

use crate::common::{skiff_test, TestEnv};

/// `ulimit` lines of a container run with `flags`, joined by spaces.
fn limits(env: &TestEnv, image: &str, flags: &[&str], script: &str) -> String {
    env.run_output(image, flags, &["sh", "-c", script])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn ulimits_are_set_clamped_and_shown_as_podmans_are() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let nofile = "ulimit -Sn; ulimit -Hn";
        let host = limits(&env, image, &["--ulimit", "host"], "ulimit -Hn");
        // Podman raises the open-file limit: to 1048576 as root (where the host lets root raise
        // its hard limit: this one's bounding set lacks CAP_SYS_RESOURCE), to the hard limit
        // rootless.
        let raised = limits(&env, image, &[], nofile);
        let acceptable = [format!("{host} {host}"), "1048576 1048576".to_string()];
        let expected = if env.as_root {
            &acceptable[..]
        } else {
            &acceptable[..1]
        };
        assert!(expected.contains(&raised), "{raised} (host: {host})");
        assert_eq!(
            limits(
                &env,
                image,
                &["--ulimit", "nofile=100:200", "--ulimit", "nproc=50"],
                "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu"
            ),
            "100 200 50 50"
        );
        if !env.as_root {
            // Above the hard limit skiff has: lowered to it.
            assert_eq!(
                limits(&env, image, &["--ulimit", "nofile=-1"], nofile),
                format!("{host} {host}")
            );
        }

        env.skiff(&[
            "run",
            "-d",
            "--name",
            "limited",
            "--ulimit",
            "nofile=300:400",
            image,
            "sleep",
            "60",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["exec", "limited", "sh", "-c", nofile]).stdout(),
            "300\n400\n"
        );
        assert_eq!(
            env.skiff(&[
                "inspect",
                "--format",
                "{{json .HostConfig.Ulimits}}",
                "limited"
            ])
            .stdout(),
            "[{\"Name\":\"RLIMIT_NOFILE\",\"Soft\":300,\"Hard\":400}]\n"
        );
        env.skiff(&["rm", "-f", "limited"]).stdout();

        for (given, reason) in [
            ("bogus=1", "invalid ulimit type: bogus"),
            (
                "nofile=200:100",
                "ulimit soft limit must be less than or equal to hard limit: 200 > 100",
            ),
        ] {
            let (_, stderr) = env
                .skiff(&["run", "--rm", "--ulimit", given, image, "true"])
                .assert_exit(125);
            assert_eq!(
                stderr,
                format!(
                    "Error: ulimit option {given:?} requires name=SOFT:HARD, failed to be parsed: {reason}\n"
                )
            );
        }
    }
}

#[test]
fn containers_conf_default_ulimits_apply_unless_a_flag_names_the_same() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.write_given(
            "config/containers/containers.conf",
            "[containers]\ndefault_ulimits = [\"nofile=500:600\", \"nproc=70:80\"]\n",
        );
        assert_eq!(
            limits(
                &env,
                image,
                &["--ulimit", "nproc=90"],
                "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu"
            ),
            "500 600 90 90"
        );
    }
}
