//! UdpOutput (§5.6): one encoded message per datagram (udp or unixgram). Messages larger
//! than `max_message_size` (default 65507) are dropped and counted.

use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::stats::PluginStats;
use serde::Deserialize;
use smol::future::BoxedLocal;
use smol::Async;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct UdpOutputConfig {
    net: String,
    address: String,
    local_address: String,
    max_message_size: usize,
}

impl Default for UdpOutputConfig {
    fn default() -> Self {
        UdpOutputConfig {
            net: "udp".into(),
            address: String::new(),
            local_address: String::new(),
            max_message_size: 65507,
        }
    }
}

enum Socket {
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

/// The UdpOutput plugin.
pub struct UdpOutput {
    socket: Socket,
    max_message_size: usize,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    dry_run: bool,
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: UdpOutputConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let net = errors.one_of("net", &c.net, &["udp", "udp4", "udp6", "unixgram"], false);
    let set = errors.required("address", !c.address.is_empty(), "a host:port or a path");
    let (Some(net), true) = (net, set) else {
        return Err(errors.fail("address", "not checked"));
    };
    if dry_run {
        if net != "unixgram" {
            errors.check("address", crate::preflight::socket_address(&c.address));
        }
        return errors.finish(|| Box::new(super::CheckedOnly) as Box<dyn Output>);
    }
    let socket = match net {
        "unixgram" => UnixDatagram::unbound()
            .and_then(|s| s.connect(&c.address).map(|()| s))
            .map(Socket::Unix),
        _ => {
            let local = match (c.local_address.as_str(), net) {
                ("", "udp6") => "[::]:0",
                ("", _) => "0.0.0.0:0",
                (local, _) => local,
            };
            UdpSocket::bind(local)
                .and_then(|s| s.connect(&c.address).map(|()| s))
                .map(Socket::Udp)
        }
    }
    .map_err(|e| format!("cannot send to {}: {e}", c.address));
    let Some(socket) = errors.check("address", socket) else {
        return Err(errors.fail("address", "not connected"));
    };
    errors.finish(|| {
        Box::new(UdpOutput {
            socket,
            max_message_size: c.max_message_size,
        }) as Box<dyn Output>
    })
}

impl Output for UdpOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let (udp, unix) = match self.socket {
                Socket::Udp(s) => (Some(Async::new(s).map_err(|e| e.to_string())?), None),
                Socket::Unix(s) => (None, Some(Async::new(s).map_err(|e| e.to_string())?)),
            };
            let mut datagram = Vec::new();
            while let Ok(pack) = ctx.queue.recv().await {
                datagram.clear();
                if !ctx.encode_into(&pack, &mut datagram) {
                    continue;
                }
                if datagram.len() > self.max_message_size {
                    PluginStats::add(&ctx.stats.drop_count, 1);
                    log::error!(
                        "Plugin '{}': message of {} bytes exceeds max_message_size {}; dropped",
                        ctx.name,
                        datagram.len(),
                        self.max_message_size
                    );
                    continue;
                }
                let sent = match (&udp, &unix) {
                    (Some(s), _) => s.send(&datagram).await,
                    (_, Some(s)) => s.send(&datagram).await,
                    _ => Ok(0),
                };
                match sent {
                    Ok(_) => PluginStats::add(&ctx.stats.process_count, 1),
                    Err(e) => {
                        PluginStats::add(&ctx.stats.drop_count, 1);
                        log::warn!("Plugin '{}': send failed: {e}", ctx.name);
                    }
                }
            }
            Ok(())
        })
    }
}
