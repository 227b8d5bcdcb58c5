//! TcpOutput (§5.6): ships encoded (by default framed protobuf) messages to a TCP peer,
//! typically another hekad's TcpInput. Connects lazily; on a connect or write failure it
//! closes, backs off (250 ms doubling to 30 s, with jitter) and tries again.
//!
//! With its disk queue (`use_buffering`, on by default) delivery is at-least-once across
//! restarts and kill -9: a message is complete (leaves the queue, or lets its tailed file
//! checkpoint past it) only once the peer's TCP stack has acknowledged its bytes (the
//! socket's unacknowledged byte count, `SIOCOUTQ`, tells us). Until then its bytes are
//! kept ([`Unacked`]) and written again, in order, on the next connection if this one
//! fails. A write into a connection the peer already closed "succeeds" locally (Heka
//! #1354); those bytes are never acknowledged, so they are sent again too. At most
//! `MAX_UNACKED` messages and `MAX_UNACKED_BYTES` are unacknowledged at a time, so a
//! stalled peer costs bounded memory. Without buffering, a failed batch is resent, but
//! bytes the kernel accepted before the failure cannot be.
//!
//! With `use_tls` every connection starts with a TLS handshake (`[<section>.tls]`,
//! `plugins/tls.rs`), and acknowledgements are mapped from TLS records back to message
//! bytes ([`Link`]), so the guarantees above hold over TLS too.

use super::link::Link;
use super::{Output, OutputContext};
use crate::atomic_file::AtomicFile;
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::ack::AckToken;
use crate::pipeline::deadline::Deadline;
use crate::pipeline::pool::SharedPack;
use crate::pipeline::queue::QueueSettings;
use crate::pipeline::stats::PluginStats;
use crate::plugins::tls::{ClientTls, TlsConfig};
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::net::TcpStream;
use smol::Async;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
#[serde(default)]
struct TcpOutputConfig {
    address: String,
    local_address: String,
    use_tls: bool,
    tls: TlsConfig,
    keep_alive: bool,
    keep_alive_period: u64,
    reconnect_after: u64,
}

impl Default for TcpOutputConfig {
    fn default() -> Self {
        TcpOutputConfig {
            address: "localhost:9125".into(),
            local_address: String::new(),
            use_tls: false,
            tls: TlsConfig::default(),
            keep_alive: false,
            keep_alive_period: 0,
            reconnect_after: 0,
        }
    }
}

/// The TcpOutput plugin.
pub struct TcpOutput {
    address: String,
    local_address: Option<SocketAddr>,
    /// `Some(keep_alive_period)` when keep-alive is on.
    keep_alive: Option<u64>,
    reconnect_after: u64,
    /// With `use_tls`: the client side of every connection's handshake.
    tls: Option<ClientTls>,
}

impl TcpOutput {
    /// A TcpOutput to `address` (CarbonOutput's TCP side); `keep_alive` as the config's
    /// `keep_alive_period` when keep-alive probes are on.
    pub fn new(address: String, keep_alive: Option<u64>) -> TcpOutput {
        TcpOutput {
            address,
            local_address: None,
            keep_alive,
            reconnect_after: 0,
            tls: None,
        }
    }
}

/// Bytes gathered from the queue into one write. Each write wakes the peer; 128 KiB
/// rather than 64 took about 5% less CPU per line on file->TCP (A/B, 10 runs each).
const BATCH_BYTES: usize = 128 * 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often unacknowledged bytes are checked while the queue is idle, and at most while
/// the window is full.
const ACK_POLL: Duration = Duration::from_millis(10);
/// The first wait for acknowledgements once the window is full; each further wait is
/// twice as long, up to `ACK_POLL`. A peer that keeps up acknowledges within a fraction
/// of a millisecond: waiting a whole `ACK_POLL` each time left the connection idle
/// (1 M lines through the disk queue: 100 to 270 such waits, 80 to 390 ms of 0.57 to
/// 0.89 s).
const FIRST_WINDOW_POLL: Duration = Duration::from_micros(250);
/// How long a peer that closed its side gets to acknowledge what we sent.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Most messages written and not yet acknowledged. A stalled peer lets the kernel buffer
/// megabytes of them, and each costs bookkeeping here and in the queue's tracker (48 bytes
/// in all): without this bound, a stalled peer took 10 MB of memory for 15-byte lines. It
/// also bounds throughput to this many messages per round trip (82,000 a second at 100 ms).
const MAX_UNACKED: usize = 8192;
/// Most bytes written and not yet acknowledged (they are kept for resending): bounds
/// memory, and throughput to this much per round trip (2.6 MB/s at 100 ms, 26 MB/s at
/// 10 ms). 1 MiB took the static build's peak RSS on the file->TCP bench from 3.4 to
/// 4.0 MiB (4.7 at maxprocs 2), over the 4 MiB target; 256 KiB costs no speed there.
const MAX_UNACKED_BYTES: usize = 256 * 1024;
/// How long a peer may take nothing while it holds back messages that came straight from
/// their source, before they are saved (see `save_unacked`). Shorter than the disk queue's
/// `SPILL_AFTER`, so they are saved before newer messages are queued on disk.
const SAVE_AFTER: Duration = Duration::from_millis(500);
/// File in the disk queue's directory holding the unacknowledged bytes saved for the
/// next start.
const SAVED_FILE: &str = "unacknowledged.bin";

