//! HttpListenInput (§5.1): an HTTP server; each request's body goes through the splitter
//! (NullSplitter by default: the body is one message) and decoder.
//!
//! Messages: Type `heka.httpdata.request`, Severity 6, EnvVersion "1", Pid and Hostname
//! hekad's, Fields `Protocol`, `UserAgent`, `ContentType`, `Path`, `Host` (without the
//! port), `RemoteAddr` (the client's IP), each of `request_headers` present, and every
//! query parameter (repeated parameters as repeated fields). A request without a body is
//! one message with an empty Payload, so GET webhooks carry their parameters.
//!
//! `auth_type = "Basic"` checks `username`/`password`, `"API"` the `X-API-Key` header
//! against `api_key`. Heka answered a failed check with 200 and ignored the body; hekad
//! answers 401 (so clients see it), logs it, counts it as a failure and ignores the body.
//! A body larger than a record may be (`max_message_size`) is refused with 413. The
//! response carries the configured `headers`. Requests are answered once their messages
//! are in the router's queue.

use super::{Decorator, Deliverer, Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::writer::Values;
use crate::message::MessageWriter;
use crate::pipeline::stats::PluginStats;
use crate::plugins::tls::{self, TlsConfig};
use base64::Engine as _;
use futures_rustls::TlsAcceptor;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::lock::Mutex;
use smol_hyper::rt::{FuturesIo, SmolTimer};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct HttpListenConfig {
    address: String,
    headers: BTreeMap<String, crate::plugins::http::HeaderValues>,
    request_headers: Vec<String>,
    auth_type: String,
    username: String,
    password: String,
    api_key: String,
    use_tls: bool,
    tls: TlsConfig,
}

impl Default for HttpListenConfig {
    fn default() -> Self {
        HttpListenConfig {
            address: "127.0.0.1:8325".into(),
            headers: BTreeMap::new(),
            request_headers: Vec::new(),
            auth_type: String::new(),
            username: String::new(),
            password: String::new(),
            api_key: String::new(),
            use_tls: false,
            tls: TlsConfig::default(),
        }
    }
}

/// How requests prove who they are.
#[derive(Debug, Clone)]
enum Auth {
    None,
    /// The whole expected `Authorization` header value.
    Basic(String),
    ApiKey(String),
}

/// What every connection of the input shares.
struct Settings {
    auth: Auth,
    response_headers: Vec<(HeaderName, HeaderValue)>,
    request_headers: Vec<String>,
    /// With `use_tls`: the handshake every connection goes through first.
    tls: Option<TlsAcceptor>,
}

/// The HttpListenInput plugin.
pub struct HttpListenInput {
    listener: TcpListener,
    settings: Arc<Settings>,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    dry_run: bool,
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let c: HttpListenConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let tls = match c.use_tls {
        true => errors.merge(tls::acceptor(section, &c.tls)),
        false => None,
    };
    let auth = match c.auth_type.as_str() {
        "" => Auth::None,
        "Basic" => {
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.username, c.password));
            Auth::Basic(format!("Basic {token}"))
        }
        "API" => {
            let what = "an API key (auth_type is \"API\")";
            errors.required("api_key", !c.api_key.is_empty(), what);
            Auth::ApiKey(c.api_key.clone())
        }
        other => {
            errors.one_of("auth_type", other, &["Basic", "API"], false);
            Auth::None
        }
    };
    let response_headers = errors.merge(crate::plugins::http::header_list(
        section, "headers", &c.headers,
    ));
    let set = errors.required("address", !c.address.is_empty(), "a host:port");
    if dry_run && set {
        errors.check("address", super::check_listen_address("tcp", &c.address));
    }
    if dry_run || !set {
        return errors.finish(|| Box::new(super::CheckedOnly) as Box<dyn Input>);
    }
    let listener = TcpListener::bind(&c.address).map_err(|e| super::listen_failed(&c.address, e));
    let listener = errors.check("address", listener);
    let (Some(listener), Some(response_headers)) = (listener, response_headers) else {
        return Err(errors.fail("address", "not bound"));
    };
    errors.finish(|| {
        Box::new(HttpListenInput {
            listener,
            settings: Arc::new(Settings {
                auth,
                response_headers,
                request_headers: c.request_headers,
                tls,
            }),
        }) as Box<dyn Input>
    })
}

impl Input for HttpListenInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            if self.settings.tls.is_some() {
                ctx.shared.stats.serves_tls.store(true, Ordering::Relaxed);
            }
            let ctx = Rc::new(ctx);
            let (name, control) = (ctx.shared.input_name.clone(), ctx.control.clone());
            super::accept_until_stopped(&name, self.listener, &control, |stream, peer| {
                serve(ctx.clone(), self.settings.clone(), stream, peer)
            })
            .await
        })
    }
}

