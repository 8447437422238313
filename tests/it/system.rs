//! `system prune`: stopped containers, unused networks, dangling images with their build cache,
//! and with --volumes unused volumes, after a confirmation unless -f.

use std::collections::BTreeMap;

use crate::common::{skiff_test, TestEnv, UNTIL_THE_FUTURE};

/// The report's sections: each "Deleted …" heading with the lines under it.
fn sections(report: &str) -> BTreeMap<String, Vec<String>> {
    let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in report.lines() {
        if line.starts_with("Deleted ") {
            current = Some(line.to_string());
            sections.entry(line.to_string()).or_default();
        } else {
            let heading = current
                .clone()
                .unwrap_or_else(|| panic!("{line:?} before any heading in:\n{report}"));
            sections.get_mut(&heading).unwrap().push(line.to_string());
        }
    }
    sections
}

fn lines(out: String) -> Vec<String> {
    out.lines().map(str::to_string).collect()
}

/// The full ID of a container or image.
fn full_id(env: &TestEnv, reference: &str) -> String {
    env.skiff(&["inspect", "--format", "{{.Id}}", reference])
        .stdout()
        .trim()
        .trim_start_matches("sha256:")
        .to_string()
}

/// A build context holding this Dockerfile and an a.txt, given to the user skiff runs as.
fn build_context(env: &TestEnv, dockerfile: &str, a: &str) -> String {
    let dir = env.path("context");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("a.txt"), a).unwrap();
    env.give(&dir);
    dir.display().to_string()
}

#[test]
fn system_prune_asks_first_and_removes_nothing_unless_told_yes() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["run", "--name", "stopped", image, "true"])
            .stdout();
        let container = full_id(&env, "stopped");
        let committed = env
            .skiff(&["commit", "stopped"])
            .stdout()
            .trim()
            .to_string();
        env.skiff(&["network", "create", "idle"]).stdout();
        let still_there = || {
            assert_eq!(env.skiff(&["ps", "-aq"]).stdout().lines().count(), 1);
            assert!(lines(env.skiff(&["network", "ls", "-q"]).stdout()).contains(&"idle".into()));
            env.skiff(&["image", "inspect", &committed]).stdout();
        };

        for answer in ["n\n", "\n", "nope, y\n"] {
            let (stdout, _) = env.skiff(&["system", "prune"]).stdin(answer).assert_exit(0);
            assert_eq!(
                stdout,
                "WARNING! This command removes:\n\t- all stopped containers\n\t- all networks not used by at least one container\n\t- all dangling images\n\t- all dangling build cache\n\nAre you sure you want to continue? [y/N] ",
                "answer {answer:?}"
            );
            still_there();
        }
        // No answer at all (standard input at its end) is no.
        let (stdout, _) = env.skiff(&["system", "prune", "--volumes"]).assert_exit(0);
        assert!(
            stdout.contains("\n\t- all volumes not used by at least one container\n"),
            "{stdout}"
        );
        assert!(stdout.ends_with("[y/N] "), "{stdout}");
        still_there();

        let (stdout, _) = env.skiff(&["system", "prune"]).stdin("y\n").assert_exit(0);
        let report = stdout
            .split_once("[y/N] ")
            .unwrap_or_else(|| panic!("no question in:\n{stdout}"))
            .1;
        let found = sections(report);
        assert_eq!(found["Deleted Containers"], [container], "{report}");
        assert_eq!(found["Deleted Images"], [committed.as_str()], "{report}");
        assert_eq!(found["Deleted Networks"], ["idle"], "{report}");
        assert_eq!(env.skiff(&["ps", "-aq"]).stdout(), "");
        env.skiff(&["image", "inspect", &committed])
            .assert_exit(125);
    }
}

