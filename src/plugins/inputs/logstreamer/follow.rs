//! Following one stream (§6.3, §6.4): resume from the journal, read the current file to its
//! end, and move on when it was rotated.
//!
//! - rename+create and delete+recreate: the old file is read to a second end of file (so a
//!   writer still holding it has finished), then the next newer file is opened at 0;
//! - copytruncate and truncate in place: the file shrank under us. The last 500 bytes read
//!   are hashed and the stream's other files searched for the same bytes at the same offset
//!   (the copy); reading continues there without losing or repeating a line, then moves to
//!   the truncated file at 0. With no copy, the file is read again from its start.
//! - gzip files (magic 1F 8B) are read through a decompressor; offsets count decompressed
//!   bytes.

use super::discovery::Discovery;
use super::journal::{self, Journal, HASH_WINDOW};
use super::StreamFiles;
use crate::atomic_file::AtomicFile;
use crate::pipeline::ack::{AckTracker, Position};
use crate::pipeline::shutdown::Control;
use crate::plugins::inputs::{Decorator, Deliverer, InputShared, RouterClosed};
use flate2::read::MultiGzDecoder;
use smol::future::FutureExt;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Reads per wake-up before the journal is saved and other tasks get a turn.
const READS_PER_TURN: usize = 64;
/// How long shutdown waits for in-flight lines to be acknowledged before the last save.
const FINAL_ACK_WAIT: Duration = Duration::from_secs(5);
/// How long a rotated file must have gone unwritten before its end is taken as final:
/// copytruncate copies into the rotated name, and a copy that stalls (a slow disk, a
/// preempted copier) looks finished to a reader that is only at its end. Fluent Bit
/// waits 5 s (`Rotate_Wait`); a copy is done in far less.
const ROTATED_QUIET: Duration = Duration::from_secs(1);

/// Whether `path` was modified within `ROTATED_QUIET` (an unreadable time counts as not).
fn still_written(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < ROTATED_QUIET)
}

/// One follower's settings.
pub struct Settings {
    pub stream: String,
    pub hostname: String,
    pub journal_dir: PathBuf,
    pub check_interval: Duration,
    pub fsync_interval: Duration,
    pub initial_tail: bool,
}

/// An open log file, plain or gzip.
enum Reader {
    Plain(File),
    Gzip(Box<MultiGzDecoder<File>>),
}

impl Reader {
    fn open(path: &Path) -> io::Result<Reader> {
        let mut file = File::open(path)?;
        let mut magic = [0u8; 2];
        let n = file.read(&mut magic)?;
        file.seek(SeekFrom::Start(0))?;
        if n == 2 && magic == [0x1F, 0x8B] {
            return Ok(Reader::Gzip(Box::new(MultiGzDecoder::new(file))));
        }
        Ok(Reader::Plain(file))
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::Plain(f) => f.read(buf),
            Reader::Gzip(g) => g.read(buf),
        }
    }

    /// Moves to `offset` (gzip: by reading and discarding). False if the file is shorter.
    fn seek_to(&mut self, offset: u64) -> io::Result<bool> {
        match self {
            Reader::Plain(f) => {
                let len = f.metadata()?.len();
                f.seek(SeekFrom::Start(offset.min(len)))?;
                Ok(offset <= len)
            }
            Reader::Gzip(g) => Ok(io::copy(&mut g.take(offset), &mut io::sink())? == offset),
        }
    }

    fn plain(&self) -> Option<&File> {
        match self {
            Reader::Plain(f) => Some(f),
            Reader::Gzip(_) => None,
        }
    }
}

/// The hash of the 500 bytes of `path` ending at `seek`, for any kind of file.
fn hash_of(path: &Path, seek: u64) -> Option<String> {
    match Reader::open(path).ok()? {
        Reader::Plain(f) => journal::hash_at(&f, seek).ok().flatten(),
        Reader::Gzip(g) => journal::hash_of_stream(g, seek).ok().flatten(),
    }
}

fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

/// Times `resume` opens the oldest file again when rotations keep shifting the names
/// under it.
const RESUME_TRIES: usize = 10;

