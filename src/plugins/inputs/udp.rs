//! UdpInput (§5.1): a datagram listener (udp or unixgram). Each datagram is fed to the
//! stream's splitter (NullSplitter by default: one message per datagram).

use super::{Decorator, Deliverer, Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::Async;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct UdpInputConfig {
    address: String,
    net: String,
    set_hostname: bool,
}

impl Default for UdpInputConfig {
    fn default() -> Self {
        UdpInputConfig {
            address: String::new(),
            net: "udp".into(),
            set_hostname: false,
        }
    }
}

enum Socket {
    Udp(UdpSocket),
    /// The path is removed at exit (none for abstract names and inherited sockets).
    Unix(UnixDatagram, Option<PathBuf>),
}

/// The UdpInput plugin.
pub struct UdpInput {
    socket: Socket,
    set_hostname: bool,
}

/// Largest datagram accepted.
const MAX_DATAGRAM: usize = 65536;

/// Builds a UdpInput and binds its socket.
pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    dry_run: bool,
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let config: UdpInputConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let net = errors.one_of("net", &config.net, NETS, false);
    let what = "a host:port, a path, an @abstract name or fd:<n>";
    let set = errors.required("address", !config.address.is_empty(), what);
    let (Some(net), true) = (net, set) else {
        return Err(errors.fail("address", "not checked"));
    };
    if dry_run {
        errors.check("address", super::check_listen_address(net, &config.address));
        return errors.finish(|| Box::new(super::CheckedOnly) as Box<dyn Input>);
    }
    let socket = bind(&config).map_err(|e| super::listen_failed(&config.address, e));
    let Some(socket) = errors.check("address", socket) else {
        return Err(errors.fail("address", "not bound"));
    };
    errors.finish(|| {
        Box::new(UdpInput {
            socket,
            set_hostname: config.set_hostname,
        }) as Box<dyn Input>
    })
}

/// The networks `net` takes.
const NETS: &[&str] = &["udp", "udp4", "udp6", "unixgram"];

/// Binds the socket: `ip:port` (udp), a path or `@abstract` name (unixgram), or `fd:<n>`
/// for a socket inherited from the parent process (systemd socket activation).
fn bind(config: &UdpInputConfig) -> std::io::Result<Socket> {
    use std::os::fd::FromRawFd;
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, msg);
    if let Some(fd) = config.address.strip_prefix("fd:") {
        let fd: i32 = fd
            .parse()
            .map_err(|_| invalid(format!("bad file descriptor {fd:?}")))?;
        // SAFETY: the operator hands hekad this open socket (Heka's `fd:<n>` address); we
        // take ownership of it once, here.
        return Ok(match config.net.as_str() {
            "unixgram" => Socket::Unix(unsafe { UnixDatagram::from_raw_fd(fd) }, None),
            _ => Socket::Udp(unsafe { UdpSocket::from_raw_fd(fd) }),
        });
    }
    match config.net.as_str() {
        "unixgram" => match config.address.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                UnixDatagram::bind_addr(&addr).map(|s| Socket::Unix(s, None))
            }
            None => {
                use std::os::unix::fs::PermissionsExt;
                let path = PathBuf::from(&config.address);
                let _ = std::fs::remove_file(&path);
                let socket = UnixDatagram::bind(&path)?;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
                Ok(Socket::Unix(socket, Some(path)))
            }
        },
        _ => UdpSocket::bind(&config.address).map(Socket::Udp),
    }
}

impl Input for UdpInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let decorator = Decorator {
                r#type: Some(ctx.shared.input_name.clone()),
                hostname: None,
                logger: None,
                severity: None,
                env_version: None,
                pid: None,
                fields: Vec::new(),
            };
            let mut deliverer = Deliverer::new(&ctx.shared, None, decorator)?;
            let mut datagram = vec![0u8; MAX_DATAGRAM];
            let (udp, unix) = match self.socket {
                Socket::Udp(s) => (Some(Async::new(s).map_err(|e| e.to_string())?), None),
                Socket::Unix(s, path) => (
                    None,
                    Some((Async::new(s).map_err(|e| e.to_string())?, path)),
                ),
            };
            loop {
                let received = async {
                    Some(match (&udp, &unix) {
                        (Some(s), _) => s
                            .recv_from(&mut datagram)
                            .await
                            .map(|(n, peer)| (n, Some(peer))),
                        (_, Some((s, _))) => s.recv(&mut datagram).await.map(|n| (n, None)),
                        _ => Ok((0, None)),
                    })
                };
                let stopped = async {
                    ctx.control.stopped().await;
                    None
                };
                let (n, peer) = match received.or(stopped).await {
                    None => break,
                    Some(Ok(got)) => got,
                    Some(Err(e)) => return Err(format!("receive: {e}")),
                };
                if self.set_hostname {
                    deliverer.set_hostname(peer.map(|p| p.ip().to_string()));
                }
                if deliverer.push(&datagram[..n]).await.is_err() {
                    break;
                }
            }
            if let Some((_, Some(path))) = unix {
                let _ = std::fs::remove_file(path);
            }
            Ok(())
        })
    }
}
