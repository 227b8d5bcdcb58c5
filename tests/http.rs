//! HTTP in and out with real clients and servers: `curl` against HttpListenInput, and a
//! hekad shipping over HttpOutput (and polling with HttpInput) to another hekad's
//! HttpListenInput that starts late, so retries and at-least-once delivery are real.

mod common;

use common::{free_port, globals, read_messages, scratch_dir, Hekad};
use hekad::message::Message;
use std::process::Command;
use std::time::{Duration, Instant};

fn text(msg: &Message, name: &str) -> Option<String> {
    msg.fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .and_then(|f| f.value_string.first())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn texts(msg: &Message, name: &str) -> Vec<String> {
    msg.fields
        .iter()
        .filter(|f| f.name == name.as_bytes())
        .filter_map(|f| f.value_string.first())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

fn integer(msg: &Message, name: &str) -> Option<i64> {
    msg.fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .and_then(|f| f.value_integer.first().copied())
}

fn payload(msg: &Message) -> String {
    String::from_utf8_lossy(msg.payload.as_deref().unwrap_or_default()).into_owned()
}

/// Runs curl; returns (status code, response headers).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl (scripts/test installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = text.trim_end().rsplit('\n').next().unwrap_or("").trim();
    let code = code.get(code.len().saturating_sub(3)..).unwrap_or("0");
    (code.parse().unwrap_or(0), text)
}

/// HttpListenInput with Basic auth: curl's requests become messages with Heka's fields,
/// query parameters and chosen request headers; a wrong password is refused and its body
/// dropped; a body over max_message_size is refused with 413.
#[test]
fn curl_requests_become_messages_with_hekas_fields() {
    let dir = scratch_dir("http-listen");
    let out = dir.join("out.pb");
    let (port, api_port) = (free_port(), free_port());
    let config = format!(
        r#"{globals}
[web]
type = "HttpListenInput"
address = "127.0.0.1:{port}"
request_headers = ["X-Request-Id"]
auth_type = "Basic"
username = "bob"
password = "s3cret"

[web.headers]
X-Served-By = ["hekad"]

[api]
type = "HttpListenInput"
address = "127.0.0.1:{api_port}"
auth_type = "API"
api_key = "k-123"

[ProtobufEncoder]

[out]
type = "FileOutput"
message_matcher = "Type == 'heka.httpdata.request'"
path = "{out}"
encoder = "ProtobufEncoder"
"#,
        globals = globals(&dir, "hostname = \"ingest-1\"\nmax_message_size = 4096"),
        out = out.display(),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    // API-key authentication: the key in X-API-Key, or 401.
    let api = format!("http://127.0.0.1:{api_port}/events");
    let (code, _) = curl(&["-H", "X-API-Key: k-123", "--data-binary", "via api", &api]);
    assert_eq!(code, 200);
    let (code, _) = curl(&["-H", "X-API-Key: wrong", "--data-binary", "nope", &api]);
    assert_eq!(code, 401);
    let url = format!("http://localhost:{port}/hooks/deploy?env=prod&tag=a&tag=b%20c");
    let (code, headers) = curl(&[
        "-u",
        "bob:s3cret",
        "-H",
        "X-Request-Id: req-42",
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        "deployed v1.2",
        &url,
    ]);
    assert_eq!(code, 200, "{headers}");
    assert!(
        headers.to_ascii_lowercase().contains("x-served-by: hekad"),
        "{headers}"
    );
    let (code, _) = curl(&["-u", "bob:wrong", "--data-binary", "intruder", &url]);
    assert_eq!(code, 401);
    let big = "x".repeat(10_000);
    let (code, _) = curl(&["-u", "bob:s3cret", "--data-binary", &big, &url]);
    assert_eq!(code, 413);
    let ping = format!("http://127.0.0.1:{port}/ping?from=monitor");
    let (code, _) = curl(&["-u", "bob:s3cret", &ping]);
    assert_eq!(code, 200);

    let messages = common::wait_for_messages(&hekad, &out, 3);
    assert_eq!(messages.len(), 3, "the refused bodies made no message");
    assert_eq!(payload(&messages[0]), "via api");
    let messages = &messages[1..];
    let m = &messages[0];
    assert_eq!(payload(m), "deployed v1.2");
    assert_eq!(m.severity, Some(6));
    assert_eq!(m.env_version.as_deref(), Some(&b"1"[..]));
    assert_eq!(m.hostname.as_deref(), Some(&b"ingest-1"[..]));
    assert_eq!(m.pid, Some(hekad.child.id() as i32));
    assert_eq!(text(m, "Protocol").as_deref(), Some("HTTP/1.1"));
    assert!(text(m, "UserAgent").is_some_and(|ua| ua.starts_with("curl/")));
    assert_eq!(text(m, "ContentType").as_deref(), Some("text/plain"));
    assert_eq!(text(m, "Path").as_deref(), Some("/hooks/deploy"));
    assert_eq!(text(m, "Host").as_deref(), Some("localhost"));
    assert_eq!(text(m, "RemoteAddr").as_deref(), Some("127.0.0.1"));
    assert_eq!(text(m, "X-Request-Id").as_deref(), Some("req-42"));
    assert_eq!(text(m, "env").as_deref(), Some("prod"));
    assert_eq!(texts(m, "tag"), ["a", "b c"]);
    // A GET without a body is a message too, with its parameters.
    assert_eq!(payload(&messages[1]), "");
    assert_eq!(text(&messages[1], "from").as_deref(), Some("monitor"));
    hekad.wait_for_log("failed authentication");
    hekad.wait_for_report("ProcessMessageFailures: 2");
    hekad.wait_for_report("ProcessMessageFailures: 1");
}

/// A tailed file shipped over HttpOutput to a receiver that is down at first: HttpInput
/// reports the failures, the output retries, and once the receiver is up every line
/// arrives (with the configured header) and the poller sees 200s.
#[test]
fn http_output_retries_until_a_late_receiver_takes_every_line() {
    let dir = scratch_dir("http-ship");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let lines: Vec<String> = (0..20).map(|i| format!("line {i:02}")).collect();
    std::fs::write(logs.join("app.log"), lines.join("\n") + "\n").expect("log");
    let port = free_port();
    let (sender_out, receiver_out) = (dir.join("sender.pb"), dir.join("receiver.pb"));
    let sender_dir = dir.join("sender");
    std::fs::create_dir_all(&sender_dir).expect("dir");
    let sender = format!(
        r#"{globals}
[app]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'app\.log'

[PayloadEncoder]
append_newlines = false

[ship]
type = "HttpOutput"
message_matcher = "Type == 'logfile'"
address = "http://127.0.0.1:{port}/ingest"
encoder = "PayloadEncoder"
use_buffering = true
http_timeout = 2000

[ship.headers]
X-Source = "edge-7"

[poll]
type = "HttpInput"
url = "http://127.0.0.1:{port}/status"
ticker_interval = 1

[ProtobufEncoder]

[polled]
type = "FileOutput"
message_matcher = "Type =~ /^heka.httpinput/"
path = "{out}"
encoder = "ProtobufEncoder"
"#,
        globals = globals(&sender_dir, ""),
        logs = logs.display(),
        out = sender_out.display(),
    );
    let sender = Hekad::start(&sender_dir, &sender);
    // The receiver is down: the poller reports errors; the output keeps retrying.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let polled = read_messages(&sender_out);
        if let Some(e) = polled
            .iter()
            .find(|m| m.r#type.as_deref() == Some(&b"heka.httpinput.error"[..]))
        {
            assert_eq!(e.severity, Some(1));
            assert_eq!(
                e.logger.as_deref(),
                Some(format!("http://127.0.0.1:{port}/status").as_bytes())
            );
            assert!(payload(e).contains("connect"), "{}", payload(e));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no error message; stderr:\n{}",
            sender.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    sender.wait_for_log("retrying");

    let receiver_dir = dir.join("receiver");
    std::fs::create_dir_all(&receiver_dir).expect("dir");
    let receiver = format!(
        r#"{globals}
[web]
type = "HttpListenInput"
address = "127.0.0.1:{port}"
request_headers = ["X-Source"]

[ProtobufEncoder]

[out]
type = "FileOutput"
message_matcher = "Fields[Path] == '/ingest'"
path = "{out}"
encoder = "ProtobufEncoder"
"#,
        globals = globals(&receiver_dir, ""),
        out = receiver_out.display(),
    );
    let receiver = Hekad::start(&receiver_dir, &receiver);
    let received = common::wait_for_messages(&receiver, &receiver_out, 20);
    let bodies: Vec<String> = received.iter().map(payload).collect();
    let expected: Vec<String> = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(bodies, expected, "every line once, in order");
    assert!(received
        .iter()
        .all(|m| text(m, "X-Source").as_deref() == Some("edge-7")));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let polled = read_messages(&sender_out);
        if let Some(ok) = polled
            .iter()
            .find(|m| m.r#type.as_deref() == Some(&b"heka.httpinput.data"[..]))
        {
            assert_eq!(integer(ok, "StatusCode"), Some(200));
            assert_eq!(text(ok, "Status").as_deref(), Some("200 OK"));
            assert_eq!(ok.severity, Some(6));
            break;
        }
        assert!(Instant::now() < deadline, "no data message");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = sender.terminate();
    assert!(status.success());
}

/// ElasticSearchOutput with ESJsonEncoder: lines of a tailed file arrive as bulk
/// requests of `flush_count` documents (the rest after `flush_interval`), each an action
/// line and a document, at the server's `/_bulk`.
#[test]
fn elasticsearch_output_posts_bulk_batches() {
    let dir = scratch_dir("http-es");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    let lines: Vec<String> = (0..25).map(|i| format!("event {i:02}")).collect();
    std::fs::write(logs.join("app.log"), lines.join("\n") + "\n").expect("log");
    let port = free_port();
    let received = dir.join("bulk.pb");
    let server_dir = dir.join("server");
    std::fs::create_dir_all(&server_dir).expect("dir");
    let server = format!(
        r#"{globals}
[es]
type = "HttpListenInput"
address = "127.0.0.1:{port}"

[ProtobufEncoder]

[out]
type = "FileOutput"
message_matcher = "Type == 'heka.httpdata.request'"
path = "{out}"
encoder = "ProtobufEncoder"
"#,
        globals = globals(&server_dir, ""),
        out = received.display(),
    );
    let server = Hekad::start(&server_dir, &server);
    server.wait_for_log("Starting hekad");
    let shipper_dir = dir.join("shipper");
    std::fs::create_dir_all(&shipper_dir).expect("dir");
    let shipper = format!(
        r#"{globals}
[app]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'app\.log'

[ESJsonEncoder]
index = "%{{Logger}}-%{{%Y}}"
fields = ["Payload", "Logger", "DynamicFields"]

[ElasticSearchOutput]
message_matcher = "Type == 'logfile'"
server = "http://127.0.0.1:{port}"
encoder = "ESJsonEncoder"
flush_count = 10
flush_interval = 300
"#,
        globals = globals(&shipper_dir, ""),
        logs = logs.display(),
    );
    let shipper = Hekad::start(&shipper_dir, &shipper);
    let requests = common::wait_for_messages(&server, &received, 3);
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs()
            / 31_556_952;
    let mut documents = Vec::new();
    for request in &requests {
        assert_eq!(text(request, "Path").as_deref(), Some("/_bulk"));
        assert_eq!(
            text(request, "ContentType").as_deref(),
            Some("application/x-ndjson")
        );
        let body = payload(request);
        let body_lines: Vec<&str> = body.lines().collect();
        assert!(
            body_lines.len() <= 20,
            "at most flush_count documents per request"
        );
        for pair in body_lines.chunks(2) {
            let action: serde_json::Value = serde_json::from_str(pair[0]).expect("action JSON");
            assert_eq!(action["index"]["_index"], format!("app-{year}").as_str());
            assert_eq!(action["index"]["_type"], "message");
            let doc: serde_json::Value = serde_json::from_str(pair[1]).expect("document JSON");
            documents.push(doc["Payload"].as_str().expect("payload").to_owned());
        }
    }
    assert_eq!(
        documents,
        lines.iter().map(|l| format!("{l}\n")).collect::<Vec<_>>()
    );
    assert_eq!(requests.len(), 3);
    let (status, _) = shipper.terminate();
    assert!(status.success());
}
