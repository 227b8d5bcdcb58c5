//! Zero-copy, validated view over an encoded Heka message (smoltcp-style: accessors over
//! bytes). The router and matcher read headers and `Fields[...]` straight from the wire
//! bytes; nothing is decoded into owned structures and nothing is allocated.

use super::repr::ValueType;
use super::wire::{read_varint, Entries, Entry, WireError, FIXED32, FIXED64, LEN, VARINT};
use super::DEFAULT_SEVERITY;

/// Byte range of a length-delimited header inside the message bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(start: usize, len: usize) -> Span {
        Span {
            start: start as u32,
            end: (start + len) as u32,
        }
    }

    fn slice<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        bytes
            .get(self.start as usize..self.end as usize)
            .unwrap_or(&[])
    }
}

/// Where each header lives in a message's bytes: computed once by one validating pass
/// ([`HeaderIndex::scan`]) and then kept beside the bytes (it is `Copy`, no heap).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderIndex {
    uuid: Span,
    timestamp: i64,
    r#type: Span,
    logger: Span,
    severity: i32,
    payload: Span,
    env_version: Span,
    pid: i32,
    hostname: Span,
    field_count: u32,
    /// Offset of the first dynamic field's key: field lookups start there instead of
    /// walking the headers again.
    fields_at: u32,
    /// Which of the varint headers are present ([`HAS_TIMESTAMP`], ...). Flags rather
    /// than `Option`s keep the empty index all zero bytes: resetting and copying it, once
    /// or more per message, stays a few plain stores.
    present: u8,
}

const HAS_TIMESTAMP: u8 = 1;
const HAS_SEVERITY: u8 = 2;
const HAS_PID: u8 = 4;

impl HeaderIndex {
    /// Validates the wire structure of a whole message and indexes its headers.
    /// Unknown fields are skipped, as protobuf requires; missing "required" fields are
    /// accepted, as in Heka.
    pub fn scan(bytes: &[u8]) -> Result<HeaderIndex, WireError> {
        // Every message is scanned once: a bare cursor, and on any fault the checked scan
        // again, which names it (about 80 instructions an entry less than `Entries`).
        let mut index = HeaderIndex::default();
        let mut cursor = Cursor::at(bytes, 0);
        while cursor.pos < bytes.len() {
            let key_at = cursor.pos;
            let Some((tag, wire_type, scalar, data)) = cursor.entry() else {
                return Self::scan_checked(bytes);
            };
            match header_wire_type(tag) {
                None => {}
                Some(expected) if expected != wire_type => return Self::scan_checked(bytes),
                Some(VARINT) => index.note_varint(tag, scalar),
                Some(_) if tag == 10 => index.note_field(key_at),
                Some(_) => index.note_len(tag, cursor.pos - data.len(), data.len()),
            }
        }
        Ok(index)
    }

    /// `scan` with every entry checked, for the error's offset and reason.
    #[cold]
    fn scan_checked(bytes: &[u8]) -> Result<HeaderIndex, WireError> {
        let mut index = HeaderIndex::default();
        for entry in Entries::new(bytes) {
            let entry = entry?;
            match header_wire_type(entry.tag) {
                None => {}
                Some(expected) if expected != entry.wire_type => {
                    return Err(WireError {
                        offset: entry.offset,
                        reason: "wrong wire type for a header",
                    })
                }
                Some(VARINT) => index.note_varint(entry.tag, entry.scalar),
                Some(_) if entry.tag == 10 => index.note_field(entry.key_at),
                Some(_) => index.note_len(entry.tag, entry.offset, entry.data.len()),
            }
        }
        Ok(index)
    }

    /// Records the length-delimited header `tag` whose value is `bytes[start..start +
    /// len]` (fields: [`HeaderIndex::note_field`]). Used by the scan and by
    /// `MessageWriter`.
    pub(crate) fn note_len(&mut self, tag: u32, start: usize, len: usize) {
        let span = Span::new(start, len);
        match tag {
            1 => self.uuid = span,
            3 => self.r#type = span,
            4 => self.logger = span,
            6 => self.payload = span,
            7 => self.env_version = span,
            9 => self.hostname = span,
            _ => {}
        }
    }

