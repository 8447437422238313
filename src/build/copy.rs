//! What a COPY step copies: its sources found in the build context (wildcards in the last
//! part of a path), written as one tar archive rooted at the container's `/`, with Docker's
//! rules for where each source lands.

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sha2::Digest;

/// Whether `name` matches `pattern` (`*`, `?`, and `[…]` classes, as Go's filepath.Match).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|skip| go(&p[1..], &n[skip..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().position(|c| *c == ']') else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let class = &p[1..close];
                let (negated, class) = match class.first() {
                    Some('^' | '!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negated && go(&p[close + 1..], &n[1..])
            }
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// The host paths `source` names in `context`, in name order; an error when it leaves the
/// context or names nothing.
pub fn matching_sources(context: &Path, source: &str) -> Result<Vec<PathBuf>> {
    let relative = Path::new(source.trim_start_matches('/'));
    let mut depth = 0i32;
    for component in relative.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            bail!("COPY source {source} is outside the build context");
        }
    }
    let has_wildcard = |text: &str| text.contains(['*', '?', '[']);
    let name = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !has_wildcard(&name) {
        let path = context.join(relative);
        if std::fs::symlink_metadata(&path).is_err() {
            bail!("COPY source {source}: no such file or directory in the build context");
        }
        return Ok(vec![path]);
    }
    let parent = context.join(relative.parent().unwrap_or(Path::new("")));
    let mut found: Vec<PathBuf> = std::fs::read_dir(&parent)
        .with_context(|| format!("reading {}", parent.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    found.sort();
    if found.is_empty() {
        bail!("COPY source {source}: no file in the build context matches it");
    }
    Ok(found)
}

pub struct CopyPlan<'a> {
    pub sources: &'a [PathBuf],
    /// Where in the container, absolute.
    pub dest: &'a Path,
    /// The destination is a directory: sources land in it (a directory's contents, a file by
    /// its name); else the one source file becomes `dest`.
    pub into_directory: bool,
    pub owner: (u32, u32),
    /// `--chmod`: the mode of everything copied.
    pub mode: Option<u32>,
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: sha2::Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the archive of `plan` to `out`; returns the sha256 (hex) of its bytes, which covers
/// every name, mode, owner, time and byte copied.
pub fn write_archive(plan: &CopyPlan<'_>, out: impl Write) -> Result<String> {
    let mut builder = tar::Builder::new(Hashing {
        inner: out,
        hash: sha2::Sha256::new(),
    });
    builder.follow_symlinks(false);
    let root = PathBuf::from(plan.dest.to_string_lossy().trim_start_matches('/'));
    for source in plan.sources {
        let meta = std::fs::symlink_metadata(source)
            .with_context(|| format!("reading {}", source.display()))?;
        if meta.is_dir() {
            append_contents(&mut builder, plan, source, &root)?;
        } else {
            let name = match plan.into_directory {
                true => root.join(source.file_name().unwrap_or_default()),
                false => root.clone(),
            };
            append_entry(&mut builder, plan, source, &name)?;
        }
    }
    let hashing = builder.into_inner()?;
    Ok(crate::store::hex(&hashing.hash.finalize()))
}

fn append_contents<W: Write>(
    builder: &mut tar::Builder<W>,
    plan: &CopyPlan<'_>,
    dir: &Path,
    name: &Path,
) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<io::Result<_>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let path = child.path();
        let child_name = name.join(child.file_name());
        append_entry(builder, plan, &path, &child_name)?;
        if child.file_type()?.is_dir() {
            append_contents(builder, plan, &path, &child_name)?;
        }
    }
    Ok(())
}

fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    plan: &CopyPlan<'_>,
    source: &Path,
    name: &Path,
) -> Result<()> {
    let meta = std::fs::symlink_metadata(source)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    header.set_uid(u64::from(plan.owner.0));
    header.set_gid(u64::from(plan.owner.1));
    if let Some(mode) = plan.mode {
        header.set_mode(mode);
    }
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = std::fs::read_link(source)?;
        builder.append_link(&mut header, name, target)?;
    } else if kind.is_file() {
        builder.append_data(&mut header, name, std::fs::File::open(source)?)?;
    } else if kind.is_dir() {
        header.set_size(0);
        builder.append_data(&mut header, name, io::empty())?;
    }
    // Devices, fifos and sockets in a build context are not copied, as with Docker.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_as_go_matches_them() {
        assert!(wildcard_match("*.txt", "a.txt"));
        assert!(!wildcard_match("*.txt", "a.txt.bak"));
        assert!(wildcard_match("file?", "file1"));
        assert!(wildcard_match("[a-c]x", "bx"));
        assert!(!wildcard_match("[^a-c]x", "bx"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn sources_stay_in_the_context_and_land_where_docker_puts_them() {
        let context = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(context.path().join("dir/sub")).unwrap();
        std::fs::write(context.path().join("dir/sub/f"), b"f").unwrap();
        std::fs::write(context.path().join("a.txt"), b"a").unwrap();
        std::fs::write(context.path().join("b.txt"), b"b").unwrap();
        assert!(matching_sources(context.path(), "../x").is_err());
        assert!(matching_sources(context.path(), "missing").is_err());
        assert!(matching_sources(context.path(), "*.none").is_err());
        let texts = matching_sources(context.path(), "*.txt").unwrap();
        assert_eq!(texts.len(), 2);
        let mut sources = texts.clone();
        sources.extend(matching_sources(context.path(), "dir").unwrap());
        let plan = CopyPlan {
            sources: &sources,
            dest: Path::new("/app"),
            into_directory: true,
            owner: (1, 2),
            mode: Some(0o600),
        };
        let mut bytes = Vec::new();
        let digest = write_archive(&plan, &mut bytes).unwrap();
        assert_eq!(digest.len(), 64);
        let mut archive = tar::Archive::new(&bytes[..]);
        let entries: Vec<(String, u64, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().display().to_string(),
                    h.uid().unwrap(),
                    h.mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("app/a.txt".to_string(), 1, 0o600),
                ("app/b.txt".to_string(), 1, 0o600),
                ("app/sub".to_string(), 1, 0o600),
                ("app/sub/f".to_string(), 1, 0o600),
            ]
        );
        // One file to a path not ending in `/`: that path is the file.
        let one = [context.path().join("a.txt")];
        let plan = CopyPlan {
            sources: &one,
            dest: Path::new("/etc/renamed"),
            into_directory: false,
            owner: (0, 0),
            mode: None,
        };
        let mut bytes = Vec::new();
        write_archive(&plan, &mut bytes).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let first = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(first.path().unwrap(), Path::new("etc/renamed"));
    }
}
