//! TcpOutput (§5.6): ships encoded (by default framed protobuf) messages to a TCP peer,
//! typically another hekad's TcpInput. Connects lazily; on a connect or write failure it
//! closes, backs off (250 ms doubling to 30 s, with jitter) and tries again.
//!
//! With its disk queue (`use_buffering`, on by default) delivery is at-least-once across
//! restarts and kill -9: a message leaves the queue only once the peer's TCP stack has
//! acknowledged its bytes (the socket's unacknowledged byte count, `SIOCOUTQ`, tells us).
//! A write into a connection the peer already closed "succeeds" locally (Heka #1354); here
//! those bytes are never acknowledged, so after the reconnect they are sent again. At most
//! `MAX_UNACKED` messages are unacknowledged at a time, so a stalled peer costs bounded
//! memory. Without buffering, a failed batch is resent, but bytes the kernel accepted
//! before the failure cannot be.

use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection};
use crate::pipeline::ack::AckToken;
use crate::pipeline::deadline::Deadline;
use crate::pipeline::stats::PluginStats;
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::io::AsyncWriteExt;
use smol::net::TcpStream;
use smol::Async;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct TcpOutputConfig {
    address: String,
    local_address: String,
    use_tls: bool,
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
}

/// Bytes gathered from the queue into one write.
const BATCH_BYTES: usize = 64 * 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often unacknowledged bytes are checked while the queue is idle.
const ACK_POLL: Duration = Duration::from_millis(10);
/// How long a peer that closed its side gets to acknowledge what we sent.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Most messages written and not yet acknowledged. A stalled peer lets the kernel buffer
/// megabytes of them, and each costs bookkeeping here and in the queue's tracker (48 bytes
/// in all): without this bound, a stalled peer took 10 MB of memory for 15-byte lines. It
/// also bounds throughput to this many messages per round trip (82,000 a second at 100 ms).
const MAX_UNACKED: usize = 8192;

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: TcpOutputConfig = section::decode(section, common_keys)?;
    let err = |key: &str, msg: String| vec![ConfigError::in_section(section, Some(key), msg)];
    if c.use_tls {
        return Err(err("use_tls", "TLS is not supported yet".into()));
    }
    let local_address = match c.local_address.as_str() {
        "" => None,
        text => Some(text.parse::<SocketAddr>().map_err(|e| {
            err(
                "local_address",
                format!("{text:?} is not an ip:port address: {e}"),
            )
        })?),
    };
    Ok(Box::new(TcpOutput {
        address: c.address,
        local_address,
        keep_alive: c.keep_alive.then_some(c.keep_alive_period),
        reconnect_after: c.reconnect_after,
    }))
}

/// One connection and the bytes written to it that the peer has not acknowledged yet.
struct Connection {
    stream: TcpStream,
    /// Bytes written on this connection.
    written: u64,
    /// Messages written since connecting (for `reconnect_after`).
    messages: u64,
    /// Source acknowledgements, each with the connection byte count ending its message.
    unacked: VecDeque<(u64, AckToken)>,
    /// We half-closed (sent FIN, which takes one sequence number of its own).
    fin_sent: bool,
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

    /// Completes the messages whose bytes the peer acknowledged.
    fn release_acknowledged(&mut self, unacked: u64) {
        let sequence = self.written + u64::from(self.fin_sent);
        let acked = sequence.saturating_sub(unacked).min(self.written);
        while self.unacked.front().is_some_and(|(end, _)| *end <= acked) {
            self.unacked.pop_front();
        }
    }
}

impl TcpOutput {
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