    /// Records a dynamic field (tag 10) whose entry starts (with its key) at `key_at`.
    pub(crate) fn note_field(&mut self, key_at: usize) {
        if self.field_count == 0 {
            self.fields_at = key_at as u32;
        }
        self.field_count += 1;
    }

    /// Records the varint header `tag` (timestamp, severity, pid).
    pub(crate) fn note_varint(&mut self, tag: u32, value: u64) {
        match tag {
            2 => {
                self.timestamp = value as i64;
                self.present |= HAS_TIMESTAMP;
            }
            5 => {
                self.severity = value as i32;
                self.present |= HAS_SEVERITY;
            }
            8 => {
                self.pid = value as i32;
                self.present |= HAS_PID;
            }
            _ => {}
        }
    }
}

/// The wire type of header `tag` (1..=10), `None` for tags Heka does not define.
fn header_wire_type(tag: u32) -> Option<u8> {
    match tag {
        2 | 5 | 8 => Some(VARINT),
        1 | 3 | 4 | 6 | 7 | 9 | 10 => Some(LEN),
        _ => None,
    }
}

/// A validated message: its bytes and their [`HeaderIndex`], both borrowed, so a view is
/// two references however often it is made and passed (a pack's view is made by the
/// router for each matcher and by each output).
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a> {
    bytes: &'a [u8],
    index: &'a HeaderIndex,
}

/// A message validated on its own, outside a pack: its bytes and the index one scan built.
#[derive(Debug, Clone, Copy)]
pub struct ScannedMessage<'a> {
    bytes: &'a [u8],
    index: HeaderIndex,
}

impl<'a> ScannedMessage<'a> {
    /// Validates `bytes` and indexes their headers.
    pub fn new(bytes: &'a [u8]) -> Result<Self, WireError> {
        Ok(ScannedMessage {
            bytes,
            index: HeaderIndex::scan(bytes)?,
        })
    }

    pub fn view(&self) -> MessageView<'_> {
        MessageView::with_index(self.bytes, &self.index)
    }
}

impl<'a> MessageView<'a> {
    /// A view from bytes already scanned into `index` (they must be the same bytes).
    #[inline]
    pub fn with_index(bytes: &'a [u8], index: &'a HeaderIndex) -> Self {
        MessageView { bytes, index }
    }

    /// The encoded message, exactly as received.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn index(&self) -> HeaderIndex {
        *self.index
    }

    pub fn uuid(&self) -> &'a [u8] {
        self.index.uuid.slice(self.bytes)
    }
    pub fn timestamp(&self) -> i64 {
        self.index.timestamp
    }
    pub fn has_timestamp(&self) -> bool {
        self.index.present & HAS_TIMESTAMP != 0
    }
    pub fn r#type(&self) -> &'a [u8] {
        self.index.r#type.slice(self.bytes)
    }
    pub fn logger(&self) -> &'a [u8] {
        self.index.logger.slice(self.bytes)
    }
    /// Severity, 7 when absent.
    pub fn severity(&self) -> i32 {
        match self.has_severity() {
            true => self.index.severity,
            false => DEFAULT_SEVERITY,
        }
    }
    pub fn has_severity(&self) -> bool {
        self.index.present & HAS_SEVERITY != 0
    }
    pub fn payload(&self) -> &'a [u8] {
        self.index.payload.slice(self.bytes)
    }
    pub fn env_version(&self) -> &'a [u8] {
        self.index.env_version.slice(self.bytes)
    }
    /// Pid, 0 when absent.
    pub fn pid(&self) -> i32 {
        self.index.pid
    }
    pub fn has_pid(&self) -> bool {
        self.index.present & HAS_PID != 0
    }
    pub fn hostname(&self) -> &'a [u8] {
        self.index.hostname.slice(self.bytes)
    }
    pub fn field_count(&self) -> usize {
        self.index.field_count as usize
    }

    /// All dynamic fields in document order.
    pub fn fields(&self) -> impl Iterator<Item = FieldView<'a>> + 'a {
        self.field_bodies().map(FieldView::parse)
    }

    /// The encoded body of every dynamic field, in document order.
    fn field_bodies(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let from = match self.index.field_count {
            0 => self.bytes.len(),
            _ => (self.index.fields_at as usize).min(self.bytes.len()),
        };
        Entries::new(&self.bytes[from..])
            .map_while(Result::ok)
            .filter(|e| e.tag == 10 && e.wire_type == LEN)
            .map(|e| e.data)
    }

    /// `Fields[name][field_index][array_index]`: what the matcher and `read_message` ask
    /// for on every message, so it is one pass with a bare cursor that reads each field's
    /// name and only the matching field's values (the same values, by the same lenient
    /// rules, as [`MessageView::field`] then [`FieldView::value`]).
    pub fn field_value(
        &self,
        name: &[u8],
        field_index: usize,
        array_index: usize,
    ) -> Option<Value<'a>> {
        if self.index.field_count == 0 {
            return None;
        }
        let mut fields = Cursor::at(self.bytes, self.index.fields_at as usize);
        let mut skip = field_index;
        while let Some((tag, wire_type, _, body)) = fields.entry() {
            if tag != 10 || wire_type != LEN || cursor_field_name(body) != name {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            return field_body_value(body, array_index);
        }
        None
    }

    /// The `field_index`-th (0-based) field called `name`, as `Fields[name][field_index]`.
    /// Only the names of the fields before it are read.
    pub fn field(&self, name: &[u8], field_index: usize) -> Option<FieldView<'a>> {
        // `field_name` takes a field's first name, as `FieldView::parse` does.
        self.field_bodies()
            .filter(|body| field_name(body) == name)
            .nth(field_index)
            .map(FieldView::parse)
    }
}

