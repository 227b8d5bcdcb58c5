//! Heka stream framing (§2): `0x1E | header length | Header (protobuf) | 0x1F | message`,
//! with optional HMAC-MD5/SHA1 signatures over the message bytes.

use crate::message::{Header, HmacHashFunction};
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};
use prost::Message as _;
use std::cell::RefCell;

pub const RECORD_SEPARATOR: u8 = 0x1E;
pub const UNIT_SEPARATOR: u8 = 0x1F;
pub const MAX_HEADER_SIZE: usize = 255;
/// RS + header length byte + US.
pub const HEADER_FRAMING_SIZE: usize = 3;
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 65536;

/// Largest record a splitter accepts: framing + header + message (65794 by default).
pub fn max_record_size(max_message_size: u32) -> usize {
    HEADER_FRAMING_SIZE + MAX_HEADER_SIZE + max_message_size as usize
}

/// A signer's settings for writing signed frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerConfig {
    pub name: String,
    /// "sha1" selects HMAC-SHA1; anything else HMAC-MD5 (Heka's rule).
    pub hmac_hash: String,
    pub hmac_key: String,
    pub version: u32,
}

/// Why a frame could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    TooBig { size: usize, max: u32 },
    HeaderTooBig(usize),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooBig { size, max } => write!(
                f,
                "Message too big, requires {size} (MAX_MESSAGE_SIZE = {max})"
            ),
            FrameError::HeaderTooBig(n) => write!(
                f,
                "Message header too big, requires {n} (MAX_HEADER_SIZE = {MAX_HEADER_SIZE})"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// Appends one frame holding `msg` to `out`, signed when `signer` is given. Writes the
/// header straight into `out`: nothing is allocated besides `out` growing.
pub fn write_frame(
    msg: &[u8],
    signer: Option<&SignerConfig>,
    max_message_size: u32,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    check_size(msg, max_message_size)?;
    let mut digest = [0u8; 20];
    let signature = signer.map(|s| {
        let sha1 = s.hmac_hash == "sha1";
        let len = sign(sha1, s.hmac_key.as_bytes(), msg, &mut digest);
        Signature {
            name: s.name.as_bytes(),
            version: s.version,
            sha1,
            digest: &digest[..len],
        }
    });
    write_with(msg, signature, out)
}

/// Appends one frame holding `msg` whose `hmac` field is a CRC-32 of the message under
/// `name`/`version`: an integrity check for hekad's own files (the disk queue), many times
/// cheaper than an HMAC. Only code chooses it: a configured signer is always an HMAC, and a
/// splitter accepts a checksum only for a name it was given with
/// `HekaFramingSplitter::with_checksum`, so a checksum can never pass as a signature.
pub fn write_checksummed_frame(
    msg: &[u8],
    name: &str,
    version: u32,
    max_message_size: u32,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    check_size(msg, max_message_size)?;
    let digest = crc32fast::hash(msg).to_be_bytes();
    let signature = Signature {
        name: name.as_bytes(),
        version,
        sha1: false,
        digest: &digest,
    };
    write_with(msg, Some(signature), out)
}

/// Whether `expected` is the CRC-32 [`write_checksummed_frame`] wrote for `msg`.
pub fn checksum_matches(msg: &[u8], expected: &[u8]) -> bool {
    expected == crc32fast::hash(msg).to_be_bytes()
}

fn check_size(msg: &[u8], max_message_size: u32) -> Result<(), FrameError> {
    if msg.len() > max_message_size as usize {
        return Err(FrameError::TooBig {
            size: msg.len(),
            max: max_message_size,
        });
    }
    Ok(())
}

/// The signer fields of a frame header.
struct Signature<'a> {
    name: &'a [u8],
    version: u32,
    sha1: bool,
    digest: &'a [u8],
}

