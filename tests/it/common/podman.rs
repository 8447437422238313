//! The Podman installed on the machine, run beside skiff to compare outputs: rootless as the
//! test user, with its own HOME and XDG directories inside the test's directory, cgroupfs and
//! runc (the test user has no systemd), and reset with its pause process killed when dropped.

use std::ffi::OsString;
use std::process::Command;

use super::{is_root, Test, TestEnv, TEST_USER};

/// Podman in the test's own directories, as the test user.
pub struct Podman<'a> {
    env: &'a TestEnv,
    /// Its runtime directory, short: under the test's long one, the paths of conmon's sockets
    /// pass the 108 bytes a socket address holds, and every `podman run` then waits 20 s for
    /// its container's exit code.
    runtime: tempfile::TempDir,
}

impl Podman<'_> {
    fn dirs(&self) -> [(&'static str, OsString); 4] {
        [
            ("HOME", self.env.path("podman/home").into()),
            ("XDG_DATA_HOME", self.env.path("podman/data").into()),
            ("XDG_CONFIG_HOME", self.env.path("podman/config").into()),
            ("XDG_RUNTIME_DIR", self.runtime.path().into()),
        ]
    }

    pub fn setup(env: &TestEnv) -> Podman<'_> {
        for sub in ["home", "data", "config/containers"] {
            std::fs::create_dir_all(env.path(&format!("podman/{sub}"))).unwrap();
        }
        let runtime = tempfile::Builder::new()
            .prefix("skiff-podman-")
            .tempdir_in("/tmp")
            .unwrap();
        env.give(runtime.path());
        // No systemd for the test user: cgroupfs, runc and a file for events; and netavark
        // named outright (Podman would pick CNI where CNI's plugins are installed too).
        std::fs::write(
            env.path("podman/config/containers/containers.conf"),
            "[engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"runc\"\nevents_logger = \"file\"\n\
             [network]\nnetwork_backend = \"netavark\"\n",
        )
        .unwrap();
        env.give(&env.path("podman"));
        Podman { env, runtime }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", TEST_USER, "--", "env", "-i"]);
            for (k, v) in self.dirs() {
                let mut kv = OsString::from(format!("{k}="));
                kv.push(v);
                c.arg(kv);
            }
            c.arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
            c.arg("podman");
            c
        } else {
            let mut c = Command::new("podman");
            c.envs(self.dirs());
            c
        };
        command.args(args);
        command
    }

    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "podman {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Podman<'_> {
    fn drop(&mut self) {
        let _ = self.command(&["system", "reset", "-f"]).output();
        // The rootless pause process outlives `system reset`.
        let pid_file = self.runtime.path().join("libpod/tmp/pause.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        // Files of subordinate ids in Podman's store: root removes them with the test's
        // directory; a non-root user needs Podman's user namespace.
        if !is_root() {
            let _ = self
                .command(&["unshare", "rm", "-rf"])
                .arg(self.env.path("podman/data"))
                .output();
        }
    }
}

/// Whether a test comparing with Podman cannot run here (after a skip): `podman --version`
/// fails (Podman is not installed, or cannot start for this user).
pub fn podman_missing(test: Test) -> bool {
    let version = Command::new("podman").arg("--version").output();
    let why = match &version {
        Err(e) => format!("podman cannot be run ({e}): scripts/setup-host.sh installs it"),
        Ok(out) if !out.status.success() => format!(
            "podman --version failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Ok(_) => return false,
    };
    test.skip(&why);
    true
}
