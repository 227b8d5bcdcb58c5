//! AMQP end to end with a real RabbitMQ (Debian's `rabbitmq-server`, installed by
//! `scripts/test`), started for this file on 127.0.0.1 with its own ports, node name and
//! data directory, and a TLS listener that requires client certificates (made by
//! `openssl`, tests/common/certs.rs).
//!
//! hekad A tails a file and publishes its lines over TLS (AMQPOutput, persistent, durable
//! exchange); hekad B consumes them (AMQPInput, durable queue) into a file. The broker is
//! stopped and started again mid-stream, then B is killed with SIGKILL and started again:
//! every numbered line arrives (some may arrive twice: at-least-once).

mod common;

use common::{certs, free_port, scratch_dir, Hekad};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A RabbitMQ node of this test: plain AMQP on `port`, AMQPS on `tls_port`.
struct Rabbit {
    dir: PathBuf,
    port: u16,
    tls_port: u16,
    node: String,
    child: Option<Child>,
}

impl Rabbit {
    fn start(dir: &Path, certs: &certs::Certs) -> Rabbit {
        let (port, tls_port) = (free_port(), free_port());
        std::fs::create_dir_all(dir).expect("rabbit dir");
        let conf = format!(
            "listeners.tcp.default = 127.0.0.1:{port}\n\
             listeners.ssl.default = 127.0.0.1:{tls_port}\n\
             ssl_options.cacertfile = {}\nssl_options.certfile = {}\n\
             ssl_options.keyfile = {}\nssl_options.verify = verify_peer\n\
             ssl_options.fail_if_no_peer_cert = true\n",
            certs.ca.display(),
            certs.server_cert.display(),
            certs.server_key.display()
        );
        std::fs::write(dir.join("rabbitmq.conf"), conf).expect("rabbitmq.conf");
        std::fs::write(dir.join("enabled_plugins"), "[].\n").expect("enabled_plugins");
        let mut rabbit = Rabbit {
            dir: dir.to_owned(),
            port,
            tls_port,
            node: format!("hekad-test-{}@localhost", std::process::id()),
            child: None,
        };
        rabbit.run();
        rabbit
    }

