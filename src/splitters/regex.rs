//! RegexSplitter: records end at a regex delimiter. Without a capture group the delimiter
//! is dropped; with one, the captured text ends the record (`delimiter_eol = true`) or
//! starts the next one (`delimiter_eol = false`).

use super::{decode, Splitter};
use crate::config::{ConfigError, PluginSection};
use regex::bytes::Regex;
use serde::Deserialize;
use std::ops::Range;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct RegexConfig {
    delimiter: String,
    delimiter_eol: bool,
}

impl Default for RegexConfig {
    fn default() -> Self {
        RegexConfig {
            delimiter: "\n".into(),
            delimiter_eol: true,
        }
    }
}

/// The RegexSplitter.
pub struct RegexSplitter {
    delimiter: Regex,
    has_capture: bool,
    eol: bool,
    /// Length of a captured delimiter left at the start of the window (eol = false).
    carry: usize,
    message_bytes: bool,
}

impl RegexSplitter {
    /// Builds the splitter; the error text is Heka's.
    pub fn new(delimiter: &str, eol: bool) -> Result<RegexSplitter, String> {
        let regex = Regex::new(delimiter)
            .map_err(|e| format!("expected a regular expression, got {delimiter:?}: {e}"))?;
        let groups = regex.captures_len() - 1;
        if groups > 1 {
            return Err(format!(
                "expected a regular expression with at most one capture group, got \
                 {delimiter:?} ({groups} groups)"
            ));
        }
        Ok(RegexSplitter {
            delimiter: regex,
            has_capture: groups == 1,
            eol,
            carry: 0,
            message_bytes: false,
        })
    }
}

pub fn from_section(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<Box<dyn Splitter>, Vec<ConfigError>> {
    let (c, common, mut errors): (RegexConfig, _, _) = decode(section, max_message_size)?;
    let Some(mut splitter) = errors.check(
        "delimiter",
        RegexSplitter::new(&c.delimiter, c.delimiter_eol),
    ) else {
        return Err(errors.fail("delimiter", "not checked"));
    };
    splitter.message_bytes = common.use_message_bytes.unwrap_or(false);
    errors.finish(|| Box::new(splitter) as Box<dyn Splitter>)
}

impl Splitter for RegexSplitter {
    fn find_record(&mut self, window: &[u8]) -> (usize, Option<Range<usize>>) {
        let from = self.carry.min(window.len());
        if !self.has_capture {
            return match self.delimiter.find_at(window, from) {
                Some(m) => (m.end(), Some(0..m.start())),
                None => (0, None),
            };
        }
        let Some(caps) = self.delimiter.captures_at(window, from) else {
            return (0, None);
        };
        let (Some(whole), Some(captured)) = (caps.get(0), caps.get(1)) else {
            return (0, None);
        };
        if self.eol {
            // The captured text stays at the end of the record.
            (whole.end(), Some(0..captured.end().max(whole.start())))
        } else {
            // The captured text begins the next record.
            self.carry = captured.len();
            (captured.start(), Some(0..whole.start()))
        }
    }

    fn use_message_bytes(&self) -> bool {
        self.message_bytes
    }
}
