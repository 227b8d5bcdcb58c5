//! `message_fields` of PayloadRegexDecoder and ScribbleDecoder: each key names a header
//! (`Type`, `Logger`, `Payload`, `Hostname`, `Pid`, `Severity`, `Uuid`) or a new STRING
//! field (`name|representation`); values are templates where `%Name%` is replaced by the
//! capture `Name` (an unknown name renders as `<Name>`).

use crate::message::rewrite::{NewField, Overrides};
use crate::message::uuid;
use std::collections::BTreeMap;

/// Where a rendered value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Type,
    Logger,
    Payload,
    Hostname,
    Pid,
    Severity,
    Uuid,
    Field {
        name: String,
        representation: String,
    },
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Capture(String),
}

/// One compiled `message_fields` entry.
#[derive(Debug, Clone)]
pub struct Template {
    target: Target,
    parts: Vec<Part>,
}

/// The compiled `message_fields` table plus reusable render buffers.
#[derive(Debug, Clone, Default)]
pub struct MessageFields {
    templates: Vec<Template>,
    rendered: Vec<Vec<u8>>,
}

impl MessageFields {
    /// Compiles the table; with `interpolate` false values are taken literally.
    pub fn new(map: &BTreeMap<String, String>, interpolate: bool) -> MessageFields {
        let templates: Vec<Template> = map
            .iter()
            .map(|(key, value)| {
                let (name, repr) = key
                    .split_once('|')
                    .map_or((key.as_str(), None), |(n, r)| (n, Some(r)));
                let target = match (name, repr) {
                    ("Type", None) => Target::Type,
                    ("Logger", None) => Target::Logger,
                    ("Payload", None) => Target::Payload,
                    ("Hostname", None) => Target::Hostname,
                    ("Pid", None) => Target::Pid,
                    ("Severity", None) => Target::Severity,
                    ("Uuid", None) => Target::Uuid,
                    (name, repr) => Target::Field {
                        name: name.to_owned(),
                        representation: repr.unwrap_or("").to_owned(),
                    },
                };
                let parts = if interpolate {
                    parse(value)
                } else {
                    vec![Part::Literal(value.clone())]
                };
                Template { target, parts }
            })
            .collect();
        let rendered = vec![Vec::new(); templates.len()];
        MessageFields {
            templates,
            rendered,
        }
    }

    /// Capture names the templates refer to.
    pub fn capture_names(&self) -> impl Iterator<Item = &str> {
        self.templates
            .iter()
            .flat_map(|t| t.parts.iter())
            .filter_map(|p| match p {
                Part::Capture(name) => Some(name.as_str()),
                Part::Literal(_) => None,
            })
    }

    /// Renders every template with `lookup` for captures (buffers are reused).
    pub fn render<'c>(&mut self, lookup: impl Fn(&str) -> Option<&'c [u8]>) {
        for (template, out) in self.templates.iter().zip(self.rendered.iter_mut()) {
            out.clear();
            for part in &template.parts {
                match part {
                    Part::Literal(text) => out.extend_from_slice(text.as_bytes()),
                    Part::Capture(name) => match lookup(name) {
                        Some(value) => out.extend_from_slice(value),
                        None => {
                            out.push(b'<');
                            out.extend_from_slice(name.as_bytes());
                            out.push(b'>');
                        }
                    },
                }
            }
        }
    }

    /// Applies the last rendering to `set` and `fields`.
    pub fn apply<'s>(
        &'s self,
        set: &mut Overrides<'s>,
        fields: &mut Vec<NewField<'s>>,
        uuid_buf: &'s mut [u8; 16],
    ) {
        for (template, value) in self.templates.iter().zip(&self.rendered) {
            let value = value.as_slice();
            match &template.target {
                Target::Type => set.r#type = Some(value),
                Target::Logger => set.logger = Some(value),
                Target::Payload => set.payload = Some(value),
                Target::Hostname => set.hostname = Some(value),
                Target::Pid => set.pid = leading_integer(value).map(|n| n as i32),
                Target::Severity => set.severity = leading_integer(value).map(|n| n as i32),
                Target::Uuid => {
                    if let Some(raw) = std::str::from_utf8(value).ok().and_then(uuid::parse) {
                        *uuid_buf = raw;
                    }
                }
                Target::Field {
                    name,
                    representation,
                } => fields.push((name.as_bytes(), representation.as_bytes(), value)),
            }
        }
        if self.templates.iter().any(|t| t.target == Target::Uuid) {
            set.uuid = Some(&uuid_buf[..]);
        }
    }
}

/// The integer part of a number in text ("123", "12.5" ⇒ 12).
pub fn leading_integer(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let end = text.find('.').unwrap_or(text.len());
    text[..end].parse().ok()
}

fn parse(value: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end)
                if end > 0
                    && after[..end]
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_') =>
            {
                if start > 0 {
                    parts.push(Part::Literal(rest[..start].to_owned()));
                }
                parts.push(Part::Capture(after[..end].to_owned()));
                rest = &after[end + 1..];
            }
            _ => {
                parts.push(Part::Literal(rest[..start + 1].to_owned()));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_owned()));
    }
    parts
}
