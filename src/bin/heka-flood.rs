//! `heka-flood`: Heka's load generator (§8.5). Sends framed messages to a hekad TcpInput or
//! UdpInput as fast as it can (or one per `message_interval`), optionally corrupting, signing
//! or oversizing a percentage of them, and reports its send rate every second.
//!
//!     heka-flood -config flood.toml -test default
//!
//! Without `-config` the `default` test uses the defaults below. Keys (per test section):
//! `ip_address` "127.0.0.1:5565", `sender` "tcp"|"udp", `num_messages` 0 (= forever),
//! `message_interval` "0", `corrupt_percentage`, `signed_percentage`, `oversized_percentage`
//! (0.0), `variable_size_messages` true, `static_message_size` 0 (payload bytes when not
//! variable), `ascii_only` false, `max_message_size` 65536, `reconnect_on_error` false,
//! `reconnect_interval` "1s", `[<test>.signer]` name/hmac_hash/hmac_key/version,
//! `use_tls` false with `[<test>.tls]` (hekad's TlsConfig keys, §5.7) for TCP.

use argh::FromArgs;
use hekad::config::duration;
use hekad::framing::{write_frame, SignerConfig};
use hekad::message::{uuid, MessageWriter};
use hekad::plugins::tls::TlsConfig;
use serde::Deserialize;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Flood a hekad with messages.
#[derive(FromArgs)]
struct Args {
    /// TOML file with one section per test
    #[argh(option, default = "String::new()")]
    config: String,
    /// which test section to run
    #[argh(option, default = "String::from(\"default\")")]
    test: String,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Test {
    ip_address: String,
    sender: String,
    num_messages: u64,
    message_interval: String,
    corrupt_percentage: f64,
    signed_percentage: f64,
    oversized_percentage: f64,
    variable_size_messages: bool,
    static_message_size: usize,
    ascii_only: bool,
    max_message_size: u32,
    reconnect_on_error: bool,
    reconnect_interval: String,
    encoder: String,
    pprof_file: String,
    signer: Option<Signer>,
    use_tls: bool,
    tls: TlsConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signer {
    name: String,
    #[serde(default)]
    hmac_hash: String,
    hmac_key: String,
    #[serde(default)]
    version: u32,
}

impl Default for Test {
    fn default() -> Self {
        Test {
            ip_address: "127.0.0.1:5565".into(),
            sender: "tcp".into(),
            num_messages: 0,
            message_interval: "0".into(),
            corrupt_percentage: 0.0,
            signed_percentage: 0.0,
            oversized_percentage: 0.0,
            variable_size_messages: true,
            static_message_size: 0,
            ascii_only: false,
            max_message_size: hekad::framing::DEFAULT_MAX_MESSAGE_SIZE,
            reconnect_on_error: false,
            reconnect_interval: "1s".into(),
            encoder: "protobuf".into(),
            pprof_file: String::new(),
            signer: None,
            use_tls: false,
            tls: TlsConfig::default(),
        }
    }
}

fn fail(message: String) -> ! {
    eprintln!("heka-flood: {message}");
    std::process::exit(1)
}

fn load(args: &Args) -> Test {
    if args.config.is_empty() {
        return Test::default();
    }
    let text = std::fs::read_to_string(&args.config)
        .unwrap_or_else(|e| fail(format!("{}: {e}", args.config)));
    let mut table: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| fail(format!("{}: {e}", args.config)));
    let Some(section) = table.remove(&args.test) else {
        fail(format!("{}: no [{}] section", args.config, args.test));
    };
    section
        .try_into()
        .unwrap_or_else(|e| fail(format!("{}: [{}] {e}", args.config, args.test)))
}

/// Where messages go: TCP (over TLS with `Some` settings) or UDP.
enum Sink {
    Tcp(Option<Stream>, Option<Box<TlsConfig>>),
    Udp(UdpSocket),
}

/// A TCP connection, plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn write_all(&mut self, frame: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(frame),
            Stream::Tls(s) => s.write_all(frame),
        }
    }

    /// Sends what is buffered and closes without resetting the connection.
    fn finish(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => hekad::plugins::tls::blocking_close(s),
        }
    }
}

impl Sink {
    fn send(&mut self, address: &str, frame: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Tcp(stream, tls) => {
                if stream.is_none() {
                    *stream = Some(match tls {
                        None => Stream::Plain(TcpStream::connect(address)?),
                        Some(tls) => Stream::Tls(Box::new(
                            hekad::plugins::tls::blocking_connect(tls, address)
                                .map_err(std::io::Error::other)?,
                        )),
                    });
                }
                let result = stream.as_mut().map_or(Ok(()), |s| s.write_all(frame));
                if result.is_err() {
                    *stream = None;
                }
                result
            }
            Sink::Udp(socket) => socket.send_to(frame, address).map(|_| ()),
        }
    }
}

