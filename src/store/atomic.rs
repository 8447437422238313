//! Atomic file replacement: temporary file in the same directory, fsync, rename, fsync the
//! directory. Without the fsyncs a crash can leave an empty file under the final name.

use std::io::Write;
use std::path::Path;

use super::{io_error, Error};

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(io_error(format!(
            "creating a temporary file in {}",
            dir.display()
        )))?;
    temp.write_all(bytes)
        .map_err(io_error(format!("writing {}", path.display())))?;
    temp.as_file()
        .sync_all()
        .map_err(io_error(format!("syncing {}", path.display())))?;
    temp.persist(path).map_err(|e| Error::Io {
        context: format!("renaming into {}", path.display()),
        source: e.error,
    })?;
    fsync_dir(dir)
}

pub fn fsync_dir(dir: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(format!("syncing directory {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
