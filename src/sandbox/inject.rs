//! `inject_message` (§7.3): a Lua table (hash or array field form, value objects) or a
//! protobuf string, written with the allocation-free [`MessageWriter`] into buffers the
//! sandbox reuses, stamped as the plugin type requires, checked and limited, then kept
//! for the plugin to send (or delivered at once for inputs).
//!
//! A decoder injects every message it makes, so the table is read straight off the Lua
//! stack by a C function: raw gets with key strings interned once (upvalues), `lua_next`
//! and typed reads. None of those allocates or raises a Lua error, so the Rust state
//! around them (buffers, `RefCell` borrows) is never skipped by a `longjmp`. Through
//! mlua's API the same walk cost about 25 µs per message (every key string pushed is a
//! protected call once a memory limit is set).

use super::api::{api_error, register_function, stack_bytes};
use super::config::Kind;
use super::state::Shared;
use crate::message::rewrite::{rewrite, Overrides};
use crate::message::view::HeaderIndex;
use crate::message::writer::Values;
use crate::message::{uuid, MessageView, MessageWriter, ScannedMessage};
use crate::pipeline::inject::now_ns;
use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua};
use std::os::raw::{c_int, c_void};
use std::rc::Rc;

/// The Type prefix of messages a filter injects.
const FILTER_TYPE_PREFIX: &[u8] = b"heka.sandbox.";

/// The keys read from a message table, interned as upvalues 2.. of `inject_message`.
const KEYS: [&str; 14] = [
    "Uuid",
    "Timestamp",
    "Type",
    "Logger",
    "Severity",
    "Payload",
    "EnvVersion",
    "Pid",
    "Hostname",
    "Fields",
    "name",
    "value",
    "value_type",
    "representation",
];

#[derive(Clone, Copy)]
enum Key {
    Uuid,
    Timestamp,
    Type,
    Logger,
    Severity,
    Payload,
    EnvVersion,
    Pid,
    Hostname,
    Fields,
    Name,
    Value,
    ValueType,
    Representation,
}

