//! Seccomp: the system calls a container's processes may make, as a filter installed in each of
//! them (first process, `exec`, build steps) right before it executes the command.
//!
//! The filter is a classic BPF program skiff generates itself (`bpf`), from a profile in
//! Docker's JSON format (`profile`): skiff's default (`default_profile`, Podman's decisions),
//! or the file `--security-opt seccomp=FILE` or containers.conf `seccomp_profile` names.
//!
//! Why our own generator (research/crates.md 2.6 weighed the choices): Docker's profiles give
//! each rule its own action and errno (EPERM for some calls, ENOSYS by default, EINVAL for
//! audit sockets, KILL or TRACE in custom profiles). seccompiler compiles a filter with one
//! match action for all its rules and one mismatch action, so a profile would be several
//! stacked filters, each call paying for each, with the precedence between them the kernel's
//! and not the profile's order. libseccomp expresses it all, but is a C library at run time,
//! which skiff's single static binary avoids. The generator needed here is small: check the
//! architecture, binary-search the call number, test arguments as two 32-bit halves, return
//! the rule's action; and a test interpreter checks it without a kernel.
//!
//! Limits, said plainly: only the native architecture is filtered; a process that makes
//! 32-bit (i386, arm) or x32 calls is killed, where Docker's default profile lets i386
//! binaries run on x86-64. SCMP_ACT_NOTIFY (a user-space supervisor) is not supported.
//!
//! When it is installed (`security::confine`): as Podman's default has it, a container's
//! process may gain privileges through exec (setuid programs), so it has no no_new_privs, and
//! the kernel then takes a filter only from a process that holds CAP_SYS_ADMIN: the filter is
//! loaded before the process drops its capabilities and switches ids, and the calls skiff makes
//! after it (capset, setgroups, setresuid, prctl, chdir, the lookup of the command, execve, and
//! `--init`'s fork, wait and signals) are all allowed by the default profile; a custom profile
//! must allow them too, as with runc. With `--security-opt no-new-privileges` the filter comes
//! last, after the process has its final ids and capabilities.

mod bpf;
mod default_profile;
mod profile;
mod syscalls;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use profile::Profile;

use super::channel::{sys_error, ChildError};

/// The filter a container's processes get.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum SeccompPolicy {
    /// skiff's default profile.
    #[default]
    Default,
    /// No filter (`seccomp=unconfined`).
    Unconfined,
    /// A profile file, read and checked when the container was created (a later change to the
    /// file does not reach the container, as with Podman).
    File { path: String, profile: Box<Profile> },
}

impl SeccompPolicy {
    pub fn is_default(&self) -> bool {
        *self == SeccompPolicy::Default
    }

    /// Reads a profile file in Docker's JSON format; the error is one line.
    pub fn from_file(path: &str) -> Result<SeccompPolicy, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("opening seccomp profile {path}: {e}"))?;
        let profile = Profile::from_json(&text)
            .map_err(|e| format!("decoding seccomp profile {path}: {e}"))?;
        Ok(SeccompPolicy::File {
            path: path.to_string(),
            profile: Box::new(profile),
        })
    }

    /// A profile in Docker's JSON format given as text (an image's label), named `origin`.
    pub fn from_json(origin: &str, text: &str) -> Result<SeccompPolicy, String> {
        let profile = Profile::from_json(text)
            .map_err(|e| format!("decoding seccomp profile {origin}: {e}"))?;
        Ok(SeccompPolicy::File {
            path: origin.to_string(),
            profile: Box::new(profile),
        })
    }

    /// As inspect's `HostConfig.SecurityOpt` shows it: nothing for the default.
    pub fn security_opt(&self) -> Option<String> {
        match self {
            SeccompPolicy::Default => None,
            SeccompPolicy::Unconfined => Some("seccomp=unconfined".into()),
            SeccompPolicy::File { path, .. } => Some(format!("seccomp={path}")),
        }
    }
}

/// Whether the kernel has seccomp filters (its status file has the field only then).
pub fn kernel_supports_seccomp() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|status| status.lines().any(|line| line.starts_with("Seccomp:")))
}

/// The BPF program of `policy` for a process with these capabilities (`CAP_…`) on this kernel;
/// None when unconfined.
fn program_for(
    policy: &SeccompPolicy,
    capabilities: BTreeSet<String>,
) -> Result<Option<Vec<bpf::Instruction>>, String> {
    let default;
    let profile = match policy {
        SeccompPolicy::Unconfined => return Ok(None),
        SeccompPolicy::Default => {
            default = default_profile::default_profile();
            &default
        }
        SeccompPolicy::File { profile, .. } => profile.as_ref(),
    };
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let target = profile::Target {
        capabilities,
        kernel: profile::parse_kernel_version(&release).unwrap_or((0, 0)),
    };
    profile.filter(&target)?.compile().map(Some)
}

/// A filter compiled for one process and not yet loaded; empty when unconfined.
pub(crate) struct ReadyFilter(Option<Vec<libc::sock_filter>>);

/// Compiles the filter of `policy` for a process that will keep the capabilities `kept` (as far
/// as its bounding set has them now: Podman's includes and excludes are checked against the
/// bounding set the process ends with). The container's first process compiles it while it
/// waits for its id maps, where the work costs no time; it loads it just before it executes the
/// command.
pub(crate) fn prepare(
    policy: &SeccompPolicy,
    kept: &caps::CapsHashSet,
) -> Result<ReadyFilter, ChildError> {
    let bounding = caps::read(None, caps::CapSet::Bounding)
        .map_err(|e| ChildError::other(format!("reading capabilities: {e}")))?;
    let capabilities = kept
        .intersection(&bounding)
        .map(|cap| cap.to_string())
        .collect();
    let program = program_for(policy, capabilities)
        .map_err(|e| ChildError::other(format!("seccomp profile: {e}")))?;
    Ok(ReadyFilter(program.map(|p| to_kernel_form(&p))))
}

