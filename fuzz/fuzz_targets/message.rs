//! The message view (`HeaderIndex::scan`, `MessageView`, `FieldView`) against an owned
//! prost decode of the same bytes.
//!
//! Invariants:
//! - bytes that prost decodes and re-encodes byte-identical (a canonical message) are
//!   accepted by the view, and the view agrees with prost on every header and on every
//!   field's name, representation, type and values;
//! - on any bytes the view accepts, every accessor runs without a panic, and the matcher's
//!   one-pass lookup `field_value(name, i, j)` equals `field(name, i).value(j)`.
#![no_main]

use hekad::message::{Message, ScannedMessage, Value, ValueType};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fn prost_values(f: &hekad::message::Field) -> Vec<Value<'_>> {
    match ValueType::try_from(f.value_type.unwrap_or(0)) {
        Ok(ValueType::String) => f.value_string.iter().map(|v| Value::String(v)).collect(),
        Ok(ValueType::Bytes) => f.value_bytes.iter().map(|v| Value::Bytes(v)).collect(),
        Ok(ValueType::Integer) => f.value_integer.iter().map(|&v| Value::Integer(v)).collect(),
        Ok(ValueType::Double) => f.value_double.iter().map(|&v| Value::Double(v)).collect(),
        Ok(ValueType::Bool) => f.value_bool.iter().map(|&v| Value::Bool(v)).collect(),
        Err(_) => Vec::new(),
    }
}

fn same(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let scanned = ScannedMessage::new(data);
    if let Ok(owned) = Message::decode(data) {
        if owned.encode_to_vec() == data {
            let Ok(scanned) = &scanned else {
                panic!("the view refuses a canonical message: {scanned:?}");
            };
            let v = scanned.view();
            assert_eq!(v.uuid(), &owned.uuid[..]);
            assert_eq!(v.timestamp(), owned.timestamp);
            assert_eq!(v.r#type(), owned.r#type.as_deref().unwrap_or_default());
            assert_eq!(v.logger(), owned.logger.as_deref().unwrap_or_default());
            assert_eq!(v.has_severity(), owned.severity.is_some());
            assert_eq!(v.severity(), owned.severity.unwrap_or(7));
            assert_eq!(v.payload(), owned.payload.as_deref().unwrap_or_default());
            assert_eq!(
                v.env_version(),
                owned.env_version.as_deref().unwrap_or_default()
            );
            assert_eq!(v.has_pid(), owned.pid.is_some());
            assert_eq!(v.pid(), owned.pid.unwrap_or(0));
            assert_eq!(v.hostname(), owned.hostname.as_deref().unwrap_or_default());
            assert_eq!(v.field_count(), owned.fields.len());
            let fields: Vec<_> = v.fields().collect();
            assert_eq!(fields.len(), owned.fields.len());
            for (fv, f) in fields.iter().zip(&owned.fields) {
                assert_eq!(fv.name(), &f.name[..]);
                assert_eq!(
                    fv.representation(),
                    f.representation.as_deref().unwrap_or_default()
                );
                assert_eq!(
                    fv.value_type(),
                    ValueType::try_from(f.value_type.unwrap_or(0)).ok()
                );
                let got: Vec<Value<'_>> = fv.values().collect();
                let want = prost_values(f);
                assert!(
                    got.len() == want.len() && got.iter().zip(&want).all(|(a, b)| same(a, b)),
                    "field values differ: view {got:?} prost {want:?}"
                );
                assert_eq!(fv.value_count(), want.len());
            }
        }
    }
    let Ok(scanned) = scanned else {
        return;
    };
    let v = scanned.view();
    let _ = (
        v.uuid(),
        v.timestamp(),
        v.r#type(),
        v.logger(),
        v.severity(),
        v.payload(),
    );
    let _ = (v.env_version(), v.pid(), v.hostname(), v.has_timestamp());
    let fields: Vec<_> = v.fields().collect();
    assert!(fields.len() <= v.field_count());
    for (n, f) in fields.iter().enumerate().take(8) {
        let _ = (
            f.bytes(),
            f.representation(),
            f.value_type(),
            f.value_count(),
        );
        let index = fields[..n].iter().filter(|g| g.name() == f.name()).count();
        let found = v.field(f.name(), index).map(|g| g.bytes());
        assert_eq!(found, Some(f.bytes()), "field({:?}, {index})", f.name());
        for j in 0..4 {
            let one_pass = v.field_value(f.name(), index, j);
            let two_step = f.value(j);
            let agree = match (&one_pass, &two_step) {
                (Some(a), Some(b)) => same(a, b),
                (None, None) => true,
                _ => false,
            };
            assert!(
                agree,
                "field_value({:?}, {index}, {j}) = {one_pass:?}, field().value() = {two_step:?}",
                f.name()
            );
        }
    }
});
