//! How the sandbox's API functions reach Lua. A Rust callback's error reaches a script
//! as an mlua userdata; Heka's scripts get strings (`local ok, err = pcall(...)` then
//! `return -1, err`, or `err:find(...)`). So each function is registered behind a small
//! Lua wrapper: the Rust side returns `true` and its results, or `false` and a message
//! that the wrapper raises with `error(message, 2)`, which also puts the script's
//! `file:line:` in front, as Lua's own functions do.

use super::state::error_text;
use mlua::{FromLuaMulti, Function, IntoLuaMulti, Lua, MultiValue, Table, Value};

/// Registry key of the wrapper factory.
const WRAP: &str = "hekad.api_wrap";
/// Registry key of the factory of wrappers that return exactly the results given.
const WRAP_EXACT: &str = "hekad.api_wrap_exact";

/// Lua 5.1's name of a value's type, as its error messages print it (mlua says
/// "integer" for some numbers).
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// The bytes of the string at stack index `index` of a C function's state (valid while
/// the string is on the stack, or held by a table that is); empty for other types.
///
/// # Safety
/// `l` is a live state and `index` a valid index of its stack.
pub unsafe fn stack_bytes<'a>(
    l: *mut mlua::ffi::lua_State,
    index: std::os::raw::c_int,
) -> &'a [u8] {
    let mut len = 0usize;
    let ptr = mlua::ffi::lua_tolstring(l, index, &mut len);
    match ptr.is_null() {
        true => &[],
        false => std::slice::from_raw_parts(ptr.cast(), len),
    }
}

/// A Lua integer as an `i64`: mlua's `Integer` is C's `ptrdiff_t`, 32 bits on armv7.
#[allow(clippy::useless_conversion)]
pub fn lua_integer(i: mlua::Integer) -> i64 {
    i64::from(i)
}

/// An error a script sees as a plain string (the wrapper adds where it was called).
pub fn api_error(text: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::RuntimeError(text.to_string())
}

/// Creates the wrapper factory of a new state.
pub fn prepare(lua: &Lua) -> mlua::Result<()> {
    let wrap: Function = lua
        .load(
            r#"
            local error = error
            return function(f)
                return function(...)
                    local ok, a, b, c, d, e = f(...)
                    if not ok then error(a, 2) end
                    return a, b, c, d, e
                end
            end
            "#,
        )
        .set_name("=api")
        .eval()?;
    lua.set_named_registry_value(WRAP, wrap)?;
    // `finish` is tail-called, and Lua 5.1 counts the wrapper's frame it replaced as
    // level 2: level 3 is the script calling the wrapper.
    let exact: Function = lua
        .load(
            r#"
            local error = error
            local function finish(ok, ...)
                if not ok then error((...), 3) end
                return ...
            end
            return function(f)
                return function(...) return finish(f(...)) end
            end
            "#,
        )
        .set_name("=api")
        .eval()?;
    lua.set_named_registry_value(WRAP_EXACT, exact)
}

/// Sets `table[name]` to API function `f` (at most five results). Arguments that do not
/// convert, and every error but running out of memory, reach the script as strings.
pub fn register<A, R, F>(lua: &Lua, table: &Table, name: &str, f: F) -> mlua::Result<()>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
{
    table.raw_set(name, wrap(lua, raw_function(lua, name, f)?)?)
}

/// As [`register`], but the function returns exactly the results `f` gives, however
/// many (for results passed straight on, as in `inject_payload("cbuf", name,
/// cb:format("cbuf"))`), at the cost of one more Lua call.
pub fn register_exact<A, R, F>(lua: &Lua, table: &Table, name: &str, f: F) -> mlua::Result<()>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
{
    let wrap: Function = lua.named_registry_value(WRAP_EXACT)?;
    table.raw_set(name, wrap.call::<Function>(raw_function(lua, name, f)?)?)
}

/// The Rust side of an API function: `true` and its results, or `false` and a message.
fn raw_function<A, R, F>(lua: &Lua, name: &str, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + 'static,
{
    let qualified = name.to_owned();
    lua.create_function(move |lua, args: MultiValue| {
        let result = A::from_lua_multi(args, lua)
            .map_err(|e| api_error(format!("{qualified}() bad argument: {}", error_text(&e))))
            .and_then(|args| f(lua, args))
            .and_then(|r| r.into_lua_multi(lua));
        match result {
            Ok(mut values) => {
                values.push_front(Value::Boolean(true));
                Ok(values)
            }
            Err(e @ mlua::Error::MemoryError(_)) => Err(e),
            Err(e) => (false, error_text(&e)).into_lua_multi(lua),
        }
    })
}

/// Sets `table[name]` to a C function that already answers `true, results...` or
/// `false, message` (`inject_message`), behind the same wrapper.
pub fn register_function(lua: &Lua, table: &Table, name: &str, raw: Function) -> mlua::Result<()> {
    table.raw_set(name, wrap(lua, raw)?)
}

fn wrap(lua: &Lua, raw: Function) -> mlua::Result<Function> {
    let wrap: Function = lua.named_registry_value(WRAP)?;
    wrap.call(raw)
}