    /// Starts the node and waits (bounded) until it takes connections.
    fn run(&mut self) {
        let d = &self.dir;
        let child = Command::new(RABBITMQ_SERVER)
            .env("HOME", d)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_PID_FILE", d.join("pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the script's Erlang VM is stopped with it.
            .process_group(0)
            .spawn()
            .expect("start rabbitmq-server (scripts/test installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        for port in [self.port, self.tls_port] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "rabbitmq-server did not listen on {port}; see {}/log",
                    d.display()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Stops the node as a service stop does (SIGTERM to the script and the VM) and
    /// waits for it; SIGKILL after 30 s.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = -(child.id() as i32);
            unsafe { libc::kill(group, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            unsafe { libc::kill(group, libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/", self.port)
    }

    fn tls_url(&self) -> String {
        format!("amqps://guest:guest@localhost:{}/", self.tls_port)
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.stop();
    }
}

/// hekad A: tails `dir/logs/app.log`, publishes each line to the `lines` exchange over
/// TLS with its client certificate.
fn publisher_config(dir: &Path, rabbit: &Rabbit, certs: &certs::Certs) -> String {
    format!(
        "[hekad]\nbase_dir = \"{d}/a\"\n\
         [app]\ntype = \"LogstreamerInput\"\nlog_directory = \"{d}/logs\"\n\
         file_match = 'app\\.log'\n\
         [amqp]\ntype = \"AMQPOutput\"\nmessage_matcher = \"TRUE\"\nurl = \"{url}\"\n\
         exchange = \"lines\"\nexchange_type = \"fanout\"\nexchange_durability = true\n\
         exchange_auto_delete = false\npersistent = true\n\
         [amqp.tls]\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\nroot_cafile = \"{ca}\"\n",
        d = dir.display(),
        url = rabbit.tls_url(),
        cert = certs.client_cert.display(),
        key = certs.client_key.display(),
        ca = certs.ca.display(),
    )
}

/// hekad B: consumes the durable queue bound to `lines` into `dir/received.log`.
fn consumer_config(dir: &Path, rabbit: &Rabbit) -> String {
    format!(
        "[hekad]\nbase_dir = \"{d}/b\"\n\
         [from_rabbit]\ntype = \"AMQPInput\"\nurl = \"{url}\"\nexchange = \"lines\"\n\
         exchange_type = \"fanout\"\nexchange_durability = true\n\
         exchange_auto_delete = false\nqueue = \"hekad-lines\"\nqueue_durability = true\n\
         queue_auto_delete = false\nprefetch_count = 50\n\
         splitter = \"HekaFramingSplitter\"\ndecoder = \"ProtobufDecoder\"\n\
         [received]\ntype = \"FileOutput\"\nmessage_matcher = \"Logger == 'app'\"\n\
         path = \"{d}/received.log\"\nencoder = \"lines\"\n\
         [lines]\ntype = \"PayloadEncoder\"\nappend_newlines = false\n",
        d = dir.display(),
        url = rabbit.url(),
    )
}

/// Appends lines `from..to` (`line <n>`) to the tailed file.
fn write_lines(path: &Path, from: usize, to: usize) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("app.log");
    let text: String = (from..to).map(|n| format!("line {n}\n")).collect();
    file.write_all(text.as_bytes()).expect("write lines");
}

/// How many times each line arrived.
fn received(path: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(path).unwrap_or_default().lines() {
        *counts.entry(line.to_owned()).or_insert(0) += 1;
    }
    counts
}

/// Waits (bounded) until every line below `n` arrived; returns the counts.
fn wait_for_all(path: &Path, n: usize, logs: &[&Hekad]) -> BTreeMap<String, usize> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let counts = received(path);
        let missing = (0..n)
            .filter(|i| !counts.contains_key(&format!("line {i}")))
            .count();
        if missing == 0 {
            return counts;
        }
        if Instant::now() > deadline {
            let stderr: Vec<String> = logs.iter().map(|h| h.stderr_text()).collect();
            panic!(
                "{missing} of {n} lines never arrived; logs:\n{}",
                stderr.join("\n---\n")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn lines_cross_rabbitmq_over_tls_through_a_broker_restart_and_a_consumer_kill() {
    let dir = scratch_dir("amqp");
    let certs = certs::make(&dir.join("certs"));
    let mut rabbit = Rabbit::start(&dir.join("rabbit"), &certs);
    std::fs::create_dir_all(dir.join("logs")).expect("logs");
    let app_log = dir.join("logs/app.log");
    let received_log = dir.join("received.log");
    std::fs::create_dir_all(dir.join("hb")).expect("hb");
    let mut consumer = Hekad::start(&dir.join("hb"), &consumer_config(&dir, &rabbit));
    consumer.wait_for_log("Input 'from_rabbit' (AMQPInput)");
    std::fs::create_dir_all(dir.join("ha")).expect("ha");
    let publisher = Hekad::start(&dir.join("ha"), &publisher_config(&dir, &rabbit, &certs));

    // The queue is declared by the consumer: wait for the first lines to cross.
    write_lines(&app_log, 0, 2_000);
    wait_for_all(&received_log, 2_000, &[&publisher, &consumer]);

    // The broker stops mid-stream and comes back; lines written meanwhile wait in hekad.
    write_lines(&app_log, 2_000, 4_000);
    rabbit.stop();
    write_lines(&app_log, 4_000, 6_000);
    rabbit.run();
    write_lines(&app_log, 6_000, 8_000);
    wait_for_all(&received_log, 8_000, &[&publisher, &consumer]);

    // The consumer dies without a goodbye: what it had not finished is delivered again.
    write_lines(&app_log, 8_000, 12_000);
    unsafe { libc::kill(consumer.child.id() as i32, libc::SIGKILL) };
    let _ = consumer.child.wait();
    consumer = Hekad::start(&dir.join("hb"), &consumer_config(&dir, &rabbit));
    write_lines(&app_log, 12_000, 14_000);
    let counts = wait_for_all(&received_log, 14_000, &[&publisher, &consumer]);

    let twice: usize = counts.values().map(|c| c - 1).sum();
    println!("AMQP: 14000 lines, 0 lost, {twice} delivered twice");
    assert!(
        counts.keys().all(|line| line.starts_with("line ")),
        "only the lines written arrive"
    );
    let (status, _) = publisher.terminate();
    assert!(status.success());
    let (status, _) = consumer.terminate();
    assert!(status.success());
}

#[test]
fn a_bad_amqp_section_reports_every_error_at_once() {
    let dir = scratch_dir("amqp-config");
    let config = "[in]\ntype = \"AMQPInput\"\nexchange = \"x\"\nexchange_type = \"fan\"\n\
                  queue_ttl = -5\n\
                  [out]\ntype = \"AMQPOutput\"\nmessage_matcher = \"TRUE\"\n\
                  url = \"http://broker/\"\n";
    let path = dir.join("hekad.toml");
    std::fs::write(&path, config).expect("config");
    let output = Command::new(env!("CARGO_BIN_EXE_hekad"))
        .args(["-test", &format!("-config={}", path.display())])
        .output()
        .expect("hekad -test");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "[in] url: expected an AMQP URL such as",
        "not set (required)",
        "[in] exchange_type: expected \"direct\", \"fanout\", \"topic\", \"headers\"",
        "got \"fan\"",
        "[in] queue_ttl: expected milliseconds (0 or more) or -1 for none, got -5",
        "[out] url: expected an AMQP URL, got \"http://broker/\"",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in:\n{stderr}");
    }
}
