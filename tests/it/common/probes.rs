//! Static probe programs for the security tests: small C programs compiled with the host's C
//! compiler (`cc -static`), so they run in a busybox container that has no C library of its own.
//! Each is built once per test process, into the shared directory every user can read, and is
//! handed to a container by a read-only bind mount (`-v PATH:/probe:ro`).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Compiles `source` (C) into a static executable named `name` and returns its path. The same
/// name always means the same source within one test process.
pub fn static_c(name: &str, source: &str) -> PathBuf {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = super::images::shared_dir().join("probes");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = dir.join(name);
    if binary.exists() {
        return binary;
    }
    let source_path = dir.join(format!("{name}.c"));
    std::fs::write(&source_path, source).unwrap();
    let out = Command::new("cc")
        .args(["-static", "-O2", "-Wall", "-o"])
        .arg(&binary)
        .arg(&source_path)
        .output()
        .expect("cc is missing: run scripts/setup-host.sh as root (gcc, libc6-dev)");
    assert!(
        out.status.success(),
        "compiling the probe {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    binary
}

/// The `-v` argument that puts a probe at `/probe/NAME` in the container, read-only.
pub fn mount_arg(probe: &std::path::Path) -> String {
    let name = probe.file_name().unwrap().to_str().unwrap();
    format!("{}:/probe/{name}:ro", probe.display())
}
