//! Filling new volumes with what the image has at their mount points (Docker's and Podman's
//! copy-up), done once, before the container first runs.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::container::{run_in_container_root, ContainerRoot};
use super::spec::ContainerSpec;
use super::Error;

/// Copies, for each `(path in the container, directory on the host)`, the image's files under
/// that path into the directory, keeping owners and modes. It runs in a child whose root is the
/// container's union (read-only) so that a symlink in the image resolves inside it; the host
/// directories are reached through descriptors opened here, by relative paths only.
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
                copy_children(source, Path::new("."))
                    .map_err(|e| format!("copying {inside} into its volume: {e}"))?;
            }
            Ok(())
        },
        || Ok(()),
    )
}

/// Copies what `source` holds into `destination` (relative to the working directory, which is
/// the volume: nothing here follows a symlink out of it, since every name below it was made
/// here).
fn copy_children(source: &Path, destination: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let from = entry.path();
        let to = destination.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&from)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&to)?;
            copy_children(&from, &to)?;
        } else if kind.is_file() {
            std::fs::copy(&from, &to)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else {
            // Devices, sockets and fifos have no place in a volume's seed.
            continue;
        }
        lchown(&to, Some(meta.uid()), Some(meta.gid()))?;
        if !kind.is_symlink() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}
