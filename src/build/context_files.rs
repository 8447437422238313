//! The build context as the one file system a build reads: COPY and ADD sources, `RUN
//! --mount=type=bind` sources, the Containerfile found in it and its ignore file. Every path is
//! resolved inside the context as if it were `/` (openat2 RESOLVE_IN_ROOT, see
//! [`crate::runtime::in_root`]), as BuildKit and buildah resolve them: a symbolic link that
//! leads out of the context (`home -> /home/user`, `up -> ../..`) means a place inside it, so
//! a build never reads the host's files through one. What a source resolved to is read without
//! following any link; links inside a copied directory are copied as links.

use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use super::copy::Ignore;
use crate::filter::wildcard_match;
use crate::runtime::in_root;

/// One thing a COPY or ADD copies: the directory it is read inside of (the build context, or
/// where a stage's files were copied out to), its path there (free of links), and the name it
/// lands under in a destination directory (the name written, also when a link led elsewhere,
/// as in BuildKit). It, and everything under it, is read inside `root` only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub root: PathBuf,
    pub relative: PathBuf,
    pub name: OsString,
}

impl Source {
    /// A file or directory of skiff's own (fetched, or copied out of an image) under its name.
    pub fn at(path: &Path) -> Source {
        let name = path.file_name().unwrap_or_default().to_os_string();
        let root = match path.parent() {
            Some(parent) if !name.is_empty() => parent.to_path_buf(),
            _ => path.to_path_buf(),
        };
        Source {
            root,
            relative: PathBuf::from(&name),
            name,
        }
    }

    /// Where it is on the host.
    pub fn path(&self) -> PathBuf {
        self.root.join(&self.relative)
    }

    /// What it is, never following a link.
    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        in_root::Root::open(&self.root)?.symlink_metadata(&self.relative)
    }
}

/// The text of the file `name` of the context, resolved inside it; None when it names no file.
fn read_file(context: &Path, name: &str) -> Result<Option<String>> {
    let reading = || format!("reading {name} of the build context");
    let resolved = match in_root::resolve(context, Path::new(name)) {
        Ok(resolved) => resolved,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(reading),
    };
    let root = in_root::Root::open(context).with_context(reading)?;
    if !root.symlink_metadata(&resolved).is_ok_and(|m| m.is_file()) {
        return Ok(None);
    }
    let mut text = String::new();
    root.open_file(&resolved)
        .and_then(|mut file| io::Read::read_to_string(&mut file, &mut text))
        .with_context(reading)?;
    Ok(Some(text))
}

/// The ignore file of a build context: .containerignore, else .dockerignore; none: empty.
pub fn ignore_of(context: &Path) -> Result<Ignore> {
    for name in [".containerignore", ".dockerignore"] {
        if let Some(text) = read_file(context, name)? {
            return Ok(Ignore::parse(&text));
        }
    }
    Ok(Ignore::default())
}

/// The Containerfile (else Dockerfile) of a context, when `-f` names none: its path as shown
/// and its text. One that is a link is followed inside the context only.
pub fn default_containerfile(context: &Path) -> Result<(String, String)> {
    for name in ["Containerfile", "Dockerfile"] {
        let path = context.join(name);
        if let Some(text) = read_file(context, name)? {
            return Ok((path.display().to_string(), text));
        }
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "{} is a symbolic link to no file inside the build context (links resolve inside it, never out of it): name the file with -f",
                path.display()
            );
        }
    }
    bail!(
        "no Containerfile or Dockerfile in {}: name one with -f",
        context.display()
    )
}

/// A path written in a Containerfile, relative to the context; one whose `..` climbs out of it
/// is refused, as Docker refuses it.
fn written_path(source: &str) -> Result<PathBuf> {
    let relative = Path::new(source.trim_start_matches('/'));
    let mut depth = 0i32;
    for component in relative.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            bail!("{source} is outside the build context");
        }
    }
    Ok(relative.to_path_buf())
}

