//! Messages made from text records (a log line, a datagram). Every message of one stream
//! carries the same Type, Logger, Severity and Hostname, so a [`RecordTemplate`] encodes
//! those headers once per stream and copies them in whole; only the Uuid, Timestamp and
//! Payload are encoded per message. The bytes are exactly the ones [`MessageWriter`]
//! writes for the same headers, in the same order.
//!
//! [`MessageWriter`]: super::MessageWriter

use super::view::HeaderIndex;
use super::writer::put_varint;

/// Field keys (tag << 3 | wire type) of the headers written here.
const UUID_KEY: u8 = 1 << 3 | 2;
const TIMESTAMP_KEY: u8 = 2 << 3;
const SEVERITY_KEY: u8 = 5 << 3;
const PAYLOAD_KEY: u8 = 6 << 3 | 2;
const PID_KEY: u8 = 8 << 3;

/// A length-delimited header of a template part: its tag and where its value is in the
/// part.
#[derive(Debug, Clone, Copy)]
struct Placed {
    tag: u32,
    start: usize,
    len: usize,
}

/// The headers one stream stamps on the messages it makes from its records, encoded.
#[derive(Debug)]
pub struct RecordTemplate {
    /// Type, Logger and Severity: they come between Timestamp and Payload.
    before_payload: Vec<u8>,
    placed_before: heapless::Vec<Placed, 2>,
    /// EnvVersion, Pid and Hostname: they come after Payload.
    after_payload: Vec<u8>,
    pid: Option<i32>,
    placed_after: heapless::Vec<Placed, 2>,
    severity: i32,
    /// Dynamic fields every message carries (encoded entries) and where each starts.
    fields: Vec<u8>,
    field_starts: Vec<usize>,
}

impl RecordTemplate {
    pub fn new(
        r#type: Option<&[u8]>,
        logger: &[u8],
        severity: i32,
        env_version: Option<&[u8]>,
        pid: Option<i32>,
        hostname: Option<&[u8]>,
    ) -> RecordTemplate {
        let mut template = RecordTemplate {
            before_payload: Vec::new(),
            placed_before: heapless::Vec::new(),
            after_payload: Vec::new(),
            pid,
            placed_after: heapless::Vec::new(),
            severity,
            fields: Vec::new(),
            field_starts: Vec::new(),
        };
        let before = &mut template.before_payload;
        if let Some(value) = r#type {
            let _ = template.placed_before.push(place(before, 3, value));
        }
        let _ = template.placed_before.push(place(before, 4, logger));
        before.push(SEVERITY_KEY);
        put_varint(before, severity as i64 as u64);
        if let Some(value) = env_version {
            let _ = template
                .placed_after
                .push(place(&mut template.after_payload, 7, value));
        }
        if let Some(pid) = pid {
            template.after_payload.push(PID_KEY);
            put_varint(&mut template.after_payload, pid as i64 as u64);
        }
        if let Some(value) = hostname {
            let _ = template
                .placed_after
                .push(place(&mut template.after_payload, 9, value));
        }
        template
    }

    /// The same template with `fields` (encoded field entries, as [`MessageWriter`]
    /// writes them) after the headers of every message.
    ///
    /// [`MessageWriter`]: super::MessageWriter
    pub fn with_fields(mut self, fields: &[u8]) -> RecordTemplate {
        let mut at = 0;
        while at < fields.len() {
            let mut rest = &fields[at + 1..];
            let Ok(len) = prost::encoding::decode_varint(&mut rest) else {
                break;
            };
            let end = fields.len() - rest.len() + len as usize;
            if end > fields.len() {
                break;
            }
            self.field_starts.push(at);
            at = end;
        }
        self.fields = fields[..at].to_vec();
        self
    }

    /// Writes a whole message into `msg` (cleared first) and notes its headers into
    /// `index` (reset first): four copies, whatever the stream stamps.
    pub fn write(
        &self,
        msg: &mut Vec<u8>,
        index: &mut HeaderIndex,
        uuid: &[u8; 16],
        timestamp: i64,
        payload: &[u8],
    ) {
        msg.clear();
        *index = HeaderIndex::default();
        let mut head = [0u8; 2 + 16 + 1 + 10];
        head[0] = UUID_KEY;
        head[1] = 16;
        head[2..18].copy_from_slice(uuid);
        head[18] = TIMESTAMP_KEY;
        let head_len = 19 + varint_into(&mut head[19..], timestamp as u64);
        msg.reserve(
            head_len + self.before_payload.len() + 6 + payload.len() + self.after_payload.len(),
        );
        msg.extend_from_slice(&head[..head_len]);
        index.note_len(1, 2, 16);
        index.note_varint(2, timestamp as u64);
        copy_part(msg, index, &self.before_payload, &self.placed_before);
        index.note_varint(5, self.severity as i64 as u64);
        msg.push(PAYLOAD_KEY);
        put_varint(msg, payload.len() as u64);
        index.note_len(6, msg.len(), payload.len());
        msg.extend_from_slice(payload);
        copy_part(msg, index, &self.after_payload, &self.placed_after);
        if let Some(pid) = self.pid {
            index.note_varint(8, pid as i64 as u64);
        }
        if !self.fields.is_empty() {
            let start = msg.len();
            msg.extend_from_slice(&self.fields);
            for at in &self.field_starts {
                index.note_field(start + at);
            }
        }
    }
}

