//! `system check`, the doctor: each test breaks one prerequisite for one command only (a PATH
//! without the helpers, another XDG_RUNTIME_DIR, or, as root, a file bound over a device, a
//! sysctl or /etc/subuid in a mount namespace of the command's own) and reads the diagnosis
//! line and its fix. Also `run`'s errors for such hosts, which point at the doctor.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::common::{is_root, skiff_test, TestEnv, TEST_USER};

const HINT: &str = "(run `skiff system check` to see what this host lacks and how to fix it)";

/// The line of the report about `name`.
fn line<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|l| l[8.min(l.len())..].starts_with(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no line for {name} in:\n{report}"))
}

/// A file only root may open, holding `text`, to bind over what a test hides.
fn root_only_file(env: &TestEnv, name: &str, text: &str) -> PathBuf {
    let path = env.path(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn test_user_ids() -> (String, String) {
    let id = |flag| {
        let out = std::process::Command::new("id")
            .args([flag, TEST_USER])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    (id("-u"), id("-g"))
}

#[test]
fn system_check_passes_on_a_prepared_host_and_speaks_json() {
    let test = skiff_test!();
    for env in test.each_env() {
        let report = env.skiff(&["system", "check"]).stdout();
        for name in [
            "overlay",
            "/dev/fuse",
            "/dev/net/tun",
            "pasta",
            "store file system",
        ] {
            assert!(line(&report, name).starts_with("ok "), "{report}");
        }
        if !env.as_root {
            for name in [
                "subuid",
                "subgid",
                "newuidmap",
                "newgidmap",
                "user namespace",
                "XDG_RUNTIME_DIR",
            ] {
                assert!(line(&report, name).starts_with("ok "), "{report}");
            }
        }
        let json = env.skiff(&["system", "check", "--format", "json"]).stdout();
        let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        let pasta = rows.iter().find(|r| r["Name"] == "pasta").unwrap();
        assert_eq!(pasta["Status"], "ok");
        assert_eq!(pasta["Fix"], "");
        let names = env
            .skiff(&["system", "check", "--format", "{{.Name}}={{.Status}}"])
            .stdout();
        assert!(names.lines().any(|l| l == "overlay=ok"), "{names}");
    }
}

#[test]
fn system_check_fails_without_newuidmap_newgidmap_and_pasta_on_path() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let empty = env.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let (out, _) = env
        .skiff_with_path(empty.to_str().unwrap(), &["system", "check"])
        .assert_exit(1);
    assert_eq!(
        line(&out, "newuidmap"),
        "FAIL    newuidmap: not found in $PATH; fix: sudo apt-get install uidmap"
    );
    assert_eq!(
        line(&out, "newgidmap"),
        "FAIL    newgidmap: not found in $PATH; fix: sudo apt-get install uidmap"
    );
    assert_eq!(
        line(&out, "pasta"),
        "FAIL    pasta: neither pasta nor slirp4netns is in $PATH: containers cannot have a private network; fix: sudo apt-get install passt"
    );
}

#[test]
fn system_check_fails_for_a_newuidmap_that_is_not_setuid() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    // A copy loses the setuid bit, as a package unpacked without it would.
    let bin = env.path("plain-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/usr/bin/newuidmap", bin.join("newuidmap")).unwrap();
    std::fs::set_permissions(
        bin.join("newuidmap"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let (out, _) = env
        .skiff_with_path(&path, &["system", "check"])
        .assert_exit(1);
    let copied = bin.join("newuidmap");
    assert_eq!(
        line(&out, "newuidmap"),
        format!(
            "FAIL    newuidmap: {0} is neither setuid root nor has cap_setuid; fix: sudo setcap cap_setuid+ep {0}",
            copied.display()
        )
    );
    assert!(line(&out, "newgidmap").starts_with("ok "), "{out}");
}

#[test]
fn system_check_diagnoses_xdg_runtime_dir() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let (uid, gid) = if is_root() {
        test_user_ids()
    } else {
        (env.uid.to_string(), String::new())
    };
    let out = env
        .skiff_with_env(&[], &["XDG_RUNTIME_DIR"], &["system", "check"])
        .stdout();
    assert_eq!(
        line(&out, "XDG_RUNTIME_DIR"),
        format!(
            "warning XDG_RUNTIME_DIR: not set: runtime state goes to /tmp/skiff-{uid}, which survives reboots; fix: sudo loginctl enable-linger {} && export XDG_RUNTIME_DIR=/run/user/{uid}",
            user_name(&env)
        )
    );
    let open = env.path("open-run");
    std::fs::create_dir_all(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.give(&open);
    let shown = open.display();
    let out = env
        .skiff_with_env(
            &[("XDG_RUNTIME_DIR", open.to_str().unwrap())],
            &[],
            &["system", "check"],
        )
        .stdout();
    assert_eq!(
        line(&out, "XDG_RUNTIME_DIR"),
        format!("warning XDG_RUNTIME_DIR: {shown} has mode 0755: other users may reach skiff's runtime state; fix: chmod 0700 {shown}")
    );
    if test.lacks_root("a runtime directory of another owner") {
        return;
    }
    let foreign = env.path("root-run");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
    let shown = foreign.display();
    let (out, _) = env
        .skiff_with_env(
            &[("XDG_RUNTIME_DIR", foreign.to_str().unwrap())],
            &[],
            &["system", "check"],
        )
        .assert_exit(1);
    assert_eq!(
        line(&out, "XDG_RUNTIME_DIR"),
        format!("FAIL    XDG_RUNTIME_DIR: {shown} is owned by uid 0, not by {TEST_USER}; fix: sudo chown {uid}:{gid} {shown}")
    );
    // run fails there too, pointing at the doctor.
    let (_, err) = env
        .skiff_with_env(
            &[("XDG_RUNTIME_DIR", foreign.to_str().unwrap())],
            &[],
            &["run", "--rm", "busybox-never-pulled", "true"],
        )
        .assert_exit(125);
    assert!(err.trim_end().ends_with(HINT), "{err}");
}

fn user_name(env: &TestEnv) -> String {
    if is_root() {
        TEST_USER.to_string()
    } else {
        std::env::var("USER").unwrap_or_else(|_| env.uid.to_string())
    }
}

#[test]
fn system_check_fails_for_a_user_without_subordinate_ids() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    if test.lacks_root("hiding /etc/subuid") {
        return;
    }
    let empty = root_only_file(&env, "no-subids", "");
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _) = env
        .skiff(&["system", "check"])
        .with_binds(&[(&empty, "/etc/subuid"), (&empty, "/etc/subgid")])
        .assert_exit(1);
    assert_eq!(
        line(&out, "subuid"),
        format!("FAIL    subuid: no range for {TEST_USER} in /etc/subuid: only one id can be mapped; fix: sudo usermod --add-subuids 100000-165535 {TEST_USER}")
    );
    assert_eq!(
        line(&out, "subgid"),
        format!("FAIL    subgid: no range for {TEST_USER} in /etc/subgid: only one id can be mapped; fix: sudo usermod --add-subgids 100000-165535 {TEST_USER}")
    );
}

#[test]
fn system_check_reports_hidden_devices_and_a_masked_sysctl() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    if test.lacks_root("hiding devices") {
        return;
    }
    let closed = root_only_file(&env, "closed", "");
    let zero = root_only_file(&env, "zero", "0\n");
    std::fs::set_permissions(&zero, std::fs::Permissions::from_mode(0o644)).unwrap();
    let two = root_only_file(&env, "two", "2\n");
    std::fs::set_permissions(&two, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (out, _) = env
        .skiff(&["system", "check"])
        .with_binds(&[
            (&closed, "/dev/fuse"),
            (&closed, "/dev/net/tun"),
            (&zero, "/proc/sys/user/max_user_namespaces"),
            (&two, "/proc/sys/vm/memfd_noexec"),
        ])
        .assert_exit(1);
    assert_eq!(
        line(&out, "/dev/fuse"),
        "warning /dev/fuse: Permission denied (os error 13): layers for --userns=keep-id are copied instead of served, and where the kernel refuses overlay, containers get plain copies (vfs) instead of skiff's FUSE overlay; fix: sudo chmod 0666 /dev/fuse"
    );
    assert_eq!(
        line(&out, "/dev/net/tun"),
        "FAIL    /dev/net/tun: Permission denied (os error 13): containers cannot have a private network (use --network none or host); fix: sudo chmod 0666 /dev/net/tun"
    );
    assert_eq!(
        line(&out, "user.max_user_namespaces"),
        "FAIL    user.max_user_namespaces: = 0: no user namespace may be made; fix: sudo sysctl -w user.max_user_namespaces=28633"
    );
    assert_eq!(
        line(&out, "vm.memfd_noexec"),
        "FAIL    vm.memfd_noexec: = 2: no executable memory file may be made, and skiff starts every container's program from a sealed one; fix: sudo sysctl -w vm.memfd_noexec=1"
    );
}

#[test]
fn run_errors_from_a_missing_prerequisite_point_at_system_check() {
    let test = skiff_test!();
    let Some(env) = test.rootless() else {
        return;
    };
    let image = env.load_volumebox();
    // Without newuidmap the id maps cannot be written.
    let bin = env.path("pasta-only");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink("/usr/bin/pasta", bin.join("pasta")).unwrap();
    let (_, err) = env
        .skiff_with_path(bin.to_str().unwrap(), &["run", "--rm", image, "true"])
        .assert_exit(125);
    assert!(err.contains("cannot run newuidmap"), "{err}");
    assert!(err.trim_end().ends_with(HINT), "{err}");
    // Without pasta (or slirp4netns) there is no private network.
    let bin = env.path("no-helpers");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["newuidmap", "newgidmap"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.join(tool)).unwrap();
    }
    let (_, err) = env
        .skiff_with_path(bin.to_str().unwrap(), &["run", "--rm", image, "true"])
        .assert_exit(125);
    assert!(err.contains("neither pasta nor slirp4netns"), "{err}");
    assert!(err.trim_end().ends_with(HINT), "{err}");
    if test.lacks_root("closing /dev/net/tun") {
        return;
    }
    // With /dev/net/tun closed, pasta cannot make the interface.
    let closed = root_only_file(&env, "closed-tun", "");
    let (_, err) = env
        .skiff(&["run", "--rm", image, "true"])
        .with_binds(&[(&closed, "/dev/net/tun")])
        .assert_exit(125);
    assert!(err.trim_end().ends_with(HINT), "{err}");
    // An error that has nothing to do with the host does not point there.
    let (_, err) = env
        .skiff(&["run", "--rm", image, "/no/such/program"])
        .assert_exit(127);
    assert!(!err.contains("system check"), "{err}");
}
