//! The `circular_buffer` module (spec §7.6, lua.md §5): an in-memory sliding window of
//! time series, `rows` rows of `columns` numbers, each row `seconds_per_row` seconds.
//! Scripts add and set values by time in nanoseconds, compute statistics over ranges of
//! rows, and pass the buffer to `add_to_payload`/`inject_payload`, which write it as
//! "cbuf" (all rows) or "cbufd" (rows changed since the last output) text for
//! dashboards and aggregating filters. Buffers held in globals survive `preserve_data`
//! restarts.
//!
//! - `buffer`: the rows, the window and the output text;
//! - `stats`: `compute`'s functions and the Mann-Whitney U test;
//! - `cells`: storage counted against the sandbox's `memory_limit`.
//!
//! Columns are 1-based in Lua; times older than the window are ignored (`nil`), newer
//! ones move the window forward and clear (NaN) the rows it passes.

mod buffer;
mod cells;
mod stats;

pub use buffer::{Aggregation, Buffer, Format, Header};

use super::api::{api_error, register_exact, type_name};
use buffer::{sanitize, seconds, MAX_NAME, MAX_UNIT};
use cells::Cells;
use mlua::{AnyUserData, Lua, MultiValue, Table, UserData, UserDataFields, Value};
use stats::Function;
use std::fmt::Write as _;

/// Largest number of rows, and of seconds per row, a buffer may have (their product
/// stays far inside an i64 of seconds).
const MAX_DIMENSION: f64 = i32::MAX as f64;

/// The module table: `circular_buffer.new`.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    register_exact(lua, &m, "new", |lua, args: MultiValue| {
        let values = args.into_vec();
        let args = Args {
            function: "new",
            values: &values,
            lua,
        };
        new(lua, &args)
    })?;
    Ok(m)
}

/// `circular_buffer.new(rows, columns, seconds_per_row [, enable_delta])`.
fn new(lua: &Lua, args: &Args) -> mlua::Result<AnyUserData> {
    let rows = args.number(1)?.trunc();
    let columns = args.number(2)?.trunc();
    let seconds_per_row = args.number(3)?.trunc();
    let delta = match args.value(4) {
        Value::Nil => false,
        Value::Boolean(b) => b,
        other => return Err(args.type_error(4, "boolean", &other)),
    };
    if !(rows > 1.0 && rows <= MAX_DIMENSION) {
        return Err(args.error(1, "rows must be > 1"));
    }
    if !(columns > 0.0 && columns <= MAX_DIMENSION) {
        return Err(args.error(2, "columns must be > 0"));
    }
    if !(seconds_per_row > 0.0 && seconds_per_row <= MAX_DIMENSION) {
        return Err(args.error(3, "seconds_per_row must be > 0"));
    }
    let (rows, columns) = (rows as usize, columns as usize);
    let out_of_memory = || {
        api_error(format!(
            "not enough memory for a circular buffer of {rows} rows x {columns} columns"
        ))
    };
    let n = rows.checked_mul(columns).ok_or_else(out_of_memory)?;
    let cells = Cells::in_lua(lua, n).ok_or_else(out_of_memory)?;
    let delta = match delta {
        true => Some(Cells::in_lua(lua, n).ok_or_else(out_of_memory)?),
        false => None,
    };
    let buffer = Buffer::new(rows, columns, seconds_per_row as i64, cells, delta);
    lua.create_userdata(buffer)
}

impl UserData for Buffer {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", methods);
    }
}

