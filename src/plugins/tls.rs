//! TLS for the socket plugins (§5.7): Heka's `[<section>.tls]` keys turned into rustls
//! server and client configurations, checked at start-up so that a missing file, a bad
//! key or an unknown setting names the section, the key and the file.
//!
//! hekad speaks TLS 1.2 and 1.3 only: Heka's `SSL30`, `TLS10` and `TLS11` are refused
//! with an error saying so. The five `client_auth` modes are Go's: `RequestClientCert`
//! and `RequireAnyClientCert` ask for a certificate without checking who signed it
//! (only that the client holds its key); the two `Verify…` modes check it against
//! `client_cafile`. A client with no `root_cafile` trusts the system's CA certificates.

use crate::config::{ConfigError, PluginSection};
use crate::pipeline::stats::PluginStats;
use futures_rustls::{TlsAcceptor, TlsConnector};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use serde::Deserialize;
use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncWrite};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The `tls` sub-table, with Heka's key names (including its `sesion_ticket_key`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    pub server_name: String,
    pub cert_file: String,
    pub key_file: String,
    pub client_auth: String,
    pub ciphers: Vec<String>,
    pub insecure_skip_verify: bool,
    pub prefer_server_ciphers: bool,
    pub session_tickets_disabled: bool,
    pub sesion_ticket_key: String,
    pub min_version: String,
    pub max_version: String,
    pub client_cafile: String,
    pub root_cafile: String,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            server_name: String::new(),
            cert_file: String::new(),
            key_file: String::new(),
            client_auth: "NoClientCert".into(),
            ciphers: Vec::new(),
            insecure_skip_verify: false,
            prefer_server_ciphers: true,
            session_tickets_disabled: false,
            sesion_ticket_key: String::new(),
            min_version: String::new(),
            max_version: String::new(),
            client_cafile: String::new(),
            root_cafile: String::new(),
        }
    }
}

/// A TLS setting that is wrong: the key under `tls` and what is wrong with it.
struct Problem {
    key: &'static str,
    message: String,
}

fn problem(key: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        key,
        message: message.into(),
    }
}

impl Problem {
    fn in_section(self, section: &PluginSection) -> Vec<ConfigError> {
        in_section(vec![self], section)
    }
}

/// Every problem found, as errors of `section`'s `tls` table.
fn in_section(problems: Vec<Problem>, section: &PluginSection) -> Vec<ConfigError> {
    problems
        .into_iter()
        .map(|p| ConfigError::in_section(section, Some(&format!("tls.{}", p.key)), p.message))
        .collect()
}

/// The problems of a `tls` table's independent settings, gathered so that all of them
/// are reported in one pass.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    /// The value, or `None` with its problem kept.
    fn check<T>(&mut self, checked: Result<T, Problem>) -> Option<T> {
        checked.map_err(|p| self.0.push(p)).ok()
    }
}

/// How long a peer has to complete a TLS handshake with hekad, either side.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client side of one plugin's TLS: its settings and the name the server's
/// certificate must bear.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl ClientTls {
    /// TLS to `address` (`host:port`) under the section's `tls` settings.
    pub fn new(
        section: &PluginSection,
        tls: &TlsConfig,
        address: &str,
    ) -> Result<ClientTls, Vec<ConfigError>> {
        let (config, name) = client_settings(section, tls, address)?;
        Ok(ClientTls {
            connector: TlsConnector::from(config),
            name,
        })
    }

    /// Runs the handshake over `stream`, within `HANDSHAKE_TIMEOUT`.
    pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
    ) -> std::io::Result<futures_rustls::client::TlsStream<S>> {
        let expired = async {
            smol::Timer::after(HANDSHAKE_TIMEOUT).await;
            Err(std::io::Error::other("no TLS handshake within 10 s"))
        };
        self.connector
            .connect(self.name.clone(), stream)
            .or(expired)
            .await
    }
}

