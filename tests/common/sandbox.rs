//! Sandboxes built in process for the Lua API tests.
#![allow(dead_code)]

use hekad::config::globals::Globals;
use hekad::config::{Category, PluginSection};
use hekad::sandbox::{Kind, SandboxSettings};
use std::path::Path;

/// Settings for `script` (written to `<dir>/script.lua`) with extra section keys, with
/// `dir` as share_dir and `<dir>/base` as base_dir.
pub fn settings(dir: &Path, kind: Kind, script: &str, keys: &str) -> SandboxSettings {
    std::fs::write(dir.join("script.lua"), script).expect("write script");
    let table: toml::Table = format!("filename = \"script.lua\"\n{keys}")
        .parse()
        .expect("toml");
    let section = PluginSection {
        name: "test".into(),
        type_name: "SandboxFilter".into(),
        category: Category::Filter,
        file: dir.join("hekad.toml"),
        table,
    };
    let globals = Globals {
        share_dir: dir.to_owned(),
        base_dir: dir.join("base"),
        hostname: "testhost".into(),
        ..Globals::default()
    };
    SandboxSettings::from_section(&section, &[], &globals, kind, "test").expect("settings")
}
