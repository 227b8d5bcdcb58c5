//! Reading messages from Lua (§7.3): `read_message` straight from the message bytes
//! through the zero-copy view, `read_next_field`, `decode_message`, and `read_config`.
//!
//! `read_message` runs on every message a filter sees, so it is a plain C function over
//! the Lua stack (no mlua call machinery: about half the cost per call, and nothing
//! allocated, measured in `docs/BENCHMARKS.md`). Everything else goes through mlua.

use super::api::{api_error, register};
use super::config::ConfigValue;
use super::state::Shared;
use crate::message::uuid;
use crate::message::{MessageView, ScannedMessage, Value as FieldValue};
use mlua::ffi;
use mlua::{Function, Lua, MultiValue, Table, Value, Variadic};
use std::os::raw::{c_int, c_void};
use std::rc::Rc;

/// Installs the reading functions `shared.settings.kind` has.
pub fn install(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    let globals = lua.globals();
    let kind = shared.settings.kind;
    if kind.reads_messages() {
        globals.raw_set("read_message", read_message_function(lua, shared)?)?;
        let s = shared.clone();
        register(lua, &globals, "read_next_field", move |lua, ()| {
            read_next_field(lua, &s)
        })?;
    }
    let s = shared.clone();
    register(
        lua,
        &globals,
        "read_config",
        move |lua, args: Variadic<Value>| {
            let [Value::String(name)] = args.as_slice() else {
                return Err(api_error("read_config() must have a single argument"));
            };
            Ok(match s.settings.config_value(&name.as_bytes()) {
                Some(ConfigValue::String(v)) => Value::String(lua.create_string(v)?),
                Some(ConfigValue::Number(n)) => Value::Number(*n),
                Some(ConfigValue::Bool(b)) => Value::Boolean(*b),
                None => Value::Nil,
            })
        },
    )?;
    register(
        lua,
        &globals,
        "decode_message",
        |lua, bytes: mlua::LuaString| {
            let bytes = bytes.as_bytes();
            let msg = ScannedMessage::new(&bytes)
                .map_err(|e| api_error(format!("decode_message() invalid protobuf string: {e}")))?;
            decode_message(lua, &msg.view())
        },
    )?;
    Ok(())
}

