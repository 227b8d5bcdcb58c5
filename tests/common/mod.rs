//! Helpers shared by integration tests: fixture paths and the real hekad binary.
#![allow(dead_code)]

use std::path::PathBuf;

/// Path of a file under `../shared/fixtures/heka/`.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/heka").join(rel)
}

pub fn read_fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}
