//! Config loading against Heka's config vectors (§4, §10).

mod common;

use common::fixture;
use hekad::config::loader::load;
use hekad::config::Category;

#[test]
fn directory_loads_toml_files_and_ignores_others() {
    let config = load(&fixture("configs/config_dir")).expect("loads");
    let names: Vec<&str> = config.sections.iter().map(|s| s.name.as_str()).collect();
    for name in [
        "UdpInput",
        "ProtobufDecoder",
        "PayloadEncoder",
        "LogOutput",
        "default",
        "sample",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
}

/// Two files of a config directory defining the same section: an error naming both,
/// not the later one silently winning.
#[test]
fn a_section_defined_in_two_files_is_an_error() {
    let dir = common::scratch_dir("config-duplicate");
    std::fs::write(
        dir.join("a.toml"),
        "[UdpInput]\naddress = \"127.0.0.1:5566\"\n",
    )
    .expect("a");
    std::fs::write(
        dir.join("b.toml"),
        "[UdpInput]\naddress = \"127.0.0.1:5567\"\n",
    )
    .expect("b");
    let errors = load(&dir).expect_err("duplicate section");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let text = errors[0].to_string();
    assert!(text.contains("b.toml"), "{text}");
    assert!(
        text.contains("[UdpInput] is defined again (first in "),
        "{text}"
    );
    assert!(text.contains("a.toml"), "{text}");
}

#[test]
fn environment_variables_are_substituted_in_section_names_and_values() {
    std::env::set_var("LOG_ENCODER", "PayloadEncoder");
    let config = load(&fixture("configs/config_env_test.toml")).expect("loads");
    let output = config
        .sections
        .iter()
        .find(|s| s.name == "LogOutput")
        .expect("LogOutput");
    assert_eq!(
        output.table.get("encoder").and_then(|v| v.as_str()),
        Some("PayloadEncoder")
    );
    assert!(config
        .sections
        .iter()
        .any(|s| s.name == "PayloadEncoder" && s.category == Category::Encoder));
}

#[test]
fn hekad_globals_take_heka_defaults_and_overrides() {
    let config = load(&fixture("configs/sample-hostname.toml")).expect("loads");
    let g = &config.globals;
    assert_eq!((g.maxprocs, g.poolsize, g.plugin_chansize), (10, 100, 10));
    assert_eq!(
        (
            g.max_process_inject,
            g.max_timer_inject,
            g.max_message_loops
        ),
        (10, 10, 4)
    );
    assert_eq!(g.hostname, "my.example.com");
    assert_eq!(g.max_message_size, 65536);
    assert_eq!(g.max_pack_idle, std::time::Duration::from_secs(120));
    let plain = load(&fixture("configs/config_test_common.toml")).expect("loads");
    assert_eq!(plain.globals.plugin_chansize, 30);
    assert_eq!(
        plain.globals.base_dir,
        std::path::PathBuf::from("/var/cache/hekad")
    );
}

#[test]
fn multidecoders_load_after_their_subs_and_cycles_are_errors() {
    let config = load(&fixture("configs/config_test_multidecoder_nested.toml")).expect("loads");
    let pos = |name: &str| {
        config
            .sections
            .iter()
            .position(|s| s.name == name)
            .expect(name)
    };
    for s in config
        .sections
        .iter()
        .filter(|s| s.type_name == "MultiDecoder")
    {
        for sub in s.table["subs"].as_array().expect("subs") {
            assert!(
                pos(sub.as_str().expect("name")) < pos(&s.name),
                "{} after {sub}",
                s.name
            );
        }
    }
    let errors = load(&fixture(
        "configs/config_test_multidecoder_nested_cyclic.toml",
    ))
    .expect_err("cycle");
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("circular dependency detected")),
        "{errors:?}"
    );
}

#[test]
fn retries_and_unknown_globals() {
    let config = load(&fixture("configs/config_test_common.toml")).expect("loads");
    let udp = config
        .sections
        .iter()
        .find(|s| s.name == "UdpInput")
        .expect("UdpInput");
    let common = hekad::config::common::CommonInput::from_section(udp).expect("common keys");
    assert_eq!(common.retries.max_retries, 5);
    assert_eq!(common.retries.delay, std::time::Duration::from_millis(250));
    let dir = common::scratch_dir("config-unknown-global");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        "[hekad]\nmaxprocs = 2\nno_such_key = 1\n\n[TcpInput]\naddress = \"127.0.0.1:1\"\n",
    )
    .expect("write");
    let errors = load(&path).expect_err("unknown key");
    assert_eq!(errors[0].key.as_deref(), Some("no_such_key"));
    assert!(
        errors[0]
            .to_string()
            .contains("bad.toml: [hekad] no_such_key:"),
        "{}",
        errors[0]
    );
}
