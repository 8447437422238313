//! What every operation needs: the open store and, without root, the user-namespace id mapping.

use std::path::PathBuf;

use crate::runtime::userns::{current_user_mapping, IdMapping};
use crate::store::{self, Store};

pub struct Context {
    pub store: Store,
    /// None when skiff runs as real root: no user namespace then, as with Podman.
    pub id_mapping: Option<IdMapping>,
}

impl Context {
    pub fn rootless() -> bool {
        !nix::unistd::geteuid().is_root()
    }

    /// Opens the store, refusing one whose files were made with another id mapping than
    /// /etc/subuid and /etc/subgid now give (they would show with the wrong owners).
    pub fn open(root: Option<PathBuf>, runroot: Option<PathBuf>) -> Result<Self, store::Error> {
        let ctx = Self::open_unchecked(root, runroot)?;
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

    /// Opens the store whatever id mapping made it: for `system migrate` and `system reset`.
    pub fn open_unchecked(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
    ) -> Result<Self, store::Error> {
        let rootless = Self::rootless();
        let (default_root, default_runroot) = store::default_paths(rootless);
        let store = Store::open(
            &root.unwrap_or(default_root),
            &runroot.unwrap_or(default_runroot),
        )?;
        let id_mapping = rootless.then(current_user_mapping);
        Ok(Context { store, id_mapping })
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
