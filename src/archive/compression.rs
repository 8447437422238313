//! Sniffing and undoing layer compression.
//!
//! Contract: `decompress` looks at the first bytes of a stream, never at a media type (registries
//! and archives mislabel layers), and returns a reader of the plain tar. gzip and zstd are read;
//! xz and bzip2, which Docker once accepted, are refused with `UnsupportedCompression` rather
//! than handed on as a tar that would fail obscurely.

use std::io::{Cursor, Read};

use super::Error;

/// How a layer blob is compressed, judged by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
/// The longest magic we compare against.
const SNIFF_LEN: usize = 6;

/// Classifies the start of a stream. Fewer bytes than a magic (an empty layer) count as plain.
pub fn sniff_compression(head: &[u8]) -> Result<Compression, Error> {
    if head.starts_with(GZIP_MAGIC) {
        Ok(Compression::Gzip)
    } else if head.starts_with(ZSTD_MAGIC) {
        Ok(Compression::Zstd)
    } else if head.starts_with(XZ_MAGIC) {
        Err(Error::UnsupportedCompression {
            format: "xz".to_string(),
        })
    } else if head.len() >= 4 && head.starts_with(b"BZh") && head[3].is_ascii_digit() {
        // "BZh" plus the block size digit: a tar whose first name merely starts with "BZh" is
        // still read as a tar.
        Err(Error::UnsupportedCompression {
            format: "bzip2".to_string(),
        })
    } else {
        Ok(Compression::None)
    }
}

/// Wraps a possibly compressed layer stream: sniffs the magic bytes (gzip 1f 8b, zstd 28 b5 2f fd,
/// else plain tar) and returns a reader of the uncompressed bytes.
pub fn decompress<'a, R: Read + 'a>(mut reader: R) -> Result<Box<dyn Read + 'a>, Error> {
    let head = read_head(&mut reader)?;
    let compression = sniff_compression(&head)?;
    // The sniffed bytes are put back in front of the rest of the stream.
    let whole = Cursor::new(head).chain(reader);
    Ok(match compression {
        Compression::None => Box::new(whole),
        // Multi-member: pigz and some registries write concatenated gzip members.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::new(whole)
                .map_err(|source| Error::io("starting zstd decompression", source))?,
        ),
    })
}

/// Reads up to `SNIFF_LEN` bytes, retrying short reads so a slow pipe is not mistaken for EOF.
fn read_head<R: Read>(reader: &mut R) -> Result<Vec<u8>, Error> {
    let mut head = Vec::with_capacity(SNIFF_LEN);
    reader
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|source| Error::io("reading layer header", source))?;
    Ok(head)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Allowed in tests by house style (STYLE.md 8).
mod tests {
    use super::*;
    use std::io::Write;

    const PAYLOAD: &[u8] = b"some tar bytes, or close enough for a stream test";

    fn read_all(reader: Box<dyn Read + '_>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut reader = reader;
        reader.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn reads_plain_gzip_and_zstd() {
        assert_eq!(read_all(decompress(PAYLOAD).unwrap()), PAYLOAD);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(PAYLOAD).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(read_all(decompress(gz.as_slice()).unwrap()), PAYLOAD);

        let zst = zstd::stream::encode_all(PAYLOAD, 3).unwrap();
        assert_eq!(read_all(decompress(zst.as_slice()).unwrap()), PAYLOAD);
    }

    #[test]
    fn empty_and_tiny_streams_are_plain() {
        assert!(read_all(decompress(&b""[..]).unwrap()).is_empty());
        assert_eq!(read_all(decompress(&b"\x1f"[..]).unwrap()), b"\x1f");
    }

    #[test]
    fn refuses_xz_and_bzip2() {
        let xz = [0xfd, b'7', b'z', b'X', b'Z', 0x00, 1, 2];
        assert!(matches!(
            decompress(&xz[..]),
            Err(Error::UnsupportedCompression { format }) if format == "xz"
        ));
        assert!(matches!(
            decompress(&b"BZh91AY&SY"[..]),
            Err(Error::UnsupportedCompression { format }) if format == "bzip2"
        ));
        assert_eq!(sniff_compression(b"BZhello").unwrap(), Compression::None);
    }
}
