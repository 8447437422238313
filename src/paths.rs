//! Where things live: the one module that reads the environment variables naming locations
//! (`HOME`, `XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `XDG_RUNTIME_DIR`, `TMPDIR`, and the
//! `CONTAINERS_*`, `REGISTRY_AUTH_FILE` and `DOCKER_CONFIG` files, `PATH` for finding helper
//! programs), and that decides the store's paths for every caller ([`store_paths`]). Variables
//! that carry data rather than a location (`--env` passed through, build secrets, socket
//! activation's `LISTEN_FDS`, `STORAGE_DRIVER`) are read where they are used. Uses nothing of
//! skiff's.

use std::path::{Path, PathBuf};

/// A location named by an environment variable; None when it is unset or empty (an empty
/// variable is unset, as the XDG base directory specification and containers/common read them).
pub fn from_env(variable: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// A program as `Command::new` finds it: the first file of that name in a directory of `$PATH`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// The user's home directory (`$HOME`, else the password database's).
pub fn home() -> Option<PathBuf> {
    dirs::home_dir()
}

/// `$XDG_CONFIG_HOME`, else `$HOME/.config`: where the user's configuration files live.
pub fn config_home() -> Option<PathBuf> {
    from_env("XDG_CONFIG_HOME").or_else(|| home().map(|h| h.join(".config")))
}

/// `$XDG_RUNTIME_DIR`: the user's directory for files that must vanish on reboot.
pub fn runtime_dir() -> Option<PathBuf> {
    from_env("XDG_RUNTIME_DIR")
}

/// Where big temporary files go: `$TMPDIR`, else /var/tmp (as Podman's image_copy_tmp_dir),
/// which unlike /tmp is rarely a small tmpfs.
pub fn spool_dir() -> PathBuf {
    from_env("TMPDIR").unwrap_or_else(|| PathBuf::from("/var/tmp"))
}

/// Where the store and runtime state live when nothing else says, as ARCHITECTURE.md gives
/// them: `$XDG_DATA_HOME/skiff` and `$XDG_RUNTIME_DIR/skiff` without root, /var/lib/skiff and
/// /run/skiff as root.
pub fn default_store_paths(rootless: bool) -> (PathBuf, PathBuf) {
    if !rootless {
        return (PathBuf::from("/var/lib/skiff"), PathBuf::from("/run/skiff"));
    }
    let root = from_env("XDG_DATA_HOME")
        .or_else(dirs::data_dir)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join("skiff");
    let runroot = runtime_dir()
        .map(|d| d.join("skiff"))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/skiff-{}", nix::unistd::getuid())));
    (root, runroot)
}

/// The store's directories as the command line and storage.conf give them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreLocation<'a> {
    /// `--root`.
    pub root_flag: Option<&'a Path>,
    /// `--runroot`.
    pub runroot_flag: Option<&'a Path>,
    /// storage.conf's `graphroot`.
    pub graphroot: Option<&'a Path>,
    /// storage.conf's `runroot`.
    pub runroot: Option<&'a Path>,
}

/// The store and runtime directories, decided here for every caller (commands and shell
/// completion alike): `--root`/`--runroot`, else where storage.conf puts them, else
/// [`default_store_paths`].
///
/// storage.conf's graphroot and runroot name Podman's storage too (Fedora's system file sets
/// `/var/lib/containers/storage`), so skiff keeps to a `skiff` directory inside them: its
/// layout never mixes with Podman's, and `system reset` never reaches Podman's files.
pub fn store_paths(location: StoreLocation<'_>, rootless: bool) -> (PathBuf, PathBuf) {
    let (default_root, default_runroot) = default_store_paths(rootless);
    let chosen = |flag: Option<&Path>, configured: Option<&Path>, default: PathBuf| {
        flag.map(Path::to_path_buf)
            .or_else(|| configured.map(|dir| dir.join("skiff")))
            .unwrap_or(default)
    };
    (
        chosen(location.root_flag, location.graphroot, default_root),
        chosen(location.runroot_flag, location.runroot, default_runroot),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_then_storage_conf_then_the_defaults() {
        let (default_root, default_runroot) = default_store_paths(true);
        assert_eq!(
            store_paths(StoreLocation::default(), true),
            (default_root, default_runroot.clone())
        );
        let conf = StoreLocation {
            graphroot: Some(Path::new("/g")),
            ..StoreLocation::default()
        };
        assert_eq!(
            store_paths(conf, true),
            (PathBuf::from("/g/skiff"), default_runroot)
        );
        let flags = StoreLocation {
            root_flag: Some(Path::new("/r")),
            runroot_flag: Some(Path::new("/rr")),
            graphroot: Some(Path::new("/g")),
            runroot: Some(Path::new("/gr")),
        };
        assert_eq!(
            store_paths(flags, true),
            (PathBuf::from("/r"), PathBuf::from("/rr"))
        );
        assert_eq!(
            default_store_paths(false),
            (PathBuf::from("/var/lib/skiff"), PathBuf::from("/run/skiff"))
        );
    }
}