/// TcpOutput buffers on disk by default (§5.6): 128 MiB segments, the cursor saved every
/// 50 messages.
pub fn default_buffering() -> crate::config::common::BufferingConfig {
    crate::config::common::BufferingConfig {
        max_file_size: 134_217_728,
        cursor_update_count: 50,
        ..Default::default()
    }
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: TcpOutputConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    errors.required("address", !c.address.is_empty(), "a host:port");
    let tls = match c.use_tls {
        true => errors.merge(ClientTls::new(section, &c.tls, &c.address)),
        false => None,
    };
    let local_address = match c.local_address.as_str() {
        "" => None,
        text => errors.check(
            "local_address",
            text.parse::<SocketAddr>()
                .map_err(|e| format!("expected an ip:port address, got {text:?}: {e}")),
        ),
    };
    errors.finish(|| {
        Box::new(TcpOutput {
            address: c.address,
            local_address,
            keep_alive: c.keep_alive.then_some(c.keep_alive_period),
            reconnect_after: c.reconnect_after,
            tls,
        }) as Box<dyn Output>
    })
}

/// Everything gathered for the peer and not yet acknowledged by it: the bytes (the tail
/// not yet written, the rest written on the current or a failed connection) and each
/// message in them with its acknowledgement. Offsets count every byte ever gathered, across
/// connections. Dropping it abandons the tokens left: those messages were not delivered,
/// so their source must not checkpoint past them (they are sent after the next start).
struct Unacked {
    bytes: Vec<u8>,
    /// Offset of `bytes[0]`.
    base: u64,
    /// Offset up to which the peer acknowledged: TCP acknowledges segments, so this is
    /// often inside a message.
    acked: u64,
    /// Where the first message not wholly acknowledged starts: a new connection and a
    /// save start here, so the peer never gets the tail of a message without its head.
    delivered: u64,
    /// Each message not wholly acknowledged: the offset ending it, its acknowledgement
    /// (`None` once saved) and whether that came from the disk queue's files.
    messages: VecDeque<(u64, Option<AckToken>, bool)>,
    /// Acknowledgements in `messages` that came straight from their source.
    from_source: usize,
    /// When the peer last acknowledged bytes, or bytes began to wait for it.
    progress_at: Instant,
    /// Where they are saved for the next start (with a disk queue).
    saved: Option<SavedBytes>,
}

/// `SAVED_FILE` in the disk queue's directory, and what it holds.
struct SavedBytes {
    file: AtomicFile,
    /// fsync it (`fsync_interval` > 0).
    sync: bool,
    /// The [`Unacked`] offset ending what the file holds, until the peer acknowledged it.
    end: Option<u64>,
    /// After a failed save, none is tried again before this.
    again_at: Option<Instant>,
}

impl SavedBytes {
    fn in_queue(settings: &QueueSettings) -> SavedBytes {
        SavedBytes {
            file: AtomicFile::new(&settings.dir, SAVED_FILE),
            sync: !settings.fsync_interval.is_zero(),
            end: None,
            again_at: None,
        }
    }
}

impl Unacked {
    fn new(saved: Option<SavedBytes>) -> Unacked {
        Unacked {
            bytes: Vec::with_capacity(BATCH_BYTES),
            base: 0,
            acked: 0,
            delivered: 0,
            messages: VecDeque::new(),
            from_source: 0,
            progress_at: Instant::now(),
            saved,
        }
    }