/// The methods of a buffer, behind the API wrapper (errors name the script's line).
fn methods(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    method(lua, &t, "add", |_, ud, args| {
        let mut b = ud.borrow_mut::<Buffer>()?;
        let (time, column, value) = (args.time(1)?, args.column(2, &b)?, args.number(3)?);
        number_or_nil(time.and_then(|t| b.add(t, column, value)))
    })?;
    method(lua, &t, "set", |_, ud, args| {
        let mut b = ud.borrow_mut::<Buffer>()?;
        let (time, column, value) = (args.time(1)?, args.column(2, &b)?, args.number(3)?);
        number_or_nil(time.and_then(|t| b.set(t, column, value)))
    })?;
    method(lua, &t, "get", |_, ud, args| {
        let b = ud.borrow::<Buffer>()?;
        let (time, column) = (args.time(1)?, args.column(2, &b)?);
        number_or_nil(time.and_then(|t| b.get(t, column)))
    })?;
    method(lua, &t, "set_header", |_, ud, args| {
        let mut b = ud.borrow_mut::<Buffer>()?;
        let column = args.column(1, &b)?;
        let name = args.string(2)?;
        let unit = args.optional_string(3)?;
        let aggregation = match args.optional_string(4)? {
            None => Aggregation::Sum,
            Some(a) => Aggregation::parse(&a).ok_or_else(|| args.invalid_option(4, &a))?,
        };
        let header = Header {
            name: sanitize(&name, MAX_NAME),
            unit: sanitize(unit.as_deref().unwrap_or(b"count"), MAX_UNIT),
            aggregation,
        };
        b.set_header(column, header);
        Ok(MultiValue::from_vec(vec![Value::Number(
            column as f64 + 1.0,
        )]))
    })?;
    method(lua, &t, "get_header", |lua, ud, args| {
        let b = ud.borrow::<Buffer>()?;
        let h = b.header(args.column(1, &b)?);
        let values = [h.name.as_str(), h.unit.as_str(), h.aggregation.name()]
            .iter()
            .map(|s| lua.create_string(s).map(Value::String))
            .collect::<mlua::Result<Vec<_>>>()?;
        Ok(MultiValue::from_vec(values))
    })?;
    method(lua, &t, "compute", |_, ud, args| {
        let b = ud.borrow::<Buffer>()?;
        let name = args.string(1)?;
        let function = Function::parse(&name).ok_or_else(|| args.invalid_option(1, &name))?;
        let column = args.column(2, &b)?;
        let Some((start, end)) = args.range(3, &b)? else {
            return Ok(MultiValue::from_vec(vec![Value::Nil]));
        };
        let Some(values) = b.column(column, start, end) else {
            return Ok(MultiValue::from_vec(vec![Value::Nil]));
        };
        let (value, samples) = stats::compute(function, &values);
        Ok(MultiValue::from_vec(vec![
            Value::Number(value),
            Value::Number(samples as f64),
        ]))
    })?;
    method(lua, &t, "mannwhitneyu", |_, ud, args| {
        let b = ud.borrow::<Buffer>()?;
        let column = args.column(1, &b)?;
        let first = args.range(2, &b)?;
        let second = args.range(4, &b)?;
        let continuity = match args.value(6) {
            Value::Nil => true,
            Value::Boolean(c) => c,
            other => return Err(args.type_error(6, "boolean", &other)),
        };
        let sample = |range: Option<(i64, i64)>| range.and_then(|(s, e)| b.column(column, s, e));
        let (Some(x), Some(y)) = (sample(first), sample(second)) else {
            return Ok(MultiValue::from_vec(vec![Value::Nil]));
        };
        let (u, p) = stats::mann_whitney_u(&x, &y, continuity);
        Ok(MultiValue::from_vec(vec![
            Value::Number(u),
            Value::Number(p),
        ]))
    })?;
    method(lua, &t, "current_time", |_, ud, _| {
        let b = ud.borrow::<Buffer>()?;
        let ns = b.current_time() as f64 * 1e9;
        Ok(MultiValue::from_vec(vec![Value::Number(ns)]))
    })?;
    method(lua, &t, "get_configuration", |_, ud, _| {
        let b = ud.borrow::<Buffer>()?;
        Ok(MultiValue::from_vec(vec![
            Value::Number(b.rows() as f64),
            Value::Number(b.columns() as f64),
            Value::Number(b.seconds_per_row() as f64),
        ]))
    })?;
    method(lua, &t, "format", |_, ud, args| {
        let name = args.string(1)?;
        let format = match &name[..] {
            b"cbuf" => Format::Cbuf,
            b"cbufd" => Format::Cbufd,
            _ => return Err(args.invalid_option(1, &name)),
        };
        ud.borrow_mut::<Buffer>()?.format = format;
        Ok(MultiValue::from_vec(vec![Value::UserData(ud.clone())]))
    })?;
    method(lua, &t, "fromstring", |_, ud, args| {
        let text = args.string(1)?;
        let text = String::from_utf8_lossy(&text);
        let mut b = ud.borrow_mut::<Buffer>()?;
        b.restore(&text).map_err(|e| args.error(1, &e))?;
        Ok(MultiValue::new())
    })?;
    Ok(t)
}

/// Registers method `name`: `f` gets the buffer (checked) and the other arguments.
fn method<F>(lua: &Lua, methods: &Table, name: &'static str, f: F) -> mlua::Result<()>
where
    F: Fn(&Lua, &AnyUserData, &Args) -> mlua::Result<MultiValue> + 'static,
{
    register_exact(lua, methods, name, move |lua, args: MultiValue| {
        let this = match args.front() {
            Some(Value::UserData(ud)) if ud.is::<Buffer>() => ud.clone(),
            _ => return Err(api_error(format!("calling '{name}' on bad self"))),
        };
        let values: Vec<Value> = args.iter().skip(1).cloned().collect();
        let args = Args {
            function: name,
            values: &values,
            lua,
        };
        f(lua, &this, &args)
    })
}

/// One result: the number, or nil.
fn number_or_nil(v: Option<f64>) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        v.map_or(Value::Nil, Value::Number)
    ]))
}

