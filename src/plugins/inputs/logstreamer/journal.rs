//! Heka's Logstreamer journal (§6.3): one JSON file per stream,
//! `{"seek": N, "file_name": "...", "last_hash": "<sha1>"}`, where `last_hash` is the SHA-1
//! of the 500 bytes ending at `seek` (left-padded with zero bytes when fewer precede it).
//! Heka journals resume here and ours resume in Heka.

use crate::atomic_file::AtomicFile;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes hashed before the saved position (Heka's LINEBUFFERLEN).
pub const HASH_WINDOW: u64 = 500;

/// A saved stream position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub seek: i64,
    pub file_name: PathBuf,
    pub last_hash: String,
}

/// SHA-1 (lowercase hex) of `window`, the bytes just before a position, left-padded with
/// zeros to 500 bytes.
pub fn hash_window(window: &[u8]) -> String {
    let window = &window[window.len().saturating_sub(HASH_WINDOW as usize)..];
    let mut hasher = Sha1::new();
    hasher.update(&[0u8; HASH_WINDOW as usize][..HASH_WINDOW as usize - window.len()]);
    hasher.update(window);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(40);
    for b in hasher.finalize() {
        hex.push(HEX[usize::from(b >> 4)] as char);
        hex.push(HEX[usize::from(b & 15)] as char);
    }
    hex
}

/// The hash of the 500 bytes of a plain file ending at `seek`; `None` if the file is
/// shorter than `seek`.
pub fn hash_at(file: &File, seek: u64) -> io::Result<Option<String>> {
    let start = seek.saturating_sub(HASH_WINDOW);
    let mut window = vec![0u8; (seek - start) as usize];
    let mut filled = 0;
    while filled < window.len() {
        let n = file.read_at(&mut window[filled..], start + filled as u64)?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
    }
    Ok(Some(hash_window(&window)))
}

/// The hash of the 500 bytes ending at `seek` of any stream (gzip: decompressed bytes),
/// reading from its start.
pub fn hash_of_stream(mut reader: impl Read, seek: u64) -> io::Result<Option<String>> {
    let start = seek.saturating_sub(HASH_WINDOW);
    let skipped = io::copy(&mut (&mut reader).take(start), &mut io::sink())?;
    if skipped < start {
        return Ok(None);
    }
    let mut window = Vec::with_capacity(HASH_WINDOW as usize);
    (&mut reader).take(seek - start).read_to_end(&mut window)?;
    if (window.len() as u64) < seek - start {
        return Ok(None);
    }
    Ok(Some(hash_window(&window)))
}

/// Reads a journal; `Ok(None)` when there is none, `Err` (with the path) when it is not
/// a journal.
pub fn read(path: &Path) -> Result<Option<Journal>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| format!("{}: not a Logstreamer journal: {e}", path.display()))
}

/// Writes a journal atomically (mode 0660), fsync'd when `sync`; `text` is a buffer kept
/// between writes.
pub fn write(
    file: &AtomicFile,
    journal: &Journal,
    text: &mut Vec<u8>,
    sync: bool,
) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    text.clear();
    serde_json::to_writer(&mut *text, journal).map_err(io::Error::other)?;
    file.replace(text, sync)?;
    let _ = std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o660));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/heka/logstreamer/testdir")
            .join(path)
    }

    #[test]
    fn hashes_match_hekas_vectors() {
        let short = File::open(fixture("shortlog/short.log")).expect("fixture");
        assert_eq!(
            hash_at(&short, 51).expect("read").as_deref(),
            Some("4a9ab34da77c10e87cb6566bbf061d9715985551")
        );
        let error = File::open(fixture("filehandling/2010/07/error.log.2")).expect("fixture");
        assert_eq!(
            hash_at(&error, 500).expect("read").as_deref(),
            Some("dc6d00ed4a287968635b8b5b96a505547e9161d3")
        );
        let whole = std::fs::read(fixture("filehandling/2010/07/error.log.2")).expect("fixture");
        assert_eq!(
            hash_of_stream(&whole[..], 500).expect("read"),
            hash_at(&error, 500).expect("read")
        );
        assert_eq!(hash_at(&short, 52).expect("read"), None, "past the end");
    }

    #[test]
    fn reads_hekas_journal() {
        let journal = read(&fixture("reader/location.json"))
            .expect("valid")
            .expect("present");
        assert_eq!(journal.seek, 1969);
        assert_eq!(
            journal.last_hash,
            "72781af95a1583690cc97548fdcf3bb0efbe3119"
        );
        let error = File::open(fixture("filehandling/2013/08/error.log")).expect("fixture");
        assert_eq!(
            hash_at(&error, 1969).expect("read").as_deref(),
            Some(journal.last_hash.as_str()),
            "the sample journal points at the end of 2013/08/error.log"
        );
    }
}
