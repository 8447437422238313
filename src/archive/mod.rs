//! TEMPORARY STAND-IN (not committed): replaced by the archive branch.
use std::io::Read;
use std::path::{Path, PathBuf};
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Other(String),
}
pub fn decompress<'a, R: Read + 'a>(reader: R) -> Result<Box<dyn Read + 'a>, Error> {
    Ok(Box::new(reader))
}
pub struct ApplyOptions {
    pub skip_devices: bool,
}
pub struct ApplyStats {
    pub entries: u64,
    pub bytes: u64,
    pub skipped_devices: u64,
}
pub fn apply_layer<R: Read>(r: R, dest: &Path, _o: &ApplyOptions) -> Result<ApplyStats, Error> {
    let mut a = tar::Archive::new(r);
    a.set_preserve_ownerships(true);
    a.set_preserve_permissions(true);
    a.unpack(dest).map_err(|e| Error::Other(e.to_string()))?;
    Ok(ApplyStats {
        entries: 0,
        bytes: 0,
        skipped_devices: 0,
    })
}
pub struct ArchiveImage {
    pub config: Vec<u8>,
    pub manifest: Option<Vec<u8>>,
    pub layers: Vec<ArchiveLayer>,
    pub names: Vec<String>,
}
pub struct ArchiveLayer {
    pub media_type: Option<String>,
    pub digest: Option<String>,
}
pub struct ImageArchive {
    images: Vec<ArchiveImage>,
}
impl ImageArchive {
    pub fn open(_p: &Path) -> Result<Self, Error> {
        Err(Error::Other("stand-in".into()))
    }
    pub fn images(&self) -> &[ArchiveImage] {
        &self.images
    }
    pub fn open_layer(&self, _l: &ArchiveLayer) -> Result<std::io::Empty, Error> {
        Ok(std::io::empty())
    }
}
pub struct SaveImage<'a> {
    pub config: &'a [u8],
    pub manifest: Option<&'a [u8]>,
    pub names: Vec<String>,
    pub layers: Vec<SaveLayer>,
}
#[derive(Clone)]
pub struct SaveLayer {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
    pub path: PathBuf,
    pub diff_id: String,
}
pub fn write_docker_archive<W: std::io::Write>(_o: W, _i: &[SaveImage]) -> Result<(), Error> {
    Err(Error::Other("stand-in".into()))
}
pub fn write_oci_archive<W: std::io::Write>(_o: W, _i: &[SaveImage]) -> Result<(), Error> {
    Err(Error::Other("stand-in".into()))
}
