//! Decoders and encoders (§5.3, §5.5) on real log lines and the reference message.

mod common;

use hekad::config::{Category, PluginSection};
use hekad::message::{Message, MessageWriter, ScannedMessage};
use hekad::pipeline::pack::Pack;
use hekad::plugins::decoders::{self, Decoded, Decoder, MorePacks};
use hekad::plugins::encoders::{self, Encoded, Encoder};
use prost::Message as _;

fn section(name: &str, type_name: &str, toml_text: &str) -> PluginSection {
    PluginSection {
        name: name.into(),
        type_name: type_name.into(),
        category: Category::of_type(type_name).expect("category"),
        file: "test.toml".into(),
        table: toml_text.parse().expect("toml"),
    }
}

fn text_pack(payload: &[u8]) -> Pack {
    let mut pack = Pack::default();
    MessageWriter::new(&mut pack.msg)
        .uuid(&[7; 16])
        .timestamp(5)
        .logger(b"input")
        .severity(7)
        .payload(payload);
    pack.reindex().expect("valid");
    pack
}

fn decoded(pack: &Pack) -> Message {
    Message::decode(&pack.msg[..]).expect("decoder output is a valid message")
}

const ZEUS: &str = r#"
match_regex = '^(?P<RemoteIP>\S+) \S+ (?P<User>\S+) \[(?P<Timestamp>[^\]]+)\] "(?P<Method>[A-Z]+) (?P<Url>\S+) \S+" (?P<StatusCode>\d+) (?P<Bytes>\d+)'
timestamp_layout = "02/Jan/2006:15:04:05 -0700"
[message_fields]
Type = "zeus.%Method%"
RemoteIP = "%RemoteIP%"
User = "%User%"
Url = "%Url%"
"ResponseBytes|B" = "%Bytes%"
Missing = "%Nope%"
"#;

#[test]
fn payload_regex_decoder_parses_every_zeus_line() {
    let mut decoder =
        decoders::payload_regex::from_section(&section("Zeus", "PayloadRegexDecoder", ZEUS))
            .expect("config");
    let log = common::read_fixture("logs/test-zeus.log");
    let (mut count, mut unmatched) = (0, 0);
    for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let mut pack = text_pack(line);
        match decoder.decode(&mut pack, &mut MorePacks::default()) {
            Ok(decision) => assert_eq!(decision, Decoded::Keep),
            Err(e) => {
                // The fixture holds a few deliberately mangled lines.
                assert!(e.0.starts_with("No match: "), "{e}");
                unmatched += 1;
                continue;
            }
        }
        count += 1;
        let msg = decoded(&pack);
        assert!(msg
            .r#type
            .as_deref()
            .is_some_and(|t| t.starts_with(b"zeus.")));
        assert_eq!(msg.payload.as_deref(), Some(line), "payload kept");
        assert_eq!(msg.uuid, vec![7; 16], "uuid kept");
    }
    assert!(unmatched < count / 10, "{unmatched} unmatched of {count}");
    assert!(count > 50, "{count} lines");
    let mut pack = text_pack(
        common::read_fixture("logs/test-zeus.log")
            .split(|&b| b == b'\n')
            .next()
            .expect("line"),
    );
    decoder
        .decode(&mut pack, &mut MorePacks::default())
        .expect("decodes");
    let msg = decoded(&pack);
    // 15/Mar/2013:12:20:27 -0700
    assert_eq!(msg.timestamp, 1_363_375_227_000_000_000);
    assert_eq!(msg.r#type.as_deref(), Some(&b"zeus.GET"[..]));
    let field = |name: &str| {
        msg.fields
            .iter()
            .find(|f| f.name == name.as_bytes())
            .expect(name)
            .clone()
    };
    assert_eq!(field("RemoteIP").value_string, vec![b"10.1.1.2".to_vec()]);
    assert_eq!(
        field("ResponseBytes").representation.as_deref(),
        Some(&b"B"[..])
    );
    assert_eq!(field("ResponseBytes").value_string, vec![b"233".to_vec()]);
    assert_eq!(field("Missing").value_string, vec![b"<Nope>".to_vec()]);
}

#[test]
fn payload_regex_decoder_errors_and_severity_map() {
    let config = r#"
match_regex = '^severity: (?P<Severity>\w+)'
[severity_map]
emergency = 0
critical = 2
info = 6
"#;
    let mut decoder =
        decoders::payload_regex::from_section(&section("Sev", "PayloadRegexDecoder", config))
            .expect("config");
    let mut pack = text_pack(b"severity: critical");
    decoder
        .decode(&mut pack, &mut MorePacks::default())
        .expect("decodes");
    assert_eq!(decoded(&pack).severity, Some(2));
    let mut pack = text_pack(b"no match here \xff\xfe");
    let err = decoder
        .decode(&mut pack, &mut MorePacks::default())
        .expect_err("no match");
    assert!(err.0.starts_with("No match: "), "{err}");
    let quiet = format!("{config}\nlog_errors = false\n").replace(
        "[severity_map]\nemergency = 0\ncritical = 2\ninfo = 6\n\nlog_errors = false",
        "log_errors = false\n[severity_map]\ninfo = 6",
    );
    let mut quiet =
        decoders::payload_regex::from_section(&section("Q", "PayloadRegexDecoder", &quiet))
            .expect("config");
    assert_eq!(
        quiet.decode(&mut text_pack(b"nope"), &mut MorePacks::default()),
        Ok(Decoded::Drop)
    );
    let bad = decoders::payload_regex::from_section(&section(
        "Bad",
        "PayloadRegexDecoder",
        "match_regex = '(?P<x'",
    ))
    .err()
    .expect("bad regex");
    assert_eq!(bad[0].key.as_deref(), Some("match_regex"));
    assert_eq!(bad[0].section.as_deref(), Some("Bad"));
    let unknown = decoders::payload_regex::from_section(&section(
        "U",
        "PayloadRegexDecoder",
        "match_regex = 'x'\nbogus = 1",
    ))
    .err()
    .expect("unknown key");
    assert!(
        unknown[0]
            .to_string()
            .contains("unknown config setting for 'U': bogus"),
        "{}",
        unknown[0]
    );
}

