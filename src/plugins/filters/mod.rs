//! Filters (spec §5.4): see routed packs, keep state, and inject new messages.

pub mod counter;
pub mod sandbox;
pub mod stat;

use crate::pipeline::inbox::Inbox;
pub use crate::pipeline::inject::{Injector, Origin};
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use smol::future::BoxedLocal;
use std::sync::Arc;
use std::time::Duration;

/// What a running filter gets from the pipeline.
pub struct FilterContext {
    pub name: String,
    /// Packs routed to this filter; closed at shutdown once the inputs are done.
    pub queue: Inbox,
    pub injector: Injector,
    /// `ticker_interval`; `None` when 0.
    pub ticker: Option<Duration>,
    pub control: Control,
    pub stats: Arc<PluginStats>,
    /// Whether the filter may stop while hekad runs on (`can_exit`); otherwise its end
    /// shuts hekad down.
    pub can_exit: bool,
}

/// A configured filter: `run` consumes its queue until it is closed and drained.
pub trait Filter: Send {
    fn run(self: Box<Self>, ctx: FilterContext) -> BoxedLocal<Result<(), String>>;
}
