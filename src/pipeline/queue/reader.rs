//! The reading side of a disk queue: feeds the plugin from the checkpointed position, moves
//! the checkpoint as the plugin finishes with messages (`cursor_update_count`), deletes
//! segments once the checkpoint has left them, and survives damage: a missing or garbled
//! checkpoint replays from the oldest segment (duplicates, never loss), a checkpoint past
//! the end of a shortened segment moves on, and torn or flipped frames are skipped, logged
//! with their segment and offset, and counted in `QueueCorruptBytes`.
//!
//! Messages the writer passed straight through (see `writer.rs`) arrive on the `direct`
//! ring. Each of them is older than every record still unread on disk (the writer passes
//! one only while nothing written is unread), so the ring is always emptied first; a
//! record read from disk while the ring fills waits in `stashed` until the ring is empty.

use super::handoff::WrittenBatch;
use super::{segments, Queue, QUEUE_SIGNER};
use crate::diagnostics::escaped_prefix;
use crate::pipeline::ack::{AckToken, AckTracker, Position};
use crate::pipeline::deadline::Deadline;
use crate::pipeline::pool::{PackPool, PooledPack, SharedPack};
use crate::pipeline::ring::Receiver;
use crate::pipeline::stats::PluginStats;
use crate::splitters::buffer::{Next, SplitterBuffer};
use crate::splitters::heka_framing::HekaFramingSplitter;
use crate::splitters::{Splitter, Unframed};
use smol::future::FutureExt;
use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest wait for the writer before looking at the segment files again.
const POLL: Duration = Duration::from_millis(500);
const READ_BUFFER: usize = 64 * 1024;
/// Shortest time between two checkpoint writes made only because the queue went idle.
const IDLE_CHECKPOINT: Duration = Duration::from_millis(100);

/// The reader has delivered everything and the writer has stopped.
#[derive(Debug)]
pub struct Closed;

/// Reads a queue for its plugin.
pub struct QueueReader {
    queue: Arc<Queue>,
    pool: PackPool,
    tracker: Arc<AckTracker>,
    writer: Receiver<()>,
    /// Messages the writer passed straight through.
    direct: Option<Receiver<SharedPack>>,
    /// A record read from disk that must wait for the direct messages older than it.
    stashed: RefCell<Option<SharedPack>>,
    state: RefCell<ReadState>,
    /// Bounds a wait for the writer to [`POLL`].
    poll: Deadline,
}

struct ReadState {
    id: u64,
    file: Option<File>,
    /// The file's read offset is behind `buffer.offset()`: records came from the writer's
    /// hand-off instead.
    file_behind: bool,
    /// The writer's batch being read (see `handoff.rs`).
    written: Option<WrittenBatch>,
    buffer: SplitterBuffer,
    splitter: HekaFramingSplitter,
    /// The position `checkpoint.txt` holds.
    checkpoint: Position,
    /// The committed position (everything before it was delivered).
    committed: Position,
    /// Cursor advances since the checkpoint was written.
    advances: u64,
    last_write: Instant,
    last_sync: Instant,
    checkpoint_file: segments::CheckpointFile,
}

/// Why the checkpoint is being considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// While messages flow: every `cursor_update_count` advances or on a segment change.
    Busy,
    /// The queue is empty: also when the last write is a moment old.
    Idle,
    /// The reader stops: always.
    Final,
}

enum Fill {
    Filled,
    /// Everything written so far was read.
    Empty,
    /// A segment could not be read; its data stays on disk.
    Unreadable,
    Closed,
}

