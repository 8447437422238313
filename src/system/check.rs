//! `system check`: every prerequisite of (rootless) containers tested on this host, each giving
//! one finding — ok, a warning (something degraded or optional) or a failure (containers will
//! not run) — with, for what is wrong, the exact command that puts it right.
//!
//! The tests that need the kernel (a user namespace, an overlay mount, opening a device, a
//! file system's type) are `runtime::probe`'s; this module reads plain files and decides, so
//! each decision is a pure function unit-tested here. It never changes the host: the only
//! thing it writes is the overlay probe's scratch directory, under the store, removed again.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::paths::find_program;
use crate::runtime::probe;
use crate::runtime::userns::parse_subordinate_range;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Something optional is missing, or skiff works around it.
    Warning,
    /// Containers cannot run (or cannot run as they should) until it is fixed.
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Fail => "FAIL",
        }
    }
}

/// One prerequisite's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The prerequisite, short and stable (scripts may look for it).
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// The command that fixes it, for a warning or a failure.
    pub fix: Option<String>,
}

impl Finding {
    fn ok(name: &'static str, detail: impl Into<String>) -> Finding {
        Finding {
            name,
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn bad(name: &'static str, status: Status, detail: impl Into<String>, fix: String) -> Finding {
        Finding {
            name,
            status,
            detail: detail.into(),
            fix: Some(fix),
        }
    }
}

/// Who runs skiff and where its store is: what the checks depend on besides the host.
pub struct Subject {
    pub rootless: bool,
    pub user: String,
    pub uid: u32,
    pub gid: u32,
    pub store_root: PathBuf,
}

/// Runs every check for the user running skiff, whose store is at `store_root`.
pub fn check_this_host(store_root: PathBuf) -> Vec<Finding> {
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    check(&Subject {
        rootless: !nix::unistd::geteuid().is_root(),
        user,
        uid: uid.as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        store_root,
    })
}

/// Runs every check, in the order a container needs them.
pub fn check(subject: &Subject) -> Vec<Finding> {
    let mut findings = Vec::new();
    if subject.rootless {
        let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
        let subgid = std::fs::read_to_string("/etc/subgid").unwrap_or_default();
        findings.push(judge_subordinate("subuid", &subuid, &subgid, subject));
        findings.push(judge_subordinate("subgid", &subgid, &subuid, subject));
        findings.push(judge_id_helper("newuidmap"));
        findings.push(judge_id_helper("newgidmap"));
        findings.extend(check_user_namespaces());
        findings.push(judge_runtime_dir(crate::paths::runtime_dir(), subject));
    }
    findings.push(judge_memfd_noexec(
        std::fs::read_to_string("/proc/sys/vm/memfd_noexec")
            .ok()
            .map(|t| t.trim().to_string()),
    ));
    findings.push(check_overlay(subject));
    findings.push(judge_fuse(probe::open_device(Path::new("/dev/fuse"))));
    findings.push(judge_tun(probe::open_device(Path::new("/dev/net/tun"))));
    findings.push(judge_network_helper(
        find_program("pasta"),
        find_program("slirp4netns"),
    ));
    findings.push(check_store_filesystem(subject));
    findings.push(check_cgroups(subject));
    findings
}

/// The distribution's command that installs `package` (named as Debian names it).
fn install_command(package: &str) -> String {
    let on_host = |tool: &str| {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
            .iter()
            .any(|dir| Path::new(dir).join(tool).is_file())
    };
    if on_host("apt-get") {
        return format!("sudo apt-get install {package}");
    }
    let renamed = match package {
        "uidmap" => "shadow-utils",
        other => other,
    };
    if on_host("dnf") {
        format!("sudo dnf install {renamed}")
    } else if on_host("zypper") {
        format!("sudo zypper install {renamed}")
    } else if on_host("pacman") {
        let arch = if package == "uidmap" {
            "shadow"
        } else {
            package
        };
        format!("sudo pacman -S {arch}")
    } else {
        format!("sudo apt-get install {package}")
    }
}

/// The start of a free range of 65536 ids: past every range either file gives anyone.
fn free_range_start(subuid: &str, subgid: &str) -> u64 {
    subuid
        .lines()
        .chain(subgid.lines())
        .filter_map(|line| {
            let mut fields = line.trim().split(':').skip(1);
            let start: u64 = fields.next()?.trim().parse().ok()?;
            let count: u64 = fields.next()?.trim().parse().ok()?;
            Some(start + count)
        })
        .fold(100_000, u64::max)
}

/// `/etc/subuid` (or subgid): the user needs a range of at least 65536 ids, which images assume
/// (`nobody` is 65534). `other` is the other file, so that the range the fix proposes is free
/// in both.
pub fn judge_subordinate(
    name: &'static str,
    text: &str,
    other: &str,
    subject: &Subject,
) -> Finding {
    let option = if name == "subuid" {
        "subuids"
    } else {
        "subgids"
    };
    let start = free_range_start(text, other);
    let proposed = format!("{start}-{}", start + 65535);
    match parse_subordinate_range(text, &subject.user, subject.uid) {
        None => Finding::bad(
            name,
            Status::Fail,
            format!(
                "no range for {} in /etc/{name}: only one id can be mapped",
                subject.user
            ),
            format!("sudo usermod --add-{option} {proposed} {}", subject.user),
        ),
        Some((first, count)) if count < 65536 => Finding::bad(
            name,
            Status::Warning,
            format!(
                "{} has only {count} ids from {first} in /etc/{name}: images with ids up to 65535 need 65536",
                subject.user
            ),
            format!(
                "sudo usermod --del-{option} {first}-{} --add-{option} {proposed} {} && skiff system migrate",
                u64::from(first) + u64::from(count) - 1,
                subject.user
            ),
        ),
        Some((first, count)) => Finding::ok(
            name,
            format!("{} has {count} ids from {first}", subject.user),
        ),
    }
}

/// newuidmap/newgidmap: on $PATH (where skiff runs them from) and setuid root or with file
/// capabilities, since they write maps an unprivileged process may not.
fn judge_id_helper(name: &'static str) -> Finding {
    let Some(path) = find_program(name) else {
        return Finding::bad(
            name,
            Status::Fail,
            "not found in $PATH",
            install_command("uidmap"),
        );
    };
    let privileged = std::fs::metadata(&path)
        .is_ok_and(|m| m.uid() == 0 && m.permissions().mode() & 0o4000 != 0)
        || probe::has_file_capabilities(&path);
    if privileged {
        return Finding::ok(name, path.display().to_string());
    }
    let capability = if name == "newuidmap" {
        "cap_setuid"
    } else {
        "cap_setgid"
    };
    Finding::bad(
        name,
        Status::Fail,
        format!(
            "{} is neither setuid root nor has {capability}",
            path.display()
        ),
        format!("sudo setcap {capability}+ep {}", path.display()),
    )
}

/// The sysctls that refuse unprivileged user namespaces, then the real test.
fn check_user_namespaces() -> Vec<Finding> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .ok()
            .map(|t| t.trim().to_string())
    };
    let findings = vec![
        judge_sysctl(
            "user.max_user_namespaces",
            read("/proc/sys/user/max_user_namespaces"),
        ),
        judge_sysctl(
            "kernel.unprivileged_userns_clone",
            read("/proc/sys/kernel/unprivileged_userns_clone"),
        ),
        judge_sysctl(
            "kernel.apparmor_restrict_unprivileged_userns",
            read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
        ),
    ];
    let explained = findings.iter().any(|f| f.status == Status::Fail);
    let mut all = findings;
    all.push(match probe::user_namespace() {
        Ok(()) => Finding::ok("user namespace", "made one, with a mount namespace in it"),
        // A sysctl above already says why and how to fix it.
        Err(reason) if explained => Finding {
            name: "user namespace",
            status: Status::Fail,
            detail: reason,
            fix: None,
        },
        Err(reason) => Finding::bad(
            "user namespace",
            Status::Fail,
            reason,
            "sudo sysctl -w user.max_user_namespaces=28633 kernel.unprivileged_userns_clone=1"
                .into(),
        ),
    });
    all
}

