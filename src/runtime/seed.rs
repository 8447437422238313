//! Filling new volumes with what the image has at their mount points (Docker's and Podman's
//! copy-up), done once, before the container first runs.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::error::Error;
use super::namespace_work::{run_in_container_root, ContainerRoot};
use super::spec::ContainerSpec;

/// Copies, for each `(path in the container, directory on the host)`, the image's files under
/// that path into the directory, as it is there (owners, modes, times, attributes). It runs in a
/// child whose root is the container's union (read-only) so that a symlink in the image resolves
/// inside it; each host directory is its working directory, entered through a descriptor opened
/// here, and written by relative paths only, none of which can be a symlink the copy did not make.
pub fn seed_from_image(spec: &ContainerSpec, seeds: &[(String, PathBuf)]) -> Result<(), Error> {
    let mut targets = Vec::new();
    for (inside, host_dir) in seeds {
        let dir = std::fs::File::open(host_dir)
            .map(OwnedFd::from)
            .map_err(|source| Error::Sys {
                context: format!("opening {}", host_dir.display()),
                source,
            })?;
        targets.push((inside.clone(), dir));
    }
    run_in_container_root(
        ContainerRoot::Mounted {
            spec,
            writable: false,
        },
        move || {
            for (inside, dir) in &targets {
                let source = Path::new(inside);
                if !std::fs::symlink_metadata(source).is_ok_and(|m| m.is_dir()) {
                    continue;
                }
                nix::unistd::fchdir(dir.as_fd()).map_err(|e| format!("entering a volume: {e}"))?;
                super::fstree::copy_tree(source, Path::new("."), &|uid, gid| (uid, gid))
                    .map_err(|e| format!("copying {inside} into its volume: {e}"))?;
            }
            Ok(())
        },
        || Ok(()),
    )
}
