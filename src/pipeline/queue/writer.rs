//! The writing side of a disk queue: a task that appends every pack routed to a buffered
//! plugin to the newest segment, applies `full_action` when the queue is full and rolls
//! segments. It starts a fresh segment on every start, so a torn frame a kill -9 left at the
//! end of the previous one is never written after.
//!
//! For a plugin that holds each message's acknowledgement until its destination confirmed
//! it (TcpOutput), the writer passes a message straight to the plugin instead, when that
//! loses nothing: the message's source can replay it (a tailed file checkpoints only what
//! was delivered), and the reader has handed out everything written (so order holds).
//! While the plugin keeps up, such messages never touch the disk; when it stops taking
//! them for `SPILL_AFTER`, the writer queues on disk the ones it has not taken yet (they
//! are older), then every message until the reader catches up.

use super::handoff::WrittenBatch;
use super::{segments, Queue, QUEUE_CHECKSUM_VERSION, QUEUE_SIGNER};
use crate::config::common::FullAction;
use crate::framing;
use crate::pipeline::ack::AckToken;
use crate::pipeline::deadline::Deadline;
use crate::pipeline::pool::SharedPack;
use crate::pipeline::ring::{Receiver, Sender, TrySendError};
use crate::pipeline::stats::PluginStats;
use smol::future::FutureExt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes gathered before one write(2).
const WRITE_BATCH: usize = 64 * 1024;
/// Source acknowledgements held before an fsync is started early (ahead of
/// `fsync_interval`): this bounds the sources' trackers, not the speed.
const MAX_HELD_ACKS: usize = 2048;
/// How long a message that could pass straight to the plugin waits for room before it is
/// queued on disk instead: long enough for a plugin busy writing a batch, short enough
/// that an unreachable peer soon stops holding the inputs back. Longer than TcpOutput's
/// `SAVE_AFTER`, so the messages it holds are saved before newer ones are queued.
pub const SPILL_AFTER: Duration = Duration::from_secs(1);

/// What `full_action` decided for a record that did not fit.
enum Room {
    Made,
    /// `drop`: discarded on purpose (counted).
    Dropped,
    /// `shutdown`, or `block` while stopping: not queued; the source must not consider it
    /// delivered.
    Refused,
}

/// Appends routed packs to a queue.
pub struct QueueWriter {
    queue: Arc<Queue>,
    file: File,
    id: u64,
    /// Bytes in the current segment, including `pending`.
    segment_len: u64,
    /// Frames gathered for the next write(2), handed to the reader once written.
    pending: WrittenBatch,
    frame: Vec<u8>,
    /// Acknowledgements released once their messages are written (and, with
    /// `fsync_interval` > 0, fsync'd).
    held: Vec<AckToken>,
    /// The fsync running on a blocking thread, and the acknowledgements it releases. The
    /// writer goes on appending meanwhile: an fsync takes milliseconds, a message a
    /// microsecond.
    syncing: Option<(smol::Task<io::Result<()>>, Vec<AckToken>)>,
    /// The previous fsync's acknowledgement list, emptied, kept for its capacity.
    spare_held: Vec<AckToken>,
    unsynced: bool,
    last_sync: Instant,
    /// Wakes the writer when written data has waited `fsync_interval` for its fsync.
    sync_due: Deadline,
    notify: Sender<()>,
    /// Messages passed straight to the plugin (see the module doc), if it may take them;
    /// the receiver takes back those the plugin has not taken when they must be queued.
    direct: Option<(Sender<SharedPack>, Receiver<SharedPack>)>,
    /// Bounds a direct message's wait for room to `SPILL_AFTER`.
    spill: Deadline,
    /// Messages taken back from the `direct` ring (empty between uses; keeps its capacity).
    taken_back: Vec<SharedPack>,
    /// `full_action = shutdown` already triggered.
    shut_down: bool,
}

