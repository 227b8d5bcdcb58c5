//! Runs one plugin's task with Heka's restart policy (§4.7): a plugin that fails is
//! rebuilt and restarted after the `[name.retries]` back-off; once retries are exhausted
//! (or for a plugin that stops on its own) hekad shuts down unless `can_exit` is set.

use super::shutdown::Control;
use crate::config::common::RetryConfig;
use smol::future::{BoxedLocal, FutureExt};

/// Makes the next run of a plugin: the first call may hand out the instance built at
/// start-up, later calls rebuild it.
pub type Attempt = Box<dyn FnMut(u32) -> Result<BoxedLocal<Result<(), String>>, String>>;

/// What to do when the plugin stops.
pub struct Policy {
    pub name: String,
    pub kind: &'static str,
    pub retries: RetryConfig,
    pub can_exit: bool,
    /// True for plugins whose normal end is the end of their queue (filters, outputs):
    /// they stop on their own only at shutdown.
    pub stops_with_queue: bool,
}

/// Runs attempts until the plugin ends normally or gives up.
pub async fn supervise(policy: Policy, control: Control, mut attempt: Attempt) {
    let mut failures: u32 = 0;
    let mut delay = policy.retries.delay;
    loop {
        log::debug!("{} '{}': starting", policy.kind, policy.name);
        let result = match attempt(failures) {
            Ok(run) => run.await,
            Err(e) => Err(e),
        };
        let error = match result {
            Ok(()) if policy.stops_with_queue || control.is_stopping() => {
                log::debug!("{} '{}': stopped", policy.kind, policy.name);
                return;
            }
            Ok(()) => "Run exited.".to_string(),
            Err(e) => e,
        };
        log::error!("{} '{}' error: {error}", policy.kind, policy.name);
        if control.is_stopping() {
            return;
        }
        let max = policy.retries.max_retries;
        if max >= 0 && i64::from(failures) >= max {
            log::error!("{} '{}': Max retries exceeded", policy.kind, policy.name);
            if !policy.can_exit {
                log::error!(
                    "{} '{}' is not allowed to exit (can_exit = false): shutting down",
                    policy.kind,
                    policy.name
                );
                control.shutdown(true);
            }
            return;
        }
        failures += 1;
        let jitter = policy.retries.max_jitter.mul_f64(fastrand::f64());
        let wait = async {
            smol::Timer::after(delay + jitter).await;
            true
        };
        let stopped = async {
            control.stopped().await;
            false
        };
        if !wait.or(stopped).await {
            return;
        }
        delay = (delay * 2).min(policy.retries.max_delay);
        log::info!(
            "{} '{}': restarting (attempt {})",
            policy.kind,
            policy.name,
            failures
        );
    }
}
