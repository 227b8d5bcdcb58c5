//! What AMQPInput and AMQPOutput share (§5.1, §5.6): the broker's URL, TLS for `amqps://`
//! URLs (the section's `[x.tls]` settings, as Heka), connecting through lapin, and the
//! exchange both plugins declare with Heka's keys.
//!
//! lapin runs each connection's socket on a small thread of its own and its bookkeeping on
//! smol's global executor; the plugins await its futures from their pipeline executor.

use crate::config::{PluginSection, SectionErrors};
use crate::plugins::tls::{self, TlsConfig};
use lapin::options::ExchangeDeclareOptions;
use lapin::tcp::{AsyncTcpStream, RustlsConnector};
use lapin::types::FieldTable;
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use smol::future::FutureExt;
use std::net::TcpStream;
use std::time::Duration;

/// How long connecting (TCP, TLS and AMQP's own handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest AMQP frame hekad asks for unless the URL says `?frame_max=`.
const DEFAULT_FRAME_MAX: u32 = 16 * 1024;
/// Waits between failed connections: doubling from the first to the last.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One plugin's broker: where it is and how to reach it.
#[derive(Clone)]
pub struct Broker {
    uri: AMQPUri,
    /// The URL as logs show it: without the password.
    pub shown: String,
    /// For `amqps://`: rustls's settings and the name the broker's certificate must bear.
    tls: Option<(RustlsConnector, String)>,
}

impl Broker {
    /// The broker of `url` (Heka's RabbitMQ URI), with `tls` for an `amqps://` URL.
    /// Errors are recorded against `url` or the `tls` key at fault.
    pub fn new(
        section: &PluginSection,
        url: &str,
        tls: &TlsConfig,
        errors: &mut SectionErrors,
    ) -> Option<Broker> {
        let what = "an AMQP URL such as \"amqp://guest:guest@127.0.0.1:5672/\"";
        if !errors.required("url", !url.is_empty(), what) {
            return None;
        }
        let mut uri: AMQPUri = match url.parse() {
            Ok(uri) => uri,
            Err(e) => {
                errors.add("url", format!("expected an AMQP URL, got {url:?}: {e}"));
                return None;
            }
        };
        // "amqp://host/" is the default virtual host "/", as Heka's client read it (an
        // empty virtual host name is never valid).
        if uri.vhost.is_empty() {
            uri.vhost = "/".into();
        }
        // The client keeps two buffers of 32 frames: at RabbitMQ's 128 KiB frames that is
        // 8 MiB per connection; 16 KiB frames keep it to 1 MiB (a larger message is sent
        // in several frames). `?frame_max=` in the URL still decides.
        if uri.query.frame_max.is_none() {
            uri.query.frame_max = Some(DEFAULT_FRAME_MAX);
        }
        let host = &uri.authority.host;
        let port = uri.authority.port;
        let tls = match uri.scheme {
            AMQPScheme::AMQP => None,
            AMQPScheme::AMQPS => {
                let address = format!("{host}:{port}");
                let (config, name) = errors.merge(tls::client_settings(section, tls, &address))?;
                Some((RustlsConnector::from(config), name.to_str().into_owned()))
            }
        };
        let scheme = match uri.scheme {
            AMQPScheme::AMQP => "amqp",
            AMQPScheme::AMQPS => "amqps",
        };
        let user = &uri.authority.userinfo.username;
        let vhost = match uri.vhost.as_str() {
            "/" => "",
            other => other,
        };
        let shown = format!("{scheme}://{user}@{host}:{port}/{vhost}");
        Some(Broker { uri, shown, tls })
    }

