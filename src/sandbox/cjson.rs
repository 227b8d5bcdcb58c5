//! Heka's built-in `cjson` module: lua-cjson 2.1 as lua_sandbox configured it.
//!
//! Stock Heka scripts call `cjson.decode` and `cjson.encode`, often under `pcall`. This is
//! lua-cjson's behaviour (array detection, sparse arrays, `%.14g` numbers, escaping `/`,
//! error texts with their token names and 1-based byte positions) with lua_sandbox's
//! changes: JSON `null` is dropped unless `cjson.decode_null(true)`, `new()` and
//! `encode_keep_buffer()` are absent, the encoded text is capped by the sandbox's
//! `output_limit` and decode input by about half its `memory_limit`.
//!
//! Errors reach Lua as plain strings without a position prefix, as lua-cjson's `luaL_error`
//! raises them: each function is a Rust function wrapped in a small Lua closure that passes
//! a failure message to `error(msg, 0)`. Errors of the Lua state itself (memory) pass
//! through unchanged. Neither direction recurses natively: open tables and containers are
//! kept on explicit stacks, and nesting is capped at 1000 levels.

use super::api::{lua_integer, type_name};
use std::cell::Cell;
use std::fmt::Display;
use std::rc::Rc;

use mlua::{Function, Integer, Lua, LuaString, MultiValue, Table, Value};

use super::number::{format_g, format_g14};

/// The limits a sandbox puts on its `cjson` module.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLimits {
    /// Most bytes `cjson.encode` may produce (the sandbox's `output_limit`); 0: unlimited.
    pub output_limit: usize,
    /// Most bytes of input `cjson.decode` accepts (about half the sandbox's
    /// `memory_limit`); 0: unlimited.
    pub max_decode: usize,
}

/// Text of the error that ends an encode whose output would pass `output_limit`.
pub const OUTPUT_LIMIT_EXCEEDED: &str = "output_limit exceeded";

/// Nesting stops here whatever `encode_max_depth`/`decode_max_depth` say: every level holds
/// mlua references, and mlua aborts when Lua 5.1's reference stack (about 8,000 slots) is
/// full. lua-cjson on Lua 5.1 has a similar hidden cap (its `lua_checkstack` calls).
const NESTING_CAP: usize = 1000;

/// lua-cjson stores its integer settings in C ints.
const INT_MAX: i64 = i32::MAX as i64;

/// Turns each Rust function's `(true, results...)` or `(false, message)` into a return or a
/// plain-string Lua error.
const WRAPPER: &str = "\
local raw, error = ...
local function finish(ok, ...)
  if ok then return ... end
  error((...), 0)
end
return function(...) return finish(raw(...)) end
";

/// `encode_invalid_numbers`: refuse NaN and infinities, write them as JavaScript does, or
/// write `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvalidNumbers {
    Off,
    On,
    Null,
}

/// One module instance's settings (lua-cjson's `json_config_t`), changed by the
/// configuration functions.
#[derive(Debug, Clone, Copy)]
struct Config {
    sparse_convert: bool,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    number_precision: i64,
    encode_invalid: InvalidNumbers,
    decode_invalid: bool,
    decode_null: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            number_precision: 14,
            encode_invalid: InvalidNumbers::Off,
            decode_invalid: true,
            decode_null: false,
        }
    }
}

/// Picks one integer setting out of the settings.
type IntegerField = fn(&mut Config) -> &mut i64;

/// Picks one switch out of the settings.
type BoolField = fn(&mut Config) -> &mut bool;

/// Why a call failed: a message for the script, or an error of the Lua state (memory).
#[derive(Debug)]
enum Failure {
    Message(String),
    Lua(mlua::Error),
}

impl From<mlua::Error> for Failure {
    fn from(error: mlua::Error) -> Failure {
        Failure::Lua(error)
    }
}

type Outcome<T> = Result<T, Failure>;

fn fail<T>(message: impl Into<String>) -> Outcome<T> {
    Err(Failure::Message(message.into()))
}

/// luaL_argerror's text.
fn bad_argument(index: usize, function: &str, problem: impl Display) -> Failure {
    Failure::Message(format!("bad argument #{index} to '{function}' ({problem})"))
}

