//! Splitters (spec §2.3, §2.5, §2.6): find record boundaries in a stream of bytes. Below
//! the runtime (the disk queue reader splits its files with them) and the plugins.

pub mod buffer;
pub mod heka_framing;
pub mod null;
pub mod pattern_grouping;
pub mod regex;
pub mod token;

use crate::config::{ConfigError, PluginSection, SectionErrors};
use serde::Deserialize;
use std::ops::Range;

/// Finds records in the unconsumed window of a stream buffer.
pub trait Splitter: Send {
    /// Looks for the next record at the start of `window`. Returns how many bytes are
    /// consumed (garbage skipped plus the record) and the record's range inside `window`,
    /// or `None` when more data is needed (`consumed` may still be > 0 to drop garbage).
    fn find_record(&mut self, window: &[u8]) -> (usize, Option<Range<usize>>);

    /// Turns a found record into message bytes. Heka framing strips the header and checks
    /// the signature here (§2.4); other splitters hand the record through.
    fn unframe<'r>(&mut self, record: &'r [u8]) -> Unframed<'r> {
        Unframed::Message {
            bytes: record,
            signer: None,
        }
    }

    /// Where a record whose message did not decode may hold the start of the next one:
    /// the offset of a frame start inside `record` after its own header, if any. A
    /// truncated frame's declared length swallows the frames after it; the stream is read
    /// again from there, so only the damaged frame is lost. Only framing splitters know.
    fn resync(&self, _record: &[u8]) -> Option<usize> {
        None
    }

    /// True when records are encoded messages (ProtobufDecoder input) rather than text
    /// that becomes a new message's payload.
    fn use_message_bytes(&self) -> bool {
        false
    }
}

/// Result of [`Splitter::unframe`].
#[derive(Debug, PartialEq, Eq)]
pub enum Unframed<'r> {
    /// The bytes to deliver, and the signer that authenticated them.
    Message {
        bytes: &'r [u8],
        signer: Option<&'r str>,
    },
    /// Failed authentication: dropped (and counted by the caller).
    Rejected { reason: &'static str },
}

/// Keys every splitter accepts (§4.5).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CommonSplitterConfig {
    pub keep_truncated: bool,
    pub use_message_bytes: Option<bool>,
    pub min_buffer_size: Option<usize>,
    pub deliver_incomplete_final: bool,
}

impl CommonSplitterConfig {
    pub const KEYS: &'static [&'static str] = &[
        "keep_truncated",
        "use_message_bytes",
        "min_buffer_size",
        "deliver_incomplete_final",
    ];

    pub fn from_section(section: &PluginSection) -> Result<Self, Vec<ConfigError>> {
        crate::config::common::decode_common(section, Self::KEYS)
    }

    /// The initial buffer size: configured, else 64 KiB for NullSplitter, 8 KiB otherwise.
    pub fn min_buffer_size(&self, section: &PluginSection) -> usize {
        let default = if section.type_name == "NullSplitter" {
            65536
        } else {
            8192
        };
        self.min_buffer_size.unwrap_or(default)
    }

    /// Validates the common keys against the record size limit.
    pub fn check(
        &self,
        section: &PluginSection,
        max_record_size: usize,
    ) -> Result<(), Vec<ConfigError>> {
        match self.min_buffer_size {
            Some(n) if n > max_record_size => Err(vec![ConfigError::in_section(
                section,
                Some("min_buffer_size"),
                format!("expected at most {max_record_size} (the largest record), got {n}"),
            )]),
            _ => Ok(()),
        }
    }
}

/// Decodes a splitter's own config plus the common keys; shared by every splitter. The
/// errors of the common keys are recorded in the [`SectionErrors`] it returns, for the
/// splitter to add its own checks to (an own config that does not decode ends it).
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<(T, CommonSplitterConfig, SectionErrors<'_>), Vec<ConfigError>> {
    let mut errors = SectionErrors::new(section);
    let common = errors.merge(CommonSplitterConfig::from_section(section));
    if let Some(common) = &common {
        let max_record_size = crate::framing::max_record_size(max_message_size);
        errors.merge(common.check(section, max_record_size));
    }
    match crate::config::section::decode(section, CommonSplitterConfig::KEYS) {
        Ok(own) => Ok((own, common.unwrap_or_default(), errors)),
        Err(own) => {
            errors.merge::<()>(Err(own));
            Err(errors.fail("type", "not decoded"))
        }
    }
}