/// One dynamic field, read from its embedded message bytes.
#[derive(Debug, Clone, Copy)]
pub struct FieldView<'a> {
    bytes: &'a [u8],
    name: &'a [u8],
    value_type: i32,
    representation: &'a [u8],
}

/// One value of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    String(&'a [u8]),
    Bytes(&'a [u8]),
    Integer(i64),
    Double(f64),
    Bool(bool),
}

/// A bare forward reader over protobuf bytes for the hot field lookup: a step is a few
/// instructions where [`Entries`] builds and checks a whole entry. It stops at the end or
/// at the first damaged entry, as `Entries` with `map_while(Result::ok)` does.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn at(buf: &'a [u8], pos: usize) -> Cursor<'a> {
        Cursor { buf, pos }
    }

    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        let b = *self.buf.get(self.pos)?;
        if b < 0x80 {
            self.pos += 1;
            return Some(u64::from(b));
        }
        read_varint(self.buf, &mut self.pos).ok()
    }

    /// The next entry: tag, wire type, its scalar (varints, fixed64) or its payload.
    #[inline(always)]
    fn entry(&mut self) -> Option<(u32, u8, u64, &'a [u8])> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let key = self.varint()?;
        let (tag, wire_type) = ((key >> 3) as u32, (key & 7) as u8);
        if tag == 0 {
            return None;
        }
        match wire_type {
            VARINT => Some((tag, wire_type, self.varint()?, &[])),
            FIXED64 | FIXED32 => {
                let width = if wire_type == FIXED64 { 8 } else { 4 };
                let bytes = self.buf.get(self.pos..self.pos + width)?;
                self.pos += width;
                let mut raw = [0u8; 8];
                raw[..width].copy_from_slice(bytes);
                Some((tag, wire_type, u64::from_le_bytes(raw), &[]))
            }
            LEN => {
                let len = self.varint()? as usize;
                let end = self.pos.checked_add(len)?;
                let data = self.buf.get(self.pos..end)?;
                self.pos = end;
                Some((tag, wire_type, 0, data))
            }
            _ => None,
        }
    }
}

/// A field's first name (as [`field_name`]), read with the cursor.
#[inline]
fn cursor_field_name(body: &[u8]) -> &[u8] {
    let mut c = Cursor::at(body, 0);
    while let Some((tag, wire_type, _, data)) = c.entry() {
        if tag == 1 && wire_type == LEN {
            return data;
        }
    }
    &[]
}

