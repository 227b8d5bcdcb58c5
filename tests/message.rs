//! Message model (§1): prost repr, zero-copy view and writer agree with Heka's bytes.

mod common;

use hekad::message::writer::Values;
use hekad::message::{uuid, Message, MessageView, MessageWriter, ScannedMessage, Value, ValueType};
use prost::Message as _;

#[test]
fn repr_round_trips_the_matcher_test_message_byte_identically() {
    let bytes = common::read_fixture("streams/matcher_test_message.pb");
    let msg = Message::decode(&bytes[..]).expect("fixture decodes");
    assert_eq!(msg.r#type.as_deref(), Some(&b"TEST"[..]));
    assert_eq!(msg.timestamp, 1428773426113040228);
    assert_eq!(msg.fields.len(), 11);
    assert_eq!(msg.encode_to_vec(), bytes);
}

#[test]
fn writer_encodes_the_matcher_test_message_byte_identically() {
    let expected = common::read_fixture("streams/matcher_test_message.pb");
    let raw_uuid = uuid::parse("230081dc-326f-4e3f-9a5a-9386a37e246f").expect("uuid");
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf);
    w.uuid(&raw_uuid)
        .timestamp(1428773426113040228)
        .r#type(b"TEST")
        .logger(b"GoSpec")
        .severity(6)
        .payload(b"Test Payload")
        .env_version(b"0.8")
        .pid(32157)
        .hostname(b"trink-x230")
        .field(b"foo", b"", Values::String(&[b"bar"]))
        .field(b"number", b"", Values::Integer(&[64]))
        .field(b"bytes", b"", Values::Bytes(&[b"data"]))
        .field(b"int", b"", Values::Integer(&[999, 1024]))
        .field(b"double", b"", Values::Double(&[99.9]))
        .field(b"bool", b"", Values::Bool(&[true]))
        .field(b"foo", b"", Values::String(&[b"alternate"]))
        .field(b"Payload", b"", Values::String(&[b"name=test;type=web;"]))
        .field(
            b"Timestamp",
            b"date-time",
            Values::String(&[b"Mon Jan 02 15:04:05 -0700 2006"]),
        )
        .field(b"zero", b"", Values::Integer(&[0]))
        .field(b"string", b"", Values::String(&[b"43"]));
    assert_eq!(buf, expected);
}