/// Appends header `tag` with `value` to `part`, and where its value went.
fn place(part: &mut Vec<u8>, tag: u32, value: &[u8]) -> Placed {
    put_varint(part, u64::from(tag << 3 | 2));
    put_varint(part, value.len() as u64);
    let start = part.len();
    part.extend_from_slice(value);
    Placed {
        tag,
        start,
        len: value.len(),
    }
}

fn copy_part(msg: &mut Vec<u8>, index: &mut HeaderIndex, part: &[u8], placed: &[Placed]) {
    let start = msg.len();
    msg.extend_from_slice(part);
    for p in placed {
        index.note_len(p.tag, start + p.start, p.len);
    }
}

/// Writes `value` as a varint at the start of `out` (10 bytes hold any u64); returns
/// its length.
fn varint_into(out: &mut [u8], mut value: u64) -> usize {
    let mut len = 0;
    while value >= 0x80 {
        out[len] = value as u8 | 0x80;
        value >>= 7;
        len += 1;
    }
    out[len] = value as u8;
    len + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::writer::Values;
    use crate::message::MessageWriter;

    /// The template's bytes and index are the writer's, for every combination of the
    /// optional headers, long values and negative numbers.
    #[test]
    fn writes_what_the_message_writer_writes() {
        let long = vec![b'x'; 300];
        let uuid = crate::message::uuid::new_v4();
        for r#type in [None, Some(&b"logfile"[..])] {
            for (pid, hostname) in [
                (None, None),
                (None, Some(&b"web-01"[..])),
                (Some(4321), Some(&long[..])),
                (Some(-7), None),
            ] {
                for (severity, timestamp, payload) in [
                    (7, 1_700_000_000_123_456_789i64, &b"GET / 200"[..]),
                    (-1, -5, &long[..]),
                    (0, 0, &b""[..]),
                ] {
                    let mut expected = Vec::new();
                    let mut w = MessageWriter::new(&mut expected);
                    w.uuid(&uuid).timestamp(timestamp);
                    if let Some(t) = r#type {
                        w.r#type(t);
                    }
                    w.logger(b"nginx").severity(severity).payload(payload);
                    let env_version = pid.map(|_| &b"1"[..]);
                    if let Some(v) = env_version {
                        w.env_version(v);
                    }
                    if let Some(p) = pid {
                        w.pid(p);
                    }
                    if let Some(h) = hostname {
                        w.hostname(h);
                    }
                    let mut fields = Vec::new();
                    if pid.is_some() {
                        MessageWriter::new(&mut fields)
                            .field(b"ExitStatus", b"", Values::Integer(&[-1]))
                            .field(b"Name", b"", Values::String(&[&long[..]]));
                        w.field(b"ExitStatus", b"", Values::Integer(&[-1])).field(
                            b"Name",
                            b"",
                            Values::String(&[&long[..]]),
                        );
                    }
                    let expected_index = w.index();

                    let template =
                        RecordTemplate::new(r#type, b"nginx", severity, env_version, pid, hostname)
                            .with_fields(&fields);
                    let mut msg = b"left over".to_vec();
                    let mut index = HeaderIndex::scan(b"").expect("empty is valid");
                    template.write(&mut msg, &mut index, &uuid, timestamp, payload);
                    assert_eq!(msg, expected);
                    assert_eq!(Some(index), expected_index);
                    assert_eq!(HeaderIndex::scan(&msg).ok(), Some(index));
                }
            }
        }
    }
}