/// Builds the `cjson` table of one sandbox: its own settings, and the sandbox's limits.
///
/// Needs the base library's `error` and `next` in the globals (every Heka sandbox has them).
pub fn module(lua: &Lua, limits: JsonLimits) -> mlua::Result<Table> {
    let config = Rc::new(Cell::new(Config::default()));
    let wrapper = Wrapper::new(lua)?;
    let module = lua.create_table()?;

    let cfg = Rc::clone(&config);
    let next = base_function(lua, "next")?;
    let encode = move |lua: &Lua, args| encode(lua, cfg.get(), limits, &next, args);
    module.raw_set("encode", wrapper.wrap(lua, encode)?)?;
    let cfg = Rc::clone(&config);
    let decode = move |lua: &Lua, args| decode(lua, cfg.get(), limits, args);
    module.raw_set("decode", wrapper.wrap(lua, decode)?)?;

    let cfg = Rc::clone(&config);
    let sparse = move |_: &Lua, args| encode_sparse_array(&cfg, args);
    module.raw_set("encode_sparse_array", wrapper.wrap(lua, sparse)?)?;
    let integer_settings: [(&'static str, IntegerField, i64); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, INT_MAX),
        ("decode_max_depth", |c| &mut c.decode_max_depth, INT_MAX),
        ("encode_number_precision", |c| &mut c.number_precision, 14),
    ];
    for (name, field, max) in integer_settings {
        let cfg = Rc::clone(&config);
        let setting = move |_: &Lua, args| integer_setting(&cfg, name, field, 1..=max, args);
        module.raw_set(name, wrapper.wrap(lua, setting)?)?;
    }
    let bool_settings: [(&'static str, BoolField); 2] = [
        ("decode_invalid_numbers", |c| &mut c.decode_invalid),
        ("decode_null", |c| &mut c.decode_null),
    ];
    for (name, field) in bool_settings {
        let cfg = Rc::clone(&config);
        let setting = move |_: &Lua, args| bool_setting(&cfg, name, field, args);
        module.raw_set(name, wrapper.wrap(lua, setting)?)?;
    }
    let cfg = Rc::clone(&config);
    let invalid = move |lua: &Lua, args| encode_invalid_numbers(lua, &cfg, args);
    module.raw_set("encode_invalid_numbers", wrapper.wrap(lua, invalid)?)?;

    module.raw_set("null", Value::NULL)?;
    module.raw_set("_NAME", "cjson")?;
    module.raw_set("_VERSION", "2.1.0")?;
    Ok(module)
}

/// A base library function the module relies on, taken from the globals when it is built.
fn base_function(lua: &Lua, name: &str) -> mlua::Result<Function> {
    match lua.globals().raw_get(name)? {
        Value::Function(function) => Ok(function),
        _ => Err(mlua::Error::runtime(format!(
            "cjson needs the base library's {name} function"
        ))),
    }
}

/// Makes Lua functions that raise a failure's message as a plain string.
struct Wrapper {
    make: Function,
    error: Function,
}

impl Wrapper {
    fn new(lua: &Lua) -> mlua::Result<Wrapper> {
        let error = base_function(lua, "error")?;
        let make = lua.load(WRAPPER).set_name("=cjson").into_function()?;
        Ok(Wrapper { make, error })
    }

    fn wrap<F>(&self, lua: &Lua, function: F) -> mlua::Result<Function>
    where
        F: Fn(&Lua, MultiValue) -> Outcome<MultiValue> + 'static,
    {
        let raw = lua.create_function(move |lua, args: MultiValue| match function(lua, args) {
            Ok(mut results) => {
                results.push_front(Value::Boolean(true));
                Ok(results)
            }
            Err(Failure::Message(message)) => {
                let message = Value::String(lua.create_string(message)?);
                Ok(MultiValue::from_vec(vec![Value::Boolean(false), message]))
            }
            Err(Failure::Lua(error)) => Err(error),
        })?;
        self.make.call((raw, self.error.clone()))
    }
}

// ===== Configuration functions =====

/// lua-cjson's `json_arg_init`: at most `count` arguments, missing ones are nil.
fn option_args(args: MultiValue, count: usize, function: &str) -> Outcome<Vec<Value>> {
    if args.len() > count {
        return Err(bad_argument(
            count + 1,
            function,
            "found too many arguments",
        ));
    }
    let mut args = args.into_vec();
    args.resize(count, Value::Nil);
    Ok(args)
}

/// lua-cjson's `json_integer_option`: nil keeps the setting.
fn integer_option(
    arg: &Value,
    index: usize,
    function: &str,
    range: std::ops::RangeInclusive<i64>,
    setting: &mut i64,
) -> Outcome<()> {
    if arg.is_nil() {
        return Ok(());
    }
    let Some(value) = to_integer(arg) else {
        let problem = format!("number expected, got {}", type_name(arg));
        return Err(bad_argument(index, function, problem));
    };
    if !range.contains(&value) {
        // lua-cjson always names argument 1 here.
        let (min, max) = (range.start(), range.end());
        return Err(bad_argument(
            1,
            function,
            format!("expected integer between {min} and {max}"),
        ));
    }
    *setting = value;
    Ok(())
}

/// `luaL_checkinteger`'s conversion: numbers and numeric strings, truncated.
fn to_integer(value: &Value) -> Option<i64> {
    let number = match value {
        Value::Integer(i) => return Some(lua_integer(*i)),
        Value::Number(n) => *n,
        Value::String(s) => lua_string_number(&s.as_bytes())?,
        _ => return None,
    };
    // Saturating; NaN gives 0 (C leaves both undefined).
    Some(number.trunc() as i64)
}

/// Lua 5.1's `tonumber` of a string: C's strtod (hexadecimal included), blanks around.
fn lua_string_number(text: &[u8]) -> Option<f64> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let (value, used) = scan_number(&text[start..])?;
    let rest = &text[start + used..];
    rest.iter().all(u8::is_ascii_whitespace).then_some(value)
}

/// lua-cjson's `json_enum_option` with `options[0]`/`options[1]` meaning false/true: the
/// index of the chosen option, or `None` for nil (keep the setting).
fn enum_option(
    arg: &Value,
    index: usize,
    function: &str,
    options: &[&str],
) -> Outcome<Option<usize>> {
    let text = match arg {
        Value::Nil => return Ok(None),
        Value::Boolean(b) => return Ok(Some(usize::from(*b))),
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(_) | Value::Number(_) => number_text(arg),
        other => {
            let problem = format!("string expected, got {}", type_name(other));
            return Err(bad_argument(index, function, problem));
        }
    };
    match options.iter().position(|o| o.as_bytes() == text) {
        Some(chosen) => Ok(Some(chosen)),
        None => {
            let problem = format!("invalid option '{}'", String::from_utf8_lossy(&text));
            Err(bad_argument(index, function, problem))
        }
    }
}

/// A number argument as Lua 5.1 turns it into a string.
fn number_text(number: &Value) -> Vec<u8> {
    let mut text = Vec::new();
    match number {
        Value::Integer(i) => format_g14(*i as f64, &mut text),
        Value::Number(n) => format_g14(*n, &mut text),
        _ => {}
    }
    text
}

/// `cjson.encode_sparse_array([convert[, ratio[, safe]]])`: returns the three settings.
fn encode_sparse_array(config: &Cell<Config>, args: MultiValue) -> Outcome<MultiValue> {
    const NAME: &str = "encode_sparse_array";
    let args = option_args(args, 3, NAME)?;
    let mut c = config.get();
    if let Some(chosen) = enum_option(&args[0], 1, NAME, &["off", "on"])? {
        c.sparse_convert = chosen == 1;
    }
    integer_option(&args[1], 2, NAME, 0..=INT_MAX, &mut c.sparse_ratio)?;
    integer_option(&args[2], 3, NAME, 0..=INT_MAX, &mut c.sparse_safe)?;
    config.set(c);
    Ok(MultiValue::from_vec(vec![
        Value::Boolean(c.sparse_convert),
        Value::Number(c.sparse_ratio as f64),
        Value::Number(c.sparse_safe as f64),
    ]))
}

/// `cjson.encode_max_depth`, `decode_max_depth`, `encode_number_precision`: set (when given)
/// and return one integer setting.
fn integer_setting(
    config: &Cell<Config>,
    name: &str,
    field: IntegerField,
    range: std::ops::RangeInclusive<i64>,
    args: MultiValue,
) -> Outcome<MultiValue> {
    let args = option_args(args, 1, name)?;
    let mut c = config.get();
    integer_option(&args[0], 1, name, range, field(&mut c))?;
    config.set(c);
    Ok(MultiValue::from_vec(vec![Value::Number(
        *field(&mut c) as f64
    )]))
}

/// `cjson.decode_null`, `decode_invalid_numbers`: set (when given) and return one switch.
fn bool_setting(
    config: &Cell<Config>,
    name: &str,
    field: BoolField,
    args: MultiValue,
) -> Outcome<MultiValue> {
    let args = option_args(args, 1, name)?;
    let mut c = config.get();
    if let Some(chosen) = enum_option(&args[0], 1, name, &["off", "on"])? {
        *field(&mut c) = chosen == 1;
    }
    config.set(c);
    Ok(MultiValue::from_vec(vec![Value::Boolean(*field(&mut c))]))
}

/// `cjson.encode_invalid_numbers([true|false|"on"|"off"|"null"])`.
fn encode_invalid_numbers(
    lua: &Lua,
    config: &Cell<Config>,
    args: MultiValue,
) -> Outcome<MultiValue> {
    const NAME: &str = "encode_invalid_numbers";
    const OPTIONS: [&str; 3] = ["off", "on", "null"];
    let args = option_args(args, 1, NAME)?;
    let mut c = config.get();
    if let Some(chosen) = enum_option(&args[0], 1, NAME, &OPTIONS)? {
        c.encode_invalid = match chosen {
            0 => InvalidNumbers::Off,
            1 => InvalidNumbers::On,
            _ => InvalidNumbers::Null,
        };
    }
    config.set(c);
    let result = match c.encode_invalid {
        InvalidNumbers::Off => Value::Boolean(false),
        InvalidNumbers::On => Value::Boolean(true),
        InvalidNumbers::Null => Value::String(lua.create_string("null")?),
    };
    Ok(MultiValue::from_vec(vec![result]))
}

// ===== Encoding =====

/// `cjson.encode(value)`.
fn encode(
    lua: &Lua,
    config: Config,
    limits: JsonLimits,
    next: &Function,
    args: MultiValue,
) -> Outcome<MultiValue> {
    let Ok([value]) = <[Value; 1]>::try_from(args.into_vec()) else {
        return Err(bad_argument(1, "encode", "expected 1 argument"));
    };
    let mut encoder = Encoder::new(config, limits.output_limit, next.clone());
    encoder.document(value)?;
    let text = lua.create_string(&encoder.out.bytes)?;
    Ok(MultiValue::from_vec(vec![Value::String(text)]))
}

/// The encoded text, refusing to grow past the output limit.
struct Output {
    bytes: Vec<u8>,
    /// 0: unlimited.
    limit: usize,
}

impl Output {
    fn push(&mut self, bytes: &[u8]) -> Outcome<()> {
        if self.limit > 0 && self.bytes.len() + bytes.len() > self.limit {
            return fail(OUTPUT_LIMIT_EXCEEDED);
        }
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }
}

/// A table being written.
enum Open {
    Array {
        table: Table,
        next: Integer,
        length: Integer,
    },
    /// `key`: the last key written, nil before the first.
    Object { table: Table, key: Value },
}

/// Writes Lua values as JSON with lua-cjson's rules, keeping the tables being written on
/// an explicit stack (no native recursion).
struct Encoder {
    config: Config,
    max_depth: usize,
    precision: usize,
    out: Output,
    /// Scratch space for one number's text.
    number: Vec<u8>,
    /// The base library's `next`: object members in `pairs` order, one at a time.
    next: Function,
}

impl Encoder {
    fn new(config: Config, output_limit: usize, next: Function) -> Encoder {
        let depth = usize::try_from(config.encode_max_depth).unwrap_or(NESTING_CAP);
        Encoder {
            config,
            max_depth: depth.min(NESTING_CAP),
            precision: usize::try_from(config.number_precision).unwrap_or(14),
            out: Output {
                bytes: Vec::new(),
                limit: output_limit,
            },
            number: Vec::new(),
            next,
        }
    }

    fn document(&mut self, root: Value) -> Outcome<()> {
        let mut open = Vec::new();
        self.value(root, &mut open)?;
        while let Some(table) = open.last_mut() {
            match self.next_member(table)? {
                Some(value) => self.value(value, &mut open)?,
                None => {
                    open.pop();
                }
            }
        }
        Ok(())
    }

    /// Writes a scalar, or the start of a table (pushed on `open`).
    fn value(&mut self, value: Value, open: &mut Vec<Open>) -> Outcome<()> {
        match value {
            Value::Nil => self.out.push(b"null"),
            Value::Boolean(true) => self.out.push(b"true"),
            Value::Boolean(false) => self.out.push(b"false"),
            Value::LightUserData(p) if p.0.is_null() => self.out.push(b"null"),
            Value::Integer(i) => self.number(i as f64),
            Value::Number(n) => self.number(n),
            Value::String(s) => self.string(&s.as_bytes()),
            Value::Table(table) => self.open_table(table, open),
            other => fail(format!(
                "Cannot serialise {}: type not supported",
                type_name(&other)
            )),
        }
    }

    fn open_table(&mut self, table: Table, open: &mut Vec<Open>) -> Outcome<()> {
        let depth = open.len() + 1;
        if depth > self.max_depth {
            return fail(format!("Cannot serialise, excessive nesting ({depth})"));
        }
        match self.array_length(&table)? {
            Some(length) if length > 0 => {
                self.out.push(b"[")?;
                open.push(Open::Array {
                    table,
                    next: 1,
                    length,
                });
            }
            _ => {
                self.out.push(b"{")?;
                open.push(Open::Object {
                    table,
                    key: Value::Nil,
                });
            }
        }
        Ok(())
    }

    /// Writes the separator (and key) of the table's next member and returns its value,
    /// or writes the table's end and returns `None`.
    fn next_member(&mut self, open: &mut Open) -> Outcome<Option<Value>> {
        match open {
            Open::Array {
                table,
                next,
                length,
            } => {
                if *next > *length {
                    self.out.push(b"]")?;
                    return Ok(None);
                }
                if *next > 1 {
                    self.out.push(b",")?;
                }
                let value = table.raw_get(*next)?;
                *next += 1;
                Ok(Some(value))
            }
            Open::Object { table, key } => {
                let (next_key, value): (Value, Value) = self.next.call((&*table, &*key))?;
                if next_key.is_nil() {
                    self.out.push(b"}")?;
                    return Ok(None);
                }
                if !key.is_nil() {
                    self.out.push(b",")?;
                }
                self.key(&next_key)?;
                *key = next_key;
                Ok(Some(value))
            }
        }
    }

    fn number(&mut self, x: f64) -> Outcome<()> {
        if !x.is_finite() {
            return match self.config.encode_invalid {
                InvalidNumbers::Off => fail("Cannot serialise number: must not be NaN or Infinity"),
                InvalidNumbers::Null => self.out.push(b"null"),
                InvalidNumbers::On if x.is_nan() => self.out.push(b"NaN"),
                InvalidNumbers::On if x < 0.0 => self.out.push(b"-Infinity"),
                InvalidNumbers::On => self.out.push(b"Infinity"),
            };
        }
        self.number.clear();
        format_g(x, self.precision, &mut self.number);
        self.out.push(&self.number)
    }

    /// A quoted string with lua-cjson's escapes; other bytes (UTF-8 or not) as they are.
    fn string(&mut self, text: &[u8]) -> Outcome<()> {
        self.out.push(b"\"")?;
        let mut plain_from = 0;
        for (at, &byte) in text.iter().enumerate() {
            if let Some((escape, len)) = escape_of(byte) {
                self.out.push(&text[plain_from..at])?;
                self.out.push(&escape[..len])?;
                plain_from = at + 1;
            }
        }
        self.out.push(&text[plain_from..])?;
        self.out.push(b"\"")
    }

    /// lua-cjson's `lua_array_length`: the highest index when every key is a positive
    /// integer, `None` for objects and (with `encode_sparse_array(true)`) sparse arrays.
    fn array_length(&self, table: &Table) -> Outcome<Option<Integer>> {
        let (mut max, mut items) = (0.0_f64, 0.0_f64);
        for pair in table.pairs::<Value, Value>() {
            let (key, _) = pair?;
            let Some(index) = array_index(&key) else {
                return Ok(None);
            };
            max = max.max(index);
            items += 1.0;
        }
        // lua-cjson keeps the highest index in a C int; past INT_MAX it wraps negative and
        // the table is written as an object.
        if max > INT_MAX as f64 {
            return Ok(None);
        }
        let c = &self.config;
        let sparse =
            c.sparse_ratio > 0 && max > items * c.sparse_ratio as f64 && max > c.sparse_safe as f64;
        if sparse {
            if !c.sparse_convert {
                return fail("Cannot serialise table: excessively sparse array");
            }
            return Ok(None);
        }
        Ok(Some(max as Integer))
    }

    /// An object key and its colon: strings as they are, numbers as their text.
    fn key(&mut self, key: &Value) -> Outcome<()> {
        if let Value::String(s) = key {
            self.string(&s.as_bytes())?;
        } else if let Some(number) = number_of(key) {
            self.out.push(b"\"")?;
            self.number(number)?;
            self.out.push(b"\"")?;
        } else {
            return fail(format!(
                "Cannot serialise {}: table key must be a number or string",
                type_name(key)
            ));
        }
        self.out.push(b":")
    }
}

/// A Lua number's value (mlua gives integral ones as `Integer`).
fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// The key as an array index: a positive integral number.
fn array_index(key: &Value) -> Option<f64> {
    number_of(key).filter(|&index| index >= 1.0 && index.floor() == index)
}

/// lua-cjson's `char2escape`: the escape of `byte` (bytes and length), or `None` when the
/// byte is written as it is.
fn escape_of(byte: u8) -> Option<([u8; 6], usize)> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        0x08 => b'b',
        b'\t' => b't',
        b'\n' => b'n',
        0x0c => b'f',
        b'\r' => b'r',
        0..=0x1f | 0x7f => {
            let (high, low) = (HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xf)]);
            return Some(([b'\\', b'u', b'0', b'0', high, low], 6));
        }
        _ => return None,
    };
    Some(([b'\\', short, 0, 0, 0, 0], 2))
}