#[test]
fn system_prune_force_removes_containers_networks_dangling_images_and_their_cache() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let dockerfile = format!(
            "FROM {image}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCMD [\"cat\", \"/b.txt\"]\n"
        );
        let dir = build_context(&env, &dockerfile, "first\n");
        let build = || env.skiff(&["build", "-t", "app:v1", &dir]).stdout();
        let first = build();
        let first_id = first.lines().last().unwrap().to_string();
        // The cache works before the prune, so its absence afterwards is the prune's doing.
        let cached = build();
        assert!(cached.contains("Using cache"), "{cached}");
        // Changed content: app:v1 moves on and the first result is left dangling.
        std::fs::write(env.path("context/a.txt"), "second\n").unwrap();
        let second_id = build().lines().last().unwrap().to_string();
        assert_ne!(first_id, second_id);
        let all_images = env.skiff(&["images", "-aq"]).stdout().lines().count();
        assert!(all_images > 3, "no intermediate images to prune");

        env.skiff(&["volume", "create", "data"]).stdout();
        env.skiff(&["network", "create", "idle"]).stdout();
        env.skiff(&[
            "run",
            "--name",
            "stopped",
            "-v",
            "data:/data",
            image,
            "true",
        ])
        .stdout();
        let container = full_id(&env, "stopped");

        let report = env.skiff(&["system", "prune", "-f"]).stdout();
        assert!(!report.contains("WARNING"), "{report}");
        assert!(!report.contains("reclaimed"), "{report}");
        let found = sections(&report);
        assert_eq!(
            found.keys().collect::<Vec<_>>(),
            ["Deleted Containers", "Deleted Images", "Deleted Networks"],
            "{report}"
        );
        assert_eq!(found["Deleted Containers"], [container], "{report}");
        assert_eq!(found["Deleted Networks"], ["idle"], "{report}");
        let deleted_images = &found["Deleted Images"];
        assert!(deleted_images.contains(&first_id), "{report}");
        assert!(!deleted_images.contains(&second_id), "{report}");
        assert_eq!(deleted_images.len(), all_images - 2, "{report}");
        // Podman's order: containers, (volumes,) images, networks.
        let position = |heading: &str| report.find(heading).unwrap();
        assert!(position("Deleted Containers") < position("Deleted Images"));
        assert!(position("Deleted Images") < position("Deleted Networks"));

        assert_eq!(env.skiff(&["ps", "-aq"]).stdout(), "");
        assert!(!lines(env.skiff(&["network", "ls", "-q"]).stdout()).contains(&"idle".into()));
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "data\n");
        env.skiff(&["image", "inspect", &first_id]).assert_exit(125);
        assert_eq!(full_id(&env, "app:v1"), second_id);
        env.skiff(&["image", "inspect", image]).stdout();
        assert_eq!(env.skiff(&["images", "-aq"]).stdout().lines().count(), 2);

        // The build cache went with the intermediate images: every step runs again.
        let rebuilt = build();
        assert!(!rebuilt.contains("Using cache"), "{rebuilt}");

        // --volumes: the volume the pruned container used goes too.
        let report = env.skiff(&["system", "prune", "-f", "--volumes"]).stdout();
        assert_eq!(sections(&report)["Deleted Volumes"], ["data"], "{report}");
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "");
        assert_eq!(full_id(&env, "app:v1").len(), 64);
    }
}

#[test]
fn system_prune_all_removes_unused_named_images_but_keeps_those_in_use() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let kept = full_id(&env, image);
        env.skiff(&["run", "--name", "maker", image, "sh", "-c", "echo x > /x"])
            .stdout();
        let maker = full_id(&env, "maker");
        let spare = env
            .skiff(&["commit", "maker", "spare:v1"])
            .stdout()
            .trim()
            .to_string();
        env.skiff(&["network", "create", "used"]).stdout();
        env.skiff(&[
            "run",
            "-d",
            "--name",
            "busy",
            "--network",
            "used",
            image,
            "sleep",
            "600",
        ])
        .stdout();

        // Without -a a named image stays, unused or not.
        let report = env.skiff(&["system", "prune", "-f"]).stdout();
        assert_eq!(sections(&report)["Deleted Containers"], [maker], "{report}");
        assert!(!report.contains("Deleted Images"), "{report}");
        env.skiff(&["image", "inspect", "spare:v1"]).stdout();

        let report = env.skiff(&["system", "prune", "-a", "-f"]).stdout();
        let found = sections(&report);
        assert_eq!(
            found.keys().collect::<Vec<_>>(),
            ["Deleted Images"],
            "{report}"
        );
        assert_eq!(found["Deleted Images"], [spare], "{report}");
        env.skiff(&["image", "inspect", "spare:v1"])
            .assert_exit(125);
        // The running container keeps its image and its network.
        assert_eq!(full_id(&env, image), kept);
        assert!(lines(env.skiff(&["network", "ls", "-q"]).stdout()).contains(&"used".into()));
        assert_eq!(env.skiff(&["ps", "-q"]).stdout().lines().count(), 1);
        env.skiff(&["rm", "-f", "busy"]).stdout();
    }
}

