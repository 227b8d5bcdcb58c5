//! Lua sandbox plugins in the real hekad (§7): a decoder, filter, encoder, input and
//! output each run a script written for these tests over real sockets and files; hostile
//! scripts end only their own sandbox while hekad keeps delivering.

mod common;

use common::{
    frame, globals, read_messages, scratch_dir, send, wait_for_lines, wait_for_messages, Hekad,
};
use hekad::message::Message;
use prost::Message as _;
use std::path::Path;
use std::time::{Duration, Instant};

fn script(dir: &Path, name: &str, source: &str) {
    std::fs::write(dir.join(name), source).expect("write script");
}

fn string_field(msg: &Message, name: &str) -> Option<String> {
    msg.fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .and_then(|f| f.value_string.first())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn double_field(msg: &Message, name: &str) -> Option<f64> {
    msg.fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .and_then(|f| f.value_double.first().copied())
}

fn typed(msg_type: &str, payload: &str, seq: i64) -> Vec<u8> {
    frame(&common::test_message(msg_type, payload, seq).encode_to_vec())
}

const LINE_DECODER: &str = r#"
-- "<status> <method> <path> <bytes>" lines; "twice ..." lines make two messages;
-- "edit ..." lines are rewritten in place; anything else is a decode failure.
local prefix = read_config("type_prefix")
function process_message()
    local line = read_message("Payload")
    local status, method, path, bytes = string.match(line, "^(%d+) (%u+) (%S+) (%d+)%s*$")
    if status then
        inject_message({
            Type = prefix .. ".access",
            Payload = line,
            Fields = {
                status = {value = tonumber(status), value_type = 2},
                method = method,
                path = path,
                bytes = {value = tonumber(bytes), value_type = 2, representation = "B"},
            },
        })
        return 0
    end
    local rest = string.match(line, "^twice (.-)%s*$")
    if rest then
        inject_message({Type = prefix .. ".twice", Payload = rest .. " 1"})
        inject_message({Type = prefix .. ".twice", Payload = rest .. " 2"})
        return 0
    end
    rest = string.match(line, "^edit (.-)%s*$")
    if rest then
        write_message("Type", prefix .. ".edited")
        write_message("Fields[note]", rest)
        return 0
    end
    return -1, "not an access line"
end
"#;

#[test]
fn a_sandbox_decoder_parses_lines_into_fields() {
    let dir = scratch_dir("sbx-decoder");
    script(&dir, "lines.lua", LINE_DECODER);
    let port = common::free_port();
    let out = dir.join("out.log");
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [Lines]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nsplitter = \"TokenSplitter\"\ndecoder = \"LineDecoder\"\n\
         [LineDecoder]\ntype = \"SandboxDecoder\"\nfilename = \"lines.lua\"\n[LineDecoder.config]\ntype_prefix = \"web\"\n\
         [Out]\ntype = \"FileOutput\"\nmessage_matcher = \"Type =~ /^web/\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        globals(&dir, ""),
        dir.display(),
        out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let lines = "200 GET /index.html 512\nnot a line\ntwice hello\nedit this\n404 POST /api 0\n";
    send(port, [lines.as_bytes().to_vec()]);
    let msgs = wait_for_messages(&hekad, &out, 5);
    let types: Vec<String> = msgs
        .iter()
        .map(|m| String::from_utf8_lossy(m.r#type.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(
        types,
        [
            "web.access",
            "web.twice",
            "web.twice",
            "web.edited",
            "web.access"
        ]
    );
    let first = &msgs[0];
    let status = first
        .fields
        .iter()
        .find(|f| f.name == b"status")
        .expect("status");
    assert_eq!(status.value_integer, vec![200]);
    assert_eq!(string_field(first, "method").as_deref(), Some("GET"));
    let bytes = first
        .fields
        .iter()
        .find(|f| f.name == b"bytes")
        .expect("bytes");
    assert_eq!(bytes.representation.as_deref(), Some(&b"B"[..]));
    assert_eq!(
        first.logger.as_deref(),
        Some(&b"Lines"[..]),
        "injected messages inherit the record's headers"
    );
    assert_eq!(msgs[2].payload.as_deref(), Some(&b"hello 2"[..]));
    assert_eq!(string_field(&msgs[3], "note").as_deref(), Some("this"));
    hekad.wait_for_report("ProcessMessageFailures: 1");
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("Failed parsing: not an access line payload: \"not a line\\n\""),
        "{stderr}"
    );
}

#[test]
fn a_decoder_status_above_zero_stops_hekad() {
    let dir = scratch_dir("sbx-decoder-fatal");
    script(
        &dir,
        "fatal.lua",
        "function process_message() return 1, 'cannot go on' end",
    );
    let port = common::free_port();
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [Lines]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nsplitter = \"TokenSplitter\"\ndecoder = \"Fatal\"\n\
         [Fatal]\ntype = \"SandboxDecoder\"\nfilename = \"fatal.lua\"\n",
        globals(&dir, ""),
        dir.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(port, [b"anything\n".to_vec()]);
    let (status, stderr) = hekad.wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("process_message() returned 1: cannot go on"),
        "{stderr}"
    );
}

