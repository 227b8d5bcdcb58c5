//! The tools `scripts/bench` drives: data generators, a counting and verifying TCP sink,
//! a file follower for workloads that write files, and the memchr read+split baseline.
//! Each measuring command prints one JSON line: `{"count":N,"bytes":B,"seconds":S}`, where
//! the time runs from the first byte seen to the last one counted (start-up excluded).
//!
//!     bench_kit nginx LINES SEED PATH        seeded nginx access log (combined format)
//!     bench_kit framed COUNT SEED PATH [MATCHER...]
//!                                            framed Heka messages of ~200 bytes; prints how
//!                                            many match each matcher
//!     bench_kit sink lines|framed EXPECT [PIDFILE]
//!                                            listens on 127.0.0.1 (prints `port N` first),
//!                                            counts until EXPECT; with PIDFILE, sends that
//!                                            process SIGUSR1 at 10% and at the end (hekad
//!                                            then reports its allocation count)
//!     bench_kit tail PATH EXPECT [PIDFILE]   follows a file of framed messages likewise
//!     bench_kit split PATH                   read + memchr line split, the parsing limit
//!     bench_kit statsd PORT RATE SECONDS NAMES PER_DATAGRAM
//!                                            sends counters `bench.n<i>:1|c` over UDP to
//!                                            127.0.0.1:PORT at RATE metrics/s for SECONDS,
//!                                            cycling through NAMES names, PER_DATAGRAM lines
//!                                            per datagram; prints `{"sent":N,"seconds":S}`

use hekad::framing::{write_frame, DEFAULT_MAX_MESSAGE_SIZE};
use hekad::matcher::Matcher;
use hekad::message::writer::Values;
use hekad::message::{uuid, MessageWriter, ScannedMessage};
use std::io::{BufWriter, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str {
        args.get(i).map(String::as_str).unwrap_or_else(|| {
            eprintln!(
                "bench_kit: missing argument {i}; see the doc comment in examples/bench_kit.rs"
            );
            std::process::exit(2)
        })
    };
    let number = |i: usize| -> u64 {
        arg(i).parse().unwrap_or_else(|_| {
            eprintln!("bench_kit: {:?} is not a number", arg(i));
            std::process::exit(2)
        })
    };
    let pid = |i: usize| args.get(i).cloned();
    match arg(0) {
        "nginx" => nginx(number(1), number(2), arg(3)),
        "framed" => framed(number(1), number(2), arg(3), &args[4..]),
        "sink" => sink(arg(1) == "framed", number(2), pid(3)),
        "tail" => tail(arg(1), number(2), pid(3)),
        "split" => split(arg(1)),
        "statsd" => statsd(number(1), number(2), number(3), number(4), number(5)),
        // `cargo test --all-targets` runs examples with no arguments: nothing to do.
        "" => {}
        other => {
            eprintln!("bench_kit: unknown command {other:?}");
            std::process::exit(2)
        }
    }
}

fn create(path: &str) -> BufWriter<std::fs::File> {
    match std::fs::File::create(path) {
        Ok(f) => BufWriter::with_capacity(1 << 20, f),
        Err(e) => {
            eprintln!("bench_kit: {path}: {e}");
            std::process::exit(1)
        }
    }
}

const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/api/v1/users",
    "/api/v1/orders",
    "/static/js/app.min.js",
    "/static/css/site.css",
    "/images/logo.png",
    "/search",
    "/login",
    "/cart/checkout",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "curl/8.4.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
];
const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A seeded nginx access log in the combined format (about 170 bytes a line).
fn nginx(lines: u64, seed: u64, path: &str) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = create(path);
    let mut second = 0u64;
    for _ in 0..lines {
        second += u64::from(rng.u8(..2));
        let (day, hour, min, sec) = (
            1 + (second / 86400) % 28,
            (second / 3600) % 24,
            (second / 60) % 60,
            second % 60,
        );
        let method = if rng.u8(..10) < 8 { "GET" } else { "POST" };
        let status = match rng.u8(..100) {
            0..=79 => 200,
            80..=89 => 304,
            90..=96 => 404,
            _ => 500,
        };
        let referer = if rng.bool() {
            "-".to_owned()
        } else {
            format!("https://example.com{}", PATHS[rng.usize(..PATHS.len())])
        };
        let written = writeln!(
            out,
            "{}.{}.{}.{} - - [{day:02}/{}/2026:{hour:02}:{min:02}:{sec:02} +0000] \"{method} {}?id={} HTTP/1.1\" {status} {} \"{referer}\" \"{}\"",
            rng.u8(1..255), rng.u8(..), rng.u8(..), rng.u8(1..255),
            MONTHS[(second / (86400 * 28)) as usize % 12],
            PATHS[rng.usize(..PATHS.len())],
            rng.u32(..100_000),
            rng.u32(..50_000),
            AGENTS[rng.usize(..AGENTS.len())],
        );
        if let Err(e) = written {
            eprintln!("bench_kit: {path}: {e}");
            std::process::exit(1)
        }
    }
    finish(out, path);
}