struct Current {
    file_id: u64,
    path: PathBuf,
    reader: Reader,
    identity: (u64, u64),
    /// Offset of the next byte to read.
    read_pos: u64,
    /// The last (up to 500) bytes read, ending at `read_pos`.
    window: Vec<u8>,
    eofs: u32,
    /// The files of the stream that came before this one when it was opened: if this
    /// file is deleted, every other file of the stream is newer (not yet read).
    older: Vec<(u64, u64)>,
}

impl Current {
    /// Whether the file shrank, or was rewritten past our position with other content
    /// (truncated and refilled between two looks): the bytes before our position changed.
    fn changed_under_us(&self) -> bool {
        let Some(file) = self.reader.plain() else {
            return false;
        };
        if file.metadata().is_ok_and(|m| m.len() < self.read_pos) {
            return true;
        }
        self.read_pos > 0
            && journal::hash_at(file, self.read_pos)
                .ok()
                .flatten()
                .is_some_and(|h| h != journal::hash_window(&self.window))
    }
}

/// A file that journal positions may refer to.
struct KnownFile {
    id: u64,
    path: PathBuf,
    /// Open plain file, to hash the bytes before a position (gzip: none).
    file: Option<File>,
    /// The file was truncated under us: its handle now shows other content, so positions
    /// in it can no longer be hashed (and must not be, or the journal would describe bytes
    /// that were never read).
    stale: bool,
}

/// Follows one stream.
pub struct Follower {
    s: Settings,
    deliverer: Deliverer,
    tracker: Arc<AckTracker>,
    files: Rc<RefCell<StreamFiles>>,
    discovery: Arc<Discovery>,
    control: Control,
    current: Option<Current>,
    next_file_id: u64,
    /// Files that positions still in flight refer to.
    known: Vec<KnownFile>,
    committed: Option<Position>,
    saved: Option<Position>,
    last_sync: Instant,
    /// The stream's journal, and the buffer its JSON is written into.
    journal: AtomicFile,
    journal_text: Vec<u8>,
}

impl Follower {
    pub fn new(
        s: Settings,
        shared: &InputShared,
        files: Rc<RefCell<StreamFiles>>,
        discovery: Arc<Discovery>,
        control: Control,
    ) -> Result<Follower, String> {
        let decorator = Decorator {
            r#type: Some("logfile".into()),
            hostname: Some(s.hostname.clone()),
            logger: Some(s.stream.clone()),
            severity: None,
            env_version: None,
            pid: None,
            fields: Vec::new(),
        };
        let mut deliverer = Deliverer::new(shared, Some(&s.stream), decorator)?;
        let tracker = AckTracker::new(shared.pool.size());
        deliverer.track(tracker.clone(), 0);
        deliverer.skip_oversized_tails();
        // The stream's name is the journal's file name ('/' would make it a path).
        let journal = AtomicFile::new(&s.journal_dir, &s.stream.replace('/', "_"));
        Ok(Follower {
            journal,
            journal_text: Vec::new(),
            s,
            deliverer,
            tracker,
            files,
            discovery,
            control,
            current: None,
            next_file_id: 0,
            known: Vec::new(),
            committed: None,
            saved: None,
            last_sync: Instant::now(),
        })
    }