/// A payload of `len` bytes: ASCII letters, or any bytes unless `ascii_only`.
fn payload(len: usize, ascii_only: bool, out: &mut Vec<u8>) {
    out.clear();
    out.extend((0..len).map(|_| {
        if ascii_only {
            fastrand::alphanumeric() as u8
        } else {
            fastrand::u8(..)
        }
    }));
}

fn main() {
    let args: Args = hekad::cli::parse(&["config", "test"]);
    let test = load(&args);
    let interval = duration::parse(&test.message_interval)
        .unwrap_or_else(|e| fail(format!("message_interval: {e}")));
    let reconnect_interval = duration::parse(&test.reconnect_interval)
        .unwrap_or_else(|e| fail(format!("reconnect_interval: {e}")));
    if test.encoder != "protobuf" {
        fail(format!(
            "encoder {:?}: only \"protobuf\" is supported",
            test.encoder
        ));
    }
    let _ = &test.pprof_file;
    let signer = test.signer.as_ref().map(|s| SignerConfig {
        name: s.name.clone(),
        hmac_hash: s.hmac_hash.clone(),
        hmac_key: s.hmac_key.clone(),
        version: s.version,
    });
    if test.signed_percentage > 0.0 && signer.is_none() {
        fail("signed_percentage needs a [<test>.signer] section".into());
    }
    let mut sink = match test.sender.as_str() {
        "tcp" => Sink::Tcp(None, test.use_tls.then(|| Box::new(test.tls.clone()))),
        "udp" => Sink::Udp(
            UdpSocket::bind("0.0.0.0:0").unwrap_or_else(|e| fail(format!("udp socket: {e}"))),
        ),
        other => fail(format!("sender {other:?}: expected \"tcp\" or \"udp\"")),
    };
    let chance = |percentage: f64| percentage > 0.0 && fastrand::f64() * 100.0 < percentage;
    let hostname = hekad::config::globals::os_hostname();
    let (mut msg, mut frame, mut body) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sent, mut corrupted, mut oversized, mut signed) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut last_report = (Instant::now(), 0u64);
    while test.num_messages == 0 || sent < test.num_messages {
        let size = if chance(test.oversized_percentage) {
            oversized += 1;
            test.max_message_size as usize + 1 + fastrand::usize(..1024)
        } else if test.variable_size_messages {
            // Mostly small log-like messages, sometimes up to a few KiB (Heka's mix).
            match fastrand::u8(..10) {
                0 => fastrand::usize(1024..4096),
                _ => fastrand::usize(16..256),
            }
        } else {
            test.static_message_size
        };
        payload(size, test.ascii_only, &mut body);
        msg.clear();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        MessageWriter::new(&mut msg)
            .uuid(&uuid::new_v4())
            .timestamp(now)
            .r#type(b"hekabench")
            .logger(b"flood")
            .severity(6)
            .payload(&body)
            .pid(std::process::id() as i32)
            .hostname(hostname.as_bytes());
        frame.clear();
        let sign = signer.as_ref().filter(|_| chance(test.signed_percentage));
        signed += u64::from(sign.is_some());
        // Oversized messages are framed anyway (the limit is the receiver's to enforce).
        let limit = u32::MAX;
        if let Err(e) = write_frame(&msg, sign, limit, &mut frame) {
            fail(format!("framing: {e}"));
        }
        if chance(test.corrupt_percentage) {
            corrupted += 1;
            let at = fastrand::usize(..frame.len());
            frame[at] ^= 0xFF;
        }
        match sink.send(&test.ip_address, &frame) {
            Ok(()) => sent += 1,
            Err(e) if test.reconnect_on_error => {
                eprintln!("heka-flood: {e}; reconnecting in {reconnect_interval:?}");
                std::thread::sleep(reconnect_interval);
            }
            Err(e) => fail(format!("sending to {}: {e}", test.ip_address)),
        }
        if last_report.0.elapsed() >= Duration::from_secs(1) {
            let rate = (sent - last_report.1) as f64 / last_report.0.elapsed().as_secs_f64();
            eprintln!("heka-flood: sent {sent} messages, {rate:.0}/s");
            last_report = (Instant::now(), sent);
        }
        if !interval.is_zero() {
            std::thread::sleep(interval);
        }
    }
    if let Sink::Tcp(Some(stream), _) = &mut sink {
        if let Err(e) = stream.finish() {
            fail(format!("sending to {}: {e}", test.ip_address));
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "heka-flood: sent {sent} messages in {secs:.2} s ({:.0}/s); corrupted {corrupted}, oversized {oversized}, signed {signed}",
        sent as f64 / secs
    );
}
