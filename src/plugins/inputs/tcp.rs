//! TcpInput (§5.1): a TCP or unix-socket listener; one splitter, deliverer and task per
//! connection. Defaults: HekaFramingSplitter + ProtobufDecoder.
//!
//! With `use_tls` each connection first completes a TLS handshake (in its own task, within
//! `tls::HANDSHAKE_TIMEOUT`) under the `[<section>.tls]` settings (`plugins/tls.rs`); a client
//! refused there (no or an untrusted certificate, plain TCP, a timeout) is logged and
//! counted (`TlsRefusedCount`) and the others are served as usual.

use super::{Decorator, Deliverer, Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::executors::spawn_local;
use crate::pipeline::shutdown::Signal;
use crate::plugins::tls::{self, TlsConfig};
use futures_rustls::TlsAcceptor;
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::Async;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct TcpInputConfig {
    address: String,
    net: String,
    use_tls: bool,
    tls: TlsConfig,
    keep_alive: bool,
    keep_alive_period: u64,
}

impl Default for TcpInputConfig {
    fn default() -> Self {
        TcpInputConfig {
            address: String::new(),
            net: "tcp".into(),
            use_tls: false,
            tls: TlsConfig::default(),
            keep_alive: false,
            keep_alive_period: 0,
        }
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// The TcpInput plugin.
pub struct TcpInput {
    listener: Listener,
    /// `Some(keep_alive_period)` when keep-alive is on.
    keep_alive: Option<u64>,
    /// With `use_tls`: the handshake every connection goes through first.
    tls: Option<TlsAcceptor>,
}

/// Builds a TcpInput and binds its socket (checks the address only, with `dry_run`).
pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    dry_run: bool,
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let config: TcpInputConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let net = errors.one_of("net", &config.net, &["tcp", "tcp4", "tcp6", "unix"], false);
    let set = errors.required(
        "address",
        !config.address.is_empty(),
        "a host:port or a path",
    );
    let tls = match config.use_tls {
        true => errors.merge(tls::acceptor(section, &config.tls)),
        false => None,
    };
    let (Some(net), true) = (net, set) else {
        return Err(errors.fail("address", "not checked"));
    };
    if dry_run {
        errors.check("address", super::check_listen_address(net, &config.address));
        return errors.finish(|| Box::new(super::CheckedOnly) as Box<dyn Input>);
    }
    let listener = match net {
        "unix" => {
            let _ = std::fs::remove_file(&config.address);
            UnixListener::bind(&config.address).map(Listener::Unix)
        }
        _ => TcpListener::bind(&config.address).map(Listener::Tcp),
    }
    .map_err(|e| super::listen_failed(&config.address, e));
    let Some(listener) = errors.check("address", listener) else {
        return Err(errors.fail("address", "not bound"));
    };
    errors.finish(|| {
        Box::new(TcpInput {
            listener,
            keep_alive: config.keep_alive.then_some(config.keep_alive_period),
            tls,
        }) as Box<dyn Input>
    })
}

impl Input for TcpInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            if self.tls.is_some() {
                ctx.shared.stats.serves_tls.store(true, Ordering::Relaxed);
            }
            let tls = self.tls.as_ref();
            match self.listener {
                Listener::Tcp(l) => {
                    let acceptor = TcpAcceptor {
                        listener: Async::new(l).map_err(|e| e.to_string())?,
                        keep_alive: self.keep_alive,
                    };
                    accept_until_stopped(&ctx, acceptor, tls).await
                }
                Listener::Unix(l) => {
                    let listener = Async::new(l).map_err(|e| e.to_string())?;
                    accept_until_stopped(&ctx, listener, tls).await
                }
            }
            Ok(())
        })
    }
}

/// A listening socket, TCP or unix, that hands out connections.
trait Acceptor {
    type Stream: AsyncRead + AsyncWrite + HalfClose + Unpin + 'static;
    /// The next connection and, for TCP, the peer's address.
    async fn accept(&self) -> std::io::Result<(Self::Stream, Option<std::net::SocketAddr>)>;
}

/// A TCP listener and the keep-alive setting for the connections it accepts.
struct TcpAcceptor {
    listener: Async<TcpListener>,
    keep_alive: Option<u64>,
}