/// What `relative` (as written) names in `context`: resolved inside it, unless the ignore file
/// leaves out the path written or the one it leads to.
fn resolve_source(context: &Path, relative: &Path, ignore: &Ignore) -> io::Result<Source> {
    let resolved = in_root::resolve(context, relative)?;
    let ignored = |path: &Path| !path.as_os_str().is_empty() && ignore.excludes(path);
    if ignored(relative) || ignored(&resolved) {
        return Err(io::ErrorKind::NotFound.into());
    }
    let name = relative
        .file_name()
        .or(resolved.file_name())
        .unwrap_or_default()
        .to_os_string();
    Ok(Source {
        root: context.to_path_buf(),
        relative: resolved,
        name,
    })
}

/// What `source` names in `context`, in name order, those `ignore` leaves out left out; an
/// error naming it when it leaves the context or names nothing there.
pub fn matching_sources(context: &Path, source: &str, ignore: &Ignore) -> Result<Vec<Source>> {
    let relative = written_path(source)?;
    let has_wildcard = |text: &str| text.contains(['*', '?', '[']);
    if !has_wildcard(&relative.to_string_lossy()) {
        return match resolve_source(context, &relative, ignore) {
            Ok(found) => Ok(vec![found]),
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("{source} in the build context"))
            }
            // Where the host would have followed a link out of the context, say so.
            Err(_) if std::fs::metadata(context.join(&relative)).is_ok() => bail!(
                "{source}: not in the build context (a symbolic link on its path leads out of it; links resolve inside the context)"
            ),
            Err(_) => bail!("{source}: no such file or directory in the build context"),
        };
    }
    // Component by component, as Go's filepath.Glob: a pattern matches names in one directory,
    // which is read where the path so far leads inside the context.
    let mut found = vec![PathBuf::new()];
    for component in relative.components() {
        let part = component.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for prefix in &found {
            if !has_wildcard(&part) {
                next.push(prefix.join(&*part));
                continue;
            }
            let names = in_root::resolve(context, prefix)
                .and_then(|dir| in_root::Root::open(context)?.read_dir(&dir));
            let Ok(names) = names else {
                continue;
            };
            for name in names {
                if wildcard_match(&part, &name.to_string_lossy()) {
                    next.push(prefix.join(name));
                }
            }
        }
        found = next;
    }
    found.sort();
    let found: Vec<Source> = found
        .iter()
        .filter_map(|path| resolve_source(context, path, ignore).ok())
        .collect();
    if found.is_empty() {
        bail!("{source}: no file in the build context matches it");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn sources_resolve_inside_the_context_and_keep_their_written_names() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let context = tempfile::tempdir().unwrap();
        let c = context.path();
        std::fs::create_dir_all(c.join("dir/sub")).unwrap();
        std::fs::write(c.join("dir/sub/f"), b"f").unwrap();
        std::fs::write(c.join("a.txt"), b"a").unwrap();
        std::fs::write(c.join("b.txt"), b"b").unwrap();
        symlink(outside.path(), c.join("out")).unwrap();
        symlink("dir/sub/f", c.join("link.txt")).unwrap();
        symlink("dir", c.join("alias")).unwrap();
        let none = Ignore::default();
        assert!(matching_sources(c, "../x", &none).is_err());
        assert!(matching_sources(c, "missing", &none).is_err());
        assert!(matching_sources(c, "*.none", &none).is_err());
        let error = matching_sources(c, "out/secret", &none).unwrap_err();
        assert!(error.to_string().contains("leads out"), "{error}");
        assert!(matching_sources(c, "out/*", &none).is_err());
        // The written name, the resolved file.
        let texts = matching_sources(c, "*.txt", &none).unwrap();
        let names: Vec<_> = texts.iter().map(|s| s.name.to_str().unwrap()).collect();
        assert_eq!(names, ["a.txt", "b.txt", "link.txt"]);
        assert_eq!(texts[2].path(), c.join("dir/sub/f"));
        let deep = matching_sources(c, "d*/s?b/*", &none).unwrap();
        assert_eq!(deep[0].relative, Path::new("dir/sub/f"));
        assert!(matching_sources(c, "*/f", &none).is_err());
        // The ignore file judges where a link leads too.
        let ignore = Ignore::parse("dir\n");
        assert!(matching_sources(c, "alias/sub/f", &ignore).is_err());
        assert!(matching_sources(c, "link.txt", &ignore).is_err());
    }
}
