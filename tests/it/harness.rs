//! The harness itself: a test is named after its function, a skip is counted (and fails where
//! skips are not allowed), and scripts/test-summary.sh sums the passes up.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::test_case::{skips_fail, REQUIRE_VARIABLE, SKIPS_FILE_VARIABLE};
use crate::common::{is_root, skiff_test};

const REASON: &str = "the harness's own check of skipping";

/// Run only by [`a_skip_is_counted_and_fails_where_skips_are_not_allowed`], in a process of its
/// own.
#[test]
#[ignore = "it skips on purpose: the harness test runs it"]
fn a_test_that_skips() {
    skiff_test!().skip(REASON);
}

/// This test binary running [`a_test_that_skips`] alone, with `SKIFF_TEST_REQUIRE` as given
/// (None: unset) and its skips going to `skips`.
fn run_the_skipping_test(require: Option<&str>, skips: &Path) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "--ignored", "harness::a_test_that_skips"])
        .env(SKIPS_FILE_VARIABLE, skips)
        .env_remove(REQUIRE_VARIABLE);
    if let Some(value) = require {
        command.env(REQUIRE_VARIABLE, value);
    }
    command.output().unwrap()
}

#[test]
fn a_skip_is_counted_and_fails_where_skips_are_not_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let default_outcome = if is_root() { "failed" } else { "skipped" };
    for (require, outcome) in [
        (Some("0"), "skipped"),
        (Some("1"), "failed"),
        (None, default_outcome),
    ] {
        let skips = dir.path().join(format!("{require:?}.skips"));
        let out = run_the_skipping_test(require, &skips);
        let all_output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.success(),
            outcome == "skipped",
            "SKIFF_TEST_REQUIRE={require:?}:\n{all_output}"
        );
        assert!(
            all_output.contains(&format!("SKIP harness::a_test_that_skips: {REASON}")),
            "{all_output}"
        );
        assert_eq!(
            std::fs::read_to_string(&skips).unwrap(),
            format!("harness::a_test_that_skips\t{outcome}\t{REASON}\n")
        );
    }
}

#[test]
fn skips_fail_as_root_and_when_required() {
    assert!(skips_fail(None, true));
    assert!(!skips_fail(None, false));
    assert!(skips_fail(Some("1"), false));
    assert!(!skips_fail(Some("0"), true));
    assert!(skips_fail(Some(""), true));
}

#[test]
fn a_test_is_named_after_its_function() {
    let test = skiff_test!();
    assert_eq!(test.name(), "harness::a_test_is_named_after_its_function");
    let directory = test.directory_name();
    assert!(
        directory.starts_with("a_test_is_named_after_its_functi-"),
        "{directory}"
    );
    // A second environment of the same test has a directory of its own.
    assert_ne!(test.part("other").directory_name(), directory);
    assert!(test.part("other").directory_name().contains("-other-"));
}

/// What cargo prints for the `it` binary, trimmed to what the summary reads.
fn cargo_log(passed: u32, failed: u32) -> String {
    format!(
        "     Running unittests src/lib.rs (target/debug/deps/skiff-1)\n\
         test result: ok. 500 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n\
         \x20    Running tests/it/main.rs (target/debug/deps/it-2)\n\
         test run::a ... ok\n\
         test result: {}. {passed} passed; {failed} failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.00s\n",
        if failed == 0 { "ok" } else { "FAILED" }
    )
}

fn summarise(dir: &Path, require: &str) -> (Option<i32>, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test-summary.sh");
    let out = Command::new(script)
        .arg(dir)
        .env(REQUIRE_VARIABLE, require)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_summary_adds_up_every_pass_and_lists_the_skipped_tests() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("default.log", &cargo_log(10, 0));
    write(
        "default.skips",
        "run::a\tskipped\tno podman\nrun::a\tskipped\tno podman\nrun::a\tskipped\tno fuse\n\
         run::b\tskipped\tno registry\n",
    );
    write("vfs.log", &cargo_log(3, 0));
    write("vfs.skips", "commit::c\tskipped\tnot root\n");
    let (code, out) = summarise(dir.path(), "0");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("  skipped (default pass, skipped): run::a: no podman; no fuse\n"),
        "{out}"
    );
    assert!(
        out.contains("  skipped (vfs pass, skipped): commit::c: not root\n"),
        "{out}"
    );
    assert!(
        out.ends_with("integration tests: 10 passed, 0 failed, 3 skipped\n"),
        "{out}"
    );
    // Where skips are not allowed, the same results fail.
    let (code, out) = summarise(dir.path(), "1");
    assert_eq!(code, Some(1), "{out}");
    // A failure, and a pass whose test binary gave no result, fail too.
    write("vfs.log", &cargo_log(2, 1));
    write("vfs.skips", "");
    write("fuse-overlay.log", "error: could not compile\n");
    let (code, out) = summarise(dir.path(), "0");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.ends_with("integration tests: 10 passed, 1 failed, 2 skipped\n"),
        "{out}"
    );
    assert!(
        out.contains("the fuse-overlay pass gave no result for tests/it"),
        "{out}"
    );
}

#[test]
#[should_panic(expected = "makes this environment twice: name another with test.part(ROLE)")]
fn a_test_cannot_make_the_same_environment_twice() {
    let test = skiff_test!();
    assert_ne!(test.claim_directory(false), test.claim_directory(true));
    test.part("other").claim_directory(false);
    test.claim_directory(false);
}
