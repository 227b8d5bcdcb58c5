//! SandboxFilter (§5.4, §7): a Lua script sees every message its matcher routes to it,
//! keeps state, and injects messages from `process_message` and `timer_event`. A script
//! that fails (a Lua error, a limit, a status above 0) is terminated: hekad injects
//! `heka.sandbox-terminated` and carries on without it (§7.4).

use super::{Filter, FilterContext};
use crate::config::ConfigError;
use crate::pipeline::inject::{now_ns, Injector};
use crate::pipeline::stats::{PendingCount, PluginStats};
use crate::pipeline::ticker::{Event, Ticker};
use crate::plugins::build::BuildContext;
use crate::sandbox::{Kind, Outcome, Sandbox, SandboxSettings};
use smol::future::BoxedLocal;
use std::sync::Arc;

/// The SandboxFilter plugin: the sandbox settings, checked at start-up; the Lua state is
/// made on the executor thread that runs the filter.
pub struct SandboxFilter {
    settings: Arc<SandboxSettings>,
}

pub fn build(ctx: &BuildContext<'_>) -> Result<Box<dyn Filter>, Vec<ConfigError>> {
    Ok(Box::new(SandboxFilter {
        settings: ctx.checked_sandbox_settings(Kind::Filter)?,
    }))
}

impl Filter for SandboxFilter {
    fn run(self: Box<Self>, mut ctx: FilterContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut sandbox =
                match Sandbox::new(self.settings.clone(), Some(ctx.stats.clone()), None) {
                    Ok(sandbox) => sandbox,
                    Err(reason) => return end(&mut ctx, reason).await,
                };
            sandbox.set_inject_check(Box::new(ctx.injector.checker()));
            let mut ticker = Ticker::new(ctx.ticker);
            let mut processed = PendingCount::default();
            loop {
                match ticker.next(&ctx.queue).await {
                    Event::Message(pack) => {
                        let loops = pack.loops;
                        let outcome = sandbox.process_message(Some(pack.view()), loops);
                        drop(pack);
                        count(&mut sandbox, &ctx, outcome, &mut processed);
                        send_injected(&sandbox, &mut ctx.injector, loops.saturating_add(1)).await;
                    }
                    Event::Tick => {
                        processed.flush(&ctx.stats.process_count);
                        let _ = sandbox.timer_event(now_ns());
                        send_injected(&sandbox, &mut ctx.injector, 1).await;
                    }
                    Event::Closed => break,
                }
                if let Some(reason) = sandbox.terminated() {
                    processed.flush(&ctx.stats.process_count);
                    return end(&mut ctx, reason.to_owned()).await;
                }
            }
            processed.flush(&ctx.stats.process_count);
            if sandbox.settings().timer_event_on_shutdown {
                let _ = sandbox.timer_event(now_ns());
                send_injected(&sandbox, &mut ctx.injector, 1).await;
            }
            if let Some(reason) = sandbox.terminated() {
                return end(&mut ctx, reason.to_owned()).await;
            }
            sandbox.preserve();
            ctx.injector.flush().await;
            Ok(())
        })
    }
}

/// Counts one `process_message` outcome; a status above 0 terminates the sandbox.
fn count(
    sandbox: &mut Sandbox,
    ctx: &FilterContext,
    outcome: Result<Outcome, String>,
    processed: &mut PendingCount,
) {
    match outcome {
        Ok(Outcome { status: 0, .. }) => processed.one(&ctx.stats.process_count),
        Ok(Outcome { status, error }) if status < 0 => {
            processed.one(&ctx.stats.process_count);
            PluginStats::add(&ctx.stats.process_failures, 1);
            if let Some(error) = error {
                log::error!("Plugin '{}' error: process_message() {error}", ctx.name);
            }
        }
        Ok(Outcome { status, error }) => sandbox.terminate(format!(
            "process_message() returned {status}: {}",
            error.unwrap_or_default()
        )),
        Err(_terminated) => {}
    }
}

/// Sends what the last call injected, each message carrying loop count `loops`.
async fn send_injected(sandbox: &Sandbox, injector: &mut Injector, loops: u8) {
    if sandbox.injected().is_empty() {
        return;
    }
    let mut injected = std::mem::take(&mut *sandbox.injected());
    for i in 0..injected.len() {
        if let Some((bytes, index)) = injected.get_mut(i) {
            // A refusal here means the router is gone (shutdown): counted as dropped.
            let _ = injector.inject_bytes(bytes, index, loops).await;
        }
    }
    injected.clear();
    *sandbox.injected() = injected;
}

/// The filter ends after its sandbox was terminated: the reason is logged and injected
/// as `heka.sandbox-terminated`; unless the filter may exit, hekad shuts down.
async fn end(ctx: &mut FilterContext, reason: String) -> Result<(), String> {
    log::error!("Plugin '{}' terminated: {reason}", ctx.name);
    ctx.injector.inject_terminated(&reason).await;
    ctx.injector.flush().await;
    if !ctx.can_exit {
        log::error!(
            "Plugin '{}' is not allowed to exit (can_exit = false): shutting down",
            ctx.name
        );
        ctx.control.shutdown(true);
    }
    Ok(())
}
