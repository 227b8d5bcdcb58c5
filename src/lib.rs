//! hekad: Mozilla Heka's stream processor for logs and metrics, in Rust.
//! See `docs/ARCHITECTURE.md` for how the pieces fit.

pub mod alloc_count;
pub mod assembly;
pub mod atomic_file;
pub mod cli;
pub mod config;
pub mod diagnostics;
pub mod footprint;
pub mod framing;
pub mod matcher;
pub mod message;
pub mod pidfile;
pub mod pipeline;
pub mod plugins;
pub mod preflight;
pub mod sandbox;
pub mod splitters;
pub mod timefmt;
