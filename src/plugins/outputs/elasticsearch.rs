//! ElasticSearchOutput (§5.6): batches encoded bulk lines (ESJsonEncoder, or a
//! SandboxEncoder such as `es_payload.lua`) and POSTs them to `<server>/_bulk` when
//! `flush_count` messages are gathered or `flush_interval` ms passed since the first.
//!
//! Delivery is HttpOutput's (`send_until_done`): retried with backoff on connection
//! errors, timeouts and 5xx, each message's acknowledgement held until ElasticSearch
//! answered 2xx, and a disk queue by default (`use_buffering`, as Heka). Items the
//! answer reports as failed (a mapping error: resending cannot help) are counted as
//! dropped and the first reason logged. Heka's complaints (stops after an ES restart,
//! a queue never drained) are what the reconnecting client and the shared queue fix.

use super::http::send_until_done;
use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::ack::AckToken;
use crate::pipeline::deadline::Deadline;
use crate::pipeline::stats::PluginStats;
use crate::plugins::http::{checked_endpoint, Client, Endpoint, RequestOptions};
use crate::plugins::tls::TlsConfig;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
#[serde(default)]
struct ElasticSearchConfig {
    server: String,
    flush_interval: u64,
    flush_count: usize,
    connect_timeout: u64,
    http_timeout: u64,
    http_disable_keepalives: bool,
    username: String,
    password: String,
    use_tls: bool,
    tls: TlsConfig,
}

impl Default for ElasticSearchConfig {
    fn default() -> Self {
        ElasticSearchConfig {
            server: "http://localhost:9200".into(),
            flush_interval: 1000,
            flush_count: 10,
            connect_timeout: 0,
            http_timeout: 0,
            http_disable_keepalives: false,
            username: String::new(),
            password: String::new(),
            use_tls: false,
            tls: TlsConfig::default(),
        }
    }
}

/// ElasticSearchOutput buffers on disk unless told not to (§4.6).
pub fn default_buffering() -> crate::config::common::BufferingConfig {
    crate::config::common::BufferingConfig::default()
}

/// The ElasticSearchOutput plugin.
pub struct ElasticSearchOutput {
    endpoint: Endpoint,
    options: RequestOptions,
    flush_interval: Duration,
    flush_count: usize,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: ElasticSearchConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let endpoint = if c.server.starts_with("udp://") {
        let msg = format!(
            "expected an http:// or https:// URL, got {:?}: the bulk UDP API is not \
             supported (ElasticSearch removed it)",
            c.server
        );
        errors.add("server", msg);
        None
    } else {
        let url = format!("{}/_bulk", c.server.trim_end_matches('/'));
        checked_endpoint(&mut errors, "server", &url, ("use_tls", c.use_tls), &c.tls)
    };
    let timeout = match (c.http_timeout, c.connect_timeout) {
        (0, 0) => 0,
        (0, t) | (t, 0) => t,
        (a, b) => a.max(b),
    };
    let options = errors.merge(RequestOptions::new(
        section,
        "POST",
        &BTreeMap::new(),
        &c.username,
        &c.password,
        timeout,
    ));
    let (Some(endpoint), Some(options)) = (endpoint, options) else {
        return Err(errors.fail("server", "not checked"));
    };
    errors.finish(|| {
        Box::new(ElasticSearchOutput {
            endpoint,
            options,
            flush_interval: Duration::from_millis(c.flush_interval.max(1)),
            flush_count: c.flush_count.max(1),
        }) as Box<dyn Output>
    })
}

/// Messages gathered for one bulk request.
#[derive(Default)]
struct Batch {
    body: Vec<u8>,
    count: u64,
    tokens: Vec<AckToken>,
    started: Option<Instant>,
}

