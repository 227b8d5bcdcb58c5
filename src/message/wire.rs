//! Minimal protobuf wire-format reading over byte slices: the building block of the
//! zero-copy [`super::view::MessageView`]. Every read is bounds-checked and reports the
//! offset where the data went wrong.

/// Why bytes are not a valid protobuf encoding, and where (offset into the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireError {
    pub offset: usize,
    pub reason: &'static str,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid protobuf at byte {}: {}",
            self.offset, self.reason
        )
    }
}

impl std::error::Error for WireError {}

/// Protobuf wire types used by Heka messages.
pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const FIXED32: u8 = 5;

/// Reads a varint at `*pos`, advancing it.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    // Keys, lengths and most small values are one byte: no loop for them.
    match buf.get(*pos) {
        Some(&b) if b < 0x80 => {
            *pos += 1;
            Ok(u64::from(b))
        }
        _ => read_long_varint(buf, pos),
    }
}

/// The loop behind `read_varint`, kept plain (a `step_by` range costs 3x at opt-level "s").
fn read_long_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let start = *pos;
    let mut at = start;
    let mut value: u64 = 0;
    let mut shift = 0;
    while shift < 64 {
        let Some(&b) = buf.get(at) else {
            return Err(WireError {
                offset: start,
                reason: "truncated varint",
            });
        };
        at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            *pos = at;
            return Ok(value);
        }
        shift += 7;
    }
    Err(WireError {
        offset: start,
        reason: "varint longer than 10 bytes",
    })
}

/// One decoded key/value entry of a protobuf message.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub tag: u32,
    pub wire_type: u8,
    /// Varint value, or the raw fixed64 bits; 0 for length-delimited entries.
    pub scalar: u64,
    /// Payload of a length-delimited entry; empty otherwise.
    pub data: &'a [u8],
    /// Offset of the entry's payload inside the buffer being walked.
    pub offset: usize,
    /// Offset of the entry's key: where the whole entry starts.
    pub key_at: usize,
}

/// Iterates over the top-level entries of one protobuf message, stopping at the first error.
pub struct Entries<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Entries<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Entries {
            buf,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let result = next_entry(self.buf, &mut self.pos);
        self.failed = result.is_err();
        Some(result)
    }
}

fn next_entry<'a>(buf: &'a [u8], pos: &mut usize) -> Result<Entry<'a>, WireError> {
    let key_at = *pos;
    let key = read_varint(buf, pos)?;
    let tag = (key >> 3) as u32;
    let wire_type = (key & 7) as u8;
    if tag == 0 {
        return Err(WireError {
            offset: key_at,
            reason: "field number 0",
        });
    }
    let offset = *pos;
    let mut entry = Entry {
        tag,
        wire_type,
        scalar: 0,
        data: &[],
        offset,
        key_at,
    };
    match wire_type {
        VARINT => entry.scalar = read_varint(buf, pos)?,
        FIXED64 | FIXED32 => {
            let width = if wire_type == FIXED64 { 8 } else { 4 };
            let Some(bytes) = buf.get(*pos..*pos + width) else {
                return Err(WireError {
                    offset,
                    reason: "truncated fixed-width value",
                });
            };
            let mut raw = [0u8; 8];
            raw[..width].copy_from_slice(bytes);
            entry.scalar = u64::from_le_bytes(raw);
            *pos += width;
        }
        LEN => {
            let len = read_varint(buf, pos)? as usize;
            let start = *pos;
            let Some(data) = start.checked_add(len).and_then(|end| buf.get(start..end)) else {
                return Err(WireError {
                    offset,
                    reason: "length runs past the end",
                });
            };
            entry.data = data;
            entry.offset = start;
            *pos = start + len;
        }
        _ => {
            return Err(WireError {
                offset: key_at,
                reason: "unsupported wire type",
            })
        }
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_every_length_and_their_errors() {
        for value in [0, 1, 127, 128, 300, 1 << 35, u64::MAX - 1, u64::MAX] {
            let mut buf = vec![0xaa];
            prost::encoding::encode_varint(value, &mut buf);
            buf.push(0xbb);
            let mut pos = 1;
            assert_eq!(read_varint(&buf, &mut pos), Ok(value));
            assert_eq!(buf[pos], 0xbb, "{value}");
        }
        let mut pos = 1;
        let err = read_varint(&[0, 0x80, 0x80], &mut pos).unwrap_err();
        assert_eq!((err.offset, err.reason), (1, "truncated varint"));
        let err = read_varint(&[0xff; 11], &mut 0).unwrap_err();
        assert_eq!((err.offset, err.reason), (0, "varint longer than 10 bytes"));
        assert_eq!(pos, 1, "a failed read leaves the position");
    }
}
