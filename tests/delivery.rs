//! Fault tests of log shipping (issue 3): a numbered-line generator writes a log file, a
//! shipping hekad (LogstreamerInput -> disk-buffered TcpOutput) sends it to a receiving
//! hekad (TcpInput -> FileOutput), and a checker counts missing and duplicated line ids.
//! Every scenario must end with zero lines missing; duplicates are printed per scenario
//! (`scripts/test` runs this file with --nocapture) and recorded in docs/DELIVERY.md.

mod common;

use common::certs::Certs;
use common::{free_port, scratch_dir, Hekad, Scratch};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the generator rotates the log while it writes.
#[derive(Clone, Copy, PartialEq)]
enum Rotation {
    None,
    /// rename app.log -> app.log.N, then create a new app.log (logrotate's default).
    Create,
    /// copy app.log to app.log.N, then truncate app.log with the writer's fd still open.
    CopyTruncate,
}

/// Writes `line <id>` lines to `<dir>/logs/app.log` from a thread.
struct Generator {
    written: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const PAD: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit";

impl Generator {
    /// Writes `total` lines in bursts of `burst` with `pause` between bursts, rotating
    /// every `rotate_every` lines.
    fn start(
        logs: &Path,
        total: u64,
        burst: u64,
        pause: Duration,
        rotation: Rotation,
        rotate_every: u64,
    ) -> Generator {
        std::fs::create_dir_all(logs).expect("logs dir");
        let path = logs.join("app.log");
        let written = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (w, d) = (written.clone(), done.clone());
        let logs = logs.to_path_buf();
        let thread = std::thread::spawn(move || {
            let open = || {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .expect("open log")
            };
            let mut file = open();
            let mut rotations = 0u64;
            let mut out = Vec::new();
            for id in 0..total {
                writeln!(out, "line {id:08} {PAD}").expect("format");
                let end_of_burst = (id + 1) % burst == 0 || id + 1 == total;
                let rotate = rotation != Rotation::None && (id + 1) % rotate_every == 0;
                if end_of_burst || rotate {
                    file.write_all(&out).expect("write log");
                    out.clear();
                    w.store(id + 1, Ordering::SeqCst);
                }
                if rotate {
                    // logrotate's numbering: app.log.1 is the newest rotated file.
                    rotations += 1;
                    for n in (1..rotations).rev() {
                        let from = logs.join(format!("app.log.{n}"));
                        let to = logs.join(format!("app.log.{}", n + 1));
                        std::fs::rename(from, to).expect("shift rotated file");
                    }
                    let rotated = logs.join("app.log.1");
                    match rotation {
                        Rotation::Create => {
                            std::fs::rename(&path, &rotated).expect("rename");
                            file = open();
                        }
                        Rotation::CopyTruncate => {
                            std::fs::copy(&path, &rotated).expect("copy");
                            file.set_len(0).expect("truncate");
                        }
                        Rotation::None => {}
                    }
                }
                if end_of_burst {
                    std::thread::sleep(pause);
                }
            }
            d.store(true, Ordering::SeqCst);
        });
        Generator {
            written,
            done,
            thread: Some(thread),
        }
    }

    /// Writes without rotating.
    fn plain(logs: &Path, total: u64, burst: u64, pause: Duration) -> Generator {
        Generator::start(logs, total, burst, pause, Rotation::None, 0)
    }