    /// Reads the stream until shutdown.
    pub async fn run(mut self) {
        self.resume();
        loop {
            if self.control.is_stopping() {
                break;
            }
            let read = match self.read_available().await {
                Ok(n) => n,
                Err(RouterClosed) => break,
            };
            self.save_journal(false);
            if read > 0 {
                smol::future::yield_now().await;
                continue;
            }
            if self.at_end_of_file().await.is_err() {
                break;
            }
            let stopped = async {
                self.control.stopped().await;
            };
            stopped
                .or(async {
                    smol::Timer::after(self.s.check_interval).await;
                })
                .await;
        }
        let deadline = Instant::now() + FINAL_ACK_WAIT;
        while self.tracker.in_flight() > 0 && Instant::now() < deadline {
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        self.save_journal(true);
    }

    /// Opens the file and offset the journal names (§6.3), or the oldest file (or the
    /// end of the newest with `initial_tail`).
    fn resume(&mut self) {
        // The list the follower was spawned with may predate a rotation: opening its
        // "app.log" then would open the new file and skip the renamed one (a whole file
        // lost, seen under load in the rotation fault test).
        self.rescan();
        let files = self.files.borrow().files.clone();
        let name = &self.s.stream;
        let start = match journal::read(self.journal.path()) {
            Ok(Some(j)) => match locate(&j, &files) {
                Some(found) => Some(found),
                None => {
                    log::warn!(
                        "Logstreamer '{name}': journal position {} in {} not found in any file of the stream; reading it from its oldest file",
                        j.seek,
                        j.file_name.display()
                    );
                    None
                }
            },
            Ok(None) if self.s.initial_tail => files.last().map(|tip| {
                let len = std::fs::metadata(tip).map_or(0, |m| m.len());
                (tip.clone(), len)
            }),
            Ok(None) => None,
            Err(e) => {
                log::warn!("Logstreamer '{name}': {e}; reading the stream from its oldest file");
                None
            }
        };
        let from_oldest = start.is_none();
        let (path, offset) = match start {
            Some(s) => s,
            None => match files.first() {
                Some(oldest) => (oldest.clone(), 0),
                None => return,
            },
        };
        if !self.open(&path, offset, true) || !from_oldest {
            return;
        }
        // A rotation between listing the files and opening the oldest shifts the names:
        // the path may by then name a newer file, and the oldest would be skipped whole
        // (CI: 4,000 lines, the first file, in the rotation fault test). Listed again, the
        // file opened must still be the oldest.
        for _ in 0..RESUME_TRIES {
            self.rescan();
            let Some(oldest) = self.files.borrow().files.first().cloned() else {
                return;
            };
            let oldest_now = std::fs::metadata(&oldest).ok().map(|m| identity(&m));
            if oldest_now == self.current.as_ref().map(|c| c.identity) {
                return;
            }
            if !self.open(&oldest, 0, true) {
                return;
            }
        }
    }

    /// Makes `path` at `offset` the current file. `restart` empties the line buffer (a
    /// new stream position); otherwise the buffered partial line continues in this file.
    fn open(&mut self, path: &Path, offset: u64, restart: bool) -> bool {
        let opened = Reader::open(path).and_then(|mut reader| {
            // The file opened, not the one the path names a moment later (a rotation).
            let meta = match reader.plain() {
                Some(file) => file.metadata()?,
                None => std::fs::metadata(path)?,
            };
            let reached = reader.seek_to(offset)?;
            Ok((reader, identity(&meta), reached))
        });
        let (reader, identity, reached) = match opened {
            Ok(o) => o,
            Err(e) => {
                log::error!("Logstreamer '{}': {}: {e}", self.s.stream, path.display());
                return false;
            }
        };
        // A file shorter than the offset (it shrank since it was chosen) is read from 0.
        let (reader, offset) = match reached {
            true => (reader, offset),
            false => match Reader::open(path) {
                Ok(r) => (r, 0),
                Err(e) => {
                    log::error!("Logstreamer '{}': {}: {e}", self.s.stream, path.display());
                    return false;
                }
            },
        };
        let file_id = self.next_file_id;
        self.next_file_id += 1;
        let window = match &reader {
            Reader::Plain(f) => {
                let start = offset.saturating_sub(HASH_WINDOW);
                let mut w = vec![0u8; (offset - start) as usize];
                use std::os::unix::fs::FileExt;
                if f.read_exact_at(&mut w, start).is_err() {
                    w.clear();
                }
                w
            }
            Reader::Gzip(_) => Vec::new(),
        };
        let plain = reader.plain().and_then(|f| f.try_clone().ok());
        self.known.push(KnownFile {
            id: file_id,
            path: path.to_path_buf(),
            file: plain,
            stale: false,
        });
        if restart {
            self.deliverer.restart_at(file_id, offset);
        } else {
            self.deliverer.track(self.tracker.clone(), file_id);
        }
        let older = {
            let files = self.files.borrow();
            let before = files.files.iter().take_while(|f| f.as_path() != path);
            before
                .filter_map(|f| std::fs::metadata(f).ok().map(|m| (m.dev(), m.ino())))
                .collect()
        };
        self.current = Some(Current {
            file_id,
            path: path.to_path_buf(),
            reader,
            identity,
            read_pos: offset,
            window,
            eofs: 0,
            older,
        });
        true
    }

    /// Reads and delivers what the current file has; returns the bytes read.
    async fn read_available(&mut self) -> Result<u64, RouterClosed> {
        let mut total = 0u64;
        // Data after an end of file may belong to a file truncated and rewritten since.
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.eofs > 0 && c.changed_under_us())
        {
            self.relocate_after_truncation();
        }
        for _ in 0..READS_PER_TURN {
            let Some(cur) = self.current.as_mut() else {
                break;
            };
            let spare = self.deliverer.spare();
            let n = match cur.reader.read(spare) {
                Ok(n) => n,
                Err(e) => {
                    log::error!(
                        "Logstreamer '{}': reading {}: {e}",
                        self.s.stream,
                        cur.path.display()
                    );
                    0
                }
            };
            if n == 0 {
                break;
            }
            let data = &spare[..n];
            let keep = HASH_WINDOW as usize;
            if n >= keep {
                cur.window.clear();
                cur.window.extend_from_slice(&data[n - keep..]);
            } else {
                cur.window.extend_from_slice(data);
                let excess = cur.window.len().saturating_sub(keep);
                cur.window.drain(..excess);
            }
            cur.read_pos += n as u64;
            cur.eofs = 0;
            total += n as u64;
            self.deliverer.filled(n).await?;
        }
        Ok(total)
    }