#[test]
fn a_terminated_filter_that_cannot_exit_stops_hekad() {
    let dir = scratch_dir("sbx-cannot-exit");
    script(
        &dir,
        "boom.lua",
        "function process_message() error('boom') end",
    );
    let port = common::free_port();
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [Lines]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\nsplitter = \"TokenSplitter\"\n\
         [Boom]\ntype = \"SandboxFilter\"\nfilename = \"boom.lua\"\nmessage_matcher = \"TRUE\"\ncan_exit = false\n",
        globals(&dir, ""),
        dir.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(port, [b"anything\n".to_vec()]);
    let (status, stderr) = hekad.wait();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("Plugin 'Boom' terminated: "), "{stderr}");
    assert!(
        stderr.contains("Plugin 'Boom' is not allowed to exit (can_exit = false)"),
        "{stderr}"
    );
}

const COUNTER: &str = r#"
_PRESERVATION_VERSION = 1
seen = {}
total = 0

function process_message()
    local t = read_message("Type")
    seen[t] = (seen[t] or 0) + 1
    total = total + 1
    return 0
end

function timer_event(ns)
    local fields = {total = total}
    for t, n in pairs(seen) do fields["count_" .. t] = n end
    inject_message({Type = "counts", Payload = tostring(total), Fields = fields})
    inject_payload("txt", "summary", "total ", total)
end
"#;

