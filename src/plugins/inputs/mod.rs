//! Inputs (spec §5.1): bring bytes in from the outside and hand them to a [`Deliverer`].

pub mod amqp;
pub mod deliver;
pub mod file_polling;
pub mod http;
pub mod http_listen;
pub mod logstreamer;
pub mod process;
pub mod process_directory;
pub mod sandbox;
pub mod stat_accum;
pub mod statsd;
pub mod system_stats;
pub mod tcp;
pub mod udp;

pub use deliver::{Decorator, Deliverer, InputShared, RouterClosed};

use crate::pipeline::inject::Injector;
use crate::pipeline::shutdown::Control;
use smol::future::BoxedLocal;

/// What a running input gets from the pipeline.
pub struct InputContext {
    pub shared: InputShared,
    pub control: Control,
    /// `[hekad]` settings some inputs need (base_dir, hostname, fsync_interval).
    pub globals: std::sync::Arc<crate::config::globals::Globals>,
    /// For inputs that build whole messages themselves (SandboxInput): injects them from
    /// the input pool into the router.
    pub injector: Injector,
    /// `ticker_interval`; `None` when 0.
    pub ticker: Option<std::time::Duration>,
}

/// What an input's constructor returns instead of binding its socket when the pipeline
/// is only checked (`hekad -test`): it is never run.
pub struct CheckedOnly;

impl Input for CheckedOnly {
    fn run(self: Box<Self>, _ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async { Err("built to be checked only".to_owned()) })
    }
}

/// Checks a listening address without binding it (`hekad -test`): `host:port` for the
/// IP networks, not in use by another socket (as far as /proc/net tells), the directory
/// of a socket path for unix ones.
pub fn check_listen_address(net: &str, address: &str) -> Result<(), String> {
    match net {
        "unix" | "unixgram" if address.starts_with('@') => Ok(()),
        "unix" | "unixgram" => match std::path::Path::new(address).parent() {
            Some(dir) if !dir.as_os_str().is_empty() => crate::preflight::dir_creatable(dir),
            _ => Ok(()),
        },
        _ if address.starts_with("fd:") => Ok(()),
        _ => {
            crate::preflight::socket_address(address)?;
            crate::preflight::address_free(address, net.starts_with("tcp"))
        }
    }
}

/// The error of a socket that could not be bound at `address`, the same for every input
/// (and the one `hekad -test` gives for a port in use).
pub fn listen_failed(address: &str, e: std::io::Error) -> String {
    format!("cannot listen on {address}: {e}")
}

/// A configured input. Sockets are bound when the input is built (so a bad address is a
/// start-up error); `run` serves until shutdown and returns an error only for failures
/// worth a restart (§4.7).
pub trait Input: Send {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>>;
}

/// Accepts TCP connections until hekad stops, serving each in a task of its own made by
/// `serve`, then waits for those tasks (StatsdInput over TCP, HttpListenInput; TcpInput
/// has its own, which drains the backlog for at-least-once delivery).
pub async fn accept_until_stopped<F>(
    input: &str,
    listener: std::net::TcpListener,
    control: &Control,
    mut serve: impl FnMut(smol::Async<std::net::TcpStream>, std::net::SocketAddr) -> F,
) -> Result<(), String>
where
    F: std::future::Future<Output = ()> + 'static,
{
    use smol::future::FutureExt;
    let listener = smol::Async::new(listener).map_err(|e| e.to_string())?;
    let mut connections: Vec<smol::Task<()>> = Vec::new();
    loop {
        let accepted = async { Some(listener.accept().await) };
        let stopped = async {
            control.stopped().await;
            None
        };
        match accepted.or(stopped).await {
            None => break,
            Some(Ok((stream, peer))) => {
                log::debug!("Input '{input}': accepted a connection from {peer}");
                connections.retain(|t| !t.is_finished());
                let served = serve(stream, peer);
                let input = input.to_owned();
                connections.push(crate::pipeline::executors::spawn_local(async move {
                    served.await;
                    log::debug!("Input '{input}': closed the connection from {peer}");
                }));
            }
            Some(Err(e)) => log::error!("Input '{input}' error: accept: {e}"),
        }
    }
    for connection in connections {
        connection.await;
    }
    Ok(())
}