impl QueueWriter {
    /// Opens a new segment after every existing one (and after the checkpointed one).
    /// `direct`, for a plugin that holds acknowledgements until delivery, takes messages
    /// that need not be queued on disk.
    pub fn open(
        queue: Arc<Queue>,
        notify: Sender<()>,
        direct: Option<(Sender<SharedPack>, Receiver<SharedPack>)>,
    ) -> io::Result<QueueWriter> {
        let dir = &queue.settings.dir;
        let newest = segments::list(dir)?.last().map_or(0, |s| s.0);
        let checkpointed = segments::read_checkpoint(dir).map_or(0, |c| c.0);
        let id = newest.max(checkpointed) + 1;
        let file = create_segment(&queue, id)?;
        queue.writing.store(id, Ordering::Release);
        Ok(QueueWriter {
            queue,
            file,
            id,
            segment_len: 0,
            pending: WrittenBatch::with_capacity(WRITE_BATCH * 2),
            frame: Vec::new(),
            held: Vec::new(),
            syncing: None,
            spare_held: Vec::new(),
            unsynced: false,
            last_sync: Instant::now(),
            sync_due: Deadline::new(),
            notify,
            direct,
            spill: Deadline::new(),
            taken_back: Vec::new(),
            shut_down: false,
        })
    }

    /// Writes everything routed to the plugin until the router closes its queue.
    pub async fn run(mut self, from_router: Receiver<SharedPack>) {
        let interval = self.queue.settings.fsync_interval;
        loop {
            let next = if self.syncing.is_some() {
                // The running fsync releases acknowledgements when it completes, even if
                // no message comes meanwhile.
                let synced = async {
                    self.finish_sync().await;
                    None
                };
                async { Some(from_router.recv().await) }.or(synced).await
            } else if !interval.is_zero() && self.unsynced {
                let due = self.last_sync + interval;
                let timeout = async {
                    self.sync_due.until(due).await;
                    None
                };
                async { Some(from_router.recv().await) }.or(timeout).await
            } else {
                Some(from_router.recv().await)
            };
            let pack = match next {
                None => {
                    if !interval.is_zero() && self.last_sync.elapsed() >= interval {
                        self.start_sync().await;
                    }
                    continue;
                }
                Some(Err(_)) => break,
                Some(Ok(pack)) => pack,
            };
            let Err(pack) = self.pass_direct(pack).await else {
                continue;
            };
            // One round takes at most a write batch: `append` may flush on the way, and
            // the fsync below must come round, or held acknowledgements pile up.
            let mut gathered = self.append(&pack).await;
            drop(pack);
            while gathered < WRITE_BATCH {
                let Some(pack) = from_router.try_recv_after_yield().await else {
                    break;
                };
                gathered += self.append(&pack).await;
            }
            self.flush().await;
            self.finish_sync_if_done().await;
            if !interval.is_zero()
                && (self.last_sync.elapsed() >= interval || self.held.len() >= MAX_HELD_ACKS)
            {
                self.start_sync().await;
            }
        }
        // What the plugin has not taken yet stays queued for it, and for the next start.
        self.take_back_direct().await;
        self.flush().await;
        self.sync_now().await;
    }

