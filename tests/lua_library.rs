//! hekad's Lua library (lua/) and its LPeg, checked by the Lua test files in tests/lua/:
//! each `*_test.lua` runs in a real sandbox state (Lua 5.1, hekad's `require`, the Rust
//! `lpeg`, `re` and `cjson`) with its modules loaded from lua/lua_modules. The same files
//! run under Debian's lua5.1 with C LPeg (tests/lua/run-reference), which is how the Rust
//! engine is held to C LPeg's behaviour.

use hekad::config::globals::Globals;
use hekad::config::{Category, PluginSection};
use hekad::sandbox::limits::Instructions;
use hekad::sandbox::{env, Kind, SandboxSettings};
use mlua::{Lua, Value};
use std::path::{Path, PathBuf};
use std::rc::Rc;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A sandbox state as a SandboxFilter gets one, with the library's module directories,
/// plus the two globals the harness needs to load plugin files and fixtures.
fn state(memory_limit: usize, instruction_limit: u64) -> (Lua, Rc<Instructions>) {
    let root = root();
    let table: toml::Table = format!(
        "filename = \"tests/lua/harness.lua\"\nmodule_directory = \"{0}/lua/lua_modules;{0}/tests/lua\"\n\
         memory_limit = {memory_limit}\ninstruction_limit = {instruction_limit}",
        root.display()
    )
    .parse()
    .expect("toml");
    let section = PluginSection {
        name: "library_test".into(),
        type_name: "SandboxFilter".into(),
        category: Category::Filter,
        file: root.join("hekad.toml"),
        table,
    };
    let globals = Globals {
        share_dir: root.clone(),
        ..Globals::default()
    };
    let settings = SandboxSettings::from_section(&section, &[], &globals, Kind::Filter, "test")
        .expect("settings");
    let instructions = Rc::new(Instructions::new(instruction_limit));
    let lua = env::new_state(&settings, &instructions, None).expect("sandbox state");
    let base = root.clone();
    let load_file = lua
        .create_function(move |lua, path: String| {
            let file = base.join(&path);
            let source = std::fs::read(&file)
                .map_err(|e| mlua::Error::runtime(format!("{}: {e}", file.display())))?;
            lua.load(source)
                .set_name(format!("@{path}"))
                .into_function()
        })
        .expect("load_file");
    lua.globals().set("load_file", load_file).expect("set");
    let base = root.clone();
    let read_file = lua
        .create_function(move |lua, path: String| {
            let bytes = std::fs::read(base.join(&path))
                .map_err(|e| mlua::Error::runtime(format!("{path}: {e}")))?;
            lua.create_string(bytes)
        })
        .expect("read_file");
    lua.globals().set("read_file", read_file).expect("set");
    (lua, instructions)
}

fn run_file(path: &Path) -> Result<(), String> {
    let (lua, instructions) = state(0, 0);
    instructions.start_call();
    let source = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    lua.load(source)
        .set_name(format!("@{name}"))
        .exec()
        .map_err(|e| format!("{name}: {e}"))
}