/// Scratch space for one field's values, reused from message to message.
#[derive(Default)]
pub struct FieldScratch {
    doubles: Vec<f64>,
    integers: Vec<i64>,
    bools: Vec<bool>,
    /// Numbers written as text for a STRING field, and where each one is.
    text: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

/// Installs `inject_message` where the plugin type has it.
pub fn install(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    if !shared.settings.kind.injects() {
        return Ok(());
    }
    let state = Rc::as_ptr(shared) as *mut c_void;
    // SAFETY: pushes a light userdata, the key strings and a C closure over them.
    let raw: Function = unsafe {
        lua.exec_raw((), |l| {
            ffi::lua_pushlightuserdata(l, state);
            for key in KEYS {
                ffi::lua_pushlstring(l, key.as_ptr().cast(), key.len());
            }
            ffi::lua_pushcclosure(l, inject_message_c, 1 + KEYS.len() as c_int);
        })
    }?;
    register_function(lua, &lua.globals(), "inject_message", raw)
}

/// Error texts are kept short and own nothing that needs dropping at the `longjmp` a
/// later push could make.
type Text = heapless::String<240>;

fn text(s: &str) -> Text {
    let mut out = Text::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// `inject_message(table_or_string)`: returns `true`, or `false` and the error for the
/// API wrapper to raise (see `api.rs`).
unsafe extern "C-unwind" fn inject_message_c(l: *mut lua_State) -> c_int {
    let shared = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const Shared);
    // The message is moved onto the stack frame before anything can `longjmp`.
    let result = inject(l, shared).map_err(|e| text(&e));
    ffi::lua_settop(l, 0);
    match result {
        Ok(()) => {
            ffi::lua_pushboolean(l, 1);
            1
        }
        Err(e) => {
            ffi::lua_pushboolean(l, 0);
            ffi::lua_pushlstring(l, e.as_ptr().cast(), e.len());
            2
        }
    }
}

unsafe fn inject(l: *mut lua_State, shared: &Shared) -> Result<(), String> {
    if shared.inject_budget.get() == 0 {
        return Err("inject_message() exceeded InjectMessage count".into());
    }
    if ffi::lua_gettop(l) != 1 {
        return Err("inject_message() takes one argument".into());
    }
    if ffi::lua_checkstack(l, 24) == 0 {
        return Err("inject_message() out of Lua stack".into());
    }
    let mut buf = shared.injected.borrow_mut().next_buffer();
    let written = match ffi::lua_type(l, 1) {
        ffi::LUA_TTABLE => write_table(l, shared, &mut buf),
        ffi::LUA_TSTRING => {
            let bytes = stack_bytes(l, 1);
            write_protobuf(shared, bytes, &mut buf).map_err(|e| super::state::error_text(&e))
        }
        other => Err(format!(
            "inject_message() takes a table or a protobuf string, not a {}",
            lua_type_name(other)
        )),
    };
    match written {
        Ok(index) => deliver(shared, buf, index, "inject_message()")
            .map_err(|e| super::state::error_text(&e)),
        Err(e) => {
            shared.injected.borrow_mut().give_back(buf);
            Err(e)
        }
    }
}

/// Takes one message the script made (`index` describes `buf`): limits, the plugin's
/// injection check, then kept for the plugin (an encoder keeps only the last) or
/// delivered at once through the sink.
pub fn deliver(
    shared: &Shared,
    buf: Vec<u8>,
    index: HeaderIndex,
    function: &str,
) -> mlua::Result<()> {
    let settings = &shared.settings;
    let fail = |shared: &Shared, buf: Vec<u8>, text: String| {
        shared.injected.borrow_mut().give_back(buf);
        Err(api_error(format!("{function} {text}")))
    };
    if settings.output_limit > 0 && buf.len() > settings.output_limit {
        return fail(shared, buf, "output_limit exceeded".into());
    }
    if settings.kind != Kind::Encoder && buf.len() > settings.max_message_size {
        let text = format!(
            "message too big: {} bytes (max_message_size {})",
            buf.len(),
            settings.max_message_size
        );
        return fail(shared, buf, text);
    }
    shared.note_output(buf.len());
    if settings.kind != Kind::Encoder {
        if let Some(check) = shared.check.borrow().as_ref() {
            let view = MessageView::with_index(&buf, &index);
            if let Err(rejected) = check(&view, shared.loops.get()) {
                return fail(shared, buf, rejected.to_string());
            }
        }
    }
    if let Some(sink) = shared.sink.borrow_mut().as_mut() {
        let sent = sink(&buf, index);
        shared.injected.borrow_mut().give_back(buf);
        return sent.map_err(|e| api_error(format!("{function} {e}")));
    }
    let mut injected = shared.injected.borrow_mut();
    if settings.kind == Kind::Encoder {
        injected.clear();
    }
    injected.push(buf, index);
    shared
        .inject_budget
        .set(shared.inject_budget.get().saturating_sub(1));
    Ok(())
}

/// A header value as the script gave it: a Lua string on the stack, or a number written
/// as Lua 5.1 prints it.
enum Given<'a> {
    Bytes(&'a [u8]),
    Number([u8; 32], usize),
}

impl Given<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Given::Bytes(b) => b,
            Given::Number(buf, len) => &buf[..*len],
        }
    }
}

fn lua_type_name(t: c_int) -> &'static str {
    match t {
        ffi::LUA_TNIL => "nil",
        ffi::LUA_TBOOLEAN => "boolean",
        ffi::LUA_TLIGHTUSERDATA | ffi::LUA_TUSERDATA => "userdata",
        ffi::LUA_TNUMBER => "number",
        ffi::LUA_TSTRING => "string",
        ffi::LUA_TTABLE => "table",
        ffi::LUA_TFUNCTION => "function",
        ffi::LUA_TTHREAD => "thread",
        _ => "value",
    }
}

