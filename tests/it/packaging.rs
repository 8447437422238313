//! The Debian package: packaging/build-deb.sh makes it from the built binary, dpkg installs it on
//! this machine, and the installed skiff runs, has its man pages and completions where the system
//! looks, and runs a container for the unprivileged user. Root only (it installs a package); the
//! package is purged again at the end, leaving the machine as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{images::test_images, skiff_test};

/// Purges the package when the test ends, passed or failed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "skiff"]).output();
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_debian_package_installs_a_working_skiff_with_its_docs() {
    let test = skiff_test!();
    if test.lacks_root("installing a package") {
        return;
    }
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        return test.skip("dpkg-deb is not installed (not a Debian system)");
    }
    if Command::new("dpkg")
        .args(["-s", "skiff"])
        .output()
        .unwrap()
        .status
        .success()
    {
        return test
            .skip("a skiff package is already installed here, which the test would replace");
    }
    let Some(env) = test.rootless() else {
        return;
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = env.path("deb");
    let built = Command::new(repo.join("packaging/build-deb.sh"))
        .arg(env!("CARGO_BIN_EXE_skiff"))
        .arg(&out_dir)
        .env("DEB_COMPRESSION", "gzip")
        .output()
        .unwrap();
    assert!(built.status.success(), "build-deb.sh: {built:?}");
    let deb = String::from_utf8_lossy(&built.stdout).trim().to_string();
    let fields = run("dpkg-deb", &["-f", &deb, "Depends", "Recommends"]);
    assert!(
        fields.contains("uidmap") && fields.contains("passt"),
        "{fields}"
    );

    let installed = Installed;
    run("dpkg", &["-i", &deb]);
    let version = run("/usr/bin/skiff", &["--version"]);
    assert_eq!(
        version.trim(),
        format!("skiff {}", env!("CARGO_PKG_VERSION"))
    );
    let page = run("man", &["-w", "skiff-run"]);
    assert_eq!(page.trim(), "/usr/share/man/man1/skiff-run.1.gz");
    for (file, shell) in [
        ("/usr/share/bash-completion/completions/skiff", "bash"),
        ("/usr/share/zsh/vendor-completions/_skiff", "zsh"),
        ("/usr/share/fish/vendor_completions.d/skiff.fish", "fish"),
    ] {
        let script = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            script,
            run("/usr/bin/skiff", &["completion", shell]).into_bytes(),
            "{file}"
        );
    }
    let profile = std::fs::read_to_string("/etc/apparmor.d/skiff").unwrap();
    assert!(
        profile.contains("/usr/bin/skiff") && profile.contains("userns,"),
        "{profile}"
    );

    let installed_skiff = |args: &[&str]| env.skiff_binary("/usr/bin/skiff", &[], &[], args);
    let archive = test_images().docker_archive.to_str().unwrap().to_string();
    installed_skiff(&["load", "-i", &archive]).stdout();
    let said = installed_skiff(&[
        "run",
        "--rm",
        "localhost/testbox:latest",
        "echo",
        "packaged",
    ])
    .stdout();
    assert_eq!(said.trim(), "packaged");
    installed_skiff(&["rmi", "localhost/testbox:latest"]).stdout();

    drop(installed);
    assert!(
        !Path::new("/usr/bin/skiff").exists(),
        "purge left /usr/bin/skiff"
    );
    assert!(
        !Path::new("/etc/apparmor.d/skiff").exists(),
        "purge left the AppArmor profile"
    );
}

#[test]
fn the_rpm_spec_packages_this_version() {
    let spec = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("packaging/rpm/skiff.spec"),
    )
    .unwrap();
    let version = spec
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(str::trim);
    assert_eq!(
        version,
        Some(env!("CARGO_PKG_VERSION")),
        "packaging/rpm/skiff.spec"
    );
}
