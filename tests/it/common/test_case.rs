//! Which test is running, and what it could not do on this host.
//!
//! A test starts with `let test = skiff_test!();`: the value carries the test's own name (the
//! function's path, as `cargo test` shows it), which names its environments and its skips. A
//! test that gives up because the host lacks something calls [`Test::skip`] (or a helper that
//! does): one line `SKIP name: reason` on stderr (past the test harness's capture, so it shows
//! for a passing test too), and a line in the file `$SKIFF_TEST_SKIPS` names, which
//! scripts/test.sh counts. As root, and whenever `SKIFF_TEST_REQUIRE=1`, a skip fails the test
//! instead (`SKIFF_TEST_REQUIRE=0` lets root skip).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{is_root, TestEnv};

/// The file skips are appended to, one `NAME<TAB>OUTCOME<TAB>REASON` line each.
pub const SKIPS_FILE_VARIABLE: &str = "SKIFF_TEST_SKIPS";
/// `1`: a skip fails the test; `0`: it does not, even as root; unset: it does as root.
pub const REQUIRE_VARIABLE: &str = "SKIFF_TEST_REQUIRE";

/// The running test, named after the function this is written in: `let test = skiff_test!();`
/// as a test's first line.
macro_rules! skiff_test {
    () => {{
        fn here() {}
        $crate::common::test_case::Test::from_function_path(std::any::type_name_of_val(&here))
    }};
}
pub(crate) use skiff_test;

#[derive(Clone, Copy, Debug)]
pub struct Test {
    /// As `cargo test` names it: `run::detached_runs`.
    name: &'static str,
    /// Tells apart the environments of a test that needs more than one.
    role: Option<&'static str>,
}

impl Test {
    /// From the path of a function defined inside the test (`it::run::detached_runs::here`).
    pub fn from_function_path(path: &'static str) -> Test {
        let inside_crate = path.split_once("::").map_or(path, |(_, rest)| rest);
        let name = inside_crate
            .rsplit_once("::")
            .map_or(inside_crate, |(test, _)| test);
        Test { name, role: None }
    }

    pub fn name(self) -> &'static str {
        self.name
    }

    /// The same test, for a second environment of its own (`test.part("source").rootless()`).
    pub fn part(self, role: &'static str) -> Test {
        Test {
            role: Some(role),
            ..self
        }
    }

    /// The directory of this test's environment (as root or not), which no other environment
    /// of the process has: two environments in one directory would remove each other's files.
    pub fn claim_directory(self, as_root: bool) -> PathBuf {
        let directory = std::env::temp_dir().join(format!(
            "skiff-it-{}-{}-{}",
            std::process::id(),
            self.directory_name(),
            if as_root { "root" } else { "user" }
        ));
        static CLAIMED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
        let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            !claimed.contains(&directory),
            "{} makes this environment twice: name another with test.part(ROLE)",
            self.name
        );
        claimed.push(directory.clone());
        directory
    }

    /// A directory name for this test's environment: readable, unique among the tests, and
    /// short (paths under it go into mount options and sockets).
    pub fn directory_name(self) -> String {
        let function = self.name.rsplit("::").next().unwrap_or(self.name);
        let short: String = function.chars().take(32).collect();
        let role = self.role.map(|r| format!("-{r}")).unwrap_or_default();
        let unique = fnv1a(&format!("{}{role}", self.name));
        format!("{short}{role}-{unique:08x}")
    }

    /// The environments the test runs in: the unprivileged user's, and root's when the tests run
    /// as root. Empty (after a skip) where the unprivileged user cannot run containers.
    pub fn each_env(self) -> Vec<TestEnv> {
        let mut envs: Vec<TestEnv> = self.rootless().into_iter().collect();
        if is_root() {
            envs.push(TestEnv::make(self, true));
        }
        envs
    }

    /// The unprivileged user's environment; None (after a skip) where it cannot run containers.
    pub fn rootless(self) -> Option<TestEnv> {
        match super::rootless_blocker() {
            Some(why) => {
                self.skip(&why);
                None
            }
            None => Some(TestEnv::make(self, false)),
        }
    }

    /// An environment that runs skiff as root; None (after a skip) when the tests are not root.
    pub fn root(self) -> Option<TestEnv> {
        if self.lacks_root("skiff as root") {
            return None;
        }
        Some(TestEnv::make(self, true))
    }

    /// Whether the tests run without root, which `what` needs (after a skip if so): `if
    /// test.lacks_root("hiding /etc/subuid") { return; }`.
    pub fn lacks_root(self, what: &str) -> bool {
        if is_root() {
            return false;
        }
        self.skip(&format!("{what} needs the tests to run as root"));
        true
    }

    /// Records that the test (or a part of it) did not run here, and why; as root or with
    /// `SKIFF_TEST_REQUIRE=1`, fails the test instead.
    pub fn skip(self, reason: &str) {
        let required = skips_fail(std::env::var(REQUIRE_VARIABLE).ok().as_deref(), is_root());
        let line = format!("SKIP {}: {reason}", self.name);
        if let Some(file) = std::env::var_os(SKIPS_FILE_VARIABLE) {
            let outcome = if required { "failed" } else { "skipped" };
            append_line(&file, &format!("{}\t{outcome}\t{reason}\n", self.name));
        }
        assert!(
            !required,
            "{line} (as root, or with {REQUIRE_VARIABLE}=1, a test may not skip: set the host up with scripts/setup-host.sh)"
        );
        // Straight to the process's stderr: the test harness captures eprintln! of passing tests.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// Whether a skip fails its test, from `SKIFF_TEST_REQUIRE` and whether the tests run as root.
pub fn skips_fail(require: Option<&str>, root: bool) -> bool {
    match require {
        Some("1") => true,
        Some("0") => false,
        _ => root,
    }
}

/// One write of a whole line in append mode: tests running in parallel (and the three passes of
/// scripts/test.sh) share the file.
fn append_line(file: &std::ffi::OsStr, line: &str) {
    let mut opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", file.to_string_lossy()));
    opened.write_all(line.as_bytes()).unwrap();
}

/// A small, stable hash (FNV-1a, 32 bits) of a test's name, for its directory.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}
