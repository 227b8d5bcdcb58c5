//! `write_message` (§7.3): decoders and encoders change the message they were given.
//! The first write copies the message into an owned form (copy-on-write: the pack is
//! shared with other plugins in an encoder); each write re-encodes it and makes the
//! copy what `read_message` reads. No stock script writes, so this path favours plain
//! code over speed.

use super::api::{api_error, register};
use super::state::Shared;
use crate::message::view::HeaderIndex;
use crate::message::{uuid, Field, Message, ValueType};
use mlua::{Lua, Value};
use prost::Message as _;
use std::rc::Rc;

/// The editable copy of the current message and its encoding.
pub struct Edited {
    message: Message,
    bytes: Vec<u8>,
    index: HeaderIndex,
}

impl Edited {
    /// The encoded message and its header index.
    pub fn into_parts(self) -> (Vec<u8>, HeaderIndex) {
        (self.bytes, self.index)
    }
}

/// Installs `write_message` where the plugin type has it.
pub fn install(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    if !shared.settings.kind.writes_messages() {
        return Ok(());
    }
    let s = shared.clone();
    type Args = (
        mlua::LuaString,
        Value,
        Option<mlua::LuaString>,
        Option<i64>,
        Option<i64>,
    );
    register(
        lua,
        &lua.globals(),
        "write_message",
        move |lua, (variable, value, representation, fi, ai): Args| {
            let fail = |why: &str| api_error(format!("write_message() failed: {why}"));
            let (fi, ai) = match (fi.unwrap_or(0), ai) {
                (fi, _) if fi < 0 => return Err(fail("field index must be >= 0")),
                (_, Some(ai)) if ai < 0 => return Err(fail("array index must be >= 0")),
                (fi, ai) => (fi as usize, ai.map(|a| a as usize)),
            };
            // The copy is replaced only once the write succeeded: `read_message` reads it.
            let mut slot = s.edited.borrow_mut();
            let mut edited = match slot.as_ref() {
                Some(edited) => edited.message.clone(),
                None => s
                    .with_message(|msg| Message::decode(msg.bytes()))
                    .ok_or_else(|| fail("no message"))?
                    .map_err(|e| fail(&e.to_string()))?,
            };
            let repr = representation.map(|r| r.as_bytes().to_vec());
            apply(lua, &mut edited, &variable.as_bytes(), value, repr, fi, ai)
                .map_err(|why| fail(&why))?;
            let bytes = edited.encode_to_vec();
            let index = HeaderIndex::scan(&bytes).map_err(|e| fail(&e.to_string()))?;
            let e = slot.insert(Edited {
                message: edited,
                bytes,
                index,
            });
            s.set_current(Some((&e.bytes, e.index)));
            Ok(())
        },
    )
}

/// Applies one write to `msg`.
fn apply(
    lua: &Lua,
    msg: &mut Message,
    variable: &[u8],
    value: Value,
    repr: Option<Vec<u8>>,
    fi: usize,
    ai: Option<usize>,
) -> Result<(), String> {
    let text = |v: &Value| -> Result<Option<Vec<u8>>, String> {
        match v {
            Value::Nil => Ok(None),
            v => lua
                .coerce_string(v.clone())
                .map_err(|e| e.to_string())?
                .map(|s| Some(s.as_bytes().to_vec()))
                .ok_or_else(|| format!("a string is required, not a {}", v.type_name())),
        }
    };
    let integer = |v: &Value| -> Result<Option<i64>, String> {
        match v {
            Value::Nil => Ok(None),
            v => lua
                .coerce_number(v.clone())
                .map_err(|e| e.to_string())?
                .map(|n| Some(n as i64))
                .ok_or_else(|| format!("a number is required, not a {}", v.type_name())),
        }
    };
    match variable {
        b"Type" => msg.r#type = text(&value)?,
        b"Logger" => msg.logger = text(&value)?,
        b"Payload" => msg.payload = text(&value)?,
        b"EnvVersion" => msg.env_version = text(&value)?,
        b"Hostname" => msg.hostname = text(&value)?,
        b"Severity" => msg.severity = integer(&value)?.map(|n| n as i32),
        b"Pid" => msg.pid = integer(&value)?.map(|n| n as i32),
        b"Uuid" => {
            let text = text(&value)?.ok_or("a uuid is required")?;
            msg.uuid = match text.len() {
                16 => text,
                _ => std::str::from_utf8(&text)
                    .ok()
                    .and_then(uuid::parse)
                    .ok_or("invalid uuid")?
                    .to_vec(),
            };
        }
        b"Timestamp" => msg.timestamp = timestamp(&value)?,
        _ => {
            let name = super::message::field_name(variable)
                .ok_or_else(|| format!("unknown variable {}", String::from_utf8_lossy(variable)))?;
            write_field(msg, name, value, repr, fi, ai)?;
        }
    }
    Ok(())
}

