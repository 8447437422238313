//! Normalisation of tar entry names into paths relative to an extraction root.
//!
//! Contract: `normalize_entry_name` turns whatever bytes a tar header carries into a list of
//! plain components (no empty, `.` or `..` parts, no `/` inside a part), or refuses the name when
//! its `..` parts would climb above the root. It never touches the filesystem: symlinks met while
//! resolving the result are the business of `openat2(RESOLVE_IN_ROOT)` in `apply`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::Error;

/// A name inside the extraction root, as a list of plain components; empty means the root itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelPath {
    components: Vec<Vec<u8>>,
}

impl RelPath {
    pub(crate) fn from_components(components: &[Vec<u8>]) -> RelPath {
        RelPath {
            components: components.to_vec(),
        }
    }

    pub(crate) fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The last component, or `None` for the root.
    pub(crate) fn file_name(&self) -> Option<&OsStr> {
        self.components.last().map(|name| OsStr::from_bytes(name))
    }

    /// The directory holding this entry, as a path relative to the root (`.` for the root).
    pub(crate) fn parent_path(&self) -> PathBuf {
        match self.components.split_last() {
            Some((_, parents)) if !parents.is_empty() => join_components(parents),
            _ => PathBuf::from("."),
        }
    }

    /// The whole name as a path relative to the root (`.` for the root).
    pub(crate) fn to_path(&self) -> PathBuf {
        if self.is_root() {
            PathBuf::from(".")
        } else {
            join_components(&self.components)
        }
    }

    /// The parent components, base first, for creating missing directories one at a time.
    pub(crate) fn parent_components(&self) -> &[Vec<u8>] {
        match self.components.split_last() {
            Some((_, parents)) => parents,
            None => &[],
        }
    }

    /// A copy with `name` in place of the last component (used to turn `.wh.NAME` into `NAME`).
    pub(crate) fn with_file_name(&self, name: &[u8]) -> RelPath {
        let mut components = self.components.clone();
        components.pop();
        components.push(name.to_vec());
        RelPath { components }
    }
}

fn join_components(components: &[Vec<u8>]) -> PathBuf {
    let joined = components.join(&b'/');
    PathBuf::from(OsStr::from_bytes(&joined))
}

/// Normalises a tar entry name (or a hard link target): leading `/` and `./` go, `.` parts go,
/// `..` removes the previous part. A `..` with nothing left to remove would leave the root, and
/// the whole layer is refused for it, as Docker and Podman refuse such layers.
pub(crate) fn normalize_entry_name(raw: &[u8]) -> Result<RelPath, Error> {
    let mut components: Vec<Vec<u8>> = Vec::new();
    for part in raw.split(|byte| *byte == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if components.pop().is_none() {
                    return Err(Error::PathEscapes {
                        entry: String::from_utf8_lossy(raw).into_owned(),
                    });
                }
            }
            plain => components.push(plain.to_vec()),
        }
    }
    Ok(RelPath { components })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Allowed in tests by house style (STYLE.md 8).
mod tests {
    use super::*;

    fn normalized(raw: &str) -> String {
        normalize_entry_name(raw.as_bytes())
            .unwrap()
            .to_path()
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn strips_leading_slashes_and_dots() {
        assert_eq!(normalized("/etc/passwd"), "etc/passwd");
        assert_eq!(normalized("./etc/passwd"), "etc/passwd");
        assert_eq!(normalized(".//etc/./passwd/"), "etc/passwd");
        assert_eq!(normalized("./"), ".");
        assert_eq!(normalized("a/b/../c"), "a/c");
    }

    #[test]
    fn refuses_names_that_climb_above_the_root() {
        for raw in [
            "../escape",
            "../../x",
            "a/../../x",
            "/..",
            "./a/b/../../../c",
        ] {
            let error = normalize_entry_name(raw.as_bytes()).unwrap_err();
            assert!(
                matches!(&error, Error::PathEscapes { entry } if entry == raw),
                "{raw}: {error:?}"
            );
        }
    }

    #[test]
    fn splits_parent_and_name() {
        let path = normalize_entry_name(b"usr/bin/.wh.ls").unwrap();
        assert_eq!(path.parent_path(), PathBuf::from("usr/bin"));
        assert_eq!(path.file_name(), Some(OsStr::new(".wh.ls")));
        assert_eq!(
            path.with_file_name(b"ls").to_path(),
            PathBuf::from("usr/bin/ls")
        );
        let top = normalize_entry_name(b"file").unwrap();
        assert_eq!(top.parent_path(), PathBuf::from("."));
        assert!(top.parent_components().is_empty());
    }
}
