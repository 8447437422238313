//! `system reset` and `system migrate`.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use crate::common::skiff_test;

#[test]
fn system_reset_asks_then_leaves_an_empty_usable_store() {
    let test = skiff_test!();
    for env in test.each_env() {
        let image = env.load_volumebox();
        env.skiff(&["run", "-d", "--name", "up", image, "sleep", "600"])
            .stdout();
        env.skiff(&["volume", "create", "v1"]).stdout();
        env.skiff(&["network", "create", "n1"]).stdout();
        let (out, _) = env.skiff(&["system", "reset"]).stdin("n\n").assert_exit(0);
        assert!(
            out.contains("Are you sure you want to continue? [y/N]"),
            "{out}"
        );
        assert!(!env.skiff(&["ps", "-a", "-q"]).stdout().trim().is_empty());
        env.skiff(&["system", "reset", "-f"]).stdout();
        assert_eq!(env.skiff(&["ps", "-a", "-q"]).stdout(), "");
        assert_eq!(env.skiff(&["images", "-q"]).stdout(), "");
        assert_eq!(env.skiff(&["volume", "ls", "-q"]).stdout(), "");
        assert!(!env.skiff(&["network", "ls"]).stdout().contains("n1"));
        let left: Vec<_> = std::fs::read_dir(env.store_root().join("layers"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{left:?}");
        // Usable at once.
        let image = env.load_volumebox();
        env.skiff(&["run", "--rm", image, "true"]).stdout();
    }
}

const MIGRATE_USER: &str = "skiff-migrate";

/// usermod (taking ranges away) and userdel refuse a user who has a process. A `run` leaves
/// two: the process that keeps the user namespace for the next one, which the administrator
/// stops as Podman's pause process is stopped, and for a moment the one that deletes a `--rm`
/// container's files. Gives up after 20 seconds without a panic (a drop may run while the test
/// unwinds): usermod then says which process is left.
fn wait_until_the_user_has_no_process() {
    let _ = Command::new("pkill")
        .args(["-KILL", "-x", "-u", MIGRATE_USER, "skiff-userns"])
        .status();
    for _ in 0..400 {
        let left = Command::new("pgrep")
            .args(["-u", MIGRATE_USER])
            .output()
            .is_ok_and(|out| !out.stdout.is_empty());
        if !left {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn usermod(args: &[&str]) {
    wait_until_the_user_has_no_process();
    let status = Command::new("usermod")
        .args(args)
        .arg(MIGRATE_USER)
        .status()
        .unwrap();
    assert!(status.success(), "usermod {args:?}");
}

/// Removes the user (if the test made it) and its ranges however the test ends.
struct MigrateUser {
    made: bool,
    /// Ranges the user had before (useradd gives one), put back at the end.
    earlier: Vec<(String, String)>,
    ranges: Vec<String>,
    dir: std::path::PathBuf,
}

impl Drop for MigrateUser {
    fn drop(&mut self) {
        wait_until_the_user_has_no_process();
        let _ = Command::new("rm").arg("-rf").arg(&self.dir).status();
        for range in &self.ranges {
            let _ = Command::new("usermod")
                .args(["--del-subuids", range, "--del-subgids", range, MIGRATE_USER])
                .status();
        }
        for (flag, range) in &self.earlier {
            let _ = Command::new("usermod")
                .args([flag, range, MIGRATE_USER])
                .status();
        }
        if self.made {
            let _ = Command::new("userdel").arg(MIGRATE_USER).status();
        }
    }
}

#[test]
fn system_migrate_reowns_the_store_after_the_subordinate_range_changes() {
    let test = skiff_test!();
    if test.lacks_root("changing /etc/subuid") {
        return;
    }
    let exists = Command::new("id")
        .arg(MIGRATE_USER)
        .output()
        .unwrap()
        .status
        .success();
    if !exists {
        let status = Command::new("useradd")
            .args(["-M", "-s", "/bin/sh", MIGRATE_USER])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let dir = std::env::temp_dir().join(format!("skiff-it-migrate-{}", std::process::id()));
    // Only the ranges the test gives: the user's first range is the one skiff uses.
    let mut earlier = Vec::new();
    for (file, del, add) in [
        ("/etc/subuid", "--del-subuids", "--add-subuids"),
        ("/etc/subgid", "--del-subgids", "--add-subgids"),
    ] {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if let [MIGRATE_USER, start, count] = fields[..] {
                let (start, count): (u64, u64) = (start.parse().unwrap(), count.parse().unwrap());
                let range = format!("{start}-{}", start + count - 1);
                usermod(&[del, &range]);
                earlier.push((add.to_string(), range));
            }
        }
    }
    let mut user = MigrateUser {
        made: !exists,
        earlier,
        ranges: Vec::new(),
        dir: dir.clone(),
    };
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::set_permissions(
        dir.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    Command::new("chown")
        .args(["-R", &format!("{MIGRATE_USER}:")])
        .arg(&dir)
        .status()
        .unwrap();
    let old = "700000-765535";
    usermod(&["--add-subuids", old, "--add-subgids", old]);
    user.ranges.push(old.into());
    let skiff = |args: &[&str]| {
        let mut c = Command::new("runuser");
        c.args(["-u", MIGRATE_USER, "--", "env", "-i", "PATH=/usr/bin:/bin"])
            .arg(format!("HOME={}", dir.display()))
            .arg(format!("XDG_DATA_HOME={}", dir.join("data").display()))
            .arg(format!("XDG_RUNTIME_DIR={}", dir.join("run").display()))
            .arg(env!("CARGO_BIN_EXE_skiff"))
            .args(args);
        c.output().unwrap()
    };
    let archive = crate::common::images::volumebox_archive_path();
    assert!(skiff(&["load", "-i", archive.to_str().unwrap()])
        .status
        .success());
    let image = crate::common::images::VOLUMEBOX_NAME;
    let owner = |skiff: &dyn Fn(&[&str]) -> std::process::Output| {
        let out = skiff(&[
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "stat",
            "-c",
            "%u",
            "/home/tester",
        ]);
        (
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(owner(&skiff).0, "1000");
    // The administrator widens the range downwards: every old id is still the user's, but
    // container id 1000 is another host id now.
    let new = "690000-765535";
    usermod(&[
        "--del-subuids",
        old,
        "--del-subgids",
        old,
        "--add-subuids",
        new,
        "--add-subgids",
        new,
    ]);
    user.ranges = vec![new.into()];
    let refused = skiff(&["run", "--rm", "--network", "none", image, "true"]);
    assert_eq!(refused.status.code(), Some(125));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("run `skiff system migrate`"), "{err}");
    let migrated = skiff(&["system", "migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert_eq!(owner(&skiff), ("1000".to_string(), String::new()));
    // On the host, the file belongs to the new range's id for 1000.
    let home =
        walk_find(&dir.join("data/skiff/layers"), "tester").expect("the layer's /home/tester");
    assert_eq!(std::fs::metadata(home).unwrap().uid(), 690_000 + 999);
}

fn walk_find(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if entry.file_name() == name {
            return Some(path);
        }
        if path.is_dir() && !path.is_symlink() {
            if let Some(found) = walk_find(&path, name) {
                return Some(found);
            }
        }
    }
    None
}