/// Value `array_index` of an encoded field, by [`FieldView::value`]'s rules.
fn field_body_value<'b>(body: &'b [u8], array_index: usize) -> Option<Value<'b>> {
    let mut declared = 0i32;
    let mut c = Cursor::at(body, 0);
    while let Some((tag, wire_type, scalar, _)) = c.entry() {
        if tag == 2 && wire_type == VARINT {
            declared = scalar as i32;
        }
    }
    let value_type = ValueType::try_from(declared).ok()?;
    let wanted = 4 + value_type as u32;
    let mut left = array_index;
    let mut take = |value: Value<'b>| -> Option<Value<'b>> {
        match left {
            0 => Some(value),
            _ => {
                left -= 1;
                None
            }
        }
    };
    let mut c = Cursor::at(body, 0);
    while let Some((tag, wire_type, scalar, data)) = c.entry() {
        if tag != wanted {
            continue;
        }
        let found = match (value_type, wire_type) {
            (ValueType::String, LEN) => take(Value::String(data)),
            (ValueType::Bytes, LEN) => take(Value::Bytes(data)),
            (ValueType::Integer | ValueType::Bool, VARINT) => {
                take(scalar_value(value_type, scalar))
            }
            (ValueType::Integer | ValueType::Bool, LEN) => {
                let mut packed = Cursor::at(data, 0);
                let mut found = None;
                while packed.pos < data.len() && found.is_none() {
                    let Some(raw) = packed.varint() else {
                        break;
                    };
                    found = take(scalar_value(value_type, raw));
                }
                found
            }
            (ValueType::Double, FIXED64) => take(Value::Double(f64::from_bits(scalar))),
            (ValueType::Double, LEN) => data.chunks_exact(8).find_map(|chunk| {
                let mut raw = [0u8; 8];
                raw.copy_from_slice(chunk);
                take(Value::Double(f64::from_le_bytes(raw)))
            }),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The name of an encoded field (its first `name` entry; Go writes it first).
fn field_name(body: &[u8]) -> &[u8] {
    Entries::new(body)
        .map_while(Result::ok)
        .find(|e| e.tag == 1 && e.wire_type == LEN)
        .map_or(&[], |e| e.data)
}

impl<'a> FieldView<'a> {
    /// Leniently parses a field, as Heka does: a damaged entry ends the field early.
    fn parse(bytes: &'a [u8]) -> FieldView<'a> {
        let mut field = FieldView {
            bytes,
            name: &[],
            value_type: 0,
            representation: &[],
        };
        // The first name entry, even an empty one: what `field_name` (the lookups of
        // `field` and `field_value`) reads, so a field is found under the name it lists.
        let mut named = false;
        for entry in Entries::new(bytes).map_while(Result::ok) {
            match (entry.tag, entry.wire_type) {
                (1, LEN) if !named => {
                    field.name = entry.data;
                    named = true;
                }
                (2, VARINT) => field.value_type = entry.scalar as i32,
                (3, LEN) => field.representation = entry.data,
                _ => {}
            }
        }
        field
    }

    pub fn name(&self) -> &'a [u8] {
        self.name
    }
    /// The field's encoded body, as on the wire.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    pub fn representation(&self) -> &'a [u8] {
        self.representation
    }
    /// The declared value type; `None` for a number outside Heka's enum.
    pub fn value_type(&self) -> Option<ValueType> {
        ValueType::try_from(self.value_type).ok()
    }

    /// The values of the declared type, in order (packed or unpacked on the wire).
    pub fn values(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        let value_type = self.value_type();
        Entries::new(self.bytes)
            .map_while(Result::ok)
            .flat_map(move |entry| ValuesOf::new(entry, value_type))
    }

    /// `Fields[name][..][array_index]`.
    pub fn value(&self, array_index: usize) -> Option<Value<'a>> {
        self.values().nth(array_index)
    }

    pub fn value_count(&self) -> usize {
        self.values().count()
    }
}

/// The values of `value_type` held by one entry of a field (several when packed).
struct ValuesOf<'a> {
    entry: Entry<'a>,
    value_type: Option<ValueType>,
    pos: usize,
    single_done: bool,
}

impl<'a> ValuesOf<'a> {
    fn new(entry: Entry<'a>, value_type: Option<ValueType>) -> Self {
        let wanted = match value_type {
            Some(ValueType::String) => entry.tag == 4,
            Some(ValueType::Bytes) => entry.tag == 5,
            Some(ValueType::Integer) => entry.tag == 6,
            Some(ValueType::Double) => entry.tag == 7,
            Some(ValueType::Bool) => entry.tag == 8,
            None => false,
        };
        ValuesOf {
            entry,
            value_type,
            pos: 0,
            single_done: !wanted,
        }
    }
}

