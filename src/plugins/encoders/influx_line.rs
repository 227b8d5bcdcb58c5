//! InfluxLineEncoder (hekad's own, not in Heka): a message as one line of InfluxDB line
//! protocol, so a router without Lua scripts can feed InfluxDB through HttpOutput
//! (`address = "http://host:8086/write?db=NAME"`). Heka did this with the
//! `schema_influx_line.lua` SandboxEncoder, which hekad ships too (one point per field).
//!
//! The line is Telegraf's shape, one point per message:
//! `measurement[,tag=value...] field=value[,field=value...] timestamp`.
//! - measurement: `measurement` (default: the message's Type);
//! - tags: `tag_fields`, header names (Hostname, Logger, Type, Severity, EnvVersion, Pid)
//!   or dynamic field names (first value), default `["Hostname"]`; empty values are left
//!   out, as InfluxDB requires;
//! - fields: every dynamic field not a tag nor in `skip_fields`: doubles as floats,
//!   integers with InfluxDB's `i`, booleans, strings quoted; a field of several values
//!   becomes `name_0`, `name_1`, ... (procstat's cpu columns); bytes fields are skipped;
//!   with `include_payload` the Payload as the string field `payload`;
//! - timestamp: the message's, in `timestamp_precision` (`ns` default, `us`, `ms`, `s`:
//!   the same as the `precision` of the write URL).
//!
//! A message with no field to write is skipped. Names and values are escaped as the line
//! protocol requires; NaN and infinite numbers are left out (InfluxDB refuses them).

use super::{EncodeError, Encoded, Encoder};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::{MessageView, Value};
use serde::Deserialize;
use std::io::Write;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct InfluxLineConfig {
    measurement: String,
    tag_fields: Vec<String>,
    skip_fields: Vec<String>,
    timestamp_precision: String,
    include_payload: bool,
}

impl Default for InfluxLineConfig {
    fn default() -> Self {
        InfluxLineConfig {
            measurement: String::new(),
            tag_fields: vec!["Hostname".into()],
            skip_fields: Vec::new(),
            timestamp_precision: "ns".into(),
            include_payload: false,
        }
    }
}

/// The InfluxLineEncoder.
pub struct InfluxLineEncoder {
    measurement: Option<Vec<u8>>,
    tags: Vec<Vec<u8>>,
    skip: Vec<Vec<u8>>,
    /// Nanoseconds per unit of the timestamp written.
    divisor: i64,
    include_payload: bool,
}

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Encoder>, Vec<ConfigError>> {
    let c: InfluxLineConfig = section::decode(section, &[])?;
    let mut errors = SectionErrors::new(section);
    let divisor = match c.timestamp_precision.as_str() {
        "ns" | "n" => 1,
        "us" | "u" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        other => {
            errors.one_of(
                "timestamp_precision",
                other,
                &["ns", "us", "ms", "s"],
                false,
            );
            1
        }
    };
    let mut tags: Vec<Vec<u8>> = c.tag_fields.into_iter().map(String::into_bytes).collect();
    tags.sort();
    tags.dedup();
    errors.finish(|| {
        Box::new(InfluxLineEncoder {
            measurement: (!c.measurement.is_empty()).then(|| c.measurement.into_bytes()),
            tags,
            skip: c.skip_fields.into_iter().map(String::into_bytes).collect(),
            divisor,
            include_payload: c.include_payload,
        }) as Box<dyn Encoder>
    })
}

/// A header's value as tag text, if `name` is a header.
fn header_text(msg: &MessageView<'_>, name: &[u8]) -> Option<Vec<u8>> {
    Some(match name {
        b"Hostname" => msg.hostname().to_vec(),
        b"Logger" => msg.logger().to_vec(),
        b"Type" => msg.r#type().to_vec(),
        b"EnvVersion" => msg.env_version().to_vec(),
        b"Severity" => msg.severity().to_string().into_bytes(),
        b"Pid" => msg.pid().to_string().into_bytes(),
        _ => return None,
    })
}

/// Appends `text` with the bytes of `special` (and backslash-free newlines) escaped.
fn escaped(out: &mut Vec<u8>, text: &[u8], special: &[u8]) {
    for &b in text {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b if special.contains(&b) => {
                out.push(b'\\');
                out.push(b);
            }
            b => out.push(b),
        }
    }
}

const KEY_SPECIAL: &[u8] = b", =";
const MEASUREMENT_SPECIAL: &[u8] = b", ";

/// Appends one field `key=value` (with a leading comma after the first), unless the value
/// cannot be written (NaN, infinities, bytes).
fn push_field(
    out: &mut Vec<u8>,
    first: &mut bool,
    key: &[u8],
    index: Option<usize>,
    value: Value<'_>,
) {
    let mark = out.len();
    if !*first {
        out.push(b',');
    }
    escaped(out, key, KEY_SPECIAL);
    if let Some(i) = index {
        let _ = write!(out, "_{i}");
    }
    out.push(b'=');
    let written = match value {
        Value::Double(v) if v.is_finite() => write!(out, "{v:?}").is_ok(),
        Value::Double(_) => false,
        Value::Integer(v) => write!(out, "{v}i").is_ok(),
        Value::Bool(v) => write!(out, "{v}").is_ok(),
        Value::String(s) => {
            out.push(b'"');
            escaped(out, s, b"\"\\");
            out.push(b'"');
            true
        }
        Value::Bytes(_) => false,
    };
    if written {
        *first = false;
    } else {
        out.truncate(mark);
    }
}

