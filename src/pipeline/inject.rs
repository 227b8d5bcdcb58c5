//! Injecting messages that hekad builds itself (Heka's PipelinePack for filters and
//! timer-driven inputs) into the router: a pooled pack, Heka's loop and circular-reference
//! rules, and a send that never deadlocks a filter against the router.

use super::pool::{PackPool, PooledPack};
use super::ring::{Sender, TrySendError};
use super::stats::PluginStats;
use crate::matcher::Matcher;
use crate::message::view::HeaderIndex;
use crate::message::{uuid, MessageView, MessageWriter};
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Header values stamped on messages hekad builds (Heka's PipelinePack).
#[derive(Debug, Clone)]
pub struct Origin {
    pub hostname: String,
    pub pid: i32,
    pub max_message_loops: u8,
}

/// Why a message was not injected; the texts are Heka's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// The message went round filters more than `max_message_loops` times.
    Loops(u8),
    /// The message would match the injecting filter's own matcher.
    CircularReference,
    /// The router is gone (shutdown).
    Closed,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Loops(max) => write!(f, "exceeded MaxMsgLoops = {max}"),
            Rejected::CircularReference => {
                f.write_str("creates a circular reference (matches this plugin's message_matcher)")
            }
            Rejected::Closed => f.write_str("aborted"),
        }
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Injects a plugin's messages into the router, from a fixed pool.
///
/// A filter must never wait on the router while the router waits on that filter's full
/// queue: the filters' ring to the router holds the whole inject pool, so it always has
/// room for a pack taken from it. (A message kept when it was full anyway is sent on the
/// next call or [`Injector::flush`].) Inputs inject into the inputs' ring and simply wait.
pub struct Injector {
    name: String,
    pool: PackPool,
    router: Sender<PooledPack>,
    /// A filter's own matcher: what matches it may not be injected by it.
    own_matcher: Option<Matcher>,
    origin: Origin,
    pending: Option<PooledPack>,
    stats: Arc<PluginStats>,
}

impl Injector {
    pub fn new(
        name: String,
        pool: PackPool,
        router: Sender<PooledPack>,
        own_matcher: Option<Matcher>,
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

    /// The rules a message must pass before it is injected with loop count `loops`
    /// (one more than the message being processed when it was made).
    pub fn check(&self, msg: &MessageView<'_>, loops: u8) -> Result<(), Rejected> {
        check(self.own_matcher.as_ref(), &self.origin, msg, loops)
    }

    /// A checker that can run away from the injector (in a sandbox's API function, which
    /// must refuse a message while the script is still running).
    pub fn checker(&self) -> impl Fn(&MessageView<'_>, u8) -> Result<(), Rejected> + 'static {
        let (matcher, origin) = (self.own_matcher.clone(), self.origin.clone());
        move |msg, loops| check(matcher.as_ref(), &origin, msg, loops)
    }

    /// Builds a message with `fill` after the standard headers (uuid, timestamp, type,
    /// logger: this plugin's name) and injects it. `fill` writes the remaining headers in
    /// field order from severity on (see [`MessageWriter`]); Pid and Hostname come from
    /// [`Origin`]. Returns false if the message was rejected (logged and counted).
    pub async fn inject(
        &mut self,
        r#type: &str,
        fill: impl FnOnce(&mut MessageWriter<'_>, &Origin),
    ) -> bool {
        let name = std::mem::take(&mut self.name);
        let done = self.inject_logged(r#type, &name, fill).await;
        self.name = name;
        done
    }

    /// [`Injector::inject`] with another Logger (HttpInput: the URL polled).
    pub async fn inject_logged(
        &mut self,
        r#type: &str,
        logger: &str,
        fill: impl FnOnce(&mut MessageWriter<'_>, &Origin),
    ) -> bool {
        self.inject_with(true, |w, origin| {
            w.uuid(&uuid::new_v4())
                .timestamp(now_ns())
                .r#type(r#type.as_bytes())
                .logger(logger.as_bytes());
            fill(w, origin);
        })
        .await
    }

    /// Injects `heka.sandbox-terminated` (Logger `hekad`, the error as Payload,
    /// Fields[plugin]) for this plugin; the pipeline's own message, so it is not checked
    /// against the plugin's matcher.
    pub async fn inject_terminated(&mut self, error: &str) {
        let name = self.name.clone();
        self.inject_with(false, |w, origin| {
            w.uuid(&uuid::new_v4())
                .timestamp(now_ns())
                .r#type(b"heka.sandbox-terminated")
                .logger(b"hekad")
                .severity(crate::message::DEFAULT_SEVERITY)
                .payload(error.as_bytes())
                .pid(origin.pid)
                .hostname(origin.hostname.as_bytes())
                .field(
                    b"plugin",
                    b"",
                    crate::message::writer::Values::String(&[name.as_bytes()]),
                );
        })
        .await;
    }

    async fn inject_with(
        &mut self,
        checked: bool,
        write: impl FnOnce(&mut MessageWriter<'_>, &Origin),
    ) -> bool {
        self.flush().await;
        let Some(mut pack) = self.pool.acquire().await else {
            return false;
        };
        let written = {
            let mut w = MessageWriter::new(&mut pack.msg);
            write(&mut w, &self.origin);
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
        if checked {
            if let Err(rejected) = self.check(&pack.view(), 1) {
                PluginStats::add(&self.stats.drop_count, 1);
                log::error!("Plugin '{}' error: {rejected}", self.name);
                return false;
            }
        }
        self.send(pack);
        true
    }

    /// Injects a message hekad already encoded and checked ([`Injector::check`]): copied
    /// into a pooled pack with its header index.
    pub async fn inject_bytes(
        &mut self,
        bytes: &[u8],
        index: HeaderIndex,
        loops: u8,
    ) -> Result<(), Rejected> {
        self.flush().await;
        let Some(mut pack) = self.pool.acquire().await else {
            return Err(Rejected::Closed);
        };
        pack.msg.extend_from_slice(bytes);
        pack.index = index;
        pack.loops = loops;
        self.send(pack);
        Ok(())
    }

    fn send(&mut self, pack: PooledPack) {
        PluginStats::add(&self.stats.inject_count, 1);
        self.pending = Some(pack);
        self.try_send();
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

fn check(
    own_matcher: Option<&Matcher>,
    origin: &Origin,
    msg: &MessageView<'_>,
    loops: u8,
) -> Result<(), Rejected> {
    if loops > origin.max_message_loops.max(1) {
        return Err(Rejected::Loops(origin.max_message_loops));
    }
    match own_matcher {
        Some(m) if m.matches(msg) => Err(Rejected::CircularReference),
        _ => Ok(()),
    }
}
