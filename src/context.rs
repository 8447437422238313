//! What every operation needs: the open store, the configuration files' settings and, without
//! root, the user-namespace id mapping.

use std::path::PathBuf;

use crate::config::storage::StorageConf;
use crate::config::{Config, ConfigError};
use crate::paths::{self, StoreLocation};
use crate::runtime::userns::{current_user_mapping, IdMapping};
use crate::runtime::StorageDriver;
use crate::store::{self, Store};

pub struct Context {
    pub store: Store,
    /// None when skiff runs as real root: no user namespace then, as with Podman.
    pub id_mapping: Option<IdMapping>,
    /// containers.conf and storage.conf, as loaded before the command started.
    pub config: Config,
    /// The storage driver the user chose ([`choose_storage_driver`]); None: the default.
    pub storage_driver: Option<StorageDriver>,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown storage driver {0:?} (overlay, fuse-overlay or vfs)")]
pub struct UnknownStorageDriver(String);

/// The storage driver the user chose, the one place that decides it: `--storage-driver`, else
/// `$STORAGE_DRIVER` (as containers/storage reads it), else storage.conf's `driver` (overlay
/// with a `mount_program` means skiff's own FUSE union, whatever program it names), else none
/// (the default, overlay).
pub fn choose_storage_driver(
    flag: Option<&str>,
    storage_conf: &StorageConf,
) -> Result<Option<StorageDriver>, UnknownStorageDriver> {
    let chosen = match flag {
        Some(name) => Some(name.to_string()),
        None => std::env::var("STORAGE_DRIVER")
            .ok()
            .filter(|v| !v.is_empty()),
    };
    if let Some(name) = chosen {
        return StorageDriver::parse(&name)
            .map(Some)
            .ok_or(UnknownStorageDriver(name));
    }
    Ok(match (storage_conf.driver, &storage_conf.mount_program) {
        (Some(StorageDriver::Overlay) | None, Some(_)) => Some(StorageDriver::FuseOverlay),
        (driver, _) => driver,
    })
}

/// How the command line asks for the store (`--root`, `--runroot`, `--storage-driver`), over
/// the configuration files loaded before any command runs.
pub struct StoreRequest {
    root: Option<PathBuf>,
    runroot: Option<PathBuf>,
    storage_driver: Option<String>,
    config: Config,
}

impl StoreRequest {
    /// Loads containers.conf and storage.conf (as Podman, a broken file stops every command
    /// before it does anything) and makes containers.conf's `[engine] env` skiff's own
    /// environment: to be called while skiff is still one thread.
    pub fn configured(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        storage_driver: Option<String>,
    ) -> Result<Self, ConfigError> {
        let config = Config::load()?;
        for entry in config.containers.engine.env.iter() {
            if let Some((key, value)) = entry.split_once('=') {
                std::env::set_var(key, value);
            }
        }
        Ok(StoreRequest {
            root,
            runroot,
            storage_driver,
            config,
        })
    }

    /// The context every command but `system check`, `reset` and `migrate` runs in.
    pub fn open(&self) -> anyhow::Result<Context> {
        let storage_driver =
            choose_storage_driver(self.storage_driver.as_deref(), &self.config.storage)?;
        let mut ctx = Context::open(self.root.clone(), self.runroot.clone(), self.config.clone())?;
        ctx.storage_driver = storage_driver;
        Ok(ctx)
    }

    /// [`Context::open_unchecked`]: for `system reset` and `system migrate`, which must open a
    /// store whose id mapping changed.
    pub fn open_unchecked(&self) -> anyhow::Result<Context> {
        Ok(Context::open_unchecked(
            self.root.clone(),
            self.runroot.clone(),
            self.config.clone(),
        )?)
    }

    /// Where the store is, without opening it (which a broken host may not allow).
    pub fn store_root(&self) -> PathBuf {
        Context::store_paths(self.root.clone(), self.runroot.clone(), &self.config).0
    }
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
        let mut store = Store::open(&root, &runroot)?;
        if let Some(path) = &config.containers.engine.events_logfile_path {
            store = store.with_events_log(path.clone());
        }
        let id_mapping = rootless.then(current_user_mapping);
        Ok(Context {
            store,
            id_mapping,
            config,
            storage_driver: None,
        })
    }