/// One sysctl that can forbid unprivileged user namespaces; `value` None when this kernel has
/// none of that name (Debian's unprivileged_userns_clone, Ubuntu's AppArmor restriction).
pub fn judge_sysctl(name: &'static str, value: Option<String>) -> Finding {
    let Some(value) = value else {
        return Finding::ok(name, "not present in this kernel");
    };
    let refused = match name {
        "user.max_user_namespaces" => value == "0",
        "kernel.unprivileged_userns_clone" => value == "0",
        _ => value != "0",
    };
    if !refused {
        return Finding::ok(name, format!("= {value}"));
    }
    let (detail, fix) = match name {
        "user.max_user_namespaces" => (
            "= 0: no user namespace may be made",
            "sudo sysctl -w user.max_user_namespaces=28633",
        ),
        "kernel.unprivileged_userns_clone" => (
            "= 0: unprivileged users may not make user namespaces",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1",
        ),
        _ => (
            "= 1: AppArmor takes every capability from unprivileged user namespaces",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or load an AppArmor profile for skiff with `userns,`)",
        ),
    };
    Finding::bad(name, Status::Fail, detail, fix.into())
}

/// vm.memfd_noexec: at 2 the kernel refuses every executable memory file, and skiff starts each
/// container's program from one (the sealed trampoline that keeps the host's skiff binary out of
/// the container's reach), so no container can start. `value` None on kernels before 6.3.
pub fn judge_memfd_noexec(value: Option<String>) -> Finding {
    const NAME: &str = "vm.memfd_noexec";
    match value.as_deref() {
        None => Finding::ok(NAME, "not present in this kernel"),
        Some("2") => Finding::bad(
            NAME,
            Status::Fail,
            "= 2: no executable memory file may be made, and skiff starts every container's \
             program from a sealed one",
            "sudo sysctl -w vm.memfd_noexec=1".into(),
        ),
        Some(value) => Finding::ok(NAME, format!("= {value}")),
    }
}

