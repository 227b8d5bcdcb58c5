//! Nanoseconds per message-matcher evaluation for typical expressions, on a ~200-byte
//! message read in place (no decoding). scripts/bench prints this table.
//!
//!     cargo bench --bench matcher [-- --quick]

use hekad::matcher::Matcher;
use hekad::message::writer::Values;
use hekad::message::{uuid, MessageWriter, ScannedMessage};
use std::hint::black_box;
use std::time::Instant;

const EXPRESSIONS: &[&str] = &[
    "TRUE",
    "Type == 'x' && Severity < 4",
    "Type == 'nginx.access' || Logger == 'syslog'",
    "Fields[status] >= 500",
    "Fields[path] == '/api/v1/orders' && Severity <= 6",
    "Payload =~ /HTTP\\/1\\.1\" 404/",
    "Hostname != 'web-02' && Fields[status] != 200 && Type =~ /^nginx/",
];

fn main() {
    // `cargo test --all-targets` runs this unoptimised without `--bench`: keep that short.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let quick = !benchmarking || std::env::args().any(|a| a == "--quick");
    let iterations: u32 = if quick { 20_000 } else { 5_000_000 };
    let mut msg = Vec::new();
    MessageWriter::new(&mut msg)
        .uuid(&uuid::new_v4())
        .timestamp(1_700_000_000_000_000_000)
        .r#type(b"nginx.access")
        .logger(b"nginx")
        .severity(6)
        .payload(b"10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] \"GET /api/v1/orders?id=4711 HTTP/1.1\" 200 1234")
        .hostname(b"web-01.example.com")
        .field(b"status", b"", Values::Integer(&[200]))
        .field(b"path", b"uri", Values::String(&[b"/api/v1/orders"]));
    let scanned = ScannedMessage::new(&msg).expect("a message just written");
    let view = scanned.view();
    println!("| matcher expression | ns per evaluation | matches |");
    println!("|---|---:|---|");
    for expr in EXPRESSIONS {
        let matcher = Matcher::compile(expr).expect("a valid expression");
        let matched = matcher.matches(&view);
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(matcher.matches(black_box(&view)));
        }
        let ns = started.elapsed().as_nanos() as f64 / f64::from(iterations);
        println!("| `{expr}` | {ns:.1} | {matched} |");
    }
}
