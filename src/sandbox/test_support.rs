//! Lua states for the unit tests of the sandbox's built-in Rust modules.

use super::limits::NativeMemory;
use mlua::{Lua, Table};

/// A state with the API wrapper and `module` as the global `name`, native memory counted
/// against `limit` bytes (0: none).
pub fn state_with(name: &str, module: fn(&Lua) -> mlua::Result<Table>, limit: usize) -> Lua {
    let lua = Lua::new();
    super::api::prepare(&lua).expect("prepare");
    lua.set_app_data(NativeMemory::new(limit));
    let m = module(&lua).expect("module");
    lua.globals().set(name, m).expect("global");
    lua
}

/// Runs `code` (a Lua chunk returning values), panicking with the chunk and the error.
pub fn eval<T: mlua::FromLuaMulti>(lua: &Lua, code: &str) -> T {
    lua.load(code)
        .eval()
        .unwrap_or_else(|e| panic!("{code}: {e}"))
}
