//! ESJsonEncoder (§5.5): a message as two lines of the ElasticSearch bulk API, the
//! action `{"index":{"_index":"<index>","_type":"<type_name>"[,"_id":"<id>"]}}` and the
//! document, a flat JSON object of the chosen `fields`.
//!
//! `index`, `type_name` and `id` interpolate `%{Type}`, `%{Hostname}`, `%{Pid}`,
//! `%{UUID}`, `%{Logger}`, `%{EnvVersion}`, `%{Severity}`, `%{<dynamic field>}` and
//! strftime codes (`%{%Y.%m.%d}`, at the message's time with `es_index_from_timestamp`,
//! else now, UTC); the index is lowercased, as ElasticSearch requires. The document
//! writes headers under `field_mappings` names (Timestamp formatted with `timestamp`),
//! dynamic fields (all, or `dynamic_fields`) as JSON values (arrays when several, bytes
//! as base64, `raw_bytes_fields` copied as they are), with dots in names replaced by
//! `replace_dots_with`. Strings are escaped as Heka escapes them (every character
//! outside printable ASCII but `"` and `\` as `\uXXXX`, invalid UTF-8 as U+FFFD).

use super::{EncodeError, Encoded, Encoder};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::{uuid, MessageView, Value};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct EsJsonConfig {
    index: String,
    type_name: String,
    fields: Vec<String>,
    timestamp: String,
    es_index_from_timestamp: bool,
    id: String,
    raw_bytes_fields: Vec<String>,
    field_mappings: BTreeMap<String, String>,
    dynamic_fields: Vec<String>,
    replace_dots_with: String,
}

const ALL_FIELDS: [&str; 10] = [
    "Uuid",
    "Timestamp",
    "Type",
    "Logger",
    "Severity",
    "Payload",
    "EnvVersion",
    "Pid",
    "Hostname",
    "DynamicFields",
];

impl Default for EsJsonConfig {
    fn default() -> Self {
        EsJsonConfig {
            index: "heka-%{%Y.%m.%d}".into(),
            type_name: "message".into(),
            fields: ALL_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
            timestamp: "%Y-%m-%dT%H:%M:%S".into(),
            es_index_from_timestamp: false,
            id: String::new(),
            raw_bytes_fields: Vec::new(),
            field_mappings: BTreeMap::new(),
            dynamic_fields: Vec::new(),
            replace_dots_with: ".".into(),
        }
    }
}

/// A message part the document writes, with its JSON key.
#[derive(Debug, Clone)]
enum Part {
    Uuid(String),
    Timestamp(String),
    Type(String),
    Logger(String),
    Severity(String),
    Payload(String),
    EnvVersion(String),
    Pid(String),
    Hostname(String),
    DynamicFields,
}

/// One piece of an interpolated setting.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// A header or dynamic field name, or else strftime codes.
    Name(String),
}

/// A `%{...}` template, split once.
#[derive(Debug, Clone)]
pub struct Template(Vec<Piece>);

impl Template {
    pub fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("%{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            pieces.push(Piece::Name(after[..end].to_owned()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Template(pieces)
    }

    /// The text for `msg`; strftime codes at `time_ns` (UTC).
    pub fn render(&self, msg: &MessageView<'_>, time_ns: i64) -> String {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Name(name) => interpolate(&mut out, msg, name, time_ns),
            }
        }
        out
    }
}

fn interpolate(out: &mut String, msg: &MessageView<'_>, name: &str, time_ns: i64) {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let value = match name {
        "Type" => text(msg.r#type()),
        "Hostname" => text(msg.hostname()),
        "Pid" => msg.pid().to_string(),
        "UUID" => {
            let mut buf = [0u8; uuid::TEXT_LEN];
            uuid::format(msg.uuid(), &mut buf).to_owned()
        }
        "Logger" => text(msg.logger()),
        "EnvVersion" => text(msg.env_version()),
        "Severity" => msg.severity().to_string(),
        _ => match msg.field(name.as_bytes(), 0).and_then(|f| f.value(0)) {
            Some(Value::String(s) | Value::Bytes(s)) => text(s),
            Some(Value::Integer(i)) => i.to_string(),
            Some(Value::Double(d)) => d.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            None => {
                let time = jiff::Timestamp::from_nanosecond(i128::from(time_ns))
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                    .to_zoned(jiff::tz::TimeZone::UTC);
                let mut formatted = String::new();
                if std::fmt::Write::write_fmt(
                    &mut formatted,
                    format_args!("{}", time.strftime(name)),
                )
                .is_err()
                {
                    formatted = name.to_owned();
                }
                formatted
            }
        },
    };
    out.push_str(&value);
}