    /// Disk-queued delivery: messages complete only when acknowledged by the peer; any
    /// failure rewinds the queue to the first unacknowledged message.
    async fn run_durable(&self, ctx: &mut OutputContext) {
        let mut conn: Option<Connection> = None;
        let mut batch = Vec::with_capacity(BATCH_BYTES);
        let mut tokens: Vec<(u64, AckToken)> = Vec::new();
        let mut delay = FIRST_BACKOFF;
        let ack_poll = Deadline::new();
        loop {
            let window_full = conn
                .as_ref()
                .is_some_and(|c| c.unacked.len() >= MAX_UNACKED);
            if window_full && !self.wait_for_window(ctx, &mut conn, &ack_poll).await {
                if self.give_up(ctx) {
                    break;
                }
                Self::backoff(ctx, &mut delay).await;
                continue;
            }
            let in_flight = conn.as_ref().map_or(0, |c| c.unacked.len());
            // Wait for the next message, checking acknowledgements while some are due.
            let waiting_for_acks = conn.as_ref().is_some_and(|c| !c.unacked.is_empty());
            let first = match waiting_for_acks {
                true => {
                    let next = async { Some(ctx.queue.recv().await) }
                        .or(async {
                            ack_poll.within(ACK_POLL).await;
                            None
                        })
                        .await;
                    if next.is_none() && !self.settle(ctx, &mut conn).await {
                        Self::backoff(ctx, &mut delay).await;
                    }
                    match next {
                        None => continue,
                        Some(n) => n,
                    }
                }
                false => ctx.queue.recv().await,
            };
            let Ok(first) = first else {
                break;
            };
            batch.clear();
            tokens.clear();
            let mut pack = Some(first);
            let mut count = 0u64;
            while let Some(p) = pack.take() {
                if ctx.encode_into(&p, &mut batch) {
                    count += 1;
                }
                if let Some(token) = p.take_ack() {
                    tokens.push((batch.len() as u64, token));
                }
                drop(p);
                if batch.len() < BATCH_BYTES && in_flight + tokens.len() < MAX_UNACKED {
                    pack = ctx.queue.try_recv_after_yield().await;
                }
            }
            if batch.is_empty() {
                continue;
            }
            if let Err(why) = self.write_batch(ctx, &mut conn, &batch).await {
                log::warn!("Plugin '{}': {why}; will resend", ctx.name);
                self.rewind(ctx, &mut conn);
                if self.give_up(ctx) {
                    break;
                }
                Self::backoff(ctx, &mut delay).await;
                continue;
            }
            let Some(c) = conn.as_mut() else { continue };
            delay = FIRST_BACKOFF;
            let base = c.written;
            c.unacked
                .extend(tokens.drain(..).map(|(end, t)| (base + end, t)));
            c.written += batch.len() as u64;
            c.messages += count;
            PluginStats::add(&ctx.stats.process_count, count);
            if !self.settle(ctx, &mut conn).await {
                Self::backoff(ctx, &mut delay).await;
                continue;
            }
            let reconnect = conn
                .as_ref()
                .is_some_and(|c| self.reconnect_after > 0 && c.messages >= self.reconnect_after);
            if reconnect {
                self.close_gracefully(ctx, &mut conn).await;
            }
        }
        // Shutdown: give the peer a moment to acknowledge what was sent; the rest stays
        // queued for the next start.
        self.close_gracefully(ctx, &mut conn).await;
    }

    /// Waits until fewer than `MAX_UNACKED` messages are in flight. Returns false when the
    /// queue was rewound: the connection failed, or the peer still took nothing more
    /// `CLOSE_GRACE` after hekad began stopping.
    async fn wait_for_window(
        &self,
        ctx: &OutputContext,
        conn: &mut Option<Connection>,
        ack_poll: &Deadline,
    ) -> bool {
        let acknowledged = async {
            loop {
                ack_poll.within(ACK_POLL).await;
                if !self.settle(ctx, conn).await {
                    return Some(false);
                }
                if conn.as_ref().is_none_or(|c| c.unacked.len() < MAX_UNACKED) {
                    return Some(true);
                }
            }
        };
        let given_up = async {
            let _ = stop_grace::<()>(ctx).await;
            None
        };
        let outcome = acknowledged.or(given_up).await;
        outcome.unwrap_or_else(|| {
            log::warn!(
                "Plugin '{}': {} still leaves {MAX_UNACKED} messages unacknowledged {CLOSE_GRACE:?} after hekad began stopping",
                ctx.name,
                self.address
            );
            self.rewind(ctx, conn);
            false
        })
    }

