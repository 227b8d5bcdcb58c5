//! HttpInput (§5.1): polls `url` (or each of `urls`) every `ticker_interval` (default
//! 10 s) with `method` (GET), `body`, `headers`, basic auth and `http_timeout`.
//!
//! A completed request, whatever its status, is Type `heka.httpinput.data`: the response
//! body through the splitter (NullSplitter: one message) and decoder, Logger = the URL,
//! Severity `success_severity` (6) for a 200 and `error_severity` (1) otherwise, Fields
//! `Status` ("200 OK"), `StatusCode`, `ResponseSize`, `ResponseTime` (seconds, double)
//! and `Protocol`. A request that did not complete (refused, timed out) is one
//! `heka.httpinput.error` message with the error as Payload and `error_severity`.
//! Heka's docs named the user key `user` and Heka itself read `username`: both work.

use super::{Decorator, Deliverer, Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::writer::Values;
use crate::message::MessageWriter;
use crate::pipeline::ticker::Polling;
use crate::plugins::http::{
    checked_endpoint, Client, Endpoint, HeaderValues, RequestOptions, Response,
};
use crate::plugins::tls::TlsConfig;
use hyper::body::Bytes;
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::collections::BTreeMap;
use std::time::Duration;

const DEFAULT_TICKER_SECONDS: u64 = 10;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct HttpInputConfig {
    url: String,
    urls: Vec<String>,
    method: String,
    body: String,
    #[serde(alias = "user")]
    username: String,
    password: String,
    headers: BTreeMap<String, HeaderValues>,
    success_severity: i32,
    error_severity: i32,
    /// Milliseconds; 0 is none.
    http_timeout: u64,
    /// For https URLs.
    tls: TlsConfig,
}

impl Default for HttpInputConfig {
    fn default() -> Self {
        HttpInputConfig {
            url: String::new(),
            urls: Vec::new(),
            method: "GET".into(),
            body: String::new(),
            username: String::new(),
            password: String::new(),
            headers: BTreeMap::new(),
            success_severity: 6,
            error_severity: 1,
            http_timeout: 0,
            tls: TlsConfig::default(),
        }
    }
}

/// The HttpInput plugin.
pub struct HttpInput {
    endpoints: Vec<Endpoint>,
    options: RequestOptions,
    body: Bytes,
    success_severity: i32,
    error_severity: i32,
}

/// Largest response body read; a larger one is an error message.
const MAX_BODY: usize = 64 << 20;

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let c: HttpInputConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let urls = match (c.url.is_empty(), c.urls.is_empty()) {
        (false, true) => vec![c.url.clone()],
        (true, false) => c.urls.clone(),
        (false, false) => {
            let msg = format!("expected url or urls, got both (url {:?})", c.url);
            errors.add("urls", msg);
            Vec::new()
        }
        (true, true) => {
            errors.required("url", false, "an http:// or https:// URL (or urls)");
            Vec::new()
        }
    };
    let mut endpoints = Vec::with_capacity(urls.len());
    for url in &urls {
        let key = if c.urls.is_empty() { "url" } else { "urls" };
        endpoints.extend(checked_endpoint(
            &mut errors,
            key,
            url,
            (key, false),
            &c.tls,
        ));
    }
    let options = errors.merge(RequestOptions::new(
        section,
        &c.method,
        &c.headers,
        &c.username,
        &c.password,
        c.http_timeout,
    ));
    let Some(options) = options else {
        return Err(errors.fail("method", "not checked"));
    };
    errors.finish(|| {
        Box::new(HttpInput {
            endpoints,
            options,
            body: Bytes::from(c.body.into_bytes()),
            success_severity: c.success_severity,
            error_severity: c.error_severity,
        }) as Box<dyn Input>
    })
}

/// One polled URL: its connection and the deliverer of its responses.
struct Poll {
    client: Client,
    deliverer: Deliverer,
}

impl Input for HttpInput {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut polls = Vec::new();
            for endpoint in &self.endpoints {
                let decorator = Decorator {
                    r#type: Some("heka.httpinput.data".into()),
                    hostname: Some(ctx.globals.hostname.clone()),
                    logger: Some(endpoint.url.clone()),
                    ..Decorator::default()
                };
                polls.push(Poll {
                    client: Client::new(endpoint.clone()),
                    deliverer: Deliverer::new(&ctx.shared, Some(&endpoint.url), decorator)?,
                });
            }
            let every = ctx
                .ticker
                .unwrap_or(Duration::from_secs(DEFAULT_TICKER_SECONDS));
            let mut polling = Polling::new(every);
            while polling.tick(&ctx.control).await {
                for poll in &mut polls {
                    if self.poll(&mut ctx, poll).await.is_err() {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    }
}

impl HttpInput {
    /// One request and its message(s); Err when the router is gone.
    async fn poll(
        &self,
        ctx: &mut InputContext,
        poll: &mut Poll,
    ) -> Result<(), super::RouterClosed> {
        let sent = poll
            .client
            .send(&self.options, &[], self.body.clone(), MAX_BODY)
            .await;
        match sent {
            Ok(response) => {
                let severity = match response.status.as_u16() {
                    200 => self.success_severity,
                    _ => self.error_severity,
                };
                poll.deliverer.set_severity(severity);
                poll.deliverer.set_fields(response_fields(&response));
                if response.body.is_empty() {
                    return poll.deliverer.deliver_empty().await;
                }
                poll.deliverer.push(&response.body).await?;
                poll.deliverer.flush_incomplete().await
            }
            Err(error) => {
                let url = &poll.client.endpoint().url;
                let severity = self.error_severity;
                let injected = ctx
                    .injector
                    .inject_logged("heka.httpinput.error", url, |w, origin| {
                        w.severity(severity)
                            .payload(error.as_bytes())
                            .hostname(origin.hostname.as_bytes());
                    })
                    .await;
                if !injected && ctx.control.is_stopping() {
                    return Err(super::RouterClosed);
                }
                Ok(())
            }
        }
    }
}

/// Heka's response fields, encoded.
fn response_fields(response: &Response) -> Vec<u8> {
    let mut fields = Vec::new();
    let status = response.status_text();
    MessageWriter::new(&mut fields)
        .field(b"Status", b"", Values::String(&[status.as_bytes()]))
        .field(
            b"StatusCode",
            b"",
            Values::Integer(&[i64::from(response.status.as_u16())]),
        )
        .field(
            b"ResponseSize",
            b"",
            Values::Integer(&[response.body.len() as i64]),
        )
        .field(
            b"ResponseTime",
            b"",
            Values::Double(&[response.elapsed.as_secs_f64()]),
        )
        .field(
            b"Protocol",
            b"",
            Values::String(&[response.protocol().as_bytes()]),
        );
    fields
}