/// The ESJsonEncoder.
pub struct EsJsonEncoder {
    index: Template,
    type_name: Template,
    id: Option<Template>,
    index_from_timestamp: bool,
    parts: Vec<Part>,
    timestamp: String,
    dynamic_fields: Vec<Vec<u8>>,
    raw_bytes_fields: Vec<Vec<u8>>,
    replace_dots_with: String,
}

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Encoder>, Vec<ConfigError>> {
    let c: EsJsonConfig = section::decode(section, &[])?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let mapped = |name: &str| {
        c.field_mappings
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    };
    let mut parts = Vec::new();
    for field in &c.fields {
        parts.push(match field.to_ascii_lowercase().as_str() {
            "uuid" => Part::Uuid(mapped("Uuid")),
            "timestamp" => Part::Timestamp(mapped("Timestamp")),
            "type" => Part::Type(mapped("Type")),
            "logger" => Part::Logger(mapped("Logger")),
            "severity" => Part::Severity(mapped("Severity")),
            "payload" => Part::Payload(mapped("Payload")),
            "envversion" => Part::EnvVersion(mapped("EnvVersion")),
            "pid" => Part::Pid(mapped("Pid")),
            "hostname" => Part::Hostname(mapped("Hostname")),
            "dynamicfields" => Part::DynamicFields,
            _ => {
                errors.one_of("fields", field, &ALL_FIELDS, true);
                continue;
            }
        });
    }
    if !c.dynamic_fields.is_empty() && !parts.iter().any(|p| matches!(p, Part::DynamicFields)) {
        errors.add(
            "dynamic_fields",
            format!(
                "expected fields to contain \"DynamicFields\" when dynamic_fields is set, got \
                 fields {:?}",
                c.fields
            ),
        );
    }
    for key in c
        .field_mappings
        .keys()
        .filter(|k| !ALL_FIELDS[..9].contains(&k.as_str()))
    {
        errors.one_of("field_mappings", key, &ALL_FIELDS[..9], false);
    }
    if !errors.is_empty() {
        return Err(errors.fail("fields", "not checked"));
    }
    errors.finish(|| {
        Box::new(EsJsonEncoder {
            index: Template::parse(&c.index),
            type_name: Template::parse(&c.type_name),
            id: (!c.id.is_empty()).then(|| Template::parse(&c.id)),
            index_from_timestamp: c.es_index_from_timestamp,
            parts,
            timestamp: c.timestamp,
            dynamic_fields: c
                .dynamic_fields
                .into_iter()
                .map(String::into_bytes)
                .collect(),
            raw_bytes_fields: c
                .raw_bytes_fields
                .into_iter()
                .map(String::into_bytes)
                .collect(),
            replace_dots_with: c.replace_dots_with,
        }) as Box<dyn Encoder>
    })
}