// ===== Decoding =====

/// `cjson.decode(text)`.
fn decode(lua: &Lua, config: Config, limits: JsonLimits, args: MultiValue) -> Outcome<MultiValue> {
    let Ok([arg]) = <[Value; 1]>::try_from(args.into_vec()) else {
        return Err(bad_argument(1, "decode", "expected 1 argument"));
    };
    let (borrowed, owned);
    let data: &[u8] = match &arg {
        Value::String(s) => {
            borrowed = s.as_bytes();
            &borrowed
        }
        number @ (Value::Integer(_) | Value::Number(_)) => {
            owned = number_text(number);
            &owned
        }
        other => {
            let problem = format!("string expected, got {}", type_name(other));
            return Err(bad_argument(1, "decode", problem));
        }
    };
    if limits.max_decode > 0 && data.len() > limits.max_decode {
        let limit = limits.max_decode;
        return fail(format!(
            "JSON input exceeds the decode limit ({limit} bytes)"
        ));
    }
    // lua-cjson's check: only the first character is sure to be ASCII.
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return fail("JSON parser does not support UTF-16 or UTF-32");
    }
    let value = Parser::new(lua, config, data).document()?;
    Ok(MultiValue::from_vec(vec![value]))
}

/// lua-cjson's token types; `Error` carries the text its messages print instead of a name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    /// The text is in `Parser::text`.
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    fn name(self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(text) => text,
        }
    }
}

