//! LogOutput (§5.6): writes each encoded message to stdout, one per line. hekad's own
//! diagnostics go to stderr, so stdout carries only this output's data.

use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection};
use crate::pipeline::stats::PluginStats;
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::io::Write;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LogOutputConfig {}

/// The LogOutput plugin.
pub struct LogOutput;

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let _: LogOutputConfig = section::decode(section, common_keys)?;
    Ok(Box::new(LogOutput))
}

impl Output for LogOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut line = Vec::new();
            while let Ok(pack) = ctx.queue.recv().await {
                line.clear();
                if !ctx.encode_into(&pack, &mut line) {
                    continue;
                }
                if line.last() != Some(&b'\n') {
                    line.push(b'\n');
                }
                let mut stdout = std::io::stdout().lock();
                if let Err(e) = stdout.write_all(&line).and_then(|()| stdout.flush()) {
                    PluginStats::add(&ctx.stats.drop_count, 1);
                    log::error!("Plugin '{}' error: stdout: {e}", ctx.name);
                    continue;
                }
                PluginStats::add(&ctx.stats.process_count, 1);
            }
            Ok(())
        })
    }
}
