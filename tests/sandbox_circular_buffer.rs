//! The `circular_buffer` module in a real sandbox (§7.6): scripts written for these tests
//! drive buffers through Lua, write them with `inject_payload`/`add_to_payload`, run
//! into the memory limit and survive a `preserve_data` restart.

mod common;

use hekad::message::{Message, ScannedMessage};
use hekad::sandbox::{Kind, Outcome, Sandbox};
use prost::Message as _;
use std::path::Path;
use std::sync::Arc;

/// A filter running `script` (written to `<dir>/script.lua`) with extra section keys.
fn filter(dir: &Path, script: &str, keys: &str) -> Sandbox {
    let settings = common::sandbox::settings(dir, Kind::Filter, script, keys);
    Sandbox::new(Arc::new(settings), None, None).expect("sandbox")
}

/// Runs `process_message` on a message whose payload is `payload`.
fn process(sb: &mut Sandbox, payload: &str) -> Result<Outcome, String> {
    let msg = Message {
        uuid: vec![7; 16],
        timestamp: 1,
        payload: Some(payload.as_bytes().to_vec()),
        ..Message::default()
    };
    let bytes = msg.encode_to_vec();
    let scanned = ScannedMessage::new(&bytes).expect("valid message");
    sb.process_message(Some(scanned.view()), 0)
}

fn ok(sb: &mut Sandbox, payload: &str) {
    let outcome = process(sb, payload);
    assert_eq!(
        outcome,
        Ok(Outcome {
            status: 0,
            error: None
        }),
        "{payload}"
    );
}

/// The payloads (and payload types) the last call injected.
fn payloads(sb: &Sandbox) -> Vec<(String, String)> {
    let mut injected = sb.injected();
    (0..injected.len())
        .filter_map(|i| injected.get_mut(i).map(|(b, _)| Message::decode(&b[..])))
        .map(|m| {
            let m = m.expect("decodes");
            let kind = m
                .fields
                .iter()
                .find(|f| f.name == b"payload_type")
                .and_then(|f| f.value_string.first())
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            let payload = String::from_utf8_lossy(m.payload.as_deref().unwrap_or_default());
            (kind, payload.into_owned())
        })
        .collect()
}

/// `check(condition, what)` ends the call with `what` when the condition is false.
const CHECK: &str = r#"
require "circular_buffer"
local function check(ok, what) if not ok then error(what, 2) end end
local function near(a, b) return math.abs(a - b) <= 1e-12 * math.abs(b) end
local function isnan(v) return v ~= v end
"#;

#[test]
fn values_follow_the_window() {
    let dir = common::scratch_dir("cbuf-window");
    let script = format!(
        "{CHECK}{}",
        r#"
        function process_message()
            local cb = circular_buffer.new(3, 2, 60)
            local rows, columns, spr = cb:get_configuration()
            check(rows == 3 and columns == 2 and spr == 60, "configuration")
            check(cb:current_time() == 120e9, "starts with its newest row at 120 s")
            check(isnan(cb:get(0, 1)), "new rows are NaN")
            check(cb:add(0, 1, 1) == 1 and cb:add(59e9, 1, 7) == 8, "add")
            check(cb:set(60e9, 2, 5) == 5 and cb:get(61e9, 2) == 5, "set, get")
            check(cb:get(180e9, 1) == nil, "get does not move the window")
            check(cb:add(250e9, 1, 2) == 2, "add moves the window")
            check(cb:current_time() == 240e9, "newest row")
            check(cb:add(0, 1, 1) == nil and cb:set(119e9, 1, 1) == nil, "too old")
            check(cb:get(0, 1) == nil and cb:get(60e9, 2) == nil, "passed rows are gone")
            check(isnan(cb:get(120e9, 1)) and isnan(cb:get(180e9, 2)), "cleared rows")
            check(cb:set(10000e9, 2, 3) == 3 and isnan(cb:get(9960e9, 1)), "far forward")
            check(cb:add("9960e9", "2", "1") == 4, "numeric strings")
            check(select('#', cb:add(0, 1, 1)) == 1 and select('#', cb:format("cbuf")) == 1,
                "exactly one result, even nil, to pass on as inject_payload's last argument")
            return 0
        end
        "#
    );
    let mut sb = filter(&dir, &script, "");
    ok(&mut sb, "");
}

