//! SandboxInput (§5.1, §7): a Lua script makes messages itself (`inject_message`),
//! reading files, pipes or sockets with the `io` library. It has no instruction limit and
//! may loop forever, so it runs on a thread of its own (a blocking read must not stall an
//! executor) and each injected message goes to the router at once, waiting for room.
//!
//! `process_message()` returning 0 or less runs it again at the next `ticker_interval`
//! (without a ticker the input is done); above 0, a Lua error or a limit end the input
//! with an error (the restart policy applies). At shutdown a running script is stopped
//! ("aborted") at its next instructions or injection.

use super::{Input, InputContext};
use crate::config::ConfigError;
use crate::pipeline::inject::Injector;
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use crate::plugins::build::BuildContext;
use crate::sandbox::{Kind, Outcome, Sandbox, SandboxSettings};
use smol::future::{BoxedLocal, FutureExt};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// How long shutdown waits for a script stuck in a blocking read before leaving it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The SandboxInput plugin: settings checked at start-up; the state lives on the
/// input's own thread.
pub struct SandboxInput {
    settings: Arc<SandboxSettings>,
}

pub fn build(ctx: &BuildContext<'_>) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    Ok(Box::new(SandboxInput {
        settings: ctx.checked_sandbox_settings(Kind::Input)?,
    }))
}

impl Input for SandboxInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let InputContext {
                shared,
                control,
                injector,
                ticker,
                ..
            } = ctx;
            let (done, finished) = smol::channel::bounded(1);
            let settings = self.settings.clone();
            let stats = shared.stats.clone();
            let stop = control.clone();
            std::thread::Builder::new()
                .name(format!("hekad-lua-{}", settings.name))
                .spawn(move || {
                    let result = run_script(settings, stats, injector, stop, ticker);
                    let _ = done.try_send(result);
                })
                .map_err(|e| format!("cannot start the script's thread: {e}"))?;
            let result = async { finished.recv().await.unwrap_or(Ok(())) };
            let abandoned = async {
                control.stopped().await;
                smol::Timer::after(STOP_GRACE).await;
                log::warn!(
                    "Input '{}': the script did not stop within {STOP_GRACE:?}; leaving it",
                    self.settings.name
                );
                Ok(())
            };
            result.or(abandoned).await
        })
    }
}

/// The script's loop, on its own thread.
fn run_script(
    settings: Arc<SandboxSettings>,
    stats: Arc<PluginStats>,
    injector: Injector,
    control: Control,
    ticker: Option<Duration>,
) -> Result<(), String> {
    let mut sandbox = Sandbox::new(settings.clone(), Some(stats.clone()), Some(control.clone()))?;
    let injector = Rc::new(RefCell::new(injector));
    let sink_stats = stats.clone();
    sandbox.set_inject_sink(Box::new(move |bytes, index| {
        let mut injector = injector.borrow_mut();
        smol::block_on(async {
            injector.inject_bytes(bytes, index, 0).await?;
            injector.flush().await;
            Ok(())
        })
        .map_err(|e: crate::pipeline::inject::Rejected| e.to_string())?;
        PluginStats::add(&sink_stats.process_count, 1);
        Ok(())
    }));
    loop {
        match sandbox.process_message(None, 0) {
            Ok(Outcome { status, error }) if status > 0 => {
                return Err(format!(
                    "process_message() returned {status}: {}",
                    error.unwrap_or_default()
                ))
            }
            Ok(Outcome { status, error }) => {
                if status < 0 {
                    PluginStats::add(&stats.process_failures, 1);
                    log::error!(
                        "Input '{}' error: process_message() {}",
                        settings.name,
                        error.unwrap_or_default()
                    );
                }
            }
            Err(_) if control.is_stopping() => break,
            Err(reason) => return Err(format!("terminated: {reason}")),
        }
        let Some(every) = ticker else {
            break;
        };
        let ticked = async {
            smol::Timer::after(every).await;
            true
        };
        let stopped = async {
            control.stopped().await;
            false
        };
        if !smol::block_on(ticked.or(stopped)) {
            break;
        }
    }
    sandbox.preserve();
    Ok(())
}
