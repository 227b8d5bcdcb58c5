//! TokenSplitter, RegexSplitter and PatternGroupingSplitter over a SplitterBuffer.
//!
//! Input: `kind-byte chunk-byte settings \0 stream`. The settings are the token byte and
//! count, the delimiter regex, or `delimiter \x01 grouping` regexes.
//!
//! Invariants (every splitter):
//! - records come out in stream order and never share a byte (nothing delivered twice),
//!   and each is the stream's bytes at its offsets;
//! TokenSplitter, additionally:
//! - every record ends with its count-th delimiter and holds no other record's bytes;
//! - records, oversized drops and the unconsumed rest add up to the whole stream (no
//!   byte skipped), and reading in small chunks gives the same records as reading whole.
#![no_main]

use hekad::config::{Category, PluginSection};
use hekad::splitters::buffer::{Next, SplitterBuffer};
use hekad::splitters::regex::RegexSplitter;
use hekad::splitters::token::TokenSplitter;
use hekad::splitters::{pattern_grouping, Splitter};
use libfuzzer_sys::fuzz_target;

const MAX_RECORD: usize = 512;

#[derive(Debug, PartialEq)]
enum Out {
    Record {
        at: u64,
        bytes: Vec<u8>,
    },
    Oversized {
        len: usize,
        truncated: Option<(u64, Vec<u8>)>,
    },
}

struct Run {
    out: Vec<Out>,
    rest: Vec<u8>,
    garbage: u64,
}

fn drive(splitter: &mut dyn Splitter, stream: &[u8], chunk: usize, keep: bool) -> Run {
    let mut buffer = SplitterBuffer::new(16, MAX_RECORD, keep);
    let mut read = 0;
    let mut out = Vec::new();
    loop {
        let base = buffer.offset() - buffer.offset_in_data() as u64;
        match buffer.next_record(splitter) {
            Next::Record(r) => out.push(Out::Record {
                at: base + r.start as u64,
                bytes: buffer.data()[r].to_vec(),
            }),
            Next::Oversized { truncated, len, .. } => out.push(Out::Oversized {
                len,
                truncated: truncated.map(|r| (base + r.start as u64, buffer.data()[r].to_vec())),
            }),
            Next::NeedData => {
                if read == stream.len() {
                    return Run {
                        out,
                        rest: buffer.remaining().to_vec(),
                        garbage: buffer.garbage_bytes(),
                    };
                }
                let spare = buffer.spare();
                let n = spare.len().min(stream.len() - read).min(chunk.max(1));
                spare[..n].copy_from_slice(&stream[read..read + n]);
                buffer.filled(n);
                read += n;
            }
        }
    }
}

fn check_order(run: &Run, stream: &[u8]) {
    let mut next_free = 0u64;
    for o in &run.out {
        let (at, bytes) = match o {
            Out::Record { at, bytes } => (*at, bytes),
            Out::Oversized {
                truncated: Some((at, bytes)),
                ..
            } => (*at, bytes),
            Out::Oversized {
                truncated: None, ..
            } => continue,
        };
        assert!(
            at >= next_free,
            "bytes at {at} delivered twice (free from {next_free})"
        );
        let end = at + bytes.len() as u64;
        assert!(end <= stream.len() as u64);
        assert_eq!(
            &stream[at as usize..end as usize],
            &bytes[..],
            "record differs from the stream"
        );
        next_free = end;
    }
}

fn section(type_name: &str, keys: &[(&str, &str)]) -> PluginSection {
    let mut table = toml::Table::new();
    for (k, v) in keys {
        table.insert((*k).into(), toml::Value::String((*v).into()));
    }
    PluginSection {
        name: "fuzz".into(),
        type_name: type_name.into(),
        category: Category::Splitter,
        file: "fuzz.toml".into(),
        table,
    }
}

fuzz_target!(|data: &[u8]| {
    let [kind, chunk, rest @ ..] = data else {
        return;
    };
    let (settings, stream) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let keep = kind & 0x10 != 0;
    let chunk = 1 + *chunk as usize % 64;
    match kind % 3 {
        0 => {
            let delimiter = settings.first().copied().unwrap_or(b'\n');
            let count = settings.get(1).map_or(1, |&c| 1 + c as usize % 4);
            let whole = drive(
                &mut TokenSplitter::new(delimiter, count),
                stream,
                4096,
                keep,
            );
            check_order(&whole, stream);
            let mut accounted = whole.rest.len() as u64 + whole.garbage;
            for o in &whole.out {
                match o {
                    Out::Record { bytes, .. } => {
                        assert_eq!(bytes.last(), Some(&delimiter));
                        assert_eq!(bytes.iter().filter(|&&b| b == delimiter).count(), count);
                        accounted += bytes.len() as u64;
                    }
                    Out::Oversized { len, .. } => accounted += *len as u64,
                }
            }
            assert_eq!(accounted, stream.len() as u64, "token splitter lost bytes");
            let chunked = drive(
                &mut TokenSplitter::new(delimiter, count),
                stream,
                chunk,
                keep,
            );
            if !whole.out.iter().any(|o| matches!(o, Out::Oversized { .. })) {
                assert_eq!(chunked.out, whole.out, "chunked reads split differently");
            }
            check_order(&chunked, stream);
        }
        1 => {
            let Ok(text) = std::str::from_utf8(settings) else {
                return;
            };
            let Ok(mut s) = RegexSplitter::new(text, kind & 0x20 != 0) else {
                return;
            };
            let run = drive(&mut s, stream, chunk, keep);
            check_order(&run, stream);
        }
        _ => {
            let Ok(text) = std::str::from_utf8(settings) else {
                return;
            };
            let (delimiter, grouping) = text.split_once('\x01').unwrap_or(("\n", text));
            let sec = section(
                "PatternGroupingSplitter",
                &[("delimiter", delimiter), ("grouping", grouping)],
            );
            let Ok(mut s) = pattern_grouping::from_section(&sec, 400) else {
                return;
            };
            let run = drive(&mut *s, stream, chunk, keep);
            check_order(&run, stream);
        }
    }
});
