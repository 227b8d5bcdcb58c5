//! CounterFilter (§5.4): counts the messages it sees and, each tick with new messages,
//! injects `heka.counter-output` with "Got N messages. R msg/sec"; every 10 samples also
//! "AGG Sum. Min: ..    Max: ..    Mean: ..".

use super::{Filter, FilterContext};
use crate::config::{section, ConfigError, PluginSection};
use crate::pipeline::stats::PluginStats;
use crate::pipeline::ticker::{Event, Ticker};
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::time::{Duration, Instant};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CounterFilterConfig {}

/// Default matcher and ticker of the CounterFilter.
pub const DEFAULT_MATCHER: &str = "Type != 'heka.counter-output'";
pub const DEFAULT_TICKER_SECONDS: u64 = 5;

/// The CounterFilter plugin.
pub struct CounterFilter;

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Filter>, Vec<ConfigError>> {
    let _: CounterFilterConfig = section::decode(section, common_keys)?;
    Ok(Box::new(CounterFilter))
}

impl Filter for CounterFilter {
    fn run(self: Box<Self>, mut ctx: FilterContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let tick = ctx
                .ticker
                .unwrap_or(Duration::from_secs(DEFAULT_TICKER_SECONDS));
            let mut ticker = Ticker::new(Some(tick));
            let mut count = 0u64;
            let mut last_count = 0u64;
            let mut last_time = Instant::now();
            let mut rates: Vec<f64> = Vec::with_capacity(10);
            loop {
                match ticker.next(&ctx.queue).await {
                    Event::Message(_) => {
                        count += 1;
                        PluginStats::add(&ctx.stats.process_count, 1);
                        continue;
                    }
                    Event::Closed => break,
                    Event::Tick => {}
                }
                let sent = count - last_count;
                if sent == 0 {
                    continue;
                }
                let rate = sent as f64 / last_time.elapsed().as_secs_f64();
                last_count = count;
                last_time = Instant::now();
                rates.push(rate);
                let payload = format!("Got {count} messages. {rate:.2} msg/sec");
                inject(&mut ctx, &payload).await;
                if rates.len() == 10 {
                    let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
                    let agg = format!("AGG Sum. Min: {min:.2}    Max: {max:.2}    Mean: {mean:.2}");
                    inject(&mut ctx, &agg).await;
                    rates.clear();
                }
            }
            ctx.injector.flush().await;
            Ok(())
        })
    }
}

async fn inject(ctx: &mut FilterContext, payload: &str) {
    ctx.injector
        .inject("heka.counter-output", |w, origin| {
            w.severity(crate::message::DEFAULT_SEVERITY)
                .payload(payload.as_bytes())
                .pid(origin.pid)
                .hostname(origin.hostname.as_bytes());
        })
        .await;
}
