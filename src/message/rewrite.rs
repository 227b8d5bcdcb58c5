//! Rebuilding a message with some headers replaced and fields added: what
//! PayloadRegexDecoder and ScribbleDecoder do, and what a sandbox's injected messages get
//! stamped with. Headers keep field-number order; the
//! original fields are copied as bytes, new fields appended.

use super::view::HeaderIndex;
use super::writer::Values;
use super::{MessageView, MessageWriter};

/// Header values to set; `None` keeps the original.
#[derive(Debug, Default, Clone, Copy)]
pub struct Overrides<'a> {
    pub uuid: Option<&'a [u8]>,
    pub timestamp: Option<i64>,
    pub r#type: Option<&'a [u8]>,
    pub logger: Option<&'a [u8]>,
    pub severity: Option<i32>,
    pub payload: Option<&'a [u8]>,
    pub env_version: Option<&'a [u8]>,
    pub pid: Option<i32>,
    pub hostname: Option<&'a [u8]>,
    /// Leave the original's dynamic fields out.
    pub drop_fields: bool,
}

/// A STRING field to append: name, representation, value.
pub type NewField<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Writes `msg` with `set` applied and `fields` appended into `out` (cleared first);
/// returns the header index of what it wrote.
pub fn rewrite(
    msg: &MessageView<'_>,
    set: &Overrides<'_>,
    fields: &[NewField<'_>],
    out: &mut Vec<u8>,
) -> Option<HeaderIndex> {
    out.clear();
    let mut w = MessageWriter::new(out);
    if let Some(u) = set
        .uuid
        .or_else(|| (!msg.uuid().is_empty()).then_some(msg.uuid()))
    {
        w.uuid(u);
    }
    if let Some(ts) = set
        .timestamp
        .or(msg.has_timestamp().then(|| msg.timestamp()))
    {
        w.timestamp(ts);
    }
    let string = |w: &mut MessageWriter<'_>,
                  new: Option<&[u8]>,
                  old: &[u8],
                  put: fn(&mut MessageWriter<'_>, &[u8])| {
        if let Some(v) = new.or((!old.is_empty()).then_some(old)) {
            put(w, v);
        }
    };
    string(&mut w, set.r#type, msg.r#type(), |w, v| {
        w.r#type(v);
    });
    string(&mut w, set.logger, msg.logger(), |w, v| {
        w.logger(v);
    });
    if let Some(s) = set.severity.or(msg.has_severity().then(|| msg.severity())) {
        w.severity(s);
    }
    string(&mut w, set.payload, msg.payload(), |w, v| {
        w.payload(v);
    });
    string(&mut w, set.env_version, msg.env_version(), |w, v| {
        w.env_version(v);
    });
    if let Some(p) = set.pid.or(msg.has_pid().then(|| msg.pid())) {
        w.pid(p);
    }
    string(&mut w, set.hostname, msg.hostname(), |w, v| {
        w.hostname(v);
    });
    if !set.drop_fields {
        w.fields_of(msg);
    }
    for (name, repr, value) in fields {
        w.field(name, repr, Values::String(&[value]));
    }
    w.index()
}
