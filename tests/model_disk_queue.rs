//! Model-based test of the disk queue behind a buffered TcpOutput (issue 23): random
//! sequences of appends (lines written to a tailed file), the peer going down and up
//! (messages queue on disk, then are read back and acknowledged by the peer's TCP
//! stack), graceful restarts, kill -9 at any point, and a byte of a queue segment damaged
//! while hekad is down; compared against what docs/DELIVERY.md promises:
//!
//! - every line written reaches the peer, except at most one per damaged byte (a damaged
//!   frame is skipped and counted, never delivered corrupted);
//! - nothing reaches the peer that was not written;
//! - nothing is delivered twice unless hekad was killed (the window after a crash is
//!   at-least-once).
//!
//! The peer is this test: a TCP server that reads Heka frames. `HEKAD_MODEL_CASES` sets
//! the number of cases (default 4, about 15 s).

mod common;

use common::{free_port, scratch_dir, Hekad};
use hekad::message::Message;
use proptest::prelude::*;
use prost::Message as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Op {
    Write(u8),
    PeerDown,
    PeerUp,
    Restart,
    Kill,
    Damage(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..60).prop_map(Op::Write),
        2 => Just(Op::PeerDown),
        2 => Just(Op::PeerUp),
        1 => Just(Op::Restart),
        1 => Just(Op::Kill),
        1 => any::<u16>().prop_map(Op::Damage),
    ]
}

/// The receiving end: reads frames from every connection and keeps their payloads.
struct Peer {
    port: u16,
    got: Arc<Mutex<Vec<String>>>,
    running: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Peer {
    fn up(&mut self) {
        if self.running.is_some() {
            return;
        }
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind peer");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let (got, flag) = (self.got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut conns = Vec::new();
            while !flag.load(Ordering::Acquire) {
                if let Ok((s, _)) = listener.accept() {
                    let (got, flag) = (got.clone(), flag.clone());
                    conns.push(std::thread::spawn(move || serve(s, &got, &flag)));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(listener);
            for c in conns {
                let _ = c.join();
            }
        });
        self.running = Some((stop, thread));
    }

    fn down(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::Release);
            let _ = thread.join();
        }
    }
}

/// Reads frames until told to stop and the connection has been quiet for 200 ms.
fn serve(mut s: TcpStream, got: &Mutex<Vec<String>>, stop: &AtomicBool) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                if stop.load(Ordering::Acquire) {
                    return;
                }
            }
            Err(_) => return,
        }
        // Whole frames from the start of the buffer (hekad sends no garbage).
        while let Some(header) = hekad::framing::parse_header(&buf) {
            let start = buf[1] as usize + 3;
            let end = start + header.message_length as usize;
            if buf.len() < end {
                break;
            }
            let msg = Message::decode(&buf[start..end]).expect("a message");
            let payload = msg.payload.as_deref().unwrap_or_default();
            let line = payload.strip_suffix(b"\n").unwrap_or(payload);
            got.lock()
                .expect("got")
                .push(String::from_utf8_lossy(line).into_owned());
            buf.drain(..end);
        }
    }
}

struct World {
    dir: common::Scratch,
    logs: PathBuf,
    hekad: Option<Hekad>,
    peer: Peer,
    written: Vec<String>,
    killed: bool,
    damaged: usize,
}

impl World {
    fn new(name: &str) -> World {
        let dir = scratch_dir(name);
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        let mut peer = Peer {
            port: free_port(),
            got: Arc::default(),
            running: None,
        };
        peer.up();
        let mut w = World {
            logs,
            dir,
            hekad: None,
            peer,
            written: Vec::new(),
            killed: false,
            damaged: 0,
        };
        w.start();
        w
    }

    fn start(&mut self) {
        let config = format!(
            r#"[hekad]
base_dir = "{base}"
fsync_interval = "0s"

[Logs]
type = "LogstreamerInput"
log_directory = "{logs}"
file_match = 'app\.log'
rescan_interval = "50ms"
check_data_interval = "20ms"

[Ship]
type = "TcpOutput"
address = "127.0.0.1:{port}"
message_matcher = "Type == 'logfile'"
use_buffering = true
"#,
            base = self.dir.join("cache").display(),
            logs = self.logs.display(),
            port = self.peer.port,
        );
        let h = Hekad::start(&self.dir, &config);
        h.wait_for_log("Starting hekad");
        self.hekad = Some(h);
    }