    /// The store and runtime directories: `--root`/`--runroot`, else where storage.conf puts
    /// them, else skiff's defaults ([`crate::paths::store_paths`] decides, for every caller).
    pub fn store_paths(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
        config: &Config,
    ) -> (PathBuf, PathBuf) {
        let location = StoreLocation {
            root_flag: root.as_deref(),
            runroot_flag: runroot.as_deref(),
            graphroot: config.storage.graphroot.as_deref(),
            runroot: config.storage.runroot.as_deref(),
        };
        paths::store_paths(location, Self::rootless())
    }

    /// The store a command line names, for shell completion: at the paths every command uses
    /// ([`Context::store_paths`], storage.conf included), and only when it exists already, so
    /// that completing never creates a store. Configuration that does not load counts as none.
    pub fn existing_store_names(
        root: Option<PathBuf>,
        runroot: Option<PathBuf>,
    ) -> Option<StoreNames> {
        let config = Config::load().unwrap_or_default();
        let (root, runroot) = Self::store_paths(root, runroot, &config);
        if !root.join("containers").is_dir() {
            return None;
        }
        Store::open(&root, &runroot)
            .ok()
            .map(|store| StoreNames { store })
    }

    /// The driver a new container records: the chosen one, overlay by default; the kernel's
    /// overlay only where it mounts, else skiff's own over FUSE, else (no usable /dev/fuse
    /// either) vfs, the last resort. A driver the user named is kept, to fail clearly.
    pub fn driver_for_new_container(&self) -> StorageDriver {
        match self.storage_driver {
            Some(chosen) => self.usable(chosen),
            None => match self.usable(StorageDriver::Overlay) {
                StorageDriver::FuseOverlay if !crate::runtime::fuse_server::available() => {
                    StorageDriver::Vfs
                }
                driver => driver,
            },
        }
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

    /// `events`: the store's event log, read and followed as [`crate::events::watch`] says.
    pub fn watch_events(
        &self,
        filters: &crate::events::filter::EventFilters,
        stream: bool,
        output: std::os::fd::BorrowedFd<'_>,
        sink: &mut dyn FnMut(&[crate::events::Event]) -> std::io::Result<()>,
    ) -> anyhow::Result<()> {
        crate::events::watch(&self.store, filters, stream, output, sink)
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

/// What shell completion offers from an existing store ([`Context::existing_store_names`]): names
/// only, read without a lock.
pub struct StoreNames {
    store: Store,
}

/// A container as completion offers it.
pub struct ContainerName {
    pub id: String,
    pub name: String,
}

/// An image as completion offers it.
pub struct ImageNames {
    pub id: String,
    pub names: Vec<String>,
}

impl StoreNames {
    /// The containers, every one (`running` None) or only those running (Some(true)) or not
    /// (Some(false)).
    pub fn containers(&self, running: Option<bool>) -> Vec<ContainerName> {
        let mut found = Vec::new();
        for id in self.store.container_ids() {
            if let Some(wanted) = running {
                let state = self.store.read_container_state(&id);
                if store::container_state::still_running(&state) != wanted {
                    continue;
                }
            }
            let Ok(record) = self.store.read_container(&id) else {
                continue;
            };
            found.push(ContainerName {
                id,
                name: record.name,
            });
        }
        found
    }

    /// The images with their names; none when the index does not read.
    pub fn images(&self) -> Vec<ImageNames> {
        let Ok(index) = store::images::ImageIndex::load(&self.store) else {
            return Vec::new();
        };
        index
            .images
            .into_iter()
            .map(|image| ImageNames {
                id: image.id,
                names: image.names,
            })
            .collect()
    }

    pub fn volumes(&self) -> Vec<String> {
        self.store
            .all_volumes()
            .into_iter()
            .map(|v| v.name)
            .collect()
    }

    pub fn networks(&self) -> Vec<String> {
        self.store
            .all_networks()
            .into_iter()
            .map(|n| n.name)
            .collect()
    }
}
