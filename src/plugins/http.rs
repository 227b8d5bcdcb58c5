//! HTTP/1.1 for the plugins that speak it (HttpOutput, HttpInput, ElasticSearchOutput,
//! HttpListenInput), on hyper over smol's sockets: URL checks, one keep-alive client
//! connection with a timeout, and the request options Heka's HTTP plugins share. An
//! `https://` URL is TLS under the section's `[<section>.tls]` settings (`tls.rs`).

use crate::config::{ConfigError, PluginSection, SectionErrors};
use crate::pipeline::executors::spawn_local;
use crate::plugins::tls::{ClientTls, TlsConfig};
use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, StatusCode, Uri, Version};
use smol::future::FutureExt;
use smol_hyper::rt::FuturesIo;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// An `http://` or `https://host[:port]/path?query` URL, checked, with its TLS settings.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    host: String,
    port: u16,
    https: bool,
    /// Set by [`Endpoint::secure`] for an https URL.
    tls: Option<ClientTls>,
    /// The Host header: the URL's authority.
    authority: String,
    pub path_and_query: String,
}

impl Endpoint {
    /// Parses `url` (http or https; an https endpoint needs [`Endpoint::secure`]).
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("{url:?} is not an http:// or https:// URL")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?} has no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(Endpoint {
            url: url.to_owned(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            https,
            tls: None,
            authority: authority.as_str().to_owned(),
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

impl Endpoint {
    /// Readies an https endpoint's TLS from the section's `tls` settings (nothing for
    /// http). `use_tls = true` asks for TLS: it must then be an https URL.
    pub fn secure(
        mut self,
        section: &PluginSection,
        key: &str,
        use_tls: bool,
        tls: &TlsConfig,
    ) -> Result<Endpoint, Vec<ConfigError>> {
        if use_tls && !self.https {
            let msg = format!("use_tls = true needs an https:// URL, not {:?}", self.url);
            return Err(vec![ConfigError::in_section(section, Some(key), msg)]);
        }
        if self.https {
            let address = format!("{}:{}", self.authority_host(), self.port);
            self.tls = Some(ClientTls::new(section, tls, &address)?);
        }
        Ok(self)
    }

    /// The host as it goes into `host:port` (IPv6 in brackets).
    fn authority_host(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]", self.host),
            false => self.host.clone(),
        }
    }
}

/// The endpoint `url` (from `key`) names, its TLS readied (`use_tls_key`, `use_tls`,
/// the section's `tls`), or `None` with the errors recorded.
pub fn checked_endpoint(
    errors: &mut SectionErrors,
    key: &str,
    url: &str,
    (use_tls_key, use_tls): (&str, bool),
    tls: &TlsConfig,
) -> Option<Endpoint> {
    let endpoint = errors.check(key, Endpoint::parse(url))?;
    errors.merge(endpoint.secure(errors.section(), use_tls_key, use_tls, tls))
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// A `headers` entry: one value (HttpInput's docs) or a list (Go's `http.Header`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

/// Checks `headers` (a config's `headers` table) into header pairs; errors name `key`.
pub fn header_list(
    section: &PluginSection,
    key: &str,
    headers: &BTreeMap<String, HeaderValues>,
) -> Result<Vec<(HeaderName, HeaderValue)>, Vec<ConfigError>> {
    let mut errors = SectionErrors::new(section);
    let mut list = Vec::new();
    for (name, values) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("expected an HTTP header name, got {name:?}: {e}"));
        let Some(header) = errors.check(key, header) else {
            continue;
        };
        let values = match values {
            HeaderValues::One(v) => std::slice::from_ref(v),
            HeaderValues::Many(v) => v.as_slice(),
        };
        for value in values {
            let value = HeaderValue::from_str(value).map_err(|e| {
                format!("expected an HTTP header value for {name}, got {value:?}: {e}")
            });
            if let Some(value) = errors.check(key, value) {
                list.push((header.clone(), value));
            }
        }
    }
    errors.finish(|| list)
}

/// Request options Heka's HTTP outputs and inputs share: `method`, `headers` (each a
/// list of values), `username`/`password` (basic auth), `http_timeout` (ms, 0 = none).
#[derive(Debug, Clone)]
pub struct RequestOptions {
    pub method: Method,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub timeout: Option<Duration>,
}

impl RequestOptions {
    /// Checks the shared keys of `section`; errors name the key.
    pub fn new(
        section: &PluginSection,
        method: &str,
        headers: &BTreeMap<String, HeaderValues>,
        username: &str,
        password: &str,
        timeout_ms: u64,
    ) -> Result<RequestOptions, Vec<ConfigError>> {
        let mut errors = SectionErrors::new(section);
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            other => {
                errors.one_of("method", other, &["GET", "POST", "PUT"], true);
                Method::GET
            }
        };
        let mut list = errors
            .merge(header_list(section, "headers", headers))
            .unwrap_or_default();
        if !username.is_empty() || !password.is_empty() {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            let value = HeaderValue::from_str(&format!("Basic {token}")).map_err(|e| {
                format!("expected text that fits an HTTP header, got {username:?}: {e}")
            });
            if let Some(value) = errors.check("username", value) {
                list.push((hyper::header::AUTHORIZATION, value));
            }
        }
        errors.finish(|| RequestOptions {
            method,
            headers: list,
            timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms)),
        })
    }
}

