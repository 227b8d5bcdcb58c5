//! Allocation-free message encoder: writes Heka message fields straight into a reused
//! byte buffer (a pack's buffer), producing the same bytes prost and Go produce.
//!
//! Callers write headers in field-number order (uuid, timestamp, type, logger, severity,
//! payload, env_version, pid, hostname) and then fields, as Heka's encoder does.

use super::repr::ValueType;
use super::view::HeaderIndex;
use prost::encoding::{encoded_len_varint, WireType};

/// Appends protobuf-encoded message parts to `buf`.
pub struct MessageWriter<'b> {
    buf: &'b mut Vec<u8>,
    /// Where the headers went, while that is known exactly: `buf` started empty and
    /// nothing was copied in unparsed ([`MessageWriter::raw`]).
    index: Option<HeaderIndex>,
}

/// A field value array, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum Values<'v> {
    String(&'v [&'v [u8]]),
    Bytes(&'v [&'v [u8]]),
    Integer(&'v [i64]),
    Double(&'v [f64]),
    Bool(&'v [bool]),
}

impl Values<'_> {
    fn value_type(&self) -> ValueType {
        match self {
            Values::String(_) => ValueType::String,
            Values::Bytes(_) => ValueType::Bytes,
            Values::Integer(_) => ValueType::Integer,
            Values::Double(_) => ValueType::Double,
            Values::Bool(_) => ValueType::Bool,
        }
    }

    /// Length of the packed payload of numeric arrays.
    fn packed_len(&self) -> usize {
        match self {
            Values::Integer(v) => v.iter().map(|&i| encoded_len_varint(i as u64)).sum(),
            Values::Double(v) => v.len() * 8,
            Values::Bool(v) => v.len(),
            Values::String(_) | Values::Bytes(_) => 0,
        }
    }
}

/// Appends `value` as a varint. Byte by byte with `push`, which inlines to a store once
/// the caller has reserved room; prost's `encode_varint` into a `Vec` goes through
/// `extend_from_slice` once per byte (a timestamp is nine).
#[inline(always)]
pub(super) fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push(value as u8 | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

fn len_delimited_len(tag: u32, len: usize) -> usize {
    prost::encoding::key_len(tag) + encoded_len_varint(len as u64) + len
}

impl<'b> MessageWriter<'b> {
    /// Starts writing at the end of `buf` (clear it first for a fresh message).
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        let index = buf.is_empty().then(HeaderIndex::default);
        MessageWriter { buf, index }
    }

    /// The header index of the message written, when the writer started on an empty
    /// buffer and wrote only typed parts. A message we build ourselves is valid by
    /// construction, so this saves the validating [`HeaderIndex::scan`].
    pub fn index(&self) -> Option<HeaderIndex> {
        self.index
    }

    #[inline(always)]
    fn header_bytes(&mut self, tag: u32, value: &[u8]) {
        self.bytes_field(tag, value);
        if let Some(index) = &mut self.index {
            index.note_len(tag, self.buf.len() - value.len(), value.len());
        }
    }

    #[inline(always)]
    fn header_varint(&mut self, tag: u32, value: u64) {
        self.varint_field(tag, value);
        if let Some(index) = &mut self.index {
            index.note_varint(tag, value);
        }
    }

    /// A field's key and then `value`: the field's length, or its value when it is a varint.
    #[inline(always)]
    fn key_and_varint(&mut self, tag: u32, wire_type: WireType, value: u64) {
        self.buf.reserve(15);
        put_varint(self.buf, u64::from(tag << 3 | wire_type as u32));
        put_varint(self.buf, value);
    }

    #[inline(always)]
    fn bytes_field(&mut self, tag: u32, value: &[u8]) {
        self.key_and_varint(tag, WireType::LengthDelimited, value.len() as u64);
        self.buf.extend_from_slice(value);
    }

    #[inline(always)]
    fn varint_field(&mut self, tag: u32, value: u64) {
        self.key_and_varint(tag, WireType::Varint, value);
    }

    pub fn uuid(&mut self, uuid: &[u8]) -> &mut Self {
        self.header_bytes(1, uuid);
        self
    }
    pub fn timestamp(&mut self, ns: i64) -> &mut Self {
        self.header_varint(2, ns as u64);
        self
    }
    pub fn r#type(&mut self, value: &[u8]) -> &mut Self {
        self.header_bytes(3, value);
        self
    }
    pub fn logger(&mut self, value: &[u8]) -> &mut Self {
        self.header_bytes(4, value);
        self
    }
    pub fn severity(&mut self, value: i32) -> &mut Self {
        self.header_varint(5, value as i64 as u64);
        self
    }
    pub fn payload(&mut self, value: &[u8]) -> &mut Self {
        self.header_bytes(6, value);
        self
    }
    pub fn env_version(&mut self, value: &[u8]) -> &mut Self {
        self.header_bytes(7, value);
        self
    }
    pub fn pid(&mut self, value: i32) -> &mut Self {
        self.header_varint(8, value as i64 as u64);
        self
    }
    pub fn hostname(&mut self, value: &[u8]) -> &mut Self {
        self.header_bytes(9, value);
        self
    }

    /// Copies already-encoded field entries (tag 10 entries) verbatim.
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.index = None;
        self.buf.extend_from_slice(encoded);
        self
    }

    /// Appends one dynamic field from its encoded body (a `FieldView`'s bytes).
    pub fn field_bytes(&mut self, body: &[u8]) -> &mut Self {
        self.note_field();
        self.bytes_field(10, body);
        self
    }

    /// Notes that a field entry starts here.
    fn note_field(&mut self) {
        let at = self.buf.len();
        if let Some(index) = &mut self.index {
            index.note_field(at);
        }
    }

    /// Appends every dynamic field of `msg` unchanged.
    pub fn fields_of(&mut self, msg: &super::MessageView<'_>) -> &mut Self {
        for field in msg.fields() {
            self.field_bytes(field.bytes());
        }
        self
    }

    /// Appends a STRING (or, with `bytes`, BYTES) field of `count` values that `value`
    /// hands out by index (twice each: once to size the field, once to write it), for
    /// callers whose values are not in one slice (a Lua array).
    pub fn string_field<'v>(
        &mut self,
        name: &[u8],
        representation: &[u8],
        bytes: bool,
        count: usize,
        value: impl Fn(usize) -> &'v [u8],
    ) -> &mut Self {
        let (value_type, tag) = match bytes {
            true => (ValueType::Bytes, 5),
            false => (ValueType::String, 4),
        };
        let body = len_delimited_len(1, name.len())
            + prost::encoding::key_len(2)
            + encoded_len_varint(value_type as u64)
            + len_delimited_len(3, representation.len())
            + (0..count)
                .map(|i| len_delimited_len(tag, value(i).len()))
                .sum::<usize>();
        self.note_field();
        self.key_and_varint(10, WireType::LengthDelimited, body as u64);
        self.bytes_field(1, name);
        self.varint_field(2, value_type as u64);
        self.bytes_field(3, representation);
        for i in 0..count {
            self.bytes_field(tag, value(i));
        }
        self
    }

    /// Appends one dynamic field, encoded as Go's `NewField` does (value type and
    /// representation always present, numeric arrays packed).
    pub fn field(&mut self, name: &[u8], representation: &[u8], values: Values<'_>) -> &mut Self {
        let value_type = values.value_type();
        let mut body = len_delimited_len(1, name.len())
            + prost::encoding::key_len(2)
            + encoded_len_varint(value_type as u64)
            + len_delimited_len(3, representation.len());
        let (value_tag, packed_len) = match values {
            Values::String(v) | Values::Bytes(v) => {
                let tag = if matches!(values, Values::String(_)) {
                    4
                } else {
                    5
                };
                body += v
                    .iter()
                    .map(|s| len_delimited_len(tag, s.len()))
                    .sum::<usize>();
                (tag, 0)
            }
            Values::Integer(_) | Values::Double(_) | Values::Bool(_) => {
                let tag = 4 + value_type as u32;
                let packed = values.packed_len();
                if packed > 0 {
                    body += len_delimited_len(tag, packed);
                }
                (tag, packed)
            }
        };
        self.note_field();
        self.key_and_varint(10, WireType::LengthDelimited, body as u64);
        self.bytes_field(1, name);
        self.varint_field(2, value_type as u64);
        self.bytes_field(3, representation);
        match values {
            Values::String(v) | Values::Bytes(v) => {
                for s in v {
                    self.bytes_field(value_tag, s);
                }
            }
            _ if packed_len == 0 => {}
            _ => {
                self.key_and_varint(value_tag, WireType::LengthDelimited, packed_len as u64);
                match values {
                    Values::Integer(v) => v.iter().for_each(|&i| put_varint(self.buf, i as u64)),
                    Values::Double(v) => v
                        .iter()
                        .for_each(|d| self.buf.extend_from_slice(&d.to_le_bytes())),
                    Values::Bool(v) => v.iter().for_each(|&b| self.buf.push(u8::from(b))),
                    Values::String(_) | Values::Bytes(_) => {}
                }
            }
        }
        self
    }
}