impl QueueReader {
    /// Opens the queue at its checkpoint. `in_flight` packs can be out with the plugin;
    /// `direct` brings the messages the writer passes straight through.
    pub fn open(
        queue: Arc<Queue>,
        writer: Receiver<()>,
        direct: Option<Receiver<SharedPack>>,
        in_flight: usize,
    ) -> io::Result<QueueReader> {
        let dir = queue.settings.dir.clone();
        let list = segments::list(&dir)?;
        let oldest = list.first().map_or(1, |s| s.0);
        let start = match segments::read_checkpoint(&dir) {
            Ok(position) => position,
            // No checkpoint and nothing queued before this run: a fresh queue.
            Err(segments::CheckpointError::Missing)
                if list.iter().rev().skip(1).all(|s| s.1 == 0) =>
            {
                (oldest, 0)
            }
            Err(e) => {
                let why = match e {
                    segments::CheckpointError::Missing => "checkpoint.txt is missing".to_owned(),
                    segments::CheckpointError::Unreadable(why) => why,
                };
                log::warn!(
                    "Plugin '{}' queue: {why}; replaying from the oldest segment ({oldest}.log), so some messages may be delivered twice",
                    queue.name
                );
                (oldest, 0)
            }
        };
        // Resume in the checkpointed segment, or the first one after it that exists.
        let (id, offset) = match list.iter().find(|s| s.0 >= start.0) {
            Some(&(id, len)) if id == start.0 => {
                if start.1 > len {
                    log::warn!(
                        "Plugin '{}' queue: checkpoint offset {} is past the end of {id}.log ({len} bytes); continuing after it",
                        queue.name,
                        start.1
                    );
                }
                (id, start.1.min(len))
            }
            Some(&(id, _)) => (id, 0),
            None => (start.0, 0),
        };
        let max = queue.settings.max_message_size;
        let splitter = HekaFramingSplitter::new(max)
            .with_checksum(&format!("{QUEUE_SIGNER}_{}", super::QUEUE_CHECKSUM_VERSION))
            .with_key(
                &format!("{QUEUE_SIGNER}_{}", super::LEGACY_QUEUE_KEY_VERSION),
                super::LEGACY_QUEUE_KEY.as_bytes(),
            );
        let record = crate::framing::max_record_size(max);
        let reader = QueueReader {
            pool: PackPool::new(in_flight, 0),
            tracker: AckTracker::new(in_flight),
            writer,
            direct,
            stashed: RefCell::new(None),
            poll: Deadline::new(),
            state: RefCell::new(ReadState {
                id,
                file: None,
                file_behind: false,
                written: None,
                buffer: SplitterBuffer::new(READ_BUFFER.min(record), record, false),
                splitter,
                checkpoint: (id, offset),
                committed: (id, offset),
                advances: 0,
                last_write: Instant::now(),
                last_sync: Instant::now(),
                checkpoint_file: segments::CheckpointFile::new(&queue.settings.dir),
            }),
            queue,
        };
        reader.delete_before(id);
        reader.seek((id, offset))?;
        // Everything from the checkpoint on is unread until this reader finds the end. A
        // queue with nothing unread is caught up from the start, so the first messages can
        // pass straight through even before the plugin first asks for one (on a loaded
        // machine the input can be quicker: every message of a burst was queued on disk).
        let written = reader.queue.batches_written.load(Ordering::Acquire);
        let caught_up = match reader.at_end() {
            true => written,
            false => u64::MAX,
        };
        reader
            .queue
            .caught_up_with
            .store(caught_up, Ordering::Release);
        Ok(reader)
    }