/// A Timestamp written as nanoseconds, as integer text, as an RFC 3339 date, or as a
/// date and time in UTC (`2014-02-10 08:46:41.5`).
fn timestamp(value: &Value) -> Result<i64, String> {
    match value {
        Value::Integer(i) => Ok(super::api::lua_integer(*i)),
        Value::Number(n) => Ok(*n as i64),
        Value::String(s) => {
            let text = s.to_str().map_err(|e| e.to_string())?.trim().to_owned();
            if let Ok(ns) = text.parse::<i64>() {
                return Ok(ns);
            }
            // RFC 3339 with its offset, or a date and time without one (taken as UTC).
            let instant = text.parse::<jiff::Timestamp>().or_else(|_| {
                text.parse::<jiff::civil::DateTime>()
                    .and_then(|dt| dt.to_zoned(jiff::tz::TimeZone::UTC))
                    .map(|zoned| zoned.timestamp())
            });
            instant
                .map(|t| t.as_nanosecond() as i64)
                .map_err(|_| format!("unparseable Timestamp {text:?}"))
        }
        other => Err(format!(
            "a Timestamp is required, not a {}",
            other.type_name()
        )),
    }
}

/// `Fields[name]` at field index `fi` (an existing field, or one past the last to add
/// one) and array index `ai`; a nil value deletes the field, or only element `ai`.
fn write_field(
    msg: &mut Message,
    name: &[u8],
    value: Value,
    repr: Option<Vec<u8>>,
    fi: usize,
    ai: Option<usize>,
) -> Result<(), String> {
    let positions: Vec<usize> = msg
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name == name)
        .map(|(i, _)| i)
        .collect();
    if value.is_nil() {
        let Some(&at) = positions.get(fi) else {
            return Ok(());
        };
        match ai {
            None => {
                msg.fields.remove(at);
            }
            Some(ai) => remove_value(&mut msg.fields[at], ai),
        }
        return Ok(());
    }
    let value_type = match &value {
        Value::Boolean(_) => ValueType::Bool,
        Value::Integer(_) | Value::Number(_) => ValueType::Double,
        Value::String(_) => ValueType::String,
        other => return Err(format!("unsupported value type {}", other.type_name())),
    };
    let ai = ai.unwrap_or(0);
    let field = match positions.get(fi) {
        Some(&at) => &mut msg.fields[at],
        None if fi == positions.len() && ai == 0 => {
            msg.fields.push(Field {
                name: name.to_vec(),
                value_type: Some(value_type as i32),
                representation: Some(Vec::new()),
                ..Field::default()
            });
            let last = msg.fields.len() - 1;
            &mut msg.fields[last]
        }
        None => return Err("field index out of range".into()),
    };
    if field.value_type.unwrap_or(0) != value_type as i32 {
        return Err("the value does not match the field's type".into());
    }
    if let Some(repr) = repr {
        field.representation = Some(repr);
    }
    match value {
        Value::Boolean(b) => set_at(&mut field.value_bool, ai, b),
        Value::Integer(i) => set_at(&mut field.value_double, ai, i as f64),
        Value::Number(n) => set_at(&mut field.value_double, ai, n),
        Value::String(s) => set_at(&mut field.value_string, ai, s.as_bytes().to_vec()),
        _ => Ok(()),
    }
}

/// Overwrites element `ai`, or appends when `ai` is one past the end.
fn set_at<T>(values: &mut Vec<T>, ai: usize, value: T) -> Result<(), String> {
    match ai.cmp(&values.len()) {
        std::cmp::Ordering::Less => {
            values[ai] = value;
            Ok(())
        }
        std::cmp::Ordering::Equal => {
            values.push(value);
            Ok(())
        }
        std::cmp::Ordering::Greater => Err("array index out of range".into()),
    }
}

fn remove_value(field: &mut Field, ai: usize) {
    fn remove<T>(values: &mut Vec<T>, ai: usize) {
        if ai < values.len() {
            values.remove(ai);
        }
    }
    remove(&mut field.value_string, ai);
    remove(&mut field.value_bytes, ai);
    remove(&mut field.value_integer, ai);
    remove(&mut field.value_double, ai);
    remove(&mut field.value_bool, ai);
}
