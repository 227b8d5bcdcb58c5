//! NullSplitter: everything available is one record (datagram inputs).

use super::{decode, Splitter};
use crate::config::{ConfigError, PluginSection};
use serde::Deserialize;
use std::ops::Range;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NullConfig {}

/// The NullSplitter.
pub struct NullSplitter {
    message_bytes: bool,
}

pub fn from_section(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<Box<dyn Splitter>, Vec<ConfigError>> {
    let (_, common, errors): (NullConfig, _, _) = decode(section, max_message_size)?;
    errors.finish(|| {
        Box::new(NullSplitter {
            message_bytes: common.use_message_bytes.unwrap_or(false),
        }) as Box<dyn Splitter>
    })
}

impl Splitter for NullSplitter {
    fn find_record(&mut self, window: &[u8]) -> (usize, Option<Range<usize>>) {
        (window.len(), Some(0..window.len()))
    }

    fn use_message_bytes(&self) -> bool {
        self.message_bytes
    }
}
