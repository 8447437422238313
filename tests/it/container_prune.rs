//! Removing containers in bulk: `container prune --filter` (Podman's until=, created before
//! then, and label=/label!=, which narrow what the prune removes and never reach a running
//! container), and the `--force` cascades of `network rm` and `volume rm`, which remove the
//! containers using what they remove.

use crate::common::{skiff_test, UNTIL_THE_FUTURE};

#[test]
fn container_prune_filters_by_until_and_labels() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        for (name, labels) in [
            ("ctr-a", &["--label", "team=a"][..]),
            ("ctr-b", &["--label", "team=b"][..]),
            ("ctr-n", &[][..]),
        ] {
            let mut args = vec!["create", "--name", name];
            args.extend_from_slice(labels);
            args.extend_from_slice(&[image, "true"]);
            env.skiff(&args).stdout();
        }
        env.skiff(&[
            "run", "-d", "--name", "up", "-l", "team=a", image, "sleep", "600",
        ])
        .stdout();
        let id = |name: &str| {
            env.skiff(&["inspect", "--format", "{{.Id}}", name])
                .stdout()
        };
        let (a, b, n) = (id("ctr-a"), id("ctr-b"), id("ctr-n"));
        let prune = |filters: &[&str]| {
            let mut args = vec!["container", "prune", "-f"];
            for filter in filters {
                args.extend_from_slice(&["--filter", filter]);
            }
            env.skiff(&args).stdout()
        };

        // All of them are younger than an hour.
        assert_eq!(prune(&["until=1h"]), "");
        // The running container has the label too, and stays.
        assert_eq!(prune(&["label=team=a"]), a);
        assert_eq!(prune(&["label!=team"]), n);
        assert_eq!(prune(&["label=team=b", "until=2000-01-01T00:00:00Z"]), "");
        assert_eq!(prune(&["label=team", UNTIL_THE_FUTURE]), b);
        let (stdout, stderr) = env
            .skiff(&["container", "prune", "--filter", "status=exited"])
            .assert_exit(125);
        assert_eq!(stdout, "");
        assert!(
            stderr.contains("container prune filters by until=, label= and label!="),
            "{stderr}"
        );
        assert_eq!(
            env.skiff(&["ps", "-a", "--format", "{{.Names}}"]).stdout(),
            "up\n"
        );
        env.skiff(&["rm", "-f", "up"]).stdout();
    }
}

#[test]
fn network_rm_and_volume_rm_force_remove_the_containers_using_them() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["network", "create", "cascadenet"]).stdout();
        env.skiff(&["volume", "create", "cascadevol"]).stdout();
        env.skiff(&[
            "create",
            "--name",
            "on-net",
            "--network",
            "cascadenet",
            image,
            "true",
        ])
        .stdout();
        env.skiff(&[
            "create",
            "--name",
            "on-vol",
            "-v",
            "cascadevol:/data",
            image,
            "true",
        ])
        .stdout();
        env.skiff(&["run", "-d", "--name", "keeps", image, "sleep", "600"])
            .stdout();

        let (_, stderr) = env.skiff(&["network", "rm", "cascadenet"]).assert_exit(125);
        assert!(stderr.contains("in use by on-net"), "{stderr}");
        let (_, stderr) = env.skiff(&["volume", "rm", "cascadevol"]).assert_exit(125);
        assert!(stderr.contains("on-vol"), "{stderr}");
        let names = || env.skiff(&["ps", "-a", "--format", "{{.Names}}"]).stdout();
        assert_eq!(names().lines().count(), 3, "a refusal removes nothing");

        assert_eq!(
            env.skiff(&["network", "rm", "-f", "cascadenet"]).stdout(),
            "cascadenet\n"
        );
        assert_eq!(
            env.skiff(&["volume", "rm", "-f", "cascadevol"]).stdout(),
            "cascadevol\n"
        );
        assert_eq!(names(), "keeps\n", "only the containers using them went");
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "");
        env.skiff(&["rm", "-f", "keeps"]).stdout();
    }
}