fn write_with(
    msg: &[u8],
    signed: Option<Signature<'_>>,
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let mut header_len = key_len(1) + encoded_len_varint(msg.len() as u64);
    if let Some(s) = &signed {
        if s.sha1 {
            header_len += key_len(3) + 1;
        }
        header_len += key_len(4) + encoded_len_varint(s.name.len() as u64) + s.name.len();
        header_len += key_len(5) + encoded_len_varint(u64::from(s.version));
        header_len += key_len(6) + encoded_len_varint(s.digest.len() as u64) + s.digest.len();
    }
    if header_len > MAX_HEADER_SIZE {
        return Err(FrameError::HeaderTooBig(header_len));
    }
    out.reserve(HEADER_FRAMING_SIZE + header_len + msg.len());
    out.push(RECORD_SEPARATOR);
    out.push(header_len as u8);
    encode_key(1, WireType::Varint, out);
    encode_varint(msg.len() as u64, out);
    if let Some(s) = signed {
        if s.sha1 {
            encode_key(3, WireType::Varint, out);
            encode_varint(HmacHashFunction::Sha1 as u64, out);
        }
        encode_key(4, WireType::LengthDelimited, out);
        encode_varint(s.name.len() as u64, out);
        out.extend_from_slice(s.name);
        encode_key(5, WireType::Varint, out);
        encode_varint(u64::from(s.version), out);
        encode_key(6, WireType::LengthDelimited, out);
        encode_varint(s.digest.len() as u64, out);
        out.extend_from_slice(s.digest);
    }
    out.push(UNIT_SEPARATOR);
    out.extend_from_slice(msg);
    Ok(())
}

/// HMAC-SHA1 (`sha1`) or HMAC-MD5 of `msg` into `out`; returns the digest length.
pub fn sign(sha1: bool, key: &[u8], msg: &[u8], out: &mut [u8; 20]) -> usize {
    let bytes = if sha1 {
        keyed(&KEYED_SHA1, key).map(|mac| finish(mac, msg, out))
    } else {
        keyed(&KEYED_MD5, key).map(|mac| finish(mac, msg, out))
    };
    bytes.unwrap_or(0)
}

fn finish<D: EagerHash>(mut mac: Hmac<D>, msg: &[u8], out: &mut [u8; 20]) -> usize {
    mac.update(msg);
    let bytes = mac.finalize().into_bytes();
    let n = bytes.len().min(out.len());
    out[..n].copy_from_slice(&bytes[..n]);
    n
}

/// Constant-time check of an HMAC-SHA1 (`sha1`) or HMAC-MD5 signature of `msg`.
pub fn verify_digest(sha1: bool, key: &[u8], msg: &[u8], expected: &[u8]) -> bool {
    if sha1 {
        keyed(&KEYED_SHA1, key).is_some_and(|mac| check(mac, msg, expected))
    } else {
        keyed(&KEYED_MD5, key).is_some_and(|mac| check(mac, msg, expected))
    }
}

fn check<D: EagerHash>(mut mac: Hmac<D>, msg: &[u8], expected: &[u8]) -> bool {
    mac.update(msg);
    mac.verify_slice(expected).is_ok()
}

/// The last key used on this thread with its HMAC state already keyed. Keying hashes two
/// blocks; every disk-queue frame is signed and verified with the same key, so reusing the
/// keyed state saves a third of the hashing on ~200-byte messages.
type KeyedCache<D> = RefCell<Option<(Vec<u8>, Hmac<D>)>>;

thread_local! {
    static KEYED_MD5: KeyedCache<md5::Md5> = const { RefCell::new(None) };
    static KEYED_SHA1: KeyedCache<sha1::Sha1> = const { RefCell::new(None) };
}

fn keyed<D: EagerHash>(
    cache: &'static std::thread::LocalKey<KeyedCache<D>>,
    key: &[u8],
) -> Option<Hmac<D>>
where
    Hmac<D>: Clone,
{
    cache.with(|cell| {
        let mut cached = cell.borrow_mut();
        if let Some((k, mac)) = cached.as_ref() {
            if k == key {
                return Some(mac.clone());
            }
        }
        let mac = <Hmac<D> as KeyInit>::new_from_slice(key).ok()?;
        *cached = Some((key.to_vec(), mac.clone()));
        Some(mac)
    })
}

/// Decodes the header of a frame starting at `record[0] == RS`. `None` if the header is
/// not delimited by US or is not a valid protobuf.
pub fn parse_header(record: &[u8]) -> Option<Header> {
    let hlen = *record.get(1)? as usize;
    if *record.get(hlen + 2)? != UNIT_SEPARATOR {
        return None;
    }
    Header::decode(&record[2..hlen + 2]).ok()
}
