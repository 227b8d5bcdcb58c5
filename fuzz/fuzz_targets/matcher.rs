//! The message matcher: parse any text, evaluate on a fuzzed message.
//!
//! Input: `expression \0 message-bytes` (no NUL: the expression alone, evaluated on an
//! empty message).
//!
//! Invariants:
//! - compiling never panics, and compiling the same text twice gives the same result;
//! - a compiled matcher evaluates without a panic on any message the view accepts;
//! - `E && TRUE`, `E || FALSE`, `TRUE && E` and `FALSE || E` compile and match exactly
//!   what `E` matches.
#![no_main]

use hekad::matcher::Matcher;
use hekad::message::ScannedMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (expr, msg) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let compiled = Matcher::compile(expr);
    assert_eq!(
        compiled.as_ref().err(),
        Matcher::compile(expr).as_ref().err(),
        "compiling twice differs"
    );
    let Ok(matcher) = compiled else {
        return;
    };
    let Ok(scanned) = ScannedMessage::new(msg) else {
        return;
    };
    let view = scanned.view();
    let result = matcher.matches(&view);
    // Without parentheses: Heka's grammar accepts juxtaposed expressions (the last
    // counts) and ends the input at an unknown capitalised word (spec §3.2 QUIRKs), and
    // both keep these identities.
    for wrapped in [
        format!("{expr} && TRUE"),
        format!("{expr} || FALSE"),
        format!("TRUE && {expr}"),
        format!("FALSE || {expr}"),
    ] {
        let Ok(m) = Matcher::compile(&wrapped) else {
            panic!("{expr:?} compiles but {wrapped:?} does not");
        };
        assert_eq!(m.matches(&view), result, "{wrapped:?} against {expr:?}");
    }
});
