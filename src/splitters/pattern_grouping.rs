//! PatternGroupingSplitter: groups consecutive lines that match `grouping` (at most
//! `max_lines`) into one record; a first line that does not match is a record alone.
//! Delimiters are kept.

use super::{decode, Splitter};
use crate::config::{ConfigError, PluginSection};
use regex::bytes::Regex;
use serde::Deserialize;
use std::ops::Range;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct GroupingConfig {
    delimiter: String,
    grouping: String,
    max_lines: usize,
}

impl Default for GroupingConfig {
    fn default() -> Self {
        GroupingConfig {
            delimiter: "\n".into(),
            grouping: String::new(),
            max_lines: 99,
        }
    }
}

/// The PatternGroupingSplitter.
pub struct PatternGroupingSplitter {
    delimiter: Regex,
    grouping: Regex,
    max_lines: usize,
    message_bytes: bool,
}

pub fn from_section(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<Box<dyn Splitter>, Vec<ConfigError>> {
    let (c, common, mut errors): (GroupingConfig, _, _) = decode(section, max_message_size)?;
    let mut compile = |key: &str, text: &str| {
        let regex = Regex::new(text)
            .map_err(|e| format!("expected a regular expression, got {text:?}: {e}"));
        errors.check(key, regex)
    };
    let delimiter = compile("delimiter", &c.delimiter);
    let grouping = compile("grouping", &c.grouping);
    let (Some(delimiter), Some(grouping)) = (delimiter, grouping) else {
        return Err(errors.fail("delimiter", "not checked"));
    };
    errors.finish(|| {
        Box::new(PatternGroupingSplitter {
            delimiter,
            grouping,
            max_lines: c.max_lines.max(1),
            message_bytes: common.use_message_bytes.unwrap_or(false),
        }) as Box<dyn Splitter>
    })
}

impl Splitter for PatternGroupingSplitter {
    fn find_record(&mut self, window: &[u8]) -> (usize, Option<Range<usize>>) {
        let mut ends = self
            .delimiter
            .find_iter(window)
            .map(|m| m.end())
            .take(self.max_lines);
        let Some(first) = ends.next() else {
            return (0, None);
        };
        if !self.grouping.is_match(&window[..first]) {
            return (first, Some(0..first));
        }
        let mut end = first;
        for next in ends {
            if !self.grouping.is_match(&window[end..next]) {
                break;
            }
            end = next;
        }
        (end, Some(0..end))
    }

    fn use_message_bytes(&self) -> bool {
        self.message_bytes
    }
}
