//! `heka-inject`: sends one framed message to a hekad TcpInput (§8.5), over TLS when a
//! `-tls-*` option is given.

use argh::FromArgs;
use hekad::framing::{write_frame, DEFAULT_MAX_MESSAGE_SIZE};
use hekad::message::{uuid, MessageWriter};
use hekad::plugins::tls::TlsConfig;
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
    /// TLS: CA certificates (PEM) to trust instead of the system's
    #[argh(option, long = "tls-cafile", default = "String::new()")]
    tls_cafile: String,
    /// TLS: client certificate (PEM), for servers that require one
    #[argh(option, long = "tls-cert", default = "String::new()")]
    tls_cert: String,
    /// TLS: the client certificate's private key (PEM)
    #[argh(option, long = "tls-key", default = "String::new()")]
    tls_key: String,
    /// TLS: the name the server's certificate must bear (default: the host of -heka)
    #[argh(option, long = "tls-server-name", default = "String::new()")]
    tls_server_name: String,
    /// use TLS (implied by any -tls-* option)
    #[argh(switch)]
    tls: bool,
}

/// Writes `frame` to `address`, over TLS when `tls` is set.
fn send(address: &str, frame: &[u8], tls: Option<&TlsConfig>) -> Result<(), String> {
    let Some(tls) = tls else {
        return std::net::TcpStream::connect(address)
            .and_then(|mut s| s.write_all(frame))
            .map_err(|e| format!("sending to {address}: {e}"));
    };
    let mut stream = hekad::plugins::tls::blocking_connect(tls, address)?;
    let sent = stream
        .write_all(frame)
        .and_then(|()| hekad::plugins::tls::blocking_close(&mut stream));
    sent.map_err(|e| format!("sending to {address}: {e}"))
}

fn main() {
    let args: Args = hekad::cli::parse(&[
        "heka",
        "type",
        "logger",
        "severity",
        "payload",
        "pid",
        "hostname",
        "tls-cafile",
        "tls-cert",
        "tls-key",
        "tls-server-name",
        "tls",
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
    let use_tls = args.tls
        || [
            &args.tls_cafile,
            &args.tls_cert,
            &args.tls_key,
            &args.tls_server_name,
        ]
        .iter()
        .any(|o| !o.is_empty());
    let tls = use_tls.then(|| TlsConfig {
        root_cafile: args.tls_cafile.clone(),
        cert_file: args.tls_cert.clone(),
        key_file: args.tls_key.clone(),
        server_name: args.tls_server_name.clone(),
        ..TlsConfig::default()
    });
    if let Err(e) = send(&args.heka, &frame, tls.as_ref()) {
        eprintln!("heka-inject: {e}");
        std::process::exit(1);
    }
}