/// Every `tests/lua/*_test.lua`; `LUA_TEST=part` runs only the files whose name contains
/// `part` (for working on one module).
#[test]
fn every_lua_test_file_passes_in_the_sandbox() {
    let only = std::env::var("LUA_TEST").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/lua"))
        .expect("tests/lua")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_test.lua"))
        .filter(|p| p.to_string_lossy().contains(&only))
        .collect();
    files.sort();
    assert!(
        !only.is_empty() || files.len() >= 5,
        "expected the library's test files, got {files:?}"
    );
    // Compiling a pattern recurses once per level of nesting: about 3 KB of stack per level
    // in a debug build (a few hundred bytes in release, where 1,000 levels fit in hekad's
    // 2 MiB executor threads); the C LPeg cases nest 600 levels.
    let failures: Vec<String> = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn({
            let files = files.clone();
            move || files.iter().filter_map(|f| run_file(f).err()).collect()
        })
        .expect("thread")
        .join()
        .expect("test thread");
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// Runs `source` in a sandbox state with the given limits: what it returns as text, or
/// the error text if it fails.
fn run_limited(
    source: &str,
    memory_limit: usize,
    instruction_limit: u64,
) -> Result<String, String> {
    let (lua, instructions) = state(memory_limit, instruction_limit);
    instructions.start_call();
    match lua.load(source).eval::<Value>() {
        Ok(Value::String(s)) => Ok(s.to_string_lossy().to_string()),
        Ok(v) => Ok(format!("{v:?}")),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn a_runaway_match_ends_at_the_instruction_limit() {
    // Exponential backtracking: each `a` can be taken by either alternative.
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           local p = lpeg.P{ "S", S = ("a" * lpeg.V"S" + "a" * lpeg.V"S" + "b") }
           return p:match(string.rep("a", 60) .. "c")"#,
        0,
        1_000_000,
    )
    .expect_err("must stop");
    assert!(err.contains("instruction_limit exceeded"), "{err}");
}

#[test]
fn deep_recursion_is_a_backtrack_stack_overflow_not_a_crash() {
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           local p = lpeg.P{ "S", S = "(" * lpeg.V"S" * ")" + "" }
           return p:match(string.rep("(", 100000))"#,
        0,
        0,
    )
    .expect_err("must fail");
    assert!(
        err.contains("backtrack stack overflow (current limit is 400)"),
        "{err}"
    );
    // setmaxstack raises the limit; the memory limit still bounds it.
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           lpeg.setmaxstack(1e9)
           local p = lpeg.P{ "S", S = "(" * lpeg.V"S" * ")" + "" }
           return p:match(string.rep("(", 10000000))"#,
        64 << 20,
        0,
    )
    .expect_err("must fail");
    assert!(err.contains("not enough memory"), "{err}");
}

#[test]
fn captures_count_against_the_memory_limit() {
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           local p = lpeg.Ct((lpeg.C(1))^0)
           return #p:match(string.rep("x", 20000000))"#,
        32 << 20,
        0,
    )
    .expect_err("must fail");
    assert!(err.contains("not enough memory"), "{err}");
}

#[test]
fn patterns_nested_beyond_the_limit_are_refused() {
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           local p = lpeg.P"x"
           for i = 1, 100000 do p = lpeg.C(p) end
           return p:match("x")"#,
        0,
        0,
    )
    .expect_err("must fail");
    assert!(err.contains("pattern too complex"), "{err}");
}

/// Cases a review found: each ends the call with a clear error (or works), never hekad.
#[test]
fn hostile_patterns_end_their_call_not_hekad() {
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           return lpeg.match(lpeg.C(1) / 4294957294, "a")"#,
        0,
        0,
    )
    .expect_err("must fail");
    assert!(err.contains("invalid number"), "{err}");
    // Values a Cmt returned, inside a table capture.
    let got = run_limited(
        r#"local lpeg = require "lpeg"
           local t = lpeg.match(lpeg.Ct(lpeg.Cmt(1, function(_, i) return i, "x" end)^0), "aa")
           return table.concat(t, ",")"#,
        0,
        0,
    )
    .expect("works");
    assert_eq!(got, "x,x");
    // Back references doubling a group 64 times: building the values is charged too.
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           local p = lpeg.Cg(lpeg.Cc(1), "g0")
           for k = 1, 64 do
               local b = lpeg.Cb("g" .. (k - 1))
               p = p * lpeg.Cg((b * b) / 1, "g" .. k)
           end
           return lpeg.match(p * (lpeg.Cb"g64" / 1), "")"#,
        0,
        1_000_000,
    )
    .expect_err("must stop");
    assert!(err.contains("instruction_limit exceeded"), "{err}");
    // Long literals are copies outside the Lua heap: they count against the limit.
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           local s, t = string.rep("x", 1000000), {}
           for i = 1, 1000 do t[i] = lpeg.P(s) end"#,
        32 << 20,
        0,
    )
    .expect_err("must fail");
    assert!(err.contains("not enough memory"), "{err}");
    // A function capture matching again, without end.
    let err = run_limited(
        r#"local lpeg = require "lpeg"
           local p
           p = lpeg.C(1) / function(s) return lpeg.match(p, s) end
           return lpeg.match(p, "a")"#,
        0,
        0,
    )
    .expect_err("must fail");
    assert!(err.contains("matches nested too deeply"), "{err}");
}
