//! Go time layouts (and Heka's Epoch layouts) as PayloadRegexDecoder's
//! `timestamp_layout` compiles them, and timestamps parsed with them.
//!
//! Input: `layout \0 text`.
//!
//! Invariants: compiling and parsing never panic; parsing is deterministic; the
//! remembering `TimestampParser` returns what a fresh parse returns, for the same text
//! twice and after another text.
#![no_main]

use hekad::timefmt::{Layout, TimestampParser};
use jiff::tz::TimeZone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (layout, value) = text.split_once('\0').unwrap_or((text, ""));
    let Ok(compiled) = Layout::new(layout) else {
        return;
    };
    let zones = [TimeZone::UTC, TimeZone::fixed(jiff::tz::offset(-7))];
    for zone in zones {
        let fresh = compiled.parse(value, &zone);
        assert_eq!(fresh, compiled.parse(value, &zone), "parsing twice differs");
        // A layout without a full date fills it from today: only full dates are compared
        // against the remembering parser (today may change between two calls).
        let mut parser = TimestampParser::new(compiled.clone(), zone.clone());
        let first = parser.parse(value);
        let second = parser.parse(value);
        assert_eq!(first, second, "remembered parse differs");
        let _ = parser.parse("2015-04-11 17:30:26");
        let third = parser.parse(value);
        assert_eq!(first, third, "parse after another text differs");
        if let Layout::Go {
            has_year: true,
            has_date: true,
            ..
        } = compiled
        {
            assert_eq!(first, fresh, "TimestampParser differs from Layout::parse");
        }
    }
});
