//! TLS with real certificates made by `openssl` (a CA, a server, a client, and a client
//! of another CA): hekad -> hekad with client-certificate verification; clients without
//! a certificate, with another CA's, or speaking plain TCP are refused and counted while
//! the others are served; `openssl s_client`, heka-inject and heka-flood deliver over
//! TLS; HTTPS in and out; bad TLS settings are start-up errors naming the section, the key
//! and the file.

mod common;

use common::certs::{self, Certs};
use common::{frame, free_port, globals, scratch_dir, test_message, wait_for_lines, Hekad};
use prost::Message as _;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A receiving hekad: TcpInput over TLS (client certificates required) -> payloads into
/// `received`.
fn receiver(dir: &Path, certs: &Certs, port: u16, received: &Path) -> Hekad {
    let config = format!(
        r#"{globals}
[In]
type = "TcpInput"
address = "127.0.0.1:{port}"
{tls}
[Lines]
type = "PayloadEncoder"
append_newlines = false

[Out]
type = "FileOutput"
message_matcher = "Type != 'hekabench'"
path = "{received}"
encoder = "Lines"
flush_interval = 0

[FloodLines]
type = "PayloadEncoder"

[Flood]
type = "FileOutput"
message_matcher = "Type == 'hekabench'"
path = "{received}.flood"
encoder = "FloodLines"
flush_interval = 0
"#,
        globals = globals(dir, ""),
        tls = certs.server_toml("In"),
        received = received.display(),
    );
    let hekad = Hekad::start(dir, &config);
    hekad.wait_for_log("Starting hekad");
    hekad
}

/// Runs `openssl s_client` against 127.0.0.1:`port` with `args`, sending `input`; returns
/// its combined output.
fn s_client(port: u16, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-nocommands", "-no_ign_eof"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl");
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(input);
    drop(stdin);
    let out = child.wait_with_output().expect("s_client");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A receiving hekad over TLS and a log for a shipper to tail.
struct Pair {
    dir: common::Scratch,
    certs: Certs,
    port: u16,
    received: std::path::PathBuf,
    receiver: Hekad,
    logs: std::path::PathBuf,
    ship_dir: std::path::PathBuf,
}

impl Pair {
    /// Certificates, the receiver, and `lines` in `logs/app.log`.
    fn start(name: &str, lines: &str) -> Pair {
        let dir = scratch_dir(name);
        let certs = certs::make(&dir.join("certs"));
        let port = free_port();
        let received = dir.join("received.log");
        let receive_dir = dir.join("receive");
        std::fs::create_dir_all(&receive_dir).expect("dir");
        let receiver = receiver(&receive_dir, &certs, port, &received);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        std::fs::write(logs.join("app.log"), lines).expect("log");
        let ship_dir = dir.join("ship");
        std::fs::create_dir_all(&ship_dir).expect("dir");
        Pair {
            dir,
            certs,
            port,
            received,
            receiver,
            logs,
            ship_dir,
        }
    }

    /// A shipper tailing the log to the receiver over TLS set by `tls` (the lines of
    /// `use_tls` and `[Ship.tls]`).
    fn shipper(&self, tls: &str) -> Hekad {
        Hekad::start(
            &self.ship_dir,
            &format!(
                r#"{globals}
[Logs]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'app\.log'

[Ship]
type = "TcpOutput"
address = "127.0.0.1:{port}"
message_matcher = "Type == 'logfile'"
{tls}"#,
                globals = globals(&self.ship_dir, ""),
                logs = self.logs.display(),
                port = self.port,
            ),
        )
    }
}

