//! StatsdInput's line parser (`bucket:value|type[|@rate][|#tags]`).
//!
//! Invariants: no panic on any bytes; an accepted line has a non-empty bucket of only
//! `[A-Za-z0-9_.-]` (Etsy's cleaning), a finite value, and a sample rate in (0, 1].
#![no_main]

use hekad::plugins::inputs::stat_accum::Sample;
use hekad::plugins::inputs::statsd::parse_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    for line in data.split(|&b| b == b'\n') {
        let Ok((bucket, sample)) = parse_line(line, &mut scratch) else {
            continue;
        };
        assert!(!bucket.is_empty());
        assert!(
            bucket
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')),
            "bucket not cleaned: {bucket:?}"
        );
        match sample {
            Sample::Counter { value, rate } | Sample::Timer { value, rate } => {
                assert!(value.is_finite());
                assert!(rate > 0.0 && rate <= 1.0, "rate {rate}");
            }
            Sample::Gauge { value, .. } => assert!(value.is_finite()),
            Sample::Set(member) => assert!(!member.is_empty()),
        }
    }
});
