//! What a COPY or ADD step copies: its sources found in the build context (wildcards in the
//! last part of a path), written as one tar archive rooted at the container's `/`, with
//! Docker's rules for where each source lands; ADD also unpacks local tar archives (plain,
//! gzip or zstd) into the destination, and fetches URLs.

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::context_files::Source;
use crate::digest::HashingWriter;
use crate::runtime::in_root;

use crate::filter::wildcard_match;

/// `.containerignore` / `.dockerignore` with Docker's rules: one pattern a line (`#` comments,
/// blank lines skipped), paths relative to the context (a leading `/` ignored), `*`, `?`,
/// `[…]` within a path segment and `**` for any number of segments, `!` for an exception; a
/// pattern that matches a directory matches everything in it, and the last pattern that
/// matches a path decides.
#[derive(Debug, Default)]
pub struct Ignore {
    patterns: Vec<(bool, Vec<String>)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| {
                let (exception, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let segments = pattern
                    .split('/')
                    .filter(|s| !s.is_empty() && *s != ".")
                    .map(String::from)
                    .collect();
                (exception, segments)
            })
            .filter(|(_, segments): &(bool, Vec<String>)| !segments.is_empty())
            .collect();
        Ignore { patterns }
    }

    /// Whether `relative` (to the context) is left out of the build.
    pub fn excludes(&self, relative: &Path) -> bool {
        let segments: Vec<String> = relative
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let mut excluded = false;
        for (exception, pattern) in &self.patterns {
            // The path itself, or a directory it is in.
            let hit = (1..=segments.len()).any(|len| segments_match(pattern, &segments[..len]));
            if hit {
                excluded = !exception;
            }
        }
        excluded
    }
}

fn segments_match(pattern: &[String], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| segments_match(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((name, others)) => wildcard_match(first, name) && segments_match(rest, others),
            None => false,
        },
    }
}

pub struct CopyPlan<'a> {
    pub sources: &'a [Source],
    /// Where in the container, absolute.
    pub dest: &'a Path,
    /// The destination is a directory: sources land in it (a directory's contents, a file by
    /// its name); else the one source file becomes `dest`.
    pub into_directory: bool,
    /// `--chown`: the owner of everything copied (default root; an unpacked archive's entries
    /// keep their own).
    pub owner: Option<(u32, u32)>,
    /// `--chmod`: the mode of everything copied.
    pub mode: Option<u32>,
    /// ADD: local tar archives among the sources are unpacked into the destination.
    pub unpack_archives: bool,
    /// Sources never unpacked, archives or not (files ADD fetched).
    pub packed: &'a [PathBuf],
    /// The build context and its ignore file: what a copied directory leaves out.
    pub context: &'a Path,
    pub ignore: &'a Ignore,
}

/// Whether `source` is a tar archive ADD unpacks: a ustar or GNU tar, plain or compressed with
/// gzip or zstd.
pub fn is_tar_archive(source: &Source) -> bool {
    let opened = in_root::Root::open(&source.root).and_then(|r| r.open_file(&source.relative));
    let Ok(file) = opened else {
        return false;
    };
    let Ok(mut stream) = crate::archive::decompress(file) else {
        return false;
    };
    let mut header = [0u8; 512];
    if io::Read::read_exact(&mut stream, &mut header).is_err() {
        return false;
    }
    &header[257..262] == b"ustar"
}

