//! StatsdInput (§5.1): a statsd server. Each line `bucket:value|type[|@rate]` becomes a
//! sample of the StatAccumInput named `stat_accum_name`.
//!
//! Beyond Heka's grammar it takes what current clients send: sets (`s`), histograms and
//! distributions (`h`, `d`) as timers, gauge deltas (`+N`/`-N`), DogStatsD tags and
//! container ids (ignored), and statsd over TCP (`net = "tcp"`, one metric per line).
//! Bucket names are cleaned as Etsy's statsd does (whitespace to `_`, `/` to `-`, other
//! characters outside `[A-Za-z0-9_.-]` dropped), so every name is a valid Graphite path.
//! A bad line is counted (ProcessMessageFailures) and logged with its sender and a short
//! prefix, at most once a second; a datagram longer than `max_msg_size` is counted and
//! its cut line dropped. Datagrams the kernel dropped because hekad fell behind are read
//! from `/proc/net/udp` and reported as KernelDropCount.

use super::stat_accum::{Sample, StatSink};
use super::{Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use rustix::io::Errno;
use rustix::net::RecvFlags;
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::io::AsyncReadExt;
use smol::Async;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
#[serde(default)]
struct StatsdConfig {
    address: String,
    /// "udp" (Heka's only choice) or "tcp".
    net: String,
    stat_accum_name: String,
    max_msg_size: usize,
}

impl Default for StatsdConfig {
    fn default() -> Self {
        StatsdConfig {
            address: "127.0.0.1:8125".into(),
            net: "udp".into(),
            stat_accum_name: super::stat_accum::TYPE_NAME.into(),
            // Heka read 512 bytes and silently cut the rest; clients batch up to a jumbo
            // frame (Etsy: 1432 bytes, DogStatsD: 8 KiB), so the whole of any datagram.
            max_msg_size: 65_507,
        }
    }
}

enum Listener {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

/// The StatsdInput plugin.
pub struct StatsdInput {
    listener: Listener,
    sink: Arc<StatSink>,
    max_msg_size: usize,
}

/// Builds a StatsdInput and binds its socket; `sink` is its StatAccumInput's.
pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    dry_run: bool,
    sink: impl FnOnce(&str) -> Result<Arc<StatSink>, Vec<ConfigError>>,
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let c: StatsdConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let sink = errors.merge(sink(&c.stat_accum_name));
    if c.max_msg_size == 0 {
        errors.add("max_msg_size", "expected a size above 0, got 0");
    }
    let nets = ["udp", "udp4", "udp6", "tcp", "tcp4", "tcp6"];
    let net = errors.one_of("net", &c.net, &nets, false);
    let set = errors.required("address", !c.address.is_empty(), "a host:port");
    let (Some(net), true) = (net, set) else {
        return Err(errors.fail("address", "not checked"));
    };
    if dry_run {
        errors.check("address", super::check_listen_address(net, &c.address));
        return errors.finish(|| Box::new(super::CheckedOnly) as Box<dyn Input>);
    }
    let listener = match net.starts_with("udp") {
        true => UdpSocket::bind(&c.address).map(Listener::Udp),
        false => TcpListener::bind(&c.address).map(Listener::Tcp),
    }
    .map_err(|e| super::listen_failed(&c.address, e));
    let (Some(listener), Some(sink)) = (errors.check("address", listener), sink) else {
        return Err(errors.fail("address", "not bound"));
    };
    errors.finish(|| {
        Box::new(StatsdInput {
            listener,
            sink,
            max_msg_size: c.max_msg_size,
        }) as Box<dyn Input>
    })
}

impl Input for StatsdInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let StatsdInput {
                listener,
                sink,
                max_msg_size,
            } = *self;
            let reporter = Arc::new(Reporter::new(&ctx));
            match listener {
                Listener::Udp(socket) => {
                    serve_udp(&ctx, socket, sink, max_msg_size, reporter).await
                }
                Listener::Tcp(listener) => {
                    serve_tcp(&ctx, listener, sink, max_msg_size, reporter).await
                }
            }
        })
    }
}

async fn serve_udp(
    ctx: &InputContext,
    socket: UdpSocket,
    sink: Arc<StatSink>,
    max_msg_size: usize,
    reporter: Arc<Reporter>,
) -> Result<(), String> {
    let (control, stats) = (ctx.control.clone(), ctx.shared.stats.clone());
    smol::unblock(move || receive_udp(&control, &socket, &sink, max_msg_size, &reporter, &stats))
        .await
}