    fn stop(&mut self, kill: bool) {
        if let Some(h) = self.hekad.take() {
            if kill {
                h.signal(libc::SIGKILL);
                let _ = h.wait();
            } else {
                let (status, stderr) = h.terminate();
                assert!(status.success(), "{stderr}");
            }
        }
    }

    fn got(&self) -> Vec<String> {
        self.peer.got.lock().expect("got").clone()
    }

    /// Waits (bounded) until at most `allowed_missing` written lines are undelivered.
    fn caught_up(&self, allowed_missing: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let got = self.got();
            let missing: Vec<&String> = self.written.iter().filter(|l| !got.contains(l)).collect();
            if missing.len() <= allowed_missing {
                return got;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} lines never delivered (allowed {allowed_missing}): {:?}\nstderr:\n{}",
                    missing.len(),
                    &missing[..missing.len().min(10)],
                    self.hekad
                        .as_ref()
                        .map(Hekad::stderr_text)
                        .unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn segments(&self) -> Vec<PathBuf> {
        let dir = self.dir.join("cache/output_queue/Ship");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "log"));
        files.sort();
        files
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Write(n) => {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.logs.join("app.log"))
                    .expect("open log");
                let mut text = String::new();
                for _ in 0..*n {
                    let i = self.written.len();
                    let line = format!("{i:06} {}", "q".repeat(i * 13 % 97));
                    text.push_str(&line);
                    text.push('\n');
                    self.written.push(line);
                }
                f.write_all(text.as_bytes()).expect("write");
            }
            Op::PeerDown => {
                if self.peer.running.is_some() {
                    // The peer stops once it has what hekad sent (bytes the kernel
                    // acknowledged and the peer never read would count as delivered).
                    self.caught_up(self.damaged);
                    std::thread::sleep(Duration::from_millis(100));
                    self.peer.down();
                }
            }
            Op::PeerUp => self.peer.up(),
            Op::Restart => {
                // A graceful stop right after lines are read can lose them (the known
                // defect in docs/FUZZING.md): restart once they have left the file.
                if self.peer.running.is_some() {
                    self.caught_up(self.damaged);
                } else {
                    std::thread::sleep(Duration::from_millis(500));
                }
                self.stop(false);
                self.start();
            }
            Op::Kill => {
                self.stop(true);
                self.killed = true;
                self.start();
            }
            Op::Damage(at) => {
                self.stop(true);
                self.killed = true;
                let segments = self.segments();
                if !segments.is_empty() {
                    let path = &segments[*at as usize % segments.len()];
                    let mut bytes = std::fs::read(path).expect("segment");
                    if !bytes.is_empty() {
                        let i = (*at as usize * 7919) % bytes.len();
                        bytes[i] ^= 0x5A;
                        std::fs::write(path, &bytes).expect("damage");
                        self.damaged += 1;
                    }
                }
                self.start();
            }
        }
    }

    fn check(&mut self) {
        self.peer.up();
        self.caught_up(self.damaged);
        std::thread::sleep(Duration::from_millis(300));
        let got = self.got();
        let missing = self.written.iter().filter(|l| !got.contains(l)).count();
        assert!(
            missing <= self.damaged,
            "{missing} lost with {} damaged bytes",
            self.damaged
        );
        assert!(
            got.iter().all(|l| self.written.contains(l)),
            "a line nobody wrote"
        );
        if !self.killed {
            let mut seen = std::collections::HashSet::new();
            let twice: Vec<&String> = got.iter().filter(|l| !seen.insert(*l)).collect();
            assert!(
                twice.is_empty(),
                "delivered twice without a crash: {twice:?}"
            );
        }
        self.stop(false);
        self.peer.down();
    }
}

proptest! {
    #![proptest_config(common::model::config())]

    #[test]
    fn disk_queue_delivers_what_the_model_says(ops in proptest::collection::vec(op(), 1..10)) {
        let mut world = World::new("model-disk-queue");
        let started = Instant::now();
        for op in &ops {
            eprintln!("model: {:>6} ms {op:?}", started.elapsed().as_millis());
            world.apply(op);
        }
        eprintln!("model: {:>6} ms check", started.elapsed().as_millis());
        world.check();
    }
}
