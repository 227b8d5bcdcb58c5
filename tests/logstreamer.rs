//! LogstreamerInput against real files: gzip, Heka journals, partial lines across a
//! restart, delete+recreate, truncation in place, initial_tail.

mod common;

use common::{fixture, scratch_dir, Hekad, Scratch};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Tail {
    dir: Scratch,
    logs: PathBuf,
    out: PathBuf,
}

impl Tail {
    fn new(name: &str) -> Tail {
        let dir = scratch_dir(name);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        Tail {
            out: dir.join("out.log"),
            logs,
            dir,
        }
    }

    fn start(&self, file_match: &str, extra: &str) -> Hekad {
        self.start_with(file_match, extra, "")
    }

    fn start_with(&self, file_match: &str, extra: &str, globals: &str) -> Hekad {
        let config = format!(
            r#"[hekad]
base_dir = "{base}"
{globals}

[Logs]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = '{file_match}'
rescan_interval = "100ms"
check_data_interval = "20ms"
{extra}

[Lines]
type = "PayloadEncoder"
append_newlines = false

[Out]
type = "FileOutput"
path = "{out}"
message_matcher = "Type == 'logfile' && Logger == 'Logs'"
encoder = "Lines"
flush_interval = 0
"#,
            base = self.dir.join("cache").display(),
            logs = self.logs.display(),
            out = self.out.display(),
        );
        let h = Hekad::start(&self.dir, &config);
        h.wait_for_log("Starting hekad");
        h
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (bounded) until the output holds `n` lines, then a moment more so extra
    /// (duplicated) lines would show.
    fn wait_for(&self, n: usize, h: &Hekad) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.lines().len() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} lines: {:?}\n{}",
                self.lines().len(),
                self.lines(),
                h.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        self.lines()
    }
}

fn numbered(range: std::ops::Range<u32>) -> String {
    range.map(|i| format!("line {i}\n")).collect()
}

fn expected(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("line {i}")).collect()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(text.as_bytes()).expect("append");
}

