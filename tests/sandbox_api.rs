//! The Lua sandbox API (§7.3) and its limits, driven in process with scripts written for
//! these tests: each test loads a script into a real sandbox, hands it real encoded
//! messages and reads back what it returned, injected or wrote.

mod common;

use hekad::message::{Field, Message, ScannedMessage, ValueType};
use hekad::sandbox::{Kind, Outcome, Sandbox};
use prost::Message as _;
use std::path::Path;
use std::sync::Arc;

use common::sandbox::settings;

fn sandbox(dir: &Path, kind: Kind, script: &str) -> Sandbox {
    sandbox_with(dir, kind, script, "")
}

fn sandbox_with(dir: &Path, kind: Kind, script: &str, keys: &str) -> Sandbox {
    Sandbox::new(Arc::new(settings(dir, kind, script, keys)), None, None).expect("sandbox")
}

fn encoded(msg: &Message) -> Vec<u8> {
    msg.encode_to_vec()
}

/// Runs `process_message` on `msg`.
fn process(sb: &mut Sandbox, msg: &Message) -> Result<Outcome, String> {
    let bytes = encoded(msg);
    let scanned = ScannedMessage::new(&bytes).expect("valid message");
    sb.process_message(Some(scanned.view()), 0)
}

fn ok(sb: &mut Sandbox, msg: &Message) {
    assert_eq!(
        process(sb, msg),
        Ok(Outcome {
            status: 0,
            error: None
        })
    );
}

/// The messages the last call injected, decoded.
fn injected(sb: &Sandbox) -> Vec<Message> {
    let mut injected = sb.injected();
    (0..injected.len())
        .filter_map(|i| {
            injected
                .get_mut(i)
                .map(|(b, _)| Message::decode(&b[..]).expect("decodes"))
        })
        .collect()
}

fn field<'m>(msg: &'m Message, name: &str) -> &'m Field {
    msg.fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .unwrap_or_else(|| panic!("no field {name} in {msg:?}"))
}

fn sample() -> Message {
    let mut msg = common::test_message("nginx", "GET /index.html", 7);
    msg.env_version = Some(b"0.8".to_vec());
    msg.fields.push(Field {
        name: b"status".to_vec(),
        value_type: Some(ValueType::Integer as i32),
        value_integer: vec![200, 404],
        ..Default::default()
    });
    msg.fields.push(Field::string("agent", b"curl", ""));
    msg.fields.push(Field::string("agent", b"wget", ""));
    msg.fields.push(Field {
        name: b"ratio".to_vec(),
        value_type: Some(ValueType::Double as i32),
        value_double: vec![0.25],
        ..Default::default()
    });
    msg.fields.push(Field {
        name: b"ok".to_vec(),
        value_type: Some(ValueType::Bool as i32),
        value_bool: vec![true],
        ..Default::default()
    });
    msg.fields.push(Field {
        name: b"blob".to_vec(),
        value_type: Some(ValueType::Bytes as i32),
        value_bytes: vec![vec![0, 1, 2]],
        ..Default::default()
    });
    msg
}

#[test]
fn read_message_reads_headers_and_typed_fields() {
    let dir = common::scratch_dir("sbx-read");
    let mut sb = sandbox(
        &dir,
        Kind::Filter,
        r#"
        function process_message()
            local checks = {
                read_message("Type") == "nginx",
                read_message("Logger") == "test",
                read_message("Payload") == "GET /index.html",
                read_message("EnvVersion") == "0.8",
                read_message("Hostname") == "testhost",
                read_message("Severity") == 6,
                read_message("Pid") == 42,
                read_message("Timestamp") == 1700000000000000007,
                #read_message("Uuid") == 36,
                read_message("Fields[seq]") == 7,
                read_message("Fields[status]", 0, 1) == 404,
                read_message("Fields[agent]", 1) == "wget",
                read_message("Fields[ratio]") == 0.25,
                read_message("Fields[ok]") == true,
                read_message("Fields[blob]") == "\0\1\2",
                read_message("Fields[missing]") == nil,
                read_message("Fields[agent]", 2) == nil,
                read_message("Fields[status]", 0, 2) == nil,
                read_message("Nope") == nil,
                #read_message("raw") > 100,
            }
            for i, ok in ipairs(checks) do
                if not ok then return -1, "check " .. i end
            end
            local ok, err = pcall(read_message, "Fields[seq]", -1)
            if ok or not err:find("field index must be >= 0", 1, true) then return -1, "negative index: " .. tostring(err) end
            return 0
        end
        "#,
    );
    ok(&mut sb, &sample());
    let mut no_pid = sample();
    no_pid.pid = None;
    let script_says = process(&mut sb, &no_pid).expect("runs");
    assert_eq!(
        script_says.error.as_deref(),
        Some("check 7"),
        "Pid unset reads nil"
    );
}

