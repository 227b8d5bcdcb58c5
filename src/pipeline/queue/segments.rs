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

/// Replaces `name` in `dir` with `contents` atomically (write, optional fsync, rename), so
/// a crash leaves either the old or the new file, never a torn one.
pub fn replace_file(dir: &Path, name: &str, contents: &[u8], sync: bool) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(contents)?;
    if sync {
        file.sync_data()?;
    }
    drop(file);
    fs::rename(&tmp, dir.join(name))?;
    if sync {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `checkpoint.txt`.
pub fn write_checkpoint(dir: &Path, (id, offset): (u64, u64), sync: bool) -> io::Result<()> {
    replace_file(
        dir,
        "checkpoint.txt",
        format!("{id} {offset}").as_bytes(),
        sync,
    )
}