/// A token and its 0-based byte offset (for errors: where the problem is).
#[derive(Debug, Clone, Copy)]
struct Lexed {
    token: Token,
    at: usize,
}

/// An array or object being filled.
enum Frame {
    Array {
        table: Table,
        next: Integer,
    },
    Object {
        table: Table,
        key: Option<LuaString>,
    },
}

impl Frame {
    fn is_closed_by(&self, token: Token) -> bool {
        match self {
            Frame::Array { .. } => token == Token::ArrEnd,
            Frame::Object { .. } => token == Token::ObjEnd,
        }
    }

    /// Stores a member. nil (a dropped null) deletes an object key, as lua-cjson's
    /// `rawset` does, and leaves an array slot empty.
    fn store(&mut self, value: Value) -> mlua::Result<()> {
        match self {
            Frame::Array { table, next } => {
                if !value.is_nil() {
                    table.raw_set(*next, value)?;
                }
                *next += 1;
            }
            Frame::Object { table, key } => {
                if let Some(key) = key.take() {
                    table.raw_set(key, value)?;
                }
            }
        }
        Ok(())
    }

    fn into_table(self) -> Table {
        match self {
            Frame::Array { table, .. } | Frame::Object { table, .. } => table,
        }
    }
}

/// What starting a value gave: a finished value, or a new open container.
enum Begun {
    Value(Value),
    Opened,
}

/// lua-cjson's parser over bytes, with an explicit stack of open containers instead of
/// native recursion. Past the end it reads NUL bytes, which (as in C) end the input.
struct Parser<'a> {
    lua: &'a Lua,
    config: Config,
    max_depth: usize,
    data: &'a [u8],
    pos: usize,
    /// The text of the last string token.
    text: Vec<u8>,
    stack: Vec<Frame>,
}

impl<'a> Parser<'a> {
    fn new(lua: &'a Lua, config: Config, data: &'a [u8]) -> Parser<'a> {
        let depth = usize::try_from(config.decode_max_depth).unwrap_or(NESTING_CAP);
        Parser {
            lua,
            config,
            max_depth: depth.min(NESTING_CAP),
            data,
            pos: 0,
            text: Vec::new(),
            stack: Vec::new(),
        }
    }

    /// One value and the end of the input.
    fn document(mut self) -> Outcome<Value> {
        let first = self.next_token();
        let value = self.value(first)?;
        let end = self.next_token();
        if end.token != Token::End {
            return Err(unexpected("the end", end));
        }
        Ok(value)
    }

    /// The value that starts with `first`, containers and all.
    fn value(&mut self, first: Lexed) -> Outcome<Value> {
        let mut begun = self.begin_value(first)?;
        loop {
            let value = match begun {
                Begun::Opened => {
                    begun = self.first_member()?;
                    continue;
                }
                Begun::Value(value) => value,
            };
            let Some(frame) = self.stack.last_mut() else {
                return Ok(value);
            };
            frame.store(value)?;
            begun = self.after_member()?;
        }
    }

    /// A scalar, or a new container pushed on the stack.
    fn begin_value(&mut self, lexed: Lexed) -> Outcome<Begun> {
        let value = match lexed.token {
            Token::Str => Value::String(self.lua.create_string(&self.text)?),
            Token::Number(n) => Value::Number(n),
            Token::Boolean(b) => Value::Boolean(b),
            Token::Null if self.config.decode_null => Value::NULL,
            Token::Null => Value::Nil,
            Token::ObjBegin | Token::ArrBegin => {
                self.descend()?;
                let table = self.lua.create_table()?;
                self.stack.push(match lexed.token {
                    Token::ArrBegin => Frame::Array { table, next: 1 },
                    _ => Frame::Object { table, key: None },
                });
                return Ok(Begun::Opened);
            }
            _ => return Err(unexpected("value", lexed)),
        };
        Ok(Begun::Value(value))
    }

    fn descend(&self) -> Outcome<()> {
        let depth = self.stack.len() + 1;
        if depth > self.max_depth {
            // lua-cjson prints the offset just past the bracket here, 0-based.
            let at = self.pos;
            return fail(format!(
                "Found too many nested data structures ({depth}) at character {at}"
            ));
        }
        Ok(())
    }

    /// After `[` or `{`: the first member, or the end of an empty container.
    fn first_member(&mut self) -> Outcome<Begun> {
        let lexed = self.next_token();
        if let Some(closed) = self.close_if_ends(lexed.token) {
            return Ok(closed);
        }
        self.member(lexed)
    }

    /// After a member: a comma and the next member, or the end of the container.
    fn after_member(&mut self) -> Outcome<Begun> {
        let lexed = self.next_token();
        if let Some(closed) = self.close_if_ends(lexed.token) {
            return Ok(closed);
        }
        if lexed.token != Token::Comma {
            let expected = match self.stack.last() {
                Some(Frame::Object { .. }) => "comma or object end",
                _ => "comma or array end",
            };
            return Err(unexpected(expected, lexed));
        }
        let next = self.next_token();
        self.member(next)
    }

    /// Pops the open container if `token` ends it.
    fn close_if_ends(&mut self, token: Token) -> Option<Begun> {
        if !self.stack.last()?.is_closed_by(token) {
            return None;
        }
        let table = self.stack.pop()?.into_table();
        Some(Begun::Value(Value::Table(table)))
    }

    /// An array element, or an object's `"key": value`, starting at `lexed`.
    fn member(&mut self, lexed: Lexed) -> Outcome<Begun> {
        if let Some(Frame::Object { .. }) = self.stack.last() {
            if lexed.token != Token::Str {
                return Err(unexpected("object key string", lexed));
            }
            let key = self.lua.create_string(&self.text)?;
            if let Some(Frame::Object { key: slot, .. }) = self.stack.last_mut() {
                *slot = Some(key);
            }
            let colon = self.next_token();
            if colon.token != Token::Colon {
                return Err(unexpected("colon", colon));
            }
            let value = self.next_token();
            return self.begin_value(value);
        }
        self.begin_value(lexed)
    }

    fn byte(&self, at: usize) -> u8 {
        self.data.get(at).copied().unwrap_or(0)
    }

    /// lua-cjson's `json_next_token`.
    fn next_token(&mut self) -> Lexed {
        while matches!(self.byte(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let token = self.lex();
        // An error is reported where it was found (inside a string, say).
        let at = match token {
            Token::Error(_) => self.pos,
            _ => start,
        };
        Lexed { token, at }
    }

    fn lex(&mut self) -> Token {
        let single = match self.byte(self.pos) {
            b'{' => Token::ObjBegin,
            b'}' => Token::ObjEnd,
            b'[' => Token::ArrBegin,
            b']' => Token::ArrEnd,
            b',' => Token::Comma,
            b':' => Token::Colon,
            0 => return Token::End,
            b'"' => return self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.config.decode_invalid && is_invalid_number(&self.data[self.pos..]) {
                    return Token::Error("invalid number");
                }
                return self.number();
            }
            _ => return self.word(),
        };
        self.pos += 1;
        single
    }

    /// `true`, `false`, `null`, or (when `decode_invalid_numbers` is on) `+1`, `inf`, `nan`.
    fn word(&mut self) -> Token {
        let rest = &self.data[self.pos..];
        let words = [
            (&b"true"[..], Token::Boolean(true)),
            (&b"false"[..], Token::Boolean(false)),
            (&b"null"[..], Token::Null),
        ];
        for (word, token) in words {
            if rest.starts_with(word) {
                self.pos += word.len();
                return token;
            }
        }
        if self.config.decode_invalid && is_invalid_number(rest) {
            return self.number();
        }
        Token::Error("invalid token")
    }

    /// A number as C's strtod reads it (lua-cjson's `json_next_number_token`).
    fn number(&mut self) -> Token {
        match scan_number(&self.data[self.pos..]) {
            Some((value, used)) => {
                self.pos += used;
                Token::Number(value)
            }
            None => Token::Error("invalid number"),
        }
    }

    /// A string token into `self.text`; on error `pos` is left at the problem.
    fn string(&mut self) -> Token {
        self.text.clear();
        self.pos += 1;
        loop {
            let rest = &self.data[self.pos..];
            let stop = memchr::memchr3(b'"', b'\\', 0, rest).unwrap_or(rest.len());
            self.text.extend_from_slice(&rest[..stop]);
            self.pos += stop;
            match self.byte(self.pos) {
                b'"' => {
                    self.pos += 1;
                    return Token::Str;
                }
                b'\\' => {
                    if let Err(problem) = self.escape() {
                        return Token::Error(problem);
                    }
                }
                _ => return Token::Error("unexpected end of string"),
            }
        }
    }

    /// The escape at `pos` (a backslash).
    fn escape(&mut self) -> Result<(), &'static str> {
        let byte = match self.byte(self.pos + 1) {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b't' => b'\t',
            b'n' => b'\n',
            b'f' => 0x0c,
            b'r' => b'\r',
            b'u' => return self.unicode_escape(),
            _ => return Err("invalid escape code"),
        };
        self.text.push(byte);
        self.pos += 2;
        Ok(())
    }

    /// `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`, appended as UTF-8.
    fn unicode_escape(&mut self) -> Result<(), &'static str> {
        const INVALID: &str = "invalid unicode escape code";
        let mut code = self.hex4(self.pos + 2).ok_or(INVALID)?;
        let mut len = 6;
        if code & 0xF800 == 0xD800 {
            // A low surrogate first, or a high one without its low partner.
            if code & 0x400 != 0
                || self.byte(self.pos + 6) != b'\\'
                || self.byte(self.pos + 7) != b'u'
            {
                return Err(INVALID);
            }
            let low = self.hex4(self.pos + 8).ok_or(INVALID)?;
            if low & 0xFC00 != 0xDC00 {
                return Err(INVALID);
            }
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        push_utf8(&mut self.text, code);
        self.pos += len;
        Ok(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (at..at + 4).try_fold(0, |code, i| {
            let digit = char::from(self.byte(i)).to_digit(16)?;
            Some(code << 4 | digit)
        })
    }
}