    /// At the end of the current file: detect truncation and rotation (§6.4).
    async fn at_end_of_file(&mut self) -> Result<(), RouterClosed> {
        let Some(cur) = self.current.as_mut() else {
            // Nothing open yet (the stream's files were unreadable): try again.
            self.resume();
            return Ok(());
        };
        cur.eofs += 1;
        if cur.changed_under_us() {
            self.relocate_after_truncation();
            return Ok(());
        }
        if cur.eofs < 2 {
            return Ok(());
        }
        let at_path = std::fs::metadata(&cur.path).map(|m| identity(&m)).ok();
        let replaced = at_path != Some(cur.identity);
        let is_tip = self.files.borrow().files.last() == Some(&cur.path);
        if !replaced && is_tip {
            return Ok(());
        }
        if replaced {
            self.rescan();
        } else if still_written(&cur.path) {
            // A rotated file written within ROTATED_QUIET may be a copy still being made
            // (copytruncate): leaving it now would skip the rest of it.
            return Ok(());
        }
        match self.newer_file() {
            Some(next) => self.switch_to(&next).await,
            None => Ok(()),
        }
    }

    /// Refreshes this stream's file list now (a rotation was seen).
    fn rescan(&mut self) {
        let (streams, _) = self.discovery.scan(SystemTime::now());
        if let Some(found) = streams.into_iter().find(|s| s.name == self.s.stream) {
            let mut f = self.files.borrow_mut();
            if f.files != found.files {
                f.files = found.files;
                f.generation += 1;
            }
        }
    }

    /// The file to read after the current one, if there is one yet.
    fn newer_file(&self) -> Option<PathBuf> {
        let cur = self.current.as_ref()?;
        let files = self.files.borrow();
        let ours = files
            .files
            .iter()
            .position(|f| std::fs::metadata(f).is_ok_and(|m| identity(&m) == cur.identity));
        match ours {
            Some(i) => files.files.get(i + 1).cloned(),
            // Our file was deleted or renamed out of the stream: its successor is the
            // oldest file we have not read, which is not always the new file at our path
            // (a new file already rotated: app.log.1 before the empty app.log).
            None => files
                .files
                .iter()
                .find(|f| {
                    std::fs::metadata(f).is_ok_and(|m| {
                        let id = identity(&m);
                        id != cur.identity && !cur.older.contains(&id)
                    })
                })
                .cloned(),
        }
    }

