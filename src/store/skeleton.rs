//! Mount-point skeletons: small read-only directories holding, empty, the places where the
//! runtime mounts the standard file systems and the generated /etc files. Put under a kernel
//! overlay's image layers as its lowest layer, a skeleton gives every image that lacks one of
//! those places an empty one to mount on, so the overlay creates nothing in the container's
//! upper directory. Creating and removing those entries on each start was most of the
//! filesystem work of a `run --rm` (on ext4 without a journal, allocating an inode scans past
//! every inode freed in the last seconds). Skeletons depend only on the list of places, so a
//! handful serves every container; each is made once, whole, by a rename.

use std::path::{Path, PathBuf};

use sha2::Digest;

use super::{hex, io_error, Error, Store};

impl Store {
    /// The skeleton holding directories `dirs` and empty files `files` (paths relative to the
    /// container's root), made now if it is not there yet.
    pub fn mount_point_skeleton(
        &self,
        dirs: &[PathBuf],
        files: &[PathBuf],
    ) -> Result<PathBuf, Error> {
        let listing: Vec<String> = dirs
            .iter()
            .map(|d| format!("d {}", d.display()))
            .chain(files.iter().map(|f| format!("f {}", f.display())))
            .collect();
        let key = hex(&sha2::Sha256::digest(listing.join("\n").as_bytes()));
        let skeleton = self.root().join("skeletons").join(&key[..16]);
        if skeleton.is_dir() {
            return Ok(skeleton);
        }
        let staged = self.staging_path("skeleton");
        let made = fill(&staged, dirs, files).and_then(|()| {
            std::fs::create_dir_all(self.root().join("skeletons"))?;
            std::fs::rename(&staged, &skeleton)
        });
        match made {
            Ok(()) => Ok(skeleton),
            // Another start made it first.
            Err(_) if skeleton.is_dir() => {
                let _ = std::fs::remove_dir_all(&staged);
                Ok(skeleton)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staged);
                Err(io_error(format!("making {}", skeleton.display()))(e))
            }
        }
    }
}

fn fill(root: &Path, dirs: &[PathBuf], files: &[PathBuf]) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    for dir in dirs {
        std::fs::create_dir_all(root.join(dir))?;
    }
    for file in files {
        let path = root.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::File::create(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skeleton_is_made_once_per_list_of_places() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root"), &dir.path().join("run")).unwrap();
        let dirs = [PathBuf::from("proc"), PathBuf::from("dev")];
        let files = [PathBuf::from("etc/hosts")];
        let first = store.mount_point_skeleton(&dirs, &files).unwrap();
        assert!(first.join("proc").is_dir());
        assert!(first.join("etc/hosts").is_file());
        assert_eq!(std::fs::metadata(first.join("etc/hosts")).unwrap().len(), 0);
        assert_eq!(store.mount_point_skeleton(&dirs, &files).unwrap(), first);
        let other = store.mount_point_skeleton(&dirs, &[]).unwrap();
        assert_ne!(other, first);
        assert!(!other.join("etc").exists());
    }
}
