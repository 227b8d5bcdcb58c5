//! CarbonOutput (§5.6): writes the graphite lines of `heka.statmetric` payloads to a
//! carbon daemon (plaintext protocol) over TCP or UDP.
//!
//! Each payload line must be `name value timestamp` (a float value, an unsigned 32-bit
//! timestamp, as Heka checks); a malformed line is logged, counted and left out, the
//! others are sent. Over TCP the connection, reconnects and delivery are TcpOutput's:
//! with `use_buffering = true` the lines go through the disk queue and each message
//! counts as delivered once carbon's TCP stack acknowledged it (at-least-once across
//! restarts). The connection is kept open: Heka's `tcp_keep_alive = false` reconnected
//! for every message, which carbon does not need, so the key only turns on TCP
//! keep-alive probes. Over UDP the lines are sent in datagrams of at most 62 KiB,
//! split between lines, as Heka did.

use super::tcp::TcpOutput;
use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::MessageView;
use crate::pipeline::stats::PluginStats;
use crate::plugins::encoders::{EncodeError, Encoded, Encoder};
use serde::Deserialize;
use smol::future::BoxedLocal;
use smol::Async;
use std::net::UdpSocket;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct CarbonConfig {
    address: String,
    protocol: String,
    tcp_keep_alive: bool,
}

impl Default for CarbonConfig {
    fn default() -> Self {
        CarbonConfig {
            address: "localhost:2003".into(),
            protocol: "tcp".into(),
            tcp_keep_alive: false,
        }
    }
}

/// Heka's split size for UDP datagrams.
const DATAGRAM_BYTES: usize = 63_488;

/// The CarbonOutput plugin.
pub enum CarbonOutput {
    Tcp(TcpOutput),
    Udp(UdpSocket),
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    dry_run: bool,
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: CarbonConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let protocol = match c.protocol.as_str() {
        "" => Some("tcp"),
        other => errors.one_of("protocol", other, &["tcp", "udp"], false),
    };
    let set = errors.required("address", !c.address.is_empty(), "a host:port");
    let (Some(protocol), true) = (protocol, set) else {
        return Err(errors.fail("address", "not checked"));
    };
    let output = match protocol {
        "udp" if dry_run => {
            errors.check("address", crate::preflight::socket_address(&c.address));
            return errors.finish(|| Box::new(super::CheckedOnly) as Box<dyn Output>);
        }
        "udp" => {
            let socket = UdpSocket::bind("0.0.0.0:0")
                .and_then(|s| s.connect(&c.address).map(|()| s))
                .map_err(|e| format!("cannot send to {}: {e}", c.address));
            let Some(socket) = errors.check("address", socket) else {
                return Err(errors.fail("address", "not connected"));
            };
            CarbonOutput::Udp(socket)
        }
        _ => CarbonOutput::Tcp(TcpOutput::new(c.address, c.tcp_keep_alive.then_some(0))),
    };
    errors.finish(|| Box::new(output) as Box<dyn Output>)
}

impl Output for CarbonOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        ctx.encoder = Some(Box::new(CarbonLines {
            output: ctx.name.clone(),
            stats: ctx.stats.clone(),
        }));
        ctx.use_framing = false;
        match *self {
            CarbonOutput::Tcp(tcp) => Box::new(tcp).run(ctx),
            CarbonOutput::Udp(socket) => Box::pin(send_datagrams(socket, ctx)),
        }
    }
}

async fn send_datagrams(socket: UdpSocket, mut ctx: OutputContext) -> Result<(), String> {
    let socket = Async::new(socket).map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    while let Ok(pack) = ctx.queue.recv().await {
        lines.clear();
        if !ctx.encode_into(&pack, &mut lines) {
            continue;
        }
        let mut rest = &lines[..];
        while !rest.is_empty() {
            let cut = match rest.len() <= DATAGRAM_BYTES {
                true => rest.len(),
                false => {
                    memchr::memrchr(b'\n', &rest[..DATAGRAM_BYTES]).map_or(rest.len(), |i| i + 1)
                }
            };
            if let Err(e) = socket.send(&rest[..cut]).await {
                PluginStats::add(&ctx.stats.drop_count, 1);
                log::warn!("Plugin '{}': write to server failed: {e}", ctx.name);
            }
            rest = &rest[cut..];
        }
        PluginStats::add(&ctx.stats.process_count, 1);
    }
    Ok(())
}

/// The payload's valid graphite lines, each ending in a newline.
struct CarbonLines {
    output: String,
    /// Malformed lines count as ProcessMessageFailures.
    stats: std::sync::Arc<PluginStats>,
}

impl Encoder for CarbonLines {
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError> {
        let start = out.len();
        let payload = msg.payload();
        for line in payload.split(|&b| b == b'\n') {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            match check_line(line) {
                Ok(()) => {
                    out.extend_from_slice(line);
                    out.push(b'\n');
                }
                Err(why) => {
                    PluginStats::add(&self.stats.process_failures, 1);
                    log::error!(
                        "Plugin '{}' error: {why}: '{}'",
                        self.output,
                        crate::diagnostics::escaped_prefix(line)
                    )
                }
            }
        }
        Ok(if out.len() > start {
            Encoded::Emit
        } else {
            Encoded::Skip
        })
    }
}

/// Heka's checks of one statmetric line.
fn check_line(line: &[u8]) -> Result<(), &'static str> {
    let text = std::str::from_utf8(line).map_err(|_| "malformed statmetric line")?;
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    let [_, value, time] = fields[..] else {
        return Err("malformed statmetric line");
    };
    time.parse::<u32>().map_err(|_| "parsing time")?;
    value.parse::<f64>().map_err(|_| "parsing value")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_checked_as_heka_does() {
        assert_eq!(check_line(b"stats.a.count 3 1700000000"), Ok(()));
        assert_eq!(check_line(b"stats.a.rate 0.300000 1700000000"), Ok(()));
        assert!(check_line(b"stats.a 3").is_err());
        assert!(check_line(b"stats.a x 1700000000").is_err());
        assert!(check_line(b"stats.a 3 -1").is_err());
        assert!(check_line(b"a b 3 1700000000").is_err());
    }
}