impl ReadyFilter {
    /// Loads the filter in this process (which has no_new_privs by now).
    pub(crate) fn install(&self) -> Result<(), ChildError> {
        match &self.0 {
            None => Ok(()),
            Some(filters) => {
                load(filters).map_err(|errno| sys_error("installing the seccomp filter", errno))
            }
        }
    }
}

fn to_kernel_form(program: &[bpf::Instruction]) -> Vec<libc::sock_filter> {
    program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect()
}

/// seccomp(SECCOMP_SET_MODE_FILTER); allocates nothing, so a test may call it after fork.
fn load(filters: &[libc::sock_filter]) -> Result<(), nix::errno::Errno> {
    let program = libc::sock_fprog {
        // compile() keeps programs within the kernel's 4096 instructions.
        len: filters.len() as u16,
        filter: filters.as_ptr().cast_mut(),
    };
    // SAFETY: `program` points at `filters`, which outlive the call; the kernel copies the
    // program and does not keep the pointer.
    let result = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &program as *const libc::sock_fprog,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
}

#[cfg(test)]
mod tests {
    use super::bpf::tests::{run, Call};
    use super::*;

    const ALLOW: u32 = 0x7fff_0000;

    fn errno(value: i32) -> u32 {
        0x0005_0000 | value as u32
    }

    fn default_capabilities() -> BTreeSet<String> {
        super::super::DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    fn decide(capabilities: BTreeSet<String>) -> impl Fn(&str, &[u64]) -> u32 {
        let program = program_for(&SeccompPolicy::Default, capabilities)
            .unwrap()
            .unwrap();
        move |name, args| {
            run(
                &program,
                &Call::native(syscalls::number(name).unwrap(), args),
            )
        }
    }

    /// The outcomes measured with Podman 4.3.1's default profile on this kind of host.
    #[test]
    fn the_default_profile_decides_as_podmans() {
        let call = decide(default_capabilities());
        assert_eq!(call("add_key", &[]), errno(libc::ENOSYS));
        assert_eq!(call("request_key", &[]), errno(libc::ENOSYS));
        assert_eq!(call("io_uring_setup", &[]), errno(libc::ENOSYS));
        assert_eq!(call("perf_event_open", &[]), errno(libc::EPERM));
        assert_eq!(call("userfaultfd", &[]), errno(libc::EPERM));
        assert_eq!(call("bpf", &[]), errno(libc::EPERM));
        assert_eq!(call("sethostname", &[]), errno(libc::EPERM));
        assert_eq!(call("personality", &[0x0040_0000]), errno(libc::ENOSYS));
        assert_eq!(call("personality", &[0xffff_ffff]), ALLOW);
        assert_eq!(call("socket", &[16, 3, 9]), errno(libc::EINVAL));
        assert_eq!(call("socket", &[16, 3, 0]), ALLOW);
        assert_eq!(call("socket", &[2, 1, 9]), ALLOW);
        for allowed in [
            "keyctl", "setns", "mount", "unshare", "clone", "clone3", "chroot",
        ] {
            assert_eq!(call(allowed, &[]), ALLOW, "{allowed}");
        }
        for skiffs_own in [
            "setresuid",
            "capset",
            "prctl",
            "execve",
            "wait4",
            "exit_group",
        ] {
            assert_eq!(call(skiffs_own, &[]), ALLOW, "{skiffs_own}");
        }
    }

    #[test]
    fn capabilities_open_their_calls() {
        let mut capabilities = default_capabilities();
        capabilities.remove("CAP_SYS_CHROOT");
        capabilities.extend(["CAP_SYS_ADMIN".to_string(), "CAP_PERFMON".to_string()]);
        let call = decide(capabilities);
        assert_eq!(call("chroot", &[]), errno(libc::EPERM));
        for opened in ["sethostname", "bpf", "perf_event_open"] {
            assert_eq!(call(opened, &[]), ALLOW, "{opened}");
        }
        assert_eq!(call("init_module", &[]), errno(libc::EPERM));
    }

    /// The kernel takes the program and runs it as the interpreter does.
    #[test]
    fn the_kernel_accepts_the_default_filter() {
        let program = program_for(&SeccompPolicy::Default, default_capabilities())
            .unwrap()
            .unwrap();
        let filters = to_kernel_form(&program);
        // SAFETY: the child only makes system calls and _exits (no allocation, no locks), as a
        // child of a multi-threaded process must.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = (|| {
                    nix::sys::prctl::set_no_new_privs().ok()?;
                    load(&filters).ok()?;
                    // SAFETY: add_key with null arguments only returns an error.
                    let refused = unsafe { libc::syscall(libc::SYS_add_key, 0, 0, 0, 0, 0) };
                    let refused_with = nix::errno::Errno::last_raw();
                    let pid = nix::unistd::getpid().as_raw();
                    Some(refused == -1 && refused_with == libc::ENOSYS && pid > 0)
                })();
                // SAFETY: ends the forked child without running the parent's exit handlers.
                unsafe { libc::_exit(if code == Some(true) { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
