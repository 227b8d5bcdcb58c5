//! The sandboxed Lua environment (§7.1): Lua 5.1's libraries minus what a sandbox may not
//! use, `require` over the built-in modules and `module_directory`, `os.date`/`os.time`
//! in UTC, pattern functions bounded by the instruction limit, and a count hook.

use super::config::SandboxSettings;
use super::limits::{Instructions, NativeMemory, INSTRUCTION_LIMIT_EXCEEDED};
use super::{bloom_filter, circular_buffer, cjson, hyperloglog, library, lpeg, lua_pattern};
use crate::pipeline::shutdown::Control;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::path::PathBuf;
use std::rc::Rc;

/// Registry key of the table of loaded modules (`package.loaded`, which scripts do not
/// see).
pub const LOADED: &str = "hekad.loaded";

/// Instructions between two runs of the count hook when there is no limit to enforce
/// (it then only watches for shutdown).
const UNLIMITED_HOOK_STEP: u32 = 10_000;

/// A new Lua 5.1 state set up as a sandbox of `settings.kind`.
pub fn new_state(
    settings: &SandboxSettings,
    instructions: &Rc<Instructions>,
    stop: Option<Control>,
) -> mlua::Result<Lua> {
    let io = settings.kind.has_io();
    let mut libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS;
    if io {
        libs |= StdLib::IO;
    }
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    if settings.memory_limit > 0 {
        lua.set_memory_limit(settings.memory_limit)?;
    }
    lua.set_app_data(NativeMemory::new(settings.memory_limit));
    super::api::prepare(&lua)?;
    let globals = lua.globals();
    let removed: &[&str] = match io {
        true => &["dofile", "load", "loadfile", "loadstring", "print"],
        false => &[
            "collectgarbage",
            "coroutine",
            "dofile",
            "load",
            "loadfile",
            "loadstring",
            "newproxy",
            "print",
        ],
    };
    for name in removed {
        globals.raw_set(*name, Value::Nil)?;
    }
    let os: Table = globals.raw_get("os")?;
    let removed_os: &[&str] = match io {
        true => &["exit", "setlocale"],
        false => &[
            "getenv",
            "execute",
            "exit",
            "remove",
            "rename",
            "setlocale",
            "tmpname",
        ],
    };
    for name in removed_os {
        os.raw_set(*name, Value::Nil)?;
    }
    os.raw_set("date", lua.create_function(os_date)?)?;
    os.raw_set("time", lua.create_function(os_time)?)?;
    lua_pattern::install(&lua, instructions.clone())?;
    install_hook(&lua, instructions, stop.clone())?;
    guard_pcall(&lua, instructions)?;
    install_require(&lua, settings, io, instructions, stop)?;
    Ok(lua)
}

/// The count hook: charges the instruction budget and, for scripts allowed to run
/// forever (inputs), ends them once hekad shuts down.
fn install_hook(
    lua: &Lua,
    instructions: &Rc<Instructions>,
    stop: Option<Control>,
) -> mlua::Result<()> {
    let limit = instructions.limit();
    if limit == 0 && stop.is_none() {
        return Ok(());
    }
    let step = match limit {
        0 => UNLIMITED_HOOK_STEP,
        n => n.clamp(1, 1000) as u32,
    };
    let instructions = instructions.clone();
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(step),
        move |_lua, debug| {
            if stop.as_ref().is_some_and(Control::is_stopping) {
                return Err(mlua::Error::runtime("aborted"));
            }
            if instructions.charge(u64::from(step)).is_err() {
                let line = debug.current_line().unwrap_or(0);
                let source = debug.source().short_src.unwrap_or_default().into_owned();
                return Err(mlua::Error::runtime(format!(
                    "{source}:{line}: {INSTRUCTION_LIMIT_EXCEEDED}"
                )));
            }
            Ok(VmState::Continue)
        },
    )
}

/// `pcall` and `xpcall` that cannot swallow a call's end: once the instruction budget is
/// exceeded, the error they caught is raised again, so `while true do pcall(f) end`
/// still stops.
fn guard_pcall(lua: &Lua, instructions: &Rc<Instructions>) -> mlua::Result<()> {
    let budget = instructions.clone();
    let check = lua.create_function(move |_, ()| budget.check())?;
    lua.load(
        r#"
        local pcall, xpcall, check = pcall, xpcall, ...
        local function after(ok, ...)
            if not ok then check() end
            return ok, ...
        end
        _G.pcall = function(...) return after(pcall(...)) end
        _G.xpcall = function(...) return after(xpcall(...)) end
        "#,
    )
    .set_name("=sandbox")
    .call::<()>(check)
}