    /// Passes `pack` straight to the plugin if that loses nothing (see the module doc);
    /// gives it back if it must be queued on disk. When the plugin did not take it within
    /// `SPILL_AFTER`, the messages still waiting for the plugin are queued first.
    async fn pass_direct(&mut self, pack: SharedPack) -> Result<(), SharedPack> {
        let Some((to_plugin, _)) = &self.direct else {
            return Err(pack);
        };
        if !self.pending.is_empty() || !pack.has_ack() || !self.queue.drained() {
            return Err(pack);
        }
        let pack = match to_plugin.try_send(pack) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(pack)) => pack,
            Err(TrySendError::Closed(pack)) => return Err(pack),
        };
        let spill_at = Instant::now() + SPILL_AFTER;
        let pack = match to_plugin
            .send_unless(pack, self.spill.until(spill_at))
            .await
        {
            Ok(()) => return Ok(()),
            Err(pack) => pack,
        };
        log::info!(
            "Plugin '{}' queue: the plugin took nothing for {SPILL_AFTER:?}; queueing on disk until it catches up",
            self.queue.name
        );
        self.take_back_direct().await;
        Err(pack)
    }

    /// Queues the messages passed straight through that the plugin has not taken (they
    /// are older than anything the writer has now), in order. They are all taken at once,
    /// under the lock the reader takes them with, so none of them can reach the plugin
    /// after one queued behind it.
    async fn take_back_direct(&mut self) {
        let Some((_, back)) = &self.direct else {
            return;
        };
        let mut taken = std::mem::take(&mut self.taken_back);
        {
            let _taking = self.queue.taking_direct();
            while let Ok(pack) = back.try_recv() {
                taken.push(pack);
            }
        }
        for pack in taken.drain(..) {
            self.append(&pack).await;
        }
        self.taken_back = taken;
    }

    /// Frames `pack` into the write batch, after checking space and segment size; returns
    /// the bytes it took (0 when the message was not queued).
    async fn append(&mut self, pack: &SharedPack) -> usize {
        let msg = pack.view().bytes();
        let bound = (msg.len() + framing::HEADER_FRAMING_SIZE + framing::MAX_HEADER_SIZE) as u64;
        let framed = if self.fits(bound) && !self.must_roll(bound) {
            // The common case: framed straight into the batch, nothing to decide.
            let queue = &self.queue;
            self.pending
                .push_with(msg.len(), pack.index, |out| frame(queue, msg, out))
        } else {
            self.frame.clear();
            match frame(&self.queue, msg, &mut self.frame) {
                Ok(()) => self.make_room_and_push(pack).await,
                Err(()) => Err(()),
            }
        };
        let Ok(len) = framed else {
            return 0;
        };
        self.segment_len += len as u64;
        // The source may commit this message only once it is written (and with
        // fsync_interval, fsync'd): hold the acknowledgement until then.
        if let Some(token) = pack.hold_ack() {
            self.held.push(token);
        }
        if self.pending.bytes().len() >= WRITE_BATCH {
            self.flush().await;
        }
        len
    }

    /// The slow path of [`append`](Self::append) for the frame in `self.frame`: applies
    /// `full_action`, rolls the segment if needed, then adds the frame to the batch.
    async fn make_room_and_push(&mut self, pack: &SharedPack) -> Result<usize, ()> {
        let len = self.frame.len() as u64;
        match self.make_room(len).await {
            Room::Made => {}
            Room::Dropped => {
                PluginStats::add(&self.queue.stats.drop_count, 1);
                return Err(());
            }
            Room::Refused => {
                // Not queued and not counted as delivered: the source reads it again
                // after the restart.
                if let Some(token) = pack.take_ack() {
                    token.abandon();
                }
                return Err(());
            }
        }
        if self.must_roll(len) {
            self.flush().await;
            self.roll().await;
        }
        let frame = &self.frame;
        self.pending
            .push_with(pack.view().bytes().len(), pack.index, |out| {
                out.extend_from_slice(frame);
                Ok(())
            })
    }

    /// Whether `len` more bytes fit under `max_buffer_size`.
    fn fits(&self, len: u64) -> bool {
        let max = self.queue.settings.max_buffer_size;
        max == 0 || self.queue.size() + self.pending.bytes().len() as u64 + len <= max
    }

    /// Whether a record of `len` bytes must go to a new segment.
    fn must_roll(&self, len: u64) -> bool {
        self.segment_len > 0 && self.segment_len + len > self.queue.settings.segment_size
    }

    /// Applies `full_action` while adding `len` bytes would exceed `max_buffer_size`.
    async fn make_room(&mut self, len: u64) -> Room {
        let max = self.queue.settings.max_buffer_size;
        if self.fits(len) {
            return Room::Made;
        }
        match self.queue.settings.full_action {
            FullAction::Drop => Room::Dropped,
            FullAction::Shutdown => {
                if !self.shut_down {
                    self.shut_down = true;
                    log::error!(
                        "Plugin '{}' queue is full ({} bytes, max_buffer_size {max}): shutting down (full_action = \"shutdown\")",
                        self.queue.name,
                        self.queue.size()
                    );
                    self.queue.control.shutdown(true);
                }
                Room::Refused
            }
            FullAction::Block => {
                self.flush().await;
                let mut delay = Duration::from_millis(50);
                log::warn!(
                    "Plugin '{}' queue is full ({} bytes): blocking until the plugin catches up",
                    self.queue.name,
                    self.queue.size()
                );
                // The batch was just written: only the queue's size counts.
                while !self.fits(len) {
                    if self.queue.control.is_stopping() {
                        return Room::Refused;
                    }
                    let jitter =
                        Duration::from_millis(fastrand::u64(0..=delay.as_millis() as u64 / 4));
                    smol::Timer::after(delay + jitter).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Room::Made
            }
        }
    }

    /// Writes the batch to the segment. A failed write (disk full, I/O error) is truncated
    /// back, so the segment never holds a torn frame we go on after, and retried with an
    /// async back-off (the executor's other tasks, such as the reader that frees space,
    /// keep running). Once hekad is stopping it gives up: the batch is counted as dropped
    /// and its sources' acknowledgements abandoned, so replayable sources read it again.
    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let written = self.pending.bytes().len() as u64;
        let mut delay = Duration::from_millis(50);
        while let Err(e) = self.file.write_all(self.pending.bytes()) {
            log::error!(
                "Plugin '{}' queue: writing segment {}: {e}; retrying",
                self.queue.name,
                self.id
            );
            let keep = self.segment_len - written;
            let _ = self.file.set_len(keep);
            if self.queue.control.is_stopping() && delay >= Duration::from_secs(1) {
                PluginStats::add(&self.queue.stats.drop_count, self.pending.len() as u64);
                for token in self.held.drain(..) {
                    token.abandon();
                }
                self.segment_len = keep;
                self.pending.clear();
                return;
            }
            smol::Timer::after(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
        let start = self.segment_len - written;
        self.queue
            .handoff
            .publish(&mut self.pending, self.id, start);
        self.queue.grew(written);
        self.queue.batches_written.fetch_add(1, Ordering::AcqRel);
        if self.queue.settings.fsync_interval.is_zero() {
            // Written is as durable as this policy gets: the sources may commit.
            self.held.clear();
        } else {
            self.unsynced = true;
        }
        let _ = self.notify.try_send(());
    }

    /// Starts an fsync of what was written so far on a blocking thread; its
    /// acknowledgements are released when it completes. With one already running, waits
    /// for that one first (so held acknowledgements stay bounded).
    async fn start_sync(&mut self) {
        self.finish_sync().await;
        if !self.unsynced {
            self.last_sync = Instant::now();
            self.held.clear();
            return;
        }
        self.unsynced = false;
        self.last_sync = Instant::now();
        let file = match self.file.try_clone() {
            Ok(file) => file,
            Err(e) => {
                log::error!("Plugin '{}' queue: fsync: {e}", self.queue.name);
                self.held.clear();
                return;
            }
        };
        let released = std::mem::replace(&mut self.held, std::mem::take(&mut self.spare_held));
        self.syncing = Some((smol::unblock(move || file.sync_data()), released));
    }

    /// Completes the running fsync if it is done, without waiting.
    async fn finish_sync_if_done(&mut self) {
        if self
            .syncing
            .as_ref()
            .is_some_and(|(task, _)| task.is_finished())
        {
            self.finish_sync().await;
        }
    }

    /// Waits for the running fsync and releases its acknowledgements. Cancel-safe: until
    /// the fsync has completed, it and its acknowledgements stay in `syncing`.
    async fn finish_sync(&mut self) {
        let Some((task, _)) = &mut self.syncing else {
            return;
        };
        let result = task.await;
        if let Err(e) = result {
            log::error!("Plugin '{}' queue: fsync: {e}", self.queue.name);
        }
        if let Some((_, mut released)) = self.syncing.take() {
            released.clear();
            self.spare_held = released;
        }
    }

    /// fsyncs the segment now and releases every held acknowledgement.
    async fn sync_now(&mut self) {
        self.start_sync().await;
        self.finish_sync().await;
    }

    async fn roll(&mut self) {
        self.sync_now().await;
        let next = self.id + 1;
        match create_segment(&self.queue, next) {
            Ok(file) => {
                self.file = file;
                self.id = next;
                self.queue.writing.store(next, Ordering::Release);
                self.segment_len = 0;
                let _ = self.notify.try_send(());
            }
            Err(e) => log::error!(
                "Plugin '{}' queue: cannot start segment {next}: {e}; continuing in segment {}",
                self.queue.name,
                self.id
            ),
        }
    }
}

/// Frames `msg` for the queue into `out`; a message over `max_message_size` is dropped
/// (counted and logged).
fn frame(queue: &Queue, msg: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
    let max = queue.settings.max_message_size;
    framing::write_checksummed_frame(msg, QUEUE_SIGNER, QUEUE_CHECKSUM_VERSION, max, out).map_err(
        |e| {
            PluginStats::add(&queue.stats.drop_count, 1);
            log::error!("Plugin '{}' queue: message dropped: {e}", queue.name);
        },
    )
}

fn create_segment(queue: &Queue, id: u64) -> io::Result<File> {
    let path = segments::segment_path(&queue.settings.dir, id);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if !queue.settings.fsync_interval.is_zero() {
        if let Ok(dir) = File::open(&queue.settings.dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(file)
}
