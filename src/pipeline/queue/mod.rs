//! Disk buffering (`use_buffering`, §4.6): a persistent queue between the router and one
//! filter or output, so a slow or unreachable destination never loses what was routed to
//! it, across restarts and kill -9.
//!
//! The [`writer`] task takes packs from the plugin's router queue and appends them as Heka
//! frames to `<base_dir>/output_queue/<name>/<N>.log`; the packs (and so the source's
//! acknowledgement, see `ack.rs`) are released only once the bytes are written, and with
//! `fsync_interval` > 0 only once they are fsync'd. The [`reader`] feeds the plugin from the
//! checkpointed position and moves the checkpoint as the plugin finishes with messages; a
//! reader that has caught up takes each written batch from memory ([`handoff`]). For a
//! plugin that confirms delivery (TcpOutput), messages whose source can replay them pass
//! straight through while the reader has nothing unread (see `writer.rs`).
//!
//! Each frame's header carries a CRC-32 of its message in the `hmac` field (signer
//! `hekad-queue`, version 2; version 1, an HMAC-MD5 under a fixed key, is still read): a
//! checksum, not a secret, so flipped bytes are detected, skipped and counted instead of
//! delivered corrupted. Heka ignores the field, and unsigned frames (a queue Heka wrote)
//! are accepted.

pub mod handoff;
pub mod reader;
pub mod segments;
pub mod writer;

use crate::config::common::FullAction;
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Signer name of queue frames. Their `hmac` field is an integrity check, not
/// authentication: version 2 is a CRC-32 of the message (written now); version 1 was an
/// HMAC-MD5 with a fixed key (queues written before, still read).
pub const QUEUE_SIGNER: &str = "hekad-queue";
const QUEUE_CHECKSUM_VERSION: u32 = 2;
const LEGACY_QUEUE_KEY: &str = "hekad-queue";
const LEGACY_QUEUE_KEY_VERSION: u32 = 1;

/// One plugin's queue settings, resolved from `[name.buffering]` and `[hekad]`.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub dir: PathBuf,
    /// Segment size at which the writer starts a new segment.
    pub segment_size: u64,
    /// Bytes on disk at which the queue is full (0 = unlimited).
    pub max_buffer_size: u64,
    pub full_action: FullAction,
    pub cursor_update_count: u64,
    /// How often queue data and checkpoints are fsync'd (zero: never).
    pub fsync_interval: Duration,
    pub max_message_size: u32,
}

impl QueueSettings {
    /// Segments roll at `max_file_size`, but at most at a quarter of `max_buffer_size`:
    /// space is reclaimed a whole segment at a time, so a queue that is one big segment
    /// could never drain below "full".
    pub fn new(
        dir: PathBuf,
        max_file_size: u64,
        max_buffer_size: u64,
        full_action: FullAction,
        cursor_update_count: u64,
        fsync_interval: Duration,
        max_message_size: u32,
    ) -> QueueSettings {
        let record = crate::framing::max_record_size(max_message_size) as u64;
        // A queue must hold at least one message of the maximum size, or a big one could
        // never fit (blocking or shutting down forever).
        let max_buffer_size = match max_buffer_size {
            0 => 0,
            n => n.max(record),
        };
        let mut segment_size = max_file_size.max(record);
        if max_buffer_size > 0 {
            segment_size = segment_size.min((max_buffer_size / 4).max(record));
        }
        QueueSettings {
            dir,
            segment_size,
            max_buffer_size,
            full_action,
            cursor_update_count: cursor_update_count.max(1),
            fsync_interval,
            max_message_size,
        }
    }
}

/// What the writer and the reader of one queue share.
pub struct Queue {
    pub name: String,
    pub settings: QueueSettings,
    /// Bytes in segment files (Heka's queue size; compared with `max_buffer_size`).
    size: AtomicU64,
    /// The segment the writer appends to (0 before it opens one): a reader at that segment
    /// knows no newer one exists without listing the directory.
    writing: AtomicU64,
    pub stats: Arc<PluginStats>,
    pub control: Control,
    /// Written records passed from the writer to a caught-up reader.
    handoff: handoff::Handoff,
    /// Batches the writer has written in this run.
    batches_written: AtomicU64,
    /// Held while taking from the `direct` ring: when the writer takes back what the
    /// plugin has not taken, the reader must not take a newer one meanwhile.
    direct_taking: std::sync::Mutex<()>,
    /// `batches_written` as the reader saw it just before it found nothing more to read
    /// (`u64::MAX` until it first does, unless nothing was unread at the start): equal to
    /// `batches_written` while every written record has been handed to the plugin.
    caught_up_with: AtomicU64,
}

impl Queue {
    /// Creates the queue directory (0700) and measures what is already queued.
    pub fn open(
        name: &str,
        settings: QueueSettings,
        stats: Arc<PluginStats>,
        control: Control,
    ) -> std::io::Result<Arc<Queue>> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&settings.dir)?;
        let list = segments::list(&settings.dir)?;
        let size = list.iter().map(|s| s.1).sum();
        let caught_up = match segments::nothing_unread(&settings.dir, &list) {
            true => 0,
            false => u64::MAX,
        };
        stats
            .queue_bytes
            .store(size, std::sync::atomic::Ordering::Relaxed);
        stats
            .buffered
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(Arc::new(Queue {
            name: name.to_owned(),
            settings,
            size: AtomicU64::new(size),
            writing: AtomicU64::new(0),
            stats,
            control,
            handoff: handoff::Handoff::default(),
            batches_written: AtomicU64::new(0),
            direct_taking: std::sync::Mutex::new(()),
            caught_up_with: AtomicU64::new(caught_up),
        }))
    }

    /// Bytes currently in segment files.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// The segment the writer appends to, 0 if none is open.
    fn writing(&self) -> u64 {
        self.writing.load(Ordering::Acquire)
    }

    /// Whether the reader has handed out every record written so far: only then may the
    /// writer pass a message straight to the plugin without breaking their order.
    fn drained(&self) -> bool {
        self.caught_up_with.load(Ordering::Acquire) == self.batches_written.load(Ordering::Acquire)
    }

    /// Exclusive taking from the `direct` ring (see `direct_taking`).
    fn taking_direct(&self) -> std::sync::MutexGuard<'_, ()> {
        self.direct_taking.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn grew(&self, bytes: u64) {
        let size = self.size.fetch_add(bytes, Ordering::AcqRel) + bytes;
        self.stats.queue_bytes.store(size, Ordering::Relaxed);
    }

    fn shrank(&self, bytes: u64) {
        let before = self
            .size
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some(s.saturating_sub(bytes))
            })
            .unwrap_or(0);
        self.stats
            .queue_bytes
            .store(before.saturating_sub(bytes), Ordering::Relaxed);
    }
}
