//! The router (§3.7): takes every decoded pack, evaluates each filter's and output's
//! matcher against the message bytes and hands the pack (shared, not copied) to every
//! plugin that matched.
//!
//! Back-pressure: delivery into a full plugin queue waits, so a slow plugin slows the
//! inputs instead of losing messages. Heka's worst field failure was a pipeline wedged for
//! good behind one stuck plugin; here a plugin whose queue stays full for longer than
//! `max_pack_idle` is declared *wedged*: it is logged, and while its queue stays full the
//! messages for it are dropped and counted (DropMessageCount) so every other plugin keeps
//! flowing. It recovers by itself as soon as its queue has room again. Filters inject into
//! a separate channel without ever waiting on the router, so the router and a filter can
//! never wait on each other.

use super::deadline::Deadline;
use super::pool::{PooledPack, SharedPack};
use super::ring::{Receiver, Sender, TrySendError};
use super::stats::{PendingCount, PluginStats};
use crate::matcher::Matcher;
use smol::future::FutureExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One filter or output as the router sees it.
pub struct Route {
    pub name: String,
    pub matcher: Matcher,
    /// `message_signer`: only packs authenticated by this signer are considered.
    pub signer: Option<String>,
    pub queue: Sender<SharedPack>,
    pub stats: Arc<PluginStats>,
    /// Filters are closed first at shutdown so their last injections are still routed.
    pub is_filter: bool,
    /// Never declared wedged: the router waits as long as it takes (a disk-buffered
    /// plugin, whose queue writer stalls only when it must pause the inputs).
    pub waits_forever: bool,
    wedged: bool,
    seen: u64,
    /// The `seen` count at which the next match timing is sampled (after the first 64,
    /// every multiple of the sample denominator).
    next_sample: u64,
    /// Times a wait on a full queue out after `max_pack_idle`.
    idle: Deadline,
}

impl Route {
    pub fn new(
        name: String,
        matcher: Matcher,
        signer: Option<String>,
        queue: Sender<SharedPack>,
        stats: Arc<PluginStats>,
        is_filter: bool,
    ) -> Route {
        stats
            .in_chan_capacity
            .store(queue.capacity().unwrap_or(0) as u64, Ordering::Relaxed);
        stats.in_chan_length.watch(queue.length_probe());
        Route {
            name,
            matcher,
            signer,
            queue,
            stats,
            is_filter,
            waits_forever: false,
            wedged: false,
            seen: 0,
            next_sample: 0,
            idle: Deadline::new(),
        }
    }
}

/// Router settings from `[hekad]`.
#[derive(Debug, Clone, Copy)]
pub struct RouterSettings {
    pub max_pack_idle: Duration,
    /// Match timings are sampled one in this many messages (after the first `capacity`).
    pub sample_denominator: u64,
}

/// The router task's state.
pub struct Router {
    routes: Vec<Route>,
    from_inputs: Receiver<PooledPack>,
    from_filters: Receiver<PooledPack>,
    settings: RouterSettings,
    stats: Arc<PluginStats>,
    /// Messages routed and not yet added to ProcessMessageCount: added when the router
    /// runs out of work, and every `PendingCount::EVERY` (so a report may trail by that
    /// much while the router waits on a full plugin queue).
    routed: PendingCount,
}

impl Router {
    pub fn new(
        routes: Vec<Route>,
        from_inputs: Receiver<PooledPack>,
        from_filters: Receiver<PooledPack>,
        settings: RouterSettings,
        stats: Arc<PluginStats>,
    ) -> Router {
        stats.in_chan_capacity.store(
            from_inputs.capacity().unwrap_or(0) as u64,
            Ordering::Relaxed,
        );
        stats.in_chan_length.watch(from_inputs.length_probe());
        Router {
            routes,
            from_inputs,
            from_filters,
            settings,
            stats,
            routed: PendingCount::default(),
        }
    }

