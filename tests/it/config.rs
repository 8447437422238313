//! containers.conf and storage.conf: their settings reach containers and the store, flags win
//! over them, `CONTAINERS_CONF`/`CONTAINERS_CONF_OVERRIDE` pick the files, and a broken file
//! stops every command with its path and line.

use crate::common::{skiff_test, TestEnv};

const PROBE: &str = "echo $FROM_CONF $SHARED $ENGINE_VAR; cat /etc/resolv.conf; \
                     grep CapBnd /proc/self/status; echo pid $$; cat /from-conf/file";

#[test]
fn containers_conf_gives_container_defaults_and_flags_win() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.write_given("shared/file", "shared by containers.conf\n");
        let shared = env.path("shared").display().to_string();
        env.write_given(
            "config/containers/containers.conf",
            &format!(
                "[containers]\nenv = [\"FROM_CONF=yes\", \"SHARED=conf\"]\n\
                 dns_servers = [\"192.0.2.53\"]\ndns_searches = [\"conf.example\"]\n\
                 dns_options = [\"ndots:3\"]\ndefault_capabilities = [\"CHOWN\", \"NET_RAW\"]\n\
                 init = true\nvolumes = [\"{shared}:/from-conf:ro\"]\n\
                 [engine]\nenv = [\"ENGINE_VAR=from-engine\"]\n"
            ),
        );
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "-e",
                "SHARED=cli",
                "-e",
                "ENGINE_VAR",
                image,
                "sh",
                "-c",
                PROBE,
            ])
            .stdout();
        let who = format!("as root: {}: {out}", env.as_root);
        assert!(out.starts_with("yes cli from-engine\n"), "{who}");
        assert!(out.contains("nameserver 192.0.2.53\n"), "{who}");
        assert!(out.contains("search conf.example\n"), "{who}");
        assert!(out.contains("options ndots:3\n"), "{who}");
        // CAP_CHOWN is bit 0, CAP_NET_RAW bit 13.
        assert!(out.contains("CapBnd:\t0000000000002001\n"), "{who}");
        assert!(
            out.contains("pid 2\n"),
            "init = true puts an init at pid 1: {who}"
        );
        assert!(out.ends_with("shared by containers.conf\n"), "{who}");

        // Each flag replaces its setting.
        let out = env
            .skiff(&[
                "run",
                "--rm",
                "--dns",
                "192.0.2.1",
                "--init=false",
                "-v",
                &format!("{}:/from-conf", env.path("config").display()),
                image,
                "sh",
                "-c",
                "cat /etc/resolv.conf; echo pid $$; ls /from-conf",
            ])
            .stdout();
        let who = format!("as root: {}: {out}", env.as_root);
        assert!(out.contains("nameserver 192.0.2.1\n"), "{who}");
        assert!(!out.contains("192.0.2.53"), "{who}");
        assert!(out.contains("search conf.example\n"), "{who}");
        assert!(out.contains("pid 1\n"), "{who}");
        assert!(
            out.ends_with("containers\n"),
            "-v wins at the same place: {who}"
        );
    }
}

#[test]
fn containers_conf_variable_replaces_the_files_and_override_comes_last() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    env.write_given(
        "config/containers/containers.conf",
        "[containers]\nenv = [\"A=user\", \"B=user\"]\n",
    );
    let chosen = env.write_given("tmp/chosen.conf", "[containers]\nenv = [\"A=chosen\"]\n");
    let last = env.write_given(
        "tmp/last.conf",
        "[containers]\nenv = [\"B=last\", {append=true}]\n",
    );
    let script = "echo ${A:-none} ${B:-none}";
    let run = |vars: &[(&str, &str)]| {
        env.skiff_with_env(vars, &[], &["run", "--rm", image, "sh", "-c", script])
            .stdout()
    };
    assert_eq!(run(&[]), "user user\n");
    assert_eq!(run(&[("CONTAINERS_CONF", &chosen)]), "chosen none\n");
    assert_eq!(
        run(&[
            ("CONTAINERS_CONF", &chosen),
            ("CONTAINERS_CONF_OVERRIDE", &last)
        ]),
        "chosen last\n"
    );
    assert_eq!(run(&[("CONTAINERS_CONF_OVERRIDE", &last)]), "user last\n");
    let missing = env.path("tmp/missing.conf").display().to_string();
    let (_, stderr) = env
        .skiff_with_env(&[("CONTAINERS_CONF", &missing)], &[], &["images"])
        .assert_exit(125);
    assert_eq!(
        stderr,
        format!("Error: CONTAINERS_CONF names {missing}, which does not exist\n")
    );
}

