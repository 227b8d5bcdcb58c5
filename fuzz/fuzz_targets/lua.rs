//! What Lua scripts parse with hekad's Rust modules, inside a real SandboxFilter: cjson
//! (decode, encode), LPeg through `re` (pattern construction from text, matching), Lua
//! 5.1 patterns (string.find/match/gsub in hekad's Rust), and `inject_message` tables.
//!
//! Input: a kind byte, then `a \0 b` (JSON text, or a pattern and a subject).
//!
//! Invariants:
//! - nothing panics or aborts, whatever the script is given (errors stay Lua errors, a
//!   runaway pattern hits the instruction limit and terminates only that sandbox);
//! - cjson: `decode(encode(decode(x)))` is a fixed point: encoding and decoding it again
//!   gives the same values (key order may differ: it is Lua's table order);
//! - every message `inject_message` accepted from a decoded table is a valid message.
#![no_main]

use hekad::config::globals::Globals;
use hekad::config::{Category, PluginSection};
use hekad::message::{Message, ScannedMessage};
use hekad::sandbox::{Kind, Sandbox, SandboxSettings};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use std::cell::RefCell;
use std::sync::Arc;

const SCRIPT: &str = r#"
local cjson = require "cjson"
local lpeg = require "lpeg"
local re = require "re"

local function same(x, y)
    if type(x) ~= "table" or type(y) ~= "table" then return x == y or (x ~= x and y ~= y) end
    for k, v in pairs(x) do if not same(v, y[k]) then return false end end
    for k in pairs(y) do if x[k] == nil then return false end end
    return true
end

function process_message()
    local kind = read_message("Type")
    local a = read_message("Payload") or ""
    local b = read_message("Logger") or ""
    if kind == "json" then
        local ok, v = pcall(cjson.decode, a)
        if not ok then return 0 end
        local ok1, text = pcall(cjson.encode, v)
        if not ok1 then return 0 end
        local ok2, again = pcall(cjson.decode, text)
        if not ok2 then error("INVARIANT: cjson cannot decode its own output " .. text) end
        local ok3, text2 = pcall(cjson.encode, again)
        if not ok3 then error("INVARIANT: cjson cannot encode what it decoded from " .. text) end
        local ok4, again2 = pcall(cjson.decode, text2)
        -- Key order follows Lua's table order, so the texts may differ: the values may not.
        if not ok4 or not same(again, again2) then
            error("INVARIANT: cjson round trip is not a fixed point: " .. text .. " then " .. text2)
        end
    elseif kind == "re" then
        local ok, p = pcall(re.compile, a)
        if ok then pcall(lpeg.match, p, b) end
        ok, p = pcall(lpeg.P, a)
        if ok then pcall(lpeg.match, lpeg.C(p)^0 * lpeg.Cp(), b) end
    elseif kind == "pattern" then
        pcall(string.find, b, a)
        pcall(string.match, b, a)
        pcall(string.gsub, b, a, "%0")
        pcall(function() for _ in string.gmatch(b, a) do end end)
    elseif kind == "inject" then
        local ok, t = pcall(cjson.decode, a)
        if ok and type(t) == "table" then pcall(inject_message, t) end
    end
    return 0
end
"#;

fn sandbox() -> Sandbox {
    let dir = std::env::temp_dir().join(format!("hekad-fuzz-lua-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("fuzz.lua"), SCRIPT).expect("script");
    let section = PluginSection {
        name: "fuzz".into(),
        type_name: "SandboxFilter".into(),
        category: Category::Filter,
        file: dir.join("hekad.toml"),
        table: "filename = \"fuzz.lua\"\ninstruction_limit = 200000\n"
            .parse()
            .expect("toml"),
    };
    let globals = Globals {
        share_dir: dir.clone(),
        base_dir: dir.join("base"),
        ..Globals::default()
    };
    let settings = SandboxSettings::from_section(&section, &[], &globals, Kind::Filter, "fuzz")
        .expect("settings");
    Sandbox::new(Arc::new(settings), None, None).expect("sandbox")
}

thread_local! {
    static SANDBOX: RefCell<Option<Sandbox>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let (a, b) = match rest.iter().position(|&x| x == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let kind = ["json", "re", "pattern", "inject"][kind as usize % 4];
    let msg = Message {
        uuid: vec![0; 16],
        timestamp: 1,
        r#type: Some(kind.into()),
        payload: Some(a.to_vec()),
        logger: Some(b.to_vec()),
        ..Default::default()
    }
    .encode_to_vec();
    let scanned = ScannedMessage::new(&msg).expect("valid");
    SANDBOX.with(|cell| {
        let mut cell = cell.borrow_mut();
        let sb = cell.get_or_insert_with(sandbox);
        let result = sb.process_message(Some(scanned.view()), 0);
        {
            let mut injected = sb.injected();
            for i in 0..injected.len() {
                if let Some((bytes, _)) = injected.get_mut(i) {
                    assert!(
                        ScannedMessage::new(bytes).is_ok(),
                        "inject_message made an invalid message"
                    );
                }
            }
            injected.clear();
        }
        if let Err(e) = result {
            assert!(!e.contains("INVARIANT"), "{e}");
            // A limit (instructions, memory, output) ends this sandbox only: start anew.
            *cell = None;
        }
    });
});