/// XDG_RUNTIME_DIR, where skiff keeps what must vanish on reboot: the user's own, mode 0700.
pub fn judge_runtime_dir(dir: Option<PathBuf>, subject: &Subject) -> Finding {
    const NAME: &str = "XDG_RUNTIME_DIR";
    let user = &subject.user;
    let login_dir = format!("/run/user/{}", subject.uid);
    let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) else {
        return Finding::bad(
            NAME,
            Status::Warning,
            format!(
                "not set: runtime state goes to /tmp/skiff-{}, which survives reboots",
                subject.uid
            ),
            format!("sudo loginctl enable-linger {user} && export XDG_RUNTIME_DIR={login_dir}"),
        );
    };
    let shown = dir.display();
    let meta = match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => meta,
        Ok(_) => {
            return Finding::bad(
                NAME,
                Status::Fail,
                format!("{shown} is not a directory"),
                format!("export XDG_RUNTIME_DIR={login_dir}"),
            )
        }
        Err(e) => {
            return Finding::bad(
                NAME,
                Status::Fail,
                format!("{shown}: {e}"),
                format!(
                    "sudo install -d -m 0700 -o {} -g {} {shown}",
                    subject.uid, subject.gid
                ),
            )
        }
    };
    if meta.uid() != subject.uid {
        return Finding::bad(
            NAME,
            Status::Fail,
            format!("{shown} is owned by uid {}, not by {user}", meta.uid()),
            format!("sudo chown {}:{} {shown}", subject.uid, subject.gid),
        );
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode != 0o700 {
        return Finding::bad(
            NAME,
            Status::Warning,
            format!("{shown} has mode {mode:04o}: other users may reach skiff's runtime state"),
            format!("chmod 0700 {shown}"),
        );
    }
    Finding::ok(NAME, shown.to_string())
}