    /// Connects if needed and writes `batch`; the error says what failed. Once shutdown
    /// has begun, a peer that does not take the bytes within `CLOSE_GRACE` (stalled,
    /// black-holed) fails the write, so hekad still stops.
    async fn write_batch(
        &self,
        ctx: &OutputContext,
        conn: &mut Option<Connection>,
        batch: &[u8],
    ) -> Result<(), String> {
        if conn.is_none() {
            let stream = self
                .connect()
                .or(stop_grace(ctx))
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", self.address))?;
            *conn = Some(Connection {
                stream,
                written: 0,
                messages: 0,
                unacked: VecDeque::new(),
                fin_sent: false,
            });
        }
        let Some(c) = conn.as_mut() else {
            return Ok(());
        };
        c.stream
            .write_all(batch)
            .or(stop_grace(ctx))
            .await
            .map_err(|e| format!("write to {} failed: {e}", self.address))
    }

    /// Checks acknowledgements now; returns false when the connection failed (the queue
    /// was rewound).
    fn settle_now(&self, ctx: &OutputContext, conn: &mut Option<Connection>) -> bool {
        let Some(c) = conn.as_mut() else {
            return true;
        };
        match c.health() {
            Health::Open { unacked } => {
                c.release_acknowledged(unacked);
                true
            }
            Health::PeerClosed { unacked } | Health::Closing { unacked } => {
                // Settled by `settle`, which can wait; count what is acknowledged.
                c.release_acknowledged(unacked);
                true
            }
            Health::Broken => {
                log::warn!(
                    "Plugin '{}': connection to {} broke with {} messages unacknowledged; resending them",
                    ctx.name,
                    self.address,
                    c.unacked.len()
                );
                self.rewind(ctx, conn);
                false
            }
        }
    }

    /// Like `settle_now`, and when the peer is closing: stop writing, wait for it to
    /// acknowledge, then drop the connection. Returns false if messages must be resent.
    async fn settle(&self, ctx: &OutputContext, conn: &mut Option<Connection>) -> bool {
        if !self.settle_now(ctx, conn) {
            return false;
        }
        let closing = matches!(
            conn.as_ref().map(Connection::health),
            Some(Health::PeerClosed { .. })
        );
        if closing {
            log::info!(
                "Plugin '{}': {} is closing the connection",
                ctx.name,
                self.address
            );
            return self.close_gracefully(ctx, conn).await;
        }
        true
    }

    /// Half-closes, waits (up to `CLOSE_GRACE`) for every byte to be acknowledged and
    /// drops the connection; what was not acknowledged is read again from the queue.
    /// Returns true when everything was acknowledged.
    async fn close_gracefully(&self, ctx: &OutputContext, conn: &mut Option<Connection>) -> bool {
        let Some(c) = conn.as_mut() else {
            return true;
        };
        let _ = c.stream.flush().await;
        if c.stream.shutdown(std::net::Shutdown::Write).is_ok() {
            c.fin_sent = true;
        }
        let deadline = std::time::Instant::now() + CLOSE_GRACE;
        while std::time::Instant::now() < deadline {
            match c.health() {
                Health::Open { unacked }
                | Health::PeerClosed { unacked }
                | Health::Closing { unacked } => {
                    c.release_acknowledged(unacked);
                    if unacked == 0 {
                        break;
                    }
                }
                Health::Broken => break,
            }
            smol::Timer::after(ACK_POLL).await;
        }
        if c.unacked.is_empty() {
            *conn = None;
            return true;
        }
        log::warn!(
            "Plugin '{}': {} messages to {} not acknowledged; they will be sent again",
            ctx.name,
            c.unacked.len(),
            self.address
        );
        self.rewind(ctx, conn);
        false
    }

    /// Drops the connection and re-reads the queue from the first unacknowledged message.
    /// The queue forgets its in-flight messages first, so the tokens dropped with the
    /// connection (and the caller's batch, cleared before the next one) complete nothing.
    fn rewind(&self, ctx: &OutputContext, conn: &mut Option<Connection>) {
        ctx.queue.rewind();
        *conn = None;
    }

    /// During shutdown an unreachable peer ends the run: the queue keeps the messages.
    fn give_up(&self, ctx: &OutputContext) -> bool {
        if ctx.control.is_stopping() {
            log::warn!(
                "Plugin '{}': shutting down with {} unreachable; undelivered messages stay in the disk queue",
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
        let mut conn: Option<TcpStream> = None;
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
                    match self.connect().or(stop_grace(ctx)).await {
                        Ok(s) => conn = Some(s),
                        Err(e) => log::warn!(
                            "Plugin '{}': cannot connect to {}: {e}",
                            ctx.name,
                            self.address
                        ),
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
            let _ = stream.flush().await;
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
