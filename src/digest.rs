//! sha256 digests, hex and random ids: the one place skiff hashes bytes or writes them as hex.
//! A digest is written as OCI writes it, `sha256:<64 lowercase hex>`. Uses nothing of skiff's.

use std::io::{Read, Write};

use sha2::Digest;

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The sha256 of some bytes, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// The hex part of a `sha256:<64 hex>` digest, or `None` when it is not one. Digests become file
/// names, so nothing else may pass.
pub fn hex_of_sha256_digest(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    let valid = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    valid.then_some(hex)
}

/// A sha256 computed piece by piece.
#[derive(Default, Clone)]
pub struct Sha256(sha2::Sha256);

impl Sha256 {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// `sha256:<hex>` of everything given.
    pub fn digest(self) -> String {
        format!("sha256:{}", self.hex())
    }

    /// The hex of everything given.
    pub fn hex(self) -> String {
        hex(&self.0.finalize())
    }
}

/// A writer that hashes and counts what passes through it to `inner`.
pub struct HashingWriter<W> {
    pub inner: W,
    pub hash: Sha256,
    /// The bytes written so far.
    pub count: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hash: Sha256::default(),
            count: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what is read through it from `inner`.
pub struct HashingReader<R> {
    pub inner: R,
    pub hash: Sha256,
    /// The bytes read so far.
    pub count: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: Sha256::default(),
            count: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// N bytes from the kernel's random source (zeros should /dev/urandom be unreadable, which a
/// working Linux never is).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes
}

/// A new 64-hex-digit id, as containers, networks and volumes get.
pub fn random_id() -> String {
    hex(&random_bytes::<32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_written_as_oci_writes_them() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut piecewise = Sha256::default();
        piecewise.update(b"ab");
        piecewise.update(b"c");
        assert_eq!(piecewise.digest(), sha256_digest(b"abc"));
    }

    #[test]
    fn only_a_full_sha256_digest_gives_its_hex() {
        let digest = sha256_digest(b"x");
        assert_eq!(hex_of_sha256_digest(&digest), Some(&digest[7..]));
        assert_eq!(hex_of_sha256_digest("sha256:../../etc"), None);
        assert_eq!(hex_of_sha256_digest(&digest.to_uppercase()), None);
        assert_eq!(hex_of_sha256_digest(&digest[7..]), None);
    }

    #[test]
    fn hashing_reader_and_writer_count_and_hash_what_passes() {
        let mut reader = HashingReader::new(&b"hello"[..]);
        let mut writer = HashingWriter::new(Vec::new());
        std::io::copy(&mut reader, &mut writer).unwrap();
        assert_eq!((reader.count, writer.count), (5, 5));
        assert_eq!(reader.hash.digest(), sha256_digest(b"hello"));
        assert_eq!(writer.hash.digest(), sha256_digest(b"hello"));
        assert_eq!(writer.inner, b"hello");
    }

    #[test]
    fn random_ids_differ() {
        assert_eq!(random_id().len(), 64);
        assert_ne!(random_id(), random_id());
    }
}
