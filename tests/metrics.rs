//! Metrics end to end with real peers: Python's `statsd` client (python3-statsd) sends to
//! StatsdInput over UDP and TCP, StatAccumInput aggregates, CarbonOutput ships to
//! Graphite's `carbon-cache` (graphite-carbon) over TCP and UDP, and the values are read
//! back from carbon's whisper files (python3-whisper). `scripts/test` installs the
//! packages; one carbon-cache is started for this file.

mod common;

use common::{free_port, globals, scratch_dir, Hekad};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Python, which has the packages' modules.
const PYTHON: &str = "/usr/bin/python3";

/// A carbon-cache in the foreground with its own config, storage and ports.
struct Carbon {
    child: Child,
    tcp_port: u16,
    udp_port: u16,
    whisper: std::path::PathBuf,
}

impl Carbon {
    fn start(dir: &Path) -> Carbon {
        Carbon::start_on(dir, free_port())
    }

    /// Starts carbon with its line receiver on `tcp_port`.
    fn start_on(dir: &Path, tcp_port: u16) -> Carbon {
        let (pickle, query) = (free_port(), free_port());
        let udp_port = free_port();
        let d = dir.display();
        let conf = format!(
            "[cache]\nSTORAGE_DIR = {d}/storage\nLOCAL_DATA_DIR = {d}/storage/whisper\n\
             WHITELISTS_DIR = {d}/lists\nCONF_DIR = {d}\nLOG_DIR = {d}/log\nPID_DIR = {d}\n\
             LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {tcp_port}\n\
             ENABLE_UDP_LISTENER = True\nUDP_RECEIVER_INTERFACE = 127.0.0.1\n\
             UDP_RECEIVER_PORT = {udp_port}\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
             PICKLE_RECEIVER_PORT = {pickle}\nCACHE_QUERY_INTERFACE = 127.0.0.1\n\
             CACHE_QUERY_PORT = {query}\nMAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = inf\n\
             MAX_CREATES_PER_MINUTE = inf\n"
        );
        std::fs::write(dir.join("carbon.conf"), conf).expect("carbon.conf");
        std::fs::write(
            dir.join("storage-schemas.conf"),
            "[all]\npattern = .*\nretentions = 1s:1h\n",
        )
        .expect("schemas");
        std::fs::write(
            dir.join("storage-aggregation.conf"),
            "[all]\npattern = .*\nxFilesFactor = 0\naggregationMethod = last\n",
        )
        .expect("aggregation");
        let child = Command::new("carbon-cache")
            .arg(format!("--config={d}/carbon.conf"))
            .args(["--nodaemon", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("carbon-cache (Debian graphite-carbon; scripts/test installs it)");
        let carbon = Carbon {
            child,
            tcp_port,
            udp_port,
            whisper: dir.join("storage/whisper"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", tcp_port)).is_err() {
            assert!(Instant::now() < deadline, "carbon-cache did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        carbon
    }

    /// Every non-empty point of metric `name` (dotted), by Unix second.
    fn points(&self, name: &str) -> BTreeMap<i64, f64> {
        let path = self.whisper.join(name.replace('.', "/") + ".wsp");
        if !path.exists() {
            return BTreeMap::new();
        }
        let script = format!(
            "import whisper, time\n\
             (start, end, step), values = whisper.fetch('{}', time.time() - 3000, time.time() + 10)\n\
             for i, v in enumerate(values):\n    \
                 if v is not None: print(start + i * step, v)\n",
            path.display()
        );
        let out = Command::new(PYTHON)
            .args(["-c", &script])
            .output()
            .expect("python3-whisper");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (t, v) = l.split_once(' ')?;
                Some((t.parse().ok()?, v.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Carbon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs Python code with the statsd client module imported.
fn python_statsd(code: &str) {
    let status = Command::new(PYTHON)
        .args(["-c", &format!("import statsd\n{code}")])
        .status()
        .expect("python3");
    assert!(status.success(), "statsd client failed");
}

/// The graphite lines hekad sent, from the payload copies it wrote to `path`:
/// (name, second) => value (the last one sent for that second, as whisper keeps).
fn sent_lines(path: &Path) -> BTreeMap<(String, i64), f64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?.to_owned();
            let value = parts.next()?.parse().ok()?;
            let time = parts.next()?.parse().ok()?;
            Some(((name, time), value))
        })
        .collect()
}

fn total(sent: &BTreeMap<(String, i64), f64>, name: &str) -> f64 {
    sent.iter()
        .filter(|((n, _), _)| n == name)
        .map(|(_, v)| v)
        .sum()
}

fn last(sent: &BTreeMap<(String, i64), f64>, name: &str) -> Option<f64> {
    sent.iter().rfind(|((n, _), _)| n == name).map(|(_, v)| *v)
}

/// statsd clients -> hekad -> carbon-cache -> whisper: the aggregates hekad computed are
/// the expected ones, and every value it sent is the one carbon stored.
#[test]
fn statsd_clients_to_carbon_over_tcp_and_udp() {
    let dir = scratch_dir("metrics-carbon");
    let carbon = Carbon::start(&dir.join("carbon").tap_mkdir());
    let (statsd_udp, statsd_tcp) = (free_port(), free_port());
    let (tcp_sent, udp_sent) = (dir.join("tcp_sent.txt"), dir.join("udp_sent.txt"));
    let config = format!(
        r#"{globals}
[StatsdInput]
address = "127.0.0.1:{statsd_udp}"

[StatAccumInput]
ticker_interval = 1

[CarbonOutput]
message_matcher = "Type == 'heka.statmetric'"
address = "127.0.0.1:{tcp}"

[statsd_tcp]
type = "StatsdInput"
net = "tcp"
address = "127.0.0.1:{statsd_tcp}"
stat_accum_name = "udp_accum"

[udp_accum]
type = "StatAccumInput"
ticker_interval = 1
global_prefix = "viaudp"
message_type = "statmetric.udp"

[carbon_udp]
type = "CarbonOutput"
message_matcher = "Type == 'statmetric.udp'"
address = "127.0.0.1:{udp}"
protocol = "udp"

[PayloadEncoder]
append_newlines = false

[tcp_copy]
type = "FileOutput"
message_matcher = "Type == 'heka.statmetric'"
path = "{tcp_sent}"
encoder = "PayloadEncoder"

[udp_copy]
type = "FileOutput"
message_matcher = "Type == 'statmetric.udp'"
path = "{udp_sent}"
encoder = "PayloadEncoder"
"#,
        globals = globals(&dir, ""),
        tcp = carbon.tcp_port,
        udp = carbon.udp_port,
        tcp_sent = tcp_sent.display(),
        udp_sent = udp_sent.display(),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    python_statsd(&format!(
        "c = statsd.StatsClient('127.0.0.1', {statsd_udp})\n\
         for i in range(100): c.incr('web.hits')\n\
         for v in (10, 20, 30, 40): c.timing('web.rt', v)\n\
         c.gauge('room.temp', 20)\n\
         c.gauge('room.temp', -3, delta=True)\n\
         for u in ('ann', 'bob', 'ann'): c.set('web.users', u)\n\
         t = statsd.TCPStatsClient('127.0.0.1', {statsd_tcp})\n\
         for i in range(7): t.incr('jobs.done', 3)\n\
         t.gauge('queue.depth', 42)\n\
         t.close()\n"
    ));
    // Sampled counters as a client sends them when it kept 1 in 4.
    let raw = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..5 {
        raw.send_to(b"web.sampled:2|c|@0.25", ("127.0.0.1", statsd_udp))
            .expect("send");
    }

    // Bounded wait until hekad has sent every aggregate and carbon stored them.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let tcp = sent_lines(&tcp_sent);
        let udp = sent_lines(&udp_sent);
        let done = total(&tcp, "stats.counters.web.hits.count") == 100.0
            && total(&tcp, "stats.counters.web.sampled.count") == 40.0
            && total(&tcp, "stats.timers.web.rt.count") == 4.0
            && total(&udp, "viaudp.counters.jobs.done.count") == 21.0
            && last(&tcp, "stats.gauges.room.temp") == Some(17.0)
            && last(&udp, "viaudp.gauges.queue.depth") == Some(42.0);
        // Gauges and timers are sent again every interval: every point sent so far must be
        // stored at one moment (a point sent just now may not be yet: look again).
        let stored = done
            && [
                (&tcp, "stats.counters.web.hits.count"),
                (&udp, "viaudp.counters.jobs.done.count"),
                (&tcp, "stats.timers.web.rt.upper"),
                (&tcp, "stats.gauges.room.temp"),
                (&tcp, "stats.sets.web.users.count"),
            ]
            .iter()
            .all(|(sent, name)| {
                let points = carbon.points(name);
                sent.iter()
                    .filter(|((n, _), _)| n == name)
                    .all(|((_, t), v)| points.get(t) == Some(v))
            });
        if stored {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "aggregates not sent and stored; sent over TCP:\n{tcp:?}\nover UDP:\n{udp:?}\nstderr:\n{}",
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let tcp = sent_lines(&tcp_sent);
    // The timer interval that saw the four values: Heka's stats of them.
    let (_, rt_second) = tcp
        .iter()
        .find(|((n, _), v)| n == "stats.timers.web.rt.count" && **v == 4.0)
        .map(|((n, t), _)| (n.clone(), *t))
        .expect("one interval has all four timings");
    let rt = |stat: &str| {
        tcp.get(&(format!("stats.timers.web.rt.{stat}"), rt_second))
            .copied()
    };
    assert_eq!(rt("lower"), Some(10.0));
    assert_eq!(rt("upper"), Some(40.0));
    assert_eq!(rt("sum"), Some(100.0));
    assert_eq!(rt("mean"), Some(25.0));
    assert_eq!(rt("upper_90"), Some(40.0));
    // Sets count distinct members per interval.
    assert_eq!(total(&tcp, "stats.sets.web.users.count"), 2.0);
    let (status, _) = hekad.terminate();
    assert!(status.success());
}

/// Bad lines are counted and logged with the sender; fields mode carries Heka's typed
/// fields and the `timestamp` field.
#[test]
fn bad_statsd_lines_are_counted_and_fields_mode_types_values() {
    let dir = scratch_dir("metrics-fields");
    let port = free_port();
    let out = dir.join("out.pb");
    let config = format!(
        r#"{globals}
[StatsdInput]
address = "127.0.0.1:{port}"

[StatAccumInput]
ticker_interval = 1
emit_in_payload = false
emit_in_fields = true

[ProtobufEncoder]

[out]
type = "FileOutput"
message_matcher = "Type == 'heka.statmetric' && Fields[stats.counters.a.count] > 0"
path = "{out}"
encoder = "ProtobufEncoder"
"#,
        globals = globals(&dir, ""),
        out = out.display(),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let sender = socket.local_addr().expect("addr").to_string();
    socket
        .send_to(b"a:5|c\nnot a metric\nb:1.5|ms\nc:x|c", ("127.0.0.1", port))
        .expect("send");
    let messages = common::wait_for_messages(&hekad, &out, 1);
    let msg = &messages[0];
    let field = |name: &str| msg.fields.iter().find(|f| f.name == name.as_bytes());
    assert_eq!(
        field("stats.counters.a.count").map(|f| f.value_integer.clone()),
        Some(vec![5])
    );
    assert_eq!(
        field("stats.counters.a.rate").map(|f| f.value_double.clone()),
        Some(vec![5.0])
    );
    assert_eq!(
        field("stats.timers.b.mean").map(|f| f.value_double.clone()),
        Some(vec![1.5])
    );
    assert!(field("timestamp").is_some_and(|f| f.value_integer[0] > 1_700_000_000));
    assert_eq!(msg.payload.as_deref(), Some(&b""[..]));
    hekad.wait_for_log(&format!(
        "can't parse message from {sender}: no ':' after the bucket: \"not a metric\""
    ));
    hekad.wait_for_report("ProcessMessageFailures: 2");
    hekad.wait_for_report("KernelDropCount: 0");
}

/// At-least-once over TCP: with `use_buffering = true` CarbonOutput queues on disk while
/// carbon is down, keeps the queue across a hekad restart, and once carbon comes up every
/// line read from the tailed file is stored.
#[test]
fn carbon_down_then_up_loses_no_line_with_disk_buffering() {
    let dir = scratch_dir("metrics-carbon-down");
    let logs = dir.join("logs").tap_mkdir();
    let carbon_port = free_port();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    // One point per second, every one distinct, inside carbon's one-hour retention.
    let first = now - 900;
    let write_points = |range: std::ops::Range<i64>| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join("graphite.log"))
            .expect("log");
        for i in range {
            writeln!(f, "buffered.seq {i} {}", first + i).expect("write");
        }
    };
    let config = format!(
        r#"{globals}
[Graphite]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'graphite\.log'

[CarbonOutput]
message_matcher = "Logger == 'Graphite'"
address = "127.0.0.1:{carbon_port}"
use_buffering = true
"#,
        globals = globals(&dir, ""),
        logs = logs.display(),
    );
    let journal = dir.join("cache/logstreamer/Graphite");
    let read_all = |hekad: &Hekad| {
        let size = std::fs::metadata(logs.join("graphite.log"))
            .expect("log")
            .len();
        let deadline = Instant::now() + Duration::from_secs(30);
        let seek = || {
            let text = std::fs::read_to_string(&journal).unwrap_or_default();
            let after = text.split("\"seek\":").nth(1).unwrap_or("");
            let digits = after
                .trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next();
            digits.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)
        };
        while seek() < size {
            assert!(
                Instant::now() < deadline,
                "journal never reached {size}: {}",
                hekad.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    // Carbon down: hekad reads every line and holds them in its disk queue.
    write_points(0..300);
    let hekad = Hekad::start(&dir, &config);
    read_all(&hekad);
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");

    // Restarted while carbon is still down, with more lines to read.
    write_points(300..500);
    let hekad = Hekad::start(&dir, &config);
    read_all(&hekad);

    // Carbon up: everything queued arrives, each point with its value.
    let carbon = Carbon::start_on(&dir.join("carbon").tap_mkdir(), carbon_port);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let points = carbon.points("buffered.seq");
        let missing: Vec<i64> = (0..500)
            .filter(|i| points.get(&(first + i)) != Some(&(*i as f64)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} points missing, first {:?}; stderr:\n{}",
            missing.len(),
            &missing[..missing.len().min(10)],
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).expect("mkdir");
        self
    }
}

/// StatFilter turns messages into stats by templates (here: FilePollingInput's messages,
/// counted by the file they came from, with their size as a timer), and
/// StatsToFieldsDecoder turns graphite lines back into fields, a message per timestamp.
#[test]
fn stat_filter_templates_and_stats_to_fields() {
    let dir = scratch_dir("metrics-statfilter");
    let polled = dir.join("status.txt");
    std::fs::write(&polled, "12.5").expect("write");
    let graphite = dir.join("graphite.txt");
    std::fs::write(
        &graphite,
        "a.b 1.5 1700000000\nc 2 1700000000\nd 3 1700000060\n",
    )
    .expect("write");
    let (stats_out, fields_out) = (dir.join("stats.txt"), dir.join("fields.pb"));
    let config = format!(
        r#"{globals}
[status]
type = "FilePollingInput"
ticker_interval = 1
file_path = "{polled}"

[counter]
type = "StatFilter"
message_matcher = "Type == 'heka.file.polling' && Logger == 'status'"

[counter.Metric.polls]
type = "Counter"
name = "polls.%Logger%.%Hostname%"
value = "1"
replace_dot = true

[counter.Metric.level]
type = "Gauge"
name = "level.%Logger%"
value = "%Payload%"

[StatAccumInput]
ticker_interval = 1

[PayloadEncoder]

[stats]
type = "FileOutput"
message_matcher = "Type == 'heka.statmetric'"
path = "{stats_out}"
encoder = "PayloadEncoder"

[lines]
type = "FilePollingInput"
ticker_interval = 1
file_path = "{graphite}"
decoder = "StatsToFieldsDecoder"

[StatsToFieldsDecoder]

[ProtobufEncoder]

[fields]
type = "FileOutput"
message_matcher = "Logger == 'lines'"
path = "{fields_out}"
encoder = "ProtobufEncoder"
"#,
        globals = globals(&dir, "hostname = \"edge.example\""),
        polled = polled.display(),
        stats_out = stats_out.display(),
        graphite = graphite.display(),
        fields_out = fields_out.display(),
    );
    let hekad = Hekad::start(&dir, &config);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent = sent_lines(&stats_out);
        if total(&sent, "stats.counters.polls.status.edge_example.count") >= 2.0
            && last(&sent, "stats.gauges.level.status") == Some(12.5)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{sent:?}\n{}",
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let messages = common::wait_for_messages(&hekad, &fields_out, 2);
    let fields = |m: &hekad::message::Message| -> Vec<(String, f64)> {
        m.fields
            .iter()
            .map(|f| {
                let name = String::from_utf8_lossy(&f.name).into_owned();
                let value = f
                    .value_double
                    .first()
                    .copied()
                    .or(f.value_integer.first().map(|&i| i as f64))
                    .unwrap_or(f64::NAN);
                (name, value)
            })
            .collect()
    };
    let first = fields(&messages[0]);
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["TickerInterval", "FilePath", "a.b", "c", "timestamp"]
    );
    assert_eq!(
        &first[2..],
        [
            ("a.b".to_owned(), 1.5),
            ("c".to_owned(), 2.0),
            ("timestamp".to_owned(), 1_700_000_000.0)
        ]
    );
    assert_eq!(
        fields(&messages[1]),
        [
            ("d".to_owned(), 3.0),
            ("timestamp".to_owned(), 1_700_000_060.0)
        ]
    );
}

/// config/statsd.toml as shipped (ports, base_dir and interval pointed elsewhere): metrics
/// over UDP and TCP arrive at a carbon-like listener as graphite lines.
#[test]
fn shipped_statsd_config_runs() {
    let dir = scratch_dir("metrics-shipped");
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/statsd.toml"))
            .expect("config/statsd.toml");
    let carbon = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let carbon_port = carbon.local_addr().expect("addr").port();
    let statsd = free_port();
    let config = shipped
        .replace("127.0.0.1:8125", &format!("127.0.0.1:{statsd}"))
        .replace("127.0.0.1:2003", &format!("127.0.0.1:{carbon_port}"))
        .replace("/tmp/hekad-statsd", &dir.join("base").display().to_string())
        .replace("ticker_interval = 10", "ticker_interval = 1");
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    udp.send_to(b"shipped.udp:2|c", ("127.0.0.1", statsd))
        .expect("send");
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", statsd)).expect("connect");
    std::io::Write::write_all(&mut tcp, b"shipped.tcp:5|c\n").expect("send");
    drop(tcp);
    let (conn, _) = carbon.accept().expect("carbon connection");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut seen = String::new();
    let mut reader = std::io::BufReader::new(conn);
    while !(seen.contains("stats.counters.shipped.udp.count 2 ")
        && seen.contains("stats.counters.shipped.tcp.count 5 "))
    {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut reader, &mut line).expect("read");
        assert!(
            n > 0,
            "carbon connection closed; got:\n{seen}\n{}",
            hekad.stderr_text()
        );
        seen.push_str(&line);
    }
}