/// The arguments of a call (a method's without its buffer), numbered from 1, with Lua's
/// "bad argument" errors.
struct Args<'a> {
    function: &'static str,
    values: &'a [Value],
    lua: &'a Lua,
}

impl Args<'_> {
    fn value(&self, n: usize) -> Value {
        self.values.get(n - 1).cloned().unwrap_or(Value::Nil)
    }

    fn error(&self, n: usize, text: &str) -> mlua::Error {
        api_error(format!("bad argument #{n} to '{}' ({text})", self.function))
    }

    fn type_error(&self, n: usize, expected: &str, got: &Value) -> mlua::Error {
        self.error(n, &format!("{expected} expected, got {}", type_name(got)))
    }

    fn invalid_option(&self, n: usize, option: &[u8]) -> mlua::Error {
        self.error(
            n,
            &format!("invalid option '{}'", String::from_utf8_lossy(option)),
        )
    }

    /// A number, or a string that reads as one (as Lua's own functions take them).
    fn number(&self, n: usize) -> mlua::Result<f64> {
        let value = self.value(n);
        match self.lua.coerce_number(value.clone())? {
            Some(number) => Ok(number),
            None => Err(self.type_error(n, "number", &value)),
        }
    }

    /// A time in nanoseconds as seconds; `None` for one no window can hold (NaN).
    fn time(&self, n: usize) -> mlua::Result<Option<i64>> {
        Ok(seconds(self.number(n)?))
    }

    /// A 1-based column of `b`, from 0.
    fn column(&self, n: usize, b: &Buffer) -> mlua::Result<usize> {
        let column = self.number(n)?.trunc();
        if !(column >= 1.0 && column <= b.columns() as f64) {
            return Err(self.error(n, "column out of range"));
        }
        Ok(column as usize - 1)
    }

    /// A range of times at arguments `n` and `n + 1` (optional: the whole window), in
    /// seconds; `None` when a time is not a number.
    fn range(&self, n: usize, b: &Buffer) -> mlua::Result<Option<(i64, i64)>> {
        let start = match self.value(n) {
            Value::Nil => Some(b.oldest_time()),
            _ => self.time(n)?,
        };
        let end = match self.value(n + 1) {
            Value::Nil => Some(b.current_time()),
            _ => self.time(n + 1)?,
        };
        match (start, end) {
            (Some(start), Some(end)) if end < start => {
                Err(self.error(n + 1, "end must be >= start"))
            }
            (Some(start), Some(end)) => Ok(Some((start, end))),
            _ => Ok(None),
        }
    }

    /// A string (numbers converted, as Lua does).
    fn string(&self, n: usize) -> mlua::Result<Vec<u8>> {
        let value = self.value(n);
        match self.lua.coerce_string(value.clone())? {
            Some(s) => Ok(s.as_bytes().to_vec()),
            None => Err(self.type_error(n, "string", &value)),
        }
    }

    fn optional_string(&self, n: usize) -> mlua::Result<Option<Vec<u8>>> {
        match self.value(n) {
            Value::Nil => Ok(None),
            _ => self.string(n).map(Some),
        }
    }
}

/// Appends `ud`'s output to a payload if it is a circular buffer: `Some(true)` when it
/// wrote, `Some(false)` when it had nothing to write (a "cbufd" without changes), `None`
/// for other userdata. Call [`written`] once the text is kept.
pub fn write_payload(ud: &AnyUserData, out: &mut Vec<u8>) -> mlua::Result<Option<bool>> {
    if !ud.is::<Buffer>() {
        return Ok(None);
    }
    Ok(Some(ud.borrow::<Buffer>()?.write_output(out)))
}

/// A buffer's output was kept: a "cbufd" forgets the changes it wrote.
pub fn written(ud: &AnyUserData) -> mlua::Result<()> {
    let mut b = ud.borrow_mut::<Buffer>()?;
    if b.format == Format::Cbufd {
        b.clear_delta();
    }
    Ok(())
}

/// Lua statements that rebuild the buffer `ud` as `target` (state preservation), or
/// `None` if it is not a circular buffer.
pub fn preservation_script(ud: &AnyUserData, target: &str) -> Option<String> {
    let b = ud.borrow::<Buffer>().ok()?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{target} = require(\"circular_buffer\").new({}, {}, {}, {})",
        b.rows(),
        b.columns(),
        b.seconds_per_row(),
        b.has_delta()
    );
    for c in 0..b.columns() {
        // Names and units are letters, digits and `_`: nothing to escape.
        let h = b.header(c);
        let _ = writeln!(
            s,
            "{target}:set_header({}, \"{}\", \"{}\", \"{}\")",
            c + 1,
            h.name,
            h.unit,
            h.aggregation.name()
        );
    }
    if b.format == Format::Cbufd {
        let _ = writeln!(s, "{target}:format(\"cbufd\")");
    }
    let _ = writeln!(s, "{target}:fromstring(\"{}\")", b.save());
    Some(s)
}