/// `read_message` as a C closure whose upvalue points at `shared`. The state keeps
/// `shared` alive (app data) for as long as the closure can be called.
fn read_message_function(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<Function> {
    let state = Rc::as_ptr(shared) as *mut c_void;
    // SAFETY: pushes a light userdata and a C closure over it on the stack mlua gives us.
    unsafe {
        lua.exec_raw((), |l| {
            ffi::lua_pushlightuserdata(l, state);
            ffi::lua_pushcclosure(l, read_message_c, 1);
        })
    }
}

/// `read_message(variable [, field_index [, array_index]])`.
///
/// Errors are raised with `luaL_error`/`luaL_argerror`, which leave this function with a
/// `longjmp`: no Rust value that needs dropping is alive at those points (only borrows).
unsafe extern "C-unwind" fn read_message_c(l: *mut ffi::lua_State) -> c_int {
    let shared = &*(ffi::lua_touserdata(l, ffi::lua_upvalueindex(1)) as *const Shared);
    let nargs = ffi::lua_gettop(l);
    if !(1..=3).contains(&nargs) {
        return ffi::luaL_error(l, c"read_message() incorrect number of arguments".as_ptr());
    }
    let mut len = 0usize;
    let name = ffi::luaL_checklstring(l, 1, &mut len);
    // Most calls name a header or a field's first value: no index arguments to read.
    let (field_index, array_index) = match nargs {
        1 => (0, 0),
        _ => (ffi::luaL_optinteger(l, 2, 0), ffi::luaL_optinteger(l, 3, 0)),
    };
    if field_index < 0 {
        return ffi::luaL_argerror(l, 2, c"field index must be >= 0".as_ptr());
    }
    if array_index < 0 {
        return ffi::luaL_argerror(l, 3, c"array index must be >= 0".as_ptr());
    }
    let name = std::slice::from_raw_parts(name as *const u8, len);
    let pushed = shared.with_message(|msg| {
        push_message_value(l, msg, name, field_index as usize, array_index as usize)
    });
    if pushed.is_none() {
        ffi::lua_pushnil(l);
    }
    1
}

/// Pushes the value `read_message` returns for `name` (one value, nil when absent).
unsafe fn push_message_value(
    l: *mut ffi::lua_State,
    msg: &MessageView<'_>,
    name: &[u8],
    field_index: usize,
    array_index: usize,
) {
    let push_bytes = |bytes: &[u8]| {
        ffi::lua_pushlstring(l, bytes.as_ptr().cast(), bytes.len());
    };
    match name {
        b"Type" => push_bytes(msg.r#type()),
        b"Logger" => push_bytes(msg.logger()),
        b"Payload" => push_bytes(msg.payload()),
        b"EnvVersion" => push_bytes(msg.env_version()),
        b"Hostname" => push_bytes(msg.hostname()),
        b"Uuid" => {
            let mut text = [0u8; uuid::TEXT_LEN];
            push_bytes(uuid::format(msg.uuid(), &mut text).as_bytes());
        }
        b"Timestamp" => ffi::lua_pushnumber(l, msg.timestamp() as f64),
        b"Severity" => ffi::lua_pushnumber(l, f64::from(msg.severity())),
        b"Pid" if msg.has_pid() => ffi::lua_pushnumber(l, f64::from(msg.pid())),
        b"raw" => push_bytes(msg.bytes()),
        _ => match field_name(name)
            .and_then(|field| msg.field_value(field, field_index, array_index))
        {
            Some(FieldValue::String(v) | FieldValue::Bytes(v)) => push_bytes(v),
            Some(FieldValue::Integer(i)) => ffi::lua_pushnumber(l, i as f64),
            Some(FieldValue::Double(d)) => ffi::lua_pushnumber(l, d),
            Some(FieldValue::Bool(b)) => ffi::lua_pushboolean(l, c_int::from(b)),
            None => ffi::lua_pushnil(l),
        },
    }
}

/// `name` of `Fields[name]`.
pub fn field_name(variable: &[u8]) -> Option<&[u8]> {
    variable.strip_prefix(b"Fields[")?.strip_suffix(b"]")
}

/// A field value as a Lua value.
pub fn lua_value(lua: &Lua, value: FieldValue<'_>) -> mlua::Result<Value> {
    Ok(match value {
        FieldValue::String(v) | FieldValue::Bytes(v) => Value::String(lua.create_string(v)?),
        FieldValue::Integer(i) => Value::Number(i as f64),
        FieldValue::Double(d) => Value::Number(d),
        FieldValue::Bool(b) => Value::Boolean(b),
    })
}

/// `read_next_field()`: `value_type, name, value, representation, count` of the next
/// field of the current message; nothing after the last.
fn read_next_field(lua: &Lua, shared: &Shared) -> mlua::Result<MultiValue> {
    let position = shared.next_field.get();
    let next = shared.with_message(|msg| -> mlua::Result<Option<MultiValue>> {
        let Some(field) = msg.fields().nth(position) else {
            return Ok(None);
        };
        let value = match field.value(0) {
            Some(v) => lua_value(lua, v)?,
            None => Value::Nil,
        };
        Ok(Some(MultiValue::from_vec(vec![
            Value::Number(f64::from(field.value_type().map_or(0, |t| t as i32))),
            Value::String(lua.create_string(field.name())?),
            value,
            Value::String(lua.create_string(field.representation())?),
            Value::Number(field.value_count() as f64),
        ])))
    });
    match next.transpose()?.flatten() {
        Some(values) => {
            shared.next_field.set(position + 1);
            Ok(values)
        }
        None => Ok(MultiValue::from_vec(vec![Value::Nil; 5])),
    }
}

/// `decode_message(bytes)`: the message as a table in `inject_message`'s array form,
/// every field's `value` an array (§7.3).
pub fn decode_message(lua: &Lua, msg: &MessageView<'_>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    if !msg.uuid().is_empty() {
        t.raw_set("Uuid", lua.create_string(msg.uuid())?)?;
    }
    if msg.has_timestamp() {
        t.raw_set("Timestamp", msg.timestamp() as f64)?;
    }
    let strings: [(&str, &[u8]); 5] = [
        ("Type", msg.r#type()),
        ("Logger", msg.logger()),
        ("Payload", msg.payload()),
        ("EnvVersion", msg.env_version()),
        ("Hostname", msg.hostname()),
    ];
    for (key, value) in strings {
        if !value.is_empty() {
            t.raw_set(key, lua.create_string(value)?)?;
        }
    }
    if msg.has_severity() {
        t.raw_set("Severity", f64::from(msg.severity()))?;
    }
    if msg.has_pid() {
        t.raw_set("Pid", f64::from(msg.pid()))?;
    }
    let fields = lua.create_table()?;
    for (i, field) in msg.fields().enumerate() {
        let f = lua.create_table()?;
        f.raw_set("name", lua.create_string(field.name())?)?;
        f.raw_set("value_type", field.value_type().map_or(0, |t| t as i32))?;
        if !field.representation().is_empty() {
            f.raw_set("representation", lua.create_string(field.representation())?)?;
        }
        let values = lua.create_table()?;
        for (j, value) in field.values().enumerate() {
            values.raw_set(j + 1, lua_value(lua, value)?)?;
        }
        f.raw_set("value", values)?;
        fields.raw_set(i + 1, f)?;
    }
    t.raw_set("Fields", fields)?;
    Ok(t)
}
