//! hekad: Mozilla Heka's stream processor for logs and metrics, in Rust.
//! See `docs/ARCHITECTURE.md` for how the pieces fit.

pub mod message;
pub mod config;
pub mod pipeline;
pub mod plugins;