/// The UDP receive loop, on a thread of its own so that a datagram leaves the kernel's
/// queue as soon as it arrives, whatever the executors are doing: emitting 10,000 stats
/// kept an executor busy for about 10 ms, longer than the default receive queue lasts at
/// 400,000 metrics/s (it dropped 1% there when this loop ran on the executor).
fn receive_udp(
    control: &Control,
    socket: &UdpSocket,
    sink: &StatSink,
    max_msg_size: usize,
    reporter: &Reporter,
    stats: &PluginStats,
) -> Result<(), String> {
    let drops = KernelDrops::of(socket);
    socket
        .set_read_timeout(Some(POLL_STOP))
        .map_err(|e| format!("socket: {e}"))?;
    let mut datagram = vec![0u8; max_msg_size];
    let mut scratch = Vec::new();
    while !control.is_stopping() {
        let (len, peer) = match rustix::net::recvfrom(socket, &mut datagram[..], RecvFlags::TRUNC) {
            Ok((_, len, peer)) => (len, peer.and_then(|p| SocketAddr::try_from(p).ok())),
            Err(Errno::AGAIN | Errno::INTR) => {
                drops.sample(stats, false);
                continue;
            }
            Err(e) => return Err(format!("receive: {e}")),
        };
        let mut data = &datagram[..len.min(max_msg_size)];
        if len > max_msg_size {
            // The cut line is not a metric; the ones before it are.
            reporter.bad(
                peer,
                &data[..data.len().min(32)],
                "datagram longer than max_msg_size",
            );
            data = match memchr::memrchr(b'\n', data) {
                Some(end) => &data[..end],
                None => &[],
            };
        }
        let mut accumulator = sink.lock();
        for line in data.split(|&b| b == b'\n') {
            handle_line(line, &mut accumulator, &mut scratch, reporter, peer);
        }
        drop(accumulator);
        reporter.flush();
        drops.sample(stats, false);
    }
    drops.sample(stats, true);
    reporter.flush();
    Ok(())
}

/// How often the receive thread looks whether hekad is stopping.
const POLL_STOP: Duration = Duration::from_millis(100);

async fn serve_tcp(
    ctx: &InputContext,
    listener: TcpListener,
    sink: Arc<StatSink>,
    max_line: usize,
    reporter: Arc<Reporter>,
) -> Result<(), String> {
    let control = ctx.control.clone();
    super::accept_until_stopped(
        &ctx.shared.input_name,
        listener,
        &ctx.control,
        |stream, peer| {
            let (sink, reporter, control) = (sink.clone(), reporter.clone(), control.clone());
            async move {
                let read = read_lines(stream, &sink, max_line, &reporter, peer);
                let stopped = async { control.stopped().await };
                read.or(stopped).await;
                reporter.flush();
            }
        },
    )
    .await
}

/// Reads one statsd TCP connection: a metric per line, lines longer than `max_line`
/// skipped and counted.
async fn read_lines(
    mut stream: Async<std::net::TcpStream>,
    sink: &StatSink,
    max_line: usize,
    reporter: &Reporter,
    peer: SocketAddr,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut filled, mut skipping) = (0, false);
    let mut scratch = Vec::new();
    loop {
        let n = match stream.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        filled += n;
        let complete = match memchr::memrchr(b'\n', &buf[..filled]) {
            Some(end) => end + 1,
            None => 0,
        };
        {
            let mut accumulator = sink.lock();
            for line in buf[..complete].split(|&b| b == b'\n') {
                if std::mem::take(&mut skipping) {
                    continue;
                }
                handle_line(line, &mut accumulator, &mut scratch, reporter, Some(peer));
            }
        }
        reporter.flush();
        buf.copy_within(complete..filled, 0);
        filled -= complete;
        if filled > max_line.min(buf.len() - 1) {
            reporter.bad(
                Some(peer),
                &buf[..filled.min(32)],
                "line longer than max_msg_size",
            );
            reporter.flush();
            filled = 0;
            skipping = true;
        }
    }
    if filled > 0 && !skipping {
        let mut accumulator = sink.lock();
        handle_line(
            &buf[..filled],
            &mut accumulator,
            &mut scratch,
            reporter,
            Some(peer),
        );
    }
}