    /// Routes until inputs and filters are all gone, closing filter queues once the
    /// inputs are done and output queues once the filters are done (Heka's order).
    pub async fn run(mut self) {
        let mut inputs_open = true;
        let mut filters_open = true;
        while inputs_open || filters_open {
            // Whatever is queued goes first, without a waker registered on either ring:
            // with filters running, waiting on both registered on the filters' ring (a
            // lock) for every message routed.
            let queued = filters_open
                .then(|| self.from_filters.try_recv().ok())
                .flatten()
                .or_else(|| {
                    inputs_open
                        .then(|| self.from_inputs.try_recv().ok())
                        .flatten()
                });
            if let Some(pack) = queued {
                self.route(pack).await;
                continue;
            }
            self.routed.flush(&self.stats.process_count);
            let next = match (inputs_open, filters_open) {
                (true, true) => {
                    let injected = async { (self.from_filters.recv().await.ok(), false) };
                    let input = async { (self.from_inputs.recv().await.ok(), true) };
                    injected.or(input).await
                }
                (true, false) => (self.from_inputs.recv().await.ok(), true),
                _ => (self.from_filters.recv().await.ok(), false),
            };
            match next {
                (Some(pack), _) => self.route(pack).await,
                (None, true) => {
                    inputs_open = false;
                    // Filters drain what they have, inject their last messages, then exit,
                    // which closes `from_filters`.
                    self.routes.retain(|r| !r.is_filter);
                }
                (None, false) => filters_open = false,
            }
        }
        self.routed.flush(&self.stats.process_count);
        // Dropping the routes closes the output queues; outputs drain and stop.
    }

    async fn route(&mut self, pack: PooledPack) {
        self.routed.one(&self.stats.process_count);
        let pack = pack.into_shared();
        let max_idle = self.settings.max_pack_idle;
        let denominator = self.settings.sample_denominator.max(1);
        // Each matching plugin but the last gets a clone; the last gets the pack itself,
        // which saves the common single-match message two atomic updates.
        let mut matched_before = None;
        for i in 0..self.routes.len() {
            let route = &mut self.routes[i];
            if let Some(signer) = &route.signer {
                if pack.signer.as_str() != signer {
                    continue;
                }
            }
            route.seen += 1;
            let sample = route.seen <= 64 || route.seen == route.next_sample;
            if sample && route.seen >= 64 {
                route.next_sample = (route.seen / denominator + 1) * denominator;
            }
            let started = sample.then(Instant::now);
            let matched = route.matcher.matches(&pack.view());
            if let Some(started) = started {
                PluginStats::add(&route.stats.match_samples, 1);
                PluginStats::add(
                    &route.stats.match_total_ns,
                    started.elapsed().as_nanos() as u64,
                );
            }
            if matched {
                if let Some(before) = matched_before.replace(i) {
                    deliver(&mut self.routes[before], pack.clone(), max_idle).await;
                }
            }
        }
        if let Some(last) = matched_before {
            deliver(&mut self.routes[last], pack, max_idle).await;
        }
    }
}

async fn deliver(route: &mut Route, pack: SharedPack, max_idle: Duration) {
    let pack = match route.queue.try_send(pack) {
        Ok(()) => {
            if route.wedged {
                route.wedged = false;
                log::warn!("Plugin '{}' is accepting messages again", route.name);
            }
            return;
        }
        Err(TrySendError::Closed(_)) => return PluginStats::add(&route.stats.drop_count, 1),
        Err(TrySendError::Full(pack)) => pack,
    };
    if route.wedged {
        return PluginStats::add(&route.stats.drop_count, 1);
    }
    if route.waits_forever {
        return match route.queue.send(pack).await {
            Ok(()) => {}
            Err(_) => PluginStats::add(&route.stats.drop_count, 1),
        };
    }
    let sent = async { route.queue.send(pack).await.is_ok() };
    let timed_out = async {
        route.idle.until(Instant::now() + max_idle).await;
        false
    };
    if sent.or(timed_out).await {
        return;
    }
    if route.queue.is_closed() {
        return PluginStats::add(&route.stats.drop_count, 1);
    }
    route.wedged = true;
    PluginStats::add(&route.stats.drop_count, 1);
    log::error!(
        "Diagnostics: plugin '{}' has not accepted a message for {:?} (queue full, {} queued); \
         dropping and counting its messages (DropMessageCount) until it recovers so other plugins keep flowing",
        route.name,
        max_idle,
        route.queue.len()
    );
}
