//! End-to-end: the real hekad binary, real sockets on 127.0.0.1 and real files.

mod common;

use common::{
    frame, free_port, globals, read_messages, scratch_dir, test_message, unframe_all, Hekad,
};
use hekad::message::Message;
use prost::Message as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};

#[test]
fn tcp_and_udp_input_to_file_outputs_routed_by_matcher() {
    let dir = scratch_dir("tcp-udp-file");
    let (tcp_port, udp_port) = (free_port(), free_port());
    let config = format!(
        r#"{globals}
[TcpIn]
type = "TcpInput"
address = "127.0.0.1:{tcp_port}"

[UdpIn]
type = "UdpInput"
address = "127.0.0.1:{udp_port}"
splitter = "HekaFramingSplitter"
decoder = "ProtobufDecoder"

[Alpha]
type = "FileOutput"
message_matcher = "Type == 'alpha'"
path = "{alpha}"
encoder = "ProtobufEncoder"
flush_interval = 0

[Rest]
type = "FileOutput"
message_matcher = "Type != 'alpha' && Fields[seq] >= 0"
path = "{rest}"
encoder = "ProtobufEncoder"
flush_interval = 0
"#,
        globals = globals(&dir, "maxprocs = 2"),
        alpha = dir.join("alpha.log").display(),
        rest = dir.join("rest.log").display(),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let mut sent = Vec::new();
    let mut tcp = TcpStream::connect(("127.0.0.1", tcp_port)).expect("connect");
    for seq in 0..200 {
        let msg = test_message(
            if seq % 2 == 0 { "alpha" } else { "beta" },
            &format!("line {seq}"),
            seq,
        );
        tcp.write_all(&frame(&msg.encode_to_vec())).expect("send");
        sent.push(msg);
    }
    let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
    for seq in 200..210 {
        let msg = test_message("gamma", "over udp", seq);
        udp.send_to(&frame(&msg.encode_to_vec()), ("127.0.0.1", udp_port))
            .expect("udp send");
        sent.push(msg);
    }
    drop(tcp);
    // Wait until every message has been written, then stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while read_messages(&dir.join("alpha.log")).len() + read_messages(&dir.join("rest.log")).len()
        < sent.len()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "messages missing; stderr:\n{}",
            hekad.stderr_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "exit status {status:?}\n{stderr}");
    let alpha = read_messages(&dir.join("alpha.log"));
    let rest = read_messages(&dir.join("rest.log"));
    assert_eq!(alpha.len(), 100);
    assert_eq!(rest.len(), 110);
    // Field-by-field equality with what was sent (the bytes are forwarded unchanged).
    let expected_alpha: Vec<&Message> = sent
        .iter()
        .filter(|m| m.r#type.as_deref() == Some(b"alpha"))
        .collect();
    for (got, want) in alpha.iter().zip(expected_alpha) {
        assert_eq!(got, want);
    }
    let mut rest_sorted = rest.clone();
    rest_sorted.sort_by_key(|m| m.timestamp);
    let expected_rest: Vec<&Message> = sent
        .iter()
        .filter(|m| m.r#type.as_deref() != Some(b"alpha"))
        .collect();
    for (got, want) in rest_sorted.iter().zip(expected_rest) {
        assert_eq!(got, want);
    }
}

#[test]
fn tcp_output_ships_framed_messages_to_a_tcp_peer() {
    let dir = scratch_dir("tcp-output");
    let (in_port, sink) = (free_port(), TcpListener::bind("127.0.0.1:0").expect("sink"));
    let sink_port = sink.local_addr().expect("addr").port();
    let config = format!(
        r#"{globals}
[TcpIn]
type = "TcpInput"
address = "127.0.0.1:{in_port}"

[Ship]
type = "TcpOutput"
address = "127.0.0.1:{sink_port}"
message_matcher = "TRUE"
"#,
        globals = globals(&dir, "maxprocs = 2"),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let messages: Vec<Message> = (0..50)
        .map(|i| test_message("ship", &"x".repeat(i as usize * 10), i))
        .collect();
    let mut client = TcpStream::connect(("127.0.0.1", in_port)).expect("connect");
    for m in &messages {
        client.write_all(&frame(&m.encode_to_vec())).expect("send");
    }
    let (mut conn, _) = sink.accept().expect("hekad connects");
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 65536];
    while unframe_count(&received) < messages.len() {
        let n = conn.read(&mut buf).expect("read from hekad");
        assert!(n > 0, "hekad closed early");
        received.extend_from_slice(&buf[..n]);
    }
    let got: Vec<Message> = unframe_all(&received)
        .iter()
        .map(|m| Message::decode(&m[..]).expect("valid"))
        .collect();
    assert_eq!(got, messages);
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
}

fn unframe_count(data: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = data;
    while rest.len() > 2 {
        let hlen = rest[1] as usize;
        if rest.len() < hlen + 3 {
            break;
        }
        let Ok(header) = hekad::message::Header::decode(&rest[2..2 + hlen]) else {
            break;
        };
        let end = hlen + 3 + header.message_length as usize;
        if rest.len() < end {
            break;
        }
        count += 1;
        rest = &rest[end..];
    }
    count
}

#[test]
fn sigterm_delivers_everything_already_sent() {
    let dir = scratch_dir("sigterm");
    let port = free_port();
    let out = dir.join("out.log");
    let config = format!(
        r#"{globals}
[TcpIn]
type = "TcpInput"
address = "127.0.0.1:{port}"

[Out]
type = "FileOutput"
message_matcher = "TRUE"
path = "{out}"
encoder = "ProtobufEncoder"
flush_interval = 10000
flush_count = 100000
"#,
        globals = globals(&dir, "maxprocs = 2"),
        out = out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let total = 20_000;
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut batch = Vec::new();
    for seq in 0..total {
        batch.extend_from_slice(&frame(&test_message("t", "payload", seq).encode_to_vec()));
    }
    client.write_all(&batch).expect("send all");
    // Once the input has counted every message it has accepted them; they now sit in
    // queues and in the FileOutput's unflushed buffer (flush every 10 s and 100000
    // messages). SIGTERM must drain all of it to the file.
    hekad.wait_for_report(&format!("ProcessMessageCount: {total}"));
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    let got = read_messages(&out);
    assert_eq!(
        got.len() as i64,
        total,
        "messages lost at shutdown; stderr:\n{stderr}"
    );
}

/// A TcpInput on `port` writing every message to `out` as framed protobuf.
fn tcp_to_protobuf_file(
    dir: &std::path::Path,
    extra: &str,
    port: u16,
    out: &std::path::Path,
) -> String {
    format!(
        r#"{globals}
[TcpIn]
type = "TcpInput"
address = "127.0.0.1:{port}"

[Out]
type = "FileOutput"
message_matcher = "TRUE"
path = "{out}"
encoder = "ProtobufEncoder"
flush_interval = 0
"#,
        globals = globals(dir, extra),
        out = out.display()
    )
}

#[test]
fn garbage_truncated_and_oversized_input_is_counted_and_skipped() {
    let dir = scratch_dir("garbage");
    let port = free_port();
    let out = dir.join("out.log");
    let hekad = Hekad::start(
        &dir,
        &tcp_to_protobuf_file(&dir, "maxprocs = 2", port, &out),
    );
    hekad.wait_for_log("Starting hekad");
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let good = |seq| frame(&test_message("good", "ok", seq).encode_to_vec());
    let mut stream = Vec::new();
    stream.extend_from_slice(&good(0));
    stream.extend_from_slice(b"some garbage bytes \xff\xfe");
    stream.extend_from_slice(&good(1));
    // A frame whose message is not valid protobuf (truncated length-delimited field).
    stream.extend_from_slice(&frame(&[0x1a, 0x40, b'a', b'b']));
    stream.extend_from_slice(&good(2));
    // Invalid UTF-8 inside a string header is carried, not rejected.
    let mut bad_utf8 = test_message("good", "", 3);
    bad_utf8.payload = Some(vec![0xff, 0xfe, b'x']);
    stream.extend_from_slice(&frame(&bad_utf8.encode_to_vec()));
    // A header announcing a message larger than max_message_size.
    stream.extend_from_slice(&[0x1e, 0x04, 0x08, 0x80, 0x80, 0x10, 0x1f]);
    stream.extend_from_slice(&good(4));
    client.write_all(&stream).expect("send");
    drop(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while read_messages(&out).len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "good messages missing; stderr:\n{}",
            hekad.stderr_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    hekad.signal(libc::SIGUSR1);
    hekad.wait_for_log("ProcessMessageFailures: 1");
    let report = hekad.stderr_text();
    let decoder_entry = report
        .split("TcpIn-ProtobufDecoder:")
        .nth(1)
        .expect("decoder entry in the report");
    assert!(decoder_entry.contains("ProcessMessageCount: 5"), "{report}");
    assert!(
        decoder_entry.contains("ProcessMessageFailures: 1"),
        "{report}"
    );
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    let got = read_messages(&out);
    let seqs: Vec<i64> = got.iter().map(|m| m.fields[0].value_integer[0]).collect();
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    assert_eq!(got[3].payload.as_deref(), Some(&[0xff, 0xfe, b'x'][..]));
    assert!(stderr.contains("garbage"), "garbage is reported:\n{stderr}");
}

#[test]
fn text_lines_become_messages_with_payload_and_log_output_prints_them() {
    let dir = scratch_dir("token-log");
    let port = free_port();
    let config = format!(
        r#"{globals}
[Lines]
type = "TcpInput"
address = "127.0.0.1:{port}"
splitter = "TokenSplitter"
decoder = ""

[PayloadEncoder]
# The TokenSplitter keeps each line's newline; do not add a second one.
append_newlines = false

[Print]
type = "LogOutput"
message_matcher = "Type == 'Lines' && Logger == 'Lines'"
encoder = "PayloadEncoder"
"#,
        globals = globals(&dir, "maxprocs = 2"),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    client
        .write_all(b"first line\nsecond line\nthird")
        .expect("send");
    let lines = hekad.wait_for_stdout_lines(2);
    assert_eq!(lines, vec!["first line", "second line"]);
    let (status, _) = hekad.terminate();
    assert!(status.success());
}

#[test]
fn counter_filter_injects_counter_output() {
    let dir = scratch_dir("counter");
    let port = free_port();
    let config = format!(
        r#"{globals}
[TcpIn]
type = "TcpInput"
address = "127.0.0.1:{port}"

[CounterFilter]
ticker_interval = 1

[PayloadEncoder]

[Counts]
type = "LogOutput"
message_matcher = "Type == 'heka.counter-output' && Logger == 'CounterFilter'"
encoder = "PayloadEncoder"
"#,
        globals = globals(&dir, "maxprocs = 2"),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    for seq in 0..25 {
        client
            .write_all(&frame(&test_message("t", "p", seq).encode_to_vec()))
            .expect("send");
    }
    let lines = hekad.wait_for_stdout_lines(1);
    assert!(lines[0].starts_with("Got 25 messages. "), "{lines:?}");
    assert!(lines[0].ends_with(" msg/sec"), "{lines:?}");
    let (status, _) = hekad.terminate();
    assert!(status.success());
}

/// The SIGUSR1 report lists the splitter and encoders in use under Heka's names
/// (`<input>-<splitter>`, `<output>-<encoder>`) with their counts, gives a TcpInput of
/// text lines no ProtobufDecoder entry, and shows an idle filter's queue as empty.
#[test]
fn report_lists_splitters_and_encoders_and_idle_queues_read_empty() {
    let dir = scratch_dir("report-entries");
    let port = free_port();
    let out = dir.join("received.log");
    let config = format!(
        r#"{globals}
[Lines]
type = "TcpInput"
address = "127.0.0.1:{port}"
splitter = "TokenSplitter"

[CounterFilter]
ticker_interval = 60

[PayloadEncoder]

[Counts]
type = "LogOutput"
message_matcher = "Type == 'heka.counter-output'"
encoder = "PayloadEncoder"

[Received]
type = "FileOutput"
message_matcher = "Type != 'heka.counter-output'"
path = "{out}"
encoder = "ProtobufEncoder"
flush_interval = 0
"#,
        globals = globals(&dir, ""),
        out = out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    client.write_all(b"one\ntwo\nthree\n").expect("send");
    drop(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while read_messages(&out).len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            hekad.stderr_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The latest report's entry `name`, up to the next entry.
    let entry = |report: &str, name: &str| -> Option<String> {
        let start = report.find(&format!("\n{name}:\n"))? + name.len() + 3;
        let lines = report[start..].lines();
        let values: Vec<&str> = lines.take_while(|l| l.starts_with("    ")).collect();
        Some(values.join("\n"))
    };
    let wanted = [
        ("Lines-TokenSplitter", "ProcessMessageCount: 3"),
        ("Received-ProtobufEncoder", "ProcessMessageCount: 3"),
        ("Counts-PayloadEncoder", "ProcessMessageCount: 0"),
        ("CounterFilter", "InChanLength: 0"),
        ("Received", "InChanLength: 0"),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let report = loop {
        hekad.signal(libc::SIGUSR1);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let text = hekad.stderr_text();
        let latest = text
            .rsplit("========[heka.all-report]========")
            .next()
            .unwrap_or("")
            .to_owned();
        let complete = latest.contains("====Encoders====");
        if complete
            && wanted
                .iter()
                .all(|(name, line)| entry(&latest, name).is_some_and(|e| e.contains(line)))
        {
            break latest;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "report never showed {wanted:?}; latest:\n{latest}"
        );
    };
    assert!(!report.contains("Lines-ProtobufDecoder"), "{report}");
    // Heka lists the Router under Globals, not among the inputs.
    let globals = report
        .split("====Globals====")
        .nth(1)
        .and_then(|r| r.split("====Inputs====").next())
        .unwrap_or("");
    assert!(globals.contains("\nRouter:\n"), "{report}");
    assert!(!report.contains("====Splitters====\nNONE"), "{report}");
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
}

/// A truncated frame whose declared length swallows the frames after it loses only
/// itself: hekad finds the next frame start inside the damaged record and reads again
/// from there.
#[test]
fn a_truncated_frame_loses_only_itself() {
    let dir = scratch_dir("resync");
    let port = free_port();
    let out = dir.join("out.log");
    let hekad = Hekad::start(&dir, &tcp_to_protobuf_file(&dir, "", port, &out));
    hekad.wait_for_log("Starting hekad");
    let good = |seq| frame(&test_message("good", "ok", seq).encode_to_vec());
    // Frame 0 carries 10 bytes of its message but declares more: its declared length
    // covers the whole of frame 1 and the first half of frame 2.
    let damaged = test_message("lost", "cut short", 99).encode_to_vec();
    let (one, two, three) = (good(1), good(2), good(3));
    let declared = 10 + one.len() + two.len() / 2;
    let mut header = Vec::new();
    prost::encoding::encode_varint(8, &mut header); // field 1 (message_length), varint
    prost::encoding::encode_varint(declared as u64, &mut header);
    let mut stream = vec![0x1e, header.len() as u8];
    stream.extend_from_slice(&header);
    stream.push(0x1f);
    stream.extend_from_slice(&damaged[..10]);
    stream.extend_from_slice(&one);
    stream.extend_from_slice(&two);
    stream.extend_from_slice(&three);
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    client.write_all(&stream).expect("send");
    drop(client);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while read_messages(&out).len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "frames after the damaged one were lost; got {}; stderr:\n{}",
            read_messages(&out).len(),
            hekad.stderr_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    let got = read_messages(&out);
    let seqs: Vec<i64> = got.iter().map(|m| m.fields[0].value_integer[0]).collect();
    assert_eq!(seqs, vec![1, 2, 3], "{stderr}");
    assert!(stderr.contains("reading again from there"), "{stderr}");
}
