//! PLACEHOLDER until the pattern module lands.
use super::limits::Instructions;
use std::rc::Rc;
pub fn install(_lua: &mlua::Lua, _budget: Rc<Instructions>) -> mlua::Result<()> {
    Ok(())
}
