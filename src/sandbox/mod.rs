//! Lua sandboxes (spec §7): Heka's Lua API on Lua 5.1 (mlua, built in), with memory,
//! instruction and output limits, `require` over built-in and `module_directory`
//! modules, and state preservation. Plugins (`src/plugins/<kind>/sandbox.rs`) run a
//! [`Sandbox`] and decide what its return codes and injected messages mean for them.
//!
//! - [`config`]: the sandbox keys of a plugin section ([`SandboxSettings`]);
//! - `state`: the Lua state, the entry points and the bookkeeping around each call;
//! - `env`: the restricted environment, `require`, `os.date`/`os.time` in UTC, the hook;
//! - [`limits`]: the instruction budget shared by the hook and native code, and the
//!   memory native objects hold outside the Lua heap;
//! - `message`, `inject`, `payload`, `write`: the API functions of §7.3;
//! - `preserve`: saving and restoring globals;
//! - [`lua_pattern`], [`cjson`]: Rust replacements for C code a hook cannot stop;
//! - [`lpeg`]: LPeg 1.0 in Rust, and the `re` module over it;
//! - [`circular_buffer`]: time series windows for filters, written as "cbuf"/"cbufd";
//! - [`hyperloglog`], [`bloom_filter`]: lua_sandbox's probabilistic counters, in Rust;
//! - [`library`]: hekad's Lua library (Heka's stock scripts and modules) built in.

mod api;
pub mod bloom_filter;
pub mod circular_buffer;
pub mod cjson;
pub mod config;
pub mod env;
pub mod hyperloglog;
mod inject;
pub mod library;
pub mod limits;
pub mod lpeg;
pub mod lua_pattern;
mod message;
pub mod number;
mod payload;
mod preserve;
mod state;
#[cfg(test)]
mod test_support;
mod write;

pub use config::{ConfigValue, Kind, SandboxSettings};
pub use state::{InjectCheck, InjectSink, Injected, Outcome, Sandbox};
