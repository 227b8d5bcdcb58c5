//! `inject_message` (§7.3): a Lua table (hash or array field form, value objects) or a
//! protobuf string, written with the allocation-free [`MessageWriter`] into buffers the
//! sandbox reuses, stamped as the plugin type requires, checked and limited, then kept
//! for the plugin to send (or delivered at once for inputs).

use super::config::Kind;
use super::api::{api_error, register};
use super::state::Shared;
use crate::message::rewrite::{rewrite, Overrides};
use crate::message::view::HeaderIndex;
use crate::message::writer::Values;
use crate::message::{uuid, MessageView, MessageWriter, ScannedMessage};
use crate::pipeline::inject::now_ns;
use mlua::{Lua, Table, Value};
use std::rc::Rc;

/// The Type prefix of messages a filter injects.
const FILTER_TYPE_PREFIX: &[u8] = b"heka.sandbox.";

/// Installs `inject_message` where the plugin type has it.
pub fn install(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    if !shared.settings.kind.injects() {
        return Ok(());
    }
    let s = shared.clone();
    register(lua, &lua.globals(), "inject_message", move |lua, message: Value| {
        inject_message(lua, &s, message)
    })
}

fn inject_message(lua: &Lua, shared: &Shared, message: Value) -> mlua::Result<()> {
    if shared.inject_budget.get() == 0 {
        return Err(api_error("inject_message() exceeded InjectMessage count"));
    }
    let mut buf = shared.injected.borrow_mut().next_buffer();
    let written = match &message {
        Value::Table(t) => write_table(lua, shared, t, &mut buf),
        Value::String(s) => write_protobuf(shared, &s.as_bytes(), &mut buf),
        other => Err(api_error(format!(
                "inject_message() takes a table or a protobuf string, not a {}",
                other.type_name()
            ),
        )),
    };
    match written {
        Ok(index) => deliver(shared, buf, index, "inject_message()"),
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
    shared.inject_budget.set(shared.inject_budget.get().saturating_sub(1));
    Ok(())
}

/// Headers as the script gave them.
#[derive(Default)]
struct Given {
    uuid: Option<[u8; 16]>,
    timestamp: Option<i64>,
    r#type: Option<mlua::LuaString>,
    logger: Option<mlua::LuaString>,
    severity: Option<i32>,
    payload: Option<mlua::LuaString>,
    env_version: Option<mlua::LuaString>,
    pid: Option<i32>,
    hostname: Option<mlua::LuaString>,
}

fn write_table(
    lua: &Lua,
    shared: &Shared,
    t: &Table,
    buf: &mut Vec<u8>,
) -> mlua::Result<HeaderIndex> {
    let text = |key: &str| -> mlua::Result<Option<mlua::LuaString>> {
        match t.raw_get::<Value>(key)? {
            Value::Nil => Ok(None),
            v @ (Value::String(_) | Value::Integer(_) | Value::Number(_)) => lua.coerce_string(v),
            other => Err(api_error(format!("inject_message() {key} must be a string, not a {}", other.type_name()),
            )),
        }
    };
    let number = |key: &str| -> mlua::Result<Option<f64>> {
        match t.raw_get::<Value>(key)? {
            Value::Nil => Ok(None),
            v => match lua.coerce_number(v.clone())? {
                Some(n) => Ok(Some(n)),
                None => Err(api_error(format!("inject_message() {key} must be a number, not a {}", v.type_name()),
                )),
            },
        }
    };
    let uuid = match t.raw_get::<Value>("Uuid")? {
        Value::String(s) => {
            let bytes = s.as_bytes();
            match bytes.len() {
                16 => bytes.as_ref().try_into().ok(),
                _ => std::str::from_utf8(&bytes).ok().and_then(uuid::parse),
            }
        }
        _ => None,
    };
    let mut given = Given {
        uuid,
        timestamp: number("Timestamp")?.map(|ns| ns as i64),
        r#type: text("Type")?,
        logger: text("Logger")?,
        severity: number("Severity")?.map(|n| n as i32),
        payload: text("Payload")?,
        env_version: text("EnvVersion")?,
        pid: number("Pid")?.map(|n| n as i32),
        hostname: text("Hostname")?,
    };
    if let (Some(tz), Some(ts)) = (&shared.settings.tz, given.timestamp) {
        given.timestamp = Some(reinterpret(ts, tz));
    }
    let fields: Value = t.raw_get("Fields")?;
    let write = |original: Option<&MessageView<'_>>, buf: &mut Vec<u8>| {
        write_message(lua, shared, &given, original, &fields, buf)
    };
    match shared.settings.kind {
        Kind::Decoder => match shared.with_message(|orig| write(Some(orig), buf)) {
            Some(result) => result,
            None => write(None, buf),
        },
        _ => write(None, buf),
    }
}

