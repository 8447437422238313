//! User-namespace id mappings: container uid 0 is the invoking user, 1…N come from the user's first
//! `/etc/subuid` and `/etc/subgid` ranges, written by the setuid `newuidmap`/`newgidmap` helpers.
//! Without a range only the user's own id is mapped (written directly), with one warning.
//!
//! Planning (reading the files, computing the maps) is plain data and unit-tested; writing the maps
//! for a given pid is the only part that touches the system.

use std::path::Path;
use std::process::Command;

use super::error::{Error, Helper};

/// One line of a uid_map/gid_map: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The uid and gid maps of a rootless user namespace, and whether they came from subordinate ranges.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMapping {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl IdMapping {
    /// The container id `inside` seen from the host, if mapped.
    pub fn host_uid(&self, inside: u32) -> Option<u32> {
        map_id(&self.uids, inside)
    }

    pub fn host_gid(&self, inside: u32) -> Option<u32> {
        map_id(&self.gids, inside)
    }

    /// The host id `outside` seen in the container, if mapped.
    pub fn container_uid(&self, outside: u32) -> Option<u32> {
        unmap_id(&self.uids, outside)
    }

    pub fn container_gid(&self, outside: u32) -> Option<u32> {
        unmap_id(&self.gids, outside)
    }

    /// True when only the user's own id is mapped (no subordinate range was found).
    pub fn is_single(&self) -> bool {
        let total = |ranges: &[IdRange]| ranges.iter().map(|r| u64::from(r.count)).sum::<u64>();
        total(&self.uids) == 1 && total(&self.gids) == 1
    }

    /// `--userns=keep-id`, from the user's default mapping (own id at 0, then the subordinate
    /// range): the user's id becomes `uid`/`gid` inside, and the subordinate ids fill the rest
    /// around it, so the container keeps as many ids as before.
    pub fn keep_id(&self, uid: u32, gid: u32) -> Result<IdMapping, String> {
        Ok(IdMapping {
            uids: move_own_id(&self.uids, uid, "uid")?,
            gids: move_own_id(&self.gids, gid, "gid")?,
        })
    }
}

impl IdMapping {
    /// Every id as itself: how a namespace's own ids relate to themselves.
    pub fn identity() -> IdMapping {
        let all = vec![IdRange {
            inside: 0,
            outside: 0,
            count: u32::MAX,
        }];
        IdMapping {
            uids: all.clone(),
            gids: all,
        }
    }

    /// The mapping of a namespace nested in one with this mapping, whose ids are `nested`'s
    /// inside ids, as host ids.
    pub fn compose(&self, nested: &IdMapping) -> IdMapping {
        // Each inner range, cut where it crosses from one outer range to another; ids the
        // outer mapping lacks are left out.
        let through = |inner: &[IdRange], outer: &[IdRange]| {
            let mut ranges = Vec::new();
            for range in inner {
                for hop in outer {
                    let start = range.outside.max(hop.inside);
                    let end = (u64::from(range.outside) + u64::from(range.count))
                        .min(u64::from(hop.inside) + u64::from(hop.count));
                    if u64::from(start) < end {
                        ranges.push(IdRange {
                            inside: range.inside + (start - range.outside),
                            outside: hop.outside + (start - hop.inside),
                            count: (end - u64::from(start)) as u32,
                        });
                    }
                }
            }
            ranges.sort_by_key(|r| r.inside);
            ranges
        };
        IdMapping {
            uids: through(&nested.uids, &self.uids),
            gids: through(&nested.gids, &self.gids),
        }
    }
}