/// A response, its body read whole (up to the caller's limit).
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub version: Version,
    pub body: Bytes,
    /// From sending the request to the end of the body.
    pub elapsed: Duration,
}

impl Response {
    /// Go's `Status` text: "200 OK".
    pub fn status_text(&self) -> String {
        format!(
            "{} {}",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or("")
        )
    }

    /// "HTTP/1.1".
    pub fn protocol(&self) -> &'static str {
        match self.version {
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_09 => "HTTP/0.9",
            _ => "HTTP/1.1",
        }
    }
}

/// One keep-alive connection to an endpoint, reopened when the server closed it.
pub struct Client {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    pub fn new(endpoint: Endpoint) -> Client {
        Client {
            endpoint,
            sender: None,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one request to the endpoint and reads the response, within `options.timeout`. Bodies over `max_body` bytes fail.
    pub async fn send(
        &mut self,
        options: &RequestOptions,
        extra_headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
        max_body: usize,
    ) -> Result<Response, String> {
        let exchange = self.exchange(options, extra_headers, body, max_body);
        let result = match options.timeout {
            Some(limit) => {
                let timed_out = async {
                    smol::Timer::after(limit).await;
                    Err(format!("no response within {} ms", limit.as_millis()))
                };
                exchange.or(timed_out).await
            }
            None => exchange.await,
        };
        if result.is_err() {
            // A request cut short leaves the connection in an unknown state.
            self.sender = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        options: &RequestOptions,
        extra_headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
        max_body: usize,
    ) -> Result<Response, String> {
        let mut request = hyper::Request::builder()
            .method(options.method.clone())
            .uri(&self.endpoint.path_and_query)
            .header(hyper::header::HOST, &self.endpoint.authority)
            .header(hyper::header::USER_AGENT, "Heka");
        if let Some(headers) = request.headers_mut() {
            for (name, value) in options.headers.iter().chain(extra_headers) {
                headers.insert(name.clone(), value.clone());
            }
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("building the request: {e}"))?;
        let sender = ready_sender(&self.endpoint, &mut self.sender).await?;
        let url = &self.endpoint.url;
        let started = Instant::now();
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request to {url}: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, max_body)
            .collect()
            .await
            .map_err(|e| format!("reading the response of {url}: {e}"))?
            .to_bytes();
        Ok(Response {
            status: parts.status,
            version: parts.version,
            body,
            elapsed: started.elapsed(),
        })
    }
}

/// The connection's sender, connecting to `endpoint` first when there is none or the
/// server closed it.
async fn ready_sender<'s>(
    endpoint: &Endpoint,
    sender: &'s mut Option<SendRequest<Full<Bytes>>>,
) -> Result<&'s mut SendRequest<Full<Bytes>>, String> {
    if let Some(open) = sender.as_mut() {
        if open.ready().await.is_err() {
            *sender = None;
        }
    }
    if let Some(open) = sender {
        return Ok(open);
    }
    let url = &endpoint.url;
    let stream = smol::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let open = match (&endpoint.tls, endpoint.https) {
        (None, false) => open_http(FuturesIo::new(stream)).await,
        (Some(tls), true) => {
            let stream = tls
                .connect(stream)
                .await
                .map_err(|e| format!("TLS handshake with {url}: {e}"))?;
            open_http(FuturesIo::new(stream)).await
        }
        _ => return Err(format!("{url}: https needs its TLS settings")),
    };
    let open = open.map_err(|e| format!("HTTP handshake with {url}: {e}"))?;
    Ok(sender.insert(open))
}

/// Starts HTTP/1.1 over a connected stream; its connection task runs detached.
async fn open_http<S>(io: S) -> hyper::Result<SendRequest<Full<Bytes>>>
where
    S: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let (open, connection) = hyper::client::conn::http1::handshake(io).await?;
    spawn_local(async move {
        let _ = connection.await;
    })
    .detach();
    Ok(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_http_urls() {
        let e = Endpoint::parse("http://127.0.0.1:8086/write?db=metrics").expect("valid");
        assert_eq!((e.host.as_str(), e.port), ("127.0.0.1", 8086));
        assert_eq!(e.path_and_query, "/write?db=metrics");
        assert_eq!(
            Endpoint::parse("http://example.com")
                .expect("valid")
                .path_and_query,
            "/"
        );
        let https = Endpoint::parse("https://example.com/").expect("valid");
        assert_eq!((https.port, https.https), (443, true));
        assert!(Endpoint::parse("ftp://example.com/").is_err());
        assert!(Endpoint::parse("example.com:80").is_err());
        assert!(Endpoint::parse("http://[::1]:9200/").is_ok());
    }
}
