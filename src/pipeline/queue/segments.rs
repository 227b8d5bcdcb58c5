//! The on-disk layout of a disk queue (§4.6): `<N>.log` segment files of Heka frames and a
//! `checkpoint.txt` holding `"<N> <offset>"`, the position after the last delivered record.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file of segment `id`.
pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id}.log"))
}

/// Every segment in `dir` as `(id, length)`, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, u64)>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        segments.push((id, len));
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Why a checkpoint could not be used.
#[derive(Debug)]
pub enum CheckpointError {
    Missing,
    Unreadable(String),
}

/// Whether the segment at `path` was written by hekad: a frame header signed by the
/// queue's checksum is among its first 64 KiB (a queue Heka wrote has unsigned frames).
/// In such a segment the reader refuses unsigned frames, which only message bytes that
/// look like a frame, next to a damaged one, can produce. Looked for past the first
/// frame, as that one may be the damaged one.
pub fn written_by_hekad(path: &Path) -> bool {
    use std::io::Read;
    const LOOK: u64 = 64 * 1024;
    let mut start = Vec::new();
    let read = File::open(path).and_then(|f| f.take(LOOK).read_to_end(&mut start));
    if read.is_err() {
        return false;
    }
    // The header's signer field (tag 4, length, name) and the key version's tag (5).
    let signer = super::QUEUE_SIGNER.as_bytes();
    let mut field = vec![0x22, signer.len() as u8];
    field.extend_from_slice(signer);
    field.push(0x28);
    memchr::memmem::find(&start, &field).is_some()
}

/// Whether everything in the segments was read: nothing is queued, or the checkpoint is
/// at the end of the last segment holding anything. Such a queue is caught up from the
/// start, so the first messages may pass straight to the plugin.
pub fn nothing_unread(dir: &Path, segments: &[(u64, u64)]) -> bool {
    if segments.iter().all(|s| s.1 == 0) {
        return true;
    }
    let Ok((id, offset)) = read_checkpoint(dir) else {
        return false;
    };
    segments
        .iter()
        .all(|&(n, len)| n < id || len == 0 || (n == id && len <= offset))
}

/// Reads `checkpoint.txt`.
pub fn read_checkpoint(dir: &Path) -> Result<(u64, u64), CheckpointError> {
    let path = dir.join("checkpoint.txt");
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(CheckpointError::Missing),
        Err(e) => {
            return Err(CheckpointError::Unreadable(format!(
                "{}: {e}",
                path.display()
            )))
        }
    };
    // Created but never written (a crash between the two): as good as missing.
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(CheckpointError::Missing);
    }
    let parsed = std::str::from_utf8(&text).ok().and_then(|t| {
        let mut parts = t.split_whitespace();
        let id = parts.next()?.parse().ok()?;
        let offset = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some((id, offset))
    });
    parsed.ok_or_else(|| {
        let shown = &text[..text.len().min(32)];
        CheckpointError::Unreadable(format!(
            "{}: expected \"<segment> <offset>\", found \"{}\"",
            path.display(),
            shown.escape_ascii()
        ))
    })
}

/// A queue's `checkpoint.txt`, rewritten in place: one fixed-size `pwrite` at offset 0
/// (and `fdatasync` when asked). A record that small sits in one disk sector, so a crash
/// leaves the old or the new position; a garbled one would only replay from the oldest
/// segment (duplicates, never loss). Unlike write-and-rename, which costs an inode, a
/// directory update and, on ext4, a forced writeback each time, this is one system call:
/// checkpoints are written every `cursor_update_count` messages.
pub struct CheckpointFile {
    path: PathBuf,
    file: Option<File>,
}

/// Bytes of a checkpoint record: `"<segment> <offset>"`, space-padded, then a newline.
const CHECKPOINT_LEN: usize = 48;

impl CheckpointFile {
    /// The checkpoint of the queue in `dir` (opened at the first write).
    pub fn new(dir: &Path) -> CheckpointFile {
        CheckpointFile {
            path: dir.join("checkpoint.txt"),
            file: None,
        }
    }

    /// Records `(segment, offset)`, fsync'd when `sync`.
    pub fn write(&mut self, (id, offset): (u64, u64), sync: bool) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let mut text = [b' '; CHECKPOINT_LEN];
        let mut cursor = io::Cursor::new(&mut text[..CHECKPOINT_LEN - 1]);
        write!(cursor, "{id} {offset}")?;
        text[CHECKPOINT_LEN - 1] = b'\n';
        if self.file.is_none() {
            let file = fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&self.path)?;
            // A longer file (another writer's format) must not leave a tail behind.
            file.set_len(CHECKPOINT_LEN as u64)?;
            self.file = Some(file);
        }
        let Some(file) = &self.file else {
            return Ok(());
        };
        file.write_all_at(&text, 0)?;
        if sync {
            file.sync_data()?;
        }
        Ok(())
    }
}