/// `--userns=nomap|auto`: moves this process into a new user namespace nested in its own, with
/// `nested` as its maps (their outside ids are this namespace's), and makes it root there. A
/// child forked first writes the maps: it stays behind with this namespace's capabilities, which
/// the process entering gives up. Call it where /proc is this process's.
pub(crate) fn enter_nested_user_namespace(nested: &IdMapping) -> Result<(), String> {
    let own_proc =
        std::fs::File::open("/proc/self").map_err(|e| format!("opening /proc/self: {e}"))?;
    let (go_read, go_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: called by a single-threaded process (the container's first process, or a helper
    // cloned from a single-threaded skiff), so the child may run ordinary code before it exits.
    let writer = match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        nix::unistd::ForkResult::Child => {
            drop(go_write);
            let mut byte = [0u8; 1];
            let written = matches!(nix::unistd::read(&go_read, &mut byte), Ok(1))
                && write_nested_maps(&own_proc, nested).is_ok();
            // SAFETY: _exit only ends this forked process.
            unsafe { libc::_exit(if written { 0 } else { 1 }) }
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(go_read);
    let entered = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| format!("making the nested user namespace: {e}"));
    if entered.is_ok() {
        let _ = nix::unistd::write(&go_write, b"G");
    }
    drop(go_write);
    let status = nix::sys::wait::waitpid(writer, None);
    entered?;
    if !matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0))) {
        return Err("writing the id maps of the nested user namespace failed".into());
    }
    let root = nix::unistd::Uid::from_raw(0);
    let root_group = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root_group, root_group, root_group)
        .map_err(|e| format!("becoming root of the nested user namespace: {e}"))?;
    nix::unistd::setresuid(root, root, root)
        .map_err(|e| format!("becoming root of the nested user namespace: {e}"))
}

fn write_nested_maps(own_proc: &std::fs::File, nested: &IdMapping) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::fd::AsFd as _;
    for (name, ranges) in [("uid_map", &nested.uids), ("gid_map", &nested.gids)] {
        let fd = rustix::fs::openat(
            own_proc.as_fd(),
            name,
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        // One write: the kernel takes a map only whole.
        std::fs::File::from(fd).write_all(map_text(ranges).as_bytes())?;
    }
    Ok(())
}

/// Ids of one user namespace given as the ids of another namespace that are the same host ids:
/// an id `from` shows, as `to` shows that host id.
pub struct IdTranslation {
    pub from: IdMapping,
    pub to: IdMapping,
}

impl IdTranslation {
    pub fn uid(&self, id: u32) -> Option<u32> {
        self.to.container_uid(self.from.host_uid(id)?)
    }

    pub fn gid(&self, id: u32) -> Option<u32> {
        self.to.container_gid(self.from.host_gid(id)?)
    }
}

/// The ranges of a default mapping (own id, then the subordinate range at 1) with the own id
/// moved to `inside`.
fn move_own_id(ranges: &[IdRange], inside: u32, kind: &str) -> Result<Vec<IdRange>, String> {
    let [own, subordinate] = ranges else {
        return Err(format!(
            "--userns=keep-id needs subordinate ids in /etc/sub{kind}: add a range for your user"
        ));
    };
    if inside > subordinate.count {
        return Err(format!(
            "--userns=keep-id:{kind}={inside} is beyond the {} subordinate ids of /etc/sub{kind}",
            subordinate.count
        ));
    }
    let mut moved = Vec::new();
    if inside > 0 {
        moved.push(IdRange {
            inside: 0,
            outside: subordinate.outside,
            count: inside,
        });
    }
    moved.push(IdRange {
        inside,
        outside: own.outside,
        count: 1,
    });
    if subordinate.count > inside {
        moved.push(IdRange {
            inside: inside + 1,
            outside: subordinate.outside + inside,
            count: subordinate.count - inside,
        });
    }
    Ok(moved)
}

fn map_id(ranges: &[IdRange], inside: u32) -> Option<u32> {
    ranges.iter().find_map(|r| {
        let offset = inside.checked_sub(r.inside)?;
        (offset < r.count).then(|| r.outside + offset)
    })
}

fn unmap_id(ranges: &[IdRange], outside: u32) -> Option<u32> {
    ranges.iter().find_map(|r| {
        let offset = outside.checked_sub(r.outside)?;
        (offset < r.count).then(|| r.inside + offset)
    })
}