/// "Expected X but found Y at character N" (N 1-based).
fn unexpected(expected: &str, found: Lexed) -> Failure {
    let (name, at) = (found.token.name(), found.at + 1);
    Failure::Message(format!(
        "Expected {expected} but found {name} at character {at}"
    ))
}

/// UTF-8 of a code point up to 0x10FFFF (surrogates never reach here).
fn push_utf8(out: &mut Vec<u8>, code: u32) {
    let byte = |bits: u32| bits as u8;
    match code {
        0..=0x7F => out.push(byte(code)),
        0x80..=0x7FF => out.extend_from_slice(&[0xC0 | byte(code >> 6), 0x80 | byte(code & 0x3F)]),
        0x800..=0xFFFF => out.extend_from_slice(&[
            0xE0 | byte(code >> 12),
            0x80 | byte((code >> 6) & 0x3F),
            0x80 | byte(code & 0x3F),
        ]),
        _ => out.extend_from_slice(&[
            0xF0 | byte(code >> 18),
            0x80 | byte((code >> 12) & 0x3F),
            0x80 | byte((code >> 6) & 0x3F),
            0x80 | byte(code & 0x3F),
        ]),
    }
}

/// lua-cjson's `json_is_invalid_number`: forms strtod reads but JSON forbids (`+1`, hex,
/// leading zeros, inf, nan).
fn is_invalid_number(text: &[u8]) -> bool {
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    if at(0) == b'+' {
        return true;
    }
    let digits = usize::from(at(0) == b'-');
    match at(digits) {
        b'0' => {
            let next = at(digits + 1);
            next | 0x20 == b'x' || next.is_ascii_digit()
        }
        first if first <= b'9' => false,
        _ => {
            let rest = &text[digits..];
            starts_with_ignore_case(rest, b"inf") || starts_with_ignore_case(rest, b"nan")
        }
    }
}

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn count_digits(text: &[u8], radix: u32) -> usize {
    text.iter()
        .take_while(|b| char::from(**b).is_digit(radix))
        .count()
}

/// C's strtod (C locale) at the start of `text`: the value and the bytes it used, or `None`
/// when no number starts there. Reads decimal and hexadecimal forms, `inf`, `infinity`,
/// `nan` and `nan(chars)`, any case.
fn scan_number(text: &[u8]) -> Option<(f64, usize)> {
    let sign_len = usize::from(matches!(text.first(), Some(b'-' | b'+')));
    let (magnitude, used) = scan_unsigned(&text[sign_len..])?;
    let value = if text.first() == Some(&b'-') {
        -magnitude
    } else {
        magnitude
    };
    Some((value, sign_len + used))
}

fn scan_unsigned(text: &[u8]) -> Option<(f64, usize)> {
    if starts_with_ignore_case(text, b"inf") {
        let used = if starts_with_ignore_case(&text[3..], b"inity") {
            8
        } else {
            3
        };
        return Some((f64::INFINITY, used));
    }
    if starts_with_ignore_case(text, b"nan") {
        return Some((f64::NAN, 3 + nan_payload_len(&text[3..])));
    }
    if text.len() > 2 && text[0] == b'0' && text[1] | 0x20 == b'x' {
        if let Some((value, used)) = scan_hex(&text[2..]) {
            return Some((value, 2 + used));
        }
    }
    scan_decimal(text)
}