    fn finish(mut self) -> u64 {
        if let Some(t) = self.thread.take() {
            t.join().expect("generator");
        }
        assert!(self.done.load(Ordering::SeqCst));
        self.written.load(Ordering::SeqCst)
    }
}

/// Missing, duplicated and reordered ids among `0..total` in the receiver's output.
#[derive(Debug)]
struct Check {
    received: u64,
    missing: Vec<u64>,
    duplicates: u64,
    /// Ids whose first copy arrived after the first copy of a higher id.
    out_of_order: u64,
}

fn check(received: &Path, total: u64) -> Check {
    let text = std::fs::read_to_string(received).unwrap_or_default();
    let mut seen = vec![0u32; total as usize];
    let mut lines = 0;
    let mut out_of_order = 0;
    let mut highest = None;
    for line in text.lines() {
        let Some(id) = line
            .strip_prefix("line ")
            .and_then(|l| l.get(..8))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        lines += 1;
        if let Some(count) = seen.get_mut(id as usize) {
            if *count == 0 && highest.is_some_and(|h| id < h) {
                out_of_order += 1;
            }
            *count += 1;
        }
        highest = highest.max(Some(id));
    }
    Check {
        received: lines,
        missing: (0..total).filter(|&i| seen[i as usize] == 0).collect(),
        duplicates: seen.iter().map(|&c| u64::from(c.saturating_sub(1))).sum(),
        out_of_order,
    }
}

/// Waits until every id arrived (bounded), then a moment more so duplicates land too.
fn wait_for_all(received: &Path, total: u64, timeout: Duration, logs: &[&Hekad]) -> Check {
    let deadline = Instant::now() + timeout;
    loop {
        let c = check(received, total);
        if c.missing.is_empty() {
            std::thread::sleep(Duration::from_millis(500));
            return check(received, total);
        }
        if Instant::now() > deadline {
            let stderr: Vec<String> = logs.iter().map(|h| h.stderr_text()).collect();
            panic!(
                "{} of {total} lines missing (first {:?}); logs:\n{}",
                c.missing.len(),
                &c.missing[..c.missing.len().min(10)],
                stderr.join("\n-----\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for every line, prints the scenario's figures and stops both hekads.
fn finish_scenario(s: &Setup, total: u64, scenario: &str, shipper: Hekad, receiver: Hekad) {
    receive_all(s, total, scenario, &shipper, &receiver);
    let _ = shipper.terminate();
    let _ = receiver.terminate();
}

/// Waits for every line and prints the scenario's figures.
fn receive_all(s: &Setup, total: u64, scenario: &str, shipper: &Hekad, receiver: &Hekad) -> Check {
    let c = wait_for_all(
        &s.received,
        total,
        Duration::from_secs(60),
        &[shipper, receiver],
    );
    report(scenario, total, &c);
    assert!(c.missing.is_empty());
    c
}

fn report(scenario: &str, total: u64, c: &Check) {
    println!(
        "DELIVERY {scenario}: lines {total}, received {}, missing {}, duplicates {}, out of order {}",
        c.received,
        c.missing.len(),
        c.duplicates,
        c.out_of_order
    );
}

/// The two hekads of one scenario.
struct Setup {
    dir: Scratch,
    port: u16,
    logs: PathBuf,
    received: PathBuf,
    /// Extra `[hekad]` lines of the shipper.
    ship_globals: String,
    /// Certificates when the two hekads talk TLS (client certificates verified).
    tls: Option<Certs>,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let dir = scratch_dir(name);
        Setup {
            port: free_port(),
            logs: dir.join("logs"),
            received: dir.join("received.log"),
            ship_globals: String::new(),
            tls: None,
            dir,
        }
    }

    /// The same scenario over TLS, with certificates made by openssl.
    fn over_tls(name: &str) -> Setup {
        let mut s = Setup::new(name);
        s.tls = Some(common::certs::make(&s.dir.join("certs")));
        s
    }

    fn shipper_config(&self, buffering: &str) -> String {
        format!(
            r#"[hekad]
base_dir = "{base}"
maxprocs = 2
{globals}

[Logs]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'app\.log(\.(?P<Seq>\d+))?'
priority = ["^Seq"]
rescan_interval = "100ms"
check_data_interval = "20ms"

[Ship]
type = "TcpOutput"
address = "127.0.0.1:{port}"
message_matcher = "Type == 'logfile'"
{buffering}
{tls}"#,
            base = self.dir.join("ship-cache").display(),
            logs = self.logs.display(),
            port = self.port,
            globals = self.ship_globals,
            tls = self
                .tls
                .as_ref()
                .map_or(String::new(), |c| c.client_toml("Ship")),
        )
    }

    fn shipper(&self, buffering: &str) -> Hekad {
        let dir = self.dir.join("ship");
        std::fs::create_dir_all(&dir).expect("dir");
        let h = Hekad::start(&dir, &self.shipper_config(buffering));
        h.wait_for_log("Starting hekad");
        h
    }

    fn receiver(&self) -> Hekad {
        let dir = self.dir.join("receive");
        std::fs::create_dir_all(&dir).expect("dir");
        let config = format!(
            r#"[hekad]
base_dir = "{base}"

[In]
type = "TcpInput"
address = "127.0.0.1:{port}"
{tls}
[Lines]
type = "PayloadEncoder"
append_newlines = false

[Out]
type = "FileOutput"
path = "{received}"
message_matcher = "Type == 'logfile'"
encoder = "Lines"
flush_interval = 0
"#,
            base = self.dir.join("receive-cache").display(),
            port = self.port,
            received = self.received.display(),
            tls = self
                .tls
                .as_ref()
                .map_or(String::new(), |c| c.server_toml("In")),
        );
        let h = Hekad::start(&dir, &config);
        h.wait_for_log("Starting hekad");
        h
    }

    fn queue_dir(&self) -> PathBuf {
        self.dir.join("ship-cache/output_queue/Ship")
    }
}

fn kill9(mut h: Hekad) {
    let _ = h.child.kill();
    let _ = h.child.wait();
}

#[test]
fn fault_kill_9_of_the_shipper_loses_nothing() {
    kill_9_scenario(Setup::new("kill9"), "");
}

#[test]
fn fault_kill_9_of_the_shipper_over_tls_loses_nothing() {
    kill_9_scenario(Setup::over_tls("kill9-tls"), "");
}

#[test]
fn fault_kill_9_without_fsync_replays_only_what_was_in_flight() {
    kill_9_scenario(Setup::new("kill9-nosync"), "fsync_interval = \"0\"");
}

fn kill_9_scenario(mut s: Setup, globals: &str) {
    s.ship_globals = globals.to_owned();
    let receiver = s.receiver();
    let total = 30_000;
    // 2 500 lines a second while the shipper is killed at random points, each run living
    // about one fsync interval (the default 1 s) or more.
    let generator = Generator::plain(&s.logs, total, 50, Duration::from_millis(20));
    let kills = 6;
    for _ in 0..kills {
        let shipper = s.shipper("");
        std::thread::sleep(Duration::from_millis(1_000 + fastrand::u64(0..1_000)));
        kill9(shipper);
    }
    generator.finish();
    let shipper = s.shipper("");
    let c = wait_for_all(
        &s.received,
        total,
        Duration::from_secs(60),
        &[&shipper, &receiver],
    );
    let tls = if s.tls.is_some() { ", over TLS" } else { "" };
    let scenario = format!("kill -9 of the shipper{tls}, {kills} times [{globals}]");
    report(&scenario, total, &c);
    println!(
        "DELIVERY {scenario}: {} duplicates per kill at 2500 lines/s",
        c.duplicates / kills
    );
    assert!(c.missing.is_empty());
    let _ = shipper.terminate();
    let _ = receiver.terminate();
}

fn rotation_scenario(name: &str, rotation: Rotation) {
    let s = Setup::new(name);
    let receiver = s.receiver();
    let shipper = s.shipper("");
    let total = 30_000;
    let generator = Generator::start(
        &s.logs,
        total,
        500,
        Duration::from_millis(2),
        rotation,
        4_000,
    );
    generator.finish();
    let c = wait_for_all(
        &s.received,
        total,
        Duration::from_secs(60),
        &[&shipper, &receiver],
    );
    report(name, total, &c);
    assert!(c.missing.is_empty());
    assert_eq!(c.duplicates, 0, "rotation alone must not duplicate lines");
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    let _ = receiver.terminate();
}

#[test]
fn fault_rotation_by_rename_and_create_at_full_speed() {
    rotation_scenario("rotation by create", Rotation::Create);
}

#[test]
fn fault_rotation_by_copytruncate_at_full_speed() {
    rotation_scenario("rotation by copytruncate", Rotation::CopyTruncate);
}

#[test]
fn fault_receiver_down_and_shipper_restarted_meanwhile() {
    receiver_down_scenario(Setup::new("receiver-down"));
}

#[test]
fn fault_receiver_down_and_shipper_restarted_meanwhile_over_tls() {
    receiver_down_scenario(Setup::over_tls("receiver-down-tls"));
}

fn receiver_down_scenario(s: Setup) {
    let total = 12_000;
    let receiver = s.receiver();
    let shipper = s.shipper("");
    let generator = Generator::plain(&s.logs, total, 200, Duration::from_millis(5));
    std::thread::sleep(Duration::from_millis(150));
    let (status, stderr) = receiver.terminate();
    assert!(status.success(), "{stderr}");
    std::thread::sleep(Duration::from_millis(300));
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    let shipper = s.shipper("");
    generator.finish();
    std::thread::sleep(Duration::from_millis(300));
    let receiver = s.receiver();
    let scenario = match s.tls {
        Some(_) => "receiver down, shipper restarted meanwhile, over TLS",
        None => "receiver down, shipper restarted meanwhile",
    };
    finish_scenario(&s, total, scenario, shipper, receiver);
}

/// A `/proc/<pid>/status` figure in KiB, such as `VmRSS:`.
fn vm_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn fault_stalled_receiver_keeps_memory_bounded() {
    let s = Setup::new("stalled");
    let receiver = s.receiver();
    let shipper = s.shipper("");
    receiver.signal(libc::SIGSTOP);
    let total = 60_000;
    let generator = Generator::plain(&s.logs, total, 2_000, Duration::from_millis(1));
    let mut peak = 0;
    while !generator.done.load(Ordering::SeqCst) {
        peak = peak.max(vm_kib(shipper.child.id(), "VmRSS:"));
        std::thread::sleep(Duration::from_millis(20));
    }
    generator.finish();
    std::thread::sleep(Duration::from_millis(500));
    peak = peak.max(vm_kib(shipper.child.id(), "VmRSS:"));
    println!("DELIVERY receiver stalled by SIGSTOP: shipper peak RSS {peak} KiB while {total} lines ({} KiB) waited", total * 74 / 1024);
    assert!(
        peak < 24 * 1024,
        "shipper RSS grew to {peak} KiB while the receiver was stalled"
    );
    // A stalled peer must not keep the shipper from stopping; what it did not take
    // stays queued for the next run.
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    let shipper = s.shipper("");
    receiver.signal(libc::SIGCONT);
    finish_scenario(
        &s,
        total,
        "receiver stalled by SIGSTOP, shipper restarted meanwhile",
        shipper,
        receiver,
    );
}

/// Appends the lines `{id:07}` for `ids` to `log`.
fn append_ids(log: &Path, ids: std::ops::Range<u64>) {
    let mut out = Vec::with_capacity(ids.clone().count() * 8);
    for id in ids {
        writeln!(out, "{id:07}").expect("format");
    }
    let mut file = OpenOptions::new().append(true).open(log).expect("open log");
    file.write_all(&out).expect("write log");
}

/// Reads `stream` to its end, recording the ids of the lines received as they come.
fn read_ids(stream: std::net::TcpStream, ids: Arc<std::sync::Mutex<Vec<u64>>>) {
    use std::io::BufRead;
    for line in std::io::BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if let Ok(id) = line.parse() {
            ids.lock().expect("ids").push(id);
        }
    }
}

/// Accepts one connection on `listener`, waiting at most 20 s.
fn accept(listener: &std::net::TcpListener) -> std::net::TcpStream {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).expect("blocking");
                return stream;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the shipper never connected");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// A peer that accepts and never reads lets the kernel buffer megabytes of tiny lines. The
/// shipper keeps bookkeeping for each line until it is acknowledged; that must stay
/// bounded (it grew by about 10 MB for 300,000 15-byte lines before it was), and nothing
/// may be lost when the shipper stops and restarts meanwhile.
#[test]
fn fault_stalled_peer_keeps_unacknowledged_bookkeeping_bounded() {
    let dir = scratch_dir("stalled-peer");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("logs dir");
    let log = logs.join("app.log");
    std::fs::write(&log, "").expect("log");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("address").port();
    let config = format!(
        r#"[hekad]
base_dir = "{base}"

[Logs]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'app\.log'
check_data_interval = "20ms"

[Raw]
type = "PayloadEncoder"
append_newlines = false

[Ship]
type = "TcpOutput"
address = "127.0.0.1:{port}"
message_matcher = "TRUE"
encoder = "Raw"
use_framing = false
"#,
        base = dir.join("base").display(),
        logs = logs.display(),
    );
    let journal = dir.join("base/logstreamer/Logs");
    let warm_up = 1_000;
    let total = 400_000;
    let shipper = Hekad::start(&dir, &config);
    shipper.wait_for_log("Starting hekad");
    append_ids(&log, 0..warm_up);
    let stalled = accept(&listener);
    wait_for_journal_at(&journal, warm_up * 8, &shipper);
    let pid = shipper.child.id();
    let before = vm_kib(pid, "VmRSS:");
    append_ids(&log, warm_up..total);
    wait_for_journal_at(&journal, total * 8, &shipper);
    // The output goes on filling the socket buffers from the queue meanwhile.
    std::thread::sleep(Duration::from_secs(1));
    let grown = vm_kib(pid, "VmHWM:").saturating_sub(before);
    println!("DELIVERY peer accepting and not reading, {total} 8-byte lines: shipper memory grew by {grown} KiB");
    assert!(
        grown < 4 * 1024,
        "shipper memory grew by {grown} KiB while the peer read nothing"
    );

    // Stopping takes at most the grace period; what the peer did not acknowledge stays
    // queued, and the restarted shipper sends it once the peer reads.
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let old = {
        let ids = ids.clone();
        std::thread::spawn(move || read_ids(stalled, ids))
    };
    let shipper = Hekad::start(&dir, &config);
    let new = accept(&listener);
    old.join().expect("reader");
    let reader = {
        let ids = ids.clone();
        std::thread::spawn(move || read_ids(new, ids))
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let missing = loop {
        let mut seen = vec![false; total as usize];
        for &id in ids.lock().expect("ids").iter() {
            if let Some(s) = seen.get_mut(id as usize) {
                *s = true;
            }
        }
        let missing = seen.iter().filter(|s| !**s).count();
        if missing == 0 || Instant::now() > deadline {
            break missing;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    reader.join().expect("reader");
    assert_eq!(missing, 0, "lines lost");
}

/// Largest segment file of a queue.
fn largest_segment(queue: &Path) -> PathBuf {
    std::fs::read_dir(queue)
        .expect("queue dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .max_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .expect("a segment")
}

/// Waits until the shipper's journal covers `bytes` of app.log.
fn wait_for_journal(s: &Setup, bytes: u64, h: &Hekad) {
    wait_for_journal_at(&s.dir.join("ship-cache/logstreamer/Logs"), bytes, h);
}

/// Waits until the Logstreamer journal at `journal` covers `bytes` of its file.
fn wait_for_journal_at(journal: &Path, bytes: u64, h: &Hekad) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(journal).unwrap_or_default();
        let seek = text
            .split("\"seek\":")
            .nth(1)
            .and_then(|t| t.split([',', '}']).next())
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if seek >= bytes {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "journal at {seek} of {bytes}; {}",
            h.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes `total` lines and ships them with no receiver until the journal has passed
/// them all (the output saved what it held, the rest was queued on disk), then stops the
/// shipper with `stop`.
fn ship_into_an_outage(s: &Setup, total: u64, stop: fn(Hekad)) {
    Generator::plain(&s.logs, total, total, Duration::ZERO).finish();
    let size = std::fs::metadata(s.logs.join("app.log"))
        .expect("log")
        .len();
    let shipper = s.shipper("");
    wait_for_journal(s, size, &shipper);
    stop(shipper);
}

fn terminate(h: Hekad) {
    let (status, stderr) = h.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn fault_damaged_queue_at_start_up_skips_only_the_damage() {
    let s = Setup::new("damaged");
    let total = 5_000;
    ship_into_an_outage(&s, total, terminate);
    // Damage it: flip bytes inside a frame, tear the tail, lose the checkpoint.
    let segment = largest_segment(&s.queue_dir());
    let mut data = std::fs::read(&segment).expect("segment");
    let middle = data.len() / 2;
    for b in &mut data[middle..middle + 4] {
        *b ^= 0x5A;
    }
    data.extend_from_within(..40);
    std::fs::write(&segment, &data).expect("damage");
    let _ = std::fs::remove_file(s.queue_dir().join("checkpoint.txt"));
    let receiver = s.receiver();
    let shipper = s.shipper("");
    // Everything but the damaged record(s) arrives.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut c = check(&s.received, total);
    while c.missing.len() > 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        c = check(&s.received, total);
    }
    std::thread::sleep(Duration::from_millis(300));
    c = check(&s.received, total);
    report("damaged queue segment at start-up", total, &c);
    assert!(
        (1..=2).contains(&c.missing.len()),
        "only the record(s) under the flipped bytes may be missing: {:?}; {}",
        &c.missing[..c.missing.len().min(10)],
        shipper.stderr_text()
    );
    shipper.wait_for_log("damaged bytes in segment");
    shipper.wait_for_report("QueueCorruptBytes: ");
    let _ = shipper.terminate();
    let _ = receiver.terminate();
}

/// Bytes in the queue's segment files.
fn queued_bytes(queue: &Path) -> u64 {
    std::fs::read_dir(queue)
        .expect("queue dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

#[test]
fn fault_restart_during_an_outage_sends_the_backlog_once() {
    let c = outage_scenario("outage-restart", terminate, "shipper restarted");
    assert_eq!(
        c.duplicates, 0,
        "nothing was sent before, so nothing may come twice"
    );
    assert_eq!(
        c.out_of_order, 0,
        "what was saved goes before what was queued"
    );
}

#[test]
fn fault_kill_9_during_an_outage_does_not_send_the_backlog_twice() {
    let c = outage_scenario("outage-kill9", kill9, "shipper killed (-9)");
    // The queue's checkpoint may not yet record what the shipper saved for resending.
    assert!(
        c.duplicates <= 8_192,
        "at most one window twice, not the backlog"
    );
}

/// Ships 30 000 lines with the receiver down throughout, stops the shipper with `stop`,
/// then starts both.
fn outage_scenario(name: &str, stop: fn(Hekad), how: &str) -> Check {
    let s = Setup::new(name);
    let total = 30_000;
    // The journal may only pass the lines once they are saved or queued.
    ship_into_an_outage(&s, total, stop);
    let queued = queued_bytes(&s.queue_dir());
    let saved = std::fs::metadata(s.queue_dir().join("unacknowledged.bin")).map_or(0, |m| m.len());
    println!("DELIVERY outage, {how}: {queued} bytes queued on disk, {saved} bytes of unacknowledged messages saved");
    assert!(queued > 0, "the backlog was queued on disk");
    let receiver = s.receiver();
    let shipper = s.shipper("");
    let scenario = format!("receiver down throughout, {how}");
    let c = receive_all(&s, total, &scenario, &shipper, &receiver);
    let _ = shipper.terminate();
    let _ = receiver.terminate();
    c
}

#[test]
fn lines_reach_a_peer_that_keeps_up_without_touching_the_disk_queue() {
    let s = Setup::new("direct");
    let total = 20_000;
    let receiver = s.receiver();
    let shipper = s.shipper("");
    Generator::plain(&s.logs, total, 1_000, Duration::from_millis(2)).finish();
    let c = receive_all(&s, total, "peer keeping up", &shipper, &receiver);
    assert_eq!(c.duplicates, 0);
    assert_eq!(c.out_of_order, 0);
    // Lines from a file can be read again, so while the peer keeps up they skip the queue.
    assert_eq!(queued_bytes(&s.queue_dir()), 0, "{}", shipper.stderr_text());
    let _ = shipper.terminate();
    let _ = receiver.terminate();
}

/// A queue limited to 256 KiB while the receiver is down and 1.4 MB of lines arrive.
const SMALL_QUEUE: &str = "[Ship.buffering]\nmax_buffer_size = 262144\n";

/// Writes 20 000 lines, then starts a shipper whose 256 KiB queue fills up with the
/// receiver down.
fn full_queue(name: &str, full_action: &str) -> (Setup, u64, Hekad) {
    let s = Setup::new(name);
    let total = 20_000;
    let generator = Generator::plain(&s.logs, total, 20_000, Duration::ZERO);
    generator.finish();
    let shipper = s.shipper(&format!("{SMALL_QUEUE}full_action = \"{full_action}\"\n"));
    (s, total, shipper)
}

#[test]
fn fault_full_queue_with_shutdown_stops_hekad_and_loses_nothing() {
    let (s, total, shipper) = full_queue("full-shutdown", "shutdown");
    let (status, stderr) = shipper.wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("queue is full"), "{stderr}");
    let receiver = s.receiver();
    let shipper = s.shipper("");
    let scenario = "queue full, full_action = shutdown, then restarted";
    finish_scenario(&s, total, scenario, shipper, receiver);
}

#[test]
fn fault_full_queue_with_block_pauses_the_input() {
    let (s, total, shipper) = full_queue("full-block", "block");
    shipper.wait_for_log("blocking until the plugin catches up");
    let receiver = s.receiver();
    finish_scenario(
        &s,
        total,
        "queue full, full_action = block",
        shipper,
        receiver,
    );
}

#[test]
fn fault_full_queue_with_drop_counts_every_dropped_line() {
    let (s, total, shipper) = full_queue("full-drop", "drop");
    let size = std::fs::metadata(s.logs.join("app.log"))
        .expect("log")
        .len();
    wait_for_journal(&s, size, &shipper);
    shipper.wait_for_report("DropMessageCount");
    std::thread::sleep(Duration::from_millis(200));
    let stderr = shipper.stderr_text();
    let dropped: u64 = stderr
        .rsplit("Ship:")
        .next()
        .and_then(|t| t.split("DropMessageCount:").nth(1))
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no DropMessageCount for Ship in:\n{stderr}"));
    let receiver = s.receiver();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut c = check(&s.received, total);
    while c.received < total - dropped && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        c = check(&s.received, total);
    }
    std::thread::sleep(Duration::from_millis(300));
    let c = check(&s.received, total);
    report("queue full, full_action = drop", total, &c);
    println!("DELIVERY queue full, full_action = drop: {dropped} dropped on purpose and counted");
    assert!(dropped > 0);
    assert_eq!(
        c.missing.len() as u64,
        dropped,
        "every missing line is a counted drop"
    );
    let _ = shipper.terminate();
    let _ = receiver.terminate();
}

#[test]
fn tcp_output_connects_from_its_local_address() {
    let dir = scratch_dir("local-address");
    let (port, local, udp) = (free_port(), free_port(), free_port());
    let out = dir.join("out.log");
    let receiver_dir = dir.join("receiver");
    std::fs::create_dir_all(&receiver_dir).expect("dir");
    // A text receiver stamps each message with the sender's address.
    let receiver = Hekad::start(
        &receiver_dir,
        &format!(
            "{}\n[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nsplitter = \"TokenSplitter\"\ndecoder = \"\"\n\n[Out]\ntype = \"FileOutput\"\npath = \"{}\"\nmessage_matcher = \"TRUE\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
            common::globals(&receiver_dir, ""),
            out.display()
        ),
    );
    receiver.wait_for_log("Starting hekad");
    let sender_dir = dir.join("sender");
    std::fs::create_dir_all(&sender_dir).expect("dir");
    let sender = Hekad::start(
        &sender_dir,
        &format!(
            "{}\n[Text]\ntype = \"PayloadEncoder\"\n\n[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:{udp}\"\n\n[Ship]\ntype = \"TcpOutput\"\naddress = \"127.0.0.1:{port}\"\nlocal_address = \"127.0.0.1:{local}\"\nmessage_matcher = \"TRUE\"\nencoder = \"Text\"\n",
            common::globals(&sender_dir, ""),
        ),
    );
    sender.wait_for_log("Starting hekad");
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    socket.send_to(b"hello", ("127.0.0.1", udp)).expect("send");
    let got = common::wait_for_messages(&receiver, &out, 1);
    assert_eq!(
        got[0]
            .hostname
            .as_deref()
            .map(String::from_utf8_lossy)
            .as_deref(),
        Some(format!("127.0.0.1:{local}").as_str()),
        "{}",
        sender.stderr_text()
    );
    let _ = sender.terminate();
    let _ = receiver.terminate();
}
