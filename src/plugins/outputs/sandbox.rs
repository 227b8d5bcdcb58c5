//! SandboxOutput (§5.6, §7): a Lua script is the output. It keeps the `io` library (and
//! `os.execute`, `os.remove`...), sees each routed message in `process_message`, and may
//! flush on `ticker_interval` through `timer_event`.
//!
//! Return codes (§7.4): 0 delivered; below 0 a failure (counted, the message dropped);
//! above 0, a Lua error or a limit terminate the sandbox and the output stops with an
//! error, so the restart policy (§4.7) starts it afresh.

use super::{Output, OutputContext};
use crate::config::ConfigError;
use crate::pipeline::inject::now_ns;
use crate::pipeline::stats::{PendingCount, PluginStats};
use crate::pipeline::ticker::{Event, Ticker};
use crate::plugins::build::BuildContext;
use crate::sandbox::{Kind, Outcome, Sandbox, SandboxSettings};
use smol::future::BoxedLocal;
use std::sync::Arc;

/// The SandboxOutput plugin: settings checked at start-up; the state is made on the
/// output's executor thread.
pub struct SandboxOutput {
    settings: Arc<SandboxSettings>,
}

pub fn build(ctx: &BuildContext<'_>) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    Ok(Box::new(SandboxOutput {
        settings: ctx.checked_sandbox_settings(Kind::Output)?,
    }))
}

impl Output for SandboxOutput {
    fn run(self: Box<Self>, ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut sandbox = Sandbox::new(self.settings.clone(), Some(ctx.stats.clone()), None)?;
            let mut ticker = Ticker::new(ctx.ticker);
            let mut processed = PendingCount::default();
            loop {
                match ticker.next(&ctx.queue).await {
                    Event::Message(pack) => match sandbox.process_message(Some(pack.view()), 0) {
                        Ok(Outcome { status: 0, .. }) => processed.one(&ctx.stats.process_count),
                        Ok(Outcome { status, error }) if status < 0 => {
                            processed.one(&ctx.stats.process_count);
                            PluginStats::add(&ctx.stats.process_failures, 1);
                            log::error!(
                                "Plugin '{}' error: process_message() {}",
                                ctx.name,
                                error.unwrap_or_default()
                            );
                        }
                        Ok(Outcome { status, error }) => sandbox.terminate(format!(
                            "process_message() returned {status}: {}",
                            error.unwrap_or_default()
                        )),
                        Err(_) => {}
                    },
                    Event::Tick => {
                        processed.flush(&ctx.stats.process_count);
                        let _ = sandbox.timer_event(now_ns());
                    }
                    Event::Closed => break,
                }
                if let Some(reason) = sandbox.terminated() {
                    processed.flush(&ctx.stats.process_count);
                    return Err(format!("terminated: {reason}"));
                }
            }
            processed.flush(&ctx.stats.process_count);
            if sandbox.settings().timer_event_on_shutdown {
                let _ = sandbox.timer_event(now_ns());
            }
            if let Some(reason) = sandbox.terminated() {
                return Err(format!("terminated: {reason}"));
            }
            sandbox.preserve();
            Ok(())
        })
    }
}