/// Parses one line into the accumulator, or reports it as bad.
fn handle_line(
    line: &[u8],
    accumulator: &mut super::stat_accum::Accumulator,
    scratch: &mut Vec<u8>,
    reporter: &Reporter,
    peer: Option<SocketAddr>,
) {
    let line = trim(line);
    if line.is_empty() {
        return;
    }
    match parse_line(line, scratch) {
        Ok((bucket, sample)) => {
            accumulator.add(bucket, sample);
            reporter.accepted();
        }
        Err(why) => reporter.bad(peer, line, why),
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

/// Parses `bucket:value|type[|@rate][|#tags]`; the bucket is cleaned into `scratch`
/// when it needs cleaning.
#[doc(hidden)]
pub fn parse_line<'l>(
    line: &'l [u8],
    scratch: &'l mut Vec<u8>,
) -> Result<(&'l [u8], Sample<'l>), &'static str> {
    let colon = memchr::memchr(b':', line).ok_or("no ':' after the bucket")?;
    let (bucket, rest) = (&line[..colon], &line[colon + 1..]);
    let mut parts = rest.split(|&b| b == b'|');
    let value = parts.next().unwrap_or_default();
    let kind = parts.next().ok_or("no '|' before the type")?;
    let mut rate = 1.0f32;
    for part in parts {
        match part.first() {
            Some(b'@') => {
                rate = std::str::from_utf8(&part[1..])
                    .ok()
                    .and_then(|r| r.parse::<f32>().ok())
                    .filter(|r| *r > 0.0 && *r <= 1.0)
                    .ok_or("bad sample rate")?;
            }
            // DogStatsD tags, container id and client timestamp: not kept.
            Some(b'#') | Some(b'c') | Some(b'T') => {}
            _ => return Err("unknown section after the type"),
        }
    }
    let number = |text: &[u8]| {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .ok_or("value is not a number")
    };
    let sample = match kind {
        b"c" | b"m" => Sample::Counter {
            value: number(value)?,
            rate,
        },
        b"ms" | b"h" | b"d" => Sample::Timer {
            value: number(value)?,
            rate,
        },
        b"g" => Sample::Gauge {
            delta: matches!(value.first(), Some(b'+' | b'-')),
            value: number(value)?,
        },
        b"s" if !value.is_empty() => Sample::Set(value),
        b"s" => return Err("empty set member"),
        _ => return Err("unknown metric type"),
    };
    let bucket = clean_bucket(bucket, scratch);
    if bucket.is_empty() {
        return Err("empty bucket name");
    }
    Ok((bucket, sample))
}

