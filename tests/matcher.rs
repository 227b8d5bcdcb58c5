//! Every row of the matcher conformance table (§3.4, §3.5) against the test message.

mod common;

use hekad::matcher::Matcher;
use hekad::message::ScannedMessage;

/// Decodes a JSON string literal (the table's expression column).
fn json_string(s: &str) -> String {
    let inner = &s[1..s.len() - 1];
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(
                    char::from_u32(u32::from_str_radix(&hex, 16).expect("hex")).expect("char"),
                );
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[test]
fn conformance_table() {
    let bytes = common::read_fixture("streams/matcher_test_message.pb");
    let scanned = ScannedMessage::new(&bytes).expect("valid message");
    let msg = scanned.view();
    let table =
        String::from_utf8(common::read_fixture("matcher/matcher_cases.tsv")).expect("utf-8");
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.splitn(3, '\t').collect();
        let (source, expected, expr) = (cols[0], cols[1], json_string(cols[2]));
        rows += 1;
        match (expected, Matcher::compile(&expr)) {
            ("ERROR", Err(e)) => {
                let text = e.to_string();
                if !text.starts_with("syntax error: last token: ") || !text.contains(" pos: ") {
                    failures.push(format!("{source} {expr:?}: bad error text {text}"));
                }
            }
            ("ERROR", Ok(_)) => {
                failures.push(format!("{source} {expr:?}: compiled, expected an error"))
            }
            (want, Ok(m)) => {
                let got = m.matches(&msg);
                if got.to_string() != want {
                    failures.push(format!("{source} {expr:?}: got {got}, want {want}"));
                }
            }
            (want, Err(e)) => {
                failures.push(format!("{source} {expr:?}: expected {want}, failed: {e}"))
            }
        }
    }
    assert!(rows > 180, "table read ({rows} rows)");
    assert!(
        failures.is_empty(),
        "{} of {rows} rows fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sandbox_round_trip_cases() {
    use hekad::message::writer::Values;
    let mut buf = Vec::new();
    hekad::message::MessageWriter::new(&mut buf)
        .uuid(&[0; 16])
        .timestamp(1_000_000_000)
        .field(b"number", b"", Values::Double(&[1.0]))
        .field(b"numbers", b"count", Values::Double(&[1.0, 2.0, 3.0]))
        .field(b"string", b"", Values::String(&[b"string"]))
        .field(b"strings", b"", Values::String(&[b"s1", b"s2", b"s3"]))
        .field(b"bool", b"", Values::Bool(&[true]))
        .field(b"bools", b"", Values::Bool(&[true, false, false]));
    let scanned = ScannedMessage::new(&buf).expect("valid");
    let msg = scanned.view();
    for expr in [
        "Timestamp == 1000000000",
        "Fields[number] == 1",
        "Fields[numbers][0][0] == 1 && Fields[numbers][0][1] == 2 && Fields[numbers][0][2] == 3",
        "Fields[string] == 'string'",
        "Fields[strings][0][0] == 's1' && Fields[strings][0][1] == 's2' && Fields[strings][0][2] == 's3'",
        "Fields[bool] == TRUE",
        "Fields[bools][0][0] == TRUE && Fields[bools][0][1] == FALSE && Fields[bools][0][2] == FALSE",
    ] {
        assert!(Matcher::compile(expr).expect("compiles").matches(&msg), "{expr}");
    }
}
