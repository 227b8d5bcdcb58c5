//! The path every input shares from raw bytes to the router (§2.5): split the stream into
//! records, unframe/authenticate, fill a pooled pack (message bytes as received, or a new
//! message whose payload is the record), decode, and send to the router.

use crate::config::common::CommonInput;
use crate::diagnostics::escaped_prefix;
use crate::message::record::RecordTemplate;
use crate::message::view::HeaderIndex;
use crate::message::writer::Values;
use crate::message::{uuid, MessageWriter};
use crate::pipeline::ack::AckTracker;
use crate::pipeline::pack::Pack;
use crate::pipeline::pool::{PackPool, PooledPack};
use crate::pipeline::ring::Sender;
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::{PendingCount, PluginStats};
use crate::plugins::decoders::{Decoded, Decoder, MorePacks};
use crate::splitters::buffer::{Next, SplitterBuffer};
use crate::splitters::{Splitter, Unframed};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Builds a fresh splitter instance (splitters are templates: one per stream).
pub type SplitterFactory = Arc<dyn Fn() -> Result<Box<dyn Splitter>, String> + Send + Sync>;
/// Builds a fresh decoder instance (one per stream).
pub type DecoderFactory = Arc<dyn Fn() -> Result<Box<dyn Decoder>, String> + Send + Sync>;

/// What every stream of one input shares.
#[derive(Clone)]
pub struct InputShared {
    pub input_name: String,
    pub pool: PackPool,
    pub router: Sender<PooledPack>,
    pub stats: Arc<PluginStats>,
    pub common: CommonInput,
    pub splitter_name: String,
    pub splitter: SplitterFactory,
    /// The splitter's report entry (`<input>-<splitter>`, Heka's name): records split
    /// and garbage skipped, over all of the input's streams.
    pub splitter_stats: Arc<PluginStats>,
    pub min_buffer_size: usize,
    pub max_record_size: usize,
    pub deliver_incomplete_final: bool,
    pub keep_truncated: bool,
    pub decoder_name: Option<String>,
    pub decoder: Option<DecoderFactory>,
    /// The decoder's own report entry (`<input>-<decoder>`).
    pub decoder_stats: Option<Arc<PluginStats>>,
    /// To stop hekad when a decoder fails fatally (§7.4).
    pub control: Control,
}

/// Headers an input stamps on messages it creates from text records (Heka's pack
/// decorator): TcpInput sets Type = input name and Hostname = remote address.
#[derive(Debug, Clone, Default)]
pub struct Decorator {
    pub r#type: Option<String>,
    pub hostname: Option<String>,
    /// Logger (default: the input name); LogstreamerInput sets the stream name.
    pub logger: Option<String>,
    /// Severity (default Heka's 7) and EnvVersion (HttpListenInput: 6 and "1").
    pub severity: Option<i32>,
    pub env_version: Option<String>,
    /// Pid (ProcessInput: hekad's).
    pub pid: Option<i32>,
    /// Dynamic fields on every message, encoded (FilePollingInput's FilePath).
    pub fields: Vec<u8>,
}

/// The router has gone away: the input should stop.
#[derive(Debug)]
pub struct RouterClosed;

/// One stream's splitter, buffer and decoder.
pub struct Deliverer {
    shared: InputShared,
    splitter: Box<dyn Splitter>,
    buffer: SplitterBuffer,
    decoder: Option<Box<dyn Decoder>>,
    /// Messages the decoder made beyond the record's own, sent after it.
    more: MorePacks,
    decorator: Decorator,
    /// The decorator's headers, encoded once for every message made from a text record.
    template: RecordTemplate,
    /// Name used in log lines: `<input>` or `<input>-<token>`.
    stream: String,
    /// For replayable sources: the tracker that learns when each record's messages are
    /// done, and the identity of the file being read (see `pipeline/ack.rs`).
    ack: Option<(Arc<AckTracker>, u64)>,
    /// Drop the record after an oversized one (it is the oversized line's tail); set by
    /// LogstreamerInput, as Heka does.
    skip_oversized_tails: bool,
    skipping_tail: bool,
    /// The long record being skipped: its first error and its bytes so far.
    oversized: Option<(String, usize)>,
    /// When the newest bytes were read: the Timestamp of messages made from the records
    /// they complete (one clock read per read(2), not one per message).
    read_at: i64,
    /// Messages delivered and not yet added to the input's ProcessMessageCount: added
    /// once per read (each time the buffer runs out of records), at the end, and every
    /// `PendingCount::EVERY`.
    processed: PendingCount,
    /// Records split and not yet added to the splitter's ProcessMessageCount (flushed
    /// with `processed`).
    records: PendingCount,
}