#[test]
fn view_reads_headers_and_fields_without_decoding() {
    let bytes = common::read_fixture("streams/matcher_test_message.pb");
    let scanned = ScannedMessage::new(&bytes).expect("valid");
    let view = scanned.view();
    let mut text = [0u8; uuid::TEXT_LEN];
    assert_eq!(
        uuid::format(view.uuid(), &mut text),
        "230081dc-326f-4e3f-9a5a-9386a37e246f"
    );
    assert_eq!(view.r#type(), b"TEST");
    assert_eq!(view.severity(), 6);
    assert_eq!(view.pid(), 32157);
    assert_eq!(view.field_count(), 11);
    let int = view.field(b"int", 0).expect("int field");
    assert_eq!(int.value_type(), Some(ValueType::Integer));
    assert_eq!(int.value(1), Some(Value::Integer(1024)));
    assert_eq!(int.value(2), None);
    assert_eq!(
        view.field(b"foo", 1).and_then(|f| f.value(0)),
        Some(Value::String(b"alternate"))
    );
    assert_eq!(
        view.field(b"double", 0).and_then(|f| f.value(0)),
        Some(Value::Double(99.9))
    );
    assert_eq!(
        view.field(b"bool", 0).and_then(|f| f.value(0)),
        Some(Value::Bool(true))
    );
    let ts = view.field(b"Timestamp", 0).expect("Timestamp field");
    assert_eq!(ts.representation(), b"date-time");
    assert!(view.field(b"missing", 0).is_none());
}

#[test]
fn view_rejects_truncated_messages_with_an_offset() {
    let bytes = common::read_fixture("streams/matcher_test_message.pb");
    for cut in [1, 5, 40, 200, bytes.len() - 1] {
        let err = ScannedMessage::new(&bytes[..cut]).expect_err("truncated");
        assert!(err.offset <= cut, "offset {} within {cut}", err.offset);
    }
}

#[test]
fn view_accepts_unpacked_numeric_values() {
    // Field{name:"n", value_type: INTEGER, value_integer: 5 (unpacked, wire 0)}
    let field = [0x0a, 0x01, b'n', 0x10, 0x02, 0x30, 0x05];
    let mut msg = vec![0x52, field.len() as u8];
    msg.extend_from_slice(&field);
    let scanned = ScannedMessage::new(&msg).expect("valid");
    let view = scanned.view();
    assert_eq!(
        view.field(b"n", 0).and_then(|f| f.value(0)),
        Some(Value::Integer(5))
    );
    assert_eq!(view.severity(), 7);
}

#[test]
fn writer_index_is_the_scan_of_what_it_wrote() {
    use hekad::message::view::HeaderIndex;
    let source = common::read_fixture("streams/matcher_test_message.pb");
    let scanned = ScannedMessage::new(&source).expect("valid");
    let view = scanned.view();
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(&mut buf);
    w.uuid(view.uuid())
        .timestamp(-5)
        .r#type(b"")
        .logger(b"GoSpec")
        .severity(-1)
        .payload(b"Test Payload")
        .env_version(b"0.8")
        .pid(32157)
        .hostname(b"trink-x230")
        .fields_of(&view)
        .field(b"status", b"", Values::Integer(&[404]));
    let index = w
        .index()
        .expect("an index for a message written from empty");
    assert_eq!(HeaderIndex::scan(&buf).expect("valid"), index);
    assert_eq!(MessageView::with_index(&buf, &index).fields().count(), 12);

    // Copied-in bytes are not parsed, and a writer appending to a message does not know
    // where that message's headers are: both give no index.
    let mut raw = Vec::new();
    let mut w = MessageWriter::new(&mut raw);
    w.uuid(view.uuid()).raw(&source[..0]);
    assert_eq!(w.index(), None);
    let mut appended = buf.clone();
    assert_eq!(MessageWriter::new(&mut appended).logger(b"x").index(), None);
}

#[test]
fn fields_are_found_whatever_the_order_of_headers_and_fields() {
    // A producer may write headers after fields, and pad a length varint: lookups start at
    // the first field's key, wherever it is, and see every field after it.
    let mut bytes = Vec::new();
    MessageWriter::new(&mut bytes)
        .field(b"a", b"", Values::String(&[b"1"]))
        .r#type(b"late")
        .field(b"b", b"", Values::Integer(&[2]));
    // Field "c" with a two-byte (non-minimal) length varint: key 0x52, len 0x80|n, 0x00.
    let mut body = Vec::new();
    MessageWriter::new(&mut body).field(b"c", b"", Values::Bool(&[true]));
    let inner = &body[2..];
    bytes.extend_from_slice(&[0x52, 0x80 | inner.len() as u8, 0x00]);
    bytes.extend_from_slice(inner);
    let scanned = ScannedMessage::new(&bytes).expect("valid");
    let view = scanned.view();
    assert_eq!(view.r#type(), b"late");
    assert_eq!(view.field_count(), 3);
    assert_eq!(
        view.field(b"a", 0).and_then(|f| f.value(0)),
        Some(Value::String(b"1"))
    );
    assert_eq!(
        view.field(b"b", 0).and_then(|f| f.value(0)),
        Some(Value::Integer(2))
    );
    assert_eq!(
        view.field(b"c", 0).and_then(|f| f.value(0)),
        Some(Value::Bool(true))
    );
    let names: Vec<&[u8]> = view.fields().map(|f| f.name()).collect();
    assert_eq!(names, [&b"a"[..], b"b", b"c"]);
}

#[test]
fn field_value_reads_what_field_then_value_read() {
    // The matcher test message, plus fields written unpacked, with a bad value type, a
    // packed double with a stray byte, and a field cut short.
    let mut bytes = common::read_fixture("streams/matcher_test_message.pb");
    let mut field = |body: &[u8]| {
        bytes.push(0x52);
        bytes.push(body.len() as u8);
        bytes.extend_from_slice(body);
    };
    field(b"\x0a\x01u\x10\x02\x30\x05\x30\x07"); // u: INTEGER, unpacked 5, 7
    field(b"\x0a\x01d\x10\x03\x39\x00\x00\x00\x00\x00\x00\xf0\x3f"); // d: DOUBLE 1.0, unpacked
    field(b"\x0a\x01p\x10\x03\x3a\x09\x00\x00\x00\x00\x00\x00\x00\x40\x01"); // p: 2.0 + stray
    field(b"\x0a\x01x\x10\x09\x22\x01a"); // x: value type 9
    field(b"\x0a\x01s\x10\x00\x22\x01a\x22\x05"); // s: "a", then a value cut short
    let scanned = ScannedMessage::new(&bytes).expect("valid");
    let view = scanned.view();
    let mut names: Vec<Vec<u8>> = view.fields().map(|f| f.name().to_vec()).collect();
    names.push(b"missing".to_vec());
    let mut compared = 0;
    for name in &names {
        for fi in 0..3 {
            for ai in 0..4 {
                let slow = view.field(name, fi).and_then(|f| f.value(ai));
                assert_eq!(
                    view.field_value(name, fi, ai),
                    slow,
                    "Fields[{}][{fi}][{ai}]",
                    String::from_utf8_lossy(name)
                );
                compared += usize::from(slow.is_some());
            }
        }
    }
    assert!(compared > 15, "{compared}");
    assert_eq!(view.field_value(b"u", 0, 1), Some(Value::Integer(7)));
    assert_eq!(view.field_value(b"p", 0, 0), Some(Value::Double(2.0)));
}