/// Fetches `url` into `dir`, under the name its path ends in (`index.html` for none), mode
/// 0600 as Docker leaves a downloaded file; returns the file's path.
pub fn download(url: &str, dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|u| u.rsplit('/').next())
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .unwrap_or("index.html");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    let response = ureq::get(url)
        .call()
        .map_err(|e| anyhow::anyhow!("ADD {url}: {e}"))?;
    let mut body = response.into_body().into_reader();
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    io::copy(&mut body, &mut file).with_context(|| format!("ADD {url}: downloading"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

/// Writes the archive of `plan` to `out`; returns the sha256 (hex) of its bytes, which covers
/// every name, mode, owner, time and byte copied.
pub fn write_archive(plan: &CopyPlan<'_>, out: impl Write) -> Result<String> {
    let mut builder = tar::Builder::new(HashingWriter::new(out));
    builder.follow_symlinks(false);
    let root = PathBuf::from(plan.dest.to_string_lossy().trim_start_matches('/'));
    for source in plan.sources {
        let walk = Walk {
            root: in_root::Root::open(&source.root)
                .with_context(|| format!("reading {}", source.root.display()))?,
            in_context: source.root == plan.context,
        };
        let meta = walk
            .root
            .symlink_metadata(&source.relative)
            .with_context(|| format!("reading {}", source.path().display()))?;
        if meta.is_dir() {
            append_contents(&mut builder, plan, &walk, &source.relative, &root)?;
        } else if plan.unpack_archives
            && !plan.packed.contains(&source.path())
            && is_tar_archive(source)
        {
            append_unpacked(&mut builder, plan, source, &root)?;
        } else {
            let name = match plan.into_directory {
                true => root.join(&source.name),
                false => root.clone(),
            };
            append_entry(&mut builder, plan, &walk, &source.relative, &name)?;
        }
    }
    let hashing = builder.into_inner()?;
    Ok(hashing.hash.hex())
}

/// The entries of the archive `source`, under `root`.
fn append_unpacked<W: Write>(
    builder: &mut tar::Builder<W>,
    plan: &CopyPlan<'_>,
    source: &Source,
    root: &Path,
) -> Result<()> {
    let file = in_root::Root::open(&source.root)?.open_file(&source.relative)?;
    let source = source.path();
    let source = source.as_path();
    let stream = crate::archive::decompress(file)?;
    let mut archive = tar::Archive::new(stream);
    let inside = |name: &Path| -> Result<PathBuf> {
        let mut path = root.to_path_buf();
        for component in name.components() {
            match component {
                Component::Normal(part) => path.push(part),
                Component::CurDir | Component::RootDir => {}
                _ => bail!(
                    "{}: entry {} leaves the destination",
                    source.display(),
                    name.display()
                ),
            }
        }
        Ok(path)
    };
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = inside(&entry.path()?)?;
        let mut header = entry.header().clone();
        // Fields some writers leave blank read as 0, as GNU tar reads them.
        if header.uid().is_err() {
            header.set_uid(0);
        }
        if header.gid().is_err() {
            header.set_gid(0);
        }
        if header.mtime().is_err() {
            header.set_mtime(0);
        }
        if let Some((uid, gid)) = plan.owner {
            header.set_uid(u64::from(uid));
            header.set_gid(u64::from(gid));
        }
        if let Some(mode) = plan.mode {
            header.set_mode(mode);
        }
        match header.entry_type() {
            tar::EntryType::Link => {
                let target = entry.link_name()?.context("a hard link without a target")?;
                let target = inside(&target)?;
                builder.append_link(&mut header, &name, &target)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()?
                    .context("a symbolic link without a target")?;
                builder.append_link(&mut header, &name, target.as_ref())?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => builder.append_data(&mut header, &name, &mut entry)?,
        }
    }
    Ok(())
}

/// Where a source's files are read: inside its root, the context's ignore file applying when
/// that root is the context.
struct Walk {
    root: in_root::Root,
    in_context: bool,
}

/// Everything in the directory `dir` of the walk's root, under `name`; what the context's
/// ignore file leaves out left out.
fn append_contents<W: Write>(
    builder: &mut tar::Builder<W>,
    plan: &CopyPlan<'_>,
    walk: &Walk,
    dir: &Path,
    name: &Path,
) -> Result<()> {
    let mut children = walk
        .root
        .read_dir(dir)
        .with_context(|| format!("reading {}", walk.root.host_path(dir).display()))?;
    children.sort();
    for child in children {
        let relative = dir.join(&child);
        if walk.in_context && plan.ignore.excludes(&relative) {
            continue;
        }
        let child_name = name.join(&child);
        if append_entry(builder, plan, walk, &relative, &child_name)?.is_dir() {
            append_contents(builder, plan, walk, &relative, &child_name)?;
        }
    }
    Ok(())
}

/// The entry `relative` of the walk's root as `name`, a link as a link; returns what it is.
fn append_entry<W: Write>(
    builder: &mut tar::Builder<W>,
    plan: &CopyPlan<'_>,
    walk: &Walk,
    relative: &Path,
    name: &Path,
) -> Result<std::fs::FileType> {
    let root = &walk.root;
    let meta = root
        .symlink_metadata(relative)
        .with_context(|| format!("reading {}", root.host_path(relative).display()))?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    let (uid, gid) = plan.owner.unwrap_or((0, 0));
    header.set_uid(u64::from(uid));
    header.set_gid(u64::from(gid));
    if let Some(mode) = plan.mode {
        header.set_mode(mode);
    }
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = root.read_link(relative)?;
        builder.append_link(&mut header, name, target)?;
    } else if kind.is_file() {
        let file = root
            .open_file(relative)
            .with_context(|| format!("reading {}", root.host_path(relative).display()))?;
        builder.append_data(&mut header, name, file)?;
    } else if kind.is_dir() {
        header.set_size(0);
        builder.append_data(&mut header, name, io::empty())?;
    }
    // Devices, fifos and sockets in a build context are not copied, as with Docker.
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_files_follow_dockers_rules() {
        let ignore = Ignore::parse(
            "# comment\n\n*.log\n/build\n**/secret*\ndocs\n!docs/keep.md\ntmp/*/cache\n",
        );
        let excluded = |p: &str| ignore.excludes(Path::new(p));
        assert!(excluded("app.log"));
        assert!(!excluded("src/app.log"), "* stays within one segment");
        assert!(excluded("build"));
        assert!(
            excluded("build/out/bin"),
            "a directory's contents go with it"
        );
        assert!(excluded("a/b/secret.key"));
        assert!(excluded("secret"));
        assert!(excluded("docs/other.md"));
        assert!(!excluded("docs/keep.md"), "the exception comes last");
        assert!(excluded("tmp/x/cache/f"));
        assert!(!excluded("tmp/cache"));
        assert!(!excluded("src/main.rs"));
    }

    #[test]
    fn sources_land_where_docker_puts_them() {
        use crate::build::context_files::matching_sources;
        let context = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(context.path().join("dir/sub")).unwrap();
        std::fs::write(context.path().join("dir/sub/f"), b"f").unwrap();
        std::fs::write(context.path().join("a.txt"), b"a").unwrap();
        std::fs::write(context.path().join("b.txt"), b"b").unwrap();
        let none = Ignore::default();
        let texts = matching_sources(context.path(), "*.txt", &none).unwrap();
        assert_eq!(texts.len(), 2);
        let mut sources = texts.clone();
        sources.extend(matching_sources(context.path(), "dir", &none).unwrap());
        let plan = CopyPlan {
            sources: &sources,
            dest: Path::new("/app"),
            into_directory: true,
            owner: Some((1, 2)),
            mode: Some(0o600),
            unpack_archives: false,
            packed: &[],
            context: context.path(),
            ignore: &Ignore::default(),
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
        let one = [Source::at(&context.path().join("a.txt"))];
        let plan = CopyPlan {
            sources: &one,
            dest: Path::new("/etc/renamed"),
            into_directory: false,
            owner: None,
            mode: None,
            unpack_archives: false,
            packed: &[],
            context: context.path(),
            ignore: &Ignore::default(),
        };
        let mut bytes = Vec::new();
        write_archive(&plan, &mut bytes).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let first = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(first.path().unwrap(), Path::new("etc/renamed"));
    }
}