/// `require(name)`: a module already loaded, a built-in Rust module (which also becomes
/// the global `name`, as Heka's scripts expect), `<name>.lua` from `module_directory`, or
/// the module of that name in hekad's built-in Lua library.
fn install_require(
    lua: &Lua,
    settings: &SandboxSettings,
    io: bool,
    instructions: &Rc<Instructions>,
    stop: Option<Control>,
) -> mlua::Result<()> {
    let globals = lua.globals();
    let loaded = lua.create_table()?;
    let mut libraries = vec!["string", "table", "math", "os", "_G"];
    if io {
        libraries.push("io");
        libraries.push("coroutine");
    }
    for name in libraries {
        let library: Value = globals.raw_get(name)?;
        if !library.is_nil() {
            loaded.raw_set(name, library)?;
        }
    }
    lua.set_named_registry_value(LOADED, loaded)?;
    let dirs = settings.module_dirs.clone();
    let limits = Builtins {
        json: cjson::JsonLimits {
            output_limit: settings.output_limit,
            max_decode: settings.memory_limit / 2,
        },
        instructions: instructions.clone(),
        memory_limit: settings.memory_limit,
        tonumber: globals.raw_get("tonumber")?,
        stop,
    };
    super::api::register(
        lua,
        &globals,
        "require",
        move |lua, name: mlua::LuaString| {
            let loaded: Table = lua.named_registry_value(LOADED)?;
            let key = name.to_str()?.to_owned();
            match loaded.raw_get::<Value>(key.as_str())? {
                Value::Nil => {}
                Value::LightUserData(_) => {
                    return Err(mlua::Error::runtime(format!(
                        "loop or previous error loading module '{key}'"
                    )))
                }
                module => return Ok(module),
            }
            if let Some(module) = builtin(lua, &key, &limits)? {
                loaded.raw_set(key.as_str(), module.clone())?;
                lua.globals().raw_set(key.as_str(), module.clone())?;
                return Ok(module);
            }
            let (source, chunk_name) = match find_module(&dirs, &key) {
                Some(path) => {
                    let source = std::fs::read(&path).map_err(|e| {
                        mlua::Error::runtime(format!(
                            "error loading module '{key}' from {}: {e}",
                            path.display()
                        ))
                    })?;
                    (source, format!("@{}", path.display()))
                }
                None => match library::module(&key) {
                    Some((path, source)) => (source.as_bytes().to_vec(), format!("@{path}")),
                    None => return Err(mlua::Error::runtime(not_found(&key, &dirs))),
                },
            };
            // A sentinel while it loads: a module requiring itself is an error, not a loop.
            loaded.raw_set(
                key.as_str(),
                Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
            )?;
            let result = lua
                .load(source)
                .set_name(chunk_name)
                .call::<Value>(key.as_str());
            let module = match result {
                Ok(Value::Nil) => match loaded.raw_get::<Value>(key.as_str())? {
                    Value::LightUserData(_) => Value::Boolean(true),
                    set_by_module => set_by_module,
                },
                Ok(module) => module,
                Err(e) => {
                    loaded.raw_set(key.as_str(), Value::Nil)?;
                    return Err(e);
                }
            };
            loaded.raw_set(key.as_str(), module.clone())?;
            Ok(module)
        },
    )
}

/// What the built-in modules are made with.
struct Builtins {
    json: cjson::JsonLimits,
    instructions: Rc<Instructions>,
    memory_limit: usize,
    /// The base library's, before any script could replace it.
    tonumber: Option<mlua::Function>,
    stop: Option<Control>,
}

/// The built-in module `name`, made for this state.
fn builtin(lua: &Lua, name: &str, with: &Builtins) -> mlua::Result<Option<Value>> {
    match name {
        "cjson" => Ok(Some(Value::Table(cjson::module(lua, with.json)?))),
        "lpeg" => Ok(Some(Value::Table(lpeg::module(
            lua,
            with.instructions.clone(),
            with.memory_limit,
            with.tonumber.clone(),
            with.stop.clone(),
        )?))),
        "re" => Ok(Some(lpeg::re_module(lua)?)),
        "circular_buffer" => Ok(Some(Value::Table(circular_buffer::module(lua)?))),
        "hyperloglog" => Ok(Some(Value::Table(hyperloglog::module(lua)?))),
        "bloom_filter" => Ok(Some(Value::Table(bloom_filter::module(lua)?))),
        _ => Ok(None),
    }
}

/// Lua's "module not found" text, listing where hekad looked.
fn not_found(key: &str, dirs: &[PathBuf]) -> String {
    let mut tried = format!("module '{key}' not found:\n\tno built-in module '{key}'");
    for dir in dirs {
        tried.push_str(&format!(
            "\n\tno file '{}'",
            dir.join(module_file(key)).display()
        ));
    }
    tried.push_str(&format!(
        "\n\tno file 'lua_modules/{}' in hekad's library",
        module_file(key)
    ));
    tried
}

