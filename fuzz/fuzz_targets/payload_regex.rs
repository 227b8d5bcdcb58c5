//! PayloadRegexDecoder: its config (match_regex, timestamp_layout and location,
//! severity_map, message_fields templates with `|representation`) from TOML text, then
//! log lines decoded with it.
//!
//! Input: `TOML \0 lines`.
//!
//! Invariants: building and decoding never panic; every message the decoder leaves in
//! the pack is valid (the view accepts it and prost decodes it, and they agree on the
//! headers), and it keeps the line as its payload unless `message_fields` sets one.
#![no_main]

use hekad::config::{Category, PluginSection};
use hekad::message::{Message, MessageWriter, ScannedMessage};
use hekad::pipeline::pack::Pack;
use hekad::plugins::decoders::{payload_regex, MorePacks};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    let (config, lines) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(config) = std::str::from_utf8(config) else {
        return;
    };
    let Ok(table) = config.parse::<toml::Table>() else {
        return;
    };
    // `message_fields` may set the payload itself (Heka's `Payload = "..."`).
    let sets_payload = table
        .get("message_fields")
        .and_then(toml::Value::as_table)
        .is_some_and(|fields| fields.keys().any(|k| k.split('|').next() == Some("Payload")));
    let section = PluginSection {
        name: "fuzz".into(),
        type_name: "PayloadRegexDecoder".into(),
        category: Category::Decoder,
        file: "fuzz.toml".into(),
        table,
    };
    let Ok(mut decoder) = payload_regex::from_section(&section) else {
        return;
    };
    for line in lines.split(|&b| b == b'\n').take(16) {
        let mut pack = Pack::default();
        MessageWriter::new(&mut pack.msg)
            .uuid(&[7; 16])
            .timestamp(5)
            .logger(b"input")
            .severity(7)
            .payload(line);
        pack.reindex().expect("valid");
        if decoder
            .decode(&mut pack, &mut MorePacks::default())
            .is_err()
        {
            continue;
        }
        let scanned = ScannedMessage::new(&pack.msg).expect("decoder output scans");
        let owned = Message::decode(&pack.msg[..]).expect("decoder output decodes");
        let view = scanned.view();
        if !sets_payload {
            assert_eq!(view.payload(), line, "payload changed");
        }
        assert_eq!(view.r#type(), owned.r#type.as_deref().unwrap_or_default());
        assert_eq!(view.timestamp(), owned.timestamp);
        assert_eq!(view.severity(), owned.severity.unwrap_or(7));
        assert_eq!(view.field_count(), owned.fields.len());
    }
});
