//! HttpOutput (§5.6): one HTTP request per message, the encoder's output as its body
//! (none for GET), to `address`, with `method`, `headers`, basic auth and `http_timeout`.
//!
//! Delivery is at-least-once. A message is done when the server answers 2xx. A refused
//! connection, a timeout, a 5xx, 408 or 429 is retried with backoff (250 ms doubling to
//! 30 s) and nothing behind it is sent meanwhile; any other answer (a 4xx: the server
//! will never take this message) drops it, counted and logged with the response's start.
//! The message's acknowledgement is held until then, so a tailed file does not
//! checkpoint past it and, with `use_buffering = true`, the disk queue keeps it across
//! restarts. At shutdown a message still failing after a grace period is left to be
//! sent again at the next start (from the disk queue or its source).

use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::stats::PluginStats;
use crate::plugins::http::{
    checked_endpoint, Client, Endpoint, HeaderValues, RequestOptions, Response,
};
use crate::plugins::tls::TlsConfig;
use hyper::body::Bytes;
use hyper::Method;
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct HttpOutputConfig {
    address: String,
    method: String,
    username: String,
    password: String,
    headers: BTreeMap<String, HeaderValues>,
    http_timeout: u64,
    use_tls: bool,
    tls: TlsConfig,
}

impl Default for HttpOutputConfig {
    fn default() -> Self {
        HttpOutputConfig {
            address: String::new(),
            method: "POST".into(),
            username: String::new(),
            password: String::new(),
            headers: BTreeMap::new(),
            http_timeout: 0,
            use_tls: false,
            tls: TlsConfig::default(),
        }
    }
}

/// Response bytes read (the rest of a larger response fails the request).
const MAX_RESPONSE: usize = 1 << 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long a failing message is still retried once shutdown began.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The HttpOutput plugin.
pub struct HttpOutput {
    endpoint: Endpoint,
    options: RequestOptions,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: HttpOutputConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let endpoint = match errors.required(
        "address",
        !c.address.is_empty(),
        "an http:// or https:// URL",
    ) {
        true => checked_endpoint(
            &mut errors,
            "address",
            &c.address,
            ("use_tls", c.use_tls),
            &c.tls,
        ),
        false => None,
    };
    let options = errors.merge(RequestOptions::new(
        section,
        &c.method,
        &c.headers,
        &c.username,
        &c.password,
        c.http_timeout,
    ));
    let (Some(endpoint), Some(options)) = (endpoint, options) else {
        return Err(errors.fail("address", "not checked"));
    };
    errors.finish(|| Box::new(HttpOutput { endpoint, options }) as Box<dyn Output>)
}

/// What became of one attempt.
pub enum Attempt {
    /// With the response body.
    Delivered(Bytes),
    /// The server will never take it.
    Rejected(String),
    /// Worth trying again.
    Failed(String),
}

/// Sorts a response (or a failure to get one) as delivered, rejected or worth a retry.
pub fn judge(result: Result<Response, String>) -> Attempt {
    match result {
        Ok(r) if r.status.is_success() => Attempt::Delivered(r.body),
        Ok(r) => {
            let code = r.status.as_u16();
            let text = format!(
                "HTTP Error code returned: {} - {}",
                r.status_text(),
                crate::diagnostics::escaped_prefix(&r.body)
            );
            if r.status.is_server_error() || code == 408 || code == 429 {
                Attempt::Failed(text)
            } else {
                Attempt::Rejected(text)
            }
        }
        Err(e) => Attempt::Failed(e),
    }
}

/// Sends `body` until it is delivered (the answer's body) or rejected, backing off
/// between failures; gives up (`None`) only when hekad is stopping and the grace period
/// is over.
pub async fn send_until_done(
    ctx: &OutputContext,
    client: &mut Client,
    options: &RequestOptions,
    headers: &[(hyper::header::HeaderName, hyper::header::HeaderValue)],
    body: Bytes,
) -> Option<Result<Bytes, String>> {
    let mut delay = FIRST_BACKOFF;
    let give_up = async {
        ctx.control.stopped().await;
        smol::Timer::after(STOP_GRACE).await;
    };
    let attempts = async {
        loop {
            let sent = client
                .send(options, headers, body.clone(), MAX_RESPONSE)
                .await;
            match judge(sent) {
                Attempt::Delivered(answer) => return Some(Ok(answer)),
                Attempt::Rejected(e) => return Some(Err(e)),
                Attempt::Failed(e) => {
                    log::warn!(
                        "Plugin '{}': {e}; retrying in {} ms",
                        ctx.name,
                        delay.as_millis()
                    );
                }
            }
            smol::Timer::after(delay).await;
            delay = (delay * 2).min(MAX_BACKOFF);
        }
    };
    attempts
        .or(async {
            give_up.await;
            None
        })
        .await
}

impl Output for HttpOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut client = Client::new(self.endpoint.clone());
            let mut body = Vec::new();
            while let Ok(pack) = ctx.queue.recv().await {
                body.clear();
                if !ctx.encode_into(&pack, &mut body) {
                    continue;
                }
                let token = pack.hold_ack();
                drop(pack);
                let payload = match self.options.method {
                    Method::GET => Bytes::new(),
                    _ => Bytes::copy_from_slice(&body),
                };
                match send_until_done(&ctx, &mut client, &self.options, &[], payload).await {
                    Some(Ok(_)) => PluginStats::add(&ctx.stats.process_count, 1),
                    Some(Err(rejected)) => {
                        PluginStats::add(&ctx.stats.drop_count, 1);
                        log::error!("Plugin '{}' error: {rejected}; message dropped", ctx.name);
                    }
                    None => {
                        let left = 1 + ctx.queue.waiting() as u64;
                        if !ctx.queue.is_durable() {
                            PluginStats::add(&ctx.stats.drop_count, left);
                        }
                        log::error!(
                            "Plugin '{}': stopping with {} unreachable; {left} messages not \
                             delivered (a disk queue or a tailed file sends them again at the \
                             next start)",
                            ctx.name,
                            self.endpoint.url
                        );
                        if let Some(token) = token {
                            token.abandon();
                        }
                        return Ok(());
                    }
                }
                drop(token);
            }
            Ok(())
        })
    }
}
