//! `heka-cat`: reads a Heka-framed stream (a FileOutput file, a disk queue segment) and
//! prints the messages that match (§8.5), reporting corruption by byte offset.

use argh::FromArgs;
use hekad::matcher::Matcher;
use hekad::message::{uuid, MessageView, ScannedMessage, Value};
use hekad::splitters::buffer::{Next, SplitterBuffer};
use hekad::splitters::heka_framing::HekaFramingSplitter;
use hekad::splitters::{Splitter, Unframed};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Print the messages of a Heka-framed file.
#[derive(FromArgs)]
struct Args {
    /// message matcher selecting what to print
    #[argh(option, long = "match", default = "String::from(\"TRUE\")")]
    matcher: String,
    /// output format: txt, json, heka (framed) or count
    #[argh(option, default = "String::from(\"txt\")")]
    format: String,
    /// write to this file instead of stdout
    #[argh(option)]
    output: Option<PathBuf>,
    /// keep reading as the file grows
    #[argh(switch)]
    tail: bool,
    /// start at this byte offset
    #[argh(option, default = "0")]
    offset: u64,
    /// largest message accepted
    #[argh(option, long = "max-message-size", default = "4194304")]
    max_message_size: u32,
    /// the framed file
    #[argh(positional)]
    file: PathBuf,
}

fn main() {
    let args: Args = hekad::cli::parse(&[
        "match",
        "format",
        "output",
        "tail",
        "offset",
        "max-message-size",
    ]);
    if let Err(e) = run(&args) {
        eprintln!("heka-cat: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let matcher =
        Matcher::compile(&args.matcher).map_err(|e| format!("-match {:?}: {e}", args.matcher))?;
    if !["txt", "json", "heka", "count"].contains(&args.format.as_str()) {
        return Err(format!(
            "unknown -format {:?} (txt, json, heka, count)",
            args.format
        ));
    }
    let mut file = File::open(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?;
    file.seek(SeekFrom::Start(args.offset))
        .map_err(|e| e.to_string())?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(File::create(path).map_err(|e| format!("{}: {e}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut splitter = HekaFramingSplitter::new(args.max_message_size).without_authentication();
    let mut buffer = SplitterBuffer::new(
        64 * 1024,
        hekad::framing::max_record_size(args.max_message_size),
        false,
    );
    let (mut processed, mut matched) = (0u64, 0u64);
    loop {
        let n = file.read(buffer.spare()).map_err(|e| e.to_string())?;
        if n == 0 {
            if args.tail {
                std::thread::sleep(std::time::Duration::from_millis(250));
                continue;
            }
            break;
        }
        buffer.filled(n);
        loop {
            let garbage_before = buffer.garbage_bytes();
            let start_offset = args.offset + buffer.offset();
            let next = buffer.next_record(&mut splitter);
            let skipped = buffer.garbage_bytes() - garbage_before;
            if skipped > 0 {
                eprintln!("Corruption detected at offset: {start_offset} bytes: {skipped}");
            }
            let record = match next {
                Next::NeedData => break,
                Next::Oversized { error, .. } => {
                    eprintln!("{error}");
                    continue;
                }
                Next::Record(range) => range,
            };
            let Unframed::Message { bytes, .. } = splitter.unframe(&buffer.data()[record.clone()])
            else {
                continue;
            };
            processed += 1;
            let Ok(scanned) = ScannedMessage::new(bytes) else {
                eprintln!(
                    "Corruption detected at offset: {}: invalid message",
                    args.offset + buffer.offset()
                );
                // A damaged length may have swallowed the frames after this one: read
                // again from the next frame start inside it, as hekad's inputs do.
                if let Some(at) = splitter.resync(&buffer.data()[record.clone()]) {
                    buffer.rewind_to(record.start + at);
                }
                continue;
            };
            let msg = scanned.view();
            if !matcher.matches(&msg) {
                continue;
            }
            matched += 1;
            let written = match args.format.as_str() {
                "txt" => out.write_all(txt(&msg).as_bytes()),
                "json" => out.write_all(format!("{}\n", json(&msg)).as_bytes()),
                "heka" => out.write_all(&buffer.data()[record]),
                _ => Ok(()),
            };
            written.map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    eprintln!("Processed: {processed}, matched: {matched} messages");
    Ok(())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn value_text(v: Value<'_>) -> String {
    match v {
        Value::String(s) => format!("{:?}", text(s)),
        Value::Bytes(b) => format!("{b:?}"),
        Value::Integer(i) => i.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

fn txt(msg: &MessageView<'_>) -> String {
    let mut id = [0u8; uuid::TEXT_LEN];
    let fields: Vec<String> = msg
        .fields()
        .map(|f| {
            let values: Vec<String> = f.values().map(value_text).collect();
            let kind = f.value_type().map_or("unknown", |t| t.name());
            format!(
                "name:{:?} type:{kind} value:[{}] representation:{:?}",
                text(f.name()),
                values.join(","),
                text(f.representation())
            )
        })
        .collect();
    format!(
        "Timestamp: {}\nType: {}\nHostname: {}\nPid: {}\nUUID: {}\nLogger: {}\nPayload: {}\nEnvVersion: {}\nSeverity: {}\nFields: [{}]\n\n",
        hekad::timefmt::go_utc_string(msg.timestamp()),
        text(msg.r#type()),
        text(msg.hostname()),
        msg.pid(),
        uuid::format(msg.uuid(), &mut id),
        text(msg.logger()),
        text(msg.payload()),
        text(msg.env_version()),
        msg.severity(),
        fields.join(", ")
    )
}

fn json(msg: &MessageView<'_>) -> serde_json::Value {
    let mut id = [0u8; uuid::TEXT_LEN];
    let fields: Vec<serde_json::Value> = msg
        .fields()
        .map(|f| {
            let values: Vec<serde_json::Value> = f
                .values()
                .map(|v| match v {
                    Value::String(s) | Value::Bytes(s) => serde_json::Value::from(text(s)),
                    Value::Integer(i) => serde_json::Value::from(i),
                    Value::Double(d) => serde_json::Value::from(d),
                    Value::Bool(b) => serde_json::Value::from(b),
                })
                .collect();
            serde_json::json!({
                "name": text(f.name()),
                "value_type": f.value_type().map_or("unknown", |t| t.name()),
                "representation": text(f.representation()),
                "value": values,
            })
        })
        .collect();
    serde_json::json!({
        "uuid": uuid::format(msg.uuid(), &mut id),
        "timestamp": msg.timestamp(),
        "type": text(msg.r#type()),
        "logger": text(msg.logger()),
        "severity": msg.severity(),
        "payload": text(msg.payload()),
        "env_version": text(msg.env_version()),
        "pid": msg.pid(),
        "hostname": text(msg.hostname()),
        "fields": fields,
    })
}
