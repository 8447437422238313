//! containers-storage.conf(5): where the store lives and which driver it asks for.
//!
//! One file is read, never a merge, as containers/storage does: `CONTAINERS_STORAGE_CONF` when
//! set; else, rootless, `$XDG_CONFIG_HOME/containers/storage.conf` (or `~/.config/…`) when it
//! exists; else the system's `/etc/containers/storage.conf`, or `/usr/share/containers/
//! storage.conf` without it. Rootless, the system file's `graphroot` and `runroot` are root's and
//! are not used; its `rootless_storage_path` (with `$HOME` and `$UID` expanded) places the store,
//! and its driver applies when it is one a user can run. Root never reads the user's file.

use crate::runtime::StorageDriver;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{config_home, expand_path, file_from_env, read_toml, ConfigError};

/// What skiff takes from storage.conf; `None` leaves skiff's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageConf {
    pub graphroot: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub driver: Option<StorageDriver>,
    /// `[storage.options.overlay] mount_program`: a FUSE program for the overlay driver, which
    /// skiff answers with its built-in FUSE union whatever the program named.
    pub mount_program: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct File {
    storage: StorageTable,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StorageTable {
    driver: Option<toml::Spanned<String>>,
    graphroot: Option<String>,
    runroot: Option<String>,
    rootless_storage_path: Option<String>,
    options: OptionsTable,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OptionsTable {
    /// The older place for it, still read by containers/storage.
    mount_program: Option<String>,
    overlay: OverlayTable,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OverlayTable {
    mount_program: Option<String>,
}

/// Which file is read, and whether it speaks for this user (rather than being the system's file
/// read by a user).
struct Source {
    path: PathBuf,
    own: bool,
}

impl StorageConf {
    pub fn load(rootless: bool) -> Result<Self, ConfigError> {
        let Some(source) = Self::source(rootless)? else {
            return Ok(StorageConf::default());
        };
        let uid = nix::unistd::getuid().as_raw();
        Self::read(&source.path, rootless && !source.own, uid)
    }

    fn source(rootless: bool) -> Result<Option<Source>, ConfigError> {
        if let Some(path) = file_from_env("CONTAINERS_STORAGE_CONF")? {
            return Ok(Some(Source { path, own: true }));
        }
        if rootless {
            if let Some(user) = config_home().map(|h| h.join("containers/storage.conf")) {
                if user.exists() {
                    return Ok(Some(Source {
                        path: user,
                        own: true,
                    }));
                }
            }
        }
        Ok([
            "/etc/containers/storage.conf",
            "/usr/share/containers/storage.conf",
        ]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .map(|path| Source { path, own: false }))
    }

    /// Reads `path`; `system_for_user` when a rootless user reads the system's file.
    fn read(path: &Path, system_for_user: bool, uid: u32) -> Result<Self, ConfigError> {
        let Some((file, text)) = read_toml::<File>(path)? else {
            return Ok(StorageConf::default());
        };
        let table = file.storage;
        let driver = match &table.driver {
            Some(name) if !name.get_ref().is_empty() => Some(
                parse_driver(name.get_ref()).map_err(|reason| ConfigError::Malformed {
                    path: path.to_path_buf(),
                    line: super::line_at(&text, name.span().start),
                    reason,
                })?,
            ),
            _ => None,
        };
        let expand = |p: Option<String>| p.filter(|p| !p.is_empty()).map(|p| expand_path(&p, uid));
        let rootless_path = expand(table.rootless_storage_path);
        let (graphroot, runroot) = if system_for_user {
            (rootless_path, None)
        } else {
            (
                expand(table.graphroot).or(rootless_path),
                expand(table.runroot),
            )
        };
        let mount_program = table
            .options
            .overlay
            .mount_program
            .or(table.options.mount_program)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        Ok(StorageConf {
            graphroot,
            runroot,
            driver,
            mount_program,
        })
    }
}

fn parse_driver(name: &str) -> Result<StorageDriver, String> {
    StorageDriver::parse(name).ok_or_else(|| {
        format!("storage driver {name:?} is not supported: skiff has overlay, fuse-overlay and vfs")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, system_for_user: bool) -> Result<StorageConf, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("storage.conf");
        std::fs::write(&path, text).unwrap();
        StorageConf::read(&path, system_for_user, 1234)
    }

    #[test]
    fn own_file_places_the_store() {
        let conf = read(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"/data/$UID/g\"\nrunroot = \"/run/r\"\n\
             [storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
            false,
        )
        .unwrap();
        assert_eq!(conf.graphroot, Some(PathBuf::from("/data/1234/g")));
        assert_eq!(conf.runroot, Some(PathBuf::from("/run/r")));
        assert_eq!(conf.driver, Some(StorageDriver::Overlay));
        assert_eq!(
            conf.mount_program,
            Some(PathBuf::from("/usr/bin/fuse-overlayfs"))
        );
        // Without a graphroot, rootless_storage_path stands in for it.
        let conf = read("[storage]\nrootless_storage_path = \"/s/$UID\"\n", false).unwrap();
        assert_eq!(conf.graphroot, Some(PathBuf::from("/s/1234")));
    }

    #[test]
    fn the_system_file_read_by_a_user_gives_only_the_rootless_path_and_driver() {
        let conf = read(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"/var/lib/containers/storage\"\n\
             runroot = \"/run/containers/storage\"\n",
            true,
        )
        .unwrap();
        assert_eq!(
            conf,
            StorageConf {
                driver: Some(StorageDriver::Vfs),
                ..Default::default()
            }
        );
        let conf = read(
            "[storage]\ngraphroot = \"/var/lib/x\"\nrootless_storage_path = \"/srv/$UID\"\n",
            true,
        )
        .unwrap();
        assert_eq!(conf.graphroot, Some(PathBuf::from("/srv/1234")));
    }

    #[test]
    fn bad_drivers_and_types_name_the_line() {
        let error = read("[storage]\n\ndriver = \"zfs\"\n", false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("storage.conf:3: "), "{error}");
        assert!(error.contains("zfs"), "{error}");
        let error = read("[storage]\ngraphroot = 5\n", false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("storage.conf:2: "), "{error}");
        assert_eq!(
            read("[storage]\ndriver = \"overlay2\"\n", false)
                .unwrap()
                .driver,
            Some(StorageDriver::Overlay)
        );
    }
}
