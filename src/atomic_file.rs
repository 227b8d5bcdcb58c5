//! A small file replaced atomically, for state written while hekad runs (Logstreamer
//! journals, TcpOutput's saved unacknowledged bytes).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A small file replaced atomically (write a temporary, optional fsync, rename), so a crash
/// leaves either the old or the new file, never a torn one. Its paths are built once: a
/// replacement allocates nothing, which matters for files rewritten every few messages.
pub struct AtomicFile {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
}

impl AtomicFile {
    /// The file `name` in `dir`.
    pub fn new(dir: &Path, name: &str) -> AtomicFile {
        AtomicFile {
            dir: dir.to_owned(),
            path: dir.join(name),
            tmp: dir.join(format!(".{name}.tmp")),
        }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with `contents`, fsync'd (file and directory) when `sync`.
    pub fn replace(&self, contents: &[u8], sync: bool) -> io::Result<()> {
        let mut file = File::create(&self.tmp)?;
        file.write_all(contents)?;
        if sync {
            file.sync_data()?;
        }
        drop(file);
        fs::rename(&self.tmp, &self.path)?;
        if sync {
            File::open(&self.dir)?.sync_all()?;
        }
        Ok(())
    }
}
