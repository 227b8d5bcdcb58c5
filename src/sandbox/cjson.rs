//! PLACEHOLDER until the cjson module lands.
#[derive(Debug, Clone, Copy)]
pub struct JsonLimits {
    pub output_limit: usize,
    pub max_decode: usize,
}
pub fn module(lua: &mlua::Lua, _limits: JsonLimits) -> mlua::Result<mlua::Table> {
    lua.create_table()
}