/// Writes the message: the given headers stamped for the plugin type (a filter's Type
/// prefix, Logger and Hostname; a decoder's headers inherited from `original`), then
/// the fields.
fn write_message(
    lua: &Lua,
    shared: &Shared,
    given: &Given,
    original: Option<&MessageView<'_>>,
    fields: &Value,
    buf: &mut Vec<u8>,
) -> mlua::Result<HeaderIndex> {
    let settings = &shared.settings;
    let bytes = |s: &Option<mlua::LuaString>| s.as_ref().map(|s| s.as_bytes());
    let (r#type, logger, payload) = (bytes(&given.r#type), bytes(&given.logger), bytes(&given.payload));
    let (env_version, hostname) = (bytes(&given.env_version), bytes(&given.hostname));
    // A decoder's messages take what they do not say from the message being decoded.
    let original = original.filter(|_| settings.kind == Kind::Decoder);
    let inherited = |header: fn(&MessageView<'_>) -> Vec<u8>| -> Option<Vec<u8>> {
        original.map(header).filter(|v| !v.is_empty())
    };
    let mut w = MessageWriter::new(buf);
    w.uuid(&given.uuid.unwrap_or_else(uuid::new_v4));
    let timestamp = given
        .timestamp
        .or_else(|| original.filter(|o| o.has_timestamp()).map(|o| o.timestamp()))
        .unwrap_or_else(now_ns);
    w.timestamp(timestamp);
    if settings.kind == Kind::Filter {
        let mut prefixed = FILTER_TYPE_PREFIX.to_vec();
        prefixed.extend_from_slice(r#type.as_deref().unwrap_or_default());
        w.r#type(&prefixed).logger(settings.name.as_bytes());
    } else {
        match r#type.as_deref() {
            Some(v) => w.r#type(v),
            None => match inherited(|o| o.r#type().to_vec()) {
                Some(v) => w.r#type(&v),
                None => &mut w,
            },
        };
        match logger.as_deref() {
            Some(v) => w.logger(v),
            None => match inherited(|o| o.logger().to_vec()) {
                Some(v) => w.logger(&v),
                None => &mut w,
            },
        };
    }
    let severity = given
        .severity
        .or_else(|| original.filter(|o| o.has_severity()).map(|o| o.severity()));
    if let Some(severity) = severity {
        w.severity(severity);
    }
    if let Some(v) = payload.as_deref() {
        w.payload(v);
    }
    if let Some(v) = env_version.as_deref() {
        w.env_version(v);
    }
    let pid = given
        .pid
        .or_else(|| original.filter(|o| o.has_pid()).map(|o| o.pid()));
    if let Some(pid) = pid {
        w.pid(pid);
    }
    if settings.kind == Kind::Filter {
        w.hostname(settings.hostname.as_bytes());
    } else {
        match hostname.as_deref() {
            Some(v) => w.hostname(v),
            None => match inherited(|o| o.hostname().to_vec()) {
                Some(v) => w.hostname(&v),
                None => &mut w,
            },
        };
    }
    write_fields(lua, fields, &mut w)?;
    Ok(w.index().unwrap_or_default())
}

/// `inject_message(protobuf_string)`: the message must decode; it is then stamped for
/// the plugin type like a table's.
fn write_protobuf(
    shared: &Shared,
    bytes: &[u8],
    buf: &mut Vec<u8>,
) -> mlua::Result<HeaderIndex> {
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

/// One field's values, collected from Lua.
enum Collected {
    Strings(Vec<mlua::LuaString>),
    Numbers(Vec<f64>),
    Bools(Vec<bool>),
}

/// Writes `Fields`: the hash form `{name = value, ...}` or the array form
/// `{{name = "n", value = v, value_type = t, representation = r}, ...}`.
fn write_fields(lua: &Lua, fields: &Value, w: &mut MessageWriter<'_>) -> mlua::Result<()> {
    let t = match fields {
        Value::Nil => return Ok(()),
        Value::Table(t) => t,
        other => {
            return Err(api_error(format!("inject_message() Fields must be a table, not a {}", other.type_name()),
            ))
        }
    };
    if t.raw_len() > 0 {
        for entry in t.sequence_values::<Value>() {
            let Value::Table(entry) = entry? else {
                return Err(api_error("inject_message() Fields array entries must be tables"));
            };
            let name = match entry.raw_get::<Value>("name")? {
                Value::String(s) => s,
                _ => return Err(api_error("inject_message() a field in the Fields array has no name")),
            };
            let value = entry.raw_get::<Value>("value")?;
            write_field(lua, w, &name.as_bytes(), value, &entry)?;
        }
        return Ok(());
    }
    for pair in t.pairs::<Value, Value>() {
        let (key, value) = pair?;
        let name = match &key {
            Value::String(s) => s.clone(),
            other => {
                return Err(api_error(format!("inject_message() field names must be strings, not {}", other.type_name()),
                ))
            }
        };
        match &value {
            Value::Table(object) if !object.raw_get::<Value>("value")?.is_nil() => {
                let inner = object.raw_get::<Value>("value")?;
                write_field(lua, w, &name.as_bytes(), inner, object)?;
            }
            _ => write_field(lua, w, &name.as_bytes(), value, &lua.create_table()?)?,
        }
    }
    Ok(())
}

/// Writes one field; `options` holds its `value_type` and `representation`, if any.
fn write_field(
    lua: &Lua,
    w: &mut MessageWriter<'_>,
    name: &[u8],
    value: Value,
    options: &Table,
) -> mlua::Result<()> {
    let label = String::from_utf8_lossy(name);
    let err = |text: &str| api_error(format!("inject_message() Fields[{label}] {text}"));
    let value_type = match options.raw_get::<Value>("value_type")? {
        Value::Nil => None,
        v => match lua.coerce_number(v)? {
            Some(n) if (0.0..=4.0).contains(&n) => Some(n as i32),
            _ => return Err(err("has an invalid value_type")),
        },
    };
    let representation = match options.raw_get::<Value>("representation")? {
        Value::Nil => None,
        v => lua.coerce_string(v)?,
    };
    let repr = representation.as_ref().map(|r| r.as_bytes());
    let repr: &[u8] = repr.as_deref().unwrap_or_default();
    let items: Vec<Value> = match value {
        Value::Table(array) => {
            let items: Vec<Value> = array.sequence_values::<Value>().collect::<mlua::Result<_>>()?;
            if items.is_empty() {
                return Err(err("is an empty array"));
            }
            items
        }
        scalar => vec![scalar],
    };
    let collected = collect(lua, &items, value_type).map_err(|text| err(&text))?;
    match (collected, value_type) {
        (Collected::Strings(v), bytes) => {
            let borrowed: Vec<_> = v.iter().map(|s| s.as_bytes()).collect();
            let slices: Vec<&[u8]> = borrowed.iter().map(|b| b.as_ref()).collect();
            match bytes {
                Some(1) => w.field(name, repr, Values::Bytes(&slices)),
                _ => w.field(name, repr, Values::String(&slices)),
            };
        }
        (Collected::Numbers(v), Some(2)) => {
            let ints: Vec<i64> = v.iter().map(|&n| n as i64).collect();
            w.field(name, repr, Values::Integer(&ints));
        }
        (Collected::Numbers(v), _) => {
            w.field(name, repr, Values::Double(&v));
        }
        (Collected::Bools(v), _) => {
            w.field(name, repr, Values::Bool(&v));
        }
    }
    Ok(())
}

/// The values of one field, all of one type: the `value_type` given, or else the Lua
/// type of the first (numbers are doubles unless `value_type` is 2).
fn collect(lua: &Lua, items: &[Value], value_type: Option<i32>) -> Result<Collected, String> {
    let mixed = || "mixes value types in one array".to_owned();
    let want = match value_type {
        Some(0 | 1) => 's',
        Some(2 | 3) => 'n',
        Some(_) => 'b',
        None => match items.first() {
            Some(Value::String(_)) => 's',
            Some(Value::Integer(_) | Value::Number(_)) => 'n',
            Some(Value::Boolean(_)) => 'b',
            Some(other) => return Err(format!("has an unsupported value type ({})", other.type_name())),
            None => return Err("is an empty array".into()),
        },
    };
    match want {
        's' => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Integer(_) | Value::Number(_) if value_type.is_some() => lua
                    .coerce_string(v.clone())
                    .ok()
                    .flatten()
                    .ok_or_else(mixed),
                _ => Err(mixed()),
            })
            .collect::<Result<_, _>>()
            .map(Collected::Strings),
        'n' => items
            .iter()
            .map(|v| match v {
                Value::Integer(i) => Ok(*i as f64),
                Value::Number(n) => Ok(*n),
                Value::String(_) if value_type.is_some() => {
                    lua.coerce_number(v.clone()).ok().flatten().ok_or_else(mixed)
                }
                _ => Err(mixed()),
            })
            .collect::<Result<_, _>>()
            .map(Collected::Numbers),
        _ => items
            .iter()
            .map(|v| match v {
                Value::Boolean(b) => Ok(*b),
                _ => Err(mixed()),
            })
            .collect::<Result<_, _>>()
            .map(Collected::Bools),
    }
}