#[test]
fn multi_decoder_strategies_and_scribble() {
    let scribble = || {
        decoders::scribble::from_section(&section(
            "S",
            "ScribbleDecoder",
            "[message_fields]\nType = \"scribbled\"\nTag = \"x\"",
        ))
        .expect("scribble")
    };
    let regex = || {
        decoders::payload_regex::from_section(&section(
            "R",
            "PayloadRegexDecoder",
            "match_regex = '^(?P<Word>\\w+)$'\n[message_fields]\nWord = \"%Word%\"",
        ))
        .expect("regex")
    };
    let multi = |strategy: &str, subs: Vec<(String, Box<dyn Decoder>)>| {
        decoders::multi::from_section(
            &section(
                "M",
                "MultiDecoder",
                &format!("subs = [\"R\", \"S\"]\ncascade_strategy = \"{strategy}\""),
            ),
            subs,
        )
        .expect("multi")
    };
    let mut first_wins = multi(
        "first-wins",
        vec![("R".into(), regex()), ("S".into(), scribble())],
    );
    let mut pack = text_pack(b"hello");
    first_wins
        .decode(&mut pack, &mut MorePacks::default())
        .expect("decodes");
    let msg = decoded(&pack);
    assert_eq!(msg.fields.len(), 1, "only the regex decoder ran");
    let mut all = multi("all", vec![("R".into(), regex()), ("S".into(), scribble())]);
    let mut pack = text_pack(b"two words");
    all.decode(&mut pack, &mut MorePacks::default())
        .expect("scribble succeeds after the regex fails");
    let msg = decoded(&pack);
    assert_eq!(msg.r#type.as_deref(), Some(&b"scribbled"[..]));
    assert_eq!(msg.fields.len(), 1);
    let mut only_regex = multi("all", vec![("R".into(), regex())]);
    assert_eq!(
        only_regex
            .decode(&mut text_pack(b"two words"), &mut MorePacks::default())
            .map_err(|e| e.0),
        Err("All subdecoders failed.".into())
    );
}

fn encode(encoder: &mut dyn Encoder, msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    assert_eq!(
        encoder.encode(ScannedMessage::new(msg).expect("valid").view(), &mut out),
        Ok(Encoded::Emit)
    );
    out
}

#[test]
fn rst_encoder_prints_every_header_and_field() {
    let msg = common::read_fixture("streams/matcher_test_message.pb");
    let mut rst =
        encoders::rst::from_section(&section("RstEncoder", "RstEncoder", "")).expect("rst");
    let text = String::from_utf8(encode(&mut *rst, &msg)).expect("utf-8");
    let expected = "
:Timestamp: 2015-04-11 17:30:26.113040228 +0000 UTC
:Type: TEST
:Hostname: trink-x230
:Pid: 32157
:Uuid: 230081dc-326f-4e3f-9a5a-9386a37e246f
:Logger: GoSpec
:Payload: Test Payload
:EnvVersion: 0.8
:Severity: 6
:Fields:
    | name:\"foo\" type:string value:\"bar\"
    | name:\"number\" type:integer value:64
    | name:\"bytes\" type:bytes value:\"ZGF0YQ==\"
    | name:\"int\" type:integer value:[999,1024]
    | name:\"double\" type:double value:99.9
    | name:\"bool\" type:bool value:true
    | name:\"foo\" type:string value:\"alternate\"
    | name:\"Payload\" type:string value:\"name=test;type=web;\"
    | name:\"Timestamp\" type:string value:\"Mon Jan 02 15:04:05 -0700 2006\" representation:\"date-time\"
    | name:\"zero\" type:integer value:0
    | name:\"string\" type:string value:\"43\"

";
    assert_eq!(text, expected);
}

#[test]
fn payload_and_protobuf_encoders() {
    let msg = common::read_fixture("streams/matcher_test_message.pb");
    let mut payload =
        encoders::payload::from_section(&section("P", "PayloadEncoder", "")).expect("payload");
    assert_eq!(encode(&mut *payload, &msg), b"Test Payload\n");
    let mut raw =
        encoders::payload::from_section(&section("P", "PayloadEncoder", "append_newlines = false"))
            .expect("payload");
    assert_eq!(encode(&mut *raw, &msg), b"Test Payload");
    let mut stamped = encoders::payload::from_section(&section(
        "P",
        "PayloadEncoder",
        "prefix_ts = true\nts_format = \"%Y-%m-%dT%H:%M:%S\"",
    ))
    .expect("payload");
    let out = String::from_utf8(encode(&mut *stamped, &msg)).expect("utf-8");
    assert!(
        out.ends_with(" Test Payload\n") && out.starts_with("2015-04-1"),
        "{out}"
    );
    let mut pb =
        encoders::protobuf::from_section(&section("E", "ProtobufEncoder", "")).expect("protobuf");
    assert_eq!(encode(&mut *pb, &msg), msg);
    assert!(pb.passes_message_bytes());
}