#[test]
fn hekad_to_hekad_over_tls_refuses_clients_it_cannot_trust_and_serves_the_others() {
    // A shipper tailing a log over TLS with its client certificate.
    let lines: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    let pair = Pair::start("tls-e2e", &lines);
    let (dir, certs, port, received, receiver, logs) = (
        &pair.dir,
        &pair.certs,
        pair.port,
        &pair.received,
        &pair.receiver,
        &pair.logs,
    );
    let shipper = pair.shipper(&certs.client_toml("Ship"));
    let got = wait_for_lines(receiver, received, 1000);
    assert_eq!(got.join("\n") + "\n", lines);

    // Refused: no certificate, another CA's certificate, plain TCP.
    let ca = certs.ca.display().to_string();
    s_client(port, &["-CAfile", &ca], b"");
    s_client(
        port,
        &[
            "-CAfile",
            &ca,
            "-cert",
            &certs.other_client_cert.display().to_string(),
            "-key",
            &certs.other_client_key.display().to_string(),
        ],
        b"",
    );
    let plain = frame(&test_message("plain", "sent in clear\n", 1).encode_to_vec());
    common::send(port, [plain]);
    receiver.wait_for_report("TlsRefusedCount: 3");
    for why in [
        "peer sent no certificates",
        "UnknownIssuer",
        "InvalidContentType",
    ] {
        assert!(
            receiver.stderr_text().contains(why),
            "no refusal for {why}: {}",
            receiver.stderr_text()
        );
    }

    // Still serving: openssl's client with the right certificate delivers a message, and
    // so does the shipper.
    let message = frame(&test_message("openssl", "via openssl s_client\n", 2).encode_to_vec());
    let out = s_client(
        port,
        &[
            "-CAfile",
            &ca,
            "-cert",
            &certs.client_cert.display().to_string(),
            "-key",
            &certs.client_key.display().to_string(),
        ],
        &message,
    );
    assert!(out.contains("Verify return code: 0"), "{out}");
    let got = wait_for_lines(receiver, received, 1001);
    assert!(got.iter().any(|l| l == "via openssl s_client"), "{got:?}");
    // heka-inject and heka-flood with the client certificate.
    let inject = Command::new(env!("CARGO_BIN_EXE_heka-inject"))
        .args([
            "-heka",
            &format!("localhost:{port}"),
            "-payload",
            "via heka-inject\n",
        ])
        .args(["-tls-cafile", &ca])
        .args(["-tls-cert", &certs.client_cert.display().to_string()])
        .args(["-tls-key", &certs.client_key.display().to_string()])
        .output()
        .expect("heka-inject");
    assert!(inject.status.success(), "{inject:?}");
    let flood_toml = dir.join("flood.toml");
    std::fs::write(
        &flood_toml,
        format!(
            "[default]\nip_address = \"127.0.0.1:{port}\"\nnum_messages = 50\n\
             ascii_only = true\nvariable_size_messages = false\nstatic_message_size = 40\n\
             use_tls = true\n[default.tls]\nroot_cafile = \"{ca}\"\ncert_file = \"{}\"\n\
             key_file = \"{}\"\n",
            certs.client_cert.display(),
            certs.client_key.display()
        ),
    )
    .expect("flood.toml");
    let flood = Command::new(env!("CARGO_BIN_EXE_heka-flood"))
        .args(["-config", &flood_toml.display().to_string()])
        .output()
        .expect("heka-flood");
    assert!(flood.status.success(), "{flood:?}");
    let flood_path = std::path::PathBuf::from(format!("{}.flood", received.display()));
    assert_eq!(wait_for_lines(receiver, &flood_path, 50).len(), 50);
    let got = wait_for_lines(receiver, received, 1002);
    assert!(got.iter().any(|l| l == "via heka-inject"), "{got:?}");
    let more: String = (1000..1100).map(|i| format!("line {i}\n")).collect();
    std::fs::OpenOptions::new()
        .append(true)
        .open(logs.join("app.log"))
        .and_then(|mut f| f.write_all(more.as_bytes()))
        .expect("append");
    wait_for_lines(receiver, received, 1102);
    assert!(!std::fs::read_to_string(received)
        .expect("received")
        .contains("sent in clear"));

    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    let (status, stderr) = pair.receiver.terminate();
    assert!(status.success(), "{stderr}");
}

/// Bad TLS settings stop hekad at start-up with the section, the key and the file.
#[test]
fn bad_tls_settings_are_start_up_errors_naming_section_key_and_file() {
    let dir = scratch_dir("tls-errors");
    let certs = certs::make(&dir.join("certs"));
    let port = free_port();
    let cases = [
        (
            format!(
                "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nuse_tls = true\n\
                 [In.tls]\ncert_file = \"{d}/missing.pem\"\nkey_file = \"{key}\"\n",
                d = dir.display(),
                key = certs.server_key.display()
            ),
            vec!["[In]", "tls.cert_file", "missing.pem"],
        ),
        (
            format!(
                "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nuse_tls = true\n\
                 [In.tls]\ncert_file = \"{cert}\"\nkey_file = \"{cert}\"\n",
                cert = certs.server_cert.display()
            ),
            vec![
                "[In]",
                "tls.key_file",
                "expected a PEM private key file, got ",
                "server.pem\": no PEM private key in it",
            ],
        ),
        (
            format!(
                "[Out]\ntype = \"TcpOutput\"\nmessage_matcher = \"TRUE\"\n\
                 address = \"127.0.0.1:{port}\"\nuse_tls = true\n\
                 [Out.tls]\nmin_version = \"TLS10\"\nroot_cafile = \"{ca}\"\n",
                ca = certs.ca.display()
            ),
            vec!["[Out]", "tls.min_version", "TLS 1.2 and 1.3 only"],
        ),
        (
            format!(
                "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nuse_tls = true\n\
                 [In.tls]\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\n\
                 client_auth = \"RequireAndVerifyClientCert\"\n",
                cert = certs.server_cert.display(),
                key = certs.server_key.display()
            ),
            vec![
                "[In]",
                "tls.client_cafile",
                "needs client_cafile to verify clients",
            ],
        ),
    ];
    for (section, expected) in cases {
        let hekad = Hekad::start(&dir, &format!("{}\n{section}", globals(&dir, "")));
        let (status, stderr) = hekad.wait();
        assert!(!status.success(), "started with {section}");
        for text in expected {
            assert!(stderr.contains(text), "{text:?} not in:\n{stderr}");
        }
    }
}

