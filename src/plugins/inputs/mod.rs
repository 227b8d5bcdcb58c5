//! Inputs (spec §5.1): bring bytes in from the outside and hand them to a [`Deliverer`].

pub mod deliver;
pub mod file_polling;
pub mod http;
pub mod http_listen;
pub mod logstreamer;
pub mod process;
pub mod process_directory;
pub mod sandbox;
pub mod stat_accum;
pub mod statsd;
pub mod system_stats;
pub mod tcp;
pub mod udp;

pub use deliver::{Decorator, Deliverer, InputShared, RouterClosed};

use crate::pipeline::inject::Injector;
use crate::pipeline::shutdown::Control;
use smol::future::BoxedLocal;

/// What a running input gets from the pipeline.
pub struct InputContext {
    pub shared: InputShared,
    pub control: Control,
    /// `[hekad]` settings some inputs need (base_dir, hostname, fsync_interval).
    pub globals: std::sync::Arc<crate::config::globals::Globals>,
    /// For inputs that build whole messages themselves (SandboxInput): injects them from
    /// the input pool into the router.
    pub injector: Injector,
    /// `ticker_interval`; `None` when 0.
    pub ticker: Option<std::time::Duration>,
}

/// A configured input. Sockets are bound when the input is built (so a bad address is a
/// start-up error); `run` serves until shutdown and returns an error only for failures
/// worth a restart (§4.7).
pub trait Input: Send {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>>;
}
