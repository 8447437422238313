//! What every operation needs: the open store, the configuration files' settings and, without
//! root, the user-namespace id mapping.

use std::path::PathBuf;

use crate::config::Config;
use crate::runtime::userns::{current_user_mapping, IdMapping};
use crate::store::{self, Store};

pub struct Context {
    pub store: Store,
    /// None when skiff runs as real root: no user namespace then, as with Podman.
    pub id_mapping: Option<IdMapping>,
    /// containers.conf and storage.conf, as loaded before the command started.
    pub config: Config,
}

impl Context {
    pub fn rootless() -> bool {
        !nix::unistd::geteuid().is_root()
    }

    /// Opens the store, refusing one whose files were made with another id mapping than
    /// /etc/subuid and /etc/subgid now give (they would show with the wrong owners).
    pub fn open(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        config: Config,
    ) -> Result<Self, store::Error> {
        let ctx = Self::open_unchecked(root, runroot, config)?;
        if let Some(current) = &ctx.id_mapping {
            match ctx.store.recorded_id_mapping::<IdMapping>() {
                Some(recorded) if &recorded != current => {
                    return Err(store::Error::IdMappingChanged {
                        root: ctx.store.root().to_path_buf(),
                    })
                }
                Some(_) => {}
                None => {
                    let lock = ctx.store.lock()?;
                    ctx.store.record_id_mapping(&lock, current)?;
                }
            }
        }
        Ok(ctx)
    }

    /// Opens the store where [`Context::store_paths`] says, whatever id mapping made it: for
    /// `system migrate` and `system reset`.
    pub fn open_unchecked(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        config: Config,
    ) -> Result<Self, store::Error> {
        let rootless = Self::rootless();
        let (root, runroot) = Self::store_paths(root, runroot, &config);
        let store = Store::open(&root, &runroot)?;
        let id_mapping = rootless.then(current_user_mapping);
        Ok(Context {
            store,
            id_mapping,
            config,
        })
    }

    /// The store and runtime directories: `--root`/`--runroot`, else where storage.conf puts
    /// them, else skiff's defaults.
    ///
    /// storage.conf's graphroot and runroot name Podman's storage too (Fedora's system file sets
    /// `/var/lib/containers/storage`), so skiff keeps to a `skiff` directory inside them: its
    /// layout never mixes with Podman's, and `system reset` never reaches Podman's files.
    pub fn store_paths(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        config: &Config,
    ) -> (PathBuf, PathBuf) {
        let (default_root, default_runroot) = store::default_paths(Self::rootless());
        let in_configured = |dir: &Option<PathBuf>| dir.as_ref().map(|dir| dir.join("skiff"));
        (
            root.or_else(|| in_configured(&config.storage.graphroot))
                .unwrap_or(default_root),
            runroot
                .or_else(|| in_configured(&config.storage.runroot))
                .unwrap_or(default_runroot),
        )
    }

    /// The mapping, with the one-line warning Podman gives when only the user's own id is mapped.
    pub fn warn_if_single_mapping(&self) -> Option<String> {
        let mapping = self.id_mapping.as_ref()?;
        mapping.is_single().then(|| {
            let user = nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map(|u| u.name).unwrap_or_else(|| nix::unistd::getuid().to_string());
            format!(
                "no subordinate ids for {user} in /etc/subuid and /etc/subgid: only your own id is mapped, so images with files owned by other users will fail; add a range with `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}`"
            )
        })
    }
}
