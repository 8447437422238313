//! The harness: per-test environments, a command builder with readable failures, and test images.

pub mod images;
pub mod podman;
pub mod probes;
pub mod registry;
pub mod test_case;

pub(crate) use test_case::skiff_test;
pub use test_case::Test;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

pub const TEST_USER: &str = "skiff-test";
/// No skiff command in the tests takes long; one that hangs fails its test instead of the run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// A prune filter for a time after everything a test makes (3000-01-01, as a Unix time): it
/// matches all, so that `until=` can be seen to remove things without the test sleeping.
pub const UNTIL_THE_FUTURE: &str = "until=32503680000";
const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn is_root() -> bool {
    nix_like_geteuid() == 0
}

fn nix_like_geteuid() -> u32 {
    // The test crate avoids unsafe: ask the kernel through /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .and_then(|uid| uid.parse().ok())
        .unwrap_or(u32::MAX)
}

fn user_ids(user: &str) -> (u32, u32) {
    let out = Command::new("id")
        .args(["-u", user])
        .output()
        .expect("run id");
    assert!(
        out.status.success(),
        "the test user {user} does not exist: run scripts/setup-host.sh as root"
    );
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let out = Command::new("id").args(["-g", user]).output().unwrap();
    let gid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    (uid, gid)
}

/// Why rootless containers cannot run here for the user the tests run them as (the test user
/// when the tests run as root, else the current user), if they cannot.
fn rootless_blocker() -> Option<String> {
    let (user, uid) = if is_root() {
        let out = Command::new("id").args(["-u", TEST_USER]).output().ok()?;
        if !out.status.success() {
            return Some(format!(
                "the test user {TEST_USER} does not exist: run scripts/setup-host.sh as root"
            ));
        }
        let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (TEST_USER.to_string(), uid)
    } else {
        let user = std::env::var("USER").unwrap_or_default();
        (user, nix_like_geteuid().to_string())
    };
    let has_range = |file: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next().is_some_and(|o| o == user || o == uid))
    };
    if !has_range("/etc/subuid") || !has_range("/etc/subgid") {
        return Some(format!("no /etc/subuid and /etc/subgid range for {user}"));
    }
    if !Path::new("/usr/bin/newuidmap").exists() && !Path::new("/bin/newuidmap").exists() {
        return Some("newuidmap is not installed (package uidmap)".into());
    }
    None
}

