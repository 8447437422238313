//! The generated documentation in the repository is what the clap definitions give today: man/
//! (one page per command, clap_mangen) and completions/ (`skiff completion SHELL`). With
//! SKIFF_REGENERATE_DOCS=1 (`make docs`) the test writes them instead of comparing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;

const REGENERATE: &str = "make docs (SKIFF_REGENERATE_DOCS=1 cargo test --test it docs::)";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every man page by file name: skiff.1, and skiff-PATH.1 for each visible command and
/// subcommand (skiff-run.1, skiff-image-ls.1), as Podman names its pages.
fn man_pages() -> BTreeMap<String, Vec<u8>> {
    fn add(cmd: clap::Command, pages: &mut BTreeMap<String, Vec<u8>>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            add(sub.clone(), pages);
        }
        let version = cmd.get_version().unwrap_or_default().to_string();
        let man = clap_mangen::Man::new(cmd)
            .source(format!("skiff {version}"))
            .manual("skiff Manual");
        let mut page = Vec::new();
        man.render(&mut page).unwrap();
        pages.insert(man.get_filename(), page);
    }
    let mut cmd = skiff::cli::Cli::command();
    cmd.build();
    let mut pages = BTreeMap::new();
    add(cmd, &mut pages);
    pages
}

/// The completion scripts as `skiff completion SHELL` prints them, by the file names the
/// packages install: skiff.bash, _skiff (zsh), skiff.fish.
fn completion_scripts() -> BTreeMap<String, Vec<u8>> {
    [
        ("bash", "skiff.bash"),
        ("zsh", "_skiff"),
        ("fish", "skiff.fish"),
    ]
    .into_iter()
    .map(|(shell, file)| {
        let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["completion", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "skiff completion {shell}: {out:?}");
        (file.to_string(), out.stdout)
    })
    .collect()
}

fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read(e.path()).unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `fresh` into `dir` (removing files no longer generated), or says what differs.
fn check_or_write(dir: &Path, fresh: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let committed = files_in(dir);
    if std::env::var_os("SKIFF_REGENERATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(dir).unwrap();
        for name in committed.keys().filter(|n| !fresh.contains_key(*n)) {
            std::fs::remove_file(dir.join(name)).unwrap();
        }
        for (name, bytes) in fresh {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        return Vec::new();
    }
    let dir_name = dir.file_name().unwrap().to_string_lossy();
    let mut problems = Vec::new();
    for (name, bytes) in fresh {
        match committed.get(name) {
            None => problems.push(format!("{dir_name}/{name} is missing")),
            Some(old) if old != bytes => problems.push(format!("{dir_name}/{name} differs")),
            Some(_) => {}
        }
    }
    for name in committed.keys().filter(|n| !fresh.contains_key(*n)) {
        problems.push(format!("{dir_name}/{name} is no longer generated"));
    }
    problems
}

#[test]
fn generated_man_pages_and_completions_are_current() {
    let mut problems = check_or_write(&repo().join("man"), &man_pages());
    problems.extend(check_or_write(
        &repo().join("completions"),
        &completion_scripts(),
    ));
    assert!(
        problems.is_empty(),
        "generated docs are stale; regenerate with {REGENERATE}:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_visible_command_has_its_page() {
    let pages = man_pages();
    for name in [
        "skiff.1",
        "skiff-run.1",
        "skiff-image-ls.1",
        "skiff-volume-rm.1",
    ] {
        assert!(pages.contains_key(name), "{name} in {:?}", pages.keys());
    }
    assert!(
        !pages.keys().any(|n| n.contains("supervise")),
        "hidden commands have no page"
    );
    let run = String::from_utf8_lossy(&pages["skiff-run.1"]).into_owned();
    assert!(run.contains(".TH skiff-run 1"), "{run}");
    assert!(run.contains("\\-\\-network"), "{run}");
}