#[test]
fn gzip_and_plain_rotated_files_are_read_oldest_first() {
    let t = Tail::new("ls-gzip");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(numbered(0..100).as_bytes()).expect("gzip");
    std::fs::write(t.logs.join("app.log.2.gz"), gz.finish().expect("gzip")).expect("write");
    std::fs::write(t.logs.join("app.log.1"), numbered(100..200)).expect("write");
    std::fs::write(t.logs.join("app.log"), numbered(200..300)).expect("write");
    let h = t.start(
        r"app\.log(\.(?P<Seq>\d+))?(\.gz)?",
        r#"priority = ["^Seq"]"#,
    );
    assert_eq!(t.wait_for(300, &h), expected(0..300));
    append(&t.logs.join("app.log"), &numbered(300..310));
    assert_eq!(t.wait_for(310, &h), expected(0..310));
    let (status, stderr) = h.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn a_heka_journal_resumes_where_heka_stopped_even_after_a_rename() {
    let t = Tail::new("ls-heka-journal");
    // Heka's sample journal points at the end (1969) of 2013/08/error.log; here the file
    // has another name, so the journal's file_name is stale and the hash finds it.
    let source = fixture("logstreamer/testdir/filehandling/2013/08/error.log");
    std::fs::copy(&source, t.logs.join("error.log")).expect("copy");
    let journal_dir = t.dir.join("cache/logstreamer");
    std::fs::create_dir_all(&journal_dir).expect("journal dir");
    std::fs::copy(
        fixture("logstreamer/testdir/reader/location.json"),
        journal_dir.join("Logs"),
    )
    .expect("journal");
    let h = t.start(r"error\.log", "");
    append(&t.logs.join("error.log"), "written after heka stopped\n");
    let lines = t.wait_for(1, &h);
    assert_eq!(lines, ["written after heka stopped"]);
    let (status, stderr) = h.terminate();
    assert!(status.success(), "{stderr}");
    let journal = std::fs::read_to_string(journal_dir.join("Logs")).expect("journal");
    assert!(journal.contains("\"seek\":1996"), "{journal}");
    assert!(
        journal.contains(&t.logs.join("error.log").display().to_string()),
        "{journal}"
    );
}

#[test]
fn a_partial_line_waits_for_its_end_across_a_restart() {
    let t = Tail::new("ls-partial");
    let log = t.logs.join("app.log");
    append(&log, "first\nsecond-");
    let h = t.start(r"app\.log", "");
    assert_eq!(t.wait_for(1, &h), ["first"]);
    let (status, stderr) = h.terminate();
    assert!(status.success(), "{stderr}");
    append(&log, "half\nthird\n");
    let h = t.start(r"app\.log", "");
    assert_eq!(t.wait_for(3, &h), ["first", "second-half", "third"]);
    let _ = h.terminate();
}

#[test]
fn delete_and_recreate_then_truncate_in_place_lose_nothing() {
    let t = Tail::new("ls-recreate");
    let log = t.logs.join("app.log");
    append(&log, &numbered(0..10));
    let h = t.start(r"app\.log", "");
    assert_eq!(t.wait_for(10, &h), expected(0..10));
    // Delete and recreate (a writer that unlinks its log and starts a new one).
    std::fs::remove_file(&log).expect("delete");
    append(&log, &numbered(10..20));
    assert_eq!(t.wait_for(20, &h), expected(0..20));
    // Truncate in place and write new content, shorter and then longer than before.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    append(&log, &numbered(20..25));
    assert_eq!(t.wait_for(25, &h), expected(0..25));
    std::fs::write(&log, numbered(100..140)).expect("rewrite");
    let lines = t.wait_for(65, &h);
    assert_eq!(&lines[..25], expected(0..25));
    assert_eq!(
        &lines[25..],
        expected(100..140),
        "a rewritten file is read from its start"
    );
    let (status, stderr) = h.terminate();
    assert!(status.success(), "{stderr}");
}

/// Found by tests/model_logstreamer.rs: after the file being read was deleted, the
/// follower took the new file at the same path as its successor, so a new file already
/// rotated away (app.log.1 before a fresh, empty app.log) was never read.
#[test]
fn a_new_file_rotated_away_after_a_delete_is_still_read() {
    let t = Tail::new("ls-delete-rotate");
    let log = t.logs.join("app.log");
    append(&log, &numbered(0..10));
    let h = t.start(r"app\.log(\.(?P<Seq>\d+))?", r#"priority = ["^Seq"]"#);
    assert_eq!(t.wait_for(10, &h), expected(0..10));
    std::fs::remove_file(&log).expect("delete");
    append(&log, &numbered(10..20));
    std::fs::rename(&log, t.logs.join("app.log.1")).expect("rotate");
    append(&log, &numbered(20..25));
    assert_eq!(t.wait_for(25, &h), expected(0..25));
    let (status, stderr) = h.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn initial_tail_starts_at_the_end_of_the_newest_file() {
    let t = Tail::new("ls-tail");
    append(&t.logs.join("app.log"), &numbered(0..50));
    let h = t.start(r"app\.log", "initial_tail = true");
    std::thread::sleep(Duration::from_millis(300));
    append(&t.logs.join("app.log"), "after start\n");
    assert_eq!(t.wait_for(1, &h), ["after start"]);
    let _ = h.terminate();
}

#[test]
fn config_errors_name_the_key() {
    let t = Tail::new("ls-config");
    let config = format!(
        "[hekad]\nbase_dir = \"{}\"\n[Logs]\ntype = \"LogstreamerInput\"\nlog_directory = \"{}\"\noldest_duration = \"5y\"\nfile_match = 'x'\n",
        t.dir.display(),
        t.logs.display()
    );
    let h = Hekad::start(&t.dir, &config);
    let (status, stderr) = h.wait();
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("[Logs] oldest_duration"), "{stderr}");
    let config = format!(
        "[hekad]\nbase_dir = \"{}\"\n[Logs]\ntype = \"LogstreamerInput\"\n",
        t.dir.display()
    );
    let (status, stderr) = Hekad::start(&t.dir, &config).wait();
    assert_eq!(status.code(), Some(1));
    assert!(
        stderr.contains("[Logs] file_match: expected a regular expression for the file names to read, not set (required)"),
        "{stderr}"
    );
}

#[test]
fn the_shipping_example_configs_deliver_a_log_file() {
    let dir = scratch_dir("ls-example-configs");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    append(&logs.join("syslog.log"), "one\ntwo\n");
    let port = common::free_port().to_string();
    let load = |name: &str| {
        let text = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("config")
                .join(name),
        )
        .expect("example config");
        text.replace("/var/cache/", &format!("{}/", dir.display()))
            .replace(
                "log_directory = \"/var/log\"",
                &format!("log_directory = \"{}\"", logs.display()),
            )
            .replace("5580", &port)
    };
    let aggregator_dir = dir.join("aggregator");
    let shipper_dir = dir.join("shipper");
    std::fs::create_dir_all(&aggregator_dir).expect("dir");
    std::fs::create_dir_all(&shipper_dir).expect("dir");
    let aggregator = Hekad::start(&aggregator_dir, &load("aggregator.toml"));
    aggregator.wait_for_log("Starting hekad");
    let shipper = Hekad::start(&shipper_dir, &load("ship-logs.toml"));
    shipper.wait_for_log("Starting hekad");
    append(&logs.join("syslog.log"), "three\n");
    let out_dir = dir.join("hekad-aggregator/logs");
    let deadline = Instant::now() + Duration::from_secs(20);
    let read = || -> String {
        std::fs::read_dir(&out_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    };
    while read() != "one\ntwo\nthree\n" {
        assert!(
            Instant::now() < deadline,
            "got {:?}\n{}\n{}",
            read(),
            shipper.stderr_text(),
            aggregator.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stderr) = shipper.terminate();
    assert!(status.success(), "{stderr}");
    let (status, stderr) = aggregator.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn an_oversized_line_is_dropped_whole_and_counted() {
    let t = Tail::new("ls-oversized");
    let long = "x".repeat(5000);
    append(&t.logs.join("app.log"), &format!("before\n{long}\nafter\n"));
    let h = t.start_with(r"app\.log", "", "max_message_size = 2048");
    assert_eq!(t.wait_for(2, &h), ["before", "after"]);
    // One line: one count and one log line with its size (5,001 bytes with its newline),
    // however many buffers it filled.
    h.wait_for_log("the whole record, 5001 bytes, was dropped");
    h.wait_for_report("DropMessageCount: 1");
    let (_, stderr) = h.terminate();
    assert_eq!(
        stderr.matches("record exceeded MAX_RECORD_SIZE").count(),
        1,
        "{stderr}"
    );
}
