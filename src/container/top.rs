//! `top`: the processes of a running container, as `podman top` lists them by default (user,
//! pid, ppid, %cpu, elapsed, tty, time, command), read from /proc: every process that shares
//! the container's pid namespace, with ids as the container sees them.

use anyhow::{bail, Context as _, Result};

use super::current_state;
use crate::context::Context;
use crate::store::containers::Status;

pub const HEADERS: [&str; 8] = [
    "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND",
];

fn ticks_per_second() -> f64 {
    // USER_HZ is 100 on every Linux architecture skiff builds for.
    100.0
}

/// The container-side id for a host id, from an id map (`inside outside count` lines).
fn to_inside(map: &str, outside: u64) -> Option<u64> {
    map.lines().find_map(|line| {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        let [inside, start, count] = f[..] else {
            return None;
        };
        (outside >= start && outside < start + count).then(|| inside + outside - start)
    })
}

fn go_duration(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.9}s").replace(".000000000s", "s");
    }
    let whole = seconds as u64;
    let (h, m) = (whole / 3600, (whole % 3600) / 60);
    let s = seconds - (h * 3600 + m * 60) as f64;
    if h > 0 {
        format!("{h}h{m}m{s:.0}s")
    } else {
        format!("{m}m{s:.0}s")
    }
}

/// Rows of `top` for a running container.
pub fn top(ctx: &Context, reference: &str) -> Result<Vec<Vec<String>>> {
    let record = ctx.store.find_container(reference)?;
    let state = current_state(ctx, &record.id);
    let (Status::Running, Some(init)) = (state.status, state.pid) else {
        bail!("top can only be used on running containers: container state improper");
    };
    let ns = std::fs::read_link(format!("/proc/{init}/ns/pid"))
        .context("reading the container's pid namespace")?;
    let container = ContainerView {
        ns,
        uid_map: std::fs::read_to_string(format!("/proc/{init}/uid_map")).unwrap_or_default(),
        passwd: read_passwd(ctx, init),
        uptime: std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|u| u.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0),
    };
    let pids: Vec<u32> = std::fs::read_dir("/proc")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut rows: Vec<Vec<String>> = pids
        .into_iter()
        .filter(|pid| container.holds(*pid))
        .filter_map(|pid| container.row(pid))
        .collect();
    // In the container's pid order: host pids wrap around, so theirs can run the other way.
    rows.sort_by_key(|row| row[1].parse::<u64>().unwrap_or(u64::MAX));
    Ok(rows)
}

/// The container's /etc/passwd, read through its running process.
fn read_passwd(ctx: &Context, init: i32) -> String {
    std::fs::read_to_string(format!("/proc/{init}/root/etc/passwd"))
        .or_else(|_| {
            // A FUSE root (`--storage-driver fuse-overlay`) answers only processes in the
            // container's user namespace: read it from there.
            let root = crate::runtime::ContainerRoot::Running {
                pid: init,
                rootless: ctx.id_mapping.is_some(),
            };
            let read = || std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string());
            crate::runtime::run_in_container_root(root, read, || Ok(()))
        })
        .unwrap_or_default()
}

/// What turns a host process into a row as the container sees it.
struct ContainerView {
    /// The container's pid namespace (`/proc/PID/ns/pid`'s link).
    ns: std::path::PathBuf,
    uid_map: String,
    passwd: String,
    /// The host's uptime in seconds.
    uptime: f64,
}

impl ContainerView {
    fn holds(&self, pid: u32) -> bool {
        std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|ns| ns == self.ns)
    }

    /// The row of one process of the container; None when it is gone.
    fn row(&self, pid: u32) -> Option<Vec<String>> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.split_whitespace().collect::<Vec<_>>())
        };
        let inside_pid = field("NSpid:")
            .and_then(|v| v.last().map(|s| s.to_string()))
            .unwrap_or_default();
        let host_ppid: u32 = field("PPid:")
            .and_then(|v| v.first()?.parse().ok())
            .unwrap_or(0);
        let host_uid: u64 = field("Uid:")
            .and_then(|v| v.first()?.parse().ok())
            .unwrap_or(0);
        // Fields after the command's closing parenthesis: state is 3, tty_nr 7, utime 14,
        // stime 15, starttime 22 (proc(5), counting from 1).
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<&str> = after.split_whitespace().collect();
        let num = |i: usize| {
            f.get(i - 3)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let cpu_seconds = (num(14) + num(15)) / ticks_per_second();
        let elapsed = (self.uptime - num(22) / ticks_per_second()).max(0.0);
        let percent = if elapsed > 0.0 {
            100.0 * cpu_seconds / elapsed
        } else {
            0.0
        };
        let command = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
            })
            .unwrap_or_default();
        Some(vec![
            self.user_name(host_uid),
            inside_pid,
            self.inside_pid_of(host_ppid),
            format!("{percent:.3}"),
            go_duration(elapsed),
            tty_name(num(7) as u64),
            go_duration(cpu_seconds.floor()),
            command,
        ])
    }

    /// A host pid as the container sees it; 0 for a process outside the container.
    fn inside_pid_of(&self, host_pid: u32) -> String {
        std::fs::read_to_string(format!("/proc/{host_pid}/status"))
            .ok()
            .filter(|_| self.holds(host_pid))
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("NSpid:"))
                    .and_then(|v| v.split_whitespace().last().map(String::from))
            })
            .unwrap_or_else(|| "0".into())
    }

    /// The container's name for a host uid: its passwd entry, else the number.
    fn user_name(&self, host_uid: u64) -> String {
        let uid = if self.uid_map.trim().is_empty() {
            host_uid
        } else {
            to_inside(&self.uid_map, host_uid).unwrap_or(host_uid)
        };
        self.passwd
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
            .unwrap_or_else(|| uid.to_string())
    }
}

/// A terminal as `ps` names it from its device number: `pts/N`, `MAJOR:MINOR`, `?` for none.
fn tty_name(tty_nr: u64) -> String {
    if tty_nr == 0 {
        return "?".to_string();
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    if major == 136 {
        format!("pts/{minor}")
    } else {
        format!("{major}:{minor}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_back_into_the_container() {
        let map = "         0       1001          1\n         1     100000      65536\n";
        assert_eq!(to_inside(map, 1001), Some(0));
        assert_eq!(to_inside(map, 100999), Some(1000));
        assert_eq!(to_inside(map, 5), None);
        assert_eq!(go_duration(0.0), "0s");
        assert_eq!(go_duration(75.0), "1m15s");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
        assert_eq!(tty_name((4 << 8) | 1), "4:1");
    }
}