/// Serves one connection's requests in turn, until it closes or hekad stops.
async fn serve(
    ctx: Rc<InputContext>,
    settings: Arc<Settings>,
    stream: smol::Async<std::net::TcpStream>,
    peer: SocketAddr,
) {
    let decorator = Decorator {
        r#type: Some("heka.httpdata.request".into()),
        hostname: Some(ctx.globals.hostname.clone()),
        severity: Some(6),
        env_version: Some("1".into()),
        pid: Some(std::process::id() as i32),
        ..Decorator::default()
    };
    let token = peer.ip().to_string();
    let deliverer = match Deliverer::new(&ctx.shared, Some(&token), decorator) {
        Ok(d) => Rc::new(Mutex::new(d)),
        Err(e) => {
            log::error!("Input '{}' error: {e}", ctx.shared.input_name);
            return;
        }
    };
    let tls = settings.tls.clone();
    let service = {
        let ctx = ctx.clone();
        hyper::service::service_fn(move |request| {
            let (ctx, settings, deliverer) = (ctx.clone(), settings.clone(), deliverer.clone());
            async move {
                let response = handle(&ctx, &settings, &deliverer, request, peer).await;
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(SmolTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let stopped = async {
        ctx.control.stopped().await;
        Ok(())
    };
    let _ = match tls {
        None => {
            let connection = builder.serve_connection(FuturesIo::new(stream), service);
            connection.or(stopped).await
        }
        Some(tls) => {
            let (input, stats) = (&ctx.shared.input_name, &ctx.shared.stats);
            let Some(stream) = tls::accept(&tls, stream, input, &peer.to_string(), stats).await
            else {
                return;
            };
            let connection = builder.serve_connection(FuturesIo::new(stream), service);
            connection.or(stopped).await
        }
    };
}

fn respond(status: StatusCode, settings: &Settings) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    for (name, value) in &settings.response_headers {
        response.headers_mut().append(name.clone(), value.clone());
    }
    response
}

/// Checks, reads and delivers one request.
async fn handle(
    ctx: &InputContext,
    settings: &Settings,
    deliverer: &Mutex<Deliverer>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let name = &ctx.shared.input_name;
    let header = |h: &str| {
        request
            .headers()
            .get(h)
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default()
    };
    let authorized = match &settings.auth {
        Auth::None => true,
        Auth::Basic(expected) => header("authorization") == expected.as_bytes(),
        Auth::ApiKey(key) => header("x-api-key") == key.as_bytes(),
    };
    if !authorized {
        PluginStats::add(&ctx.shared.stats.process_failures, 1);
        log::error!(
            "Input '{name}' error: request from {} failed authentication; body ignored",
            peer.ip()
        );
        let mut response = respond(StatusCode::UNAUTHORIZED, settings);
        if matches!(settings.auth, Auth::Basic(_)) {
            response.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hekad\""),
            );
        }
        return response;
    }
    let fields = request_fields(&request, settings, peer);
    let body = match Limited::new(request.into_body(), ctx.shared.max_record_size)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            PluginStats::add(&ctx.shared.stats.process_failures, 1);
            log::error!(
                "Input '{name}' error: reading a request body from {}: {e}",
                peer.ip()
            );
            let status = match e.downcast_ref::<http_body_util::LengthLimitError>() {
                Some(_) => StatusCode::PAYLOAD_TOO_LARGE,
                None => StatusCode::BAD_REQUEST,
            };
            return respond(status, settings);
        }
    };
    let mut deliverer = deliverer.lock().await;
    deliverer.set_fields(fields);
    let delivered = match body.is_empty() {
        true => deliverer.deliver_empty().await,
        false => match deliverer.push(&body).await {
            Ok(()) => deliverer.flush_incomplete().await,
            Err(e) => Err(e),
        },
    };
    match delivered {
        Ok(()) => respond(StatusCode::OK, settings),
        Err(_) => respond(StatusCode::SERVICE_UNAVAILABLE, settings),
    }
}

/// The request's fields, encoded, in Heka's order.
fn request_fields(request: &Request<Incoming>, settings: &Settings, peer: SocketAddr) -> Vec<u8> {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).map(|v| v.as_bytes()).unwrap_or_default();
    let protocol: &[u8] = match request.version() {
        hyper::Version::HTTP_10 => b"HTTP/1.0",
        _ => b"HTTP/1.1",
    };
    let host = request
        .uri()
        .host()
        .map(str::as_bytes)
        .unwrap_or_else(|| text("host"));
    let host = host_without_port(host);
    let remote = peer.ip().to_string();
    let mut fields = Vec::new();
    let mut w = MessageWriter::new(&mut fields);
    let string = |w: &mut MessageWriter<'_>, name: &[u8], value: &[u8]| {
        w.field(name, b"", Values::String(&[value]));
    };
    string(&mut w, b"Protocol", protocol);
    string(&mut w, b"UserAgent", text("user-agent"));
    string(&mut w, b"ContentType", text("content-type"));
    string(&mut w, b"Path", request.uri().path().as_bytes());
    string(&mut w, b"Host", host);
    string(&mut w, b"RemoteAddr", remote.as_bytes());
    for name in &settings.request_headers {
        if let Some(value) = headers.get(name.as_str()) {
            string(&mut w, name.as_bytes(), value.as_bytes());
        }
    }
    if let Some(query) = request.uri().query() {
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            string(&mut w, key.as_bytes(), value.as_bytes());
        }
    }
    fields
}

/// `example.com:80` -> `example.com`, `[::1]:80` -> `::1`; a bare IPv6 address stays.
fn host_without_port(host: &[u8]) -> &[u8] {
    if let Some(rest) = host.strip_prefix(b"[") {
        let end = rest.iter().position(|&b| b == b']').unwrap_or(rest.len());
        return &rest[..end];
    }
    let first = host.iter().position(|&b| b == b':');
    match first {
        Some(colon) if host.iter().rposition(|&b| b == b':') == Some(colon) => &host[..colon],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(host_without_port(b"example.com:8325"), b"example.com");
        assert_eq!(host_without_port(b"example.com"), b"example.com");
        assert_eq!(host_without_port(b"[::1]:8325"), b"::1");
        assert_eq!(host_without_port(b"::1"), b"::1");
    }
}
