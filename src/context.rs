//! What every operation needs: the open store and, without root, the user-namespace id mapping.

use std::path::PathBuf;

use crate::runtime::userns::{current_user_mapping, IdMapping};
use crate::runtime::StorageDriver;
use crate::store::{self, Store};

pub struct Context {
    pub store: Store,
    /// None when skiff runs as real root: no user namespace then, as with Podman.
    pub id_mapping: Option<IdMapping>,
    /// The storage driver the user chose ([`choose_storage_driver`]); None: the default.
    pub storage_driver: Option<StorageDriver>,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown storage driver {0:?} (overlay, fuse-overlay or vfs)")]
pub struct UnknownStorageDriver(String);

/// The storage driver the user chose, the one place that decides it: `--storage-driver`, else
/// `$STORAGE_DRIVER` (as containers/storage reads it), else none (the default, overlay).
pub fn choose_storage_driver(
    flag: Option<&str>,
) -> Result<Option<StorageDriver>, UnknownStorageDriver> {
    let chosen = match flag {
        Some(name) => Some(name.to_string()),
        None => std::env::var("STORAGE_DRIVER")
            .ok()
            .filter(|v| !v.is_empty()),
    };
    chosen
        .map(|name| StorageDriver::parse(&name).ok_or(UnknownStorageDriver(name)))
        .transpose()
}

impl Context {
    pub fn rootless() -> bool {
        !nix::unistd::geteuid().is_root()
    }

    pub fn open(root: Option<PathBuf>, runroot: Option<PathBuf>) -> Result<Self, store::Error> {
        let rootless = Self::rootless();
        let (default_root, default_runroot) = store::default_paths(rootless);
        let store = Store::open(
            &root.unwrap_or(default_root),
            &runroot.unwrap_or(default_runroot),
        )?;
        let id_mapping = rootless.then(current_user_mapping);
        Ok(Context {
            store,
            id_mapping,
            storage_driver: None,
        })
    }

    /// The driver a new container records: the chosen one, overlay by default; the kernel's
    /// overlay only where it mounts (else skiff's own over FUSE).
    pub fn driver_for_new_container(&self) -> StorageDriver {
        self.usable(self.storage_driver.unwrap_or_default())
    }

    /// The driver an existing container, made with `recorded`, starts with: the chosen one when
    /// it reads the same on-disk form (both overlays do), else its own, so a container still
    /// starts after the default changes.
    pub fn driver_for(&self, recorded: StorageDriver) -> StorageDriver {
        match self.storage_driver {
            Some(chosen) if chosen.keeps_upper_dir() && recorded.keeps_upper_dir() => {
                self.usable(chosen)
            }
            _ => self.usable(recorded),
        }
    }

    /// `overlay` falls back to skiff's FUSE union where the kernel refuses it.
    fn usable(&self, driver: StorageDriver) -> StorageDriver {
        if driver == StorageDriver::Overlay && !self.kernel_overlay_works() {
            return StorageDriver::FuseOverlay;
        }
        driver
    }

    /// Whether the kernel mounts overlayfs for this user on the store's file system: tried once
    /// per boot and remembered in the runtime directory (which a reboot, maybe into another
    /// kernel, empties).
    fn kernel_overlay_works(&self) -> bool {
        let remembered = self.store.runroot().join("kernel-overlay");
        if let Ok(answer) = std::fs::read_to_string(&remembered) {
            return answer.trim() == "yes";
        }
        let scratch = self.store.staging_path("overlay-probe");
        let works =
            crate::runtime::container::kernel_overlay_works(&scratch, self.id_mapping.as_ref());
        let answer = if works { "yes\n" } else { "no\n" };
        let partial = remembered.with_extension(format!("{}", std::process::id()));
        if std::fs::write(&partial, answer).is_ok() {
            let _ = std::fs::rename(&partial, &remembered);
        }
        works
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