/// The `(chars)` after `nan`, when it is complete.
fn nan_payload_len(text: &[u8]) -> usize {
    if text.first() != Some(&b'(') {
        return 0;
    }
    let chars = text[1..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    match text.get(1 + chars) {
        Some(b')') => chars + 2,
        _ => 0,
    }
}

/// Digits, an optional point and digits (at least one digit in all), an optional exponent.
fn scan_decimal(text: &[u8]) -> Option<(f64, usize)> {
    let whole = count_digits(text, 10);
    let mut used = whole;
    if text.get(used) == Some(&b'.') {
        let fraction = count_digits(&text[used + 1..], 10);
        if whole + fraction > 0 {
            used += 1 + fraction;
        }
    }
    if used == 0 {
        return None;
    }
    used += exponent_len(&text[used..], b'e');
    let digits = std::str::from_utf8(&text[..used]).ok()?;
    digits.parse::<f64>().ok().map(|value| (value, used))
}

/// The length of an exponent (`e`/`p`, a sign, digits) at the start of `text`, or 0.
fn exponent_len(text: &[u8], marker: u8) -> usize {
    if text.first().map(|b| b | 0x20) != Some(marker) {
        return 0;
    }
    let sign_len = usize::from(matches!(text.get(1), Some(b'-' | b'+')));
    match count_digits(&text[1 + sign_len..], 10) {
        0 => 0,
        digits => 1 + sign_len + digits,
    }
}

/// A hexadecimal number after `0x`: digits, an optional point and digits, an optional
/// binary exponent `p±N`. Correctly rounded except in the subnormal range.
fn scan_hex(text: &[u8]) -> Option<(f64, usize)> {
    let whole = count_digits(text, 16);
    let mut fraction = 0;
    let mut used = whole;
    if text.get(used) == Some(&b'.') {
        fraction = count_digits(&text[used + 1..], 16);
        used += 1;
    }
    if whole + fraction == 0 {
        return None;
    }
    let digits = text[..whole]
        .iter()
        .chain(&text[used..used + fraction])
        .filter_map(|b| char::from(*b).to_digit(16));
    used += fraction;
    // The first 15-16 significant digits exactly; the rest only as a sticky bit.
    let (mut mantissa, mut sticky, mut exponent) = (0_u64, false, 0_i64);
    for digit in digits {
        if mantissa >> 60 == 0 {
            mantissa = mantissa << 4 | u64::from(digit);
        } else {
            sticky |= digit != 0;
            exponent += 4;
        }
    }
    exponent -= 4 * fraction as i64;
    let exponent_used = exponent_len(&text[used..], b'p');
    if exponent_used > 0 {
        exponent += parse_exponent(&text[used + 1..used + exponent_used]);
        used += exponent_used;
    }
    let mantissa = (mantissa | u64::from(sticky)) as f64;
    Some((scale_by_power_of_two(mantissa, exponent), used))
}

/// A signed decimal exponent, saturated far beyond any double's range.
fn parse_exponent(text: &[u8]) -> i64 {
    let negative = text.first() == Some(&b'-');
    let magnitude = text
        .iter()
        .filter(|b| b.is_ascii_digit())
        .fold(0_i64, |n, b| (n * 10 + i64::from(b - b'0')).min(100_000));
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

fn scale_by_power_of_two(mut value: f64, mut exponent: i64) -> f64 {
    const STEP: i64 = 1000;
    while exponent > STEP && value.is_finite() && value != 0.0 {
        value *= 2f64.powi(STEP as i32);
        exponent -= STEP;
    }
    while exponent < -STEP && value != 0.0 {
        value *= 2f64.powi(-STEP as i32);
        exponent += STEP;
    }
    value * 2f64.powi(exponent.clamp(-STEP, STEP) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua_with(limits: JsonLimits) -> Lua {
        let lua = Lua::new();
        let cjson = module(&lua, limits).expect("cjson module");
        lua.globals().set("cjson", cjson).expect("global cjson");
        lua
    }

    fn lua() -> Lua {
        lua_with(JsonLimits::default())
    }

    /// Runs `code` (a Lua chunk that returns one value).
    fn eval<T: mlua::FromLuaMulti>(lua: &Lua, code: &str) -> T {
        lua.load(code)
            .eval()
            .unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    /// The message of the error `code` raises, caught with pcall inside Lua (so also
    /// checks that it is a plain string).
    fn error_of(lua: &Lua, code: &str) -> String {
        let chunk = format!(
            "local ok, err = pcall(function() {code} end)\n\
             assert(not ok, 'no error')\n\
             assert(type(err) == 'string', 'error is a ' .. type(err))\n\
             return err"
        );
        eval(lua, &chunk)
    }

    fn encoded(lua: &Lua, expression: &str) -> String {
        eval(lua, &format!("return cjson.encode({expression})"))
    }

    #[test]
    fn module_fields() {
        let lua = lua();
        let fields: String = eval(
            &lua,
            "return table.concat({cjson._NAME, cjson._VERSION, tostring(cjson.new), \
             tostring(cjson.encode_keep_buffer), tostring(cjson.null == nil)}, ' ')",
        );
        assert_eq!(fields, "cjson 2.1.0 nil nil false");
        let null_is_lightuserdata: bool = eval(&lua, "return type(cjson.null) == 'userdata'");
        assert!(null_is_lightuserdata);
    }

    #[test]
    fn round_trips() {
        let lua = lua();
        for json in [
            r#"{"a":[1,2,3]}"#,
            r#"[true,false,"x",1.5,-2,{"k":"v"}]"#,
            r#"[[[]]]"#,
            r#""plain""#,
            "12",
            "true",
            r#"{"nested":{"deeper":{"deepest":[1,{"x":"y"}]}}}"#,
        ] {
            let again: String = eval(
                &lua,
                &format!("return cjson.encode(cjson.decode([==[{json}]==]))"),
            );
            // Empty arrays come back as objects, as in lua-cjson.
            assert_eq!(again, json.replace("[]", "{}"), "{json}");
        }
        let value: String = eval(
            &lua,
            r#"local v = cjson.decode('[ true, { "foo" : "bar" } , 3.25 ]')
               return tostring(v[1]) .. v[2].foo .. v[3]"#,
        );
        assert_eq!(value, "truebar3.25");
    }

    #[test]
    fn numbers_use_14_significant_digits() {
        let lua = lua();
        assert_eq!(encoded(&lua, "{1392050801123.5}"), "[1392050801123.5]");
        assert_eq!(encoded(&lua, "0.1 + 0.2"), "0.3");
        assert_eq!(encoded(&lua, "200"), "200");
        assert_eq!(encoded(&lua, "1e20"), "1e+20");
        assert_eq!(encoded(&lua, "-0"), "-0");
        assert_eq!(encoded(&lua, "1/3"), "0.33333333333333");
        assert_eq!(encoded(&lua, "{[2.5] = 1}"), r#"{"2.5":1}"#);
        let precision: i64 = eval(&lua, "return cjson.encode_number_precision(3)");
        assert_eq!(precision, 3);
        assert_eq!(encoded(&lua, "math.pi"), "3.14");
        assert_eq!(
            error_of(&lua, "cjson.encode_number_precision(15)"),
            "bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)"
        );
    }

    #[test]
    fn invalid_numbers() {
        let lua = lua();
        let message = "Cannot serialise number: must not be NaN or Infinity";
        assert_eq!(error_of(&lua, "cjson.encode(0/0)"), message);
        assert_eq!(error_of(&lua, "cjson.encode({math.huge})"), message);
        assert_eq!(error_of(&lua, "cjson.encode({[math.huge] = 1})"), message);
        let setting: bool = eval(&lua, "return cjson.encode_invalid_numbers(true)");
        assert!(setting);
        assert_eq!(
            encoded(&lua, "{-math.huge, math.huge}"),
            "[-Infinity,Infinity]"
        );
        let setting: String = eval(&lua, "return cjson.encode_invalid_numbers('null')");
        assert_eq!(setting, "null");
        assert_eq!(encoded(&lua, "{0/0}"), "[null]");
    }

    #[test]
    fn decoded_numbers_follow_strtod() {
        let lua = lua();
        let text: String = eval(
            &lua,
            "local t = cjson.decode('[1e2, -0, 0x10, 01, -1.5E-3, 1., -.5, 0x1.8p1, 1e400, 1.e1]')
             local out = {}
             for i = 1, 10 do out[i] = tostring(t[i]) end
             out[11] = tostring(1 / t[2])
             return table.concat(out, ' ')",
        );
        assert_eq!(text, "100 -0 16 1 -0.0015 1 -0.5 3 inf 10 -inf");
        let text: String = eval(
            &lua,
            "local t = cjson.decode('[NaN, -Infinity, +1, inf, nan(x)]')
             return tostring(t[1] ~= t[1]) .. ' ' .. t[2] .. ' ' .. t[3] .. ' ' .. t[4] .. ' '
                 .. tostring(t[5] ~= t[5])",
        );
        assert_eq!(text, "true -inf 1 inf true");
        assert_eq!(
            error_of(&lua, "cjson.decode('[1e]')"),
            "Expected comma or array end but found invalid token at character 3"
        );
        let strict: bool = eval(&lua, "return cjson.decode_invalid_numbers(false)");
        assert!(!strict);
        for (json, at) in [("01", 1), ("[0x10]", 2), ("-Infinity", 1), ("[-01]", 2)] {
            assert_eq!(
                error_of(&lua, &format!("cjson.decode('{json}')")),
                format!("Expected value but found invalid number at character {at}")
            );
        }
        assert_eq!(
            error_of(&lua, "cjson.decode('NaN')"),
            "Expected value but found invalid token at character 1"
        );
        let value: f64 = eval(&lua, "return cjson.decode('-0.25e1')");
        assert_eq!(value, -2.5);
    }

    #[test]
    fn nulls_are_dropped_by_default() {
        let lua = lua();
        let (absent, count): (bool, i64) = eval(
            &lua,
            r#"local t = cjson.decode('{"test" : 1, "null" : null}')
               local n = 0
               for _ in pairs(t) do n = n + 1 end
               return t.null == nil, n"#,
        );
        assert!(absent);
        assert_eq!(count, 1);
        let text: String = eval(
            &lua,
            "local t = cjson.decode('[1,null,3]')
             return tostring(t[1]) .. ' ' .. tostring(t[2]) .. ' ' .. tostring(t[3])",
        );
        assert_eq!(text, "1 nil 3");
        let top_is_nil: bool = eval(&lua, "return cjson.decode('null') == nil");
        assert!(top_is_nil);
        // A null deletes an earlier duplicate key, as lua-cjson's rawset does.
        let deleted: bool = eval(&lua, r#"return cjson.decode('{"a":1,"a":null}').a == nil"#);
        assert!(deleted);
    }

    #[test]
    fn decode_null_keeps_the_sentinel() {
        let lua = lua();
        let before: bool = eval(&lua, "return cjson.decode_null()");
        assert!(!before);
        let after: bool = eval(&lua, "return cjson.decode_null(true)");
        assert!(after);
        let text: String = eval(
            &lua,
            r#"local t = cjson.decode('{"a":null,"b":[null,2]}')
               return type(t.a) .. ' ' .. tostring(t.a == cjson.null) .. ' '
                   .. tostring(t.b[1] == cjson.null) .. ' ' .. cjson.encode(t.b)"#,
        );
        assert_eq!(text, "userdata true true [null,2]");
        assert_eq!(encoded(&lua, "{cjson.null, nil, 3}"), "[null,null,3]");
        let off: bool = eval(&lua, "return cjson.decode_null('off')");
        assert!(!off);
    }

    #[test]
    fn arrays_objects_and_sparse_arrays() {
        let lua = lua();
        assert_eq!(encoded(&lua, "{}"), "{}");
        assert_eq!(encoded(&lua, "{[1]=1, [2]=2, [4]=4}"), "[1,2,null,4]");
        assert_eq!(
            encoded(&lua, "{[10]=1}"),
            "[null,null,null,null,null,null,null,null,null,1]"
        );
        assert_eq!(encoded(&lua, "{[0]=1}"), r#"{"0":1}"#);
        assert_eq!(encoded(&lua, "{[-1]=1}"), r#"{"-1":1}"#);
        assert_eq!(
            encoded(&lua, "{1, 2, x = 3}").len(),
            r#"{"1":1,"2":2,"x":3}"#.len()
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({[20]=1})"),
            "Cannot serialise table: excessively sparse array"
        );
        let (convert, ratio, safe): (bool, i64, i64) =
            eval(&lua, "return cjson.encode_sparse_array()");
        assert_eq!((convert, ratio, safe), (false, 2, 10));
        // Indexes past INT_MAX make an object, as lua-cjson's int overflow does on x86-64.
        assert_eq!(encoded(&lua, "{[2^40]=1}"), r#"{"1099511627776":1}"#);
        let _: MultiValue = eval(&lua, "return cjson.encode_sparse_array(true)");
        assert_eq!(encoded(&lua, "{[20]=1}"), r#"{"20":1}"#);
        let _: MultiValue = eval(&lua, "return cjson.encode_sparse_array(false, 0)");
        assert_eq!(encoded(&lua, "{[12]=1}").matches("null").count(), 11);
        assert_eq!(
            error_of(&lua, "cjson.encode_sparse_array(1, 2, 3, 4)"),
            "bad argument #4 to 'encode_sparse_array' (found too many arguments)"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode_sparse_array('maybe')"),
            "bad argument #1 to 'encode_sparse_array' (invalid option 'maybe')"
        );
    }

    #[test]
    fn unsupported_values_and_keys() {
        let lua = lua();
        assert_eq!(
            error_of(&lua, "cjson.encode(print)"),
            "Cannot serialise function: type not supported"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({coroutine.create(function() end)})"),
            "Cannot serialise thread: type not supported"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({[true] = 1})"),
            "Cannot serialise boolean: table key must be a number or string"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({[{}] = 1})"),
            "Cannot serialise table: table key must be a number or string"
        );
        assert_eq!(
            error_of(&lua, "cjson.encode()"),
            "bad argument #1 to 'encode' (expected 1 argument)"
        );
        assert_eq!(encoded(&lua, "nil"), "null");
    }

    #[test]
    fn encode_nesting_limit() {
        let lua = lua();
        let message = "Cannot serialise, excessive nesting (1001)";
        assert_eq!(
            error_of(&lua, "local t = {}; t[1] = t; cjson.encode(t)"),
            message
        );
        assert_eq!(
            error_of(&lua, "local t = {}; t.me = t; cjson.encode(t)"),
            message
        );
        // Raising the limit does not lift the cap on native nesting.
        let depth: i64 = eval(&lua, "return cjson.encode_max_depth(1000000)");
        assert_eq!(depth, 1_000_000);
        assert_eq!(
            error_of(&lua, "local t = {}; t[1] = t; cjson.encode(t)"),
            message
        );
        let _: i64 = eval(&lua, "return cjson.encode_max_depth(3)");
        assert_eq!(encoded(&lua, "{{{1}}}"), "[[[1]]]");
        assert_eq!(
            error_of(&lua, "cjson.encode({{{{1}}}})"),
            "Cannot serialise, excessive nesting (4)"
        );
    }

    #[test]
    fn decode_nesting_limit() {
        let lua = lua();
        let deep = |n: usize| format!("cjson.decode(string.rep('[', {n}) .. string.rep(']', {n}))");
        let _: Value = eval(&lua, &format!("return {}", deep(1000)));
        assert_eq!(
            error_of(&lua, &deep(1001)),
            "Found too many nested data structures (1001) at character 1001"
        );
        let _: i64 = eval(&lua, "return cjson.decode_max_depth(100000)");
        assert_eq!(
            error_of(&lua, &deep(50000)),
            "Found too many nested data structures (1001) at character 1001"
        );
        let _: i64 = eval(&lua, "return cjson.decode_max_depth(2)");
        assert_eq!(
            error_of(&lua, r#"cjson.decode('{"a":[{"b":1}]}')"#),
            "Found too many nested data structures (3) at character 7"
        );
    }

    #[test]
    fn output_limit() {
        let lua = lua_with(JsonLimits {
            output_limit: 10,
            max_decode: 0,
        });
        assert_eq!(encoded(&lua, "'12345678'"), "\"12345678\"");
        assert_eq!(
            error_of(&lua, "cjson.encode('123456789')"),
            OUTPUT_LIMIT_EXCEEDED
        );
        assert_eq!(
            error_of(&lua, "cjson.encode({1,2,3,4,5,6})"),
            OUTPUT_LIMIT_EXCEEDED
        );
        // Stops early rather than after building the whole text.
        assert_eq!(
            error_of(&lua, "local t = {}; t[1] = t; cjson.encode(t)"),
            OUTPUT_LIMIT_EXCEEDED
        );
        let ls = "0123456789".repeat(10);
        let lua = lua_with(JsonLimits {
            output_limit: 64 * 1024,
            max_decode: 0,
        });
        let code = format!("local t = {{}} for i = 1, 650 do t[i] = '{ls}' end cjson.encode(t)");
        assert_eq!(error_of(&lua, &code), OUTPUT_LIMIT_EXCEEDED);
    }

    #[test]
    fn decode_limit() {
        let lua = lua_with(JsonLimits {
            output_limit: 0,
            max_decode: 8,
        });
        let value: i64 = eval(&lua, "return cjson.decode('[123456]')[1]");
        assert_eq!(value, 123456);
        assert_eq!(
            error_of(&lua, "cjson.decode('[1234567]')"),
            "JSON input exceeds the decode limit (8 bytes)"
        );
    }

    #[test]
    fn decode_errors() {
        let lua = lua();
        for (json, message) in [
            ("", "Expected value but found T_END at character 1"),
            ("   ", "Expected value but found T_END at character 4"),
            ("x", "Expected value but found invalid token at character 1"),
            (
                "tru",
                "Expected value but found invalid token at character 1",
            ),
            (
                "{",
                "Expected object key string but found T_END at character 2",
            ),
            (
                "{1:2}",
                "Expected object key string but found T_NUMBER at character 2",
            ),
            (
                r#"{"a":1,}"#,
                "Expected object key string but found T_OBJ_END at character 8",
            ),
            (
                r#"{"a" 1}"#,
                "Expected colon but found T_NUMBER at character 6",
            ),
            (
                r#"{"a":1 "b":2}"#,
                "Expected comma or object end but found T_STRING at character 8",
            ),
            (
                "[1 2]",
                "Expected comma or array end but found T_NUMBER at character 4",
            ),
            ("[1,]", "Expected value but found T_ARR_END at character 4"),
            ("[:]", "Expected value but found T_COLON at character 2"),
            ("]", "Expected value but found T_ARR_END at character 1"),
            (
                "[1] x",
                "Expected the end but found invalid token at character 5",
            ),
            (
                "[1] [2]",
                "Expected the end but found T_ARR_BEGIN at character 5",
            ),
            (
                "1 true",
                "Expected the end but found T_BOOLEAN at character 3",
            ),
            (
                "null null",
                "Expected the end but found T_NULL at character 6",
            ),
            (
                "[truex]",
                "Expected comma or array end but found invalid token at character 6",
            ),
            (
                "\"abc",
                "Expected value but found unexpected end of string at character 5",
            ),
            (
                r#"["a\x"]"#,
                "Expected value but found invalid escape code at character 4",
            ),
            (
                r#""\u12""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                r#""\udc00""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                r#""ab\ud800x""#,
                "Expected value but found invalid unicode escape code at character 4",
            ),
            (
                r#""\ud800\u0041""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "-",
                "Expected value but found invalid number at character 1",
            ),
            (
                "+x",
                "Expected value but found invalid number at character 1",
            ),
        ] {
            let code = format!("cjson.decode([==[{json}]==])");
            assert_eq!(error_of(&lua, &code), message, "{json:?}");
        }
        assert_eq!(
            error_of(&lua, "cjson.decode('\\0a')"),
            "JSON parser does not support UTF-16 or UTF-32"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode('\"a\\0b\"')"),
            "Expected value but found unexpected end of string at character 3"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode({})"),
            "bad argument #1 to 'decode' (string expected, got table)"
        );
        assert_eq!(
            error_of(&lua, "cjson.decode('a', 'b')"),
            "bad argument #1 to 'decode' (expected 1 argument)"
        );
        // A NUL byte ends the input, as in C.
        let value: i64 = eval(&lua, "return cjson.decode('[7]\\0garbage')[1]");
        assert_eq!(value, 7);
        let number: i64 = eval(&lua, "return cjson.decode(42)");
        assert_eq!(number, 42);
    }

    #[test]
    fn string_escapes() {
        let lua = lua();
        let json: LuaString = eval(
            &lua,
            r#"return cjson.encode("a/b\"c\\d\b\f\n\r\t\0\1\31\127 é\255")"#,
        );
        assert_eq!(
            json.as_bytes().as_ref(),
            b"\"a\\/b\\\"c\\\\d\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\\u007f \xc3\xa9\xff\""
        );
        let text: LuaString = eval(
            &lua,
            r#"return cjson.decode([["\/\"\\\b\f\n\r\t\u0000\u00e9\u20AC\ud83d\ude00 raw é"]])"#,
        );
        assert_eq!(
            text.as_bytes().as_ref(),
            "/\"\\\u{8}\u{c}\n\r\t\0é€😀 raw é".as_bytes()
        );
        let same: bool = eval(
            &lua,
            r#"local s = "x\0y\1/\"\\\127\200"
               return cjson.decode(cjson.encode(s)) == s"#,
        );
        assert!(same);
    }

    #[test]
    fn object_key_order_follows_pairs() {
        let lua = lua();
        let (json, expected): (String, String) = eval(
            &lua,
            r#"local t = {}
               for i = 1, 40 do t["key" .. i] = i end
               t[1.5] = "x"
               local parts = {}
               for k, v in pairs(t) do
                   parts[#parts + 1] = string.format('"%s":%s', tostring(k), cjson.encode(v))
               end
               return cjson.encode(t), "{" .. table.concat(parts, ",") .. "}""#,
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn settings_are_per_instance() {
        let lua = lua();
        let other = module(&lua, JsonLimits::default()).expect("second module");
        lua.globals().set("other", other).expect("global");
        let (mine, theirs): (bool, bool) = eval(
            &lua,
            "cjson.decode_null(true) return cjson.decode_null(), other.decode_null()",
        );
        assert!(mine);
        assert!(!theirs);
    }

    #[test]
    fn memory_errors_pass_through() {
        let lua = lua();
        let json = format!("[{}]", vec!["\"some text\""; 20_000].join(","));
        lua.globals().set("json", json).expect("global");
        lua.set_memory_limit(lua.used_memory() + 64 * 1024)
            .expect("memory limit");
        let result = lua.load("return cjson.decode(json)").exec();
        let memory_error = match &result {
            Err(mlua::Error::CallbackError { cause, .. }) => {
                matches!(**cause, mlua::Error::MemoryError(_))
            }
            other => matches!(other, Err(mlua::Error::MemoryError(_))),
        };
        assert!(memory_error, "{result:?}");
    }

    /// Nesting at the cap, objects and arrays, both ways: the references each level holds
    /// stay within what mlua's reference stack allows.
    #[test]
    fn deepest_documents_round_trip() {
        let lua = lua();
        let same: bool = eval(
            &lua,
            r#"local json = string.rep('{"a":[', 500) .. '1' .. string.rep(']}', 500)
               return cjson.encode(cjson.decode(json)) == json"#,
        );
        assert!(same);
        let same: bool = eval(
            &lua,
            r#"local json = string.rep('{"k":', 1000) .. '"v"' .. string.rep('}', 1000)
               return cjson.encode(cjson.decode(json)) == json"#,
        );
        assert!(same);
    }

    /// About 300 encode/decode/configuration cases give byte for byte the output they give
    /// under the lua-cjson Heka ran (see testdata/cjson_cases.lua), except that there a
    /// "bad argument" message under pcall names the function '?'.
    #[test]
    fn matches_lua_cjson_reference() {
        const FUNCTIONS: [&str; 7] = [
            "encode",
            "decode",
            "encode_sparse_array",
            "encode_max_depth",
            "encode_number_precision",
            "encode_invalid_numbers",
            "decode_null",
        ];
        let lua = lua();
        let output: LuaString = eval(&lua, include_str!("testdata/cjson_cases.lua"));
        let output = output.as_bytes();
        let expected = include_bytes!("testdata/cjson_cases.out");
        let ours: Vec<&[u8]> = output.split(|&b| b == b'\n').collect();
        let theirs: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
        assert_eq!(ours.len(), theirs.len());
        for (ours, theirs) in ours.into_iter().zip(theirs) {
            let mut ours = String::from_utf8_lossy(ours).into_owned();
            for name in FUNCTIONS {
                ours = ours.replace(&format!("to '{name}' ("), "to '?' (");
            }
            // cjson.null is a NULL light userdata; Lua prints it with the C library's %p,
            // "(nil)" with glibc (as the reference ran) and "0" with musl.
            ours.push('\n');
            for end in [" ", ",", "}", "\n"] {
                ours = ours.replace(
                    &format!("userdata: 0{end}"),
                    &format!("userdata: (nil){end}"),
                );
            }
            ours.pop();
            assert_eq!(ours, String::from_utf8_lossy(theirs));
        }
    }
}