/// Pushes `table[key]` (a raw get with the interned key).
unsafe fn push_field(l: *mut lua_State, table: c_int, key: Key) -> c_int {
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(2 + key as c_int));
    ffi::lua_rawget(l, table);
    ffi::lua_type(l, -1)
}

/// The string header at stack `slot`: nil, a string or a number (as text).
unsafe fn header_text<'a>(
    l: *mut lua_State,
    slot: c_int,
    key: &str,
) -> Result<Option<Given<'a>>, String> {
    match ffi::lua_type(l, slot) {
        ffi::LUA_TNIL => Ok(None),
        ffi::LUA_TSTRING => Ok(Some(Given::Bytes(stack_bytes(l, slot)))),
        ffi::LUA_TNUMBER => {
            let mut out = Vec::with_capacity(24);
            super::number::format_g(ffi::lua_tonumber(l, slot), 14, &mut out);
            let mut buf = [0u8; 32];
            let len = out.len().min(32);
            buf[..len].copy_from_slice(&out[..len]);
            Ok(Some(Given::Number(buf, len)))
        }
        other => Err(format!(
            "inject_message() {key} must be a string, not a {}",
            lua_type_name(other)
        )),
    }
}

/// The number at stack `slot` (numeric strings too, as Lua 5.1 converts them).
unsafe fn number_at(l: *mut lua_State, slot: c_int) -> Option<f64> {
    match ffi::lua_type(l, slot) {
        ffi::LUA_TNUMBER => Some(ffi::lua_tonumber(l, slot)),
        ffi::LUA_TSTRING => std::str::from_utf8(stack_bytes(l, slot))
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        _ => None,
    }
}

unsafe fn header_number(l: *mut lua_State, slot: c_int, key: &str) -> Result<Option<f64>, String> {
    match ffi::lua_type(l, slot) {
        ffi::LUA_TNIL => Ok(None),
        t => number_at(l, slot).map(Some).ok_or_else(|| {
            format!(
                "inject_message() {key} must be a number, not a {}",
                lua_type_name(t)
            )
        }),
    }
}

/// Writes the message the table at stack index 1 describes.
unsafe fn write_table(
    l: *mut lua_State,
    shared: &Shared,
    buf: &mut Vec<u8>,
) -> Result<HeaderIndex, String> {
    let base = ffi::lua_gettop(l) + 1;
    let headers = [
        Key::Uuid,
        Key::Timestamp,
        Key::Type,
        Key::Logger,
        Key::Severity,
        Key::Payload,
        Key::EnvVersion,
        Key::Pid,
        Key::Hostname,
        Key::Fields,
    ];
    for key in headers {
        push_field(l, 1, key);
    }
    let slot = |key: Key| base + key as c_int;
    let uuid = match ffi::lua_type(l, slot(Key::Uuid)) {
        ffi::LUA_TSTRING => {
            let bytes = stack_bytes(l, slot(Key::Uuid));
            match bytes.len() {
                16 => bytes.try_into().ok(),
                _ => std::str::from_utf8(bytes).ok().and_then(uuid::parse),
            }
        }
        _ => None,
    };
    let mut timestamp = header_number(l, slot(Key::Timestamp), "Timestamp")?.map(|ns| ns as i64);
    if let (Some(tz), Some(ts)) = (&shared.settings.tz, timestamp) {
        timestamp = Some(reinterpret(ts, tz));
    }
    let given = Headers {
        uuid,
        timestamp,
        r#type: header_text(l, slot(Key::Type), "Type")?,
        logger: header_text(l, slot(Key::Logger), "Logger")?,
        severity: header_number(l, slot(Key::Severity), "Severity")?.map(|n| n as i32),
        payload: header_text(l, slot(Key::Payload), "Payload")?,
        env_version: header_text(l, slot(Key::EnvVersion), "EnvVersion")?,
        pid: header_number(l, slot(Key::Pid), "Pid")?.map(|n| n as i32),
        hostname: header_text(l, slot(Key::Hostname), "Hostname")?,
    };
    let fields = slot(Key::Fields);
    let mut scratch = shared.fields.borrow_mut();
    let write =
        |original: Option<&MessageView<'_>>, buf: &mut Vec<u8>, scratch: &mut FieldScratch| {
            write_message(shared, &given, original, buf, |w| {
                write_fields(l, fields, w, scratch)
            })
        };
    let index = match shared.settings.kind {
        Kind::Decoder => match shared.with_message(|orig| write(Some(orig), buf, &mut scratch)) {
            Some(result) => result,
            None => write(None, buf, &mut scratch),
        },
        _ => write(None, buf, &mut scratch),
    };
    ffi::lua_settop(l, base - 1);
    index
}

