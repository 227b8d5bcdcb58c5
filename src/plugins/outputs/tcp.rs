//! TcpOutput (§5.6): ships encoded (by default framed protobuf) messages to a TCP peer,
//! typically another hekad's TcpInput. Connects lazily; on a connect or write failure it
//! closes, backs off (250 ms doubling to 30 s, with jitter) and resends the same batch, so
//! delivery is at-least-once while hekad runs. Disk buffering (`use_buffering`) is the
//! next milestone; until then the queue is in memory and bounded by `plugin_chansize`.

use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection};
use crate::pipeline::stats::PluginStats;
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::io::AsyncWriteExt;
use smol::net::TcpStream;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct TcpOutputConfig {
    address: String,
    local_address: String,
    use_tls: bool,
    keep_alive: bool,
    keep_alive_period: u64,
    reconnect_after: u64,
}

impl Default for TcpOutputConfig {
    fn default() -> Self {
        TcpOutputConfig {
            address: "localhost:9125".into(),
            local_address: String::new(),
            use_tls: false,
            keep_alive: false,
            keep_alive_period: 0,
            reconnect_after: 0,
        }
    }
}

/// The TcpOutput plugin.
pub struct TcpOutput {
    address: String,
    keep_alive: bool,
    reconnect_after: u64,
}

/// Bytes gathered from the queue into one write.
const BATCH_BYTES: usize = 64 * 1024;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: TcpOutputConfig = section::decode(section, common_keys)?;
    let err = |key: &str, msg: &str| vec![ConfigError::in_section(section, Some(key), msg)];
    if c.use_tls {
        return Err(err("use_tls", "TLS is not supported yet"));
    }
    if !c.local_address.is_empty() {
        return Err(err("local_address", "local_address is not supported yet"));
    }
    let _ = c.keep_alive_period;
    Ok(Box::new(TcpOutput {
        address: c.address,
        keep_alive: c.keep_alive,
        reconnect_after: c.reconnect_after,
    }))
}

impl TcpOutput {
    /// Writes `batch`, reconnecting and retrying until it is written. Gives up only once
    /// shutdown has begun and the peer is unreachable; returns false then.
    async fn send(&self, ctx: &OutputContext, conn: &mut Option<TcpStream>, batch: &[u8]) -> bool {
        let mut backoff = FIRST_BACKOFF;
        loop {
            if conn.is_none() {
                match TcpStream::connect(self.address.as_str()).await {
                    Ok(stream) => {
                        if self.keep_alive {
                            crate::plugins::inputs::tcp::enable_keep_alive(&stream);
                        }
                        let _ = stream.set_nodelay(true);
                        *conn = Some(stream);
                    }
                    Err(e) => log::warn!(
                        "Plugin '{}': cannot connect to {}: {e}",
                        ctx.name,
                        self.address
                    ),
                }
            }
            if let Some(stream) = conn.as_mut() {
                match stream.write_all(batch).await {
                    Ok(()) => return true,
                    Err(e) => {
                        log::warn!(
                            "Plugin '{}': write to {} failed: {e}; reconnecting",
                            ctx.name,
                            self.address
                        );
                        *conn = None;
                    }
                }
            }
            if ctx.control.is_stopping() && ctx.queue.is_closed() {
                return false;
            }
            let jitter = Duration::from_millis(fastrand::u64(0..250));
            let slept = async {
                smol::Timer::after(backoff + jitter).await;
            };
            slept.or(async { ctx.control.stopped().await }).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

impl Output for TcpOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut conn: Option<TcpStream> = None;
            let mut batch = Vec::with_capacity(BATCH_BYTES);
            let mut since_connect = 0u64;
            while let Ok(first) = ctx.queue.recv().await {
                batch.clear();
                let mut count = u64::from(ctx.encode_into(&first, &mut batch));
                drop(first);
                while batch.len() < BATCH_BYTES {
                    let Ok(next) = ctx.queue.try_recv() else {
                        break;
                    };
                    count += u64::from(ctx.encode_into(&next, &mut batch));
                }
                if batch.is_empty() {
                    continue;
                }
                if !self.send(&ctx, &mut conn, &batch).await {
                    let lost = count + ctx.queue.len() as u64;
                    PluginStats::add(&ctx.stats.drop_count, lost);
                    log::error!(
                        "Plugin '{}': shutting down with {} unreachable; {lost} messages not delivered",
                        ctx.name,
                        self.address
                    );
                    return Ok(());
                }
                PluginStats::add(&ctx.stats.process_count, count);
                since_connect += count;
                if self.reconnect_after > 0 && since_connect >= self.reconnect_after {
                    conn = None;
                    since_connect = 0;
                }
            }
            if let Some(mut stream) = conn {
                let _ = stream.flush().await;
            }
            Ok(())
        })
    }
}