#[test]
fn compute_and_mannwhitneyu_skip_missing_rows() {
    let dir = common::scratch_dir("cbuf-compute");
    let script = format!(
        "{CHECK}{}",
        r#"
        function process_message()
            local cb = circular_buffer.new(10, 1, 1)
            -- rows 0..3: 1 2 3 4, row 4 missing, rows 5..9: 3 5 6 7 8
            for i, v in ipairs({1, 2, 3, 4}) do cb:set((i - 1) * 1e9, 1, v) end
            for i, v in ipairs({3, 5, 6, 7, 8}) do cb:set((i + 4) * 1e9, 1, v) end
            local v, n = cb:compute("sum", 1)
            check(v == 39 and n == 9, "sum of the whole window")
            v, n = cb:compute("avg", 1, 0, 3e9)
            check(v == 2.5 and n == 4, "avg of a range")
            v, n = cb:compute("variance", 1, 0, 4e9)
            check(v == 1.25 and n == 4, "variance skips NaN")
            v = cb:compute("sd", 1, 0, 3e9)
            check(near(v, math.sqrt(1.25)), "sd")
            check(cb:compute("min", 1, 3e9, 6e9) == 3 and cb:compute("max", 1, 3e9, 6e9) == 5, "min max")
            v, n = cb:compute("sum", 1, 4e9, 4e9)
            check(v == 0 and n == 0, "an empty range sums to 0")
            check(isnan(cb:compute("avg", 1, 4e9, 4e9)), "and has no average")
            check(cb:compute("sum", 1, 0, 10e9) == nil, "outside the window")
            -- U and p computed by hand (ranks with one tie, normal approximation).
            local u, p = cb:mannwhitneyu(1, 0, 3e9, 5e9, 9e9)
            check(u == 1.5 and near(p, 0.02454505816130382), "mannwhitneyu " .. u .. " " .. p)
            u, p = cb:mannwhitneyu(1, 5e9, 9e9, 0, 4e9, false)
            check(u == 1.5 and near(p, 0.01827317036566787), "without continuity " .. p)
            check(cb:mannwhitneyu(1, 0, 3e9, 5e9, 11e9) == nil, "outside the window")
            return 0
        end
        "#
    );
    let mut sb = filter(&dir, &script, "");
    ok(&mut sb, "");
}

#[test]
fn headers_are_cut_and_sanitised() {
    let dir = common::scratch_dir("cbuf-headers");
    let script = format!(
        "{CHECK}{}",
        r#"
        function process_message()
            local cb = circular_buffer.new(2, 3, 1)
            local n, u, a = cb:get_header(1)
            check(n == "Column_1" and u == "count" and a == "sum", "default header")
            check(cb:set_header(2, "Requests per second!", "bytes/sec", "max") == 2, "returns col")
            n, u, a = cb:get_header(2)
            check(n == "Requests_per_se" and u == "bytes_s" and a == "max", n .. u .. a)
            cb:set_header(3, "x")
            n, u, a = cb:get_header(3)
            check(n == "x" and u == "count" and a == "sum", "defaults")
            return 0
        end
        "#
    );
    let mut sb = filter(&dir, &script, "");
    ok(&mut sb, "");
}

