//! Settings shared by the model-based tests (issue 23), which run real processes for
//! every step.
#![allow(dead_code)]

use proptest::test_runner::Config;

/// Cases from `HEKAD_MODEL_CASES` (default 4), few shrink steps, shrinking stopped
/// after a minute, no failure files.
pub fn config() -> Config {
    let cases = std::env::var("HEKAD_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    Config {
        cases,
        max_shrink_iters: 20,
        max_shrink_time: 60_000,
        failure_persistence: None,
        ..Config::default()
    }
}