/// Etsy statsd's key cleaning, without allocating when the name is already clean.
fn clean_bucket<'b>(bucket: &'b [u8], scratch: &'b mut Vec<u8>) -> &'b [u8] {
    let kept = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    if bucket.iter().all(|&b| kept(b)) {
        return bucket;
    }
    scratch.clear();
    let mut in_space = false;
    for &b in bucket {
        if b.is_ascii_whitespace() {
            if !in_space {
                scratch.push(b'_');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        match b {
            b'/' => scratch.push(b'-'),
            b if kept(b) => scratch.push(b),
            _ => {}
        }
    }
    scratch
}

/// Counts accepted and bad lines into the input's report entry, and logs bad lines at
/// most once a second (with how many were not logged).
struct Reporter {
    name: String,
    stats: Arc<PluginStats>,
    pending: std::sync::Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    accepted: u64,
    bad: u64,
    unlogged: u64,
    last_log: Option<Instant>,
}

impl Reporter {
    fn new(ctx: &InputContext) -> Reporter {
        Reporter {
            name: ctx.shared.input_name.clone(),
            stats: ctx.shared.stats.clone(),
            pending: Default::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn accepted(&self) {
        self.pending().accepted += 1;
    }

    fn bad(&self, peer: Option<SocketAddr>, line: &[u8], why: &str) {
        let mut p = self.pending();
        p.bad += 1;
        let now = Instant::now();
        if p.last_log
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(1))
        {
            p.unlogged += 1;
            return;
        }
        let unlogged = std::mem::take(&mut p.unlogged);
        p.last_log = Some(now);
        let from = peer.map_or_else(|| "?".to_owned(), |p| p.to_string());
        let also = match unlogged {
            0 => String::new(),
            n => format!(" ({n} more bad lines since the last report)"),
        };
        log::error!(
            "Input '{}' error: can't parse message from {from}: {why}: {}{also}",
            self.name,
            crate::diagnostics::escaped_prefix(line)
        );
    }

    /// Adds the counts to the report entry.
    fn flush(&self) {
        let mut p = self.pending();
        PluginStats::add(&self.stats.process_count, std::mem::take(&mut p.accepted));
        PluginStats::add(&self.stats.process_failures, std::mem::take(&mut p.bad));
    }
}

/// The kernel's count of datagrams it dropped for one UDP socket (its receive queue was
/// full): the `drops` column of `/proc/net/udp{,6}` on the socket's inode.
struct KernelDrops {
    inode: Option<u64>,
    last_read: std::cell::Cell<Option<Instant>>,
}

impl KernelDrops {
    fn of(socket: &UdpSocket) -> KernelDrops {
        // ino_t's width differs between targets.
        #[allow(clippy::unnecessary_cast)]
        let inode = rustix::fs::fstat(socket).ok().map(|st| st.st_ino as u64);
        KernelDrops {
            inode,
            last_read: std::cell::Cell::new(None),
        }
    }

    /// Updates the report's KernelDropCount, at most once a second unless `now`.
    fn sample(&self, stats: &PluginStats, now: bool) {
        let Some(inode) = self.inode else { return };
        let at = Instant::now();
        if !now
            && self
                .last_read
                .get()
                .is_some_and(|t| at.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_read.set(Some(at));
        if let Some(drops) = udp_drops(inode) {
            stats
                .kernel_drops
                .store(drops, std::sync::atomic::Ordering::Relaxed);
            stats
                .receives_datagrams
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// The `drops` column for socket `inode` in `/proc/net/udp` or `/proc/net/udp6`.
fn udp_drops(inode: u64) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|path| {
        let table = std::fs::read_to_string(path).ok()?;
        table.lines().skip(1).find_map(|row| {
            let cols: Vec<&str> = row.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
            (cols.get(9)?.parse::<u64>().ok()? == inode).then(|| cols.last()?.parse().ok())?
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<(String, Sample<'static>), &'static str> {
        let line: &'static [u8] = Box::leak(line.as_bytes().to_vec().into_boxed_slice());
        let scratch: &'static mut Vec<u8> = Box::leak(Box::default());
        parse_line(line, scratch).map(|(b, s)| (String::from_utf8_lossy(b).into_owned(), s))
    }

    #[test]
    fn the_statsd_line_grammar() {
        assert_eq!(
            parse("hits:1|c"),
            Ok((
                "hits".into(),
                Sample::Counter {
                    value: 1.0,
                    rate: 1.0
                }
            ))
        );
        assert_eq!(
            parse("hits:3|c|@0.5"),
            Ok((
                "hits".into(),
                Sample::Counter {
                    value: 3.0,
                    rate: 0.5
                }
            ))
        );
        assert_eq!(
            parse("rt:32.5|ms"),
            Ok((
                "rt".into(),
                Sample::Timer {
                    value: 32.5,
                    rate: 1.0
                }
            ))
        );
        assert_eq!(
            parse("rt:7|h"),
            Ok((
                "rt".into(),
                Sample::Timer {
                    value: 7.0,
                    rate: 1.0
                }
            ))
        );
        assert_eq!(
            parse("t:-4|g"),
            Ok((
                "t".into(),
                Sample::Gauge {
                    value: -4.0,
                    delta: true
                }
            ))
        );
        assert_eq!(
            parse("t:+4|g"),
            Ok((
                "t".into(),
                Sample::Gauge {
                    value: 4.0,
                    delta: true
                }
            ))
        );
        assert_eq!(
            parse("t:4|g"),
            Ok((
                "t".into(),
                Sample::Gauge {
                    value: 4.0,
                    delta: false
                }
            ))
        );
        assert_eq!(parse("u:bob|s"), Ok(("u".into(), Sample::Set(b"bob"))));
        assert_eq!(
            parse("page views/home:1|c|#env:prod,app:web"),
            Ok((
                "page_views-home".into(),
                Sample::Counter {
                    value: 1.0,
                    rate: 1.0
                }
            ))
        );
        for bad in [
            "hits",
            "hits:1",
            "hits:x|c",
            "hits:1|q",
            "hits:1|c|@2",
            "hits:1|c|zz",
            ":1|c",
            "%%:1|c",
            "u:|s",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn trimming_keeps_inner_text() {
        assert_eq!(trim(b" \tab c\r\n"), b"ab c");
        assert_eq!(trim(b"  "), b"");
    }
}
