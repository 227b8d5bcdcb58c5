//! Heka stream framing (§2) and the splitters (§2.3–2.6) against the fixtures.

mod common;

use hekad::framing::{
    write_checksummed_frame, write_frame, SignerConfig, DEFAULT_MAX_MESSAGE_SIZE,
};
use hekad::splitters::buffer::{Next, SplitterBuffer};
use hekad::splitters::heka_framing::HekaFramingSplitter;
use hekad::splitters::regex::RegexSplitter;
use hekad::splitters::token::TokenSplitter;
use hekad::splitters::{Splitter, Unframed};

fn signer(hash: &str) -> SignerConfig {
    SignerConfig {
        name: "test".into(),
        hmac_hash: hash.into(),
        hmac_key: "testkey".into(),
        version: 1,
    }
}

#[test]
fn writes_fixture_frames_byte_identically() {
    let msg = common::read_fixture("streams/matcher_test_message.pb");
    for (signer, fixture) in [
        (None, "streams/matcher_test_message.framed"),
        (
            Some(signer("md5")),
            "streams/matcher_test_message.signed_md5.framed",
        ),
        (
            Some(signer("sha1")),
            "streams/matcher_test_message.signed_sha1.framed",
        ),
    ] {
        let mut out = Vec::new();
        write_frame(&msg, signer.as_ref(), DEFAULT_MAX_MESSAGE_SIZE, &mut out).expect("frame");
        assert_eq!(out, common::read_fixture(fixture), "{fixture}");
    }
    let err = write_frame(
        &vec![0; 70000],
        None,
        DEFAULT_MAX_MESSAGE_SIZE,
        &mut Vec::new(),
    )
    .expect_err("too big");
    assert_eq!(
        err.to_string(),
        "Message too big, requires 70000 (MAX_MESSAGE_SIZE = 65536)"
    );
}

/// All (consumed, record) pairs of repeated find_record calls over `data`.
fn split_calls(splitter: &mut dyn Splitter, data: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut calls = Vec::new();
    let mut rest = data;
    loop {
        let (consumed, record) = splitter.find_record(rest);
        if consumed == 0 && record.is_none() {
            return calls;
        }
        calls.push((
            consumed,
            record.map(|r| rest[r].to_vec()).unwrap_or_default(),
        ));
        rest = &rest[consumed..];
    }
}

#[test]
fn framing_resyncs_after_garbage_and_bad_headers() {
    let data = common::read_fixture("streams/framing_resync.bin");
    let calls = split_calls(
        &mut HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE),
        &data,
    );
    let consumed: Vec<usize> = calls.iter().map(|c| c.0).collect();
    assert_eq!(consumed, vec![67, 67, 72, 5]);
    assert_eq!(calls[2].1, data[139..206].to_vec());
    assert!(calls[3].1.is_empty());
    let bad = common::read_fixture("streams/framing_bad_header.bin");
    let calls = split_calls(
        &mut HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE),
        &bad,
    );
    assert_eq!(calls, vec![(72, bad[5..].to_vec())]);
}

fn records_through_buffer(splitter: &mut dyn Splitter, data: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let mut buffer = SplitterBuffer::new(1024, 65794, false);
    let mut records = Vec::new();
    for piece in data.chunks(chunk) {
        let mut piece = piece;
        while !piece.is_empty() {
            let spare = buffer.spare();
            let n = spare.len().min(piece.len());
            spare[..n].copy_from_slice(&piece[..n]);
            buffer.filled(n);
            piece = &piece[n..];
            while let Next::Record(r) = buffer.next_record(splitter) {
                records.push(buffer.data()[r].to_vec());
            }
        }
    }
    records
}

#[test]
fn multi_dat_and_large_records_split_whole_and_in_pieces() {
    let multi = common::read_fixture("streams/multi.dat");
    for chunk in [multi.len(), multi.len() / 2 + 1, 7, 1] {
        let records = records_through_buffer(
            &mut HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE),
            &multi,
            chunk,
        );
        assert_eq!(records.len(), 50, "chunk {chunk}");
        assert_eq!(records[49].len(), 215);
    }
    let large = common::read_fixture("streams/protobuf.log");
    let records = records_through_buffer(
        &mut HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE),
        &large,
        4096,
    );
    assert_eq!(records.len(), 7);
    assert!(records.iter().all(|r| r.len() > 36_000));
}

#[test]
fn signed_frames_authenticate_only_with_the_right_key() {
    for fixture in [
        "streams/matcher_test_message.signed_md5.framed",
        "streams/matcher_test_message.signed_sha1.framed",
    ] {
        let frame = common::read_fixture(fixture);
        let mut good =
            HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE).with_key("test_1", b"testkey");
        match good.unframe(&frame) {
            Unframed::Message { bytes, signer } => {
                assert_eq!(
                    bytes,
                    &common::read_fixture("streams/matcher_test_message.pb")[..]
                );
                assert_eq!(signer, Some("test"));
            }
            other => panic!("{fixture}: {other:?}"),
        }
        let mut wrong =
            HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE).with_key("test_1", b"other");
        assert!(
            matches!(wrong.unframe(&frame), Unframed::Rejected { .. }),
            "{fixture}"
        );
        let mut missing = HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE);
        assert!(
            matches!(missing.unframe(&frame), Unframed::Rejected { .. }),
            "{fixture}"
        );
    }
}

