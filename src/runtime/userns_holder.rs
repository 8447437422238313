//! A process that keeps a rootless user namespace alive between skiff's commands, so that a
//! container's start joins it instead of making a namespace of its own and running `newuidmap`
//! and `newgidmap`: two setuid programs that cost each start about 2 ms here, most of the time
//! it took to run `true`. Podman's pause process does the same.
//!
//! One holder per mapping, its pid in `<dir>/userns-<hash of the maps>`. A holder is joined only
//! when its name is the holder's and `/proc/PID/uid_map` and `gid_map` read exactly the maps
//! asked for, so a dead holder whose pid went to another process, or one made before the
//! user's subordinate ranges changed, is never joined: a new one is made.
//!
//! Containers that share a holder's namespace are still apart: each has its own mount, pid,
//! network, ipc and uts namespaces, and a process can only be traced or signalled by one that
//! sees it, so none reaches another container's processes or the holder (which is outside
//! their pid namespaces). A container that shared the host's pid namespace would see them: it
//! must have a user namespace of its own (skiff has no `--pid host` yet).
//!
//! The holder is a fork of skiff in a session of its own, holding none of skiff's descriptors,
//! sleeping until it is killed (`system migrate` and `system reset` do, through [`stop_all`]).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

use super::error::Error;
use super::process::{clone_child, close_all_except, open_namespace, pipe, retitle};
use super::userns::{start_id_maps, IdMapping, IdRange};

/// The holder's name in `ps` (its command line) and in /proc/PID/comm.
const HOLDER_NAME: &CStr = c"skiff-userns";
const FILE_PREFIX: &str = "userns-";

/// A descriptor of a user namespace with exactly `mapping`, held by a holder whose pid file is
/// in `dir`; the holder is started when none lives. Concurrent callers agree on one holder
/// (a lock file beside the pid file).
pub fn shared_user_namespace(dir: &Path, mapping: &IdMapping) -> Result<OwnedFd, Error> {
    let pid_file = dir.join(format!("{FILE_PREFIX}{}", mapping_key(mapping)));
    if let Some(namespace) = join_recorded(&pid_file, mapping) {
        return Ok(namespace);
    }
    let lock =
        std::fs::File::create(pid_file.with_extension("lock")).map_err(|source| Error::Sys {
            context: format!("creating {}.lock", pid_file.display()),
            source,
        })?;
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, errno)| Error::sys("locking the user namespace holder's file", errno))?;
    // Another skiff may have started one while this waited for the lock.
    if let Some(namespace) = join_recorded(&pid_file, mapping) {
        return Ok(namespace);
    }
    let pid = start_holder(mapping)?;
    record_pid(&pid_file, pid)?;
    open_namespace(pid, "user")
}

/// Kills every holder recorded in `dir` (the maps they keep are no longer the user's, or the
/// user wants no process of skiff's left). Only a process that is a holder is killed.
pub fn stop_all(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(FILE_PREFIX) || name.ends_with(".lock") {
            continue;
        }
        if let Some(pid) = recorded_pid(&entry.path()).filter(|pid| is_holder(*pid)) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

/// The file name's part that tells one mapping's holder from another's.
fn mapping_key(mapping: &IdMapping) -> String {
    let text = format!("{:?}/{:?}", mapping.uids, mapping.gids);
    crate::digest::sha256_hex(text.as_bytes())[..16].to_string()
}

fn recorded_pid(pid_file: &Path) -> Option<i32> {
    std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// The recorded holder's namespace, when the pid is still a holder of exactly `mapping`.
fn join_recorded(pid_file: &Path, mapping: &IdMapping) -> Option<OwnedFd> {
    let pid = recorded_pid(pid_file)?;
    let namespace = open_namespace(pid, "user").ok()?;
    let keeps_mapping = is_holder(pid)
        && read_map(pid, "uid_map").as_deref() == Some(&mapping.uids[..])
        && read_map(pid, "gid_map").as_deref() == Some(&mapping.gids[..]);
    // Read after the descriptor was opened: the same process still has that namespace.
    let same = std::fs::metadata(format!("/proc/{pid}/ns/user"))
        .ok()
        .zip(rustix::fs::fstat(&namespace).ok())
        .is_some_and(|(path, opened)| path.ino() == opened.st_ino && path.dev() == opened.st_dev);
    (keeps_mapping && same).then_some(namespace)
}

/// A live holder: a killed one that init has not reaped yet still shows its name and its user
/// namespace (a zombie keeps its credentials), and would be joined over and over.
fn is_holder(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let name = HOLDER_NAME.to_str().unwrap_or_default();
    stat.split_once(" (")
        .and_then(|(_, rest)| rest.rsplit_once(") "))
        .is_some_and(|(comm, rest)| comm == name && !rest.starts_with(['Z', 'X']))
}

fn read_map(pid: i32, name: &str) -> Option<Vec<IdRange>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{name}")).ok()?;
    text.lines().map(parse_map_line).collect()
}

fn parse_map_line(line: &str) -> Option<IdRange> {
    let mut fields = line.split_whitespace().map(str::parse::<u32>);
    let range = IdRange {
        inside: fields.next()?.ok()?,
        outside: fields.next()?.ok()?,
        count: fields.next()?.ok()?,
    };
    fields.next().is_none().then_some(range)
}

/// Clones the holder into a new user namespace, writes its maps, and lets it settle.
fn start_holder(mapping: &IdMapping) -> Result<i32, Error> {
    let (go_read, go_write) = pipe()?;
    let raw_go = go_read.as_raw_fd();
    let pid = clone_child(CloneFlags::CLONE_NEWUSER, || hold(raw_go))?;
    drop(go_read);
    let killed = |error: Error| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
        error
    };
    start_id_maps(pid.as_raw(), mapping)
        .and_then(|pending| pending.wait())
        .map_err(killed)?;
    nix::unistd::write(&go_write, b"g")
        .map_err(|errno| killed(Error::sys("starting the user namespace holder", errno)))?;
    Ok(pid.as_raw())
}