#[test]
fn bad_arguments_are_lua_errors() {
    let dir = common::scratch_dir("cbuf-errors");
    let script = r#"
        require "circular_buffer"
        local cb = circular_buffer.new(2, 2, 1)
        local cases = {
            ["add col"] = function() cb:add(0, 3, 1) end,
            ["get col"] = function() cb:get(0, 0) end,
            ["add value"] = function() cb:add(0, 1, {}) end,
            ["rows"] = function() circular_buffer.new(1, 1, 1) end,
            ["columns"] = function() circular_buffer.new(2, 0, 1) end,
            ["seconds"] = function() circular_buffer.new(2, 1, 0) end,
            ["delta"] = function() circular_buffer.new(2, 1, 1, "yes") end,
            ["aggregation"] = function() cb:set_header(1, "a", "b", "median") end,
            ["compute"] = function() cb:compute("median", 1) end,
            ["range"] = function() cb:compute("sum", 1, 1e9, 0) end,
            ["format"] = function() cb:format("csv") end,
            ["self"] = function() cb.get(nil, 0, 1) end,
            ["fromstring"] = function() cb:fromstring("1 2 3") end,
        }
        function process_message()
            local f = cases[read_message("Payload")]
            if f then
                local ok, err = pcall(f)
                return -1, type(err) .. " " .. tostring(err)
            end
            cb:add(0, 5, 1)
            return 0
        end
    "#;
    let mut sb = filter(&dir, script, "");
    let cases = [
        ("add col", "bad argument #2 to 'add' (column out of range)"),
        ("get col", "bad argument #2 to 'get' (column out of range)"),
        (
            "add value",
            "bad argument #3 to 'add' (number expected, got table)",
        ),
        ("rows", "bad argument #1 to 'new' (rows must be > 1)"),
        ("columns", "bad argument #2 to 'new' (columns must be > 0)"),
        (
            "seconds",
            "bad argument #3 to 'new' (seconds_per_row must be > 0)",
        ),
        (
            "delta",
            "bad argument #4 to 'new' (boolean expected, got string)",
        ),
        (
            "aggregation",
            "bad argument #4 to 'set_header' (invalid option 'median')",
        ),
        (
            "compute",
            "bad argument #1 to 'compute' (invalid option 'median')",
        ),
        (
            "range",
            "bad argument #4 to 'compute' (end must be >= start)",
        ),
        (
            "format",
            "bad argument #1 to 'format' (invalid option 'csv')",
        ),
        ("self", "calling 'get' on bad self"),
        ("fromstring", "bad argument #1 to 'fromstring'"),
    ];
    for (case, expected) in cases {
        let out = process(&mut sb, case).expect("caught");
        let error = out.error.unwrap_or_default();
        assert!(
            error.starts_with("string script.lua:") && error.contains(expected),
            "{case}: {error:?} lacks {expected:?}"
        );
    }
    // Uncaught, the error ends the sandbox with the script's line.
    let reason = process(&mut sb, "").expect_err("terminated");
    assert_eq!(
        reason,
        "process_message() script.lua:25: bad argument #2 to 'add' (column out of range)"
    );
}

const HEADER: &str =
    "{\"time\":60,\"rows\":3,\"columns\":2,\"seconds_per_row\":60,\"column_info\":[\
    {\"name\":\"Requests_per_se\",\"unit\":\"count_s\",\"aggregation\":\"max\"},\
    {\"name\":\"Column_2\",\"unit\":\"count\",\"aggregation\":\"sum\"}]}\n";

#[test]
fn cbuf_and_cbufd_payloads_have_heka_s_text() {
    let dir = common::scratch_dir("cbuf-output");
    let script = r#"
        require "circular_buffer"
        cb = circular_buffer.new(3, 2, 60)
        cb:set_header(1, "Requests per second", "count/s", "max")
        cb:add(60e9, 1, 1.5)
        cb:add(120e9, 2, -2)
        cb:set(180e9, 1, 1/0)
        d = circular_buffer.new(3, 2, 60, true)
        d:set_header(1, "Requests per second", "count/s", "max")
        function process_message()
            local p = read_message("Payload")
            d:add(120e9, 2, 2)
            d:add(120e9, 2, 3)
            d:set(60e9, 1, 1/3)
            if p == "added" then
                add_to_payload("first line\n", cb)
                inject_payload("cbuf", "added")
            end
            return 0
        end
        function timer_event(ns)
            inject_payload("cbuf", "Stats", cb)
            inject_payload("cbufd", "Deltas", d:format("cbufd"))
            inject_payload("cbufd", "Deltas", d)
        end
    "#;
    let mut sb = filter(&dir, script, "");
    let rows = "1.5\tnan\nnan\t-2\ninf\tnan\n";
    ok(&mut sb, "added");
    assert_eq!(
        payloads(&sb),
        [("cbuf".to_owned(), format!("first line\n{HEADER}{rows}"))]
    );
    sb.timer_event(0).expect("timer_event");
    let header = HEADER.replace("\"time\":60", "\"time\":0");
    assert_eq!(
        payloads(&sb),
        [
            ("cbuf".to_owned(), format!("{HEADER}{rows}")),
            (
                "cbufd".to_owned(),
                format!("{header}60\t0.33333333\tnan\n120\tnan\t5\n")
            ),
        ],
        "the second cbufd had no changes left to write"
    );
}

