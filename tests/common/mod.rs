//! Helpers shared by integration tests: fixture paths and the real hekad binary.
#![allow(dead_code)]

pub mod certs;
pub mod model;
pub mod sandbox;

use std::path::PathBuf;

/// Path of a file under `../shared/fixtures/heka/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/heka")
        .join(rel)
}

pub fn read_fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free TCP/UDP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let tcp = std::net::TcpListener::bind(("127.0.0.1", socket.local_addr().expect("addr").port()));
    match tcp {
        Ok(l) => l.local_addr().expect("addr").port(),
        Err(_) => free_port(),
    }
}

/// A private scratch directory for one test, removed when the test passes (a failing
/// test's directory is kept for a look).
pub fn scratch_dir(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("hekad-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    Scratch(dir)
}

/// See [`scratch_dir`]; derefs to its path.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running hekad child process with its stdout and stderr collected line by line.
pub struct Hekad {
    pub child: Child,
    pub stderr: Arc<Mutex<Vec<String>>>,
    pub stdout: Arc<Mutex<Vec<String>>>,
}

fn collect(reader: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            sink.lock().expect("lines").push(line);
        }
    });
    lines
}

impl Hekad {
    /// Writes `config` to `<dir>/hekad.toml` and starts hekad on it.
    pub fn start(dir: &std::path::Path, config: &str) -> Hekad {
        let path = dir.join("hekad.toml");
        std::fs::write(&path, config).expect("write config");
        Self::start_with_args(&[format!("-config={}", path.display())])
    }

    pub fn start_with_args(args: &[String]) -> Hekad {
        Self::start_with_env(args, &[])
    }

    /// Starts hekad with `args` and the environment variables `env` added.
    pub fn start_with_env(args: &[String], env: &[(&str, &str)]) -> Hekad {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hekad"))
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hekad");
        let stderr = collect(child.stderr.take().expect("stderr"));
        let stdout = collect(child.stdout.take().expect("stdout"));
        Hekad {
            child,
            stderr,
            stdout,
        }
    }

    /// Waits (bounded) until a stderr line contains `needle`; panics with the log if not.
    pub fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self
                .stderr
                .lock()
                .expect("lines")
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "hekad never logged {needle:?}; stderr:\n{}",
            self.stderr_text()
        );
    }

    /// Waits (bounded) until stdout has at least `n` lines.
    pub fn wait_for_stdout_lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let lines = self.stdout.lock().expect("lines").clone();
            if lines.len() >= n {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "hekad printed fewer than {n} stdout lines; stderr:\n{}",
            self.stderr_text()
        );
    }

    /// Asks for the SIGUSR1 report until it contains `needle` (bounded wait).
    pub fn wait_for_report(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            self.signal(libc::SIGUSR1);
            std::thread::sleep(Duration::from_millis(100));
            if self
                .stderr
                .lock()
                .expect("lines")
                .iter()
                .any(|l| l.contains(needle))
            {
                return;
            }
        }
        panic!(
            "report never showed {needle:?}; stderr:\n{}",
            self.stderr_text()
        );
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().expect("lines").join("\n")
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// SIGTERM, then waits (bounded) for exit.
    pub fn terminate(self) -> (ExitStatus, String) {
        self.signal(libc::SIGTERM);
        self.wait()
    }

    /// Waits (bounded) for the process to exit by itself.
    pub fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(50));
                return (status, self.stderr_text());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("hekad did not exit; stderr:\n{}", self.stderr_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Hekad {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Splits a byte stream of Heka frames (no garbage) into message byte slices.
pub fn unframe_all(mut data: &[u8]) -> Vec<Vec<u8>> {
    use prost::Message as _;
    let mut out = Vec::new();
    while !data.is_empty() {
        assert_eq!(data[0], 0x1e, "frame starts with RS");
        let hlen = data[1] as usize;
        assert_eq!(data[2 + hlen], 0x1f, "header ends with US");
        let header = hekad::message::Header::decode(&data[2..2 + hlen]).expect("header");
        let start = hlen + 3;
        let end = start + header.message_length as usize;
        out.push(data[start..end].to_vec());
        data = &data[end..];
    }
    out
}

/// Frames a message without a signature.
pub fn frame(msg: &[u8]) -> Vec<u8> {
    use prost::Message as _;
    let header = hekad::message::Header {
        message_length: msg.len() as u32,
        ..Default::default()
    };
    let h = header.encode_to_vec();
    let mut out = vec![0x1e, h.len() as u8];
    out.extend_from_slice(&h);
    out.push(0x1f);
    out.extend_from_slice(msg);
    out
}

/// A message with the given type, payload and an integer field `seq`.
pub fn test_message(r#type: &str, payload: &str, seq: i64) -> hekad::message::Message {
    hekad::message::Message {
        uuid: hekad::message::uuid::new_v4().to_vec(),
        timestamp: 1_700_000_000_000_000_000 + seq,
        r#type: Some(r#type.as_bytes().to_vec()),
        logger: Some(b"test".to_vec()),
        severity: Some(6),
        payload: Some(payload.as_bytes().to_vec()),
        hostname: Some(b"testhost".to_vec()),
        pid: Some(42),
        fields: vec![hekad::message::Field {
            name: b"seq".to_vec(),
            value_type: Some(2),
            representation: Some(b"count".to_vec()),
            value_integer: vec![seq],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `[hekad]` for a test: its own base_dir plus `extra` lines.
pub fn globals(dir: &std::path::Path, extra: &str) -> String {
    format!(
        "[hekad]\nbase_dir = \"{}\"\n{extra}\n",
        dir.join("cache").display()
    )
}

/// Every framed message in `path` (none if it does not exist yet).
pub fn read_messages(path: &std::path::Path) -> Vec<hekad::message::Message> {
    let data = std::fs::read(path).unwrap_or_default();
    unframe_all(&data)
        .iter()
        .map(|m| <hekad::message::Message as prost::Message>::decode(&m[..]).expect("valid"))
        .collect()
}

/// Waits (bounded) until `path` holds at least `n` framed messages.
pub fn wait_for_messages(
    hekad: &Hekad,
    path: &std::path::Path,
    n: usize,
) -> Vec<hekad::message::Message> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = read_messages(path);
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} messages in {}; stderr:\n{}",
            got.len(),
            path.display(),
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends byte strings over one TCP connection to 127.0.0.1:`port`.
pub fn send(port: u16, messages: impl IntoIterator<Item = Vec<u8>>) {
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    for m in messages {
        std::io::Write::write_all(&mut client, &m).expect("send");
    }
}

/// Waits (bounded) until `path` holds at least `n` lines of text.
pub fn wait_for_lines(hekad: &Hekad, path: &std::path::Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} lines in {}; stderr:\n{}",
            lines.len(),
            path.display(),
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The example configs shipped in `config/`.
pub fn shipped_configs() -> Vec<PathBuf> {
    let dir = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/config")).expect("config");
    let mut configs: Vec<PathBuf> = dir
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    configs
}

/// Certificates for the TLS examples (they read them from `HEKAD_TLS_DIR`), made by the
/// script the README gives.
pub fn example_certs(name: &str) -> Scratch {
    let certs = scratch_dir(name);
    let made = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/make-tls-certs"
    ))
    .arg(certs.as_os_str())
    .output()
    .expect("scripts/make-tls-certs");
    assert!(made.status.success(), "{made:?}");
    certs
}