/// Headers as the script gave them.
struct Headers<'a> {
    uuid: Option<[u8; 16]>,
    timestamp: Option<i64>,
    r#type: Option<Given<'a>>,
    logger: Option<Given<'a>>,
    severity: Option<i32>,
    payload: Option<Given<'a>>,
    env_version: Option<Given<'a>>,
    pid: Option<i32>,
    hostname: Option<Given<'a>>,
}

/// Writes the message: the given headers stamped for the plugin type (a filter's Type
/// prefix, Logger and Hostname; a decoder's headers inherited from `original`), then
/// the fields `fields` writes.
fn write_message(
    shared: &Shared,
    given: &Headers<'_>,
    original: Option<&MessageView<'_>>,
    buf: &mut Vec<u8>,
    fields: impl FnOnce(&mut MessageWriter<'_>) -> Result<(), String>,
) -> Result<HeaderIndex, String> {
    let settings = &shared.settings;
    // A decoder's messages take what they do not say from the message being decoded.
    let original = original.filter(|_| settings.kind == Kind::Decoder);
    let inherit = |mine: Option<&[u8]>, theirs: Option<&[u8]>| -> Option<Vec<u8>> {
        mine.map(<[u8]>::to_owned)
            .or_else(|| theirs.filter(|v| !v.is_empty()).map(<[u8]>::to_owned))
    };
    let mut w = MessageWriter::new(buf);
    w.uuid(&given.uuid.unwrap_or_else(uuid::new_v4));
    let timestamp = given
        .timestamp
        .or_else(|| {
            original
                .filter(|o| o.has_timestamp())
                .map(|o| o.timestamp())
        })
        .unwrap_or_else(now_ns);
    w.timestamp(timestamp);
    if settings.kind == Kind::Filter {
        let mut prefixed = FILTER_TYPE_PREFIX.to_vec();
        if let Some(t) = &given.r#type {
            prefixed.extend_from_slice(t.bytes());
        }
        w.r#type(&prefixed).logger(settings.name.as_bytes());
    } else {
        let own = given.r#type.as_ref().map(Given::bytes);
        if let Some(v) = own {
            w.r#type(v);
        } else if let Some(v) = inherit(None, original.map(|o| o.r#type())) {
            w.r#type(&v);
        }
        let own = given.logger.as_ref().map(Given::bytes);
        if let Some(v) = own {
            w.logger(v);
        } else if let Some(v) = inherit(None, original.map(|o| o.logger())) {
            w.logger(&v);
        }
    }
    let severity = given
        .severity
        .or_else(|| original.filter(|o| o.has_severity()).map(|o| o.severity()));
    if let Some(severity) = severity {
        w.severity(severity);
    }
    if let Some(v) = &given.payload {
        w.payload(v.bytes());
    }
    if let Some(v) = &given.env_version {
        w.env_version(v.bytes());
    }
    let pid = given
        .pid
        .or_else(|| original.filter(|o| o.has_pid()).map(|o| o.pid()));
    if let Some(pid) = pid {
        w.pid(pid);
    }
    if settings.kind == Kind::Filter {
        w.hostname(settings.hostname.as_bytes());
    } else if let Some(v) = &given.hostname {
        w.hostname(v.bytes());
    } else if let Some(v) = inherit(None, original.map(|o| o.hostname())) {
        w.hostname(&v);
    }
    fields(&mut w)?;
    Ok(w.index().unwrap_or_default())
}

/// Writes `Fields` (stack index `fields`): the hash form `{name = value, ...}` or the
/// array form `{{name = "n", value = v, value_type = t, representation = r}, ...}`.
unsafe fn write_fields(
    l: *mut lua_State,
    fields: c_int,
    w: &mut MessageWriter<'_>,
    scratch: &mut FieldScratch,
) -> Result<(), String> {
    match ffi::lua_type(l, fields) {
        ffi::LUA_TNIL => return Ok(()),
        ffi::LUA_TTABLE => {}
        other => {
            return Err(format!(
                "inject_message() Fields must be a table, not a {}",
                lua_type_name(other)
            ))
        }
    }
    let top = ffi::lua_gettop(l);
    let entries = ffi::lua_objlen(l, fields);
    if entries > 0 {
        for i in 1..=entries {
            ffi::lua_rawgeti(l, fields, i as _);
            let entry = ffi::lua_gettop(l);
            if ffi::lua_type(l, entry) != ffi::LUA_TTABLE {
                ffi::lua_settop(l, top);
                return Err("inject_message() Fields array entries must be tables".into());
            }
            if push_field(l, entry, Key::Name) != ffi::LUA_TSTRING {
                ffi::lua_settop(l, top);
                return Err("inject_message() a field in the Fields array has no name".into());
            }
            let name = stack_bytes(l, -1);
            let result = write_object(l, entry, name, w, scratch);
            ffi::lua_settop(l, top);
            result?;
        }
        return Ok(());
    }
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, fields) != 0 {
        let (key, value) = (ffi::lua_gettop(l) - 1, ffi::lua_gettop(l));
        if ffi::lua_type(l, key) != ffi::LUA_TSTRING {
            ffi::lua_settop(l, top);
            return Err("inject_message() field names must be strings".into());
        }
        let name = stack_bytes(l, key);
        let result = match ffi::lua_type(l, value) {
            ffi::LUA_TTABLE if push_field(l, value, Key::Value) != ffi::LUA_TNIL => {
                ffi::lua_settop(l, value);
                write_object(l, value, name, w, scratch)
            }
            ffi::LUA_TTABLE => {
                ffi::lua_settop(l, value);
                write_field(l, name, value, None, &[], w, scratch)
            }
            _ => write_field(l, name, value, None, &[], w, scratch),
        };
        if let Err(e) = result {
            ffi::lua_settop(l, top);
            return Err(e);
        }
        ffi::lua_settop(l, key);
    }
    Ok(())
}