impl Drop for Deliverer {
    fn drop(&mut self) {
        self.count_processed();
        if let Some(decoder) = self.decoder.as_mut() {
            decoder.stop();
        }
    }
}

impl Deliverer {
    /// A deliverer for one stream; `token` distinguishes streams in logs (remote address).
    pub fn new(
        shared: &InputShared,
        token: Option<&str>,
        decorator: Decorator,
    ) -> Result<Deliverer, String> {
        let splitter = (shared.splitter)()?;
        let decoder = match &shared.decoder {
            Some(factory) => Some(factory()?),
            None => None,
        };
        let stream = match token {
            Some(t) => format!("{}-{t}", shared.input_name),
            None => shared.input_name.clone(),
        };
        let template = record_template(&decorator, &shared.input_name);
        let buffer = SplitterBuffer::new(
            shared.min_buffer_size,
            shared.max_record_size,
            shared.keep_truncated,
        );
        Ok(Deliverer {
            shared: shared.clone(),
            splitter,
            buffer,
            decoder,
            more: MorePacks::default(),
            decorator,
            template,
            stream,
            ack: None,
            skip_oversized_tails: false,
            skipping_tail: false,
            oversized: None,
            read_at: now_ns(),
            processed: PendingCount::default(),
            records: PendingCount::default(),
        })
    }

    /// After a record over MAX_RECORD_SIZE is dropped, also drop the next record: for
    /// line-oriented files it is the rest of the same line, not a line of its own.
    pub fn skip_oversized_tails(&mut self) {
        self.skip_oversized_tails = true;
    }

    /// Makes every record acknowledged through `tracker` at `(file, offset after it)`.
    pub fn track(&mut self, tracker: Arc<AckTracker>, file: u64) {
        self.ack = Some((tracker, file));
    }

    /// Continues the stream in another file (or the same one from another offset).
    pub fn restart_at(&mut self, file: u64, offset: u64) {
        if let Some((_, current)) = &mut self.ack {
            *current = file;
        }
        self.buffer.restart_at(offset);
    }

    /// Absolute offset after the last record delivered.
    pub fn offset(&self) -> u64 {
        self.buffer.offset()
    }

    /// Bytes read but not yet delivered (an incomplete last line).
    pub fn pending_bytes(&self) -> usize {
        self.buffer.remaining().len()
    }

    /// Free space to read the next bytes of the stream into.
    pub fn spare(&mut self) -> &mut [u8] {
        self.buffer.spare()
    }

    /// Logs the long record just skipped, once, with its whole size (`tail` bytes after
    /// the parts already counted).
    fn log_oversized(&mut self, tail: usize) {
        if let Some((error, bytes)) = self.oversized.take() {
            log::error!(
                "Splitter '{}-{}' error: {error}; the whole record, {} bytes, was dropped",
                self.stream,
                self.shared.splitter_name,
                bytes + tail
            );
        }
    }

    /// Records `n` bytes read into [`Deliverer::spare`] and delivers every complete record.
    pub async fn filled(&mut self, n: usize) -> Result<(), RouterClosed> {
        self.buffer.filled(n);
        self.read_at = now_ns();
        self.drain().await
    }

