//! Podman's configuration files: containers.conf(5) and containers-storage.conf(5) are loaded
//! here, registries.conf(5) in `registry::config`; all three read their TOML through
//! [`read_toml`], so a file that does not parse, or holds a value of the wrong type, is the same
//! one-line error naming the file and the line (`/path/containers.conf:3: invalid type …`).
//!
//! Contract: loading only reads files that exist (plus the listing of the `.d` drop-in
//! directories); it never writes, never walks further, and keys skiff does not know are ignored,
//! as Podman ignores them. What a setting means is decided by the callers.

pub mod containers;
pub mod storage;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use containers::ContainersConf;
pub use storage::StorageConf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bad TOML, or a value of the wrong type or out of range, found at a line of the file.
    #[error("{}:{line}: {reason}", path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    /// A file that is there but cannot be read, or is wrong as a whole.
    #[error("{}: {reason}", path.display())]
    Unusable { path: PathBuf, reason: String },
    /// `CONTAINERS_CONF` and the like name a file that must exist.
    #[error("{variable} names {}, which does not exist", path.display())]
    MissingFile {
        variable: &'static str,
        path: PathBuf,
    },
}

/// Everything skiff reads from containers.conf and storage.conf, loaded once per command.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub containers: ContainersConf,
    pub storage: StorageConf,
}

impl Config {
    /// Both files, with Podman's precedence for the user skiff runs as.
    pub fn load() -> Result<Self, ConfigError> {
        let rootless = !nix::unistd::geteuid().is_root();
        Ok(Config {
            containers: ContainersConf::load()?,
            storage: StorageConf::load(rootless)?,
        })
    }
}

pub use crate::paths::config_home;

/// A file named by an environment variable (`CONTAINERS_CONF`, …), which must then exist.
fn file_from_env(variable: &'static str) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = crate::paths::from_env(variable) else {
        return Ok(None);
    };
    if !path.exists() {
        return Err(ConfigError::MissingFile { variable, path });
    }
    Ok(Some(path))
}

/// The `*.conf` files of a drop-in directory, in name order; none when it does not exist.
pub fn dropin_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    files.sort();
    files
}

/// Reads and decodes one TOML file; `None` when it does not exist. Errors carry the file's path
/// and, where the TOML reader knows it, the line.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<Option<(T, String)>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ConfigError::Unusable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    let value = parse_toml(&text, path)?;
    Ok(Some((value, text)))
}

/// Decodes TOML text that came from `path` (named in errors).
pub fn parse_toml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| malformed(path, text, &e))
}

fn malformed(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let offset = error.span().map(|s| s.start).unwrap_or(0).min(text.len());
    ConfigError::Malformed {
        path: path.to_path_buf(),
        line: line_at(text, offset),
        // The reader's message can run over several lines; the error is one.
        reason: error
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The 1-based line holding byte `offset`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Expands `$UID`/`${UID}` to `uid` and other `$NAME`/`${NAME}` from the environment (unset is
/// empty), as containers/storage expands the paths in storage.conf.
pub fn expand_path(path: &str, uid: u32) -> PathBuf {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        if name == "UID" {
            out.push_str(&uid.to_string());
        } else if let Some(value) = std::env::var_os(name) {
            out.push_str(&value.to_string_lossy());
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    PathBuf::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Sample {
        #[allow(dead_code)]
        list: Vec<String>,
    }

    #[test]
    fn errors_name_the_file_and_the_line() {
        let path = Path::new("/etc/x.conf");
        let error = parse_toml::<Sample>("# comment\n\nlist = [\n", path).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("/etc/x.conf:3: "), "{text}");
        assert!(!text.contains('\n'), "{text}");
        let error = parse_toml::<Sample>("\nlist = \"one\"\n", path).unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("/etc/x.conf:2: "), "{text}");
        assert!(text.contains("sequence"), "{text}");
    }

    #[test]
    fn missing_files_are_skipped_and_drop_ins_come_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_toml::<Sample>(&dir.path().join("none.conf"))
            .unwrap()
            .is_none());
        for name in ["b.conf", "a.conf", "c.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.conf")).unwrap();
        let names: Vec<_> = dropin_files(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.conf", "b.conf"]);
        assert!(dropin_files(&dir.path().join("absent")).is_empty());
    }

    #[test]
    fn paths_expand_uid_and_environment() {
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(
            expand_path("$HOME/s/$UID/${UID}x", 1000),
            PathBuf::from(format!("{home}/s/1000/1000x"))
        );
        assert_eq!(expand_path("/a$/b", 1), PathBuf::from("/a$/b"));
        assert_eq!(
            expand_path("/x/$SKIFF_SURELY_UNSET_VAR/y", 1),
            PathBuf::from("/x//y")
        );
    }
}