/// A blocking TLS connection to `address` for the command-line tools (heka-flood,
/// heka-inject): connects, and handshakes within `HANDSHAKE_TIMEOUT`. Errors name the
/// `tls` key at fault.
pub fn blocking_connect(
    tls: &TlsConfig,
    address: &str,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>, String> {
    let shown = |p: &Problem| format!("tls.{}: {}", p.key, p.message);
    let config = build_client(tls)
        .map_err(|problems| problems.iter().map(shown).collect::<Vec<_>>().join("; "))?;
    let name = server_name(tls, address).map_err(|p| shown(&p))?;
    let connection = rustls::ClientConnection::new(config, name)
        .map_err(|e| format!("TLS to {address}: {e}"))?;
    let socket = std::net::TcpStream::connect(address)
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let _ = socket.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
    let mut stream = rustls::StreamOwned::new(connection, socket);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| format!("TLS handshake with {address}: {e}"))?;
    }
    Ok(stream)
}

/// Ends a [`blocking_connect`] connection politely: close_notify, FIN, then what the
/// server sent meanwhile (TLS 1.3 session tickets) is read until it closes, so closing
/// does not reset the connection, which would lose the last records at the server.
pub fn blocking_close(
    stream: &mut rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    stream.conn.send_close_notify();
    stream.flush()?;
    stream.sock.shutdown(std::net::Shutdown::Write)?;
    let mut sink = [0u8; 4096];
    while let Ok(n) = stream.sock.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Runs the server side of a handshake with `peer` within `HANDSHAKE_TIMEOUT`. A client
/// refused (no or an untrusted certificate, plain TCP, too slow) is logged with the
/// input's name and counted in its report (`TlsRefusedCount`).
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    acceptor: &TlsAcceptor,
    stream: S,
    input: &str,
    peer: &str,
    stats: &PluginStats,
) -> Option<futures_rustls::server::TlsStream<S>> {
    let expired = async {
        smol::Timer::after(HANDSHAKE_TIMEOUT).await;
        Err(std::io::Error::other("no handshake within 10 s"))
    };
    match acceptor.accept(stream).or(expired).await {
        Ok(stream) => Some(stream),
        Err(e) => {
            stats.tls_refused.fetch_add(1, Ordering::Relaxed);
            let not_tls = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .is_some_and(|tls| {
                    matches!(
                        tls,
                        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
                    )
                });
            let hint = if not_tls {
                " (the client does not speak TLS)"
            } else {
                ""
            };
            log::warn!("Input '{input}': TLS handshake with {peer} refused: {e}{hint}");
            None
        }
    }
}

/// The server side (TcpInput, HttpListenInput) of a `use_tls = true` section.
pub fn acceptor(section: &PluginSection, tls: &TlsConfig) -> Result<TlsAcceptor, Vec<ConfigError>> {
    let config = build_server(tls).map_err(|p| in_section(p, section))?;
    Ok(TlsAcceptor::from(config))
}

/// The client side of a section's TLS to `address` (`host:port`): rustls's settings and
/// the name the server's certificate must bear. [`ClientTls`] wraps them for smol
/// streams; AMQP's client library takes them as they are.
pub fn client_settings(
    section: &PluginSection,
    tls: &TlsConfig,
    address: &str,
) -> Result<(Arc<rustls::ClientConfig>, ServerName<'static>), Vec<ConfigError>> {
    let config = build_client(tls).map_err(|p| in_section(p, section));
    let name = server_name(tls, address).map_err(|p| p.in_section(section));
    match (config, name) {
        (Ok(config), Ok(name)) => Ok((config, name)),
        (config, name) => Err([config.err(), name.err()]
            .into_iter()
            .flatten()
            .flatten()
            .collect()),
    }
}

/// The name a client checks the server's certificate against: `server_name`, else the
/// host part of `address` (a name or an IP address).
fn server_name(tls: &TlsConfig, address: &str) -> Result<ServerName<'static>, Problem> {
    let name = match tls.server_name.is_empty() {
        true => host_of(address),
        false => tls.server_name.as_str(),
    };
    ServerName::try_from(name.to_owned()).map_err(|e| {
        problem(
            "server_name",
            format!("{name:?} is not a valid server name: {e}"),
        )
    })
}