impl<'a> Iterator for ValuesOf<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        if self.single_done {
            return None;
        }
        let e = &self.entry;
        let packed = e.wire_type == LEN;
        let value = match self.value_type? {
            ValueType::String | ValueType::Bytes => {
                self.single_done = true;
                if !packed {
                    return None;
                }
                if self.value_type == Some(ValueType::String) {
                    Value::String(e.data)
                } else {
                    Value::Bytes(e.data)
                }
            }
            ValueType::Integer | ValueType::Bool if !packed => {
                self.single_done = true;
                if e.wire_type != VARINT {
                    return None;
                }
                scalar_value(self.value_type?, e.scalar)
            }
            ValueType::Integer | ValueType::Bool => {
                if self.pos >= e.data.len() {
                    return None;
                }
                let raw = read_varint(e.data, &mut self.pos).ok()?;
                scalar_value(self.value_type?, raw)
            }
            ValueType::Double if !packed => {
                self.single_done = true;
                if e.wire_type != FIXED64 {
                    return None;
                }
                Value::Double(f64::from_bits(e.scalar))
            }
            ValueType::Double => {
                let chunk = e.data.get(self.pos..self.pos + 8)?;
                self.pos += 8;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(chunk);
                Value::Double(f64::from_le_bytes(raw))
            }
        };
        Some(value)
    }
}

fn scalar_value(value_type: ValueType, raw: u64) -> Value<'static> {
    if value_type == ValueType::Bool {
        Value::Bool(raw != 0)
    } else {
        Value::Integer(raw as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderIndex;
    use crate::message::writer::{MessageWriter, Values};

    /// Found by the `message` fuzz target (issue 23): a field whose first name entry is
    /// empty and a second one "zero" was listed as "zero" by `fields()` but not found by
    /// `field(b"zero", 0)` (nor by the matcher's `field_value`), which read the first.
    #[test]
    fn a_field_is_found_under_the_name_it_lists() {
        use super::{ScannedMessage, Value};
        // Field: name "" then name "zero", type INTEGER, value 0.
        let field = [
            0x0a, 0x00, 0x0a, 0x04, b'z', b'e', b'r', b'o', 0x10, 0x02, 0x30, 0x00,
        ];
        let mut msg = vec![0x52, field.len() as u8];
        msg.extend_from_slice(&field);
        let scanned = ScannedMessage::new(&msg).expect("valid");
        let view = scanned.view();
        let listed: Vec<&[u8]> = view.fields().map(|f| f.name()).collect();
        assert_eq!(listed, vec![&b""[..]]);
        assert!(view.field(b"", 0).is_some());
        assert!(view.field(b"zero", 0).is_none());
        assert_eq!(view.field_value(b"", 0, 0), Some(Value::Integer(0)));
    }

    /// The fast scan and the checked scan agree on every truncation and on damaged bytes
    /// at every offset: the same index, or the same error.
    #[test]
    fn the_fast_scan_agrees_with_the_checked_scan() {
        let mut good = Vec::new();
        MessageWriter::new(&mut good)
            .uuid(&[7; 16])
            .timestamp(1_428_773_426_113_040_228)
            .r#type(b"nginx")
            .severity(3)
            .payload(b"a payload")
            .pid(-2)
            .field(b"status", b"", Values::Integer(&[404, 1 << 40]))
            .field(b"path", b"uri", Values::String(&[b"/x"]));
        let mut cases = vec![good.clone()];
        for end in 0..good.len() {
            cases.push(good[..end].to_vec());
        }
        for at in 0..good.len() {
            for byte in [0x00, 0x07, 0x0d, 0x7f, 0x80, 0xff, good[at] ^ 0x02] {
                let mut damaged = good.clone();
                damaged[at] = byte;
                cases.push(damaged);
            }
        }
        cases.push([good.clone(), vec![0x80; 11]].concat());
        for case in &cases {
            assert_eq!(
                HeaderIndex::scan(case),
                HeaderIndex::scan_checked(case),
                "{case:02x?}"
            );
        }
        assert!(HeaderIndex::scan(&good).is_ok());
    }
}