impl Acceptor for TcpAcceptor {
    type Stream = Async<std::net::TcpStream>;
    async fn accept(&self) -> std::io::Result<(Self::Stream, Option<std::net::SocketAddr>)> {
        let (stream, peer) = self.listener.accept().await?;
        if let Some(period) = self.keep_alive {
            set_keep_alive(&stream, period);
        }
        Ok((stream, Some(peer)))
    }
}

impl Acceptor for Async<UnixListener> {
    type Stream = Async<std::os::unix::net::UnixStream>;
    async fn accept(&self) -> std::io::Result<(Self::Stream, Option<std::net::SocketAddr>)> {
        Ok((Async::<UnixListener>::accept(self).await?.0, None))
    }
}

/// Accepts connections until shutdown, serving each in its own task (its own splitter and
/// decoder; Type = input name, Hostname = peer address), then waits for them to finish.
///
/// At shutdown the listener is closed before any connection is told we are closing. The
/// kernel completes handshakes and acknowledges data for connections nobody has accepted
/// yet, so a sender that reconnected into the backlog after our FIN would see its bytes
/// acknowledged and then lost. The backlog is accepted and served (drained) first.
async fn accept_until_stopped<A: Acceptor>(
    ctx: &InputContext,
    acceptor: A,
    tls: Option<&TlsAcceptor>,
) {
    let mut connections: Vec<smol::Task<()>> = Vec::new();
    // Connections start their shutdown only once the listener is closed.
    let listener_closed = Arc::new(Signal::default());
    loop {
        let accepted = async { Some(acceptor.accept().await) };
        let stopped = async {
            ctx.control.stopped().await;
            None
        };
        match accepted.or(stopped).await {
            Some(result) => start_serving(ctx, &mut connections, &listener_closed, result, tls),
            None => break,
        }
    }
    while let Some(Ok(conn)) = smol::future::poll_once(acceptor.accept()).await {
        start_serving(ctx, &mut connections, &listener_closed, Ok(conn), tls);
    }
    drop(acceptor);
    listener_closed.raise();
    for connection in connections {
        connection.await;
    }
}

/// Spawns the task serving one accepted connection (after its TLS handshake with `tls`).
fn start_serving<S: AsyncRead + AsyncWrite + HalfClose + Unpin + 'static>(
    ctx: &InputContext,
    connections: &mut Vec<smol::Task<()>>,
    listener_closed: &Arc<Signal>,
    accepted: std::io::Result<(S, Option<std::net::SocketAddr>)>,
    tls: Option<&TlsAcceptor>,
) {
    let (stream, peer) = match accepted {
        Ok(conn) => conn,
        Err(e) => {
            log::error!("Input '{}' error: accept: {e}", ctx.shared.input_name);
            return;
        }
    };
    let decorator = Decorator {
        r#type: Some(ctx.shared.input_name.clone()),
        hostname: peer.map(|p| p.to_string()),
        logger: None,
        severity: None,
        env_version: None,
        pid: None,
        fields: Vec::new(),
    };
    let token = peer.map(|p| p.ip().to_string());
    let name = match peer {
        Some(p) => format!("{} connection from {p}", ctx.shared.input_name),
        None => format!("{} connection", ctx.shared.input_name),
    };
    log::debug!("Input '{name}': accepted");
    connections.retain(|t| !t.is_finished());
    let deliverer = match Deliverer::new(&ctx.shared, token.as_deref(), decorator) {
        Ok(d) => d,
        Err(e) => {
            log::error!("Input '{}' error: {e}", ctx.shared.input_name);
            return;
        }
    };
    let closed = listener_closed.clone();
    let task = match tls {
        None => spawn_local(serve(stream, deliverer, closed, name)),
        Some(tls) => {
            let tls = tls.clone();
            let (input, stats) = (ctx.shared.input_name.clone(), ctx.shared.stats.clone());
            let peer = peer.map_or_else(|| "a unix socket peer".to_owned(), |p| p.to_string());
            spawn_local(async move {
                let handshake = async { tls::accept(&tls, stream, &input, &peer, &stats).await };
                let stopping = async {
                    closed.raised().await;
                    None
                };
                if let Some(stream) = handshake.or(stopping).await {
                    serve(stream, deliverer, closed, name).await;
                }
            })
        }
    };
    connections.push(task);
}

