//! TokenSplitter: a record ends after the `count`-th `delimiter` byte (kept).

use super::{decode, Splitter};
use crate::config::{ConfigError, PluginSection};
use serde::Deserialize;
use std::ops::Range;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct TokenConfig {
    delimiter: String,
    count: usize,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            delimiter: "\n".into(),
            count: 1,
        }
    }
}

/// The TokenSplitter.
pub struct TokenSplitter {
    delimiter: u8,
    count: usize,
    message_bytes: bool,
}

impl TokenSplitter {
    /// A splitter on `delimiter`, every `count` occurrences (0 is 1).
    pub fn new(delimiter: u8, count: usize) -> TokenSplitter {
        TokenSplitter {
            delimiter,
            count: count.max(1),
            message_bytes: false,
        }
    }
}

pub fn from_section(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<Box<dyn Splitter>, Vec<ConfigError>> {
    let (c, common, mut errors): (TokenConfig, _, _) = decode(section, max_message_size)?;
    let [delimiter] = c.delimiter.as_bytes() else {
        let given = &c.delimiter;
        errors.add(
            "delimiter",
            format!("expected a single character, got {given:?}"),
        );
        return Err(errors.fail("delimiter", "not checked"));
    };
    let mut splitter = TokenSplitter::new(*delimiter, c.count);
    splitter.message_bytes = common.use_message_bytes.unwrap_or(false);
    errors.finish(|| Box::new(splitter) as Box<dyn Splitter>)
}

impl Splitter for TokenSplitter {
    fn find_record(&mut self, window: &[u8]) -> (usize, Option<Range<usize>>) {
        match memchr::memchr_iter(self.delimiter, window).nth(self.count - 1) {
            Some(i) => (i + 1, Some(0..i + 1)),
            None => (0, None),
        }
    }

    fn use_message_bytes(&self) -> bool {
        self.message_bytes
    }
}