/// Writes a field given as `{value = v, value_type = t, representation = r}` (the
/// table at stack index `object`).
unsafe fn write_object(
    l: *mut lua_State,
    object: c_int,
    name: &[u8],
    w: &mut MessageWriter<'_>,
    scratch: &mut FieldScratch,
) -> Result<(), String> {
    let label = String::from_utf8_lossy(name);
    let value = {
        push_field(l, object, Key::Value);
        ffi::lua_gettop(l)
    };
    push_field(l, object, Key::ValueType);
    let value_type = match ffi::lua_type(l, -1) {
        ffi::LUA_TNIL => None,
        _ => match number_at(l, -1) {
            Some(n) if (0.0..=4.0).contains(&n) => Some(n as i32),
            _ => {
                return Err(format!(
                    "inject_message() Fields[{label}] has an invalid value_type"
                ))
            }
        },
    };
    let repr = match push_field(l, object, Key::Representation) {
        ffi::LUA_TSTRING => stack_bytes(l, -1),
        ffi::LUA_TNIL => &[][..],
        _ => {
            return Err(format!(
                "inject_message() Fields[{label}] representation must be a string"
            ))
        }
    };
    write_field(l, name, value, value_type, repr, w, scratch)
}

/// What one field's values are.
#[derive(Clone, Copy, PartialEq)]
enum ValueKind {
    Strings { bytes: bool },
    Doubles,
    Integers,
    Bools,
}