/// `host` of `host:port` or `[v6]:port`.
fn host_of(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    address.rsplit_once(':').map_or(address, |(host, _)| host)
}

fn build_server(tls: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, Vec<Problem>> {
    let mut found = Problems::default();
    let provider = found.check(provider(tls));
    let versions = found.check(versions(tls));
    let server_file = |key, path: &str, what| match path.is_empty() {
        true => Err(problem(key, crate::config::not_set(what))),
        false => Ok(path.to_owned()),
    };
    let certs = found.check(
        server_file(
            "cert_file",
            &tls.cert_file,
            "a PEM certificate file (a TLS server needs one)",
        )
        .and_then(|path| certificates("cert_file", &path)),
    );
    let key = found.check(
        server_file(
            "key_file",
            &tls.key_file,
            "a PEM private key file (a TLS server needs one)",
        )
        .and_then(|path| private_key("key_file", &path)),
    );
    // Checked with the default suites when `ciphers` is wrong, so its problems show too.
    let verifier_provider = provider.clone().unwrap_or_else(default_provider);
    let verifier = found.check(client_verifier(tls, &verifier_provider));
    let (Some(provider), Some(versions), Some(certs), Some(key), Some(verifier)) =
        (provider, versions, certs, key, verifier)
    else {
        return Err(found.0);
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| vec![problem("min_version", e.to_string())])?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| vec![problem("key_file", format!("{}: {e}", tls.key_file))])?;
    config.ignore_client_order = tls.prefer_server_ciphers;
    if tls.session_tickets_disabled {
        config.send_tls13_tickets = 0;
    }
    if !tls.sesion_ticket_key.is_empty() {
        log::warn!("tls.sesion_ticket_key is ignored: hekad's session tickets use random keys");
    }
    Ok(Arc::new(config))
}

fn build_client(tls: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, Vec<Problem>> {
    let mut found = Problems::default();
    let provider = found.check(provider(tls));
    let versions = found.check(versions(tls));
    let roots = match tls.insecure_skip_verify {
        true => Some(None),
        false => found.check(roots(tls)).map(Some),
    };
    let identity = match (tls.cert_file.is_empty(), tls.key_file.is_empty()) {
        (true, true) => Some(None),
        (false, false) => {
            let certs = found.check(certificates("cert_file", &tls.cert_file));
            let key = found.check(private_key("key_file", &tls.key_file));
            certs.zip(key).map(Some)
        }
        (true, false) => {
            let what = "a PEM certificate file (key_file is set)";
            found.check::<()>(Err(problem("cert_file", crate::config::not_set(what))));
            None
        }
        (false, true) => {
            let what = "a PEM private key file (cert_file is set)";
            found.check::<()>(Err(problem("key_file", crate::config::not_set(what))));
            None
        }
    };
    let (Some(provider), Some(versions), Some(roots), Some(identity)) =
        (provider, versions, roots, identity)
    else {
        return Err(found.0);
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| vec![problem("min_version", e.to_string())])?;
    let builder = match roots {
        None => {
            log::warn!("tls.insecure_skip_verify = true: the server's certificate is not checked");
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        }
        Some(roots) => builder.with_root_certificates(roots),
    };
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((certs, key)) => builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| vec![problem("key_file", format!("{}: {e}", tls.key_file))])?,
    };
    Ok(Arc::new(config))
}

/// The trust anchors of a client: `root_cafile`, else the system's.
fn roots(tls: &TlsConfig) -> Result<RootCertStore, Problem> {
    if !tls.root_cafile.is_empty() {
        return cert_store("root_cafile", &tls.root_cafile);
    }
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(problem(
            "root_cafile",
            crate::config::not_set("a PEM CA file (no CA certificates found on this system)"),
        ));
    }
    Ok(store)
}

