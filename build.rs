//! Builds hekad's Lua library (every `.lua` file under `lua/`) into the binary: writes
//! `$OUT_DIR/lua_library.rs`, a table of share_dir-relative paths and their sources
//! (`src/sandbox/library.rs` includes it).

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "lua") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let library = root.join("lua");
    println!("cargo:rerun-if-changed=lua");
    let mut files = Vec::new();
    collect(&library, &mut files);
    // Sorted as the relative path strings (library.rs looks them up by those).
    files.sort_by_key(|f| {
        f.strip_prefix(&library)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut table = String::from(
        "/// Every file of the built-in Lua library: (share_dir-relative path, source).\n",
    );
    table.push_str("pub static FILES: &[(&str, &str)] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&library)
            .expect("under lua/")
            .to_string_lossy()
            .replace('\\', "/");
        table.push_str(&format!(
            "    ({relative:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("lua_library.rs"), table).expect("write lua_library.rs");
}
