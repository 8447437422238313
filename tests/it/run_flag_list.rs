//! Every flag of `podman run --help` and `podman create --help` (the Podman installed here:
//! scripts/setup-host.sh installs Debian 12's 4.3.1) is one of skiff's `run --help` and
//! `create --help`, with the same short form, except the flags of [`WAITING`], each named with
//! the issue it waits for. A flag of that list that skiff has gained fails the test too, so the
//! list only ever shrinks.

use std::collections::BTreeMap;

use crate::common::podman::podman_missing;
use crate::common::skiff_test;

/// Podman's flags skiff's `run` and `create` do not have yet, and why.
const WAITING: &[(&str, &str)] = &[
    // Issue 21: healthchecks run by the supervisor, and the secret store.
    ("--health-cmd", "issue 21 (healthchecks)"),
    ("--health-interval", "issue 21 (healthchecks)"),
    ("--health-on-failure", "issue 21 (healthchecks)"),
    ("--health-retries", "issue 21 (healthchecks)"),
    ("--health-start-period", "issue 21 (healthchecks)"),
    ("--health-timeout", "issue 21 (healthchecks)"),
    ("--no-healthcheck", "issue 21 (healthchecks)"),
    ("--secret", "issue 21 (secrets)"),
    // Issue 22: pods.
    ("--pod", "issue 22 (pods)"),
    ("--pod-id-file", "issue 22 (pods)"),
    ("--init-ctr", "issue 22 (pods: create only)"),
];

/// Flags Podman 5 added that skiff has already (the installed 4.3.1 does not list them).
const PODMAN_5: &[&str] = &["--group-entry"];

/// The flags an options listing (`--help`) names, each with its short form: lines indented by
/// at most six spaces that start with `-X, --name` or `--name` (clap's and cobra's layouts;
/// descriptions are indented further).
fn help_flags(help: &str) -> BTreeMap<String, Option<char>> {
    let mut flags = BTreeMap::new();
    for line in help.lines() {
        let text = line.trim_start();
        if line.len() - text.len() > 6 || !text.starts_with('-') {
            continue;
        }
        let (short, long) = match text.strip_prefix('-').and_then(|t| t.split_once(", --")) {
            Some((short, long)) if short.len() == 1 => (short.chars().next(), long),
            _ => match text.strip_prefix("--") {
                Some(long) => (None, long),
                None => continue,
            },
        };
        let name: String = long
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        flags.insert(format!("--{name}"), short);
    }
    flags
}

#[test]
fn help_parsing_reads_both_layouts() {
    let cobra = "Options:\n  -a, --attach strings     Attach\n      --add-host host:ip   Add\n          --not-a-flag in a description\n";
    let clap = "Options:\n  -a, --attach <STREAM>\n          Connect…\n          --env still sets it\n      --sig-proxy[=<BOOL>]\n";
    let expected: BTreeMap<String, Option<char>> = [
        ("--attach".to_string(), Some('a')),
        ("--add-host".to_string(), None),
    ]
    .into();
    assert_eq!(help_flags(cobra), expected);
    let expected: BTreeMap<String, Option<char>> = [
        ("--attach".to_string(), Some('a')),
        ("--sig-proxy".to_string(), None),
    ]
    .into();
    assert_eq!(help_flags(clap), expected);
}

#[test]
fn every_podman_run_and_create_flag_is_known() {
    let test = skiff_test!();
    if podman_missing(test) {
        return;
    }
    for env in test.each_env() {
        for verb in ["run", "create"] {
            // Help needs no store: Podman as the test process's user.
            let out = std::process::Command::new("podman")
                .args([verb, "--help"])
                .output()
                .unwrap();
            assert!(out.status.success(), "podman {verb} --help: {out:?}");
            let theirs = help_flags(&String::from_utf8_lossy(&out.stdout));
            assert!(theirs.len() > 100, "podman {verb} --help lists {theirs:?}");
            let ours = help_flags(&env.skiff(&[verb, "--help"]).stdout());
            let waiting = |flag: &str| WAITING.iter().any(|(name, _)| *name == flag);
            let missing: Vec<&String> = theirs
                .keys()
                .filter(|flag| !ours.contains_key(*flag) && !waiting(flag))
                .collect();
            assert!(
                missing.is_empty(),
                "skiff {verb} lacks Podman's {missing:?}"
            );
            let arrived: Vec<&str> = WAITING
                .iter()
                .map(|(flag, _)| *flag)
                .filter(|flag| ours.contains_key(*flag))
                .collect();
            assert!(
                arrived.is_empty(),
                "skiff {verb} has {arrived:?} now: take them off WAITING"
            );
            let other_short: Vec<String> = theirs
                .iter()
                .filter_map(|(flag, short)| {
                    let mine = ours.get(flag)?;
                    (short.is_some() && mine != short)
                        .then(|| format!("{flag}: Podman's -{}, skiff's {mine:?}", short.unwrap()))
                })
                .collect();
            assert!(other_short.is_empty(), "{other_short:?}");
            for flag in PODMAN_5 {
                assert!(ours.contains_key(*flag), "skiff {verb} lacks {flag}");
            }
        }
    }
}
