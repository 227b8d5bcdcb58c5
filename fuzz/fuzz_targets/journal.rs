//! Logstreamer journals (`<base_dir>/logstreamer/<name>/...`): JSON read back at start-up.
//!
//! Invariants: reading any bytes never panics; a journal that reads writes back and reads
//! again to the same value; a journal's hash is looked up in a real log without a panic,
//! whatever its seek.
#![no_main]

use hekad::plugins::inputs::logstreamer::journal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("hekad-fuzz-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("journal");
    std::fs::write(&path, data).expect("journal");
    let Ok(Some(j)) = journal::read(&path) else {
        return;
    };
    let text = serde_json::to_vec(&j).expect("a journal serialises");
    std::fs::write(&path, &text).expect("journal");
    assert_eq!(
        journal::read(&path),
        Ok(Some(j.clone())),
        "journal round trip"
    );
    if let Ok(seek) = u64::try_from(j.seek) {
        let log = std::fs::File::open(std::env::current_exe().expect("exe")).expect("open");
        let _ = journal::hash_at(&log, seek % (1 << 20));
    }
});
