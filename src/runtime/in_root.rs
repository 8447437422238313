//! Paths resolved inside a directory as if it were `/`: every symbolic link, absolute or
//! relative, and every `..` stays inside it, as the kernel resolves paths for a process chrooted
//! there. A build context is read this way, so that a link in it (`home -> /home/user`) means
//! CONTEXT/home/user and never the host's file, as BuildKit and buildah read one.
//!
//! openat2 with RESOLVE_IN_ROOT does the resolving (Linux 5.6 and later); on a kernel without it
//! (ENOSYS) or without /proc to name what it opened, the same walk is done here a component at
//! a time, with the kernel's rules: a link's target replaces it (an absolute one starting again
//! at the root), `..` never climbs above the root, and 40 links are the most one path follows.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// The most links one path may follow (the kernel's MAXSYMLINKS).
const MAX_LINKS: usize = 40;

/// `path` (taken as relative to `root`, a leading `/` included) resolved inside `root`, links
/// followed, the last one too: the path relative to `root` it names, with no link and no `..`
/// in it (empty for the root itself). An error as the kernel gives it: NotFound when it names
/// nothing inside the root.
pub fn resolve(root: &Path, path: &Path) -> io::Result<PathBuf> {
    match resolve_with_openat2(root, path) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => resolve_by_walk(root, path),
        other => other,
    }
}

fn resolve_with_openat2(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let relative = relative_part(path);
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    // EAGAIN: a rename elsewhere raced a `..`; the kernel asks to try again.
    let mut tries = 0;
    let found = loop {
        match rustix::fs::openat2(&root_fd, &relative, flags, Mode::empty(), resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < 8 => tries += 1,
            other => break other?,
        }
    };
    let named = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}"));
    let (Ok(root_path), Ok(found_path)) = (named(root_fd.as_raw_fd()), named(found.as_raw_fd()))
    else {
        // No /proc to name what was opened: the walk names it.
        return resolve_by_walk(root, path);
    };
    found_path
        .strip_prefix(&root_path)
        .map(Path::to_path_buf)
        .map_err(|_| io::Error::other(format!("{} left {}", path.display(), root.display())))
}

/// `path` without its root and `.` parts: what is resolved below the root.
fn relative_part(path: &Path) -> PathBuf {
    let relative: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_) | Component::ParentDir))
        .collect();
    match relative.as_os_str().is_empty() {
        true => PathBuf::from("."),
        false => relative,
    }
}

/// The walk openat2 does, done with lstat and readlink: for kernels without openat2.
fn resolve_by_walk(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let parts = |path: &Path| -> Vec<OsString> {
        path.components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_os_string()),
                Component::ParentDir => Some(OsString::from("..")),
                _ => None,
            })
            .collect()
    };
    let mut pending = parts(path);
    pending.reverse();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let meta = std::fs::symlink_metadata(root.join(&candidate))?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
            let target = std::fs::read_link(root.join(&candidate))?;
            if target.is_absolute() {
                resolved = PathBuf::new();
            }
            pending.extend(parts(&target).into_iter().rev());
            continue;
        }
        if !meta.is_dir() && !pending.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        resolved = candidate;
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_and_dotdot_stay_inside_the_root_both_ways() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("sub/deeper")).unwrap();
        std::fs::write(r.join("sub/file"), b"f").unwrap();
        symlink(outside.path(), r.join("out")).unwrap();
        symlink("../..", r.join("up")).unwrap();
        symlink("sub/file", r.join("inside")).unwrap();
        symlink("/sub", r.join("rooted")).unwrap();
        symlink("../file", r.join("sub/deeper/back")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        let cases: [(&str, Result<&str, i32>); 12] = [
            ("sub/file", Ok("sub/file")),
            ("/sub/file", Ok("sub/file")),
            ("inside", Ok("sub/file")),
            ("rooted/file", Ok("sub/file")),
            ("sub/deeper/back", Ok("sub/file")),
            ("up", Ok("")),
            ("up/sub/file", Ok("sub/file")),
            ("../../sub", Ok("sub")),
            ("", Ok("")),
            ("out/secret", Err(libc::ENOENT)),
            ("sub/file/x", Err(libc::ENOTDIR)),
            ("loop", Err(libc::ELOOP)),
        ];
        for (path, expected) in cases {
            for (how, got) in [
                ("openat2", resolve_with_openat2(r, Path::new(path))),
                ("walk", resolve_by_walk(r, Path::new(path))),
            ] {
                match (got, expected) {
                    (Ok(got), Ok(want)) => assert_eq!(got, Path::new(want), "{how} {path}"),
                    (Err(e), Err(code)) => assert_eq!(e.raw_os_error(), Some(code), "{how} {path}"),
                    (got, want) => panic!("{how} {path}: {got:?}, expected {want:?}"),
                }
            }
        }
        // Through the outside link, the root's own `secret` is what is found.
        std::fs::create_dir_all(r.join(outside.path().strip_prefix("/").unwrap())).unwrap();
        std::fs::write(
            r.join(outside.path().strip_prefix("/").unwrap())
                .join("secret"),
            b"",
        )
        .unwrap();
        let found = resolve(r, Path::new("out/secret")).unwrap();
        assert_eq!(
            found,
            outside.path().strip_prefix("/").unwrap().join("secret")
        );
    }
}
