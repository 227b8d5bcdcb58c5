//! HekaFramingSplitter (§2.3, §2.4): finds Heka frames, resynchronising on the next
//! record separator after garbage or a bad header, and authenticates signed frames
//! against `[name.signer.<signer>_<version>] hmac_key`.

use super::{decode, Splitter, Unframed};
use crate::config::{ConfigError, PluginSection};
use crate::framing::{HEADER_FRAMING_SIZE, RECORD_SEPARATOR, UNIT_SEPARATOR};
use crate::message::wire::{Entries, LEN, VARINT};
use crate::message::HmacHashFunction;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;

#[derive(Debug, Deserialize)]
struct SignerKey {
    hmac_key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FramingConfig {
    skip_authentication: bool,
    signer: BTreeMap<String, SignerKey>,
}

/// The HekaFramingSplitter.
pub struct HekaFramingSplitter {
    max_message_size: u32,
    skip_authentication: bool,
    /// `<signer>_<version>` ⇒ how its frames are checked.
    keys: BTreeMap<String, Check>,
    message_bytes: bool,
    /// Refuses unsigned frames (set by the disk-queue reader in segments hekad wrote,
    /// where every frame has a checksum, so message bytes that look like a frame are
    /// never taken for one).
    signed_only: bool,
}

/// How frames of one signer and key version are checked.
enum Check {
    /// HMAC (MD5 or SHA1, as the header says) with this key: every configured signer.
    Hmac(Vec<u8>),
    /// CRC-32 of the message (`framing::write_checksummed_frame`): hekad's own files only.
    Checksum,
}

/// A frame header read in place (no allocation).
#[derive(Debug, Default, Clone, Copy)]
pub struct FrameHeader<'a> {
    pub message_length: Option<u64>,
    pub hash: i32,
    pub signer: Option<&'a [u8]>,
    pub key_version: u64,
    pub hmac: Option<&'a [u8]>,
}

impl<'a> FrameHeader<'a> {
    /// Parses header bytes; `None` if they are not valid protobuf.
    pub fn parse(bytes: &'a [u8]) -> Option<FrameHeader<'a>> {
        let mut h = FrameHeader::default();
        for entry in Entries::new(bytes) {
            let e = entry.ok()?;
            match (e.tag, e.wire_type) {
                (1, VARINT) => h.message_length = Some(e.scalar),
                (3, VARINT) => h.hash = e.scalar as i32,
                (4, LEN) => h.signer = Some(e.data),
                (5, VARINT) => h.key_version = e.scalar,
                (6, LEN) => h.hmac = Some(e.data),
                _ => {}
            }
        }
        Some(h)
    }
}

impl HekaFramingSplitter {
    /// A splitter for messages up to `max_message_size` with no signer keys.
    pub fn new(max_message_size: u32) -> HekaFramingSplitter {
        HekaFramingSplitter {
            max_message_size,
            skip_authentication: false,
            keys: BTreeMap::new(),
            message_bytes: true,
            signed_only: false,
        }
    }

    /// Whether unsigned frames are refused from now on (see `signed_only`).
    pub fn set_signed_only(&mut self, signed_only: bool) {
        self.signed_only = signed_only;
    }

    /// Accepts signed frames without checking them (tools that only read streams).
    pub fn without_authentication(mut self) -> Self {
        self.skip_authentication = true;
        self
    }

    /// Adds a signer key, as `[name.signer.<signer>_<version>] hmac_key` does.
    pub fn with_key(mut self, signer_version: &str, key: &[u8]) -> Self {
        self.keys
            .insert(signer_version.to_owned(), Check::Hmac(key.to_vec()));
        self
    }

    /// Accepts frames of `signer_version` whose `hmac` is a CRC-32 of the message (hekad's
    /// disk queue). Never reachable from a config file.
    pub fn with_checksum(mut self, signer_version: &str) -> Self {
        self.keys.insert(signer_version.to_owned(), Check::Checksum);
        self
    }