#[test]
fn a_sandbox_filter_aggregates_injects_on_its_ticker_and_keeps_its_state() {
    let dir = scratch_dir("sbx-filter");
    script(&dir, "counter.lua", COUNTER);
    let port = common::free_port();
    let out = dir.join("out.log");
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [TcpInput]\naddress = \"127.0.0.1:{port}\"\n\
         [Counter]\ntype = \"SandboxFilter\"\nfilename = \"counter.lua\"\nmessage_matcher = \"Type == 'a' || Type == 'b'\"\n\
         ticker_interval = 1\npreserve_data = true\ntimer_event_on_shutdown = true\n\
         [Out]\ntype = \"FileOutput\"\nmessage_matcher = \"Logger == 'Counter'\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        globals(&dir, ""),
        dir.display(),
        out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(
        port,
        (0..10).map(|i| typed(if i < 7 { "a" } else { "b" }, "x", i)),
    );
    let total_of = |msgs: &[Message]| -> f64 {
        msgs.iter()
            .rev()
            .find(|m| m.r#type.as_deref() == Some(&b"heka.sandbox.counts"[..]))
            .and_then(|m| double_field(m, "total"))
            .unwrap_or(0.0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while total_of(&read_messages(&out)) < 10.0 {
        assert!(Instant::now() < deadline, "{}", hekad.stderr_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let msgs = read_messages(&out);
    let counts = msgs
        .iter()
        .rev()
        .find(|m| m.r#type.as_deref() == Some(&b"heka.sandbox.counts"[..]))
        .expect("counts");
    assert_eq!(double_field(counts, "count_a"), Some(7.0));
    assert_eq!(double_field(counts, "count_b"), Some(3.0));
    assert_eq!(
        counts.hostname.as_deref(),
        Some(hekad_hostname().as_bytes())
    );
    let summary = msgs
        .iter()
        .find(|m| m.r#type.as_deref() == Some(&b"heka.sandbox-output"[..]))
        .expect("inject_payload message");
    assert_eq!(
        string_field(summary, "payload_name").as_deref(),
        Some("summary")
    );
    for key in [
        "Memory:",
        "MaxMemory:",
        "MaxInstructions:",
        "MaxOutput:",
        "ProcessMessageAvgDuration:",
        "TimerEventAvgDuration:",
    ] {
        hekad.wait_for_report(key);
    }
    let before = read_messages(&out).len();
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        read_messages(&out).len() > before,
        "timer_event_on_shutdown injected once more"
    );
    assert!(dir
        .join("cache/sandbox_preservation/Counter.data")
        .is_file());

    // A restart picks up where the last clean stop left the globals.
    std::fs::remove_file(&out).expect("clear output");
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(port, (0..5).map(|i| typed("b", "y", i)));
    let deadline = Instant::now() + Duration::from_secs(20);
    while total_of(&read_messages(&out)) < 15.0 {
        assert!(Instant::now() < deadline, "{}", hekad.stderr_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    let msgs = read_messages(&out);
    let counts = msgs
        .iter()
        .rev()
        .find(|m| m.r#type.as_deref() == Some(&b"heka.sandbox.counts"[..]))
        .expect("counts");
    assert_eq!(
        double_field(counts, "count_b"),
        Some(8.0),
        "3 before the restart, 5 after"
    );
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
}

fn hekad_hostname() -> String {
    hekad::config::globals::os_hostname()
}

#[test]
fn a_sandbox_encoder_renders_its_own_text_format() {
    let dir = scratch_dir("sbx-encoder");
    script(
        &dir,
        "render.lua",
        r#"
        function process_message()
            if read_message("Payload") == "skip me" then return -2 end
            if read_message("Payload") == "bad" then return -1, "cannot render" end
            add_to_payload(read_message("Type"), "|", read_message("Fields[seq]"), "|")
            inject_payload("txt", "", read_message("Payload"), "\n")
            return 0
        end
        "#,
    );
    let port = common::free_port();
    let out = dir.join("out.txt");
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [TcpInput]\naddress = \"127.0.0.1:{port}\"\n\
         [Render]\ntype = \"SandboxEncoder\"\nfilename = \"render.lua\"\n\
         [Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{}\"\nencoder = \"Render\"\nflush_interval = 0\n",
        globals(&dir, ""),
        dir.display(),
        out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(
        port,
        [
            typed("one", "first", 1),
            typed("two", "skip me", 2),
            typed("three", "bad", 3),
            typed("four", "last", 4),
        ],
    );
    let lines = wait_for_lines(&hekad, &out, 2);
    assert_eq!(lines, ["one|1|first", "four|4|last"]);
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("Failed serializing: cannot render").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_sandbox_input_reads_a_file_and_emits_messages() {
    let dir = scratch_dir("sbx-input");
    let source = dir.join("source.txt");
    std::fs::write(&source, "alpha\nbeta\ngamma\n").expect("source");
    script(
        &dir,
        "reader.lua",
        r#"
        local path = read_config("path")
        runs = 0
        function process_message()
            runs = runs + 1
            local f = assert(io.open(path, "r"))
            for line in f:lines() do
                inject_message({Type = "from.file", Payload = line, Fields = {run = runs}})
            end
            f:close()
            return 0
        end
        "#,
    );
    let out = dir.join("out.log");
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [Reader]\ntype = \"SandboxInput\"\nfilename = \"reader.lua\"\nticker_interval = 1\n[Reader.config]\npath = \"{}\"\n\
         [Out]\ntype = \"FileOutput\"\nmessage_matcher = \"Type == 'from.file'\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        globals(&dir, ""),
        dir.display(),
        source.display(),
        out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    let msgs = wait_for_messages(&hekad, &out, 6);
    let payloads: Vec<&[u8]> = msgs
        .iter()
        .take(6)
        .map(|m| m.payload.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        payloads,
        [
            &b"alpha"[..],
            b"beta",
            b"gamma",
            b"alpha",
            b"beta",
            b"gamma"
        ],
        "run again at each tick"
    );
    assert_eq!(double_field(&msgs[3], "run"), Some(2.0));
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn a_sandbox_output_writes_a_file_and_flushes_on_its_ticker() {
    let dir = scratch_dir("sbx-output");
    let target = dir.join("written.txt");
    script(
        &dir,
        "writer.lua",
        r#"
        local path = read_config("path")
        local pending = {}
        function process_message()
            pending[#pending + 1] = read_message("Type") .. " " .. read_message("Payload")
            if read_message("Payload") == "reject" then return -1, "rejected" end
            return 0
        end
        function timer_event(ns)
            if #pending == 0 then return end
            local f = assert(io.open(path, "a"))
            f:write(table.concat(pending, "\n"), "\n")
            f:close()
            pending = {}
        end
        "#,
    );
    let port = common::free_port();
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [TcpInput]\naddress = \"127.0.0.1:{port}\"\n\
         [Writer]\ntype = \"SandboxOutput\"\nfilename = \"writer.lua\"\nmessage_matcher = \"TRUE\"\nticker_interval = 1\ntimer_event_on_shutdown = true\n[Writer.config]\npath = \"{}\"\n",
        globals(&dir, ""),
        dir.display(),
        target.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(port, [typed("t", "one", 1), typed("t", "two", 2)]);
    let lines = wait_for_lines(&hekad, &target, 2);
    assert_eq!(lines, ["t one", "t two"]);
    send(port, [typed("t", "reject", 3), typed("t", "last", 4)]);
    hekad.wait_for_report("ProcessMessageFailures: 1");
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    let text = std::fs::read_to_string(&target).expect("written");
    assert!(
        text.ends_with("t reject\nt last\n"),
        "flushed at shutdown: {text:?}"
    );
}

/// Hostile filter scripts: each is terminated with a message naming it and its limit.
const HOSTILE: &[(&str, &str, &str)] = &[
    ("Spin", "while true do end", "instruction_limit exceeded"),
    (
        "Hoard",
        "local t = {} for i = 1, 1e9 do t[i] = i end",
        "memory_limit exceeded",
    ),
    (
        "Huge",
        "local s = string.rep('x', 1e9)",
        "memory_limit exceeded",
    ),
    (
        "Flood",
        "for i = 1, 1e6 do add_to_payload('0123456789') end",
        "output_limit exceeded",
    ),
    (
        "Backtrack",
        "string.find(string.rep('a', 200), string.rep('.-', 4) .. 'b')",
        "instruction_limit exceeded",
    ),
    (
        "Recurse",
        "local function f(n) return f(n + 1) + 1 end f(1)",
        "stack overflow",
    ),
    (
        "Injector",
        "for i = 1, 100 do inject_message({Type = 'spam'}) end",
        "exceeded InjectMessage count",
    ),
    (
        "Swallow",
        "while true do pcall(function() while true do end end) end",
        "instruction_limit exceeded",
    ),
];

#[test]
fn hostile_scripts_end_their_own_sandbox_and_hekad_keeps_delivering() {
    let dir = scratch_dir("sbx-hostile");
    let port = common::free_port();
    let out = dir.join("out.log");
    let terminated = dir.join("terminated.log");
    let mut config = format!(
        "{}share_dir = \"{}\"\n[TcpInput]\naddress = \"127.0.0.1:{port}\"\n",
        globals(&dir, ""),
        dir.display()
    );
    for (name, body, _) in HOSTILE {
        let file = format!("{}.lua", name.to_lowercase());
        script(
            &dir,
            &file,
            &format!("function process_message()\n    {body}\n    return 0\nend\n"),
        );
        config.push_str(&format!(
            "[{name}]\ntype = \"SandboxFilter\"\nfilename = \"{file}\"\nmessage_matcher = \"Type == 'work'\"\n"
        ));
    }
    // Two filters feeding each other from one "ping": the message's loop count reaches
    // max_message_loops (4) on its fifth injection, which is PingA's third.
    let pings = [
        ("PingA", "Type == 'ping' || Type == 'heka.sandbox.PingB'"),
        ("PingB", "Type == 'heka.sandbox.PingA'"),
    ];
    for (name, matcher) in pings {
        script(
            &dir,
            &format!("{}.lua", name.to_lowercase()),
            &format!(
                "function process_message() inject_message({{Type = '{name}'}}) return 0 end\n"
            ),
        );
        config.push_str(&format!(
            "[{name}]\ntype = \"SandboxFilter\"\nfilename = \"{}.lua\"\n\
             message_matcher = \"{matcher}\"\n",
            name.to_lowercase()
        ));
    }
    // A filter matching what it injects is refused ("circular reference") and ends.
    script(
        &dir,
        "echo.lua",
        "function process_message() inject_message({Type = 'work'}) return 0 end\n",
    );
    config.push_str(
        "[Echo]\ntype = \"SandboxFilter\"\nfilename = \"echo.lua\"\nmessage_matcher = \"Type == 'work' || Type == 'heka.sandbox.work'\"\n",
    );
    config.push_str(&format!(
        "[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"Type == 'work'\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n\
         [Terminations]\ntype = \"FileOutput\"\nmessage_matcher = \"Type == 'heka.sandbox-terminated'\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        out.display(),
        terminated.display()
    ));
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    send(
        port,
        (0..200)
            .map(|i| typed("work", "x", i))
            .chain([typed("ping", "", 0)]),
    );
    let delivered = wait_for_messages(&hekad, &out, 200);
    assert_eq!(delivered.len(), 200, "every message reached the output");
    let ends = wait_for_messages(&hekad, &terminated, HOSTILE.len() + 2);
    let mut expected: Vec<(&str, &str)> = HOSTILE.iter().map(|(n, _, why)| (*n, *why)).collect();
    expected.push(("Echo", "creates a circular reference"));
    expected.push(("PingA", "exceeded MaxMsgLoops = 4"));
    for (name, why) in expected {
        let end = ends
            .iter()
            .find(|m| string_field(m, "plugin").as_deref() == Some(name))
            .unwrap_or_else(|| {
                panic!(
                    "{name} was not terminated; stderr:\n{}",
                    hekad.stderr_text()
                )
            });
        let text = String::from_utf8_lossy(end.payload.as_deref().unwrap_or_default()).into_owned();
        assert!(text.contains(why), "{name}: {text:?} lacks {why:?}");
        assert_eq!(end.logger.as_deref(), Some(&b"hekad"[..]));
    }
    send(port, (200..210).map(|i| typed("work", "x", i)));
    wait_for_messages(&hekad, &out, 210);
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn script_errors_are_configuration_errors_naming_the_section_and_line() {
    let dir = scratch_dir("sbx-config-errors");
    script(
        &dir,
        "syntax.lua",
        "function process_message()\n  return 0 +\nend\n",
    );
    script(&dir, "nofunc.lua", "x = 1\n");
    let config = format!(
        "{}share_dir = \"{}\"\n\
         [Syntax]\ntype = \"SandboxFilter\"\nfilename = \"syntax.lua\"\nmessage_matcher = \"TRUE\"\n\
         [NoFunc]\ntype = \"SandboxFilter\"\nfilename = \"nofunc.lua\"\nmessage_matcher = \"TRUE\"\n\
         [Missing]\ntype = \"SandboxFilter\"\nfilename = \"missing.lua\"\nmessage_matcher = \"TRUE\"\n\
         [Typo]\ntype = \"SandboxFilter\"\nfilename = \"nofunc.lua\"\nmessage_matcher = \"TRUE\"\nmemory_limt = 5\n\
         [BadConfig]\ntype = \"SandboxDecoder\"\nfilename = \"nofunc.lua\"\n[BadConfig.config]\nlist = [1, 2]\n",
        globals(&dir, ""),
        dir.display()
    );
    let hekad = Hekad::start(&dir, &config);
    let (status, stderr) = hekad.wait();
    assert_eq!(status.code(), Some(1), "{stderr}");
    for expected in [
        "[Syntax] filename: syntax.lua failed to load: syntax.lua:3: unexpected symbol near 'end'",
        "[NoFunc] filename: nofunc.lua: process_message() function was not found",
        "[Missing] filename: expected a Lua script, got ",
        "[Typo] memory_limt: unknown config setting for 'Typo': memory_limt",
        "[BadConfig] config.list: expected a string, number or boolean, got array [1, 2]",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in:\n{stderr}");
    }
}