#[test]
fn checksummed_frames_pass_only_where_code_asked_for_a_checksum() {
    let msg = common::read_fixture("streams/matcher_test_message.pb");
    let mut frame = Vec::new();
    write_checksummed_frame(&msg, "hekad-queue", 2, DEFAULT_MAX_MESSAGE_SIZE, &mut frame)
        .expect("frame");
    let mut queue =
        HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE).with_checksum("hekad-queue_2");
    assert!(matches!(
        queue.unframe(&frame),
        Unframed::Message { bytes, .. } if bytes == &msg[..]
    ));
    // A flipped byte in the message is caught.
    let mut damaged = frame.clone();
    let last = damaged.len() - 3;
    damaged[last] ^= 0x20;
    assert!(matches!(queue.unframe(&damaged), Unframed::Rejected { .. }));
    // A configured signer of the same name and version is an HMAC: a checksum is no
    // signature, so nobody can forge a signed message with one.
    let mut configured = HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE)
        .with_key("hekad-queue_2", b"hekad-queue");
    assert!(matches!(
        configured.unframe(&frame),
        Unframed::Rejected { .. }
    ));
}

#[test]
fn token_and_regex_splitter_vectors() {
    let data = b"test1\ntest12\ntest123\npartial";
    let calls = split_calls(&mut TokenSplitter::new(b'\n', 1), data);
    assert_eq!(
        calls,
        vec![
            (6, b"test1\n".to_vec()),
            (7, b"test12\n".to_vec()),
            (8, b"test123\n".to_vec())
        ]
    );
    let calls = split_calls(&mut RegexSplitter::new("\n", true).expect("regex"), data);
    assert_eq!(
        calls,
        vec![
            (6, b"test1".to_vec()),
            (7, b"test12".to_vec()),
            (8, b"test123".to_vec())
        ]
    );
    let calls = split_calls(&mut RegexSplitter::new("(\n)", false).expect("regex"), data);
    assert_eq!(
        calls,
        vec![
            (5, b"test1".to_vec()),
            (7, b"\ntest12".to_vec()),
            (8, b"\ntest123".to_vec())
        ]
    );
    let calls = split_calls(&mut RegexSplitter::new("(\n)", true).expect("regex"), data);
    assert_eq!(calls[0], (6, b"test1\n".to_vec()));
    let err = RegexSplitter::new("(a)(b)", true)
        .err()
        .expect("two groups");
    assert!(err.contains("at most one capture group"), "{err}");
}

#[test]
fn oversized_records_are_dropped_with_offset_and_prefix() {
    let mut buffer = SplitterBuffer::new(16, 64, false);
    let mut splitter = TokenSplitter::new(b'\n', 1);
    let mut data = b"ok\n".to_vec();
    data.extend_from_slice(&[b'A'; 100]);
    data.extend_from_slice(b"\nnext\n");
    let mut events = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let spare = buffer.spare();
        let n = spare.len().min(rest.len());
        spare[..n].copy_from_slice(&rest[..n]);
        buffer.filled(n);
        rest = &rest[n..];
        loop {
            match buffer.next_record(&mut splitter) {
                Next::NeedData => break,
                Next::Record(r) => {
                    events.push(String::from_utf8_lossy(&buffer.data()[r]).into_owned())
                }
                Next::Oversized { error, .. } => events.push(error),
            }
        }
    }
    assert_eq!(events[0], "ok\n");
    assert!(
        events[1].contains("record exceeded MAX_RECORD_SIZE 64 at stream offset 3 and was dropped"),
        "{}",
        events[1]
    );
    assert!(events[1].contains("prefix \"AAAAAAAA"), "{}", events[1]);
    assert_eq!(events.last().map(String::as_str), Some("next\n"));
}

#[test]
fn random_garbage_never_panics() {
    let good = common::read_fixture("streams/matcher_test_message.framed");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut data = Vec::new();
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        match seed % 4 {
            0 => data.extend_from_slice(&good),
            1 => data.extend_from_slice(&good[..(seed as usize >> 8) % good.len()]),
            2 => data.extend((0..(seed % 50)).map(|i| (seed >> (i % 56)) as u8)),
            _ => data.extend_from_slice(&[0x1e, (seed >> 8) as u8, 0x08, (seed >> 16) as u8, 0x1f]),
        }
    }
    let records = records_through_buffer(
        &mut HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE),
        &data,
        333,
    );
    for r in records {
        let _ = hekad::message::ScannedMessage::new(&r[r[1] as usize + 3..]);
    }
}

#[test]
fn every_fixture_stream_decodes_with_prost_and_the_view() {
    use prost::Message as _;
    let mut total = 0;
    for fixture in [
        "streams/multi.dat",
        "streams/protobuf.log",
        "streams/matcher_test_message.framed",
        "streams/matcher_test_message.signed_md5.framed",
        "streams/matcher_test_message.signed_sha1.framed",
    ] {
        let data = common::read_fixture(fixture);
        let mut splitter =
            HekaFramingSplitter::new(DEFAULT_MAX_MESSAGE_SIZE).without_authentication();
        for record in records_through_buffer(&mut splitter, &data, 8192) {
            let Unframed::Message { bytes, .. } = splitter.unframe(&record) else {
                panic!("{fixture}: rejected")
            };
            let owned =
                hekad::message::Message::decode(bytes).unwrap_or_else(|e| panic!("{fixture}: {e}"));
            let scanned = hekad::message::ScannedMessage::new(bytes)
                .unwrap_or_else(|e| panic!("{fixture}: {e}"));
            let view = scanned.view();
            assert_eq!(view.r#type(), owned.r#type.as_deref().unwrap_or_default());
            assert_eq!(view.field_count(), owned.fields.len());
            assert_eq!(
                owned.encode_to_vec(),
                bytes,
                "{fixture}: re-encodes byte-identically"
            );
            total += 1;
        }
    }
    assert_eq!(total, 50 + 7 + 3);
}
