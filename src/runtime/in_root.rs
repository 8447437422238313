//! Paths resolved inside a directory as if it were `/`: every symbolic link, absolute or
//! relative, and every `..` stays inside it, as the kernel resolves paths for a process chrooted
//! there. A build context is read this way, so that a link in it (`home -> /home/user`) means
//! CONTEXT/home/user and never the host's file, as BuildKit and buildah read one.
//!
//! openat2 with RESOLVE_IN_ROOT does the resolving (Linux 5.6 and later); on a kernel without it
//! (ENOSYS, or EPERM from an old seccomp filter) or without /proc to name what it opened, the
//! same walk is done here a component at a time, with the kernel's rules: a link's target
//! replaces it (an absolute one starting again at the root), `..` never climbs above the root,
//! and 40 links are the most one path follows. That walk is as safe as openat2 while nothing
//! changes the directory under it; it cannot, as openat2 does, stop a link from being swapped
//! in between two of its steps.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
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
        Err(e) if e.raw_os_error().is_some_and(no_openat2) => resolve_by_walk(root, path),
        other => other,
    }
}

/// Whether openat2 failed for want of the call itself: ENOSYS from an older kernel, or EPERM
/// from a seccomp filter that predates it (Docker's did so before 20.10), which no path gives.
fn no_openat2(errno: i32) -> bool {
    errno == libc::ENOSYS || errno == libc::EPERM
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

/// A directory opened once to read many paths inside it (a directory walk), each resolved as
/// if the directory were `/`, the last component never followed: a link there is read as a
/// link, and a directory swapped for a link meanwhile still leads only inside the root.
pub struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

impl Root {
    pub fn open(path: &Path) -> io::Result<Root> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(Root {
            path: path.to_path_buf(),
            fd: rustix::fs::open(path, flags, Mode::empty())?,
        })
    }

    /// Where `path` is on the host (for messages: never opened by that name).
    pub fn host_path(&self, path: &Path) -> PathBuf {
        self.path.join(path)
    }

    /// Opens `path` with `flags` (a link as itself with O_PATH, refused with ELOOP otherwise).
    fn open_no_follow(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
        let relative = relative_part(path);
        let mut tries = 0;
        loop {
            match rustix::fs::openat2(&self.fd, &relative, flags, Mode::empty(), resolve) {
                Err(rustix::io::Errno::AGAIN) if tries < 8 => tries += 1,
                Err(e) if no_openat2(e.raw_os_error()) => break,
                other => return Ok(other?),
            }
        }
        open_by_walk(&self.path, &relative, flags)
    }

    /// `path` as lstat sees it.
    pub fn symlink_metadata(&self, path: &Path) -> io::Result<std::fs::Metadata> {
        File::from(self.open_no_follow(path, OFlags::PATH)?).metadata()
    }

    /// The target of the link `path`.
    pub fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let link = self.open_no_follow(path, OFlags::PATH)?;
        let target = rustix::fs::readlinkat(&link, "", Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    /// The file `path`, open for reading (non-blocking, so that a fifo put in its place cannot
    /// hang the reader).
    pub fn open_file(&self, path: &Path) -> io::Result<File> {
        let file = self.open_no_follow(path, OFlags::RDONLY | OFlags::NONBLOCK)?;
        Ok(File::from(file))
    }

    /// The names in the directory `path`.
    pub fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let dir = self.open_no_follow(path, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::new(dir)? {
            let name = entry?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(OsString::from_vec(name));
            }
        }
        Ok(names)
    }
}

/// Without openat2: the directories walked here, the last component opened as itself.
fn open_by_walk(root: &Path, relative: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let beside = match (relative.parent(), relative.file_name()) {
        (Some(parent), Some(name)) => root.join(resolve_by_walk(root, parent)?).join(name),
        _ => root.join(resolve_by_walk(root, relative)?),
    };
    Ok(rustix::fs::open(&beside, flags, Mode::empty())?)
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
        // The last component is never followed; the ones before it stay inside.
        let root_dir = Root::open(r).unwrap();
        let link = root_dir.symlink_metadata(Path::new("out")).unwrap();
        assert!(link.file_type().is_symlink());
        let target = root_dir.read_link(Path::new("inside")).unwrap();
        assert_eq!(target, Path::new("sub/file"));
        let file = root_dir.open_file(Path::new("rooted/file")).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 1);
        let refused = root_dir.open_file(Path::new("inside")).unwrap_err();
        assert_eq!(refused.raw_os_error(), Some(libc::ELOOP));
        assert!(root_dir.read_dir(Path::new("out")).is_err());
        assert!(root_dir.open_file(Path::new("out/secret")).is_err());
        assert!(root_dir.read_dir(Path::new("rooted")).is_err());
        let mut names = root_dir.read_dir(Path::new("up/sub")).unwrap();
        names.sort();
        assert_eq!(names, ["deeper", "file"]);
        let no_follow = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for path in ["rooted/file", "up/inside", "out", "sub/deeper/back"] {
            let walked = File::from(open_by_walk(r, Path::new(path), no_follow).unwrap());
            let opened = root_dir
                .open_no_follow(Path::new(path), OFlags::PATH)
                .unwrap();
            let (walked, opened) = (walked.metadata().unwrap(), File::from(opened).metadata());
            use std::os::unix::fs::MetadataExt;
            assert_eq!(walked.ino(), opened.unwrap().ino(), "{path}");
        }
        assert!(open_by_walk(r, Path::new("out/secret"), no_follow).is_err());
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
