//! The hekad command line and configuration errors, through the real binary.

mod common;

use common::{fixture, scratch_dir, Hekad};
use std::process::Command;

fn hekad(args: &[&str]) -> (i32, String, String) {
    hekad_with_env(args, &[])
}

fn hekad_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hekad"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run hekad");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn version_in_go_and_gnu_forms() {
    for flag in ["-version", "--version"] {
        let (code, stdout, _) = hekad(&[flag]);
        assert_eq!(code, 0);
        assert_eq!(stdout.trim(), "0.11.0");
    }
}

#[test]
fn config_flag_in_all_three_forms() {
    let path = fixture("configs/config_bad_outputs.toml");
    let path = path.to_str().expect("utf-8 path");
    let forms = [
        vec![format!("-config={path}")],
        vec!["-config".into(), path.into()],
        vec!["--config".into(), path.into()],
    ];
    for args in forms {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = hekad(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("expected a plugin type hekad implements, got \"WhatOutput\""),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_section_without_a_category_suffix_is_named() {
    let path = fixture("configs/config_bad_params.toml");
    let (code, _, stderr) = hekad(&[&format!("-config={}", path.display())]);
    assert_eq!(code, 1);
    assert!(stderr.contains("config_bad_params.toml"), "{stderr}");
    assert!(
        stderr.contains("[UdpInput1] type: expected a type ending in Input, Splitter, Decoder, Filter, Encoder or Output, got \"UdpInput1\""),
        "{stderr}"
    );
}

#[test]
fn every_error_is_reported_with_where_it_is() {
    let dir = scratch_dir("cli-errors");
    let config = format!(
        r#"[hekad]
base_dir = "{base}"

[In]
type = "TcpInput"
address = "127.0.0.1:0"
parser_type = "token"

[Parse]
type = "PayloadRegexDecoder"
match_regex = "(?P<broken"

[Out]
type = "LogOutput"
message_matcher = "Type = 'x'"
encoder = "PayloadEncoder"

[PayloadEncoder]
"#,
        base = dir.join("cache").display()
    );
    std::fs::write(dir.join("bad.toml"), config).expect("write");
    let (code, _, stderr) = hekad(&[&format!("-config={}", dir.join("bad.toml").display())]);
    assert_eq!(code, 1, "{stderr}");
    for needle in [
        "bad.toml",
        "[In] parser_type: unknown config setting for 'In': parser_type",
        "[Parse] match_regex",
        "[Out] message_matcher",
        "syntax error: last token:",
        "errors loading plugins",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
}

#[test]
fn environment_substitution_errors() {
    for (file, needle) in [
        (
            "configs/bad_envs/config_1_test.toml",
            "Missing closing delimiter",
        ),
        (
            "configs/bad_envs/config_2_test.toml",
            "Invalid characters in environmental variable",
        ),
    ] {
        let (code, _, stderr) = hekad(&[&format!("-config={}", fixture(file).display())]);
        assert_eq!(code, 1);
        assert!(stderr.contains(needle), "{file}: {stderr}");
    }
}

#[test]
fn config_directory_loads_toml_files_in_name_order() {
    let dir = scratch_dir("cli-dir");
    let port = common::free_port();
    std::fs::write(
        dir.join("10-globals.toml"),
        format!("[hekad]\nbase_dir = \"{}\"\n", dir.join("cache").display()),
    )
    .expect("write");
    std::fs::write(
        dir.join("20-input.toml"),
        format!("[TcpInput]\naddress = \"127.0.0.1:{port}\"\n"),
    )
    .expect("write");
    std::fs::write(dir.join("30-ignored.toml.no"), "this is not toml [").expect("write");
    let hekad = Hekad::start_with_args(&[format!("-config={}", dir.display())]);
    hekad.wait_for_log("Starting hekad");
    std::net::TcpStream::connect(("127.0.0.1", port))
        .expect("the input from 20-input.toml listens");
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn pid_file_refuses_a_second_instance_and_is_removed_on_exit() {
    let dir = scratch_dir("cli-pid");
    let pid_file = dir.join("hekad.pid");
    let config = format!(
        "[hekad]\nbase_dir = \"{}\"\npid_file = \"{}\"\n\n[TcpInput]\naddress = \"127.0.0.1:{}\"\n",
        dir.join("cache").display(),
        pid_file.display(),
        common::free_port()
    );
    let first = Hekad::start(&dir, &config);
    first.wait_for_log("Starting hekad");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert_eq!(pid, first.child.id());
    let (code, _, stderr) = hekad(&[&format!("-config={}", dir.join("hekad.toml").display())]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("Process {pid} is already running.")),
        "{stderr}"
    );
    let (status, _) = first.terminate();
    assert!(status.success());
    assert!(!pid_file.exists(), "pid file removed on clean exit");
}

#[test]
fn unimplemented_heka_types_and_misspellings_read_differently() {
    let dir = scratch_dir("cli-types");
    let config = dir.join("types.toml");
    std::fs::write(
        &config,
        "[Kafka]\ntype = \"KafkaOutput\"\nmessage_matcher = \"TRUE\"\n\
         [Fil]\ntype = \"FilOutput\"\nmessage_matcher = \"TRUE\"\n",
    )
    .expect("write config");
    let (code, _, stderr) = hekad(&[&format!("-config={}", config.display())]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "[Kafka] type: KafkaOutput is a Heka plugin that hekad does not implement yet"
        ),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("[Fil] type: expected a plugin type hekad implements, got \"FilOutput\"; did you mean FileOutput?"),
        "{stderr}"
    );

    std::fs::write(&config, "[Dec]\ntype = \"SandboxDecoderX\"\n").expect("write config");
    let (code, _, stderr) = hekad(&[&format!("-config={}", config.display())]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "[Dec] type: expected a type ending in Input, Splitter, Decoder, Filter, Encoder or Output, got \"SandboxDecoderX\"; did you mean SandboxDecoder?"
        ),
        "{stderr}"
    );
}

#[test]
fn short_help_and_log_levels() {
    let (code, stdout, stderr) = hekad(&["-h"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Usage: hekad"), "{stdout}");

    let run = |level: &str| {
        let (code, _, stderr) = hekad_with_env(
            &["-config=/nonexistent/hekad.toml"],
            &[("HEKAD_LOG", level)],
        );
        (code, stderr)
    };
    let (code, stderr) = run("bogus");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("HEKAD_LOG=\"bogus\" is not a log level"),
        "{stderr}"
    );
    for level in ["error", "WARN", "info", "debug", "trace"] {
        let (code, stderr) = run(level);
        assert_eq!(code, 1, "{stderr}");
        assert!(!stderr.contains("not a log level"), "{level}: {stderr}");
    }
}

/// `--help` names the signals, the environment variable and the docs, and the man page
/// documents every flag `--help` lists.
#[test]
fn help_names_signals_environment_and_docs_and_the_man_page_every_flag() {
    let (code, stdout, stderr) = hekad(&["--help"]);
    assert_eq!(code, 0, "{stderr}");
    for needle in [
        "SIGINT, SIGTERM",
        "SIGUSR1",
        "SIGHUP",
        "HEKAD_LOG",
        "man hekad",
        "--test",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    let man = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/hekad.1"))
        .expect("man/hekad.1");
    let flags: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split([' ', ',']).next())
        .collect();
    assert!(flags.contains(&"config"), "{stdout}");
    for flag in flags {
        let roff = flag.replace('-', "\\-");
        assert!(
            man.contains(&format!("\\-{roff}")),
            "man page lacks -{flag}"
        );
    }
    for needle in ["SIGUSR1", "SIGHUP", "HEKAD_LOG", "SIGTERM"] {
        assert!(man.contains(needle), "man page lacks {needle}");
    }
}

/// HEKAD_LOG=debug shows each plugin's start and stop and each connection accepted and
/// closed.
#[test]
fn debug_log_shows_lifecycle_and_connections() {
    let dir = scratch_dir("cli-debug");
    let port = common::free_port();
    let config = dir.join("hekad.toml");
    std::fs::write(
        &config,
        format!(
            "[hekad]\nbase_dir = \"{}\"\n\n[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\n\n\
             [Out]\ntype = \"LogOutput\"\nmessage_matcher = \"TRUE\"\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
            dir.join("cache").display()
        ),
    )
    .expect("write config");
    let hekad = Hekad::start_with_env(
        &[format!("-config={}", config.display())],
        &[("HEKAD_LOG", "debug")],
    );
    hekad.wait_for_log("Input 'In': starting");
    hekad.wait_for_log("Plugin 'Out': starting");
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let local = client.local_addr().expect("local address");
    hekad.wait_for_log(&format!("Input 'In connection from {local}': accepted"));
    drop(client);
    hekad.wait_for_log(&format!("Input 'In connection from {local}': closed"));
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("Plugin 'Out': stopped"), "{stderr}");
}