fn finish(mut out: BufWriter<std::fs::File>, path: &str) {
    if let Err(e) = out.flush() {
        eprintln!("bench_kit: {path}: {e}");
        std::process::exit(1)
    }
}

/// `count` framed messages of about 200 bytes: types `nginx` and `app`, severities 0-7.
/// Prints, for each matcher given, how many of them it matches.
fn framed(count: u64, seed: u64, path: &str, matchers: &[String]) {
    let matchers: Vec<Matcher> = matchers
        .iter()
        .map(|m| {
            Matcher::compile(m).unwrap_or_else(|e| {
                eprintln!("bench_kit: {m:?}: {e}");
                std::process::exit(2)
            })
        })
        .collect();
    let mut hits = vec![0u64; matchers.len()];
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = create(path);
    let (mut msg, mut frame) = (Vec::new(), Vec::new());
    for i in 0..count {
        msg.clear();
        frame.clear();
        let status = [200i64, 200, 200, 304, 404, 500][rng.usize(..6)];
        MessageWriter::new(&mut msg)
            .uuid(&uuid::new_v4())
            .timestamp(1_700_000_000_000_000_000 + i as i64 * 1000)
            .r#type(if rng.bool() { b"nginx" } else { b"app" })
            .logger(b"bench")
            .severity(i32::from(rng.u8(..8)))
            .payload(b"GET /api/v1/orders?id=4711 HTTP/1.1 200 1234 \"-\" \"curl/8.4.0\" 0.004")
            .hostname(b"web-01.example.com")
            .pid(4242)
            .field(b"status", b"", Values::Integer(&[status]))
            .field(b"path", b"uri", Values::String(&[b"/api/v1/orders"]));
        let scanned = ScannedMessage::new(&msg).expect("a message just written");
        let view = scanned.view();
        for (m, hit) in matchers.iter().zip(hits.iter_mut()) {
            *hit += u64::from(m.matches(&view));
        }
        if write_frame(&msg, None, DEFAULT_MAX_MESSAGE_SIZE, &mut frame).is_err()
            || out.write_all(&frame).is_err()
        {
            eprintln!("bench_kit: writing {path} failed");
            std::process::exit(1)
        }
    }
    finish(out, path);
    let hits: Vec<String> = hits.iter().map(u64::to_string).collect();
    println!("{}", hits.join(" "));
}

/// What a measuring command counted.
#[derive(Default)]
struct Tally {
    count: AtomicU64,
    bytes: AtomicU64,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
    /// Counts at which SIGUSR1 was sent (hekad's report then holds its allocation count).
    reported: Mutex<Vec<u64>>,
}

impl Tally {
    fn saw_bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let mut first = self.first.lock().expect("tally lock");
        first.get_or_insert_with(Instant::now);
    }

    fn counted(&self, n: u64) {
        self.count.fetch_add(n, Ordering::Relaxed);
        *self.last.lock().expect("tally lock") = Some(Instant::now());
    }

    /// Waits for `expect` records (giving up after 10 minutes without progress), sending
    /// SIGUSR1 to `pid` at 10% and at the end; prints the JSON line.
    fn wait(&self, expect: u64, pid: Option<String>) {
        let mut last_seen = (0, Instant::now());
        let mut reported_early = false;
        loop {
            let count = self.count.load(Ordering::Relaxed);
            if let Some(pid) = &pid {
                if !reported_early && count >= expect / 10 {
                    report(pid, self, count);
                    reported_early = true;
                }
            }
            if count >= expect {
                break;
            }
            if count != last_seen.0 {
                last_seen = (count, Instant::now());
            } else if last_seen.1.elapsed() > Duration::from_secs(600) {
                eprintln!("bench_kit: stalled at {count} of {expect}");
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(pid) = &pid {
            report(pid, self, self.count.load(Ordering::Relaxed));
        }
        let first = *self.first.lock().expect("tally lock");
        let last = *self.last.lock().expect("tally lock");
        let seconds = match (first, last) {
            (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
            _ => 0.0,
        };
        let reported = self.reported.lock().expect("tally lock").clone();
        println!(
            "{{\"count\":{},\"bytes\":{},\"seconds\":{seconds:.6},\"reported_at\":{reported:?}}}",
            self.count.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        );
        let _ = std::io::stdout().flush();
        let ok = self.count.load(Ordering::Relaxed) == expect;
        std::process::exit(if ok { 0 } else { 1 });
    }
}

/// Sends SIGUSR1 to the process in `pidfile`, noting the count it was sent at.
fn report(pidfile: &str, tally: &Tally, count: u64) {
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok());
    let Some(pid) = pid else {
        eprintln!("bench_kit: no pid in {pidfile}");
        return;
    };
    tally.reported.lock().expect("tally lock").push(count);
    // SAFETY: kill(2) with a pid and a signal number has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, libc::SIGUSR1);
    }
}

