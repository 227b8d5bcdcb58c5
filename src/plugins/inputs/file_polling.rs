//! FilePollingInput (§5.1): reads the whole of `file_path` every `ticker_interval`
//! (default 5 s) through the splitter (NullSplitter by default: the file is one message)
//! and its decoder, e.g. `/proc/loadavg` into the stock `linux_loadavg` decoder.
//!
//! Messages: Type `heka.file.polling`, Hostname hekad's, Fields `TickerInterval` (INTEGER)
//! and `FilePath`, as Heka's. The end of the file ends its last record each time. A file
//! that cannot be read is logged and tried again at the next tick.

use super::{Decorator, Deliverer, Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::writer::Values;
use crate::message::MessageWriter;
use crate::pipeline::ticker::Polling;
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::io::Read;
use std::time::Duration;

const DEFAULT_TICKER_SECONDS: u64 = 5;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FilePollingConfig {
    file_path: String,
}

/// The FilePollingInput plugin.
pub struct FilePollingInput {
    path: String,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let c: FilePollingConfig = section::decode(section, common_keys)?;
    let mut errors = SectionErrors::new(section);
    if errors.required("file_path", !c.file_path.is_empty(), "a file to read") {
        let path = std::path::Path::new(&c.file_path);
        if path.exists() {
            errors.check("file_path", crate::preflight::readable(path));
        } else {
            log::warn!(
                "[{}] file_path {} does not exist (yet): each poll fails until it does",
                section.name,
                c.file_path
            );
        }
    }
    errors.finish(|| Box::new(FilePollingInput { path: c.file_path }) as Box<dyn Input>)
}

impl Input for FilePollingInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let every = ctx
                .ticker
                .unwrap_or(Duration::from_secs(DEFAULT_TICKER_SECONDS));
            let mut fields = Vec::new();
            MessageWriter::new(&mut fields)
                .field(
                    b"TickerInterval",
                    b"",
                    Values::Integer(&[every.as_secs() as i64]),
                )
                .field(b"FilePath", b"", Values::String(&[self.path.as_bytes()]));
            let decorator = Decorator {
                r#type: Some("heka.file.polling".into()),
                hostname: Some(ctx.globals.hostname.clone()),
                logger: None,
                severity: None,
                env_version: None,
                pid: None,
                fields,
            };
            let mut deliverer = Deliverer::new(&ctx.shared, None, decorator)?;
            let mut polling = Polling::new(every);
            while polling.tick(&ctx.control).await {
                if self.poll(&ctx, &mut deliverer).await.is_err() {
                    break;
                }
            }
            Ok(())
        })
    }
}

impl FilePollingInput {
    /// Reads the file to its end through the deliverer; Err when the router is gone.
    async fn poll(
        &self,
        ctx: &InputContext,
        deliverer: &mut Deliverer,
    ) -> Result<(), super::RouterClosed> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) => {
                log::error!(
                    "Input '{}' error: opening file {}: {e}",
                    ctx.shared.input_name,
                    self.path
                );
                return Ok(());
            }
        };
        // Read whole before splitting: /proc files come a page per read, and a
        // NullSplitter makes each push one record.
        let mut content = Vec::new();
        let limit = ctx.shared.max_record_size as u64;
        if let Err(e) = file.by_ref().take(limit).read_to_end(&mut content) {
            log::error!(
                "Input '{}' error: reading file {}: {e}",
                ctx.shared.input_name,
                self.path
            );
        }
        deliverer.push(&content).await?;
        deliverer.flush_incomplete().await
    }
}