impl Output for ElasticSearchOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut client = Client::new(self.endpoint.clone());
            let mut batch = Batch::default();
            let deadline = Deadline::new();
            loop {
                let flush_at = batch.started.map(|s| s + self.flush_interval);
                let received = async { Some(ctx.queue.recv().await) };
                let due = async {
                    match flush_at {
                        Some(at) => deadline.until(at).await,
                        None => std::future::pending().await,
                    }
                    None
                };
                match received.or(due).await {
                    Some(Ok(pack)) => {
                        if ctx.encode_into(&pack, &mut batch.body) {
                            batch.count += 1;
                            batch.tokens.extend(pack.hold_ack());
                            batch.started.get_or_insert_with(Instant::now);
                        }
                        if batch.count < self.flush_count as u64 {
                            continue;
                        }
                    }
                    Some(Err(_)) => {
                        self.flush(&ctx, &mut client, &mut batch).await;
                        return Ok(());
                    }
                    None => {}
                }
                if !self.flush(&ctx, &mut client, &mut batch).await {
                    return Ok(());
                }
            }
        })
    }
}

impl ElasticSearchOutput {
    /// Sends the batch; false when hekad stopped before it could be delivered.
    async fn flush(&self, ctx: &OutputContext, client: &mut Client, batch: &mut Batch) -> bool {
        let taken = std::mem::take(batch);
        if taken.count == 0 {
            return true;
        }
        let body = Bytes::from(taken.body);
        let headers = [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )];
        match send_until_done(ctx, client, &self.options, &headers, body).await {
            Some(Ok(answer)) => {
                let failed = failed_items(&answer);
                PluginStats::add(
                    &ctx.stats.process_count,
                    taken.count - failed.0.min(taken.count),
                );
                if failed.0 > 0 {
                    PluginStats::add(&ctx.stats.drop_count, failed.0);
                    log::error!(
                        "Plugin '{}': ElasticSearch refused {} of {} documents: {}",
                        ctx.name,
                        failed.0,
                        taken.count,
                        failed.1
                    );
                }
                true
            }
            Some(Err(rejected)) => {
                PluginStats::add(&ctx.stats.drop_count, taken.count);
                log::error!(
                    "Plugin '{}' error: {rejected}; {} messages dropped",
                    ctx.name,
                    taken.count
                );
                true
            }
            None => {
                if !ctx.queue.is_durable() {
                    PluginStats::add(&ctx.stats.drop_count, taken.count);
                }
                log::error!(
                    "Plugin '{}': stopping with {} unreachable; {} messages not delivered (a disk \
                     queue or a tailed file sends them again at the next start)",
                    ctx.name,
                    self.endpoint.url,
                    taken.count + ctx.queue.waiting() as u64
                );
                taken.tokens.into_iter().for_each(AckToken::abandon);
                false
            }
        }
    }
}

/// How many items a bulk answer reports as failed, and the first reason.
fn failed_items(answer: &[u8]) -> (u64, String) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(answer) else {
        return (0, String::new());
    };
    if json.get("errors").and_then(|e| e.as_bool()) != Some(true) {
        return (0, String::new());
    }
    let items = json.get("items").and_then(|i| i.as_array());
    let failed: Vec<&serde_json::Value> = items
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_object()?.values().next())
        .filter(|result| result.get("error").is_some())
        .collect();
    let reason = failed
        .first()
        .and_then(|r| r.get("error"))
        .map(|e| e.to_string())
        .unwrap_or_default();
    (failed.len() as u64, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_bulk_items_are_counted() {
        let answer = br#"{"took":3,"errors":true,"items":[
            {"index":{"status":201}},
            {"index":{"status":400,"error":{"type":"mapper_parsing_exception"}}}]}"#;
        let (n, reason) = failed_items(answer);
        assert_eq!(n, 1);
        assert!(reason.contains("mapper_parsing_exception"));
        assert_eq!(failed_items(br#"{"errors":false,"items":[]}"#).0, 0);
        assert_eq!(failed_items(b"not json").0, 0);
    }
}
