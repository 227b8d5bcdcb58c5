//! Lua sandboxes (spec §7): Heka's Lua API on Lua 5.1, with memory, instruction and output
//! limits, module loading and state preservation.

pub mod limits;