/// Parses `/etc/subuid`-style text and returns the first range for `user` (by name or numeric id).
pub fn parse_subordinate_range(text: &str, user: &str, id: u32) -> Option<(u32, u32)> {
    let id_text = id.to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            let owner = fields.next()?;
            if owner != user && owner != id_text {
                return None;
            }
            let start = fields.next()?.trim().parse().ok()?;
            let count: u32 = fields.next()?.trim().parse().ok()?;
            (count > 0).then_some((start, count))
        })
}

/// Computes the mapping for `uid`/`gid` named `user` from the subordinate-id files' contents.
pub fn plan_mapping(user: &str, uid: u32, gid: u32, subuid: &str, subgid: &str) -> IdMapping {
    let own_uid = IdRange {
        inside: 0,
        outside: uid,
        count: 1,
    };
    let own_gid = IdRange {
        inside: 0,
        outside: gid,
        count: 1,
    };
    match (
        parse_subordinate_range(subuid, user, uid),
        parse_subordinate_range(subgid, user, uid),
    ) {
        (Some((us, uc)), Some((gs, gc))) => IdMapping {
            uids: vec![
                own_uid,
                IdRange {
                    inside: 1,
                    outside: us,
                    count: uc,
                },
            ],
            gids: vec![
                own_gid,
                IdRange {
                    inside: 1,
                    outside: gs,
                    count: gc,
                },
            ],
        },
        _ => IdMapping {
            uids: vec![own_uid],
            gids: vec![own_gid],
        },
    }
}

/// Reads /etc/subuid and /etc/subgid for the current user.
pub fn current_user_mapping() -> IdMapping {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let subgid = std::fs::read_to_string("/etc/subgid").unwrap_or_default();
    plan_mapping(&user, uid, gid, &subuid, &subgid)
}

fn map_args(pid: i32, ranges: &[IdRange]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for r in ranges {
        args.extend([
            r.inside.to_string(),
            r.outside.to_string(),
            r.count.to_string(),
        ]);
    }
    args
}

fn map_text(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{} {} {}\n", r.inside, r.outside, r.count))
        .collect()
}

/// Writes the maps of the (waiting) process `pid`, which has just created a user namespace.
pub fn write_id_maps(pid: i32, mapping: &IdMapping) -> Result<(), Error> {
    start_id_maps(pid, mapping)?.wait()
}

/// Starts writing the maps of the (waiting) process `pid`: with subordinate ranges, `newuidmap`
/// and `newgidmap` run side by side, and the caller may do other work before it waits for them.
pub fn start_id_maps(pid: i32, mapping: &IdMapping) -> Result<PendingIdMaps, Error> {
    if mapping.is_single() {
        // A process may map its own id without help once setgroups is denied (user_namespaces(7)).
        let proc_dir = Path::new("/proc").join(pid.to_string());
        let write = |name: &str, text: String| {
            std::fs::write(proc_dir.join(name), text).map_err(|error| Error::IdMapFailed {
                step: format!("writing /proc/{pid}/{name}"),
                error,
            })
        };
        write("setgroups", "deny".into())?;
        write("uid_map", map_text(&mapping.uids))?;
        write("gid_map", map_text(&mapping.gids))?;
        return Ok(PendingIdMaps(Vec::new()));
    }
    let spawn = |helper: Helper, ranges: &[IdRange]| {
        Command::new(helper.program())
            .args(map_args(pid, ranges))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map(|child| (helper, child))
            .map_err(|error| Error::MissingHelper {
                helper,
                error: Some(error),
            })
    };
    let uid_child = spawn(Helper::Newuidmap, &mapping.uids)?;
    let gid_child = spawn(Helper::Newgidmap, &mapping.gids);
    let mut pending = PendingIdMaps(vec![uid_child]);
    pending.0.push(gid_child?);
    Ok(pending)
}

/// The id-map helpers started by [`start_id_maps`], still running.
pub struct PendingIdMaps(Vec<(Helper, std::process::Child)>);