    /// Opens a connection (TCP, then TLS for `amqps://`, then AMQP's handshake).
    pub async fn connect(&self) -> Result<Connection, String> {
        let tls = self.tls.clone();
        let connect = async move |uri: AMQPUri, _runtime| {
            let host = uri.authority.host.as_str();
            let addresses = smol::net::resolve((host, uri.authority.port)).await?;
            let mut failure = std::io::Error::other(format!("{host} has no address"));
            for address in addresses {
                match smol::Async::<TcpStream>::connect(address).await {
                    Ok(socket) => {
                        let stream = AsyncTcpStream::Plain(socket);
                        return Ok(match &tls {
                            Some((connector, name)) => stream.into_rustls(connector, name).await?,
                            None => stream,
                        });
                    }
                    Err(e) => failure = e,
                }
            }
            Err(lapin::Error::from(failure))
        };
        let runtime = lapin::runtime::default_runtime().map_err(|e| e.to_string())?;
        let connecting = async {
            Connection::connector(
                self.uri.clone(),
                runtime,
                connect,
                ConnectionProperties::default(),
            )
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.shown))
        };
        let expired = async {
            smol::Timer::after(CONNECT_TIMEOUT).await;
            Err(format!(
                "connecting to {}: no answer within {} s",
                self.shown,
                CONNECT_TIMEOUT.as_secs()
            ))
        };
        connecting.or(expired).await
    }
}

/// Closes `connection` politely, giving the broker a moment to answer: a plugin that
/// stops cleanly says goodbye instead of dropping the socket.
pub async fn close(connection: &Connection) {
    let closing = async {
        let _ = connection.close(200, "hekad stopping".into()).await;
    };
    closing
        .or(async {
            smol::Timer::after(Duration::from_secs(2)).await;
        })
        .await;
}

/// The exchange a plugin declares, with Heka's keys and defaults.
pub struct Exchange {
    pub name: String,
    pub kind: String,
    pub durable: bool,
    pub auto_delete: bool,
}

impl Exchange {
    /// Checks `exchange_type` (the broker would refuse an unknown one only at run time).
    pub fn check(&self, errors: &mut SectionErrors) {
        if self.name.is_empty() {
            return;
        }
        match self.kind.as_str() {
            "direct" | "fanout" | "topic" | "headers" => {}
            kind if kind.starts_with("x-") => {}
            kind => errors.add(
                "exchange_type",
                format!(
                    "expected \"direct\", \"fanout\", \"topic\", \"headers\" or a plugin's \
                     \"x-...\" type, got {kind:?}"
                ),
            ),
        }
    }

    /// Declares the exchange (creating it, or checking an existing one agrees). The
    /// default exchange (`exchange = ""`) always exists and cannot be declared.
    pub async fn declare(&self, channel: &Channel) -> Result<(), String> {
        if self.name.is_empty() {
            return Ok(());
        }
        let kind = match self.kind.as_str() {
            "direct" => ExchangeKind::Direct,
            "fanout" => ExchangeKind::Fanout,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            other => ExchangeKind::Custom(other.to_owned()),
        };
        let options = ExchangeDeclareOptions {
            durable: self.durable,
            auto_delete: self.auto_delete,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.name.as_str().into(),
                kind,
                options,
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("declaring exchange {:?}: {e}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(url: &str) -> Result<Broker, Vec<crate::config::ConfigError>> {
        // No dependence on the machine's CA certificates for the amqps:// case.
        let tls = TlsConfig {
            insecure_skip_verify: true,
            ..TlsConfig::default()
        };
        let section = PluginSection {
            name: "amqp".into(),
            type_name: "AMQPOutput".into(),
            category: crate::config::Category::Output,
            file: "test.toml".into(),
            table: toml::Table::new(),
        };
        let mut errors = SectionErrors::new(&section);
        let broker = Broker::new(&section, url, &tls, &mut errors);
        errors.finish(|| broker.expect("a broker when no error"))
    }

    #[test]
    fn urls_read_as_hekas_client_read_them() {
        let b = broker("amqp://guest:secret@rabbit/").expect("url");
        assert_eq!(
            b.uri.vhost, "/",
            "a trailing slash is the default virtual host"
        );
        assert_eq!(b.uri.authority.port, 5672);
        assert_eq!(b.shown, "amqp://guest@rabbit:5672/", "no password in logs");
        let b = broker("amqp://u:p@rabbit:5673/logs").expect("url");
        assert_eq!(b.uri.vhost, "logs");
        assert_eq!(b.shown, "amqp://u@rabbit:5673/logs");
        let b = broker("amqps://u:p@127.0.0.1/").expect("url");
        assert_eq!(b.uri.authority.port, 5671);
        assert!(b.tls.is_some());
        let errors = broker("http://rabbit/").err().expect("not AMQP");
        assert!(format!("{errors:?}").contains("expected an AMQP URL"));
    }
}