/// One test's world: a temporary directory holding HOME, the XDG directories and the store.
pub struct TestEnv {
    /// The test this environment belongs to (which names its directory and its skips).
    pub test: Test,
    pub dir: PathBuf,
    /// Run skiff as real root (with --root/--runroot in the temp dir) instead of the test user.
    pub as_root: bool,
    /// The uid skiff runs as, seen from the host.
    pub uid: u32,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Root can remove files owned by subordinate ids; a non-root user needs skiff's help.
        if !is_root() {
            let _ = self.skiff(&["rm", "--all", "--force"]).output();
            let _ = self.skiff(&["rmi", "--all", "--force"]).output();
        }
        if !self.as_root {
            // Ends the process that keeps the user namespace the containers shared.
            let _ = self.skiff(&["system", "migrate"]).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TestEnv {
    fn make(test: Test, as_root: bool) -> TestEnv {
        let base = test.claim_directory(as_root);
        let _ = std::fs::remove_dir_all(&base);
        for sub in ["home", "data", "config", "run", "tmp"] {
            std::fs::create_dir_all(base.join(sub)).unwrap();
        }
        std::fs::set_permissions(base.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let uid = if as_root {
            0
        } else if is_root() {
            let (uid, gid) = user_ids(TEST_USER);
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(&base)
                .status()
                .unwrap();
            assert!(status.success());
            uid
        } else {
            nix_like_geteuid()
        };
        TestEnv {
            test,
            dir: base,
            as_root,
            uid,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn store_root(&self) -> PathBuf {
        // As root, --root points here; rootless, $XDG_DATA_HOME/skiff is the same place.
        self.dir.join("data/skiff")
    }

    /// The store's tmp/ entries once the files of earlier `run --rm` containers are deleted: a
    /// process of their own deletes them after skiff has returned, from under tmp/. An entry
    /// that stays (a leftover) makes this time out.
    pub fn staging_entries(&self) -> Vec<String> {
        let tmp = self.store_root().join("tmp");
        let entries = || -> Vec<String> {
            std::fs::read_dir(&tmp)
                .map(|entries| {
                    entries
                        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        until("the removed containers' files deleted", || {
            !entries()
                .iter()
                .any(|e| e.starts_with("removed-container-"))
        });
        entries()
    }

    /// Gives a file made by the test process to the user skiff runs as.
    pub fn give(&self, path: &Path) {
        if is_root() && !self.as_root {
            let (uid, gid) = user_ids(TEST_USER);
            Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(path)
                .status()
                .unwrap();
        }
    }

    /// Writes a file under the test's directory (its first directory given to the user skiff
    /// runs as) and returns its path.
    pub fn write_given(&self, rel: &str, text: &str) -> String {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        self.give(&self.path(rel.split('/').next().unwrap()));
        path.display().to_string()
    }

    /// A build context directory `name` with these files, given to the user skiff runs as.
    pub fn build_context(&self, name: &str, files: &[(&str, &str)]) -> String {
        let dir = self.path(name);
        for (file, content) in files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        self.give(&dir);
        dir.display().to_string()
    }

    /// The output of `run --rm --network none FLAGS IMAGE COMMAND…`, which must succeed.
    pub fn run_output(&self, image: &str, flags: &[&str], command: &[&str]) -> String {
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(flags);
        args.push(image);
        args.extend_from_slice(command);
        self.skiff(&args).stdout()
    }

    pub fn skiff(&self, args: &[&str]) -> Cmd {
        self.skiff_with_path(SAFE_PATH, args)
    }

    /// skiff with its own PATH: what it finds (or misses) there.
    pub fn skiff_with_path(&self, path: &str, args: &[&str]) -> Cmd {
        self.skiff_with_env(&[("PATH", path)], &[], args)
    }

    /// skiff with variables of its environment `set` to other values and those in `unset` left
    /// out: a host set up differently.
    pub fn skiff_with_env(&self, set: &[(&str, &str)], unset: &[&str], args: &[&str]) -> Cmd {
        self.skiff_binary(env!("CARGO_BIN_EXE_skiff"), set, unset, args)
    }

    /// Another skiff binary than the one cargo built (an installed package's), run the same way.
    pub fn skiff_binary(
        &self,
        bin: &str,
        set: &[(&str, &str)],
        unset: &[&str],
        args: &[&str],
    ) -> Cmd {
        let mut envs: Vec<(&str, OsString)> = vec![
            ("PATH", SAFE_PATH.into()),
            ("HOME", self.path("home").into()),
            ("XDG_DATA_HOME", self.path("data").into()),
            ("XDG_CONFIG_HOME", self.path("config").into()),
            ("XDG_RUNTIME_DIR", self.path("run").into()),
            ("TMPDIR", self.path("tmp").into()),
            ("LANG", "C.UTF-8".into()),
        ];
        // The suite's second pass forces a storage driver on every command (scripts/test.sh).
        if let Some(driver) = std::env::var_os("STORAGE_DRIVER") {
            envs.push(("STORAGE_DRIVER", driver));
        }
        for (key, value) in set {
            match envs.iter_mut().find(|(k, _)| k == key) {
                Some(entry) => entry.1 = value.into(),
                None => envs.push((key, value.into())),
            }
        }
        envs.retain(|(k, _)| !unset.contains(k));
        let mut command = if is_root() && !self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", TEST_USER, "--", "env", "-i"]);
            for (k, v) in &envs {
                let mut kv = OsString::from(format!("{k}="));
                kv.push(v);
                c.arg(kv);
            }
            c.arg(bin);
            c
        } else {
            let mut c = Command::new(bin);
            c.env_clear();
            for (k, v) in &envs {
                c.env(k, v);
            }
            c
        };
        if self.as_root {
            command
                .arg("--root")
                .arg(self.store_root())
                .arg("--runroot")
                .arg(self.path("run/skiff"));
        }
        command.args(args);
        Cmd {
            command,
            stdin: None,
            shown: format!("skiff {}", args.join(" ")),
        }
    }
}

impl TestEnv {
    /// skiff for the unprivileged user on a host where it cannot open /dev/fuse: run in a mount
    /// namespace of its own where /dev/fuse is a file only root may open. None (after a skip)
    /// unless the tests run as root (only root can make that namespace).
    pub fn skiff_without_fuse(&self, args: &[&str]) -> Option<Cmd> {
        assert!(!self.as_root, "root opens /dev/fuse whatever its mode");
        if self.test.lacks_root("hiding /dev/fuse") {
            return None;
        }
        let closed = self.path("closed-fuse");
        std::fs::write(&closed, b"").unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o600)).unwrap();
        Some(self.skiff(args).with_binds(&[(&closed, "/dev/fuse")]))
    }
}

pub struct Cmd {
    command: Command,
    stdin: Option<Vec<u8>>,
    shown: String,
}

impl Cmd {
    /// The command in a mount namespace of its own where each (source, target) is bind-mounted:
    /// a host file hidden or replaced for this command alone. Only root can make it.
    pub fn with_binds(self, binds: &[(&Path, &str)]) -> Cmd {
        assert!(is_root(), "only root can bind files for one command");
        let mut script = String::new();
        let mut words: Vec<OsString> = Vec::new();
        for (n, (source, target)) in binds.iter().enumerate() {
            script.push_str(&format!(
                r#"mount --bind "${}" "${}" && "#,
                2 * n + 1,
                2 * n + 2
            ));
            words.push(source.as_os_str().to_owned());
            words.push(OsString::from(target));
        }
        script.push_str(&format!(r#"shift {} && exec "$@""#, 2 * binds.len()));
        let shown = format!("{} (with {binds:?} bound)", self.shown);
        self.in_mount_namespace(&script, &words, shown)
    }

    /// The command run by `script` (`sh -c`, as root) in a private mount namespace: the
    /// script gets `words`, then the command, as its arguments, and runs the command with
    /// `"$@"` once it has shifted the words away.
    pub fn in_mount_namespace(self, script: &str, words: &[OsString], shown: String) -> Cmd {
        assert!(
            is_root(),
            "only root can make a mount namespace for one command"
        );
        let mut command = Command::new("unshare");
        command.args(["--mount", "--propagation", "private", "sh", "-c"]);
        command.arg(script).arg("sh").args(words);
        command.arg(self.command.get_program());
        command.args(self.command.get_args());
        command.env_clear().env("PATH", SAFE_PATH);
        for (key, value) in self.command.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        Cmd {
            command,
            stdin: self.stdin,
            shown,
        }
    }

    /// The command as one line for `sh -c` (every word quoted, its environment set with
    /// `env -i`): for a test that runs it from a shell it sets up itself (a descriptor left
    /// open, a pseudo-terminal around it).
    pub fn shell_line(&self) -> String {
        let quote =
            |word: &std::ffi::OsStr| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''"));
        let mut words = vec!["env".to_string(), "-i".to_string()];
        words.push(quote(std::ffi::OsStr::new(&format!("PATH={SAFE_PATH}"))));
        for (key, value) in self.command.get_envs() {
            if let Some(value) = value {
                let mut pair = key.to_os_string();
                pair.push("=");
                pair.push(value);
                words.push(quote(&pair));
            }
        }
        words.push(quote(self.command.get_program()));
        words.extend(self.command.get_args().map(quote));
        words.join(" ")
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Starts the command; end it with [`finish`].
    pub fn spawn(mut self) -> std::process::Child {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        spawn_past_busy_text(&mut self.command).unwrap()
    }

    /// Starts the command with the bytes given to [`Cmd::stdin`] on its standard input, kept
    /// open until the command ends; end it with [`finish`].
    pub fn spawn_with_stdin(mut self) -> std::process::Child {
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = spawn_past_busy_text(&mut self.command).unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let bytes = self.stdin.take().unwrap_or_default();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
            // Held open: an attached client whose input ends early must still see the output.
            std::thread::sleep(COMMAND_TIMEOUT);
            drop(stdin);
        });
        child
    }

    pub fn output(mut self) -> Output {
        self.command.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        // Its own process group, so that a command that hangs is killed with all it started.
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = spawn_past_busy_text(&mut self.command)
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.shown));
        if let Some(bytes) = self.stdin.take() {
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        finish(child, &self.shown)
    }

    fn describe(shown: &str, out: &Output) -> String {
        format!(
            "\n---- command: {shown}\n---- exit: {:?}\n---- stdout:\n{}\n---- stderr:\n{}\n----",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Runs, expects success, returns stdout.
    pub fn stdout(self) -> String {
        let shown = self.shown.clone();
        let out = self.output();
        assert!(
            out.status.success(),
            "command failed:{}",
            Self::describe(&shown, &out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs, expects this exit code, returns (stdout, stderr).
    pub fn assert_exit(self, code: i32) -> (String, String) {
        let shown = self.shown.clone();
        let out = self.output();
        assert_eq!(
            out.status.code(),
            Some(code),
            "unexpected exit code:{}",
            Self::describe(&shown, &out)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Asserts that skiff refused the command as its own error: exit code 125 and one
    /// `Error: ` line that contains `says`.
    pub fn refused(self, says: &str) {
        let (_, stderr) = self.assert_exit(125);
        assert!(
            stderr.starts_with("Error: ") && stderr.lines().count() == 1,
            "not one error line: {stderr}"
        );
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// Waits for a command started in its own process group, killing the group if it hangs.
pub fn finish(child: std::process::Child, shown: &str) -> Output {
    let group = Pid::from_raw(i32::try_from(child.id()).unwrap());
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished.recv_timeout(COMMAND_TIMEOUT).is_err() {
        let _ = killpg(group, Signal::SIGKILL);
        let out = waiter.join().unwrap().unwrap();
        panic!(
            "command still running after {} s, killed:{}",
            COMMAND_TIMEOUT.as_secs(),
            Cmd::describe(shown, &out)
        );
    }
    waiter.join().unwrap().unwrap()
}

/// Waits up to 20 seconds for `condition`, checking every 50 ms.
pub fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Spawns `command`, trying again while exec fails with ETXTBSY: a binary a test has just
/// written (an installed copy of skiff) stays open for writing in any child another test thread
/// forked meanwhile, until that child execs. The race is the test process's, not skiff's.
pub fn spawn_past_busy_text(
    command: &mut std::process::Command,
) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// The pids of the pasta processes (zombies aside) with an argument naming a file under `dir`.
pub fn pastas_under(dir: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let mut args = cmdline.split(|b| *b == 0);
            let named = args
                .next()
                .is_some_and(|program| program.ends_with(b"pasta"))
                && args.any(|arg| String::from_utf8_lossy(arg).starts_with(dir));
            named.then_some(pid)
        })
        .collect()
}