#[test]
fn a_huge_buffer_fails_and_buffers_count_against_the_memory_limit() {
    let dir = common::scratch_dir("cbuf-memory");
    let script = format!(
        "{CHECK}{}",
        r#"
        function process_message()
            local p = read_message("Payload")
            if p == "huge" then
                local ok, err = pcall(function() local cb = circular_buffer.new(1e6, 1000, 60) end)
                check(not ok, "made")
                return -1, err
            end
            if p == "overflow" then
                local ok, err = pcall(circular_buffer.new, 2^31 - 1, 2^31 - 1, 1)
                return -1, err
            end
            -- Three buffers of 2 MiB each fit the 8 MiB limit; a fourth does not.
            held = {}
            for i = 1, 3 do held[i] = circular_buffer.new(1024, 256, 1) end
            local ok = pcall(circular_buffer.new, 1024, 256, 1)
            check(not ok, "the fourth fits")
            -- Once released, their memory serves again.
            held = nil
            for i = 1, 10 do local cb = circular_buffer.new(1024, 256, 1) end
            return 0
        end
        "#
    );
    let mut sb = filter(&dir, &script, "");
    let out = process(&mut sb, "huge").expect("caught");
    assert_eq!(
        out.error.as_deref(),
        Some(
            "script.lua:10: not enough memory for a circular buffer of 1000000 rows x 1000 columns"
        )
    );
    let out = process(&mut sb, "overflow").expect("caught");
    assert!(out.error.unwrap_or_default().contains("not enough memory"));
    ok(&mut sb, "fits");
}

#[test]
fn buffers_survive_preservation() {
    let dir = common::scratch_dir("cbuf-preserve");
    let script = r#"
        require "circular_buffer"
        cb = circular_buffer.new(3, 2, 60, true)
        cb:set_header(1, "Requests", "count", "sum")
        cb:set_header(2, "Peak", "B", "max")
        alias = cb
        function process_message()
            cb:add(100e9, 1, 1.25)
            cb:set(200e9, 2, 7)
            return 0
        end
        function timer_event(ns)
            inject_payload("cbuf", "all", cb)
            inject_payload("cbufd", "changes", cb:format("cbufd"))
            cb:format("cbuf")
        end
    "#;
    let keys = "preserve_data = true";
    let mut sb = filter(&dir, script, keys);
    ok(&mut sb, "");
    sb.preserve();
    sb.timer_event(0).expect("timer_event");
    let before = payloads(&sb);
    drop(sb);
    let check = r#"
        function process_message()
            if alias ~= cb then return -1, "shared reference" end
            local n, u, a = cb:get_header(2)
            if n ~= "Peak" or u ~= "B" or a ~= "max" then return -1, "header" end
            if cb:current_time() ~= 180e9 or cb:get(100e9, 1) ~= 1.25 then return -1, "values" end
            return 0
        end
    "#;
    let mut sb = filter(&dir, &format!("{script}\n{check}"), keys);
    ok(&mut sb, "");
    sb.timer_event(0).expect("timer_event");
    assert_eq!(payloads(&sb), before, "the same text, deltas included");
    assert_eq!(before.len(), 2);
}