    /// Offset after the last byte gathered.
    fn end(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    /// The bytes from `offset` on.
    fn from(&self, offset: u64) -> &[u8] {
        let start = offset.saturating_sub(self.base) as usize;
        self.bytes.get(start..).unwrap_or_default()
    }

    /// Whether every byte gathered was acknowledged.
    fn is_empty(&self) -> bool {
        self.acked == self.end()
    }

    /// Whether no more may be gathered until the peer acknowledges some.
    fn window_full(&self) -> bool {
        self.messages.len() >= MAX_UNACKED
            || (self.end() - self.delivered) as usize >= MAX_UNACKED_BYTES
    }

    /// Adds a message that ends at `end()`; bytes begin to wait for the peer now if none
    /// did.
    fn push(&mut self, token: Option<AckToken>, queued: bool) {
        if self.messages.is_empty() {
            self.progress_at = Instant::now();
        }
        self.from_source += usize::from(token.is_some() && !queued);
        self.messages.push_back((self.end(), token, queued));
    }

    /// Whether the peer has taken nothing for `SAVE_AFTER` while messages straight from
    /// their source wait for it.
    fn stalled(&self) -> bool {
        self.from_source > 0 && !self.is_empty() && self.progress_at.elapsed() >= SAVE_AFTER
    }

    /// Completes the messages the peer acknowledged up to `offset`, and lets go of their
    /// bytes (moving the rest down only once that is at least half the buffer).
    fn acknowledge(&mut self, offset: u64) {
        let offset = offset.clamp(self.acked, self.end());
        if offset > self.acked {
            self.progress_at = Instant::now();
        }
        self.acked = offset;
        while self.messages.front().is_some_and(|m| m.0 <= self.acked) {
            if let Some((end, token, queued)) = self.messages.pop_front() {
                self.delivered = end;
                if token.is_some() && !queued {
                    self.from_source -= 1;
                }
            }
        }
        if self.messages.is_empty() {
            self.delivered = self.acked;
        }
        let done = (self.delivered - self.base) as usize;
        if done == self.bytes.len() || done >= self.bytes.len() / 2 {
            self.bytes.drain(..done);
            self.base = self.delivered;
        }
    }

    /// Completes every message's acknowledgement now (their bytes were saved).
    fn complete_all(&mut self) {
        for (_, token, _) in self.messages.iter_mut() {
            drop(token.take());
        }
        self.from_source = 0;
    }
}

impl Drop for Unacked {
    fn drop(&mut self) {
        for (_, token, _) in self.messages.drain(..) {
            if let Some(token) = token {
                token.abandon();
            }
        }
    }
}

/// One connection to the peer.
struct Connection {
    stream: Link,
    /// [`Unacked`] offset of this connection's first byte.
    start: u64,
    /// [`Unacked`] offset up to which bytes were written on this connection.
    sent: u64,
    /// Messages written since connecting (for `reconnect_after`).
    messages: u64,
    /// We half-closed (sent FIN, which takes one sequence number of its own).
    fin_sent: bool,
}

/// Why [`TcpOutput::write_unsent`] did not write everything.
enum Unsent {
    /// The connection failed (it is to be dropped); says what failed.
    Failed(String),
    /// Writing has been blocked for `SAVE_AFTER` while messages straight from their
    /// source wait (the caller saves them if the peer acknowledged nothing meanwhile); the
    /// connection stays.
    Stalled,
}

/// What the kernel says about a connection.
enum Health {
    /// Established; this many written bytes are not acknowledged yet.
    Open {
        unacked: u64,
    },
    /// The peer closed its side (it may still read and acknowledge).
    PeerClosed {
        unacked: u64,
    },
    /// We half-closed and the connection is winding down normally.
    Closing {
        unacked: u64,
    },
    Broken,
}

impl Connection {
    fn health(&self) -> Health {
        let fd = self.stream.as_raw_fd();
        let mut info = [0u8; 256];
        let mut len = info.len() as libc::socklen_t;
        let mut outq: libc::c_int = 0;
        // SAFETY: getsockopt and ioctl on a socket fd we own, writing into live buffers of
        // the sizes given; tcpi_state is the first byte of struct tcp_info.
        let ok = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &mut len,
            ) == 0
                && libc::ioctl(fd, libc::TIOCOUTQ as _, &mut outq) == 0
        };
        if !ok || outq < 0 {
            return Health::Broken;
        }
        let unacked = outq as u64;
        match (info[0] as i32, self.fin_sent) {
            (1, _) => Health::Open { unacked },
            // CLOSE_WAIT: the peer sent FIN (a hekad TcpInput shutting down does).
            (8, _) => Health::PeerClosed { unacked },
            // FIN_WAIT1/2, TIME_WAIT, CLOSE, LAST_ACK, CLOSING after our own FIN: the
            // unacknowledged count stays exact (it only shrinks with real ACKs).
            (4 | 5 | 6 | 7 | 9 | 11, true) => Health::Closing { unacked },
            _ => Health::Broken,
        }
    }

    /// The [`Unacked`] offset the peer acknowledged, given the socket's count of
    /// unacknowledged bytes.
    fn acked(&mut self, unacked: u64) -> u64 {
        let written = self.sent - self.start;
        let socket_written = self.stream.socket_written(written);
        let sequence = socket_written + u64::from(self.fin_sent);
        let socket_acked = sequence.saturating_sub(unacked).min(socket_written);
        self.start + self.stream.plain_acked(socket_acked).min(written)
    }
}