#[test]
fn a_malformed_file_stops_every_command_naming_file_and_line() {
    let test = skiff_test!();
    for env in test.each_env() {
        let conf = env.write_given(
            "config/containers/containers.conf",
            "[containers]\n# defaults\ninit = \"yes\"\n",
        );
        let (stdout, stderr) = env.skiff(&["images"]).assert_exit(125);
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.starts_with(&format!("Error: {conf}:3: ")) && stderr.lines().count() == 1,
            "as root: {}: {stderr}",
            env.as_root
        );
        env.write_given("config/containers/containers.conf", "[containers\n");
        let (_, stderr) = env.skiff(&["ps"]).assert_exit(125);
        assert!(
            stderr.starts_with(&format!("Error: {conf}:1: ")),
            "{stderr}"
        );
        std::fs::remove_file(&conf).unwrap();

        let storage = env.write_given(
            "tmp/storage.conf",
            "[storage]\ndriver = \"overlay\"\n\ngraphroot = [1]\n",
        );
        let (_, stderr) = env
            .skiff_with_env(&[("CONTAINERS_STORAGE_CONF", &storage)], &[], &["images"])
            .assert_exit(125);
        assert!(
            stderr.starts_with(&format!("Error: {storage}:4: ")),
            "{stderr}"
        );
        env.write_given("tmp/storage.conf", "[storage]\ndriver = \"zfs\"\n");
        let (_, stderr) = env
            .skiff_with_env(&[("CONTAINERS_STORAGE_CONF", &storage)], &[], &["images"])
            .assert_exit(125);
        assert!(
            stderr.starts_with(&format!("Error: {storage}:2: ")),
            "{stderr}"
        );
        assert!(stderr.contains("zfs"), "{stderr}");
    }
    // registries.conf speaks the same way (the user's file, under $HOME/.config as
    // containers/image reads it).
    let Some(env) = test.part("registries").rootless() else {
        return;
    };
    let registries = env.write_given(
        "home/.config/containers/registries.conf",
        "unqualified-search-registries = [\"a\"]\n[[registry]]\nlocation = 5\n",
    );
    let (_, stderr) = env.skiff(&["pull", "busybox"]).assert_exit(125);
    assert!(
        stderr.starts_with(&format!("Error: {registries}:3: ")) && stderr.lines().count() == 1,
        "{stderr}"
    );
    // CONTAINERS_REGISTRIES_CONF names the file to read instead, the user's included.
    let chosen = env.write_given("tmp/registries.conf", "[[registry]]\nprefix = 7\n");
    let (_, stderr) = env
        .skiff_with_env(
            &[("CONTAINERS_REGISTRIES_CONF", &chosen)],
            &[],
            &["pull", "busybox"],
        )
        .assert_exit(125);
    assert!(
        stderr.starts_with(&format!("Error: {chosen}:2: ")),
        "{stderr}"
    );
}

/// Writes the user's storage.conf naming `graph/` of the test's directory as the graphroot;
/// returns that directory.
pub fn write_graphroot(env: &TestEnv) -> std::path::PathBuf {
    let graph = env.path("graph");
    env.write_given(
        "config/containers/storage.conf",
        &format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\n",
            graph.display()
        ),
    );
    graph
}

