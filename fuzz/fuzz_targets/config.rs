//! The config loader from TOML text through to every plugin's construction, as
//! `hekad -test` does it (dry run: nothing bound, written or started).
//!
//! Invariants:
//! - loading and building never panic, whatever the text;
//! - a config that loads and builds prints its start-up summary;
//! - every error prints as a non-empty line.
#![no_main]

use hekad::assembly::Pipeline;
use hekad::config::loader;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("/nonexistent/fuzz.toml");
    let (mut config, mut errors) = loader::load_text(file, text);
    config.globals.dry_run = true;
    if !config.sections.is_empty() {
        match Pipeline::build(config) {
            Ok(pipeline) if errors.is_empty() => {
                assert!(!pipeline.summary().is_empty());
            }
            Ok(_) => {}
            Err(more) => errors.extend(more),
        }
    }
    for e in &errors {
        assert!(!e.to_string().is_empty());
    }
});