/// Writes one field whose value (a scalar or an array) is at stack index `value`.
unsafe fn write_field(
    l: *mut lua_State,
    name: &[u8],
    value: c_int,
    value_type: Option<i32>,
    repr: &[u8],
    w: &mut MessageWriter<'_>,
    scratch: &mut FieldScratch,
) -> Result<(), String> {
    let label = || String::from_utf8_lossy(name).into_owned();
    let err = |text: &str| format!("inject_message() Fields[{}] {text}", label());
    let array = ffi::lua_type(l, value) == ffi::LUA_TTABLE;
    let count = match array {
        true => ffi::lua_objlen(l, value),
        false => 1,
    };
    if count == 0 {
        return Err(err("is an empty array"));
    }
    // Pushes element i (0-based) and returns its type.
    let element = |i: usize| -> c_int {
        match array {
            true => {
                ffi::lua_rawgeti(l, value, (i + 1) as _);
            }
            false => ffi::lua_pushvalue(l, value),
        }
        ffi::lua_type(l, -1)
    };
    let first = element(0);
    ffi::lua_settop(l, -2);
    let kind = match (value_type, first) {
        (Some(0), _) => ValueKind::Strings { bytes: false },
        (Some(1), _) => ValueKind::Strings { bytes: true },
        (Some(2), _) => ValueKind::Integers,
        (Some(3), _) => ValueKind::Doubles,
        (Some(_), _) => ValueKind::Bools,
        (None, ffi::LUA_TSTRING) => ValueKind::Strings { bytes: false },
        (None, ffi::LUA_TNUMBER) => ValueKind::Doubles,
        (None, ffi::LUA_TBOOLEAN) => ValueKind::Bools,
        (None, other) => {
            return Err(err(&format!(
                "has an unsupported value type ({})",
                lua_type_name(other)
            )))
        }
    };
    let mixed = || err("mixes value types in one array");
    let coerce = value_type.is_some();
    match kind {
        ValueKind::Strings { bytes } => {
            // Strings stay where they are (held by the array or the stack); numbers given
            // for a STRING field are written out as text first.
            scratch.text.clear();
            scratch.ranges.clear();
            let mut all_strings = true;
            for i in 0..count {
                let t = element(i);
                match t {
                    ffi::LUA_TSTRING => {}
                    ffi::LUA_TNUMBER if coerce => all_strings = false,
                    _ => {
                        ffi::lua_settop(l, -2);
                        return Err(mixed());
                    }
                }
                ffi::lua_settop(l, -2);
            }
            if all_strings {
                w.string_field(name, repr, bytes, count, |i| {
                    let s = if array {
                        ffi::lua_rawgeti(l, value, (i + 1) as _);
                        let s = stack_bytes(l, -1);
                        ffi::lua_settop(l, -2);
                        s
                    } else {
                        stack_bytes(l, value)
                    };
                    s
                });
            } else {
                for i in 0..count {
                    let start = scratch.text.len();
                    match element(i) {
                        ffi::LUA_TSTRING => scratch.text.extend_from_slice(stack_bytes(l, -1)),
                        _ => {
                            super::number::format_g(ffi::lua_tonumber(l, -1), 14, &mut scratch.text)
                        }
                    }
                    ffi::lua_settop(l, -2);
                    scratch.ranges.push((start, scratch.text.len()));
                }
                let (text, ranges) = (&scratch.text, &scratch.ranges);
                w.string_field(name, repr, bytes, count, |i| {
                    let (a, b) = ranges[i];
                    &text[a..b]
                });
            }
        }
        ValueKind::Doubles | ValueKind::Integers => {
            scratch.doubles.clear();
            for i in 0..count {
                let n = match element(i) {
                    ffi::LUA_TNUMBER => Some(ffi::lua_tonumber(l, -1)),
                    ffi::LUA_TSTRING if coerce => number_at(l, -1),
                    _ => None,
                };
                ffi::lua_settop(l, -2);
                scratch.doubles.push(n.ok_or_else(mixed)?);
            }
            if kind == ValueKind::Integers {
                scratch.integers.clear();
                scratch
                    .integers
                    .extend(scratch.doubles.iter().map(|&d| d as i64));
                w.field(name, repr, Values::Integer(&scratch.integers));
            } else {
                w.field(name, repr, Values::Double(&scratch.doubles));
            }
        }
        ValueKind::Bools => {
            scratch.bools.clear();
            for i in 0..count {
                let t = element(i);
                let b = ffi::lua_toboolean(l, -1) != 0;
                ffi::lua_settop(l, -2);
                if t != ffi::LUA_TBOOLEAN {
                    return Err(mixed());
                }
                scratch.bools.push(b);
            }
            w.field(name, repr, Values::Bool(&scratch.bools));
        }
    }
    Ok(())
}