/// Appends `text` as a JSON string the way Heka quotes it.
pub fn quoted(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    for c in String::from_utf8_lossy(text).chars() {
        match c {
            ' ' | '!' | '#'..='[' | ']'.. => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push(b'"');
}

impl EsJsonEncoder {
    fn key(&self, out: &mut Vec<u8>, first: &mut bool, key: &[u8]) {
        if !*first {
            out.push(b',');
        }
        *first = false;
        quoted(out, key);
        out.push(b':');
    }

    fn dynamic_fields(&self, out: &mut Vec<u8>, first: &mut bool, msg: &MessageView<'_>) {
        for field in msg.fields() {
            let name = field.name();
            if !self.dynamic_fields.is_empty() && !self.dynamic_fields.iter().any(|f| f == name) {
                continue;
            }
            let raw = self.raw_bytes_fields.iter().any(|f| f == name);
            match self.replace_dots_with.as_str() {
                "." => self.key(out, first, name),
                with => {
                    let replaced = String::from_utf8_lossy(name).replace('.', with);
                    self.key(out, first, replaced.as_bytes());
                }
            }
            let count = field.value_count();
            if count != 1 {
                out.push(b'[');
            }
            for (i, value) in field.values().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = match value {
                    Value::String(s) | Value::Bytes(s) if raw => {
                        out.extend_from_slice(s);
                        Ok(())
                    }
                    Value::String(s) => {
                        quoted(out, s);
                        Ok(())
                    }
                    Value::Bytes(b) => {
                        let encoded = base64::engine::general_purpose::STANDARD.encode(b);
                        quoted(out, encoded.as_bytes());
                        Ok(())
                    }
                    Value::Integer(v) => write!(out, "{v}"),
                    Value::Double(v) if v.is_finite() => write!(out, "{v}"),
                    // JSON has no NaN or infinity.
                    Value::Double(_) => write!(out, "null"),
                    Value::Bool(v) => write!(out, "{v}"),
                };
            }
            if count != 1 {
                out.push(b']');
            }
        }
    }
}

impl Encoder for EsJsonEncoder {
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError> {
        let index_time = match self.index_from_timestamp {
            true => msg.timestamp(),
            false => crate::pipeline::inject::now_ns(),
        };
        out.extend_from_slice(b"{\"index\":{\"_index\":");
        quoted(
            out,
            self.index
                .render(&msg, index_time)
                .to_lowercase()
                .as_bytes(),
        );
        out.extend_from_slice(b",\"_type\":");
        quoted(out, self.type_name.render(&msg, index_time).as_bytes());
        if let Some(id) = &self.id {
            out.extend_from_slice(b",\"_id\":");
            quoted(out, id.render(&msg, index_time).as_bytes());
        }
        out.extend_from_slice(b"}}\n{");
        let mut first = true;
        for part in &self.parts {
            match part {
                Part::Uuid(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    let mut buf = [0u8; uuid::TEXT_LEN];
                    quoted(out, uuid::format(msg.uuid(), &mut buf).as_bytes());
                }
                Part::Timestamp(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    let time = jiff::Timestamp::from_nanosecond(i128::from(msg.timestamp()))
                        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                        .to_zoned(jiff::tz::TimeZone::UTC);
                    let text = format!("{}", time.strftime(&self.timestamp));
                    quoted(out, text.as_bytes());
                }
                Part::Type(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    quoted(out, msg.r#type());
                }
                Part::Logger(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    quoted(out, msg.logger());
                }
                Part::Severity(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    let _ = write!(out, "{}", msg.severity());
                }
                Part::Payload(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    quoted(out, msg.payload());
                }
                Part::EnvVersion(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    quoted(out, msg.env_version());
                }
                Part::Pid(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    let _ = write!(out, "{}", msg.pid());
                }
                Part::Hostname(key) => {
                    self.key(out, &mut first, key.as_bytes());
                    quoted(out, msg.hostname());
                }
                Part::DynamicFields => self.dynamic_fields(out, &mut first, &msg),
            }
        }
        out.extend_from_slice(b"}\n");
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
            name: "es".into(),
            type_name: "ESJsonEncoder".into(),
            category: crate::config::Category::Encoder,
            file: "test.toml".into(),
            table: toml.parse().expect("toml"),
        };
        from_section(&section).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn encode(encoder: &mut dyn Encoder) -> String {
        let mut msg = Vec::new();
        let mut w = MessageWriter::new(&mut msg);
        w.uuid(&[0x11; 16])
            .timestamp(1_401_926_400_000_000_000)
            .r#type(b"nginx.access")
            .logger(b"web")
            .severity(6)
            .payload(b"GET / \"quoted\"\tend")
            .pid(42)
            .hostname(b"Host-1")
            .field(b"status", b"", Values::Integer(&[200]))
            .field(b"req.time", b"s", Values::Double(&[0.25]))
            .field(b"tags", b"", Values::String(&[b"a", b"b"]))
            .field(b"json", b"", Values::String(&[b"{\"k\":1}"]))
            .field(b"raw", b"", Values::Bytes(&[b"\x01\x02"]));
        let index = w.index().expect("index");
        let mut out = Vec::new();
        encoder
            .encode(MessageView::with_index(&msg, &index), &mut out)
            .expect("encodes");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn bulk_lines_with_hekas_defaults() {
        let mut e = encoder("es_index_from_timestamp = true");
        assert_eq!(
            encode(&mut *e),
            "{\"index\":{\"_index\":\"heka-2014.06.05\",\"_type\":\"message\"}}\n\
             {\"Uuid\":\"11111111-1111-1111-1111-111111111111\",\"Timestamp\":\"2014-06-05T00:00:00\",\
             \"Type\":\"nginx.access\",\"Logger\":\"web\",\"Severity\":6,\
             \"Payload\":\"GET / \\u0022quoted\\u0022\\u0009end\",\"EnvVersion\":\"\",\"Pid\":42,\
             \"Hostname\":\"Host-1\",\"status\":200,\"req.time\":0.25,\"tags\":[\"a\",\"b\"],\
             \"json\":\"{\\u0022k\\u0022:1}\",\"raw\":\"AQI=\"}\n"
        );
    }

    #[test]
    fn interpolation_mappings_selection_raw_fields_and_dots() {
        let mut e = encoder(
            "index = \"%{Type}-%{Hostname}-%{%Y}\"\nes_index_from_timestamp = true\n\
             type_name = \"%{Logger}\"\nid = \"%{status}\"\n\
             fields = [\"Timestamp\", \"DynamicFields\", \"Severity\"]\n\
             dynamic_fields = [\"req.time\", \"json\"]\nraw_bytes_fields = [\"json\"]\n\
             replace_dots_with = \"_\"\ntimestamp = \"%s\"\n\
             [field_mappings]\nTimestamp = \"@timestamp\"\nSeverity = \"level\"",
        );
        assert_eq!(
            encode(&mut *e),
            "{\"index\":{\"_index\":\"nginx.access-host-1-2014\",\"_type\":\"web\",\"_id\":\"200\"}}\n\
             {\"@timestamp\":\"1401926400\",\"req_time\":0.25,\"json\":{\"k\":1},\"level\":6}\n"
        );
    }
}