#[test]
fn storage_conf_places_the_store_and_root_flag_wins() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let graph = write_graphroot(&env);
    env.skiff(&["volume", "create", "v1"]).stdout();
    assert!(
        graph.join("skiff/volumes/v1").is_dir(),
        "graphroot holds the store, in a directory of skiff's own"
    );
    assert!(!env.store_root().join("volumes/v1").exists());
    let flagged = env.path("tmp/flag-root");
    env.skiff(&[
        "--root",
        flagged.to_str().unwrap(),
        "volume",
        "create",
        "v2",
    ])
    .stdout();
    assert!(flagged.join("volumes/v2").is_dir(), "--root wins");
    // Without graphroot, rootless_storage_path places it, with $HOME expanded.
    env.write_given(
        "config/containers/storage.conf",
        "[storage]\nrootless_storage_path = \"$HOME/rootless-store\"\n",
    );
    env.skiff(&["volume", "create", "v3"]).stdout();
    assert!(env.path("home/rootless-store/skiff/volumes/v3").is_dir());
}

#[test]
fn network_command_and_log_driver_come_from_containers_conf() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_testbox();
    let conf = "config/containers/containers.conf";
    env.write_given(conf,
        "[containers]\nlog_driver = \"none\"\n[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n",
    );
    let devices = env
        .skiff(&["run", "--rm", image, "cat", "/proc/net/dev"])
        .stdout();
    assert!(devices.contains("tap0:"), "slirp4netns's device: {devices}");
    env.skiff(&["run", "-d", "--name", "quiet", image, "echo", "hi"])
        .stdout();
    env.skiff(&["wait", "quiet"]).stdout();
    let (_, stderr) = env.skiff(&["logs", "quiet"]).assert_exit(125);
    assert!(stderr.contains("'none' log driver"), "{stderr}");
    env.skiff(&[
        "run",
        "-d",
        "--name",
        "kept",
        "--log-driver",
        "k8s-file",
        image,
        "echo",
        "hi",
    ])
    .stdout();
    env.skiff(&["wait", "kept"]).stdout();
    assert_eq!(env.skiff(&["logs", "kept"]).stdout(), "hi\n");

    env.write_given(conf, "[containers]\nlog_driver = \"journald\"\n");
    let (_, stderr) = env.skiff(&["run", "--rm", image, "true"]).assert_exit(125);
    assert!(
        stderr.contains("containers.conf log_driver") && stderr.contains("journald"),
        "{stderr}"
    );
}

#[test]
fn storage_conf_chooses_the_driver_and_the_flag_and_variable_win() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let conf = "config/containers/storage.conf";
    let driver = |extra: &[(&str, &str)], flags: &[&str]| {
        let mut args = flags.to_vec();
        args.extend(["info", "--format", "{{.Store.GraphDriverName}}"]);
        // Not the suite's forced driver (scripts/test.sh), unless the test sets its own.
        let unset: &[&str] = if extra.is_empty() {
            &["STORAGE_DRIVER"]
        } else {
            &[]
        };
        env.skiff_with_env(extra, unset, &args).stdout()
    };
    assert_eq!(driver(&[], &[]), "overlay\n");
    env.write_given(conf, "[storage]\ndriver = \"vfs\"\n");
    assert_eq!(driver(&[], &[]), "vfs\n");
    // Podman's way to ask for a FUSE overlay: skiff answers it with its own.
    env.write_given(conf,
        "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
    );
    assert_eq!(driver(&[], &[]), "fuse-overlay\n");
    assert_eq!(driver(&[("STORAGE_DRIVER", "vfs")], &[]), "vfs\n");
    assert_eq!(
        driver(
            &[("STORAGE_DRIVER", "vfs")],
            &["--storage-driver", "overlay"]
        ),
        "overlay\n"
    );
}

#[test]
fn events_go_to_the_log_containers_conf_names() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let log = env.path("tmp/my-events.log");
    env.write_given(
        "config/containers/containers.conf",
        &format!("[engine]\nevents_logfile_path = \"{}\"\n", log.display()),
    );
    env.skiff(&["volume", "create", "logged"]).stdout();
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("\"logged\""), "{written}");
    assert!(!env.path("run/skiff/events/events.log").exists());
    let shown = env
        .skiff(&[
            "events",
            "--stream=false",
            "--format",
            "{{.Type}} {{.Status}} {{.Name}}",
        ])
        .stdout();
    assert_eq!(shown, "volume create logged\n");
}
