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

    /// Opens the store at `--root`/`--runroot`, else where storage.conf puts it, else at
    /// skiff's default paths.
    pub fn open(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        config: Config,
    ) -> Result<Self, store::Error> {
        let rootless = Self::rootless();
        let (default_root, default_runroot) = store::default_paths(rootless);
        let root = root
            .or_else(|| config.storage.graphroot.clone())
            .unwrap_or(default_root);
        let runroot = runroot
            .or_else(|| config.storage.runroot.clone())
            .unwrap_or(default_runroot);
        let store = Store::open(&root, &runroot)?;
        let id_mapping = rootless.then(current_user_mapping);
        Ok(Context {
            store,
            id_mapping,
            config,
        })
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
