//! Heka stream framing: HekaFramingSplitter over a SplitterBuffer, driven the way
//! `plugins/inputs/deliver.rs` drives it (unframe, validate, resync into a damaged record).
//!
//! Invariants:
//! - the messages delivered never share a byte of the stream (nothing delivered twice);
//! - reading the stream in small chunks delivers exactly what reading it whole does;
//! - a delivered frame whose header is canonical re-encodes byte-identical with
//!   `framing::write_frame` (signed frames with the same signer and key);
//! - frames written by `write_frame` between garbage that holds no record separator are
//!   all delivered, in order, unchanged (nothing skipped after garbage).
#![no_main]

use hekad::framing::{self, SignerConfig};
use hekad::message::{Message, ScannedMessage};
use hekad::splitters::buffer::{Next, SplitterBuffer};
use hekad::splitters::heka_framing::HekaFramingSplitter;
use hekad::splitters::{Splitter, Unframed};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

const MAX_MESSAGE_SIZE: u32 = 4096;
const KEY: &str = "testkey";

#[derive(Debug, PartialEq)]
struct Delivered {
    /// Stream offsets of the message bytes (header excluded).
    start: u64,
    end: u64,
    record: Vec<u8>,
    message: Vec<u8>,
    signer: Option<String>,
}

fn splitter() -> HekaFramingSplitter {
    HekaFramingSplitter::new(MAX_MESSAGE_SIZE)
        .with_key("test_1", KEY.as_bytes())
        .with_key("test_2", KEY.as_bytes())
}

/// Splits `stream` read `chunk` bytes at a time (0: as much as the buffer takes).
fn drive(stream: &[u8], chunk: usize) -> Vec<Delivered> {
    let mut splitter = splitter();
    let mut buffer = SplitterBuffer::new(64, framing::max_record_size(MAX_MESSAGE_SIZE), false);
    let mut read = 0;
    let mut out = Vec::new();
    loop {
        match buffer.next_record(&mut splitter) {
            Next::Record(range) => {
                let base = buffer.offset() - buffer.offset_in_data() as u64;
                let record = buffer.data()[range.clone()].to_vec();
                let record_at = base + range.start as u64;
                match splitter.unframe(&record) {
                    Unframed::Message { bytes, signer } => {
                        if ScannedMessage::new(bytes).is_ok() {
                            let header = record.len() - bytes.len();
                            out.push(Delivered {
                                start: record_at + header as u64,
                                end: record_at + record.len() as u64,
                                record: record.clone(),
                                message: bytes.to_vec(),
                                signer: signer.map(str::to_owned),
                            });
                        } else if let Some(at) = splitter.resync(&record) {
                            assert!(
                                at > 0 && at < record.len(),
                                "resync {at} of {}",
                                record.len()
                            );
                            buffer.rewind_to(range.start + at);
                        }
                    }
                    Unframed::Rejected { .. } => {}
                }
            }
            Next::NeedData => {
                if read == stream.len() {
                    return out;
                }
                let spare = buffer.spare();
                let mut n = spare.len().min(stream.len() - read);
                if chunk > 0 {
                    n = n.min(chunk);
                }
                spare[..n].copy_from_slice(&stream[read..read + n]);
                buffer.filled(n);
                read += n;
            }
            Next::Oversized { .. } => panic!("a framing record cannot outgrow MAX_RECORD_SIZE"),
        }
    }
}

fn check_reencodes(d: &Delivered) {
    let Some(header) = framing::parse_header(&d.record) else {
        panic!("a delivered frame has an undecodable header");
    };
    let hlen = d.record[1] as usize;
    if header.encode_to_vec() != d.record[2..2 + hlen] {
        return; // not canonical (unknown fields, long varints): nothing to compare
    }
    // Only headers of the shape write_frame writes can come back byte-identical.
    let signer = match (&header.hmac, &d.signer) {
        (None, _) => {
            if header.hmac_signer.is_some()
                || header.hmac_key_version.is_some()
                || header.hmac_hash_function.is_some()
            {
                return;
            }
            None
        }
        (Some(_), Some(name)) => {
            let sha1 = match header.hmac_hash_function {
                None => false,
                Some(1) => true,
                Some(_) => return,
            };
            let Some(version) = header.hmac_key_version else {
                return;
            };
            Some(SignerConfig {
                name: name.clone(),
                hmac_hash: if sha1 { "sha1" } else { "md5" }.into(),
                hmac_key: KEY.into(),
                version,
            })
        }
        (Some(_), None) => panic!("a signed frame was delivered without its signer"),
    };
    let mut again = Vec::new();
    framing::write_frame(&d.message, signer.as_ref(), MAX_MESSAGE_SIZE, &mut again)
        .expect("a delivered message fits");
    assert_eq!(again, d.record, "re-encoded frame differs");
}

/// Frames messages made from `data` between garbage without record separators.
fn constructed(data: &[u8]) {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for (i, piece) in data.split(|&b| b == 0xFF).enumerate() {
        if i % 2 == 0 {
            stream.extend(piece.iter().map(|&b| {
                if b == framing::RECORD_SEPARATOR {
                    b'.'
                } else {
                    b
                }
            }));
            continue;
        }
        let msg = Message {
            uuid: vec![i as u8; 16],
            timestamp: i as i64,
            payload: Some(piece.to_vec()),
            ..Default::default()
        }
        .encode_to_vec();
        let signer = match piece.first().map(|b| b % 3) {
            Some(1) => Some(SignerConfig {
                name: "test".into(),
                hmac_hash: "md5".into(),
                hmac_key: KEY.into(),
                version: 1,
            }),
            Some(2) => Some(SignerConfig {
                name: "test".into(),
                hmac_hash: "sha1".into(),
                hmac_key: KEY.into(),
                version: 2,
            }),
            _ => None,
        };
        if framing::write_frame(&msg, signer.as_ref(), MAX_MESSAGE_SIZE, &mut stream).is_ok() {
            expected.push(msg);
        }
    }
    for chunk in [0, 1, 7] {
        let got: Vec<Vec<u8>> = drive(&stream, chunk)
            .into_iter()
            .map(|d| d.message)
            .collect();
        assert_eq!(
            got, expected,
            "framed messages lost or changed after garbage (chunk {chunk})"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        constructed(rest);
        return;
    }
    let whole = drive(rest, 0);
    let mut last_end = 0;
    for d in &whole {
        assert!(d.start >= last_end, "stream bytes delivered twice: {d:?}");
        assert!(d.start <= d.end && d.end <= rest.len() as u64);
        assert_eq!(&rest[d.start as usize..d.end as usize], &d.message[..]);
        last_end = d.end;
        check_reencodes(d);
    }
    let chunk = 1 + (mode >> 1) as usize % 17;
    assert_eq!(drive(rest, chunk), whole, "chunked reads split differently");
});