/// ring with all its cipher suites.
fn default_provider() -> Arc<CryptoProvider> {
    // Deprecated in rustls 0.23.48 for lacking post-quantum key exchange, which only the
    // aws-lc-rs provider has (and it needs cmake and a larger binary on the ARM targets).
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// ring with the cipher suites `ciphers` names (all of ring's when empty).
fn provider(tls: &TlsConfig) -> Result<Arc<CryptoProvider>, Problem> {
    let mut provider = Arc::unwrap_or_clone(default_provider());
    if !tls.ciphers.is_empty() {
        let name = |s: &rustls::SupportedCipherSuite| {
            // Go names TLS 1.3 suites TLS_AES_128_GCM_SHA256; rustls TLS13_AES_….
            format!("{:?}", s.suite()).replacen("TLS13_", "TLS_", 1)
        };
        let all: Vec<String> = provider.cipher_suites.iter().map(name).collect();
        let unknown: Vec<&String> = tls
            .ciphers
            .iter()
            .filter(|c| !all.contains(&c.replacen("TLS13_", "TLS_", 1)))
            .collect();
        provider.cipher_suites.retain(|s| {
            tls.ciphers
                .iter()
                .any(|c| c.replacen("TLS13_", "TLS_", 1) == name(s))
        });
        if provider.cipher_suites.is_empty() {
            return Err(problem(
                "ciphers",
                format!(
                    "expected cipher suites among {}, got {:?}: none of them is supported",
                    all.join(", "),
                    tls.ciphers
                ),
            ));
        }
        if !unknown.is_empty() {
            log::warn!("tls.ciphers: {unknown:?} not supported (hekad has TLS 1.2 AEAD and TLS 1.3 suites only); using the others");
        }
    }
    Ok(Arc::new(provider))
}

/// The protocol versions from `min_version` (default TLS12) to `max_version` (default
/// TLS13).
fn versions(tls: &TlsConfig) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, Problem> {
    let level = |key: &'static str, value: &str, default: u8| -> Result<u8, Problem> {
        match value {
            "" => Ok(default),
            "TLS12" => Ok(12),
            "TLS13" => Ok(13),
            "SSL30" | "TLS10" | "TLS11" => Err(problem(
                key,
                format!(
                    "expected TLS12 or TLS13, got {value:?}: hekad speaks TLS 1.2 and 1.3 only \
                     (older versions are broken)"
                ),
            )),
            other => Err(problem(
                key,
                crate::config::not_one_of(&["TLS12", "TLS13"], other),
            )),
        }
    };
    let min = level("min_version", &tls.min_version, 12)?;
    let max = level("max_version", &tls.max_version, 13)?;
    if min > max {
        let msg = format!(
            "expected a version at or above min_version {:?}, got {:?}",
            tls.min_version, tls.max_version
        );
        return Err(problem("max_version", msg));
    }
    let mut versions = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    Ok(versions)
}