/// Counts records in a byte stream: lines, or Heka frames (each header checked).
struct Counter {
    framed: bool,
    pending: Vec<u8>,
}

impl Counter {
    /// Counts the complete records in `data` (plus what was pending); exits on a bad frame.
    fn feed(&mut self, data: &[u8], tally: &Tally) {
        tally.saw_bytes(data.len());
        if !self.framed {
            tally.counted(memchr::memchr_iter(b'\n', data).count() as u64);
            return;
        }
        self.pending.extend_from_slice(data);
        let mut at = 0;
        let mut n = 0;
        while let Some(len) = frame_len(&self.pending[at..]) {
            at += len;
            n += 1;
        }
        self.pending.drain(..at);
        tally.counted(n);
    }
}

/// The length of the complete frame at the start of `buf`, `None` if incomplete.
fn frame_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < 2 {
        return None;
    }
    if buf[0] != 0x1E {
        eprintln!(
            "bench_kit: not a Heka frame: {:?}",
            buf[..buf.len().min(16)].escape_ascii().to_string()
        );
        std::process::exit(1)
    }
    let hlen = usize::from(buf[1]);
    if buf.len() < hlen + 3 {
        return None;
    }
    let Some(header) = hekad::framing::parse_header(buf) else {
        eprintln!("bench_kit: bad Heka frame header");
        std::process::exit(1)
    };
    let total = hlen + 3 + header.message_length as usize;
    (buf.len() >= total).then_some(total)
}

fn sink(framed: bool, expect: u64, pid: Option<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| {
        eprintln!("bench_kit: bind: {e}");
        std::process::exit(1)
    });
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!("port {port}");
    let _ = std::io::stdout().flush();
    let tally = Arc::new(Tally::default());
    let accepting = tally.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let tally = accepting.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut counter = Counter {
                    framed,
                    pending: Vec::new(),
                };
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    counter.feed(&buf[..n], &tally);
                }
            });
        }
    });
    tally.wait(expect, pid);
}

fn tail(path: &str, expect: u64, pid: Option<String>) {
    let tally = Arc::new(Tally::default());
    let following = tally.clone();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut counter = Counter {
            framed: true,
            pending: Vec::new(),
        };
        let mut buf = vec![0u8; 256 * 1024];
        let mut file = loop {
            match std::fs::File::open(&path) {
                Ok(f) => break f,
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        };
        loop {
            match file.read(&mut buf) {
                Ok(0) | Err(_) => std::thread::sleep(Duration::from_millis(1)),
                Ok(n) => counter.feed(&buf[..n], &following),
            }
        }
    });
    tally.wait(expect, pid);
}

/// The parsing limit: read the file in 64 KiB blocks and split lines with memchr.
fn split(path: &str) {
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| {
        eprintln!("bench_kit: {path}: {e}");
        std::process::exit(1)
    });
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut lines, mut bytes) = (0u64, 0u64);
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        bytes += n as u64;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', &buf[..n]) {
            std::hint::black_box(&buf[start..end]);
            start = end + 1;
            lines += 1;
        }
    }
    println!(
        "{{\"count\":{lines},\"bytes\":{bytes},\"seconds\":{:.6},\"reported_at\":[]}}",
        started.elapsed().as_secs_f64()
    );
}

/// Paced statsd counters: bursts every millisecond so the offered rate is steady.
fn statsd(port: u64, rate: u64, seconds: u64, names: u64, per_datagram: u64) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(("127.0.0.1", port as u16)).expect("connect");
    let total = rate * seconds;
    let per_ms = (rate / 1000).max(1);
    let started = Instant::now();
    let (mut sent, mut name) = (0u64, 0u64);
    let mut datagram = Vec::with_capacity(2048);
    let mut tick = 0u64;
    while sent < total {
        let mut in_tick = 0;
        while in_tick < per_ms && sent < total {
            datagram.clear();
            let mut lines = 0;
            while lines < per_datagram && in_tick < per_ms && sent < total {
                if lines > 0 {
                    datagram.push(b'\n');
                }
                write!(datagram, "bench.n{name}:1|c").expect("write");
                name = (name + 1) % names;
                lines += 1;
                in_tick += 1;
                sent += 1;
            }
            // A full receive queue drops on the receiver's side; a send error here means
            // this host's buffer was full, which is the sender's limit: count it as sent.
            let _ = socket.send(&datagram);
        }
        tick += 1;
        let due = started + Duration::from_millis(tick);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    println!(
        "{{\"sent\":{sent},\"seconds\":{:.3}}}",
        started.elapsed().as_secs_f64()
    );
}
