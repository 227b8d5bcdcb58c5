//! Runtime behaviour through the real binary: wedged outputs, SIGHUP, unix datagrams,
//! reconnects, signers, decode failures, and the shipped example configs.

mod common;

use common::{
    frame, free_port, globals, read_messages, scratch_dir, send, test_message, wait_for_messages,
    Hekad,
};
use hekad::message::Message;
use prost::Message as _;
use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

#[test]
fn a_stuck_output_is_declared_wedged_and_the_others_keep_flowing() {
    let dir = scratch_dir("wedged");
    let (port, dead_port) = (free_port(), free_port());
    let good = dir.join("good.log");
    let config = format!(
        r#"{globals}
[TcpIn]
type = "TcpInput"
address = "127.0.0.1:{port}"

[Stuck]
type = "TcpOutput"
address = "127.0.0.1:{dead_port}"
message_matcher = "TRUE"
use_buffering = false

[Good]
type = "FileOutput"
message_matcher = "TRUE"
path = "{good}"
encoder = "ProtobufEncoder"
flush_interval = 0
"#,
        globals = globals(
            &dir,
            "max_pack_idle = \"1s\"\nplugin_chansize = 5\npoolsize = 20"
        ),
        good = good.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(
        port,
        (0..500).map(|i| frame(&test_message("t", "p", i).encode_to_vec())),
    );
    let got = wait_for_messages(&hekad, &good, 500);
    assert_eq!(got.len(), 500);
    hekad.wait_for_log("Diagnostics: plugin 'Stuck' has not accepted a message");
    hekad.wait_for_report("DropMessageCount: ");
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("messages not delivered"),
        "the stuck output reports what it lost:\n{stderr}"
    );
}