/// Writes the pid file whole (a reader sees the old file or the new one).
fn record_pid(pid_file: &Path, pid: i32) -> Result<(), Error> {
    let staged = PathBuf::from(format!("{}.{pid}.new", pid_file.display()));
    std::fs::write(&staged, format!("{pid}\n"))
        .and_then(|()| std::fs::rename(&staged, pid_file))
        .map_err(|source| Error::Sys {
            context: format!(
                "recording the user namespace holder in {}",
                pid_file.display()
            ),
            source,
        })
}

/// The holder's life: leaves skiff's session, streams and descriptors, waits for its maps, and
/// sleeps until killed.
fn hold(go: RawFd) -> isize {
    let _ = nix::unistd::setsid();
    let _ = SigSet::empty().thread_set_mask();
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto the standard descriptors, which this process owns.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    close_all_except(&[go]);
    let _ = std::env::set_current_dir("/");
    let mut byte = [0u8; 1];
    // SAFETY: `go` is the pipe's read end, which this process alone owns from here.
    let go = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(go) };
    if nix::unistd::read(&go, &mut byte) != Ok(1) {
        return 1;
    }
    drop(go);
    let _ = nix::sys::prctl::set_name(HOLDER_NAME);
    retitle(HOLDER_NAME);
    loop {
        nix::unistd::pause();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_parse_as_the_kernel_writes_them() {
        let range = parse_map_line("         0       1001          1").unwrap();
        assert_eq!(
            range,
            IdRange {
                inside: 0,
                outside: 1001,
                count: 1
            }
        );
        assert_eq!(parse_map_line("0 1001"), None);
        assert_eq!(parse_map_line("0 1001 1 4"), None);
    }

    #[test]
    fn each_mapping_has_its_own_holder_file() {
        let range = |outside| IdRange {
            inside: 0,
            outside,
            count: 1,
        };
        let one = IdMapping {
            uids: vec![range(1000)],
            gids: vec![range(1000)],
        };
        let other = IdMapping {
            uids: vec![range(1000)],
            gids: vec![range(1001)],
        };
        assert_eq!(mapping_key(&one), mapping_key(&one.clone()));
        assert_ne!(mapping_key(&one), mapping_key(&other));
    }

    /// A process by the holder's name is one while it lives, and no longer once killed, though
    /// unreaped.
    #[test]
    fn a_killed_holder_is_not_taken_for_a_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join(HOLDER_NAME.to_str().unwrap());
        std::fs::copy("/bin/sleep", &named).unwrap();
        let mut holder = std::process::Command::new(&named)
            .arg("30")
            .spawn()
            .unwrap();
        let pid = holder.id() as i32;
        assert!(is_holder(pid));
        kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while is_holder(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "still taken for a holder"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(stat.contains(") Z"), "{stat}");
        holder.wait().unwrap();
    }

    /// Something that is not a holder is never joined nor killed, though its pid is recorded.
    #[test]
    fn a_recorded_pid_of_another_process_is_neither_joined_nor_killed() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid_file = dir.path().join(format!("{FILE_PREFIX}x"));
        std::fs::write(&pid_file, format!("{}\n", other.id())).unwrap();
        let own = IdMapping {
            uids: read_map(std::process::id() as i32, "uid_map").unwrap(),
            gids: read_map(std::process::id() as i32, "gid_map").unwrap(),
        };
        assert!(join_recorded(&pid_file, &own).is_none());
        stop_all(dir.path());
        assert!(other.try_wait().unwrap().is_none(), "sleep was killed");
        assert!(!pid_file.exists());
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