/// `a.b.c` is looked for as `a/b/c.lua`.
fn module_file(name: &str) -> String {
    format!("{}.lua", name.replace('.', "/"))
}

fn find_module(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    if name.contains("..") || name.starts_with('/') {
        return None;
    }
    let file = module_file(name);
    dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file())
}

/// Seconds since the epoch for `os.date`'s optional time argument: Heka's scripts pass
/// fractional seconds (`ns / 1e9`), which are floored.
fn time_arg(value: Option<f64>) -> mlua::Result<jiff::Timestamp> {
    let seconds = match value {
        Some(t) if t.is_finite() => t.floor() as i64,
        Some(_) => {
            return Err(mlua::Error::runtime(
                "bad argument #2 to 'date' (time out of range)",
            ))
        }
        None => jiff::Timestamp::now().as_second(),
    };
    jiff::Timestamp::from_second(seconds)
        .map_err(|_| mlua::Error::runtime("bad argument #2 to 'date' (time out of range)"))
}

/// `os.date([format [, time]])` in UTC (the sandbox's time zone, §7.1): strftime text, or
/// a table for `*t`.
fn os_date(
    lua: &Lua,
    (format, time): (Option<mlua::LuaString>, Option<f64>),
) -> mlua::Result<Value> {
    let format = match &format {
        Some(f) => f.to_str()?.to_owned(),
        None => "%c".to_owned(),
    };
    let format = format.strip_prefix('!').unwrap_or(&format);
    let zoned = time_arg(time)?.to_zoned(jiff::tz::TimeZone::UTC);
    if format.starts_with("*t") {
        let t = lua.create_table()?;
        t.raw_set("year", zoned.year())?;
        t.raw_set("month", zoned.month())?;
        t.raw_set("day", zoned.day())?;
        t.raw_set("hour", zoned.hour())?;
        t.raw_set("min", zoned.minute())?;
        t.raw_set("sec", zoned.second())?;
        t.raw_set("wday", zoned.weekday().to_sunday_one_offset())?;
        t.raw_set("yday", zoned.day_of_year())?;
        t.raw_set("isdst", false)?;
        return Ok(Value::Table(t));
    }
    // The C locale's composite forms, which jiff words differently.
    let format = format
        .replace("%c", "%a %b %e %H:%M:%S %Y")
        .replace("%x", "%m/%d/%y")
        .replace("%X", "%H:%M:%S");
    let mut out = String::new();
    use std::fmt::Write as _;
    write!(out, "{}", zoned.strftime(&format)).map_err(|_| {
        mlua::Error::runtime(format!(
            "bad argument #1 to 'date' (invalid format '{format}')"
        ))
    })?;
    Ok(Value::String(lua.create_string(out)?))
}

/// `os.time([table])` in UTC: now, or the time a date table names (normalised as C's
/// `mktime` does: month 13 is January of the next year).
fn os_time(_: &Lua, table: Option<Table>) -> mlua::Result<f64> {
    let Some(t) = table else {
        return Ok(jiff::Timestamp::now().as_second() as f64);
    };
    // As Lua 5.1's getfield: a number or a numeric string ("2014", as date grammars
    // capture them); anything else is the default, or an error when there is none.
    let field = |name: &str, default: Option<i64>| -> mlua::Result<i64> {
        let number = match t.raw_get::<Value>(name)? {
            Value::Integer(i) => Some(super::api::lua_integer(i)),
            Value::Number(n) => Some(n as i64),
            Value::String(s) => s.to_str().ok().and_then(|s| lua_number(s.trim())),
            _ => None,
        };
        number
            .or(default)
            .ok_or_else(|| mlua::Error::runtime(format!("field '{name}' missing in date table")))
    };
    let (year, month) = (field("year", None)?, field("month", None)?);
    let day = field("day", None)?;
    let hour = field("hour", Some(12))?;
    let minute = field("min", Some(0))?;
    let second = field("sec", Some(0))?;
    let months = year * 12 + (month - 1);
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let days = days_from_civil(year, month, 1) + (day - 1);
    Ok((days * 86_400 + hour * 3_600 + minute * 60 + second) as f64)
}

/// A numeric string as Lua reads it (decimal, or hexadecimal with `0x`), truncated.
fn lua_number(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i64::from_str_radix(hex, 16).ok()? as f64,
        None => digits.parse::<f64>().ok().filter(|n| n.is_finite())?,
    };
    Some(if negative { -value } else { value } as i64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_strings_read_as_lua_reads_them() {
        assert_eq!(lua_number("2014"), Some(2014));
        assert_eq!(lua_number("07"), Some(7));
        assert_eq!(lua_number("0x10"), Some(16));
        assert_eq!(lua_number("-3.7"), Some(-3));
        assert_eq!(lua_number("ab"), None);
        assert_eq!(lua_number(""), None);
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2014, 2, 10), 16_111);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }
}
