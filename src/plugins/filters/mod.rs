//! Filters (spec §5.4): see routed packs, keep state, and inject new messages.

pub mod counter;

use crate::matcher::Matcher;
use crate::message::{uuid, MessageWriter};
use crate::pipeline::inbox::Inbox;
use crate::pipeline::pool::{PackPool, PooledPack};
use crate::pipeline::ring::{Sender, TrySendError};
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use smol::future::BoxedLocal;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}

/// A configured filter: `run` consumes its queue until it is closed and drained.
pub trait Filter: Send {
    fn run(self: Box<Self>, ctx: FilterContext) -> BoxedLocal<Result<(), String>>;
}

/// Header values stamped on injected messages (Heka's PipelinePack).
#[derive(Debug, Clone)]
pub struct Origin {
    pub hostname: String,
    pub pid: i32,
    pub max_message_loops: u8,
}

/// Injects messages from a filter back into the router, from the separate inject pool.
///
/// It never waits on the router: when the router's inject queue is full the message is
/// kept and sent on the next call (or [`Injector::flush`]), so a filter and the router can
/// never wait on each other. A second message while one is still pending waits for room.
pub struct Injector {
    name: String,
    pool: PackPool,
    router: Sender<PooledPack>,
    own_matcher: Matcher,
    origin: Origin,
    pending: Option<PooledPack>,
    stats: Arc<PluginStats>,
}

impl Injector {
    pub fn new(
        name: String,
        pool: PackPool,
        router: Sender<PooledPack>,
        own_matcher: Matcher,
        origin: Origin,
        stats: Arc<PluginStats>,
    ) -> Injector {
        Injector {
            name,
            pool,
            router,
            own_matcher,
            origin,
            pending: None,
            stats,
        }
    }

    /// Builds a message with `fill` after the standard headers (uuid, timestamp, type,
    /// logger) and injects it. `fill` writes the remaining headers in field order from
    /// severity on (see [`MessageWriter`]); Pid and Hostname are appended by `fill` via
    /// [`Origin`]. Returns false if the message was rejected.
    pub async fn inject(
        &mut self,
        r#type: &str,
        fill: impl FnOnce(&mut MessageWriter<'_>, &Origin),
    ) -> bool {
        self.flush().await;
        let Some(mut pack) = self.pool.acquire().await else {
            return false;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        let written = {
            let mut w = MessageWriter::new(&mut pack.msg);
            w.uuid(&uuid::new_v4())
                .timestamp(now)
                .r#type(r#type.as_bytes())
                .logger(self.name.as_bytes());
            fill(&mut w, &self.origin);
            w.index()
        };
        if let Err(e) = pack.index_written(written) {
            log::error!(
                "Plugin '{}' error: injected an invalid message: {e}",
                self.name
            );
            return false;
        }
        pack.loops = 1;
        if u32::from(pack.loops) > u32::from(self.origin.max_message_loops.max(1)) {
            log::error!(
                "Plugin '{}' error: exceeded MaxMsgLoops = {}",
                self.name,
                self.origin.max_message_loops
            );
            return false;
        }
        if self.own_matcher.matches(&pack.view()) {
            PluginStats::add(&self.stats.drop_count, 1);
            log::error!(
                "Plugin '{}' error: attempted to inject a message that creates a circular reference (matches this plugin's message_matcher)",
                self.name
            );
            return false;
        }
        PluginStats::add(&self.stats.inject_count, 1);
        self.pending = Some(pack);
        self.try_send();
        true
    }

    fn try_send(&mut self) {
        if let Some(pack) = self.pending.take() {
            match self.router.try_send(pack) {
                Ok(()) => {}
                Err(TrySendError::Full(pack)) => self.pending = Some(pack),
                Err(TrySendError::Closed(_)) => PluginStats::add(&self.stats.drop_count, 1),
            }
        }
    }

    /// Sends a pending injected message, waiting for room only while the router is not
    /// waiting on this filter (it never is while this filter's queue is empty).
    pub async fn flush(&mut self) {
        self.try_send();
        if let Some(pack) = self.pending.take() {
            if self.router.send(pack).await.is_err() {
                PluginStats::add(&self.stats.drop_count, 1);
            }
        }
    }
}
