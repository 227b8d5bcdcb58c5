//! PayloadEncoder (§5.5): the payload, optionally with a strftime timestamp prefix and a
//! newline appended.

use super::{EncodeError, Encoded, Encoder};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::MessageView;
use serde::Deserialize;
use std::io::Write;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct PayloadEncoderConfig {
    append_newlines: bool,
    prefix_ts: bool,
    ts_from_message: bool,
    ts_format: String,
}

impl Default for PayloadEncoderConfig {
    fn default() -> Self {
        PayloadEncoderConfig {
            append_newlines: true,
            prefix_ts: false,
            ts_from_message: true,
            ts_format: "[%Y/%b/%d:%H:%M:%S %z]".into(),
        }
    }
}

/// The PayloadEncoder.
pub struct PayloadEncoder {
    append_newlines: bool,
    prefix_ts: bool,
    ts_from_message: bool,
    ts_format: String,
}

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Encoder>, Vec<ConfigError>> {
    let c: PayloadEncoderConfig = section::decode(section, &[])?;
    let mut ts_format = c.ts_format;
    if !ts_format.ends_with(' ') {
        ts_format.push(' ');
    }
    let mut errors = SectionErrors::new(section);
    if c.prefix_ts {
        let probe = jiff::Timestamp::UNIX_EPOCH.to_zoned(jiff::tz::TimeZone::UTC);
        let mut sink = Vec::new();
        if write!(sink, "{}", probe.strftime(&ts_format)).is_err() {
            let given = ts_format.trim_end_matches(' ');
            errors.add(
                "ts_format",
                format!("expected a strftime format, got {given:?}"),
            );
        }
    }
    errors.finish(|| {
        Box::new(PayloadEncoder {
            append_newlines: c.append_newlines,
            prefix_ts: c.prefix_ts,
            ts_from_message: c.ts_from_message,
            ts_format,
        }) as Box<dyn Encoder>
    })
}

impl Encoder for PayloadEncoder {
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError> {
        if self.prefix_ts {
            let ts = if self.ts_from_message {
                jiff::Timestamp::from_nanosecond(i128::from(msg.timestamp()))
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            } else {
                jiff::Timestamp::now()
            };
            let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
            write!(out, "{}", zoned.strftime(&self.ts_format))
                .map_err(|e| EncodeError(e.to_string()))?;
        }
        out.extend_from_slice(msg.payload());
        if self.append_newlines {
            out.push(b'\n');
        }
        Ok(Encoded::Emit)
    }
}