/// An overlay mounted as containers mount theirs, on the store's file system.
fn check_overlay(subject: &Subject) -> Finding {
    let scratch = subject
        .store_root
        .join("tmp")
        .join(format!("check-overlay-{}", std::process::id()));
    let result = std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("creating {}: {e}", scratch.display()))
        .and_then(|()| probe::overlay(&scratch, subject.rootless));
    let _ = std::fs::remove_dir_all(&scratch);
    match result {
        Ok(()) => Finding::ok(
            "overlay",
            format!("mounts on {}", subject.store_root.display()),
        ),
        Err(reason) => Finding::bad(
            "overlay",
            Status::Fail,
            reason,
            format!(
                "use Linux 5.11 or later (rootless overlay), with the store on a local file system: skiff --root /var/tmp/{}-skiff",
                subject.user
            ),
        ),
    }
}

/// /dev/fuse serves layers to containers with another id mapping (--userns=keep-id); without
/// it skiff copies those layers instead.
pub fn judge_fuse(opened: std::io::Result<()>) -> Finding {
    match opened {
        Ok(()) => Finding::ok("/dev/fuse", "opens for reading and writing"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Finding::bad(
            "/dev/fuse",
            Status::Warning,
            "missing: layers for --userns=keep-id are copied instead of served, and where the kernel refuses overlay, containers get plain copies (vfs) instead of skiff's FUSE overlay",
            "sudo modprobe fuse".into(),
        ),
        Err(e) => Finding::bad(
            "/dev/fuse",
            Status::Warning,
            format!("{e}: layers for --userns=keep-id are copied instead of served, and where the kernel refuses overlay, containers get plain copies (vfs) instead of skiff's FUSE overlay"),
            "sudo chmod 0666 /dev/fuse".into(),
        ),
    }
}

/// /dev/net/tun: pasta and slirp4netns make the private network's interface with it.
pub fn judge_tun(opened: std::io::Result<()>) -> Finding {
    match opened {
        Ok(()) => Finding::ok("/dev/net/tun", "opens for reading and writing"),
        Err(e) => {
            let fix = if e.kind() == std::io::ErrorKind::NotFound {
                "sudo modprobe tun"
            } else {
                "sudo chmod 0666 /dev/net/tun"
            };
            Finding::bad(
                "/dev/net/tun",
                Status::Fail,
                format!(
                    "{e}: containers cannot have a private network (use --network none or host)"
                ),
                fix.into(),
            )
        }
    }
}

pub fn judge_network_helper(pasta: Option<PathBuf>, slirp: Option<PathBuf>) -> Finding {
    match (pasta, slirp) {
        (Some(pasta), _) => Finding::ok("pasta", pasta.display().to_string()),
        (None, Some(slirp)) => Finding::bad(
            "pasta",
            Status::Warning,
            format!(
                "not found in $PATH: networks use {}, which is slower",
                slirp.display()
            ),
            install_command("passt"),
        ),
        (None, None) => Finding::bad(
            "pasta",
            Status::Fail,
            "neither pasta nor slirp4netns is in $PATH: containers cannot have a private network",
            install_command("passt"),
        ),
    }
}

/// The network file systems a store must not be on (statfs magic numbers, linux/magic.h):
/// their servers check ids the user namespace makes up, and the kernel refuses them as an
/// overlay's upper layer.
pub fn network_filesystem(magic: u64) -> Option<&'static str> {
    match magic {
        0x6969 => Some("NFS"),
        0xff53_4d42 => Some("CIFS"),
        0xfe53_4d42 => Some("SMB2"),
        0x517b => Some("SMB"),
        0x5346_414f => Some("AFS"),
        0x0bd0_0bd0 => Some("Lustre"),
        _ => None,
    }
}