    /// Moves to the start of the next file, delivering a last line that had no newline.
    async fn switch_to(&mut self, next: &Path) -> Result<(), RouterClosed> {
        let pending = self.deliverer.pending_bytes();
        if pending > 0 {
            log::debug!(
                "Logstreamer '{}': {pending} bytes without a final newline at the end of a rotated file",
                self.s.stream
            );
        }
        // Lines are records only once complete; a rotated file ends its last one.
        self.deliverer.flush_incomplete().await?;
        self.open(next, 0, true);
        Ok(())
    }

    /// The current file shrank: find the copy holding what we have not read, or start over.
    fn relocate_after_truncation(&mut self) {
        let Some(cur) = self.current.as_ref() else {
            return;
        };
        let (read_pos, ours, path) = (cur.read_pos, cur.identity, cur.path.clone());
        let hash = journal::hash_window(&cur.window);
        let left = cur.file_id;
        for k in self.known.iter_mut().filter(|k| k.id == left) {
            k.stale = true;
        }
        self.rescan();
        let files = self.files.borrow().files.clone();
        for candidate in files.iter().rev() {
            let same = std::fs::metadata(candidate).is_ok_and(|m| identity(&m) == ours);
            if same {
                continue;
            }
            if hash_of(candidate, read_pos).as_deref() == Some(hash.as_str()) {
                log::info!(
                    "Logstreamer '{}': {} was truncated; continuing in its copy {} at offset {read_pos}",
                    self.s.stream,
                    path.display(),
                    candidate.display()
                );
                self.open(candidate, read_pos, false);
                return;
            }
        }
        log::warn!(
            "Logstreamer '{}': {} was truncated and no copy was found; reading it again from the start",
            self.s.stream,
            path.display()
        );
        self.open(&path, 0, true);
    }

    /// Writes the journal for the committed position (changed, or `force` on stop).
    fn save_journal(&mut self, force: bool) {
        if let Some((p, _)) = self.tracker.committed() {
            self.committed = Some(p);
        }
        let Some((file_id, seek)) = self.committed else {
            return;
        };
        if self.saved == Some((file_id, seek)) {
            return;
        }
        let Some(known) = self.known.iter().find(|k| k.id == file_id && !k.stale) else {
            return;
        };
        let path = &known.path;
        let hash = match &known.file {
            Some(f) => journal::hash_at(f, seek).ok().flatten(),
            // Re-reading a compressed file is costly: only at shutdown.
            None if force => hash_of(path, seek),
            None => None,
        };
        let Some(last_hash) = hash else {
            return;
        };
        let entry = Journal {
            seek: seek as i64,
            file_name: path.clone(),
            last_hash,
        };
        let interval = self.s.fsync_interval;
        let sync = !interval.is_zero() && (force || self.last_sync.elapsed() >= interval);
        match journal::write(&self.journal, &entry, &mut self.journal_text, sync) {
            Ok(()) => {
                self.saved = Some((file_id, seek));
                if sync {
                    self.last_sync = Instant::now();
                }
                let current = self.current.as_ref().map(|c| c.file_id);
                self.known
                    .retain(|k| k.id >= file_id || Some(k.id) == current);
            }
            Err(e) => log::error!(
                "Logstreamer '{}': writing journal {}: {e}",
                self.s.stream,
                self.journal.path().display()
            ),
        }
    }
}

/// Where a journal's position is now (§6.3): the named file if its hash still matches,
/// else any file of the stream, newest first, with the same bytes before that offset.
fn locate(j: &Journal, files: &[PathBuf]) -> Option<(PathBuf, u64)> {
    let seek = u64::try_from(j.seek).ok()?;
    let named = files.iter().filter(|f| **f == j.file_name);
    for path in named.chain(files.iter().rev()) {
        if hash_of(path, seek).as_deref() == Some(j.last_hash.as_str()) {
            return Some((path.clone(), seek));
        }
    }
    None
}