/// The verifier for `client_auth` (none for NoClientCert).
fn client_verifier(
    tls: &TlsConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, Problem> {
    let verified = |optional: bool| -> Result<Option<Arc<dyn ClientCertVerifier>>, Problem> {
        if tls.client_cafile.is_empty() {
            return Err(problem(
                "client_cafile",
                crate::config::not_set(&format!(
                    "a PEM CA file (client_auth = {:?} needs client_cafile to verify clients)",
                    tls.client_auth
                )),
            ));
        }
        let roots = Arc::new(cert_store("client_cafile", &tls.client_cafile)?);
        let builder = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        let verifier = builder
            .build()
            .map_err(|e| problem("client_cafile", format!("{}: {e}", tls.client_cafile)))?;
        Ok(Some(verifier))
    };
    match tls.client_auth.as_str() {
        "" | "NoClientCert" => Ok(None),
        "RequestClientCert" => Ok(Some(Arc::new(AnyClient {
            provider: provider.clone(),
            mandatory: false,
        }))),
        "RequireAnyClientCert" => Ok(Some(Arc::new(AnyClient {
            provider: provider.clone(),
            mandatory: true,
        }))),
        "VerifyClientCertIfGiven" => verified(true),
        "RequireAndVerifyClientCert" => verified(false),
        other => Err(problem(
            "client_auth",
            crate::config::not_one_of(
                &[
                    "NoClientCert",
                    "RequestClientCert",
                    "RequireAnyClientCert",
                    "VerifyClientCertIfGiven",
                    "RequireAndVerifyClientCert",
                ],
                other,
            ),
        )),
    }
}

/// Every certificate of a PEM file.
fn certificates(key: &'static str, path: &str) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let bad = |e: &dyn std::fmt::Display| {
        problem(
            key,
            format!("expected a PEM certificate file, got {path:?}: {e}"),
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no PEM certificate in it"));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
fn private_key(key: &'static str, path: &str) -> Result<PrivateKeyDer<'static>, Problem> {
    let bad = |e: &dyn std::fmt::Display| {
        problem(
            key,
            format!("expected a PEM private key file, got {path:?}: {e}"),
        )
    };
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => bad(&"no PEM private key in it"),
        e => bad(&e),
    })
}

/// A store of the CA certificates in a PEM file.
fn cert_store(key: &'static str, path: &str) -> Result<RootCertStore, Problem> {
    let mut store = RootCertStore::empty();
    for cert in certificates(key, path)? {
        store
            .add(cert)
            .map_err(|e| problem(key, format!("{path}: {e}")))?;
    }
    Ok(store)
}

/// `insecure_skip_verify`: any server certificate is accepted; the handshake signature
/// is still checked.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_signature(&self.0, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls13_signature(&self.0, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The handshake signature checks both accept-any verifiers still make: the peer holds
/// the key of the certificate it showed.
fn tls12_signature(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let algorithms = &provider.signature_verification_algorithms;
    rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
}

fn tls13_signature(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let algorithms = &provider.signature_verification_algorithms;
    rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
}

/// `RequestClientCert` / `RequireAnyClientCert`: a client certificate is asked for
/// (required when `mandatory`) but its issuer is not checked; the client still proves
/// it holds the certificate's key.
#[derive(Debug)]
struct AnyClient {
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl ClientCertVerifier for AnyClient {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_signature(&self.provider, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls13_signature(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("logs.example.com:5565"), "logs.example.com");
        assert_eq!(host_of("127.0.0.1:5565"), "127.0.0.1");
        assert_eq!(host_of("[::1]:5565"), "::1");
        assert_eq!(host_of("aggregator"), "aggregator");
    }

    #[test]
    fn versions_below_tls12_are_refused_and_the_default_is_12_to_13() {
        let with = |min: &str, max: &str| TlsConfig {
            min_version: min.into(),
            max_version: max.into(),
            ..TlsConfig::default()
        };
        assert_eq!(versions(&with("", "")).map(|v| v.len()).ok(), Some(2));
        assert_eq!(versions(&with("TLS13", "")).map(|v| v.len()).ok(), Some(1));
        let refused = versions(&with("TLS10", "")).expect_err("refused");
        assert_eq!(refused.key, "min_version");
        assert!(refused.message.contains("TLS 1.2 and 1.3 only"));
        assert!(versions(&with("TLS13", "TLS12")).is_err());
    }

    #[test]
    fn cipher_names_are_gos() {
        let named = |names: &[&str]| TlsConfig {
            ciphers: names.iter().map(|s| s.to_string()).collect(),
            ..TlsConfig::default()
        };
        let p = provider(&named(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_RC4_128_SHA",
        ]))
        .ok()
        .expect("two known");
        assert_eq!(p.cipher_suites.len(), 2);
        assert!(provider(&named(&["TLS_RSA_WITH_RC4_128_SHA"])).is_err());
    }
}