#[test]
fn read_message_raw_is_the_message_bytes_and_decodes() {
    let dir = common::scratch_dir("sbx-raw");
    let mut sb = sandbox(
        &dir,
        Kind::Filter,
        r#"
        function process_message()
            local t = decode_message(read_message("raw"))
            local f = t.Fields
            if t.Type ~= "nginx" or t.Payload ~= "GET /index.html" or t.Severity ~= 6 then return -1, "headers" end
            if #t.Uuid ~= 16 or t.Timestamp ~= 1700000000000000007 then return -1, "uuid/timestamp" end
            if f[1].name ~= "seq" or f[1].value_type ~= 2 or f[1].representation ~= "count" or f[1].value[1] ~= 7 then return -1, "seq" end
            if f[2].name ~= "status" or #f[2].value ~= 2 or f[2].value[2] ~= 404 then return -1, "status array" end
            if f[3].value[1] ~= "curl" or type(f[3].value) ~= "table" then return -1, "single values are arrays" end
            local ok, err = pcall(decode_message, "\255\255 not protobuf")
            if ok then return -1, "garbage decoded" end
            return 0
        end
        "#,
    );
    ok(&mut sb, &sample());
}

#[test]
fn read_next_field_walks_every_field_then_ends() {
    let dir = common::scratch_dir("sbx-next");
    let mut sb = sandbox(
        &dir,
        Kind::Filter,
        r#"
        function process_message()
            local seen = {}
            while true do
                local vt, name, value, repr, count = read_next_field()
                if not name then break end
                seen[#seen + 1] = vt .. ":" .. name .. ":" .. tostring(value) .. ":" .. repr .. ":" .. count
            end
            return -1, table.concat(seen, ",")
        end
        "#,
    );
    let out = process(&mut sb, &sample()).expect("runs");
    assert_eq!(
        out.error.as_deref(),
        Some("2:seq:7:count:1,2:status:200::2,0:agent:curl::1,0:agent:wget::1,3:ratio:0.25::1,4:ok:true::1,1:blob:\0\u{1}\u{2}::1")
    );
}

#[test]
fn read_config_returns_the_config_table_values() {
    let dir = common::scratch_dir("sbx-config");
    let mut sb = sandbox_with(
        &dir,
        Kind::Filter,
        r#"
        function process_message()
            if read_config("name") ~= "web" or read_config("threshold") ~= 5
               or read_config("ratio") ~= 0.5 or read_config("on") ~= true
               or read_config("absent") ~= nil then
                return -1, "values"
            end
            local ok = pcall(read_config, "a", "b")
            if ok then return -1, "two arguments accepted" end
            return 0
        end
        "#,
        "[config]\nname = \"web\"\nthreshold = 5\nratio = 0.5\non = true",
    );
    ok(&mut sb, &sample());
}

#[test]
fn inject_message_hash_form_with_value_objects() {
    let dir = common::scratch_dir("sbx-inject-hash");
    let mut sb = sandbox_with(
        &dir,
        Kind::Filter,
        r#"
        function process_message()
            inject_message({
                Type = "summary", Payload = "p", Severity = 3, Pid = 99, EnvVersion = "1",
                Logger = "ignored", Hostname = "ignored",
                Fields = {
                    count = 5,
                    name = "x",
                    flags = {true, false},
                    latency = {value = 12, value_type = 2, representation = "ms"},
                    ids = {value = {1, 2, 3}, value_type = 2},
                    raw = {value = "\0\1", value_type = 1},
                },
            })
            return 0
        end
        "#,
        "",
    );
    ok(&mut sb, &sample());
    let msgs = injected(&sb);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m.r#type.as_deref(), Some(&b"heka.sandbox.summary"[..]));
    assert_eq!(
        m.logger.as_deref(),
        Some(&b"test"[..]),
        "filters stamp their name"
    );
    assert_eq!(
        m.hostname.as_deref(),
        Some(&b"testhost"[..]),
        "and hekad's hostname"
    );
    assert_eq!((m.severity, m.pid), (Some(3), Some(99)));
    assert_eq!(m.uuid.len(), 16);
    assert!(
        m.timestamp > 1_600_000_000_000_000_000,
        "timestamp defaults to now"
    );
    assert_eq!(
        field(m, "count").value_double,
        vec![5.0],
        "numbers are doubles"
    );
    assert_eq!(field(m, "name").value_string, vec![b"x".to_vec()]);
    assert_eq!(field(m, "flags").value_bool, vec![true, false]);
    let latency = field(m, "latency");
    assert_eq!(latency.value_integer, vec![12]);
    assert_eq!(latency.representation.as_deref(), Some(&b"ms"[..]));
    assert_eq!(field(m, "ids").value_integer, vec![1, 2, 3]);
    assert_eq!(field(m, "raw").value_bytes, vec![vec![0u8, 1]]);
}

#[test]
fn inject_message_array_form_and_protobuf_strings() {
    let dir = common::scratch_dir("sbx-inject-array");
    let mut sb = sandbox(
        &dir,
        Kind::Decoder,
        r#"
        function process_message()
            inject_message({Payload = "one", Fields = {
                {name = "a", value = 1, value_type = 2, representation = "count"},
                {name = "a", value = {"x", "y"}},
            }})
            local copy = decode_message(read_message("raw"))
            copy.Payload = "two"
            inject_message(copy)
            inject_message(read_message("raw"))
            return 0
        end
        "#,
    );
    let original = sample();
    ok(&mut sb, &original);
    let msgs = injected(&sb);
    assert_eq!(msgs.len(), 3);
    let first = &msgs[0];
    assert_eq!(first.payload.as_deref(), Some(&b"one"[..]));
    assert_eq!(first.fields.len(), 2, "two fields with the same name");
    assert_eq!(first.fields[0].value_integer, vec![1]);
    assert_eq!(
        first.fields[1].value_string,
        vec![b"x".to_vec(), b"y".to_vec()]
    );
    // A decoder's messages take what they leave out from the message being decoded.
    assert_eq!(first.r#type.as_deref(), Some(&b"nginx"[..]));
    assert_eq!(first.hostname.as_deref(), Some(&b"testhost"[..]));
    assert_eq!(first.timestamp, 1_700_000_000_000_000_007);
    assert_eq!((first.severity, first.pid), (Some(6), Some(42)));
    let second = &msgs[1];
    assert_eq!(second.payload.as_deref(), Some(&b"two"[..]));
    // Go writes every field's representation, empty or not.
    let mut expected = original.fields.clone();
    for f in &mut expected {
        f.representation.get_or_insert_with(Vec::new);
    }
    assert_eq!(second.fields, expected, "decode_message round-trips fields");
    assert_eq!(msgs[2], original, "a protobuf string is injected as it is");
}

#[test]
fn inject_message_rejects_what_it_cannot_encode() {
    let dir = common::scratch_dir("sbx-inject-errors");
    let mut sb = sandbox_with(
        &dir,
        Kind::Decoder,
        r#"
        local cases = {
            {Fields = {mixed = {1, "two"}}},
            {Fields = {empty = {}}},
            {Fields = {bad = {value = 1, value_type = 9}}},
            {Fields = {f = function() end}},
            {Type = {}},
            "not protobuf \255",
        }
        function process_message()
            local errors = {}
            for i, case in ipairs(cases) do
                local ok, err = pcall(function() inject_message(case) end)
                if ok then return -1, "case " .. i .. " was injected" end
                errors[#errors + 1] = err
            end
            return -1, table.concat(errors, "\n")
        end
        "#,
        "",
    );
    let out = process(&mut sb, &sample()).expect("runs");
    let text = out.error.unwrap_or_default();
    for expected in [
        "script.lua:13: inject_message() Fields[mixed] mixes value types in one array",
        "Fields[empty] is an empty array",
        "Fields[bad] has an invalid value_type",
        "Fields[f] has an unsupported value type (function)",
        "Type must be a string",
        "protobuf unmarshal failed",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    assert!(injected(&sb).is_empty(), "nothing half-built was kept");
}

#[test]
fn inject_payload_and_add_to_payload_format_numbers_like_heka() {
    let dir = common::scratch_dir("sbx-payload");
    let mut sb = sandbox(
        &dir,
        Kind::Filter,
        r#"
        function process_message()
            add_to_payload("a=", 200, " b=", 1/3, " c=", -2.5, " d=", true, " e=", nil, "\n")
            inject_payload("csv", "stats", "f=", 1e10)
            inject_payload("txt", "empty")
            return 0
        end
        "#,
    );
    ok(&mut sb, &sample());
    let msgs = injected(&sb);
    assert_eq!(msgs.len(), 1, "an empty buffer emits nothing");
    let m = &msgs[0];
    assert_eq!(m.r#type.as_deref(), Some(&b"heka.sandbox-output"[..]));
    assert_eq!(m.logger.as_deref(), Some(&b"test"[..]));
    assert_eq!(
        m.payload.as_deref(),
        Some(&b"a=200 b=0.33333333 c=-2.5 d=true e=nil\nf=10000000000"[..])
    );
    let kind = field(m, "payload_type");
    assert_eq!(kind.value_string, vec![b"csv".to_vec()]);
    assert_eq!(kind.representation.as_deref(), Some(&b"file-extension"[..]));
    assert_eq!(
        field(m, "payload_name").value_string,
        vec![b"stats".to_vec()]
    );
}

#[test]
fn a_decoder_inject_payload_replaces_the_payload() {
    let dir = common::scratch_dir("sbx-payload-decoder");
    let mut sb = sandbox(
        &dir,
        Kind::Decoder,
        r#"
        function process_message()
            inject_payload("json", "doc", '{"a":1}')
            return 0
        end
        "#,
    );
    ok(&mut sb, &sample());
    let msgs = injected(&sb);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].payload.as_deref(), Some(&br#"{"a":1}"#[..]));
    assert_eq!(
        msgs[0].r#type.as_deref(),
        Some(&b"nginx"[..]),
        "the rest is the original"
    );
    assert_eq!(
        field(&msgs[0], "payload_type").value_string,
        vec![b"json".to_vec()]
    );
}

#[test]
fn write_message_edits_a_copy_of_the_message() {
    let dir = common::scratch_dir("sbx-write");
    let mut sb = sandbox(
        &dir,
        Kind::Encoder,
        r#"
        function process_message()
            write_message("Type", "edited")
            write_message("Severity", "2")
            write_message("Timestamp", "2014-02-10T08:46:41Z")
            write_message("Fields[new]", "v", "note")
            write_message("Fields[ratio]", 0.5, "", 0, 1)
            write_message("Fields[agent]", nil, "", 1)
            write_message("Fields[ok]", nil)
            if read_message("Type") ~= "edited" or read_message("Fields[new]") ~= "v" then
                return -1, "read_message does not see the edits"
            end
            write_message("Timestamp", "2014-02-10 08:46:40.5")
            if read_message("Timestamp") ~= 1392022000500000000 then return -1, "civil Timestamp" end
            write_message("Timestamp", "1392022001000000000")
            local ok, err = pcall(write_message, "Fields[status]", 1, "", 0, 0)
            if ok or not err:find("write_message() failed", 1, true) then
                return -1, "a double written into an integer field: " .. tostring(err)
            end
            ok = pcall(write_message, "Fields[ratio]", 1, "", 0, 5)
            if ok then return -1, "array index out of range accepted" end
            return 0
        end
        "#,
    );
    let original = sample();
    let out = process(&mut sb, &original).expect("runs");
    assert_eq!(out.error, None);
    let (bytes, _) = sb.edited_message().expect("edited");
    let m = Message::decode(&bytes[..]).expect("decodes");
    assert_eq!(m.r#type.as_deref(), Some(&b"edited"[..]));
    assert_eq!(m.severity, Some(2));
    assert_eq!(m.timestamp, 1_392_022_001_000_000_000);
    let new = field(&m, "new");
    assert_eq!(new.value_string, vec![b"v".to_vec()]);
    assert_eq!(new.representation.as_deref(), Some(&b"note"[..]));
    assert_eq!(field(&m, "ratio").value_double, vec![0.25, 0.5]);
    assert_eq!(m.fields.iter().filter(|f| f.name == b"agent").count(), 1);
    assert!(m.fields.iter().all(|f| f.name != b"ok"), "nil deletes");
    assert_eq!(original.r#type.as_deref(), Some(&b"nginx"[..]));
}

#[test]
fn return_codes_and_errors_are_reported() {
    let dir = common::scratch_dir("sbx-returns");
    let script = r#"
        function process_message()
            local p = read_message("Payload")
            if p == "fail" then return -1, "bad input" end
            if p == "nothing" then return end
            if p == "text" then return "0" end
            if p == "table error" then return 0, {} end
            if p == "throw" then error("boom") end
            return 0
        end
    "#;
    let mut msg = sample();
    let mut run = |payload: &str| {
        let mut sb = sandbox(&dir, Kind::Filter, script);
        msg.payload = Some(payload.as_bytes().to_vec());
        let first = process(&mut sb, &msg);
        msg.payload = Some(b"ok".to_vec());
        (first, process(&mut sb, &msg))
    };
    let (fail, after) = run("fail");
    assert_eq!(
        fail,
        Ok(Outcome {
            status: -1,
            error: Some("bad input".into())
        })
    );
    assert!(after.is_ok(), "a failure is not fatal");
    let (nothing, after) = run("nothing");
    assert_eq!(
        nothing,
        Err("process_message() must return a numeric status code".into())
    );
    assert_eq!(after, nothing, "a terminated sandbox stays terminated");
    assert!(
        run("text").0.is_ok(),
        "numeric strings are numbers in Lua 5.1"
    );
    assert_eq!(
        run("table error").0,
        Err("process_message() must return a nil or string error message".into())
    );
    assert_eq!(
        run("throw").0,
        Err("process_message() script.lua:8: boom".into())
    );
}

#[test]
fn the_environment_is_lua_5_1_without_the_unsafe_parts() {
    let dir = common::scratch_dir("sbx-env");
    let script = r#"
        function process_message()
            local absent = {"collectgarbage", "coroutine", "dofile", "load", "loadfile",
                            "loadstring", "newproxy", "print", "io", "package", "debug", "module"}
            for _, name in ipairs(absent) do
                if _G[name] ~= nil then return -1, name .. " is present" end
            end
            for _, name in ipairs({"getenv", "execute", "exit", "remove", "rename", "setlocale", "tmpname"}) do
                if os[name] ~= nil then return -1, "os." .. name .. " is present" end
            end
            if _VERSION ~= "Lua 5.1" then return -1, _VERSION end
            if table.getn({1, 2, 3}) ~= 3 or type(setfenv) ~= "function" or type(unpack) ~= "function" then
                return -1, "5.1 functions missing"
            end
            if tostring(200) ~= "200" or tostring(10 / 4) ~= "2.5" or tostring(2^53) ~= "9.007199254741e+15" then
                return -1, "5.1 number text: " .. tostring(2^53)
            end
            if os.date("%Y-%m-%d %H:%M:%S", 1392022001.75) ~= "2014-02-10 08:46:41" then
                return -1, "os.date is not UTC or does not floor: " .. os.date("%Y-%m-%d %H:%M:%S", 1392022001.75)
            end
            if os.time({year = 2014, month = 2, day = 10, hour = 8, min = 46, sec = 41}) ~= 1392022001 then
                return -1, "os.time is not UTC"
            end
            if os.date("*t", 0).year ~= 1970 then return -1, "os.date *t" end
            return 0
        end
    "#;
    let mut sb = sandbox(&dir, Kind::Filter, script);
    ok(&mut sb, &sample());
    let mut input = sandbox(
        &dir,
        Kind::Input,
        r#"
        function process_message()
            if type(io) ~= "table" or type(os.getenv) ~= "function" or type(coroutine) ~= "table"
               or print ~= nil or os.exit ~= nil or loadstring ~= nil then
                return -1, "inputs keep io, os.getenv and coroutine only"
            end
            return 0
        end
        "#,
    );
    assert_eq!(input.process_message(None, 0).map(|o| o.error), Ok(None));
}

#[test]
fn require_loads_builtins_as_globals_and_modules_from_module_directory() {
    let dir = common::scratch_dir("sbx-require");
    std::fs::create_dir_all(dir.join("lua_modules/util")).expect("mkdir");
    std::fs::write(
        dir.join("lua_modules/util/greet.lua"),
        r#"
        local string = require "string"
        local M = {}
        setfenv(1, M)
        function hello(name) return string.format("hello %s", name) end
        return M
        "#,
    )
    .expect("module");
    std::fs::write(dir.join("lua_modules/broken.lua"), "this is not lua").expect("module");
    let mut sb = sandbox(
        &dir,
        Kind::Filter,
        r#"
        local greet = require "util.greet"
        require "cjson"
        function process_message()
            if greet.hello("x") ~= "hello x" then return -1, "module function" end
            if require("util.greet") ~= greet then return -1, "modules load once" end
            if type(cjson) ~= "table" or type(cjson.encode) ~= "function" then return -1, "cjson global" end
            if hello ~= nil then return -1, "setfenv leaked the module's globals" end
            if require("string") ~= string then return -1, "standard libraries" end
            local ok, err = pcall(require, "nope")
            if ok or not err:find("module 'nope' not found", 1, true) then return -1, tostring(err) end
            ok, err = pcall(require, "broken")
            if ok or not err:find("broken.lua", 1, true) then return -1, tostring(err) end
            return 0
        end
        "#,
    );
    ok(&mut sb, &sample());
}

#[test]
fn limits_end_the_call_with_heka_s_messages() {
    let dir = common::scratch_dir("sbx-limits");
    let script = r#"
        function process_message()
            local p = read_message("Payload")
            if p == "loop" then while true do end end
            if p == "pcall loop" then while true do pcall(function() while true do end end) end end
            if p == "grow" then local t = {} for i = 1, 1e9 do t[i] = i end end
            if p == "rep" then local s = string.rep("x", 1e9) end
            if p == "recurse" then local function f(n) return f(n + 1) + 1 end return f(1) end
            if p == "flood" then for i = 1, 1e6 do add_to_payload("0123456789") end end
            if p == "big inject" then inject_message({Payload = string.rep("x", 70000)}) end
            if p == "backtrack" then string.find(string.rep("a", 200), string.rep(".-", 4) .. "b") end
            if p == "injects" then inject_message({}) inject_message({}) end
            return 0
        end
    "#;
    let mut msg = sample();
    let mut run = |payload: &str| {
        let mut sb = sandbox(&dir, Kind::Filter, script);
        msg.payload = Some(payload.as_bytes().to_vec());
        process(&mut sb, &msg).expect_err("terminated")
    };
    let cases = [
        ("loop", "script.lua:4: instruction_limit exceeded"),
        ("pcall loop", "instruction_limit exceeded"),
        ("grow", "memory_limit exceeded"),
        ("rep", "memory_limit exceeded"),
        ("recurse", "stack overflow"),
        (
            "flood",
            "script.lua:9: add_to_payload() output_limit exceeded",
        ),
        ("big inject", "inject_message() output_limit exceeded"),
        ("backtrack", "instruction_limit exceeded"),
        ("injects", "inject_message() exceeded InjectMessage count"),
    ];
    for (payload, expected) in cases {
        let reason = run(payload);
        assert!(
            reason.starts_with("process_message() ") && reason.contains(expected),
            "{payload}: {reason:?} lacks {expected:?}"
        );
    }
}

/// max_process_inject (1) bounds a filter's process_message, max_timer_inject (10) its
/// timer_event; going over ends the call with Heka's message and terminates the sandbox.
#[test]
fn a_filter_s_inject_budgets_hold_per_call() {
    let dir = common::scratch_dir("sbx-inject-budget");
    let script = r#"
        function process_message()
            inject_message({Type = "p"})
            inject_message({Type = "p"})
            return 0
        end
        function timer_event(ns)
            for i = 1, ns do inject_message({Type = "t"}) end
        end
        "#;
    let mut sb = sandbox(&dir, Kind::Filter, script);
    sb.timer_event(10)
        .expect("10 injections fit max_timer_inject");
    assert_eq!(injected(&sb).len(), 10);
    let err = sb
        .timer_event(11)
        .expect_err("the 11th injection is refused");
    assert!(
        err.contains("inject_message() exceeded InjectMessage count"),
        "{err}"
    );
    assert!(sb.terminated().is_some());

    let mut sb = sandbox(&dir, Kind::Filter, script);
    let err = process(&mut sb, &sample()).expect_err("the 2nd injection is refused");
    assert!(
        err.contains("inject_message() exceeded InjectMessage count"),
        "{err}"
    );
    assert!(sb.terminated().is_some());
}

#[test]
fn a_filter_cannot_inject_what_it_would_match_itself() {
    let dir = common::scratch_dir("sbx-circular");
    let sb = sandbox(
        &dir,
        Kind::Filter,
        r#"
        function process_message()
            local ok, err = pcall(function() inject_message({Type = "again"}) end)
            if ok then return -1, "injected" end
            return -1, err
        end
        "#,
    );
    let matcher = hekad::matcher::Matcher::compile("Type =~ /again/").expect("matcher");
    sb.set_inject_check(Box::new(move |msg, loops| {
        match (loops, matcher.matches(msg)) {
            (l, _) if l > 4 => Err(hekad::pipeline::inject::Rejected::Loops(4)),
            (_, true) => Err(hekad::pipeline::inject::Rejected::CircularReference),
            _ => Ok(()),
        }
    }));
    let mut sb = sb;
    let out = process(&mut sb, &sample()).expect("runs");
    assert_eq!(
        out.error.as_deref(),
        Some("script.lua:3: inject_message() creates a circular reference (matches this plugin's message_matcher)")
    );
    let bytes = encoded(&sample());
    let scanned = ScannedMessage::new(&bytes).expect("valid");
    let looped = sb.process_message(Some(scanned.view()), 4).expect("runs");
    assert_eq!(
        looped.error.as_deref(),
        Some("script.lua:3: inject_message() exceeded MaxMsgLoops = 4")
    );
}

#[test]
fn preservation_restores_globals_and_survives_damage() {
    let dir = common::scratch_dir("sbx-preserve");
    let script = r#"
        _PRESERVATION_VERSION = 1
        count = 0
        shared = {n = 1}
        data = {list = {1, 2, "three"}, alias = shared, flag = true, ["odd key"] = 2.5}
        data.self = data
        other = shared
        f = function() end
        function process_message()
            count = count + 1
            shared.n = shared.n + 1
            return 0
        end
    "#;
    let keys = "preserve_data = true";
    let mut sb = sandbox_with(&dir, Kind::Filter, script, keys);
    ok(&mut sb, &sample());
    ok(&mut sb, &sample());
    sb.preserve();
    drop(sb);
    let saved = dir.join("base/sandbox_preservation/test.data");
    assert!(saved.is_file(), "saved at {}", saved.display());
    let check = r#"
        function process_message()
            if count ~= 2 or shared.n ~= 3 or other ~= shared or data.alias ~= shared then return -1, "numbers/shared" end
            if data.self ~= data or data.list[3] ~= "three" or data.flag ~= true or data["odd key"] ~= 2.5 then return -1, "nested" end
            if type(f) ~= "function" then return -1, "functions come from the script" end
            return 0
        end
    "#;
    let restored = format!("{script}\n{check}");
    let mut sb = sandbox_with(&dir, Kind::Filter, &restored, keys);
    ok(&mut sb, &sample());
    drop(sb);
    // A new _PRESERVATION_VERSION discards the saved state.
    let bumped = restored.replace("_PRESERVATION_VERSION = 1", "_PRESERVATION_VERSION = 2");
    let mut sb = sandbox_with(&dir, Kind::Filter, &bumped, keys);
    let out = process(&mut sb, &sample()).expect("runs");
    assert_eq!(out.error.as_deref(), Some("numbers/shared"), "fresh state");
    drop(sb);
    // A damaged file is reported and the sandbox starts fresh.
    std::fs::write(&saved, "_PRESERVATION_VERSION = 1\ncount = = 3 garbage").expect("damage");
    let mut sb = sandbox_with(&dir, Kind::Filter, &restored, keys);
    let out = process(&mut sb, &sample()).expect("runs");
    assert_eq!(out.error.as_deref(), Some("numbers/shared"), "fresh state");
}

/// hyperloglog and bloom_filter objects in globals (shared, nested in tables) survive a
/// preserve_data restart with their counts and bits, written as lua_sandbox wrote them.
#[test]
fn preservation_keeps_hyperloglog_and_bloom_filter() {
    let dir = common::scratch_dir("sbx-preserve-native");
    let script = r#"
        _PRESERVATION_VERSION = 1
        require "hyperloglog"
        require "bloom_filter"
        hll = hyperloglog.new()
        alias = hll
        bf = bloom_filter.new(1000, 0.01)
        nested = {h = hyperloglog.new()}
        function process_message()
            for i = 1, 100 do hll:add("u" .. i) bf:add("k" .. i) nested.h:add(i) end
            counts = {hll:count(), nested.h:count(), bf:count()}
            return 0
        end
    "#;
    let keys = "preserve_data = true";
    let mut sb = sandbox_with(&dir, Kind::Filter, script, keys);
    ok(&mut sb, &sample());
    sb.preserve();
    drop(sb);
    let saved = dir.join("base/sandbox_preservation/test.data");
    let text = std::fs::read(&saved).expect("saved");
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("bf:fromstring(\""), "{text:.300}");
    assert!(text.contains("= require(\"bloom_filter\").new(1000, 0.01) end"));
    assert!(text.contains("nested[\"h\"]:fromstring(\"HYLL"));
    let check = r#"
        function process_message()
            if counts[1] < 95 or hll:count() ~= counts[1] or alias ~= hll then return -1, "hll" end
            if counts[2] < 95 or nested.h:count() ~= counts[2] then return -1, "nested" end
            if counts[3] < 95 or bf:count() ~= counts[3] then return -1, "bf count" end
            if not bf:query("k1") or not bf:query("k100") then return -1, "bf bits" end
            if hll:add("u1") or bf:add("k2") then return -1, "re-added" end
            return 0
        end
    "#;
    let restored = format!("{script}\n{check}");
    let mut sb = sandbox_with(&dir, Kind::Filter, &restored, keys);
    ok(&mut sb, &sample());
}

/// ns per call of the script in `SCRIPT` as a decoder (or a filter with `FILTER=1`):
/// `SCRIPT=x.lua cargo test --release --test sandbox_api -- --ignored --nocapture speed`
#[test]
#[ignore]
fn speed() {
    let dir = common::scratch_dir("sbx-speed");
    let script =
        std::fs::read_to_string(std::env::var("SCRIPT").unwrap_or_default()).unwrap_or_default();
    let kind = match std::env::var("FILTER") {
        Ok(_) => Kind::Filter,
        Err(_) => Kind::Decoder,
    };
    let mut sb = sandbox(&dir, kind, &script);
    let mut msg = sample();
    msg.payload = Some(br#"10.1.2.3 - - [10/Feb/2026:08:46:41 +0000] "GET /index.html?id=42 HTTP/1.1" 200 512 "http://example.com/" "Mozilla/5.0 (X11; Linux x86_64)""#.to_vec());
    if kind == Kind::Decoder {
        msg.fields.clear();
    }
    let bytes = encoded(&msg);
    let scanned = ScannedMessage::new(&bytes).expect("valid");
    let n = if kind == Kind::Filter {
        5_000_000
    } else {
        200_000
    };
    let t = std::time::Instant::now();
    for _ in 0..n {
        let out = sb.process_message(Some(scanned.view()), 0).expect("runs");
        assert_eq!(out.status, 0, "{:?}", out.error);
        sb.injected().clear();
    }
    println!(
        "{:.0} ns per call",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
