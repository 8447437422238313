//! `run` and `create` flags a script types around the container itself: `--cidfile` and
//! `--replace`, with Podman 4.3.1's behaviour and words.

use crate::common::skiff_test;

#[test]
fn cidfile_gets_the_id_and_must_not_exist() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        let file = env.path("tmp/created.cid");
        let file_arg = file.to_str().unwrap();
        let id = env
            .skiff(&["create", "--cidfile", file_arg, image, "true"])
            .stdout();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), id.trim());
        let (_, stderr) = env
            .skiff(&["create", "--cidfile", file_arg, image, "true"])
            .assert_exit(125);
        assert_eq!(
            stderr,
            format!(
                "Error: container id file exists. Ensure another container is not using it or delete {file_arg}\n"
            )
        );
        assert_eq!(
            env.skiff(&["ps", "-a", "-q", "--no-trunc"]).stdout(),
            id,
            "nothing else was created"
        );
        let ran = env.path("tmp/ran.cid");
        env.skiff(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--cidfile",
            ran.to_str().unwrap(),
            image,
            "true",
        ])
        .stdout();
        let ran_id = std::fs::read_to_string(&ran).unwrap();
        assert!(
            ran_id.len() == 64 && ran_id.chars().all(|c| c.is_ascii_hexdigit()),
            "{ran_id:?}"
        );
        env.skiff(&["rm", id.trim()]).stdout();
    }
}

#[test]
fn replace_takes_the_name_from_a_container_running_or_not() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["create", "--name", "named", image, "true"])
            .stdout();
        let (_, stderr) = env
            .skiff(&["create", "--name", "named", image, "true"])
            .assert_exit(125);
        assert!(stderr.contains("already in use"), "{stderr}");
        env.skiff(&[
            "create",
            "--replace",
            "--name",
            "named",
            image,
            "echo",
            "replaced",
        ])
        .stdout();
        assert_eq!(
            env.skiff(&["ps", "-a", "--format", "{{.Names}} {{.Command}}"])
                .stdout(),
            "named echo replaced\n"
        );
        env.skiff(&["rm", "named"]).stdout();
        env.skiff(&["run", "-d", "--name", "busy", image, "sleep", "60"])
            .stdout();
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--replace",
                "--name",
                "busy",
                "--network",
                "none",
                image,
                "echo",
                "took it",
            ])
            .stdout();
        assert_eq!(out, "took it\n");
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
    }
}
