//! Disk-queue segments as hekad's reader reads them after a restart
//! (`pipeline::queue::reader::read_queue_dir`): CRC-32 checksummed Heka frames.
//!
//! Input: a mode byte, then either raw segment bytes (even mode) or the text of messages
//! separated by 0xFF, framed as the queue writer frames them, with one byte of the
//! segment then flipped (odd mode: the first two bytes say where and how).
//!
//! Invariants:
//! - any segment reads without a panic, and only valid messages come out;
//! - with one flipped byte, every message but at most the one whose frame holds it is
//!   read back, unchanged, once, in order (a damaged length must not take the frames
//!   after it along, nor payload bytes that look like an unsigned frame).
#![no_main]

use hekad::framing;
use hekad::message::{Message, ScannedMessage};
use hekad::pipeline::queue::reader::read_queue_dir;
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use std::path::PathBuf;

const MAX: u32 = 8192;

fn read(segment: &[u8]) -> Vec<Vec<u8>> {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("hekad-fuzz-queue-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("queue dir");
    std::fs::write(dir.join("1.log"), segment).expect("segment");
    read_queue_dir(&dir, MAX).expect("read queue")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        for m in read(rest) {
            assert!(
                ScannedMessage::new(&m).is_ok(),
                "an invalid message came out"
            );
        }
        return;
    }
    let [at_hi, flip, rest @ ..] = rest else {
        return;
    };
    let mut originals = Vec::new();
    let mut segment = Vec::new();
    for (i, text) in rest.split(|&b| b == 0xFF).enumerate().take(64) {
        let msg = Message {
            uuid: (i as u128).to_be_bytes().to_vec(),
            timestamp: i as i64,
            payload: Some(text.to_vec()),
            ..Default::default()
        }
        .encode_to_vec();
        if framing::write_checksummed_frame(&msg, "hekad-queue", 2, MAX, &mut segment).is_ok() {
            originals.push(msg);
        }
    }
    if segment.is_empty() {
        return;
    }
    let at = (usize::from(*at_hi) << 8 | usize::from(mode)) % segment.len();
    segment[at] ^= flip | 1;
    let got = read(&segment);
    let mut last = None;
    let mut seen = 0;
    for m in &got {
        assert!(ScannedMessage::new(m).is_ok());
        // A damaged message may hold a whole signed frame in its payload, which is then
        // read: only originals are checked (unsigned frames are refused).
        let Some(i) = originals.iter().position(|o| o == m) else {
            continue;
        };
        assert!(
            last.is_none_or(|l| i > l),
            "message {i} out of order or twice"
        );
        last = Some(i);
        seen += 1;
    }
    assert!(
        seen + 1 >= originals.len(),
        "one flipped byte lost {} of {} messages",
        originals.len() - seen,
        originals.len()
    );
});
