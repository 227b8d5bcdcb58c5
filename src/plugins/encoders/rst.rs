//! RstEncoder (§5.5): a human-readable reStructuredText-ish dump of every header and
//! field, for debugging.

use super::{EncodeError, Encoded, Encoder};
use crate::config::{section, ConfigError, PluginSection};
use crate::message::{uuid, MessageView, Value};
use base64::Engine as _;
use serde::Deserialize;
use std::io::Write;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RstEncoderConfig {}

/// The RstEncoder.
pub struct RstEncoder;

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Encoder>, Vec<ConfigError>> {
    let _: RstEncoderConfig = section::decode(section, &[])?;
    Ok(Box::new(RstEncoder))
}

fn quoted(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

fn value(out: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::String(s) => quoted(out, s),
        Value::Bytes(b) => quoted(
            out,
            base64::engine::general_purpose::STANDARD
                .encode(b)
                .as_bytes(),
        ),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
    }
}

impl Encoder for RstEncoder {
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError> {
        let mut text = [0u8; uuid::TEXT_LEN];
        let _ = writeln!(
            out,
            "\n:Timestamp: {}",
            crate::timefmt::go_utc_string(msg.timestamp())
        );
        for (label, v) in [(":Type: ", msg.r#type()), (":Hostname: ", msg.hostname())] {
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(v);
            out.push(b'\n');
        }
        let _ = writeln!(out, ":Pid: {}", msg.pid());
        let _ = writeln!(out, ":Uuid: {}", uuid::format(msg.uuid(), &mut text));
        for (label, v) in [
            (":Logger: ", msg.logger()),
            (":Payload: ", msg.payload()),
            (":EnvVersion: ", msg.env_version()),
        ] {
            out.extend_from_slice(label.as_bytes());
            out.extend_from_slice(v);
            out.push(b'\n');
        }
        let _ = writeln!(out, ":Severity: {}", msg.severity());
        out.extend_from_slice(b":Fields:\n");
        for field in msg.fields() {
            out.extend_from_slice(b"    | name:");
            quoted(out, field.name());
            let type_name = field.value_type().map_or("unknown", |t| t.name());
            let _ = write!(out, " type:{type_name} value:");
            let count = field.value_count();
            if count == 1 {
                field.values().for_each(|v| value(out, v));
            } else {
                out.push(b'[');
                for (i, v) in field.values().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    value(out, v);
                }
                out.push(b']');
            }
            if !field.representation().is_empty() {
                out.extend_from_slice(b" representation:");
                quoted(out, field.representation());
            }
            out.push(b'\n');
        }
        out.push(b'\n');
        Ok(Encoded::Emit)
    }
}
