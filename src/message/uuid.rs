//! Heka uuids: 16 raw bytes on the wire, lowercase `8-4-4-4-12` hex in text.

/// Length of the dashed text form.
pub const TEXT_LEN: usize = 36;

/// A random RFC 4122 version-4 uuid.
pub fn new_v4() -> [u8; 16] {
    let mut bytes = fastrand::u128(..).to_le_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes
}

/// Writes the dashed lowercase text form of a 16-byte uuid into `out` and returns it;
/// any other length gives `""`, as Heka does.
pub fn format<'o>(raw: &[u8], out: &'o mut [u8; TEXT_LEN]) -> &'o str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if raw.len() != 16 {
        return "";
    }
    let mut o = 0;
    for (i, b) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[o] = b'-';
            o += 1;
        }
        out[o] = HEX[usize::from(b >> 4)];
        out[o + 1] = HEX[usize::from(b & 0xf)];
        o += 2;
    }
    // Only ASCII hex digits and dashes were written.
    std::str::from_utf8(&out[..]).unwrap_or("")
}

/// Parses the dashed (or undashed) hex text form into 16 bytes.
pub fn parse(text: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut digits = text.bytes().filter(|&c| c != b'-');
    for byte in out.iter_mut() {
        let hi = (digits.next()? as char).to_digit(16)?;
        let lo = (digits.next()? as char).to_digit(16)?;
        *byte = (hi << 4 | lo) as u8;
    }
    digits.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let raw = parse("230081dc-326f-4e3f-9a5a-9386a37e246f").expect("valid uuid");
        let mut buf = [0u8; TEXT_LEN];
        assert_eq!(
            format(&raw, &mut buf),
            "230081dc-326f-4e3f-9a5a-9386a37e246f"
        );
        assert_eq!(format(&raw[..15], &mut buf), "");
        assert!(parse("230081dc").is_none());
    }

    #[test]
    fn v4_has_version_bits() {
        let u = new_v4();
        assert_eq!(u[6] >> 4, 4);
        assert_eq!(u[8] >> 6, 2);
    }
}