    fn authenticate<'r>(
        &self,
        header: &FrameHeader<'r>,
        msg: &[u8],
    ) -> Result<Option<&'r str>, &'static str> {
        let signer = header
            .signer
            .map(|s| std::str::from_utf8(s).map_err(|_| "signer name is not UTF-8"))
            .transpose()?;
        let Some(hmac) = header.hmac else {
            if self.signed_only {
                return Err("unsigned frame where every frame is signed");
            }
            // Heka accepts unsigned frames and (QUIRK) still reports the named signer.
            return Ok(signer);
        };
        let Some(name) = signer else {
            return Err("signed frame without a signer name");
        };
        let mut lookup = heapless::String::<128>::new();
        use std::fmt::Write as _;
        if write!(lookup, "{name}_{}", header.key_version).is_err() {
            return Err("signer name too long");
        }
        let valid = match self.keys.get(lookup.as_str()) {
            None => return Err("unknown signer or key version"),
            Some(Check::Hmac(key)) => crate::framing::verify_digest(
                header.hash == HmacHashFunction::Sha1 as i32,
                key,
                msg,
                hmac,
            ),
            Some(Check::Checksum) => crate::framing::checksum_matches(msg, hmac),
        };
        if valid {
            Ok(Some(name))
        } else {
            Err("HMAC signature does not match")
        }
    }
}

pub fn from_section(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<Box<dyn Splitter>, Vec<ConfigError>> {
    let (c, common, errors): (FramingConfig, _, _) = decode(section, max_message_size)?;
    let mut splitter = HekaFramingSplitter::new(max_message_size);
    splitter.skip_authentication = c.skip_authentication;
    splitter.message_bytes = common.use_message_bytes.unwrap_or(true);
    for (name, key) in c.signer {
        splitter
            .keys
            .insert(name, Check::Hmac(key.hmac_key.into_bytes()));
    }
    errors.finish(|| Box::new(splitter) as Box<dyn Splitter>)
}

impl Splitter for HekaFramingSplitter {
    fn find_record(&mut self, window: &[u8]) -> (usize, Option<Range<usize>>) {
        let mut from = 0;
        loop {
            let Some(rs) = memchr::memchr(RECORD_SEPARATOR, &window[from..]).map(|i| from + i)
            else {
                return (window.len(), None);
            };
            let Some(&hlen) = window.get(rs + 1) else {
                return (rs, None);
            };
            let header_end = rs + hlen as usize + HEADER_FRAMING_SIZE;
            if window.len() < header_end {
                return (rs, None);
            }
            if window[header_end - 1] == UNIT_SEPARATOR {
                match FrameHeader::parse(&window[rs + 2..header_end - 1]).and_then(|h| h.message_length) {
                    Some(len) if len <= u64::from(self.max_message_size) => {
                        let end = header_end + len as usize;
                        if window.len() < end {
                            return (rs, None);
                        }
                        return (end, Some(rs..end));
                    }
                    Some(len) => log::error!(
                        "HekaFramingSplitter: message exceeds the maximum length [{} bytes] len: {len}",
                        self.max_message_size
                    ),
                    None => log::debug!("HekaFramingSplitter: undecodable frame header"),
                }
            }
            from = rs + 1;
        }
    }

    fn unframe<'r>(&mut self, record: &'r [u8]) -> Unframed<'r> {
        let hlen = record.get(1).copied().unwrap_or(0) as usize;
        let start = (hlen + HEADER_FRAMING_SIZE).min(record.len());
        let msg = &record[start..];
        // A header this short holds no signature: nothing to check (the common case of
        // an unsigned stream), unless only signed frames are taken.
        if self.skip_authentication || (start <= 16 && !self.signed_only) {
            return Unframed::Message {
                bytes: msg,
                signer: None,
            };
        }
        let Some(header) = FrameHeader::parse(&record[2..start - 1]) else {
            return Unframed::Rejected {
                reason: "undecodable frame header",
            };
        };
        match self.authenticate(&header, msg) {
            Ok(signer) => Unframed::Message { bytes: msg, signer },
            Err(reason) => Unframed::Rejected { reason },
        }
    }

    fn use_message_bytes(&self) -> bool {
        self.message_bytes
    }

    fn resync(&self, record: &[u8]) -> Option<usize> {
        let hlen = *record.get(1)? as usize;
        let mut from = hlen + HEADER_FRAMING_SIZE;
        while from < record.len() {
            let rs = from + memchr::memchr(RECORD_SEPARATOR, &record[from..])?;
            let Some(&next_hlen) = record.get(rs + 1) else {
                // The record ends on what may be a frame start: the splitter decides.
                return Some(rs);
            };
            let header_end = rs + next_hlen as usize + HEADER_FRAMING_SIZE;
            if header_end > record.len() {
                return Some(rs);
            }
            let valid = record[header_end - 1] == UNIT_SEPARATOR
                && FrameHeader::parse(&record[rs + 2..header_end - 1])
                    .and_then(|h| h.message_length)
                    .is_some_and(|len| len <= u64::from(self.max_message_size));
            if valid {
                return Some(rs);
            }
            from = rs + 1;
        }
        None
    }
}