    /// Delivers every complete record in the buffer.
    pub async fn drain(&mut self) -> Result<(), RouterClosed> {
        loop {
            let skipped_before = self.buffer.garbage_bytes();
            let next = self.buffer.next_record(&mut *self.splitter);
            let skipped = self.buffer.garbage_bytes() - skipped_before;
            if !matches!(next, Next::NeedData) {
                self.records.one(&self.shared.splitter_stats.process_count);
            }
            if skipped > 0 {
                PluginStats::add(&self.shared.stats.garbage_bytes, skipped);
                PluginStats::add(&self.shared.splitter_stats.garbage_bytes, skipped);
                log::warn!(
                    "Splitter '{}-{}' skipped {skipped} bytes of garbage before stream offset {}",
                    self.stream,
                    self.shared.splitter_name,
                    self.buffer.offset()
                );
            }
            match next {
                Next::NeedData => {
                    self.count_processed();
                    return Ok(());
                }
                // A long line of a file (LogstreamerInput) fills the buffer again and
                // again: one record, counted and logged once, with its size, when its end
                // is found.
                Next::Oversized {
                    error,
                    truncated: None,
                    len,
                } if self.skip_oversized_tails => {
                    match self.oversized.as_mut() {
                        Some((_, bytes)) => *bytes += len,
                        None => {
                            PluginStats::add(&self.shared.stats.drop_count, 1);
                            self.oversized = Some((error, len));
                        }
                    }
                    self.skipping_tail = true;
                    self.consumed_without_message();
                }
                Next::Oversized {
                    error, truncated, ..
                } => {
                    log::error!(
                        "Splitter '{}-{}' error: {error}",
                        self.stream,
                        self.shared.splitter_name
                    );
                    match truncated {
                        Some(record) => self.deliver_range(record).await?,
                        None => {
                            PluginStats::add(&self.shared.stats.drop_count, 1);
                            self.consumed_without_message();
                        }
                    }
                }
                Next::Record(tail) if self.skipping_tail => {
                    self.skipping_tail = false;
                    self.log_oversized(tail.len());
                    self.consumed_without_message();
                }
                Next::Record(record) => self.deliver_range(record).await?,
            }
        }
    }

    /// Delivers `range` of the buffer as one record.
    async fn deliver_range(&mut self, range: std::ops::Range<usize>) -> Result<(), RouterClosed> {
        let Deliverer {
            shared,
            splitter,
            buffer,
            decoder,
            more,
            template,
            stream,
            read_at,
            ..
        } = self;
        let record_start = range.start;
        let bytes = &buffer.data()[range];
        let mut resync = None;
        let pack = prepare(
            shared,
            &mut **splitter,
            decoder.as_deref_mut(),
            more,
            template,
            stream,
            bytes,
            *read_at,
            &mut resync,
        )
        .await?;
        if let Some(at) = resync {
            log::warn!(
                "Input '{stream}': a frame start {at} bytes into the damaged record; reading \
                 again from there (stream offset {})",
                buffer.offset() - buffer.offset_in_data() as u64 + (record_start + at) as u64
            );
            buffer.rewind_to(record_start + at);
        }
        let Some(pack) = pack else {
            self.consumed_without_message();
            return Ok(());
        };
        self.send(pack).await?;
        for i in 0..self.more.len() {
            let Some(mut pooled) = self.shared.pool.acquire().await else {
                return Err(RouterClosed);
            };
            if let Some(made) = self.more.get_mut(i) {
                let pack: &mut Pack = &mut pooled;
                std::mem::swap(&mut pack.msg, &mut made.msg);
                pack.index = made.index;
            }
            self.send(pooled).await?;
        }
        self.more.clear();
        Ok(())
    }

    /// Sends one message of the current record to the router.
    async fn send(&mut self, mut pack: PooledPack) -> Result<(), RouterClosed> {
        self.processed.one(&self.shared.stats.process_count);
        if let Some((tracker, file)) = &self.ack {
            pack.set_ack(tracker.register((*file, self.buffer.offset())));
        }
        self.shared
            .router
            .send(pack)
            .await
            .map_err(|_| RouterClosed)
    }

    fn count_processed(&mut self) {
        self.processed.flush(&self.shared.stats.process_count);
        self.records
            .flush(&self.shared.splitter_stats.process_count);
    }

    /// Tells a replayable source that the stream is consumed up to here with no message
    /// in flight for the last record (dropped, skipped or decoded into nothing).
    fn consumed_without_message(&self) {
        if let Some((tracker, file)) = &self.ack {
            tracker.consumed((*file, self.buffer.offset()));
        }
    }