fn check_store_filesystem(subject: &Subject) -> Finding {
    let root = &subject.store_root;
    // The store may not exist yet: its file system is its nearest existing ancestor's.
    let existing = root.ancestors().find(|p| p.exists()).unwrap_or(root);
    judge_store_filesystem(root, probe::filesystem_type(existing), &subject.user)
}

pub fn judge_store_filesystem(root: &Path, magic: std::io::Result<u64>, user: &str) -> Finding {
    const NAME: &str = "store file system";
    match magic {
        Err(e) => Finding::bad(
            NAME,
            Status::Warning,
            format!("statfs {}: {e}", root.display()),
            format!("ls -ld {}", root.display()),
        ),
        Ok(magic) => match network_filesystem(magic) {
            Some(kind) => Finding::bad(
                NAME,
                Status::Fail,
                format!(
                    "{} is on {kind}, which cannot hold a rootless store",
                    root.display()
                ),
                format!("mkdir -p /var/tmp/{user}-skiff && skiff --root /var/tmp/{user}-skiff …"),
            ),
            None => Finding::ok(
                NAME,
                format!("{} is on a local file system", root.display()),
            ),
        },
    }
}

/// Resource limits need cgroup v2 with the controllers delegated to the user.
fn check_cgroups(subject: &Subject) -> Finding {
    const NAME: &str = "cgroup v2";
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers");
    if !unified.exists() {
        return Finding::bad(
            NAME,
            Status::Warning,
            "the host uses cgroup v1: resource limits cannot be delegated to users",
            "sudo sed -i 's/^GRUB_CMDLINE_LINUX=\"/&systemd.unified_cgroup_hierarchy=1 /' /etc/default/grub && sudo update-grub && sudo reboot".into(),
        );
    }
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
        .unwrap_or_default();
    let own = Path::new("/sys/fs/cgroup").join(own.trim_start_matches('/'));
    // The delegated cgroup is the topmost one the user owns (systemd's user@UID.service).
    let delegated = own
        .ancestors()
        .take_while(|p| p.starts_with("/sys/fs/cgroup"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.uid() == subject.uid))
        .last()
        .map(Path::to_path_buf);
    let controllers = delegated
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("cgroup.controllers")).ok())
        .unwrap_or_default();
    judge_delegation(subject.rootless, &controllers)
}