impl TcpOutput {
    /// Connects and, with `use_tls`, runs the handshake (within `CLOSE_GRACE` once
    /// hekad is stopping).
    async fn open(&self, ctx: &OutputContext) -> Result<Link, String> {
        let stream = self
            .connect()
            .or(stop_grace(ctx))
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.address))?;
        let Some(tls) = &self.tls else {
            return Ok(Link::plain(stream));
        };
        Link::tls(stream, tls)
            .or(stop_grace(ctx))
            .await
            .map_err(|e| format!("TLS handshake with {} failed: {e}", self.address))
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        let stream = match self.local_address {
            None => TcpStream::connect(self.address.as_str()).await?,
            Some(local) => {
                let mut last = None;
                let mut found = None;
                for remote in smol::net::resolve(self.address.as_str()).await? {
                    if remote.is_ipv4() != local.is_ipv4() {
                        continue;
                    }
                    match connect_from(local, remote).await {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                match found {
                    Some(s) => s,
                    None => {
                        return Err(last.unwrap_or_else(|| {
                            std::io::Error::other("no address of the same family as local_address")
                        }))
                    }
                }
            }
        };
        if let Some(period) = self.keep_alive {
            crate::plugins::inputs::tcp::set_keep_alive(&stream, period);
        }
        let _ = stream.set_nodelay(true);
        log::debug!(
            "TcpOutput: connected to {} from {}",
            self.address,
            stream
                .local_addr()
                .map_or_else(|_| "?".to_owned(), |a| a.to_string())
        );
        Ok(stream)
    }

    async fn backoff(ctx: &OutputContext, delay: &mut Duration) {
        let jitter = Duration::from_millis(fastrand::u64(0..250));
        let slept = async {
            smol::Timer::after(*delay + jitter).await;
        };
        slept.or(async { ctx.control.stopped().await }).await;
        *delay = (*delay * 2).min(MAX_BACKOFF);
    }

    /// Disk-queued delivery: messages complete only when acknowledged by the peer; after
    /// a failure, everything unacknowledged is written again on the next connection.
    async fn run_durable(&self, ctx: &mut OutputContext) {
        let mut conn: Option<Connection> = None;
        let mut out = Unacked::new(ctx.queue.queue_settings().map(SavedBytes::in_queue));
        self.load_saved(ctx, &mut out);
        let mut delay = FIRST_BACKOFF;
        let ack_poll = Deadline::new();
        let stall = Deadline::new();
        loop {
            if out.window_full()
                && !self
                    .wait_for_window(ctx, &mut conn, &mut out, &ack_poll)
                    .await
            {
                self.save_unacked(ctx, &mut out);
                if self.give_up(ctx) {
                    break;
                }
                Self::backoff(ctx, &mut delay).await;
                continue;
            }
            let sent = conn.as_ref().map_or(out.delivered, |c| c.sent);
            let count = if sent < out.end() {
                // After a failure, what is unacknowledged goes again before anything new;
                // what is ready joins it, so it can be saved with it.
                let ready = match out.window_full() {
                    true => None,
                    false => ctx.queue.try_recv(),
                };
                match ready {
                    Some(first) => self.gather(ctx, first, &mut out).await,
                    None => 0,
                }
            } else {
                // Wait for the next message, checking acknowledgements while some are due.
                let first = match out.is_empty() {
                    false => {
                        let next = async { Some(ctx.queue.recv().await) }
                            .or(async {
                                ack_poll.within(ACK_POLL).await;
                                None
                            })
                            .await;
                        if next.is_none() {
                            if !self.settle(ctx, &mut conn, &mut out).await {
                                self.save_unacked(ctx, &mut out);
                                Self::backoff(ctx, &mut delay).await;
                            } else if out.stalled() {
                                self.save_unacked(ctx, &mut out);
                            }
                        }
                        match next {
                            None => continue,
                            Some(n) => n,
                        }
                    }
                    true => ctx.queue.recv().await,
                };
                let Ok(first) = first else {
                    break;
                };
                self.gather(ctx, first, &mut out).await
            };
            PluginStats::add(&ctx.stats.process_count, count);
            match self.write_unsent(ctx, &mut conn, &out, &stall).await {
                Ok(()) => {}
                Err(Unsent::Stalled) => {
                    // Blocked for SAVE_AFTER: save only if no byte was acknowledged meanwhile.
                    if self.settle_now(ctx, &mut conn, &mut out) && out.stalled() {
                        self.save_unacked(ctx, &mut out);
                    }
                    continue;
                }
                Err(Unsent::Failed(why)) => {
                    log::warn!("Plugin '{}': {why}; will resend", ctx.name);
                    conn = None;
                    self.save_unacked(ctx, &mut out);
                    if self.give_up(ctx) {
                        break;
                    }
                    Self::backoff(ctx, &mut delay).await;
                    continue;
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            delay = FIRST_BACKOFF;
            c.messages += count;
            if !self.settle(ctx, &mut conn, &mut out).await {
                self.save_unacked(ctx, &mut out);
                Self::backoff(ctx, &mut delay).await;
                continue;
            }
            self.forget_saved(ctx, &mut out);
            let reconnect = conn
                .as_ref()
                .is_some_and(|c| self.reconnect_after > 0 && c.messages >= self.reconnect_after);
            if reconnect {
                self.close_gracefully(ctx, &mut conn, &mut out).await;
            }
        }
        // Shutdown: give the peer a moment to acknowledge what was sent; the rest stays
        // queued, or is saved for the next start.
        self.close_gracefully(ctx, &mut conn, &mut out).await;
        self.forget_saved(ctx, &mut out);
        self.save_unacked(ctx, &mut out);
    }

    /// Saves what the peer has not acknowledged to `SAVED_FILE` (written first after the
    /// next start), so the messages that came straight from their source complete now.
    /// Held longer, they would keep their source from checkpointing while newer messages
    /// are queued on disk, and a restart would then send all of those twice.
    fn save_unacked(&self, ctx: &OutputContext, out: &mut Unacked) {
        let Some(saved) = out.saved.as_ref() else {
            return;
        };
        if out.from_source == 0 || saved.again_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let bytes = out.from(out.delivered);
        let path = saved.file.path();
        let written = match saved.file.replace(bytes, saved.sync) {
            Ok(()) => {
                log::info!(
                    "Plugin '{}': {} is not taking messages; {} unacknowledged bytes saved to {}, to be sent first after a restart",
                    ctx.name,
                    self.address,
                    bytes.len(),
                    path.display()
                );
                true
            }
            Err(e) => {
                log::error!(
                    "Plugin '{}': saving unacknowledged messages to {}: {e}; trying again in {CLOSE_GRACE:?}",
                    ctx.name,
                    path.display()
                );
                false
            }
        };
        let end = out.end();
        if let Some(saved) = out.saved.as_mut() {
            saved.end = written.then_some(end).or(saved.end);
            saved.again_at = (!written).then(|| Instant::now() + CLOSE_GRACE);
        }
        if written {
            out.complete_all();
        }
    }

    /// Deletes `SAVED_FILE` once the peer acknowledged everything in it.
    fn forget_saved(&self, ctx: &OutputContext, out: &mut Unacked) {
        let acked = out.acked;
        let Some(saved) = out.saved.as_mut() else {
            return;
        };
        if saved.end.is_none_or(|end| acked < end) {
            return;
        }
        match std::fs::remove_file(saved.file.path()) {
            Ok(()) => saved.end = None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => saved.end = None,
            Err(e) => log::error!(
                "Plugin '{}': deleting {}: {e}",
                ctx.name,
                saved.file.path().display()
            ),
        }
    }

    /// Takes the bytes a previous run saved (see `save_unacked`) as the first to send.
    fn load_saved(&self, ctx: &OutputContext, out: &mut Unacked) {
        let Some(saved) = out.saved.as_ref() else {
            return;
        };
        let path = saved.file.path();
        match std::fs::read(path) {
            Ok(bytes) => {
                log::info!(
                    "Plugin '{}': sending first the {} unacknowledged bytes the last run saved in {}",
                    ctx.name,
                    bytes.len(),
                    path.display()
                );
                out.bytes = bytes;
                // One unit: it is resent whole until the peer acknowledged all of it.
                out.push(None, true);
                let end = out.end();
                if let Some(saved) = out.saved.as_mut() {
                    saved.end = Some(end);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::error!("Plugin '{}': reading {}: {e}", ctx.name, path.display()),
        }
    }

    /// Encodes `first` and whatever else is ready into `out`, up to a batch and the
    /// window; returns the number of messages.
    async fn gather(&self, ctx: &mut OutputContext, first: SharedPack, out: &mut Unacked) -> u64 {
        let batch_start = out.bytes.len();
        let mut count = 0u64;
        let mut pack = Some(first);
        while let Some(p) = pack.take() {
            if ctx.encode_into(&p, &mut out.bytes) {
                count += 1;
            }
            // Shared with other plugins when it came straight from its source: a hold,
            // so it completes once they are done with it too.
            let token = p.hold_ack();
            let queued = token.as_ref().is_some_and(|t| ctx.queue.is_queued(t));
            out.push(token, queued);
            drop(p);
            if out.bytes.len() - batch_start < BATCH_BYTES && !out.window_full() {
                pack = ctx.queue.try_recv_after_yield().await;
            }
        }
        // Messages that encoded to nothing complete as soon as what precedes them does.
        out.acknowledge(out.acked);
        count
    }

    /// Waits until the window has room. Returns false when the connection failed, or the
    /// peer still took nothing more `CLOSE_GRACE` after hekad began stopping (the
    /// connection is dropped then).
    async fn wait_for_window(
        &self,
        ctx: &OutputContext,
        conn: &mut Option<Connection>,
        out: &mut Unacked,
        ack_poll: &Deadline,
    ) -> bool {
        let acknowledged = async {
            let mut poll = FIRST_WINDOW_POLL;
            loop {
                if conn.is_none() {
                    // The next connection starts with what is unacknowledged.
                    return Some(true);
                }
                if !self.settle(ctx, conn, out).await {
                    return Some(false);
                }
                if out.stalled() {
                    self.save_unacked(ctx, out);
                }
                if !out.window_full() {
                    return Some(true);
                }
                ack_poll.within(poll).await;
                poll = (poll * 2).min(ACK_POLL);
            }
        };
        let given_up = async {
            let _ = stop_grace::<()>(ctx).await;
            None
        };
        let outcome = acknowledged.or(given_up).await;
        outcome.unwrap_or_else(|| {
            log::warn!(
                "Plugin '{}': {} still leaves {} messages unacknowledged {CLOSE_GRACE:?} after hekad began stopping",
                ctx.name,
                self.address,
                out.messages.len()
            );
            *conn = None;
            false
        })
    }

    /// Connects if needed and writes what this connection has not sent yet (after a
    /// reconnect: everything unacknowledged). Once shutdown has begun, a peer that does
    /// not take the bytes within `CLOSE_GRACE` (stalled, black-holed) fails the write, so
    /// hekad still stops. A write blocked for `SAVE_AFTER` while messages from their
    /// source wait returns `Stalled`, so the caller can save them and go on.
    async fn write_unsent(
        &self,
        ctx: &OutputContext,
        conn: &mut Option<Connection>,
        out: &Unacked,
        stall: &Deadline,
    ) -> Result<(), Unsent> {
        if conn.is_none() {
            let stream = self.open(ctx).await.map_err(Unsent::Failed)?;
            *conn = Some(Connection {
                stream,
                start: out.delivered,
                sent: out.delivered,
                messages: 0,
                fin_sent: false,
            });
        }
        let Some(c) = conn.as_mut() else {
            return Ok(());
        };
        let stall_at = Instant::now() + SAVE_AFTER;
        let stalled = async {
            match out.from_source {
                0 => std::future::pending().await,
                _ => stall.until(stall_at).await,
            };
            Err(Unsent::Stalled)
        };
        let written = async {
            loop {
                let unsent = out.from(c.sent);
                if unsent.is_empty() {
                    return Ok(());
                }
                let n = c.stream.write(unsent).or(stop_grace(ctx)).await;
                match n {
                    Ok(0) => return Err(Unsent::Failed(format!("{} took no bytes", self.address))),
                    Ok(n) => c.sent += n as u64,
                    Err(e) => {
                        let why = format!("write to {} failed: {e}", self.address);
                        return Err(Unsent::Failed(why));
                    }
                }
            }
        };
        written.or(stalled).await
    }

    /// Checks acknowledgements now; returns false when the connection failed (it is
    /// dropped; what it left unacknowledged goes on the next one).
    fn settle_now(
        &self,
        ctx: &OutputContext,
        conn: &mut Option<Connection>,
        out: &mut Unacked,
    ) -> bool {
        let Some(c) = conn.as_mut() else {
            return true;
        };
        match c.health() {
            Health::Open { unacked }
            | Health::PeerClosed { unacked }
            | Health::Closing { unacked } => {
                // A closing peer is settled by `settle`, which can wait.
                out.acknowledge(c.acked(unacked));
                true
            }
            Health::Broken => {
                let why = c
                    .stream
                    .peer_alert()
                    .map_or_else(String::new, |alert| format!(" ({alert})"));
                log::warn!(
                    "Plugin '{}': connection to {} broke{why} with {} messages unacknowledged; resending them",
                    ctx.name,
                    self.address,
                    out.messages.len()
                );
                *conn = None;
                false
            }
        }
    }

    /// Like `settle_now`, and when the peer is closing: stop writing, wait for it to
    /// acknowledge, then drop the connection. Returns false if messages must be resent.
    async fn settle(
        &self,
        ctx: &OutputContext,
        conn: &mut Option<Connection>,
        out: &mut Unacked,
    ) -> bool {
        if !self.settle_now(ctx, conn, out) {
            return false;
        }
        let closing = matches!(
            conn.as_ref().map(Connection::health),
            Some(Health::PeerClosed { .. })
        );
        if closing {
            match conn.as_mut().and_then(|c| c.stream.peer_alert()) {
                Some(alert) => log::warn!(
                    "Plugin '{}': {} closed the connection: {alert}",
                    ctx.name,
                    self.address
                ),
                None => log::info!(
                    "Plugin '{}': {} is closing the connection",
                    ctx.name,
                    self.address
                ),
            }
            return self.close_gracefully(ctx, conn, out).await;
        }
        true
    }

    /// Half-closes, waits (up to `CLOSE_GRACE`) for every byte to be acknowledged and
    /// drops the connection; what was not acknowledged goes on the next one. Returns true
    /// when everything was acknowledged.
    async fn close_gracefully(
        &self,
        ctx: &OutputContext,
        conn: &mut Option<Connection>,
        out: &mut Unacked,
    ) -> bool {
        let Some(mut c) = conn.take() else {
            return true;
        };
        if c.stream.close().or(stop_grace(ctx)).await.is_ok() {
            c.fin_sent = true;
        }
        let deadline = Instant::now() + CLOSE_GRACE;
        while Instant::now() < deadline {
            match c.health() {
                Health::Open { unacked }
                | Health::PeerClosed { unacked }
                | Health::Closing { unacked } => {
                    out.acknowledge(c.acked(unacked));
                    if unacked == 0 {
                        break;
                    }
                }
                Health::Broken => break,
            }
            smol::Timer::after(ACK_POLL).await;
        }
        if out.acked >= c.sent {
            return true;
        }
        log::warn!(
            "Plugin '{}': {} messages to {} not acknowledged; they will be sent again",
            ctx.name,
            out.messages.len(),
            self.address
        );
        false
    }

    /// During shutdown an unreachable peer ends the run: the queue keeps the messages.
    fn give_up(&self, ctx: &OutputContext) -> bool {
        if ctx.control.is_stopping() {
            log::warn!(
                "Plugin '{}': shutting down with {} unreachable; undelivered messages stay in the disk queue or their source",
                ctx.name,
                self.address
            );
            return true;
        }
        false
    }

    /// In-memory delivery (`use_buffering = false`): writes each batch, reconnecting and
    /// retrying until it is written. During shutdown an unreachable peer loses the rest
    /// (counted).
    async fn run_in_memory(&self, ctx: &mut OutputContext) {
        let mut conn: Option<Link> = None;
        let mut batch = Vec::with_capacity(BATCH_BYTES);
        let mut since_connect = 0u64;
        while let Ok(first) = ctx.queue.recv().await {
            batch.clear();
            let mut count = u64::from(ctx.encode_into(&first, &mut batch));
            drop(first);
            while batch.len() < BATCH_BYTES {
                // Gather beyond the queue only while connected: without a peer, messages
                // are better left queued, where back-pressure and wedge detection see them.
                let next = match conn {
                    Some(_) => ctx.queue.try_recv_after_yield().await,
                    None => ctx.queue.try_recv(),
                };
                let Some(next) = next else {
                    break;
                };
                count += u64::from(ctx.encode_into(&next, &mut batch));
            }
            if batch.is_empty() {
                continue;
            }
            let mut delay = FIRST_BACKOFF;
            loop {
                if conn.is_none() {
                    match self.open(ctx).await {
                        Ok(s) => conn = Some(s),
                        Err(e) => log::warn!("Plugin '{}': {e}", ctx.name),
                    }
                }
                if let Some(stream) = conn.as_mut() {
                    match stream.write_all(&batch).or(stop_grace(ctx)).await {
                        Ok(()) => break,
                        Err(e) => {
                            log::warn!(
                                "Plugin '{}': write to {} failed: {e}; reconnecting",
                                ctx.name,
                                self.address
                            );
                            conn = None;
                        }
                    }
                }
                if ctx.control.is_stopping() && ctx.queue.is_closed() {
                    let lost = count + ctx.queue.waiting() as u64;
                    PluginStats::add(&ctx.stats.drop_count, lost);
                    log::error!(
                        "Plugin '{}': shutting down with {} unreachable; {lost} messages not delivered",
                        ctx.name,
                        self.address
                    );
                    return;
                }
                Self::backoff(ctx, &mut delay).await;
            }
            PluginStats::add(&ctx.stats.process_count, count);
            since_connect += count;
            if self.reconnect_after > 0 && since_connect >= self.reconnect_after {
                conn = None;
                since_connect = 0;
            }
        }
        if let Some(mut stream) = conn {
            let _ = stream.close().or(stop_grace(ctx)).await;
        }
    }
}

/// Fails `CLOSE_GRACE` after shutdown began: raced with network waits that a stalled or
/// unreachable peer could make endless.
async fn stop_grace<T>(ctx: &OutputContext) -> std::io::Result<T> {
    ctx.control.stopped().await;
    smol::Timer::after(CLOSE_GRACE).await;
    Err(std::io::Error::other("hekad is stopping"))
}

/// Connects from `local` (TcpOutput's `local_address`) to `remote`.
async fn connect_from(local: SocketAddr, remote: SocketAddr) -> std::io::Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = if local.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = rustix::net::socket_with(
        family,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &local)?;
    match rustix::net::connect(&fd, &remote) {
        Ok(()) | Err(rustix::io::Errno::INPROGRESS) => {}
        Err(e) => return Err(e.into()),
    }
    let stream = Async::new(std::net::TcpStream::from(fd))?;
    stream.writable().await?;
    if let Some(e) = stream.get_ref().take_error()? {
        return Err(e);
    }
    Ok(TcpStream::from(stream))
}

impl Output for TcpOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            if ctx.queue.is_durable() {
                self.run_durable(&mut ctx).await;
            } else {
                self.run_in_memory(&mut ctx).await;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ack::AckTracker;
    use std::sync::Arc;

    /// Gathers `text` as one message with a token of `tracker`.
    fn gather(out: &mut Unacked, tracker: &Arc<AckTracker>, text: &str, position: u64) {
        out.bytes.extend_from_slice(text.as_bytes());
        out.push(Some(tracker.register((1, position))), false);
    }

    #[test]
    fn a_partly_acknowledged_message_is_resent_whole_and_completes_only_when_all_acknowledged() {
        let tracker = AckTracker::new(4);
        let mut out = Unacked::new(None);
        gather(&mut out, &tracker, "first\n", 10);
        gather(&mut out, &tracker, "second\n", 20);
        // TCP acknowledged up to the middle of the second message.
        out.acknowledge(9);
        assert_eq!(
            tracker.committed(),
            Some(((1, 10), 1)),
            "only the first completes"
        );
        assert_eq!(
            out.from(out.delivered),
            b"second\n",
            "a new connection starts here"
        );
        assert_eq!(out.from_source, 1);
        out.acknowledge(13);
        assert_eq!(tracker.committed(), Some(((1, 20), 1)));
        assert!(out.is_empty());
        assert_eq!(out.from(out.delivered), b"");
    }

    #[test]
    fn saved_messages_complete_and_dropped_ones_are_abandoned() {
        let tracker = AckTracker::new(4);
        let mut out = Unacked::new(None);
        gather(&mut out, &tracker, "saved\n", 10);
        out.complete_all();
        assert_eq!(tracker.committed(), Some(((1, 10), 1)));
        assert_eq!(out.from_source, 0);
        gather(&mut out, &tracker, "held\n", 20);
        drop(out);
        assert_eq!(
            tracker.committed(),
            None,
            "never acknowledged: not committed"
        );
    }
}