/// HTTPS: HttpListenInput over TLS takes curl's request and a hekad's HttpOutput and
/// HttpInput (https URLs trusting the test CA, by name and by IP address); a plain-HTTP
/// request is refused and counted.
#[test]
fn https_between_curl_and_hekads() {
    let dir = scratch_dir("tls-https");
    let certs = certs::make(&dir.join("certs"));
    let port = free_port();
    let received = dir.join("received.log");
    let receive_dir = dir.join("receive");
    std::fs::create_dir_all(&receive_dir).expect("dir");
    let receiver = Hekad::start(
        &receive_dir,
        &format!(
            r#"{globals}
[web]
type = "HttpListenInput"
address = "127.0.0.1:{port}"
use_tls = true
[web.tls]
cert_file = "{cert}"
key_file = "{key}"

[Lines]
type = "PayloadEncoder"
append_newlines = false

[Out]
type = "FileOutput"
message_matcher = "Fields[Path] == '/ingest'"
path = "{received}"
encoder = "Lines"
flush_interval = 0
"#,
            globals = globals(&receive_dir, ""),
            cert = certs.server_cert.display(),
            key = certs.server_key.display(),
            received = received.display(),
        ),
    );
    receiver.wait_for_log("Starting hekad");
    let ca = certs.ca.display().to_string();
    let curl = |url: &str| {
        Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                &ca,
            ])
            .args(["--data-binary", "via curl\n", url])
            .output()
            .expect("curl")
    };
    let out = curl(&format!("https://localhost:{port}/ingest"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    let out = curl(&format!("http://127.0.0.1:{port}/ingest"));
    assert_ne!(String::from_utf8_lossy(&out.stdout), "200");
    receiver.wait_for_report("TlsRefusedCount: 1");

    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    std::fs::write(logs.join("app.log"), "one\ntwo\nthree\n").expect("log");
    let send_dir = dir.join("send");
    std::fs::create_dir_all(&send_dir).expect("dir");
    let polled = dir.join("polled.pb");
    let sender = Hekad::start(
        &send_dir,
        &format!(
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
address = "https://localhost:{port}/ingest"
encoder = "PayloadEncoder"
[ship.tls]
root_cafile = "{ca}"

[poll]
type = "HttpInput"
url = "https://127.0.0.1:{port}/status"
ticker_interval = 1
[poll.tls]
root_cafile = "{ca}"

[ProtobufEncoder]

[polled]
type = "FileOutput"
message_matcher = "Type == 'heka.httpinput.data'"
path = "{polled}"
encoder = "ProtobufEncoder"
"#,
            globals = globals(&send_dir, ""),
            logs = logs.display(),
            polled = polled.display(),
        ),
    );
    let got = wait_for_lines(&receiver, &received, 4);
    assert_eq!(got, ["via curl", "one", "two", "three"]);
    // A poll over https by IP address: the response became a message.
    common::wait_for_messages(&sender, &polled, 1);
    let (status, stderr) = sender.terminate();
    assert!(status.success(), "{stderr}");
    let (status, stderr) = receiver.terminate();
    assert!(status.success(), "{stderr}");
}

/// A shipper the receiver refuses (no client certificate; TLS 1.3 tells it only after
/// the handshake, once its first lines are on the wire and TCP-acknowledged) keeps those
/// lines and says why; given its certificate, it delivers every one.
#[test]
fn lines_sent_to_a_server_that_refused_the_client_are_kept_and_delivered_later() {
    let lines: String = (0..200).map(|i| format!("line {i}\n")).collect();
    let pair = Pair::start("tls-refused-shipper", &lines);
    let (certs, received, receiver) = (&pair.certs, &pair.received, &pair.receiver);
    let shipper_config = |client: &str| {
        format!(
            "use_tls = true\n[Ship.tls]\nroot_cafile = \"{}\"\n{client}",
            certs.ca.display()
        )
    };
    let shipper = pair.shipper(&shipper_config(""));
    shipper.wait_for_log("received fatal alert: CertificateRequired");
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    assert!(!received.exists() || std::fs::read_to_string(received).expect("read").is_empty());

    let with_cert = format!(
        "cert_file = \"{}\"\nkey_file = \"{}\"\n",
        certs.client_cert.display(),
        certs.client_key.display()
    );
    let shipper = pair.shipper(&shipper_config(&with_cert));
    let got = wait_for_lines(receiver, received, 200);
    assert_eq!(got.join("\n") + "\n", lines);
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    let (status, stderr) = pair.receiver.terminate();
    assert!(status.success(), "{stderr}");
}