/// Reads one connection until EOF or shutdown (`listener_closed` is raised); every record
/// already read is delivered.
async fn serve<S: AsyncRead + HalfClose + Unpin>(
    mut stream: S,
    mut deliverer: Deliverer,
    listener_closed: Arc<Signal>,
    name: String,
) {
    loop {
        let read = async { Some(stream.read(deliverer.spare()).await) };
        let stopped = async {
            listener_closed.raised().await;
            None
        };
        let n = match read.or(stopped).await {
            None => {
                // Shutdown: tell the peer we are closing (FIN) and deliver everything it
                // sends until it closes its side too. A hekad TcpOutput stops writing,
                // waits for its bytes to be acknowledged and closes, so nothing it sent is
                // lost; a peer that keeps writing is cut off after a grace period.
                stream.half_close().await;
                let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
                loop {
                    // Only the read races the deadline: a record already read is always
                    // delivered whole.
                    let read = async { Some(stream.read(deliverer.spare()).await) };
                    let expired = async {
                        smol::Timer::at(deadline).await;
                        None
                    };
                    match read.or(expired).await {
                        Some(Ok(n)) if n > 0 => {
                            if deliverer.filled(n).await.is_err() {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                break;
            }
            Some(Ok(0)) => break,
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                log::debug!("Input '{name}': read error: {e}");
                // A TLS peer that reset the connection may have sent records already
                // decrypted but not yet handed over: deliver them too.
                loop {
                    let n = stream.take_buffered(deliverer.spare());
                    if n == 0 || deliverer.filled(n).await.is_err() {
                        break;
                    }
                }
                break;
            }
        };
        if deliverer.filled(n).await.is_err() {
            log::debug!("Input '{name}': closed (hekad is stopping)");
            return;
        }
    }
    let _ = deliverer.finish().await;
    log::debug!("Input '{name}': closed");
}

/// How long a peer gets to finish sending after we announced shutdown.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Connections that can announce the end of our side (send FIN) and keep reading.
trait HalfClose {
    async fn half_close(&mut self);

    /// Bytes already received and decoded but not yet read (TLS plaintext), after the
    /// connection failed; 0 when there are none.
    fn take_buffered(&mut self, _buf: &mut [u8]) -> usize {
        0
    }
}

impl HalfClose for Async<std::net::TcpStream> {
    async fn half_close(&mut self) {
        let _ = self.get_ref().shutdown(std::net::Shutdown::Write);
    }
}

impl HalfClose for Async<std::os::unix::net::UnixStream> {
    async fn half_close(&mut self) {
        let _ = self.get_ref().shutdown(std::net::Shutdown::Write);
    }
}

/// TLS: close_notify, then FIN (futures-rustls closes the socket's writing side after
/// the alert); reading goes on.
impl<S: AsyncRead + AsyncWrite + Unpin> HalfClose for futures_rustls::server::TlsStream<S> {
    async fn half_close(&mut self) {
        let closed = async {
            let _ = self.close().await;
        };
        let expired = async {
            smol::Timer::after(SHUTDOWN_GRACE).await;
        };
        closed.or(expired).await;
    }

    fn take_buffered(&mut self, buf: &mut [u8]) -> usize {
        std::io::Read::read(&mut self.get_mut().1.reader(), buf).unwrap_or(0)
    }
}

/// Turns on TCP keep-alive; `period_secs` > 0 sets the idle time before the first probe
/// and the interval between probes (Heka's `keep_alive_period`; 0 keeps the OS default).
pub(crate) fn set_keep_alive<T: std::os::fd::AsRawFd>(socket: &T, period_secs: u64) {
    let set = |level: libc::c_int, name: libc::c_int, value: libc::c_int| {
        // SAFETY: setsockopt on a socket fd we own, with a pointer to a live c_int.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                &value as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    if period_secs > 0 {
        let period = period_secs.min(i32::MAX as u64) as libc::c_int;
        set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, period);
        set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, period);
    }
}