impl Encoder for InfluxLineEncoder {
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError> {
        let start = out.len();
        match &self.measurement {
            Some(m) => escaped(out, m, MEASUREMENT_SPECIAL),
            None => escaped(out, msg.r#type(), MEASUREMENT_SPECIAL),
        }
        if out.len() == start {
            return Err(EncodeError(
                "no measurement: the message has no Type".into(),
            ));
        }
        for tag in &self.tags {
            let value = match header_text(&msg, tag) {
                Some(v) => v,
                None => match msg.field(tag, 0).and_then(|f| f.value(0)) {
                    Some(Value::String(s) | Value::Bytes(s)) => s.to_vec(),
                    Some(Value::Integer(i)) => i.to_string().into_bytes(),
                    Some(Value::Double(d)) => format!("{d:?}").into_bytes(),
                    Some(Value::Bool(b)) => b.to_string().into_bytes(),
                    None => continue,
                },
            };
            if value.is_empty() {
                continue;
            }
            out.push(b',');
            escaped(out, tag, KEY_SPECIAL);
            out.push(b'=');
            escaped(out, &value, KEY_SPECIAL);
        }
        out.push(b' ');
        let fields_at = out.len();
        let mut first = true;
        for field in msg.fields() {
            let name = field.name();
            if self.tags.iter().any(|t| t == name) || self.skip.iter().any(|s| s == name) {
                continue;
            }
            let count = field.value_count();
            for (i, value) in field.values().enumerate() {
                let index = (count > 1).then_some(i);
                push_field(out, &mut first, name, index, value);
            }
        }
        if self.include_payload && !msg.payload().is_empty() {
            push_field(
                out,
                &mut first,
                b"payload",
                None,
                Value::String(msg.payload()),
            );
        }
        if out.len() == fields_at {
            return Ok(Encoded::Skip);
        }
        let _ = writeln!(out, " {}", msg.timestamp() / self.divisor);
        Ok(Encoded::Emit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::writer::Values;
    use crate::message::MessageWriter;

    fn encoder(toml: &str) -> Box<dyn Encoder> {
        let section = PluginSection {
            name: "influx".into(),
            type_name: "InfluxLineEncoder".into(),
            category: crate::config::Category::Encoder,
            file: "test.toml".into(),
            table: toml.parse().expect("toml"),
        };
        from_section(&section).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn encode(encoder: &mut dyn Encoder, build: impl FnOnce(&mut MessageWriter<'_>)) -> String {
        let mut msg = Vec::new();
        let mut w = MessageWriter::new(&mut msg);
        w.uuid(&[1; 16]).timestamp(1_700_000_000_123_456_789);
        build(&mut w);
        let index = w.index().expect("index");
        let view = MessageView::with_index(&msg, &index);
        let mut out = Vec::new();
        match encoder.encode(view, &mut out).expect("encodes") {
            Encoded::Emit => String::from_utf8(out).expect("utf8"),
            Encoded::Skip => "<skip>".into(),
        }
    }

    #[test]
    fn a_message_is_one_point_with_typed_fields_and_escaped_names() {
        let mut e = encoder("");
        let line = encode(&mut *e, |w| {
            w.r#type(b"stats.loadavg")
                .hostname(b"edge 1")
                .field(b"1MinAvg", b"", Values::Double(&[0.5]))
                .field(b"NumProcesses", b"", Values::Integer(&[3]))
                .field(b"cpu", b"", Values::Integer(&[7, 8]))
                .field(b"up", b"", Values::Bool(&[true]))
                .field(b"note", b"", Values::String(&[b"say \"hi\""]))
                .field(b"nan", b"", Values::Double(&[f64::NAN]));
        });
        assert_eq!(
            line,
            "stats.loadavg,Hostname=edge\\ 1 1MinAvg=0.5,NumProcesses=3i,cpu_0=7i,cpu_1=8i,\
             up=true,note=\"say \\\"hi\\\"\" 1700000000123456789\n"
        );
    }

    #[test]
    fn configured_measurement_tags_precision_and_skips() {
        let mut e = encoder(
            "measurement = \"system\"\ntag_fields = [\"Hostname\", \"dev\"]\n\
             skip_fields = [\"junk\"]\ntimestamp_precision = \"s\"",
        );
        let line = encode(&mut *e, |w| {
            w.r#type(b"x")
                .hostname(b"h")
                .field(b"dev", b"", Values::String(&[b"sda"]))
                .field(b"junk", b"", Values::Double(&[1.0]))
                .field(b"reads", b"", Values::Double(&[2.0]));
        });
        assert_eq!(line, "system,Hostname=h,dev=sda reads=2.0 1700000000\n");
        let nothing = encode(&mut *e, |w| {
            w.r#type(b"x").field(b"junk", b"", Values::Double(&[1.0]));
        });
        assert_eq!(nothing, "<skip>");
    }
}