#[test]
fn sighup_reopens_the_file_output() {
    let dir = scratch_dir("sighup");
    let port = free_port();
    let path = dir.join("out.log");
    let config = format!(
        "{}\n[TcpInput]\naddress = \"127.0.0.1:{port}\"\n\n[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        globals(&dir, ""),
        path.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(
        port,
        (0..10).map(|i| frame(&test_message("before", "p", i).encode_to_vec())),
    );
    wait_for_messages(&hekad, &path, 10);
    let rotated = dir.join("out.log.1");
    std::fs::rename(&path, &rotated).expect("rotate");
    hekad.signal(libc::SIGHUP);
    hekad.wait_for_log("Reload initiated");
    send(
        port,
        (10..15).map(|i| frame(&test_message("after", "p", i).encode_to_vec())),
    );
    let after = wait_for_messages(&hekad, &path, 5);
    let (status, _) = hekad.terminate();
    assert!(status.success());
    assert!(after.iter().all(|m| m.r#type.as_deref() == Some(b"after")));
    let before = read_messages(&rotated);
    assert_eq!(before.len(), 10);
    assert!(before
        .iter()
        .all(|m| m.r#type.as_deref() == Some(b"before")));
}

#[test]
fn file_output_writes_a_full_buffer_before_its_flush_interval() {
    // Memory stays bounded: with an hour-long interval, a full buffer is written anyway.
    let dir = scratch_dir("file-full-buffer");
    let port = free_port();
    let path = dir.join("out.log");
    let config = format!(
        "{}\n[TcpInput]\naddress = \"127.0.0.1:{port}\"\n\n[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 3600000\nflush_operator = \"AND\"\n",
        globals(&dir, ""),
        path.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let payload = "x".repeat(1000);
    send(
        port,
        (0..200).map(|i| frame(&test_message("big", &payload, i).encode_to_vec())),
    );
    // 200 KB of messages: at least the first 64 KiB reach the file while hekad runs.
    let got = wait_for_messages(&hekad, &path, 50);
    assert!(got.len() >= 50);
    let (status, _) = hekad.terminate();
    assert!(status.success());
    assert_eq!(
        read_messages(&path).len(),
        200,
        "the rest is written at shutdown"
    );
}

#[test]
fn a_disk_queue_of_hmac_checksummed_frames_is_still_delivered() {
    // Queues written before frames carried a CRC-32 (HMAC-MD5 with the fixed key, signer
    // version 1) survive an upgrade.
    let dir = scratch_dir("legacy-queue");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let queue = dir.join("cache/output_queue/Out");
    std::fs::create_dir_all(&queue).expect("queue dir");
    let legacy = hekad::framing::SignerConfig {
        name: "hekad-queue".into(),
        hmac_hash: "md5".into(),
        hmac_key: "hekad-queue".into(),
        version: 1,
    };
    let mut segment = Vec::new();
    for i in 0..20 {
        let msg = test_message("legacy", "p", i).encode_to_vec();
        hekad::framing::write_frame(&msg, Some(&legacy), 65536, &mut segment).expect("frame");
    }
    std::fs::write(queue.join("1.log"), &segment).expect("segment");
    let config = format!(
        "{}\n[Out]\ntype = \"TcpOutput\"\naddress = \"127.0.0.1:{port}\"\nmessage_matcher = \"TRUE\"\n",
        globals(&dir, "")
    );
    let hekad = Hekad::start(&dir, &config);
    let (mut conn, _) = listener.accept().expect("accept");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 65536];
    while common::unframe_all(&received).len() < 20 {
        let n = conn.read(&mut buf).expect("read");
        assert!(n > 0, "the connection closed early");
        received.extend_from_slice(&buf[..n]);
    }
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("damaged"), "{stderr}");
    assert_eq!(common::unframe_all(&received).len(), 20);
}

#[test]
fn unixgram_input_and_message_signer() {
    let dir = scratch_dir("unixgram-signer");
    let socket = dir.join("in.sock");
    let (signed_out, all_out) = (dir.join("signed.log"), dir.join("all.log"));
    let config = format!(
        r#"{globals}
[Dgram]
type = "UdpInput"
net = "unixgram"
address = "{socket}"
splitter = "Framing"
decoder = "ProtobufDecoder"

[Framing]
type = "HekaFramingSplitter"
[Framing.signer.test_1]
hmac_key = "testkey"

[Signed]
type = "FileOutput"
message_matcher = "TRUE"
message_signer = "test"
path = "{signed}"
encoder = "ProtobufEncoder"
flush_interval = 0

[All]
type = "FileOutput"
message_matcher = "TRUE"
path = "{all}"
encoder = "ProtobufEncoder"
flush_interval = 0
"#,
        globals = globals(&dir, ""),
        socket = socket.display(),
        signed = signed_out.display(),
        all = all_out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let client = std::os::unix::net::UnixDatagram::unbound().expect("socket");
    client
        .send_to(
            &common::read_fixture("streams/matcher_test_message.signed_md5.framed"),
            &socket,
        )
        .expect("signed");
    client
        .send_to(
            &frame(&test_message("unsigned", "p", 1).encode_to_vec()),
            &socket,
        )
        .expect("unsigned");
    let mut bad = common::read_fixture("streams/matcher_test_message.signed_sha1.framed");
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // the signature no longer matches
    client.send_to(&bad, &socket).expect("tampered");
    client
        .send_to(
            &common::read_fixture("streams/matcher_test_message.signed_sha1.framed"),
            &socket,
        )
        .expect("signed sha1");
    let all = wait_for_messages(&hekad, &all_out, 3);
    let signed = wait_for_messages(&hekad, &signed_out, 2);
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    assert_eq!(all.len(), 3, "the tampered frame is rejected");
    assert_eq!(signed.len(), 2);
    assert!(signed.iter().all(|m| m.r#type.as_deref() == Some(b"TEST")));
    assert!(stderr.contains("HMAC signature does not match"), "{stderr}");
    assert!(!socket.exists(), "unixgram socket removed at exit");
}

#[test]
fn tcp_output_reconnects_and_resends() {
    let dir = scratch_dir("reconnect");
    let port = free_port();
    let sink = TcpListener::bind("127.0.0.1:0").expect("sink");
    let sink_port = sink.local_addr().expect("addr").port();
    let config = format!(
        "{}\n[TcpInput]\naddress = \"127.0.0.1:{port}\"\n\n[Ship]\ntype = \"TcpOutput\"\naddress = \"127.0.0.1:{sink_port}\"\nmessage_matcher = \"TRUE\"\n",
        globals(&dir, "")
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(
        port,
        (0..5).map(|i| frame(&test_message("t", "p", i).encode_to_vec())),
    );
    // First connection: take a little, then hang up on hekad.
    let (mut first, _) = sink.accept().expect("first connection");
    let mut buf = [0u8; 16];
    first.read_exact(&mut buf).expect("some bytes");
    drop(first);
    send(
        port,
        (5..40).map(|i| frame(&test_message("t", "p", i).encode_to_vec())),
    );
    let (mut second, _) = sink.accept().expect("hekad reconnects");
    second
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // Frames written into the dead connection before the failure showed can be lost (the
    // kernel accepted them; Heka's protocol has no acknowledgements, see Heka #1354).
    // Everything after the reconnect must arrive.
    send(
        port,
        (40..80).map(|i| frame(&test_message("t", "p", i).encode_to_vec())),
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut data = Vec::new();
    let mut chunk = [0u8; 65536];
    while !(40..80).all(|i| seen.contains(&i)) {
        let n = second.read(&mut chunk).expect("read");
        assert!(n > 0, "connection closed; seen {seen:?}");
        data.extend_from_slice(&chunk[..n]);
        seen.clear();
        let mut rest = &data[..];
        while rest.len() > 3 {
            let hlen = rest[1] as usize;
            let Ok(h) = hekad::message::Header::decode(&rest[2..2 + hlen]) else {
                break;
            };
            let end = hlen + 3 + h.message_length as usize;
            if rest.len() < end {
                break;
            }
            let m = Message::decode(&rest[hlen + 3..end]).expect("valid");
            seen.insert(m.fields[0].value_integer[0]);
            rest = &rest[end..];
        }
    }
    let (status, _) = hekad.terminate();
    assert!(status.success());
}

#[test]
fn send_decode_failures_routes_the_original_with_the_error() {
    let dir = scratch_dir("decode-failures");
    let port = free_port();
    let (parsed, failed) = (dir.join("parsed.log"), dir.join("failed.log"));
    let config = format!(
        r#"{globals}
[Lines]
type = "TcpInput"
address = "127.0.0.1:{port}"
splitter = "TokenSplitter"
decoder = "Kv"
send_decode_failures = true

[Kv]
type = "PayloadRegexDecoder"
match_regex = '^(?P<Key>\w+)=(?P<Value>\w+)'
[Kv.message_fields]
Type = "kv"
"%Key%" = "%Value%"
Key = "%Key%"

[Parsed]
type = "FileOutput"
message_matcher = "Type == 'kv' && Fields[Key] == 'a'"
path = "{parsed}"
encoder = "ProtobufEncoder"
flush_interval = 0

[Failed]
type = "FileOutput"
message_matcher = "Fields[decode_failure] == TRUE"
path = "{failed}"
encoder = "ProtobufEncoder"
flush_interval = 0
"#,
        globals = globals(&dir, ""),
        parsed = parsed.display(),
        failed = failed.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(port, [b"a=1\n!!! not kv\n".to_vec()]);
    let ok = wait_for_messages(&hekad, &parsed, 1);
    let bad = wait_for_messages(&hekad, &failed, 1);
    let (status, _) = hekad.terminate();
    assert!(status.success());
    assert_eq!(ok[0].payload.as_deref(), Some(&b"a=1\n"[..]));
    assert_eq!(bad[0].payload.as_deref(), Some(&b"!!! not kv\n"[..]));
    let error = bad[0]
        .fields
        .iter()
        .find(|f| f.name == b"decode_error")
        .expect("decode_error field");
    assert!(error.value_string[0].starts_with(b"No match: "));
}

#[test]
fn shipped_example_configs_start_and_stop_cleanly() {
    let certs = common::example_certs("example-certs");
    let tls_dir = certs.display().to_string();
    let mut ran = 0;
    for path in common::shipped_configs() {
        let hekad = Hekad::start_with_env(
            &[format!("-config={}", path.display())],
            &[("HEKAD_TLS_DIR", &tls_dir)],
        );
        hekad.wait_for_log("Starting hekad");
        let (status, stderr) = hekad.terminate();
        assert!(status.success(), "{}: {stderr}", path.display());
        assert!(!stderr.contains("ERROR"), "{}: {stderr}", path.display());
        ran += 1;
    }
    assert!(ran >= 3);
}

#[test]
fn a_failing_output_is_retried_then_shuts_hekad_down_unless_it_can_exit() {
    let dir = scratch_dir("retries");
    let port = free_port();
    // An output that fails once running (a FileOutput that cannot create its file is now
    // refused at start): a sandbox whose timer_event raises an error.
    let script = dir.join("broken.lua");
    std::fs::write(
        &script,
        "function process_message() return 0 end\nfunction timer_event(ns) error(\"broken\") end\n",
    )
    .expect("write script");
    let output = |can_exit: bool| {
        format!(
            "[Broken]\ntype = \"SandboxOutput\"\nmessage_matcher = \"TRUE\"\nfilename = \"{}\"\nticker_interval = 1\ncan_exit = {can_exit}\n[Broken.retries]\nmax_retries = 2\ndelay = \"10ms\"\nmax_jitter = \"1ms\"\n",
            script.display()
        )
    };
    let input = format!("[TcpInput]\naddress = \"127.0.0.1:{port}\"\n");
    let fatal = Hekad::start(
        &dir,
        &format!("{}\n{input}\n{}", globals(&dir, ""), output(false)),
    );
    let (status, stderr) = fatal.wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.matches("restarting (attempt").count(), 2, "{stderr}");
    assert!(stderr.contains("Max retries exceeded"), "{stderr}");
    let tolerant = Hekad::start(
        &dir,
        &format!("{}\n{input}\n{}", globals(&dir, ""), output(true)),
    );
    tolerant.wait_for_log("Max retries exceeded");
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("hekad keeps running");
    let (status, stderr) = tolerant.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn deliver_incomplete_final_sends_the_last_partial_line_at_end_of_stream() {
    let dir = scratch_dir("incomplete-final");
    let port = free_port();
    let config = format!(
        "{}\n[Lines]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nsplitter = \"LastLineToo\"\ndecoder = \"\"\n\n[LastLineToo]\ntype = \"TokenSplitter\"\ndeliver_incomplete_final = true\n\n[Raw]\ntype = \"PayloadEncoder\"\nappend_newlines = false\n\n[Print]\ntype = \"LogOutput\"\nmessage_matcher = \"TRUE\"\nencoder = \"Raw\"\n",
        globals(&dir, "")
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(port, [b"one\ntwo\nno newline at the end".to_vec()]);
    let lines = hekad.wait_for_stdout_lines(3);
    assert_eq!(lines, vec!["one", "two", "no newline at the end"]);
    let (status, _) = hekad.terminate();
    assert!(status.success());
}

#[test]
fn unixgram_input_on_an_abstract_socket_name() {
    use std::os::linux::net::SocketAddrExt;
    let dir = scratch_dir("abstract");
    let name = format!("hekad-test-{}", std::process::id());
    let out = dir.join("out.log");
    let config = format!(
        "{}\n[Dgram]\ntype = \"UdpInput\"\nnet = \"unixgram\"\naddress = \"@{name}\"\nsplitter = \"HekaFramingSplitter\"\ndecoder = \"ProtobufDecoder\"\n\n[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        globals(&dir, ""),
        out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let client = std::os::unix::net::UnixDatagram::unbound().expect("socket");
    client
        .send_to_addr(
            &frame(&test_message("abstract", "p", 1).encode_to_vec()),
            &addr,
        )
        .expect("send");
    let got = wait_for_messages(&hekad, &out, 1);
    let (status, _) = hekad.terminate();
    assert!(status.success());
    assert_eq!(got[0].r#type.as_deref(), Some(&b"abstract"[..]));
}