impl PendingIdMaps {
    /// Waits for the helpers: the maps are written, or why not.
    pub fn wait(mut self) -> Result<(), Error> {
        for (helper, child) in std::mem::take(&mut self.0) {
            let out = child
                .wait_with_output()
                .map_err(|error| Error::IdMapFailed {
                    step: format!("waiting for {}", helper.program()),
                    error,
                })?;
            if !out.status.success() {
                let text = String::from_utf8_lossy(&out.stderr);
                return Err(Error::IdMapRefused {
                    helper,
                    reason: text.trim().to_string(),
                });
            }
        }
        Ok(())
    }
}

impl Drop for PendingIdMaps {
    /// Helpers not waited for (the start failed meanwhile) are reaped, not left as zombies.
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_mappings_compose_range_by_range() {
        let default = plan_mapping("a", 1000, 1000, "a:100000:65536", "a:100000:65536");
        let range = |inside, outside, count| IdRange {
            inside,
            outside,
            count,
        };
        let nomap = IdMapping {
            uids: vec![range(0, 1, 65536)],
            gids: vec![range(0, 1, 65536)],
        };
        assert_eq!(default.compose(&nomap).uids, [range(0, 100000, 65536)]);
        // Across the user's own id and the subordinate range, and past the mapped ids.
        let wide = IdMapping {
            uids: vec![range(5, 0, 70000)],
            gids: vec![],
        };
        assert_eq!(
            default.compose(&wide).uids,
            [range(5, 1000, 1), range(6, 100000, 65536)]
        );
        let identity = IdTranslation {
            from: nomap,
            to: IdMapping::identity(),
        };
        assert_eq!(identity.uid(0), Some(1));
        assert_eq!(identity.uid(65536), None);
    }

    #[test]
    fn keep_id_moves_the_own_id_and_keeps_every_id() {
        let default = plan_mapping("a", 1000, 1000, "a:100000:65536", "a:100000:65536");
        let kept = default.keep_id(1000, 1000).unwrap();
        assert_eq!(kept.host_uid(1000), Some(1000));
        assert_eq!(kept.host_uid(0), Some(100000));
        assert_eq!(kept.host_uid(999), Some(100999));
        assert_eq!(kept.host_uid(1001), Some(101000));
        assert_eq!(kept.host_uid(65536), Some(165535));
        assert_eq!(kept.host_uid(65537), None);
        // Where the default mapping has the image's root, keep-id has a subordinate id.
        assert_eq!(default.container_uid(kept.host_uid(0).unwrap()), Some(1));
        assert!(default.keep_id(70000, 1000).is_err());
        let single = plan_mapping("a", 1000, 1000, "", "");
        assert!(single.is_single() && single.keep_id(1000, 1000).is_err());
    }

    #[test]
    fn finds_first_range_by_name_or_uid() {
        let text =
            "# comment\nalice:100000:65536\nbob:165536:65536\n1002:231072:1000\nbob:300000:5\n";
        assert_eq!(
            parse_subordinate_range(text, "bob", 1001),
            Some((165536, 65536))
        );
        assert_eq!(
            parse_subordinate_range(text, "carol", 1002),
            Some((231072, 1000))
        );
        assert_eq!(parse_subordinate_range(text, "dave", 1003), None);
    }

    #[test]
    fn plans_full_or_single_mapping() {
        let full = plan_mapping(
            "alice",
            1000,
            1000,
            "alice:100000:65536\n",
            "alice:100000:65536\n",
        );
        assert_eq!(full.uids.len(), 2);
        assert_eq!(full.host_uid(0), Some(1000));
        assert_eq!(full.host_uid(1), Some(100000));
        assert_eq!(full.host_uid(1000), Some(100999));
        assert_eq!(full.host_uid(65536), Some(165535));
        assert_eq!(full.host_uid(65537), None);
        let single = plan_mapping("alice", 1000, 1000, "", "alice:1:2\n");
        assert!(single.is_single());
        assert_eq!(single.host_gid(0), Some(1000));
    }

    #[test]
    fn newuidmap_arguments() {
        let m = plan_mapping("a", 1000, 1000, "a:100000:65536", "a:100000:65536");
        assert_eq!(
            map_args(42, &m.uids),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
    }
}
