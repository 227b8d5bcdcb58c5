//! ProcessInput and FilePollingInput with real child processes and real files: command
//! pipelines, exit statuses, timeouts killing the whole pipeline, long-running commands
//! under the restart policy, children never outliving hekad.

mod common;

use common::{fixture, globals, scratch_dir, wait_for_messages, Hekad};
use hekad::message::Message;
use std::path::Path;
use std::time::{Duration, Instant};

fn field<'m>(msg: &'m Message, name: &str) -> Option<&'m hekad::message::Field> {
    msg.fields.iter().find(|f| f.name == name.as_bytes())
}

fn text(msg: &Message, name: &str) -> Option<String> {
    field(msg, name)
        .and_then(|f| f.value_string.first())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn payload(msg: &Message) -> String {
    String::from_utf8_lossy(msg.payload.as_deref().unwrap_or_default()).into_owned()
}

/// An output writing every message of `matcher` to `out` as framed protobuf.
fn output(out: &Path, matcher: &str) -> String {
    format!(
        "[ProtobufEncoder]\n\n[out]\ntype = \"FileOutput\"\nmessage_matcher = \"{matcher}\"\n\
         path = \"{}\"\nencoder = \"ProtobufEncoder\"\n",
        out.display()
    )
}

/// Whether process `pid` is gone (or a zombie no longer running).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !is_gone(pid) {
        assert!(Instant::now() < deadline, "process {pid} still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_pid(path: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A two-command pipeline every second: lines of the last command's stdout and stderr
/// become messages with the run's ExitStatus, and an earlier command's failure is in
/// SubcmdErrors.
#[test]
fn pipelines_deliver_lines_with_exit_status_and_subcommand_errors() {
    let dir = scratch_dir("process-pipeline");
    let out = dir.join("out.pb");
    let config = format!(
        r#"{globals}
[lines]
type = "ProcessInput"
ticker_interval = 1
immediate_start = true
splitter = "TokenSplitter"
stderr = true

[lines.command.0]
bin = "/bin/sh"
args = ["-c", "printf 'alpha\nbeta\n'; exit 3"]

[lines.command.1]
bin = "/bin/sh"
args = ["-c", "tr a-z A-Z; echo warn-$GREETING >&2; exit 2"]
env = ["GREETING=hi", "PATH=/usr/bin:/bin"]
directory = "/tmp"

{output}"#,
        globals = globals(&dir, ""),
        output = output(&out, "Type == 'ProcessInput'"),
    );
    let hekad = Hekad::start(&dir, &config);
    let messages = wait_for_messages(&hekad, &out, 3);
    let first_run: Vec<&Message> = messages.iter().take(3).collect();
    let stdout: Vec<String> = first_run
        .iter()
        .filter(|m| text(m, "ProcessInputName").as_deref() == Some("lines.stdout"))
        .map(|m| payload(m))
        .collect();
    assert_eq!(stdout, ["ALPHA\n", "BETA\n"]);
    let stderr = first_run
        .iter()
        .find(|m| text(m, "ProcessInputName").as_deref() == Some("lines.stderr"))
        .expect("a stderr message");
    assert_eq!(payload(stderr), "warn-hi\n");
    for m in &first_run {
        assert_eq!(m.r#type.as_deref(), Some(&b"ProcessInput"[..]));
        assert_eq!(m.logger.as_deref(), Some(&b"lines"[..]));
        assert_eq!(m.pid, Some(hekad.child.id() as i32));
        assert_eq!(
            field(m, "ExitStatus").map(|f| f.value_integer.clone()),
            Some(vec![2])
        );
        assert_eq!(
            text(m, "SubcmdErrors").as_deref(),
            Some("Subcommand[0] returned an error: [exit status 3]")
        );
    }
    // It runs again on the ticker.
    wait_for_messages(&hekad, &out, 6);
    let (status, _) = hekad.terminate();
    assert!(status.success());
}

/// `timeout` kills the whole pipeline, grandchildren included, and the run's message
/// says so; a long-running command (ticker 0) streams lines as they come, is restarted
/// by the policy when it exits, and never outlives hekad, even one killed with SIGKILL.
#[test]
fn timeouts_kill_the_pipeline_and_children_never_outlive_hekad() {
    let dir = scratch_dir("process-lifetime");
    let out = dir.join("out.pb");
    let (slow_pid, long_pid) = (dir.join("slow.pid"), dir.join("long.pid"));
    let config = format!(
        r#"{globals}
[slow]
type = "ProcessInput"
ticker_interval = 1
immediate_start = true
timeout = 1

[slow.command.0]
bin = "/bin/sh"
args = ["-c", "sleep 600 & echo $! > {slow_pid}; echo started; wait"]

[long]
type = "ProcessInput"
ticker_interval = 0
splitter = "TokenSplitter"
retries = {{ max_delay = "100ms", delay = "50ms", max_retries = -1 }}

[long.command.0]
bin = "/bin/sh"
args = ["-c", "echo $$ > {long_pid}; echo up; exec sleep 600"]

{output}"#,
        globals = globals(&dir, ""),
        slow_pid = slow_pid.display(),
        long_pid = long_pid.display(),
        output = output(&out, "Type == 'ProcessInput'"),
    );
    let hekad = Hekad::start(&dir, &config);
    // The slow pipeline's grandchild (sleep) dies with it at the timeout.
    let grandchild = read_pid(&slow_pid);
    wait_gone(grandchild);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = common::read_messages(&out);
        let slow = messages
            .iter()
            .find(|m| text(m, "ProcessInputName").as_deref() == Some("slow.stdout"));
        let long = messages
            .iter()
            .find(|m| text(m, "ProcessInputName").as_deref() == Some("long.stdout"));
        if let (Some(slow), Some(long)) = (slow, long) {
            assert_eq!(payload(slow), "started\n");
            assert_eq!(
                field(slow, "ExitStatus").map(|f| f.value_integer.clone()),
                Some(vec![-1])
            );
            // Streamed while still running.
            assert_eq!(payload(long), "up\n");
            assert_eq!(
                field(long, "ExitStatus").map(|f| f.value_integer.clone()),
                Some(vec![0])
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no messages; stderr:\n{}",
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The long-running command is restarted when it exits.
    let first = read_pid(&long_pid);
    std::fs::remove_file(&long_pid).expect("rm");
    // SAFETY: killing the test's own grandchild.
    unsafe {
        libc::kill(first as i32, libc::SIGKILL);
    }
    let second = read_pid(&long_pid);
    assert_ne!(first, second);
    hekad.wait_for_log("the command pipeline exited");
    // A clean stop ends it.
    let (status, _) = hekad.terminate();
    assert!(status.success());
    wait_gone(second);

    // So does hekad's death by SIGKILL (the kernel's parent-death signal).
    std::fs::remove_file(&long_pid).expect("rm");
    let only_long = format!(
        r#"{globals}
[long]
type = "ProcessInput"
ticker_interval = 0

[long.command.0]
bin = "/bin/sh"
args = ["-c", "echo $$ > {long_pid}; exec sleep 600"]
"#,
        globals = globals(&dir, ""),
        long_pid = long_pid.display(),
    );
    let hekad = Hekad::start(&dir, &only_long);
    let orphan = read_pid(&long_pid);
    hekad.signal(libc::SIGKILL);
    let _ = hekad.wait();
    wait_gone(orphan);
}

/// FilePollingInput reads the whole file every tick with Heka's fields, and a file that
/// appears later is picked up.
#[test]
fn file_polling_reads_the_whole_file_each_tick() {
    let dir = scratch_dir("file-polling");
    let out = dir.join("out.pb");
    let polled = dir.join("status.txt");
    let config = format!(
        r#"{globals}
[status]
type = "FilePollingInput"
ticker_interval = 1
file_path = "{polled}"

{output}"#,
        globals = globals(&dir, "hostname = \"edge-7\""),
        polled = polled.display(),
        output = output(&out, "Type == 'heka.file.polling'"),
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("opening file");
    std::fs::write(&polled, "line one\nline two\n").expect("write");
    let messages = wait_for_messages(&hekad, &out, 1);
    let m = &messages[0];
    assert_eq!(payload(m), "line one\nline two\n");
    assert_eq!(m.hostname.as_deref(), Some(&b"edge-7"[..]));
    assert_eq!(m.logger.as_deref(), Some(&b"status"[..]));
    assert_eq!(text(m, "FilePath").as_deref(), polled.to_str());
    assert_eq!(
        field(m, "TickerInterval").map(|f| f.value_integer.clone()),
        Some(vec![1])
    );
    std::fs::write(&polled, "changed\n").expect("write");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !common::read_messages(&out)
        .iter()
        .any(|m| payload(m) == "changed\n")
    {
        assert!(Instant::now() < deadline, "change not polled");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// ProcessDirectoryInput runs `<seconds>/<name>.toml` files, picks up new ones, stops
/// removed ones, and logs bad ones without stopping.
#[test]
fn process_directory_follows_its_tree() {
    let dir = scratch_dir("process-directory");
    let out = dir.join("out.pb");
    let tree = dir.join("share/jobs");
    std::fs::create_dir_all(tree.join("1")).expect("tree");
    std::fs::create_dir_all(tree.join("not-a-number")).expect("tree");
    let job = |word: &str| {
        format!(
            "[ProcessInput]\nimmediate_start = true\nticker_interval = 999\n\
             [ProcessInput.command.0]\nbin = \"/bin/echo\"\nargs = [\"{word}\"]\n"
        )
    };
    std::fs::write(tree.join("1/hello.toml"), job("hello")).expect("job");
    std::fs::write(tree.join("not-a-number/ignored.toml"), job("ignored")).expect("job");
    std::fs::write(tree.join("1/broken.toml"), "[ProcessInput]\nbogus = 1\n").expect("job");
    let config = format!(
        r#"{globals}
[jobs]
type = "ProcessDirectoryInput"
process_dir = "jobs"
ticker_interval = 1

{output}"#,
        globals = globals(
            &dir,
            &format!("share_dir = \"{}\"", dir.join("share").display())
        ),
        output = output(&out, "Type == 'ProcessInput'"),
    );
    let hekad = Hekad::start(&dir, &config);
    let names = |messages: &[Message]| -> Vec<String> {
        messages
            .iter()
            .filter_map(|m| text(m, "ProcessInputName"))
            .collect()
    };
    // Every second (the directory's interval, not the file's 999).
    let messages = wait_for_messages(&hekad, &out, 2);
    assert!(
        names(&messages).iter().all(|n| n == "jobs-1-hello.stdout"),
        "{:?}",
        names(&messages)
    );
    assert_eq!(payload(&messages[0]), "hello\n");
    hekad.wait_for_log("broken.toml");
    std::fs::write(tree.join("1/second.toml"), job("second")).expect("job");
    std::fs::remove_file(tree.join("1/hello.toml")).expect("rm");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = names(&common::read_messages(&out));
        if let Some(first_second) = all.iter().position(|n| n == "jobs-1-second.stdout") {
            // Once the new job runs, the removed one has stopped: at most one more run
            // of it raced the rescan.
            let later_hello = all[first_second..]
                .iter()
                .filter(|n| *n == "jobs-1-hello.stdout")
                .count();
            if all.len() >= first_second + 3 {
                assert!(later_hello <= 1, "{all:?}");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{all:?}\n{}",
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!names(&common::read_messages(&out))
        .iter()
        .any(|n| n.contains("ignored")));
    let (status, _) = hekad.terminate();
    assert!(status.success());
}

/// Heka's process tree fixture (`processes/100/h0.toml`, ...: `echo` jobs every 100 to 300
/// s) under ProcessDirectoryInput's default `process_dir`: every job is picked up with the
/// interval its directory names. The same files copied under a 1-second directory run and
/// deliver their whole output as one message (NullSplitter, as Heka): the argument's `\n`
/// and echo's own newline.
#[test]
fn process_directory_runs_hekas_fixture_tree() {
    let dir = scratch_dir("process-directory-fixture");
    let out = dir.join("out.pb");
    let tree = fixture("configs/processes");
    let fast = dir.join("fast/1");
    std::fs::create_dir_all(&fast).expect("fast");
    for (from, to) in [("100/h0.toml", "h0.toml"), ("300/h1.toml", "h1.toml")] {
        std::fs::copy(tree.join(from), fast.join(to)).expect("copy fixture");
    }
    let config = format!(
        r#"{globals}
[ProcessDirectoryInput]

[fast]
type = "ProcessDirectoryInput"
process_dir = "{fast}"

{output}"#,
        globals = globals(
            &dir,
            &format!("share_dir = \"{}\"", fixture("configs").display())
        ),
        fast = dir.join("fast").display(),
        output = output(&out, "Type == 'ProcessInput'"),
    );
    let hekad = Hekad::start(&dir, &config);
    for (seconds, name) in [(100, "h0"), (100, "h1"), (200, "h0"), (300, "h1")] {
        hekad.wait_for_log(&format!(
            "running ProcessDirectoryInput-{seconds}-{name} ({}), every {seconds} s",
            tree.join(format!("{seconds}/{name}.toml")).display()
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let messages = common::read_messages(&out);
        let runs = |name: &str, expected: &str| {
            messages.iter().any(|m| {
                text(m, "ProcessInputName").as_deref() == Some(name) && payload(m) == expected
            })
        };
        if runs("fast-1-h0.stdout", "hello world\n\n")
            && runs("fast-1-h1.stdout", "hello world again\n\n")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}\n{}",
            messages
                .iter()
                .map(|m| (text(m, "ProcessInputName"), payload(m)))
                .collect::<Vec<_>>(),
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !hekad.stderr_text().contains("ERROR"),
        "{}",
        hekad.stderr_text()
    );
    let (status, _) = hekad.terminate();
    assert!(status.success());
}