    /// Delivers the buffered incomplete record as a whole record (the end of a rotated
    /// file ends its last line).
    pub async fn flush_incomplete(&mut self) -> Result<(), RouterClosed> {
        self.drain().await?;
        let start = self.buffer.offset_in_data();
        let end = start + self.buffer.remaining().len();
        // Consumed first, so the record's position is its end; the bytes stay in place.
        self.buffer.clear();
        if end > start {
            self.deliver_range(start..end).await?;
        }
        self.count_processed();
        Ok(())
    }

    /// Delivers one empty record (HttpListenInput: a request without a body is still a
    /// message, with its fields).
    pub async fn deliver_empty(&mut self) -> Result<(), RouterClosed> {
        let at = self.buffer.offset_in_data();
        self.deliver_range(at..at).await?;
        self.count_processed();
        Ok(())
    }

    /// End of stream: delivers the incomplete last record when the splitter asks for it.
    pub async fn finish(&mut self) -> Result<(), RouterClosed> {
        self.drain().await?;
        if !self.shared.deliver_incomplete_final {
            let left = self.buffer.remaining().len();
            if left > 0 {
                log::debug!(
                    "Input '{}': {left} bytes of incomplete record at end of stream",
                    self.stream
                );
            }
            return Ok(());
        }
        let start = self.buffer.offset_in_data();
        let end = start + self.buffer.remaining().len();
        if end > start {
            self.deliver_range(start..end).await?;
        }
        self.buffer.clear();
        self.count_processed();
        Ok(())
    }
}