    fn seek(&self, (id, offset): Position) -> io::Result<()> {
        let mut st = self.state.borrow_mut();
        st.id = id;
        st.file = None;
        st.file_behind = false;
        st.buffer.restart_at(offset);
        let path = segments::segment_path(&self.queue.settings.dir, id);
        st.splitter
            .set_signed_only(segments::written_by_hekad(&path));
        match File::open(&path) {
            Ok(mut file) => {
                file.seek(SeekFrom::Start(offset))?;
                st.file = Some(file);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The next message, waiting for the writer when the queue is empty.
    pub async fn recv(&self) -> Result<SharedPack, Closed> {
        loop {
            if let Some(pack) = self.take_direct_or_stashed() {
                return Ok(pack);
            }
            if !self.queue.drained() {
                let Some(mut pack) = self.pool.acquire().await else {
                    return Err(Closed);
                };
                match self.fill_from_disk(&mut pack) {
                    Fill::Filled => return Ok(self.after_older_direct(pack.into_shared())),
                    Fill::Closed => return self.take_direct_or_stashed().ok_or(Closed),
                    Fill::Empty | Fill::Unreadable => {}
                }
            }
            self.commit(Commit::Idle);
            if self.writer.is_closed() {
                if self.queue.drained() {
                    // Everything written was read and nothing more will come.
                    return self.take_direct_or_stashed().ok_or(Closed);
                }
                // Nothing will wake us: look again after a pause, never spin.
                self.poll.within(POLL).await;
                continue;
            }
            let direct = async {
                match &self.direct {
                    Some(direct) => direct.ready().await,
                    None => std::future::pending().await,
                }
            };
            let written = async {
                let _ = self.writer.recv().await;
            };
            let polled = self.poll.within(POLL);
            direct.or(written).or(polled).await;
        }
    }

    /// The next message if one is ready now.
    pub fn try_recv(&self) -> Option<SharedPack> {
        if let Some(pack) = self.take_direct_or_stashed() {
            return Some(pack);
        }
        if self.queue.drained() {
            return None;
        }
        let mut pack = self.pool.try_acquire()?;
        match self.fill_from_disk(&mut pack) {
            Fill::Filled => Some(self.after_older_direct(pack.into_shared())),
            _ => None,
        }
    }

    /// Whether `token` completes a message read from this queue's files (not one passed
    /// straight through from its source).
    pub fn owns(&self, token: &AckToken) -> bool {
        token.is_from(&self.tracker)
    }

    /// The queue's settings (TcpOutput saves unacknowledged bytes in its directory).
    pub fn settings(&self) -> &super::QueueSettings {
        &self.queue.settings
    }

    /// Whether the writer has stopped and everything was read.
    pub fn is_closed(&self) -> bool {
        self.writer.is_closed()
            && self.direct.as_ref().is_none_or(|d| d.is_empty())
            && self.stashed.borrow().is_none()
            && self.at_end()
    }

    /// A message passed straight through, or else the disk record that waited for them.
    fn take_direct_or_stashed(&self) -> Option<SharedPack> {
        if let Some(pack) = self.take_direct() {
            return Some(pack);
        }
        self.stashed.borrow_mut().take()
    }

    fn take_direct(&self) -> Option<SharedPack> {
        let direct = self.direct.as_ref()?;
        let _taking = self.queue.taking_direct();
        direct.try_recv().ok()
    }

    /// `from_disk`, unless direct messages arrived while it was read: they are older
    /// (passed before it was written), so they go first and it waits.
    fn after_older_direct(&self, from_disk: SharedPack) -> SharedPack {
        match self.take_direct() {
            None => from_disk,
            Some(older) => {
                *self.stashed.borrow_mut() = Some(from_disk);
                older
            }
        }
    }

    /// Reads the next record; when there is none, records that the reader has caught up
    /// with every batch written before it looked.
    fn fill_from_disk(&self, pack: &mut PooledPack) -> Fill {
        let written = self.queue.batches_written.load(Ordering::Acquire);
        let fill = self.fill(pack);
        if matches!(fill, Fill::Empty) {
            self.queue.caught_up_with.store(written, Ordering::Release);
        }
        fill
    }

    fn at_end(&self) -> bool {
        let st = self.state.borrow();
        st.buffer.remaining().is_empty() && self.next_segment(st.id).is_none() && {
            let path = segments::segment_path(&self.queue.settings.dir, st.id);
            let len = std::fs::metadata(path).map_or(0, |m| m.len());
            st.buffer.offset() >= len
        }
    }

    fn next_segment(&self, id: u64) -> Option<u64> {
        // The common case, a reader caught up with its writer, costs no system call.
        if id == self.queue.writing() && !self.writer.is_closed() {
            return None;
        }
        let dir = &self.queue.settings.dir;
        if segments::segment_path(dir, id + 1).exists() {
            return Some(id + 1);
        }
        segments::list(dir)
            .ok()?
            .into_iter()
            .map(|s| s.0)
            .find(|&n| n > id)
    }

    /// Reads the next intact record into `pack`.
    fn fill(&self, pack: &mut PooledPack) -> Fill {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        loop {
            if st.buffer.remaining().is_empty() && self.take_written(st, pack) {
                return Fill::Filled;
            }
            let garbage_before = st.buffer.garbage_bytes();
            let next = st.buffer.next_record(&mut st.splitter);
            let garbage = st.buffer.garbage_bytes() - garbage_before;
            if garbage > 0 {
                self.corrupt(st.id, st.buffer.offset(), garbage, "bytes between frames");
            }
            match next {
                Next::Record(range) => {
                    let end = st.buffer.offset();
                    let record = &st.buffer.data()[range.clone()];
                    let why = match st.splitter.unframe(record) {
                        Unframed::Message { bytes, signer } => {
                            if signer == Some(QUEUE_SIGNER) {
                                // Proof enough that hekad wrote this segment (its first
                                // frame may have been damaged).
                                st.splitter.set_signed_only(true);
                            }
                            pack.msg.clear();
                            pack.msg.extend_from_slice(bytes);
                            match pack.reindex() {
                                Ok(_) => {
                                    pack.set_ack(self.tracker.register((st.id, end)));
                                    return Fill::Filled;
                                }
                                Err(e) => {
                                    format!("invalid message ({e}): {}", escaped_prefix(bytes))
                                }
                            }
                        }
                        Unframed::Rejected { reason } => reason.to_owned(),
                    };
                    // A damaged length may have made this frame swallow the frames after
                    // it: read again from the next frame start inside it, as inputs do
                    // (`deliver.rs`), so only the damaged frame is lost.
                    let record_at = end - record.len() as u64;
                    if let Some(at) = st.splitter.resync(record) {
                        st.buffer.rewind_to(range.start + at);
                    }
                    let skipped_to = st.buffer.offset();
                    self.corrupt(st.id, skipped_to, skipped_to - record_at, &why);
                    self.tracker.consumed((st.id, skipped_to));
                    continue;
                }
                Next::Oversized { error, .. } => {
                    self.corrupt(st.id, st.buffer.offset(), 0, &error);
                    continue;
                }
                Next::NeedData => {}
            }
            let writer_done = self.writer.is_closed();
            match read_into(st) {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    log::error!(
                        "Plugin '{}' queue: reading segment {}: {e}",
                        self.queue.name,
                        st.id
                    );
                    // The data stays on disk for the next start.
                    return if writer_done {
                        Fill::Closed
                    } else {
                        Fill::Unreadable
                    };
                }
            }
            // End of this segment. A newer one exists only once this one is complete.
            let next = self.next_segment(st.id);
            let complete = next.is_some() || writer_done || self.queue.writing() != st.id;
            if !complete {
                return Fill::Empty;
            }
            if matches!(read_into(st), Ok(n) if n > 0) {
                continue;
            }
            if !st.buffer.remaining().is_empty() {
                // A frame cut short: torn by a crash, or a damaged length reaching past
                // the end. Read again from its second byte, so intact frames inside it
                // (a damaged length's followers) are still found.
                st.buffer.skip(1);
                let why = "incomplete frame at end of segment, reading on inside it";
                self.corrupt(st.id, st.buffer.offset(), 1, why);
                continue;
            }
            let Some(next) = next else {
                return if writer_done {
                    Fill::Closed
                } else {
                    Fill::Empty
                };
            };
            st.id = next;
            st.buffer.restart_at(0);
            st.file_behind = false;
            let path = segments::segment_path(&self.queue.settings.dir, next);
            st.splitter
                .set_signed_only(segments::written_by_hekad(&path));
            st.file = File::open(path).ok();
            self.tracker.consumed((next, 0));
        }
    }

    /// Fills `pack` with the record at the reader's position from the writer's hand-off,
    /// if it holds it: no read, no frame parsing, no checksum, no re-indexing.
    fn take_written(&self, st: &mut ReadState, pack: &mut PooledPack) -> bool {
        let offset = st.buffer.offset();
        let handoff = &self.queue.handoff;
        let Some((msg, index, end)) = handoff.take(&mut st.written, st.id, offset) else {
            return false;
        };
        pack.msg.clear();
        pack.msg.extend_from_slice(msg);
        pack.index = index;
        st.buffer.restart_at(end);
        st.file_behind = true;
        pack.set_ack(self.tracker.register((st.id, end)));
        true
    }

    fn corrupt(&self, id: u64, offset: u64, bytes: u64, why: &str) {
        PluginStats::add(&self.queue.stats.queue_corrupt_bytes, bytes);
        log::error!(
            "Plugin '{}' queue: skipped {bytes} damaged bytes in segment {id}.log before offset {offset}: {why}",
            self.queue.name
        );
    }

    /// Moves the checkpoint to what the plugin completed; writes `checkpoint.txt` every
    /// `cursor_update_count` advances, on a segment change, and when `idle`.
    fn commit(&self, when: Commit) {
        let idle = when != Commit::Busy;
        let mut st = self.state.borrow_mut();
        if let Some((position, moved)) = self.tracker.committed() {
            st.committed = position;
            st.advances += moved;
        }
        let committed = st.committed;
        if committed == st.checkpoint {
            return;
        }
        let segment_changed = committed.0 != st.checkpoint.0;
        let idle_write =
            when == Commit::Final || (idle && st.last_write.elapsed() >= IDLE_CHECKPOINT);
        if !(idle_write
            || segment_changed
            || st.advances >= self.queue.settings.cursor_update_count)
        {
            return;
        }
        let interval = self.queue.settings.fsync_interval;
        let sync =
            !interval.is_zero() && (when == Commit::Final || st.last_sync.elapsed() >= interval);
        match st.checkpoint_file.write(committed, sync) {
            Ok(()) => {
                st.checkpoint = committed;
                st.advances = 0;
                st.last_write = Instant::now();
                if sync {
                    st.last_sync = st.last_write;
                }
            }
            Err(e) => log::error!(
                "Plugin '{}' queue: writing checkpoint: {e}",
                self.queue.name
            ),
        }
        drop(st);
        if segment_changed {
            self.delete_before(committed.0);
        }
    }

    /// Deletes the segments older than `id`: everything in them was delivered.
    fn delete_before(&self, id: u64) {
        let dir = &self.queue.settings.dir;
        for (old, len) in segments::list(dir).unwrap_or_default() {
            if old >= id {
                break;
            }
            match std::fs::remove_file(segments::segment_path(dir, old)) {
                Ok(()) => self.queue.shrank(len),
                Err(e) => log::error!(
                    "Plugin '{}' queue: deleting {old}.log: {e}",
                    self.queue.name
                ),
            }
        }
    }
}

fn read_into(st: &mut ReadState) -> io::Result<usize> {
    let Some(file) = st.file.as_mut() else {
        return Ok(0);
    };
    if st.file_behind {
        file.seek(SeekFrom::Start(st.buffer.offset()))?;
        st.file_behind = false;
    }
    let n = file.read(st.buffer.spare())?;
    st.buffer.filled(n);
    Ok(n)
}

impl Drop for QueueReader {
    /// The current cursor is always checkpointed on stop (§4.6).
    fn drop(&mut self) {
        self.commit(Commit::Final);
        // A record read from disk and not handed out: its checkpoint must not move past it.
        if let Some(pack) = self.stashed.get_mut().take() {
            if let Some(token) = pack.take_ack() {
                token.abandon();
            }
        }
        // The next reader of this queue (a restarted plugin) needs the batch back.
        let written = self.state.get_mut().written.take();
        self.queue.handoff.give_back(written);
    }
}

/// Every message the queue in `dir` holds from its checkpoint on, read as hekad's reader
/// reads them after a restart (damaged frames skipped and counted): the entry point of
/// the disk-queue fuzz target (`fuzz/`) and of tests. Moves the checkpoint, as a run
/// that delivered them would.
#[doc(hidden)]
pub fn read_queue_dir(dir: &std::path::Path, max_message_size: u32) -> io::Result<Vec<Vec<u8>>> {
    use crate::config::common::FullAction;
    let settings = super::QueueSettings::new(
        dir.to_path_buf(),
        0,
        0,
        FullAction::Block,
        1,
        Duration::ZERO,
        max_message_size,
    );
    let queue = Queue::open(
        "fuzz",
        settings,
        Arc::default(),
        crate::pipeline::shutdown::Control::new(),
    )?;
    let (_writer, writer_rx) = crate::pipeline::ring::bounded(1);
    let reader = QueueReader::open(queue, writer_rx, None, 4)?;
    let mut out = Vec::new();
    while let Some(pack) = reader.try_recv() {
        out.push(pack.msg.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use prost::Message as _;

    fn messages(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                Message {
                    uuid: vec![i as u8; 16],
                    timestamp: i as i64,
                    payload: Some(format!("message {i} {}", "x".repeat(i * 11 % 40)).into()),
                    ..Default::default()
                }
                .encode_to_vec()
            })
            .collect()
    }

    fn segment(msgs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            crate::framing::write_checksummed_frame(
                m,
                QUEUE_SIGNER,
                super::super::QUEUE_CHECKSUM_VERSION,
                65536,
                &mut out,
            )
            .expect("frame");
        }
        out
    }

    fn read(name: &str, bytes: &[u8]) -> Vec<Vec<u8>> {
        let dir = std::env::temp_dir().join(format!("hekad-reader-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(segments::segment_path(&dir, 1), bytes).expect("segment");
        let got = read_queue_dir(&dir, 65536).expect("read");
        let _ = std::fs::remove_dir_all(&dir);
        got
    }

    #[test]
    fn an_intact_segment_reads_back_every_message() {
        let msgs = messages(20);
        assert_eq!(read("intact", &segment(&msgs)), msgs);
    }

    /// Issue 23 (the disk-queue fuzz target's one-flipped-byte invariant): a damaged
    /// message_length made a frame swallow the frames after it, and the reader dropped
    /// them all with the damaged one (its checksum failed) instead of reading again from
    /// the next frame start inside it, as inputs do.
    #[test]
    fn a_damaged_length_loses_only_its_own_frame() {
        let msgs = messages(20);
        let mut bytes = segment(&msgs);
        // Frame 3's header: RS, header length, then key 0x08 and the length varint.
        let mut at = 0;
        for m in &msgs[..3] {
            at += bytes[at + 1] as usize + 3 + m.len();
        }
        assert_eq!(bytes[at + 2], 0x08);
        assert!(bytes[at + 3] < 0x7F, "a one-byte length");
        bytes[at + 3] = 0x7F;
        let got = read("length", &bytes);
        let mut want = msgs.clone();
        want.remove(3);
        assert_eq!(got, want);
    }

    /// The messages of a fuzz input of the `queue_segment` target (one flipped byte) that
    /// do not come back: what the target checks, as a plain test.
    fn lost_with_one_flipped_byte(name: &str, input: &[u8]) -> Vec<usize> {
        let [mode, at_hi, flip, rest @ ..] = input else {
            panic!("short input");
        };
        let mut originals = Vec::new();
        let mut bytes = Vec::new();
        for (i, text) in rest.split(|&b| b == 0xFF).enumerate().take(64) {
            let msg = Message {
                uuid: (i as u128).to_be_bytes().to_vec(),
                timestamp: i as i64,
                payload: Some(text.to_vec()),
                ..Default::default()
            }
            .encode_to_vec();
            let framed =
                crate::framing::write_checksummed_frame(&msg, QUEUE_SIGNER, 2, 8192, &mut bytes);
            if framed.is_ok() {
                originals.push(msg);
            }
        }
        let at = (usize::from(*at_hi) << 8 | usize::from(*mode)) % bytes.len();
        bytes[at] ^= flip | 1;
        let got = read(name, &bytes);
        (0..originals.len())
            .filter(|&i| !got.contains(&originals[i]))
            .collect()
    }

    /// Issue 23's known fuzz inputs (`fuzz/known/`), each losing messages besides the one
    /// whose frame holds the flipped byte. `payload-frame-bytes`: the fourth frame from
    /// the end had its header length reach past the end of the segment, and the frames
    /// after it were taken for a torn write (3 of 42 lost); the reader now reads on inside
    /// a frame cut short at the end of a complete segment. `short-unsigned-header`: the
    /// first frame damaged, the reader found frames without a signature in its payload,
    /// and one of them covered the next real frame (2 of 47 lost); in a segment hekad
    /// wrote, unsigned frames are now refused, short headers included.
    #[test]
    fn one_flipped_byte_loses_only_the_frame_holding_it() {
        let cases: [(&str, &[u8]); 2] = [
            (
                "payload-frame-bytes",
                include_bytes!("../../../fuzz/known/queue_segment-payload-frame-bytes"),
            ),
            (
                "short-unsigned-header",
                include_bytes!("../../../fuzz/known/queue_segment-short-unsigned-header"),
            ),
        ];
        for (name, input) in cases {
            let lost = lost_with_one_flipped_byte(name, input);
            assert!(lost.len() <= 1, "{name}: lost {lost:?}");
        }
    }

    /// A queue with nothing unread lets the first messages pass straight to the plugin
    /// even before its reader is opened (CI found a burst written before TcpOutput first
    /// asked for a message: every line of it was queued on disk); one with unread records
    /// does not, so those go first.
    #[test]
    fn only_a_queue_with_nothing_unread_is_caught_up_before_it_is_read() {
        let dir = std::env::temp_dir().join(format!("hekad-reader-{}-caught", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let open = || {
            let settings = crate::pipeline::queue::QueueSettings::new(
                dir.clone(),
                0,
                0,
                crate::config::common::FullAction::Block,
                1,
                Duration::ZERO,
                65536,
            );
            let control = crate::pipeline::shutdown::Control::new();
            Queue::open("caught", settings, Arc::default(), control).expect("queue")
        };
        assert!(open().drained(), "a new queue");
        let bytes = segment(&messages(3));
        std::fs::write(segments::segment_path(&dir, 1), &bytes).expect("segment");
        std::fs::write(segments::segment_path(&dir, 2), b"").expect("segment");
        assert!(!open().drained(), "a queued segment without a checkpoint");
        std::fs::write(dir.join("checkpoint.txt"), "1 10\n").expect("checkpoint");
        assert!(!open().drained(), "a checkpoint inside the segment");
        std::fs::write(dir.join("checkpoint.txt"), format!("1 {}\n", bytes.len()))
            .expect("checkpoint");
        assert!(
            open().drained(),
            "a checkpoint at its end, an empty segment after it"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
