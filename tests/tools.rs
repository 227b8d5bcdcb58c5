//! heka-cat and heka-inject, as real processes.

mod common;

use common::{fixture, free_port, scratch_dir, Hekad};
use std::process::Command;

fn heka_cat(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_heka-cat"))
        .args(args)
        .output()
        .expect("run heka-cat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn counts_and_matches_a_framed_file() {
    let multi = fixture("streams/multi.dat");
    let multi = multi.to_str().expect("path");
    let (code, _, stderr) = heka_cat(&["-format=count", multi]);
    assert_eq!(code, 0);
    assert!(
        stderr.contains("Processed: 50, matched: 50 messages"),
        "{stderr}"
    );
    let (_, stdout, stderr) = heka_cat(&[
        "-match",
        "Type == 'heka.httpdata.request' && Logger == 'TestInput'",
        "-format",
        "txt",
        multi,
    ]);
    assert!(stderr.contains("matched: 50"), "{stderr}");
    assert_eq!(stdout.matches("Type: heka.httpdata.request").count(), 50);
    let (_, _, stderr) = heka_cat(&["-match", "Type == 'nothing'", multi]);
    assert!(
        stderr.contains("Processed: 50, matched: 0 messages"),
        "{stderr}"
    );
}

#[test]
fn json_output_is_one_object_per_message() {
    let file = fixture("streams/matcher_test_message.signed_sha1.framed");
    let (code, stdout, _) = heka_cat(&["--format", "json", file.to_str().expect("path")]);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).expect("valid JSON");
    assert_eq!(value["type"], "TEST");
    assert_eq!(value["uuid"], "230081dc-326f-4e3f-9a5a-9386a37e246f");
    assert_eq!(value["fields"][3]["value"], serde_json::json!([999, 1024]));
}

#[test]
fn reports_corruption_offsets() {
    let file = fixture("streams/framing_resync.bin");
    let (code, _, stderr) = heka_cat(&["-format=count", file.to_str().expect("path")]);
    assert_eq!(code, 0);
    assert!(
        stderr.contains("Corruption detected at offset: 134 bytes: 5"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Processed: 3, matched: 3 messages"),
        "{stderr}"
    );
}

#[test]
fn heka_inject_reaches_hekad_and_heka_cat_reads_it_back() {
    let dir = scratch_dir("inject");
    let port = free_port();
    let out = dir.join("out.log");
    let config = format!(
        "[hekad]\nbase_dir = \"{}\"\n\n[TcpInput]\naddress = \"127.0.0.1:{port}\"\n\n[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        dir.join("cache").display(),
        out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let status = Command::new(env!("CARGO_BIN_EXE_heka-inject"))
        .args([
            "-heka",
            &format!("127.0.0.1:{port}"),
            "-type",
            "injected",
            "-payload",
            "hello world",
            "-severity",
            "3",
        ])
        .status()
        .expect("run heka-inject");
    assert!(status.success());
    let (status, stderr) = hekad.terminate();
    assert!(status.success(), "{stderr}");
    let (_, stdout, _) = heka_cat(&[
        "-format=txt",
        "-match=Type == 'injected' && Severity == 3",
        out.to_str().expect("path"),
    ]);
    assert!(stdout.contains("Payload: hello world"), "{stdout}");
    assert!(stdout.contains("Logger: Inject Client"), "{stdout}");
}