/// The headers `decorator` stamps (Logger defaults to the input's name; Severity is
/// Heka's default), encoded.
fn record_template(decorator: &Decorator, input_name: &str) -> RecordTemplate {
    RecordTemplate::new(
        decorator.r#type.as_deref().map(str::as_bytes),
        decorator.logger.as_deref().unwrap_or(input_name).as_bytes(),
        decorator
            .severity
            .unwrap_or(crate::message::DEFAULT_SEVERITY),
        decorator.env_version.as_deref().map(str::as_bytes),
        decorator.pid,
        decorator.hostname.as_deref().map(str::as_bytes),
    )
    .with_fields(&decorator.fields)
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Turns one record into a pack ready for the router, or `None` when the record yields
/// no message (rejected frame, decoder drop or failure; counted and logged). A message
/// made from a text record gets `timestamp`, when the record was read. A framed record
/// that is not a valid message sets `resync` to where a frame starts inside it, if any.
#[allow(clippy::too_many_arguments)]
async fn prepare(
    shared: &InputShared,
    splitter: &mut dyn Splitter,
    decoder: Option<&mut (dyn Decoder + 'static)>,
    more: &mut MorePacks,
    template: &RecordTemplate,
    stream: &str,
    record: &[u8],
    timestamp: i64,
    resync: &mut Option<usize>,
) -> Result<Option<PooledPack>, RouterClosed> {
    let (bytes, signer) = match splitter.unframe(record) {
        Unframed::Message { bytes, signer } => (bytes, signer),
        Unframed::Rejected { reason } => {
            PluginStats::add(&shared.stats.process_failures, 1);
            log::warn!("Input '{stream}': frame rejected: {reason}");
            return Ok(None);
        }
    };
    let Some(mut pooled) = shared.pool.acquire().await else {
        return Err(RouterClosed);
    };
    // One exclusive borrow for all the writing below: each `DerefMut` of a pooled pack
    // checks its exclusivity with an atomic operation.
    let pack: &mut Pack = &mut pooled;
    let indexed = if splitter.use_message_bytes() {
        pack.msg.extend_from_slice(bytes);
        if let Some(signer) = signer {
            let _ = pack.signer.push_str(signer);
        }
        // Every received message is validated and indexed before any decoder sees it; an
        // invalid encoding counts as a failure of the (protobuf) decoder.
        let indexed = pack.reindex();
        if indexed.is_err() {
            *resync = splitter.resync(record);
        }
        indexed
    } else {
        template.write(
            &mut pack.msg,
            &mut pack.index,
            &uuid::new_v4(),
            timestamp,
            bytes,
        );
        debug_assert_eq!(HeaderIndex::scan(&pack.msg).ok(), Some(pack.index));
        Ok(())
    };
    let decoded = match (indexed, decoder) {
        (Err(e), _) => Err(format!(
            "{e} (message prefix {})",
            escaped_prefix(&pack.msg)
        )),
        (Ok(()), Some(decoder)) => decoder.decode(pack, more).map_err(|e| {
            if e.is_fatal() {
                log::error!("Decoder '{stream}' failed fatally: shutting down");
                shared.control.shutdown(true);
            }
            e.0
        }),
        (Ok(()), None) => Ok(Decoded::Keep),
    };
    if let Some(stats) = &shared.decoder_stats {
        let counter = if decoded.is_ok() {
            &stats.process_count
        } else {
            &stats.process_failures
        };
        PluginStats::add(counter, 1);
    }
    if !matches!(decoded, Ok(Decoded::Keep)) {
        more.clear();
    }
    match decoded {
        Ok(Decoded::Keep) => {}
        Ok(Decoded::Drop) => return Ok(None),
        Err(error) => {
            PluginStats::add(&shared.stats.process_failures, 1);
            if shared.common.log_decode_failures {
                let name = shared.decoder_name.as_deref().unwrap_or("ProtobufDecoder");
                log::error!("Decoder '{stream}-{name}' error: {error}");
            }
            if !shared.common.send_decode_failures || tag_decode_failure(pack, &error).is_err() {
                return Ok(None);
            }
        }
    }
    Ok(Some(pooled))
}

/// Heka's `send_decode_failures`: route the original message with `decode_failure` and
/// `decode_error` fields. A record that is not a valid message at all becomes the payload.
fn tag_decode_failure(pack: &mut Pack, error: &str) -> Result<(), ()> {
    let error = &error.as_bytes()[..error.len().min(500)];
    pack.scratch.clear();
    if HeaderIndex::scan(&pack.msg).is_ok() {
        pack.scratch.extend_from_slice(&pack.msg);
    } else {
        MessageWriter::new(&mut pack.scratch)
            .uuid(&uuid::new_v4())
            .timestamp(now_ns())
            .payload(&pack.msg);
    }
    MessageWriter::new(&mut pack.scratch)
        .field(b"decode_failure", b"", Values::Bool(&[true]))
        .field(b"decode_error", b"", Values::String(&[error]));
    pack.commit_scratch(None).map_err(|_| ())
}

impl Deliverer {
    /// Feeds a whole chunk (a datagram) through the splitter, delivering every record.
    pub async fn push(&mut self, mut data: &[u8]) -> Result<(), RouterClosed> {
        while !data.is_empty() {
            let spare = self.buffer.spare();
            let n = spare.len().min(data.len());
            spare[..n].copy_from_slice(&data[..n]);
            data = &data[n..];
            self.filled(n).await?;
        }
        Ok(())
    }

    /// Sets the dynamic fields stamped on messages built from text records from now on
    /// (ProcessInput: each run's ExitStatus).
    pub fn set_fields(&mut self, fields: Vec<u8>) {
        if self.decorator.fields != fields {
            self.decorator.fields = fields;
            self.template = record_template(&self.decorator, &self.shared.input_name);
        }
    }

    /// Sets the Severity stamped on messages built from text records from now on
    /// (HttpInput: by response status).
    pub fn set_severity(&mut self, severity: i32) {
        if self.decorator.severity != Some(severity) {
            self.decorator.severity = Some(severity);
            self.template = record_template(&self.decorator, &self.shared.input_name);
        }
    }

    /// Sets the Hostname stamped on messages built from text records (UdpInput: each
    /// datagram's sender).
    pub fn set_hostname(&mut self, hostname: Option<String>) {
        if self.decorator.hostname != hostname {
            self.decorator.hostname = hostname;
            self.template = record_template(&self.decorator, &self.shared.input_name);
        }
    }
}
