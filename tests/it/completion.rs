//! Shell completion: `skiff completion SHELL` prints a script that calls skiff back, and the
//! callback (`SKIFF_COMPLETE=fish skiff -- skiff WORDS…`, as the fish script runs it) offers the live
//! names each command acts on, read from the store of the command line being completed.

use crate::common::{skiff_test, TestEnv};

/// What skiff offers for the last of `words` (the word being typed, "" for a fresh one).
fn complete(env: &TestEnv, words: &[&str]) -> Vec<String> {
    let mut args = vec!["--", "skiff"];
    args.extend_from_slice(words);
    env.skiff_with_env(&[("SKIFF_COMPLETE", "fish")], &[], &args)
        .stdout()
        .lines()
        .map(|line| line.split('\t').next().unwrap_or_default().to_string())
        .collect()
}

#[track_caller]
fn assert_offers(offered: &[String], present: &[&str], absent: &[&str]) {
    for name in present {
        assert!(
            offered.iter().any(|o| o == name),
            "{name} not in {offered:?}"
        );
    }
    for name in absent {
        assert!(!offered.iter().any(|o| o == name), "{name} in {offered:?}");
    }
}

#[test]
fn completion_prints_a_script_for_each_shell_that_calls_skiff_back() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    for (shell, marker) in [
        ("bash", "complete -o nospace"),
        ("zsh", "#compdef skiff"),
        ("fish", "complete --keep-order"),
    ] {
        let script = env.skiff(&["completion", shell]).stdout();
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("SKIFF_COMPLETE=") || script.contains("SKIFF_COMPLETE=\""),
            "{shell}: {script}"
        );
    }
    // The callback answers only skiff's own variable: clap's generic `COMPLETE`, exported for
    // something else, must not turn commands into completion requests.
    let version = env
        .skiff_with_env(&[("COMPLETE", "1")], &[], &["version"])
        .stdout();
    assert!(version.starts_with("skiff version"), "{version}");
    let (_, stderr) = env.skiff(&["completion", "tcsh"]).assert_exit(125);
    assert!(stderr.contains("tcsh"), "{stderr}");
}

#[test]
fn completion_offers_subcommands_and_flags_without_a_store() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    assert_offers(&complete(&env, &["vol"]), &["volume"], &["run"]);
    assert_offers(
        &complete(&env, &["exec", "--inter"]),
        &["--interactive"],
        &[],
    );
    assert_offers(&complete(&env, &["exec", ""]), &[], &["up"]);
    assert!(
        !env.store_root().exists(),
        "completing made a store at {}",
        env.store_root().display()
    );
}

#[test]
fn completion_offers_live_names_for_what_each_command_acts_on() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_testbox();
        env.skiff(&["run", "-d", "--name", "up", image, "sleep", "600"])
            .stdout();
        env.skiff(&["create", "--name", "down", image, "true"])
            .stdout();
        env.skiff(&["run", "--name", "gone", image, "true"])
            .stdout();
        env.skiff(&["volume", "create", "data"]).stdout();
        env.skiff(&["network", "create", "compnet"]).stdout();

        assert_offers(&complete(&env, &["exec", ""]), &["up"], &["down", "gone"]);
        assert_offers(&complete(&env, &["stop", ""]), &["up"], &["down", "gone"]);
        assert_offers(&complete(&env, &["start", ""]), &["down", "gone"], &["up"]);
        assert_offers(&complete(&env, &["rm", ""]), &["up", "down", "gone"], &[]);
        assert_offers(&complete(&env, &["exec", "d"]), &[], &["down", "up"]);
        assert_offers(&complete(&env, &["rmi", ""]), &[image], &["up"]);
        let short = image.rsplit('/').next().unwrap();
        assert_offers(&complete(&env, &["run", &short[..3]]), &[short], &[]);
        assert_offers(&complete(&env, &["run", "-v", ""]), &["data:"], &[]);
        assert_offers(
            &complete(&env, &["run", "--volume", "data:"]),
            &[],
            &["data:"],
        );
        assert_offers(&complete(&env, &["volume", "rm", ""]), &["data"], &[]);
        assert_offers(
            &complete(&env, &["run", "--network", ""]),
            &["none", "host", "compnet"],
            &[],
        );
        assert_offers(
            &complete(&env, &["run", "--network", "container:"]),
            &["container:up"],
            &[],
        );
        assert_offers(
            &complete(&env, &["network", "rm", ""]),
            &["compnet"],
            &["data"],
        );

        env.skiff(&["rm", "-f", "up"]).stdout();
        assert_offers(&complete(&env, &["exec", ""]), &[], &["up"]);
        env.skiff(&["network", "rm", "compnet"]).stdout();
    }
}

/// Issue 19: with a storage.conf naming a graphroot, every command keeps its store in
/// `<graphroot>/skiff`, and completion must read that store too, not the default one.
#[test]
fn completion_reads_the_store_storage_conf_places() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let graph = crate::config::write_graphroot(&env);
    let image = env.load_testbox();
    env.skiff(&["run", "-d", "--name", "up", image, "sleep", "600"])
        .stdout();
    assert!(
        graph.join("skiff/containers").is_dir(),
        "the store is in the graphroot"
    );
    assert_offers(&complete(&env, &["exec", ""]), &["up"], &[]);
    env.skiff(&["rm", "-f", "up"]).stdout();
}