pub fn judge_delegation(rootless: bool, controllers: &str) -> Finding {
    let have: Vec<&str> = controllers.split_whitespace().collect();
    let missing: Vec<&str> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| !have.contains(c))
        .collect();
    if !rootless || missing.is_empty() {
        return Finding::ok("cgroup v2", format!("controllers: {}", have.join(" ")));
    }
    Finding::bad(
        "cgroup v2",
        Status::Warning,
        format!("not delegated to this user: {}", missing.join(", ")),
        "sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            rootless: true,
            user: "alice".into(),
            uid: 1000,
            gid: 1000,
            store_root: PathBuf::from("/home/alice/.local/share/skiff"),
        }
    }

    #[test]
    fn a_missing_range_fails_with_a_free_range_to_add() {
        let f = judge_subordinate(
            "subuid",
            "bob:100000:65536\n",
            "carol:165536:65536\n",
            &subject(),
        );
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.fix.as_deref(),
            Some("sudo usermod --add-subuids 231072-296607 alice")
        );
        let f = judge_subordinate("subgid", "", "", &subject());
        assert_eq!(
            f.fix.as_deref(),
            Some("sudo usermod --add-subgids 100000-165535 alice")
        );
    }

    #[test]
    fn a_small_range_warns_and_a_full_one_passes() {
        let small = judge_subordinate("subuid", "alice:100000:1000\n", "", &subject());
        assert_eq!(small.status, Status::Warning);
        assert_eq!(
            small.fix.as_deref(),
            Some("sudo usermod --del-subuids 100000-100999 --add-subuids 101000-166535 alice && skiff system migrate")
        );
        let full = judge_subordinate("subuid", "1000:100000:65536\n", "", &subject());
        assert_eq!(full.status, Status::Ok, "{full:?}");
    }

    #[test]
    fn sysctls_that_refuse_user_namespaces_fail() {
        assert_eq!(
            judge_sysctl("user.max_user_namespaces", Some("0".into())).status,
            Status::Fail
        );
        assert_eq!(
            judge_sysctl("user.max_user_namespaces", Some("15000".into())).status,
            Status::Ok
        );
        let apparmor = judge_sysctl(
            "kernel.apparmor_restrict_unprivileged_userns",
            Some("1".into()),
        );
        assert!(apparmor
            .fix
            .unwrap()
            .starts_with("sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"));
        assert_eq!(
            judge_sysctl("kernel.unprivileged_userns_clone", None).status,
            Status::Ok
        );
    }

    #[test]
    fn memfd_noexec_2_fails_and_the_rest_pass() {
        let refused = judge_memfd_noexec(Some("2".into()));
        assert_eq!(refused.status, Status::Fail);
        assert_eq!(
            refused.fix.as_deref(),
            Some("sudo sysctl -w vm.memfd_noexec=1")
        );
        for value in [Some("0".into()), Some("1".into()), None] {
            assert_eq!(judge_memfd_noexec(value).status, Status::Ok);
        }
    }

    #[test]
    fn network_file_systems_are_told_apart_by_their_magic() {
        assert_eq!(network_filesystem(0x6969), Some("NFS"));
        assert_eq!(network_filesystem(0xff53_4d42), Some("CIFS"));
        // ext4, xfs, btrfs, tmpfs
        for local in [0xef53, 0x5846_5342, 0x9123_683e, 0x0102_1994] {
            assert_eq!(network_filesystem(local), None);
        }
        let root = Path::new("/home/alice/.local/share/skiff");
        let nfs = judge_store_filesystem(root, Ok(0x6969), "alice");
        assert_eq!(nfs.status, Status::Fail);
        assert!(nfs.detail.contains("is on NFS"), "{nfs:?}");
        assert_eq!(
            nfs.fix.as_deref(),
            Some("mkdir -p /var/tmp/alice-skiff && skiff --root /var/tmp/alice-skiff …")
        );
        assert_eq!(
            judge_store_filesystem(root, Ok(0xef53), "alice").status,
            Status::Ok
        );
    }

    #[test]
    fn devices_say_whether_to_load_the_module_or_open_the_node() {
        let missing = || Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let denied = || Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        assert_eq!(
            judge_tun(missing()).fix.as_deref(),
            Some("sudo modprobe tun")
        );
        assert_eq!(
            judge_tun(denied()).fix.as_deref(),
            Some("sudo chmod 0666 /dev/net/tun")
        );
        assert_eq!(judge_tun(denied()).status, Status::Fail);
        assert_eq!(judge_fuse(denied()).status, Status::Warning);
        assert_eq!(
            judge_fuse(denied()).fix.as_deref(),
            Some("sudo chmod 0666 /dev/fuse")
        );
    }

    #[test]
    fn delegation_needs_cpu_memory_and_pids() {
        assert_eq!(
            judge_delegation(true, "cpuset cpu io memory pids").status,
            Status::Ok
        );
        let partial = judge_delegation(true, "memory pids");
        assert_eq!(partial.status, Status::Warning);
        assert_eq!(partial.detail, "not delegated to this user: cpu");
        assert_eq!(judge_delegation(false, "").status, Status::Ok);
    }

    #[test]
    fn slirp4netns_alone_is_a_warning_and_nothing_a_failure() {
        let slirp = Some(PathBuf::from("/usr/bin/slirp4netns"));
        assert_eq!(judge_network_helper(None, slirp).status, Status::Warning);
        assert_eq!(judge_network_helper(None, None).status, Status::Fail);
    }
}