/// `inject_message(protobuf_string)`: the message must decode; it is then stamped for
/// the plugin type like a table's.
fn write_protobuf(shared: &Shared, bytes: &[u8], buf: &mut Vec<u8>) -> mlua::Result<HeaderIndex> {
    let msg = ScannedMessage::new(bytes)
        .map_err(|e| api_error(format!("inject_message() protobuf unmarshal failed: {e}")))?;
    let msg = msg.view();
    let settings = &shared.settings;
    let mut set = Overrides::default();
    let fresh_uuid = uuid::new_v4();
    if msg.uuid().len() != 16 {
        set.uuid = Some(&fresh_uuid);
    }
    if !msg.has_timestamp() {
        set.timestamp = Some(now_ns());
    }
    let mut prefixed = Vec::new();
    if settings.kind == Kind::Filter {
        prefixed.extend_from_slice(FILTER_TYPE_PREFIX);
        prefixed.extend_from_slice(msg.r#type());
        set.r#type = Some(&prefixed);
        set.logger = Some(settings.name.as_bytes());
        set.hostname = Some(settings.hostname.as_bytes());
    }
    let index = match settings.kind {
        Kind::Decoder => shared.with_message(|orig| {
            let mut set = set;
            if !msg.has_timestamp() && orig.has_timestamp() {
                set.timestamp = Some(orig.timestamp());
            }
            if msg.r#type().is_empty() {
                set.r#type = Some(orig.r#type());
            }
            if msg.logger().is_empty() {
                set.logger = Some(orig.logger());
            }
            if msg.hostname().is_empty() {
                set.hostname = Some(orig.hostname());
            }
            if !msg.has_severity() && orig.has_severity() {
                set.severity = Some(orig.severity());
            }
            if !msg.has_pid() && orig.has_pid() {
                set.pid = Some(orig.pid());
            }
            rewrite(&msg, &set, &[], buf)
        }),
        _ => None,
    };
    let index = match index {
        Some(index) => index,
        None => rewrite(&msg, &set, &[], buf),
    };
    index.ok_or_else(|| api_error("inject_message() could not index the message"))
}

/// A timestamp the script wrote as a wall-clock time in `tz` (`config.tz`), as an
/// instant.
fn reinterpret(ns: i64, tz: &jiff::tz::TimeZone) -> i64 {
    let Ok(ts) = jiff::Timestamp::from_nanosecond(i128::from(ns)) else {
        return ns;
    };
    let civil = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    match civil.to_zoned(tz.clone()) {
        Ok(zoned) => zoned.timestamp().as_nanosecond() as i64,
        Err(_) => ns,
    }
}
