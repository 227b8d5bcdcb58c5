//! `heka-inject`: sends one framed message to a hekad TcpInput (§8.5).

use argh::FromArgs;
use hekad::framing::{write_frame, DEFAULT_MAX_MESSAGE_SIZE};
use hekad::message::{uuid, MessageWriter};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Send one Heka message over TCP.
#[derive(FromArgs)]
struct Args {
    /// hekad TcpInput address
    #[argh(option, default = "String::from(\"127.0.0.1:5565\")")]
    heka: String,
    /// message type
    #[argh(option, default = "String::from(\"inject.message\")")]
    r#type: String,
    /// message logger
    #[argh(option, default = "String::from(\"Inject Client\")")]
    logger: String,
    /// message severity
    #[argh(option, default = "7")]
    severity: i32,
    /// message payload
    #[argh(option, default = "String::new()")]
    payload: String,
    /// message pid
    #[argh(option, default = "0")]
    pid: i32,
    /// message hostname
    #[argh(option, default = "String::new()")]
    hostname: String,
}

fn main() {
    let args: Args = hekad::cli::parse(&[
        "heka", "type", "logger", "severity", "payload", "pid", "hostname",
    ]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let mut msg = Vec::new();
    let mut w = MessageWriter::new(&mut msg);
    w.uuid(&uuid::new_v4())
        .timestamp(now)
        .r#type(args.r#type.as_bytes())
        .logger(args.logger.as_bytes())
        .severity(args.severity);
    w.payload(args.payload.as_bytes())
        .pid(args.pid)
        .hostname(args.hostname.as_bytes());
    let mut frame = Vec::new();
    if let Err(e) = write_frame(&msg, None, DEFAULT_MAX_MESSAGE_SIZE, &mut frame) {
        eprintln!("heka-inject: {e}");
        std::process::exit(1);
    }
    let sent = std::net::TcpStream::connect(&args.heka).and_then(|mut s| s.write_all(&frame));
    if let Err(e) = sent {
        eprintln!("heka-inject: sending to {}: {e}", args.heka);
        std::process::exit(1);
    }
}
