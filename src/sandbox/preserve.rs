//! State preservation (§7.5): at a clean stop a sandbox's globals are written, as a Lua
//! script that rebuilds them, to `<base_dir>/sandbox_preservation/<name>.data`
//! (atomically); at the next start the script is run after the plugin's own, unless the
//! plugin's `_PRESERVATION_VERSION` changed.
//!
//! Saved: numbers, strings, booleans, circular buffers (rebuilt with `new`,
//! `set_header` and `fromstring`), `hyperloglog` and `bloom_filter` objects (made if
//! missing, then given their raw state with `fromstring`, as lua_sandbox wrote them) and
//! tables of them (nested, shared and cyclic references kept). Skipped: functions,
//! coroutines, other userdata, and the library and module tables `require` loaded (the
//! plugin recreates those itself).

use super::env::LOADED;
use super::state::{error_text, Shared};
use super::{bloom_filter, circular_buffer, hyperloglog};
use crate::atomic_file::AtomicFile;
use mlua::{Lua, Table, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

const VERSION: &str = "_PRESERVATION_VERSION";

/// Writes the globals of `lua` to `path`.
pub fn save(lua: &Lua, path: &Path) -> Result<(), String> {
    let text = serialize(lua).map_err(|e| error_text(&e))?;
    let dir = path.parent().ok_or("no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("no file name")?;
    AtomicFile::new(dir, name)
        .replace(text.as_bytes(), true)
        .map_err(|e| e.to_string())
}

/// Runs the saved script of `path` (if there is one) over the globals of `lua`. An error
/// means the state may be half restored: the caller starts afresh.
pub fn restore(lua: &Lua, shared: &Shared, path: &Path) -> Result<(), String> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    let current = version_of(
        &lua.globals()
            .raw_get::<Value>(VERSION)
            .unwrap_or(Value::Nil),
    );
    let saved = saved_version(&text);
    if saved != current {
        log::info!(
            "Plugin '{}': {VERSION} changed ({saved} -> {current}): not restoring {}",
            shared.settings.name,
            path.display()
        );
        return Ok(());
    }
    // The saved state is data, not code to meter: no instruction limit (memory still is).
    let instructions = &shared.instructions;
    instructions.start_call();
    let result = lua
        .load(text)
        .set_name(format!("@{}", path.display()))
        .exec();
    instructions.finish_call();
    result.map_err(|e| format!("damaged preservation file: {}", error_text(&e)))
}

fn version_of(v: &Value) -> f64 {
    match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        _ => 0.0,
    }
}

/// The version on the saved script's first line (`_PRESERVATION_VERSION = n`).
fn saved_version(text: &[u8]) -> f64 {
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    std::str::from_utf8(first)
        .ok()
        .and_then(|line| line.strip_prefix(VERSION))
        .and_then(|rest| rest.trim().strip_prefix('='))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The Lua script that rebuilds the globals of `lua`.
pub fn serialize(lua: &Lua) -> mlua::Result<String> {
    let globals = lua.globals();
    let loaded: Table = lua.named_registry_value(LOADED)?;
    let mut skip = Vec::new();
    for pair in loaded.pairs::<Value, Value>() {
        if let (_, Value::Table(t)) = pair? {
            skip.push(t.to_pointer());
        }
    }
    let mut out = String::new();
    let version = version_of(&globals.raw_get::<Value>(VERSION)?);
    let _ = writeln!(out, "{VERSION} = {}", number(version));
    let mut writer = Writer {
        out,
        names: HashMap::new(),
        skip,
    };
    for pair in globals.pairs::<Value, Value>() {
        let (key, value) = pair?;
        let Value::String(name) = &key else {
            continue;
        };
        let name = name.to_str()?.to_owned();
        if name == VERSION || name == "_G" {
            continue;
        }
        let target = match is_identifier(&name) {
            true => name.clone(),
            false => format!("_G[{}]", quoted(name.as_bytes())),
        };
        writer.assign(&target, &value)?;
    }
    Ok(writer.out)
}

struct Writer {
    out: String,
    /// Tables and userdata already written, by address: later references reuse the
    /// first name.
    names: HashMap<*const std::ffi::c_void, String>,
    skip: Vec<*const std::ffi::c_void>,
}

impl Writer {
    /// Writes `target = value` (and, for a table, its contents), if `value` is kept.
    fn assign(&mut self, target: &str, value: &Value) -> mlua::Result<()> {
        if let Value::UserData(ud) = value {
            let pointer = ud.to_pointer();
            if let Some(name) = self.names.get(&pointer) {
                let _ = writeln!(self.out, "{target} = {name}");
                return Ok(());
            }
            let script = circular_buffer::preservation_script(ud, target)
                .or_else(|| hyperloglog::preservation_script(ud, target))
                .or_else(|| bloom_filter::preservation_script(ud, target));
            if let Some(script) = script {
                self.names.insert(pointer, target.to_owned());
                self.out.push_str(&script);
            }
            return Ok(());
        }
        let Some(text) = self.value(value) else {
            return Ok(());
        };
        match text {
            Literal::Text(text) => {
                let _ = writeln!(self.out, "{target} = {text}");
            }
            Literal::Table(t) => {
                let pointer = t.to_pointer();
                if let Some(name) = self.names.get(&pointer) {
                    let _ = writeln!(self.out, "{target} = {name}");
                    return Ok(());
                }
                if self.skip.contains(&pointer) {
                    return Ok(());
                }
                self.names.insert(pointer, target.to_owned());
                let _ = writeln!(self.out, "{target} = {{}}");
                for pair in t.pairs::<Value, Value>() {
                    let (key, value) = pair?;
                    let key = match &key {
                        Value::String(s) => quoted(&s.as_bytes()),
                        Value::Integer(i) => i.to_string(),
                        Value::Number(n) => number(*n),
                        Value::Boolean(b) => b.to_string(),
                        _ => continue,
                    };
                    self.assign(&format!("{target}[{key}]"), &value)?;
                }
            }
        }
        Ok(())
    }

    fn value(&self, value: &Value) -> Option<Literal> {
        match value {
            Value::Integer(i) => Some(Literal::Text(i.to_string())),
            Value::Number(n) => Some(Literal::Text(number(*n))),
            Value::Boolean(b) => Some(Literal::Text(b.to_string())),
            Value::String(s) => Some(Literal::Text(quoted(&s.as_bytes()))),
            Value::Table(t) if t.metatable().is_none() => Some(Literal::Table(t.clone())),
            _ => None,
        }
    }
}

enum Literal {
    Text(String),
    Table(Table),
}

/// A number that reads back exactly.
fn number(n: f64) -> String {
    if n.is_nan() {
        "0/0".into()
    } else if n.is_infinite() {
        if n > 0.0 { "1/0" } else { "-1/0" }.into()
    } else if n == n.trunc() && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:?}")
    }
}

/// A Lua string literal for any bytes.
pub(super) fn quoted(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
    out
}

fn is_identifier(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
        "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ];
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings_read_back_exactly() {
        assert_eq!(number(5.0), "5");
        assert_eq!(number(-0.1), "-0.1");
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(f64::INFINITY), "1/0");
        assert_eq!(quoted(b"a\"b\\\n\x00\xff"), "\"a\\\"b\\\\\\n\\000\\255\"");
        assert_eq!(saved_version(b"_PRESERVATION_VERSION = 2\nx = 1\n"), 2.0);
        assert!(is_identifier("count_1") && !is_identifier("end") && !is_identifier("a b"));
    }
}
