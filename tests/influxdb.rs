//! hekad -> InfluxDB with the real server (Debian's influxdb 1.6, `influxd`, started on
//! 127.0.0.1 with its own config; `scripts/test` installs it): HttpOutput carrying the
//! native InfluxLineEncoder (statsd aggregates in fields mode, SystemStatsInput's messages)
//! and the stock `schema_influx_line.lua` SandboxEncoder (decoded /proc/loadavg text),
//! read back with InfluxQL queries.

mod common;

use common::{free_port, globals, scratch_dir, Hekad};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's Python, for HTTP queries without other tools.
const PYTHON: &str = "/usr/bin/python3";

struct Influxd {
    child: Child,
    port: u16,
}

impl Influxd {
    fn start(dir: &Path) -> Influxd {
        let (port, rpc) = (free_port(), free_port());
        let d = dir.display();
        let conf = format!(
            "bind-address = \"127.0.0.1:{rpc}\"\nreporting-disabled = true\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n"
        );
        std::fs::create_dir_all(dir).expect("dir");
        std::fs::write(dir.join("influxdb.conf"), conf).expect("conf");
        let child = Command::new("influxd")
            .arg("-config")
            .arg(dir.join("influxdb.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("influxd (Debian influxdb; scripts/test installs it)");
        let server = Influxd { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.query("SHOW DATABASES").is_none() {
            assert!(Instant::now() < deadline, "influxd did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    /// The JSON answer to an InfluxQL statement, or None if the server did not answer.
    fn query(&self, q: &str) -> Option<String> {
        let script = format!(
            "import sys, urllib.request, urllib.parse\n\
             data = urllib.parse.urlencode({{'q': sys.argv[1], 'db': 'metrics'}}).encode()\n\
             print(urllib.request.urlopen('http://127.0.0.1:{}/query', data, timeout=5).read().decode())\n",
            self.port
        );
        let out = Command::new(PYTHON)
            .args(["-c", &script, q])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The single value of a one-row query answer (`"values":[["<time>",VALUE]]`).
fn single_value(answer: &str) -> Option<f64> {
    let values = answer.split("\"values\":[[").nth(1)?;
    let row = values.split("]]").next()?;
    row.split(',').nth(1)?.parse().ok()
}

#[test]
fn statsd_aggregates_system_metrics_and_decoded_proc_text_reach_influxdb() {
    let dir = scratch_dir("influxdb");
    let influx = Influxd::start(&dir.join("influxdb"));
    influx
        .query("CREATE DATABASE metrics")
        .expect("create database");
    let statsd = free_port();
    let loadavg = dir.join("loadavg");
    std::fs::write(&loadavg, "0.52 0.58 0.59 2/1234 56789\n").expect("loadavg");
    let config = format!(
        r#"{globals}
[StatsdInput]
address = "127.0.0.1:{statsd}"

[StatAccumInput]
ticker_interval = 1
emit_in_payload = false
emit_in_fields = true

[influx_line]
type = "InfluxLineEncoder"
tag_fields = ["Hostname", "Logger"]

[influx_native]
type = "HttpOutput"
message_matcher = "Type == 'heka.statmetric'"
address = "http://127.0.0.1:{port}/write?db=metrics"
encoder = "influx_line"
http_timeout = 5000

[load]
type = "FilePollingInput"
ticker_interval = 1
file_path = "{loadavg}"
decoder = "LoadAvgDecoder"

[LoadAvgDecoder]
type = "SandboxDecoder"
filename = "lua_decoders/linux_loadavg.lua"

[influx_schema]
type = "SandboxEncoder"
filename = "lua_encoders/schema_influx_line.lua"

[influx_schema.config]
skip_fields = "**all_base** FilePath NumProcesses"
tag_fields = "Hostname"
timestamp_precision = "s"

[SystemStats]
type = "SystemStatsInput"
ticker_interval = 1

[system_lines]
type = "InfluxLineEncoder"
tag_fields = ["Hostname", "FilePath", "netdevice", "mountpoint", "device", "fstype", "process"]
skip_fields = ["TickerInterval"]
timestamp_precision = "s"

[influx_system]
type = "HttpOutput"
message_matcher = "Logger == 'SystemStats'"
address = "http://127.0.0.1:{port}/write?db=metrics&precision=s"
encoder = "system_lines"

[influx_lua]
type = "HttpOutput"
message_matcher = "Type == 'stats.loadavg'"
address = "http://127.0.0.1:{port}/write?db=metrics&precision=s"
encoder = "influx_schema"
"#,
        globals = globals(&dir, "hostname = \"router-1\""),
        port = influx.port,
        loadavg = loadavg.display(),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..25 {
        socket
            .send_to(b"web.hits:4|c\nweb.rt:12.5|ms", ("127.0.0.1", statsd))
            .expect("send");
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    let (hits, rt, load) = loop {
        let hits = influx
            .query("SELECT sum(\"stats.counters.web.hits.count\") FROM \"heka.statmetric\" WHERE \"Hostname\" = 'router-1' AND \"Logger\" = 'StatAccumInput'")
            .and_then(|a| single_value(&a));
        let rt = influx
            .query("SELECT max(\"stats.timers.web.rt.upper\") FROM \"heka.statmetric\"")
            .and_then(|a| single_value(&a));
        let load = influx
            .query("SELECT last(value) FROM \"1MinAvg\" WHERE \"Hostname\" = 'router-1'")
            .and_then(|a| single_value(&a));
        if hits == Some(100.0) && rt.is_some() && load.is_some() {
            break (hits, rt, load);
        }
        assert!(
            Instant::now() < deadline,
            "InfluxDB has hits {hits:?}, rt {rt:?}, load {load:?}; stderr:\n{}",
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(hits, Some(100.0));
    assert_eq!(rt, Some(12.5));
    assert_eq!(load, Some(0.52));
    // The 5 min average went to its own measurement; the skipped fields did not.
    let five = influx
        .query("SELECT last(value) FROM \"5MinAvg\"")
        .and_then(|a| single_value(&a));
    assert_eq!(five, Some(0.58));
    // This machine's system metrics, natively encoded: memory and the loopback interface.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mem = influx
            .query(
                "SELECT last(\"MemTotal\") FROM \"stats.memstats\" WHERE \"Hostname\" = 'router-1'",
            )
            .and_then(|a| single_value(&a));
        let lo = influx
            .query(
                "SELECT last(\"receive_bytes\") FROM \"stats.netdev\" WHERE \"netdevice\" = 'lo'",
            )
            .and_then(|a| single_value(&a));
        if mem.is_some_and(|m| m > 0.0) && lo.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no system metrics in InfluxDB: {mem:?} {lo:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let measurements = influx.query("SHOW MEASUREMENTS").expect("answer");
    assert!(!measurements.contains("NumProcesses"), "{measurements}");
    let (status, _) = hekad.terminate();
    assert!(status.success());
}