#[test]
fn system_prune_filters_apply_to_every_kind_pruned() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        // One of each kind per group: labelled group=a, labelled group=b, and unlabelled.
        let mut made = BTreeMap::new();
        for (group, label) in [("a", "group=a"), ("b", "group=b"), ("n", "")] {
            let labels: &[&str] = if label.is_empty() {
                &[]
            } else {
                &["--label", label]
            };
            let name = |kind: &str| format!("{kind}-{group}");
            let mut run = vec!["run", "--name"];
            let container_name = name("ctr");
            run.push(&container_name);
            run.extend_from_slice(labels);
            run.extend_from_slice(&[image, "true"]);
            env.skiff(&run).stdout();
            let container = full_id(&env, &container_name);
            // commit keeps the container's labels: the image is in the group too.
            let committed = env
                .skiff(&["commit", &container_name])
                .stdout()
                .trim()
                .to_string();
            let network = name("net");
            let mut create = vec!["network", "create"];
            create.extend_from_slice(labels);
            create.push(&network);
            env.skiff(&create).stdout();
            let volume = name("vol");
            let mut create = vec!["volume", "create"];
            create.extend_from_slice(labels);
            create.push(&volume);
            env.skiff(&create).stdout();
            made.insert(group, (container, committed, network, volume));
        }
        let expect = |group: &str| {
            let (container, image, network, volume) = made[group].clone();
            BTreeMap::from([
                ("Deleted Containers".to_string(), vec![container]),
                ("Deleted Images".to_string(), vec![image]),
                ("Deleted Networks".to_string(), vec![network]),
                ("Deleted Volumes".to_string(), vec![volume]),
            ])
        };
        let prune = |filters: &[&str]| {
            let mut args = vec!["system", "prune", "-f", "--volumes"];
            for filter in filters {
                args.extend_from_slice(&["--filter", filter]);
            }
            env.skiff(&args).stdout()
        };

        // Everything is younger than an hour: nothing goes.
        assert_eq!(prune(&["until=1h"]), "");
        assert_eq!(env.skiff(&["ps", "-aq"]).stdout().lines().count(), 3);
        assert_eq!(
            env.skiff(&["volume", "ls", "-q"]).stdout().lines().count(),
            3
        );

        let report = prune(&["label=group=a"]);
        assert_eq!(sections(&report), expect("a"), "{report}");
        let report = prune(&["label!=group"]);
        assert_eq!(sections(&report), expect("n"), "{report}");
        let report = prune(&["label=group", UNTIL_THE_FUTURE]);
        assert_eq!(sections(&report), expect("b"), "{report}");

        assert_eq!(env.skiff(&["ps", "-aq"]).stdout(), "");
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "");
        let networks = lines(env.skiff(&["network", "ls", "-q"]).stdout());
        assert!(
            !networks.iter().any(|n| n.starts_with("net-")),
            "{networks:?}"
        );
        assert_eq!(env.skiff(&["images", "-aq"]).stdout().lines().count(), 1);
    }
}

#[test]
fn system_prune_refuses_a_filter_it_cannot_apply_and_removes_nothing() {
    let test = skiff_test!();
    for env in test.each_env() {
        env.skiff(&["network", "create", "idle"]).stdout();
        for (filter, expected) in [
            (
                "dangling=true",
                "invalid filter \"dangling=true\": system prune filters by until=, label= and label!=",
            ),
            ("until=soon", "invalid until=soon"),
            ("label=", "invalid label filter"),
        ] {
            // Refused before the question: without -f nothing is asked either.
            for force in [true, false] {
                let mut args = vec!["system", "prune", "--filter", filter];
                if force {
                    args.push("-f");
                }
                let (stdout, stderr) = env.skiff(&args).stdin("y\n").assert_exit(125);
                assert_eq!(stdout, "");
                assert!(stderr.starts_with("Error: "), "{stderr}");
                assert!(stderr.contains(expected), "{filter}: {stderr}");
                assert_eq!(stderr.lines().count(), 1, "{stderr}");
            }
        }
        assert!(lines(env.skiff(&["network", "ls", "-q"]).stdout()).contains(&"idle".into()));
    }
}
