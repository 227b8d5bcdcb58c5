//! PayloadRegexDecoder (§5.3): parses the payload with an RE2 regex of named captures;
//! `Timestamp` and `Severity` captures set those headers (`timestamp_layout`,
//! `severity_map`), `message_fields` templates set headers and add fields.
//! Steady state allocates nothing: capture locations and render buffers are reused.

use super::template::MessageFields;
use super::{DecodeError, Decoded, Decoder, MorePacks};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::diagnostics::escaped_prefix;
use crate::message::rewrite::{rewrite, Overrides};
use crate::pipeline::pack::Pack;
use crate::timefmt::{self, Layout, TimestampParser};
use regex::bytes::{CaptureLocations, Regex};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct PayloadRegexConfig {
    match_regex: String,
    severity_map: BTreeMap<String, i32>,
    message_fields: BTreeMap<String, String>,
    timestamp_layout: String,
    timestamp_location: String,
    log_errors: bool,
}

impl Default for PayloadRegexConfig {
    fn default() -> Self {
        PayloadRegexConfig {
            match_regex: String::new(),
            severity_map: BTreeMap::new(),
            message_fields: BTreeMap::new(),
            timestamp_layout: "2012-04-23T18:25:43.511Z".into(),
            timestamp_location: "UTC".into(),
            log_errors: true,
        }
    }
}

/// The PayloadRegexDecoder.
pub struct PayloadRegexDecoder {
    regex: Regex,
    locations: CaptureLocations,
    /// Capture name ⇒ group index.
    names: Vec<(String, usize)>,
    timestamp_group: Option<usize>,
    severity_group: Option<usize>,
    severity_map: BTreeMap<String, i32>,
    timestamp: TimestampParser,
    fields: MessageFields,
    log_errors: bool,
}

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let c: PayloadRegexConfig = section::decode(section, &[])?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let what = "a regular expression with named captures";
    let regex = match errors.required("match_regex", !c.match_regex.is_empty(), what) {
        true => errors.check(
            "match_regex",
            Regex::new(&c.match_regex).map_err(|e| {
                format!(
                    "expected a regular expression, got {:?}: {e}",
                    c.match_regex
                )
            }),
        ),
        false => None,
    };
    let layout = errors.check("timestamp_layout", Layout::new(&c.timestamp_layout));
    let zone = errors.check("timestamp_location", timefmt::zone(&c.timestamp_location));
    let (Some(regex), Some(layout), Some(zone)) = (regex, layout, zone) else {
        return Err(errors.fail("match_regex", "not checked"));
    };
    let names: Vec<(String, usize)> = regex
        .capture_names()
        .enumerate()
        .filter_map(|(i, n)| n.map(|n| (n.to_owned(), i)))
        .collect();
    let group = |name: &str| names.iter().find(|(n, _)| n == name).map(|(_, i)| *i);
    let fields = MessageFields::new(&c.message_fields, true);
    let decoder = PayloadRegexDecoder {
        locations: regex.capture_locations(),
        timestamp_group: group("Timestamp"),
        severity_group: group("Severity"),
        regex,
        names,
        severity_map: c.severity_map,
        timestamp: TimestampParser::new(layout, zone),
        fields,
        log_errors: c.log_errors,
    };
    errors.finish(|| Box::new(decoder) as Box<dyn Decoder>)
}

impl Decoder for PayloadRegexDecoder {
    fn decode(&mut self, pack: &mut Pack, _more: &mut MorePacks) -> Result<Decoded, DecodeError> {
        let view = pack.view();
        let payload = view.payload();
        if self
            .regex
            .captures_read(&mut self.locations, payload)
            .is_none()
        {
            if !self.log_errors {
                return Ok(Decoded::Drop);
            }
            return Err(DecodeError(format!(
                "No match: {}",
                escaped_prefix(payload)
            )));
        }
        let locations = &self.locations;
        let capture = |i: usize| locations.get(i).map(|(s, e)| &payload[s..e]);
        let mut set = Overrides::default();
        if let Some(text) = self.timestamp_group.and_then(capture) {
            let text = std::str::from_utf8(text)
                .map_err(|_| DecodeError("Timestamp capture is not UTF-8".into()))?;
            set.timestamp = Some(self.timestamp.parse(text).map_err(DecodeError)?);
        }
        if let Some(text) = self.severity_group.and_then(capture) {
            let text = String::from_utf8_lossy(text);
            set.severity = self
                .severity_map
                .get(text.as_ref())
                .copied()
                .or_else(|| text.trim().parse().ok());
        }
        let names = &self.names;
        self.fields.render(|name| {
            names
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, i)| capture(*i))
        });
        let mut added = Vec::new();
        let mut uuid = [0u8; 16];
        let timestamp = set.timestamp;
        let severity = set.severity;
        let mut set = Overrides::default();
        self.fields.apply(&mut set, &mut added, &mut uuid);
        set.timestamp = set.timestamp.or(timestamp);
        set.severity = set.severity.or(severity);
        let mut out = std::mem::take(&mut pack.scratch);
        let written = rewrite(&pack.view(), &set, &added, &mut out);
        pack.scratch = out;
        pack.commit_scratch(written)
            .map_err(|e| DecodeError(e.to_string()))?;
        Ok(Decoded::Keep)
    }
}
