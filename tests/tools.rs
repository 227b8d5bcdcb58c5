//! heka-cat, heka-inject and heka-flood, as real processes.

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

/// Issue 23: a frame whose damaged length swallowed the next frame lost that frame too;
/// heka-cat now reads again from the frame start inside the invalid record.
#[test]
fn a_damaged_length_loses_only_its_own_frame() {
    let multi = common::read_fixture("streams/multi.dat");
    let header = hekad::framing::parse_header(&multi).expect("first frame");
    let hlen = multi[1] as usize;
    let len = header.message_length as usize;
    let message = &multi[hlen + 3..hlen + 3 + len];
    // The first frame again, its length 100 bytes too long: it reaches into the second.
    let mut varint = Vec::new();
    let mut n = len + 100;
    while n >= 0x80 {
        varint.push((n as u8) | 0x80);
        n >>= 7;
    }
    varint.push(n as u8);
    let mut damaged = vec![0x1E, (1 + varint.len()) as u8, 0x08];
    damaged.extend_from_slice(&varint);
    damaged.push(0x1F);
    damaged.extend_from_slice(message);
    damaged.extend_from_slice(&multi[hlen + 3 + len..]);
    let dir = scratch_dir("cat-damaged-length");
    let path = dir.join("damaged.dat");
    std::fs::write(&path, &damaged).expect("write");
    let (code, _, stderr) = heka_cat(&["-format=count", path.to_str().expect("path")]);
    assert_eq!(code, 0);
    assert!(stderr.contains("invalid message"), "{stderr}");
    assert!(
        stderr.contains("Processed: 50, matched: 49 messages"),
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

/// Runs heka-flood with `config` as its `[default]` test; returns its stderr.
fn heka_flood(dir: &std::path::Path, config: &str) -> String {
    let path = dir.join("flood.toml");
    std::fs::write(&path, format!("[default]\n{config}")).expect("flood config");
    let out = Command::new(env!("CARGO_BIN_EXE_heka-flood"))
        .args(["-config", path.to_str().expect("path"), "-test", "default"])
        .output()
        .expect("run heka-flood");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn heka_flood_sends_clean_and_damaged_streams_and_hekad_survives_them() {
    let dir = scratch_dir("flood");
    let port = free_port();
    let out = dir.join("out.log");
    let config = format!(
        "{}\n[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\n\n[Out]\ntype = \"FileOutput\"\npath = \"{}\"\nmessage_matcher = \"Type == 'hekabench'\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 0\n",
        common::globals(&dir, ""),
        out.display()
    );
    let hekad = Hekad::start(&dir, &config);
    hekad.wait_for_log("Starting hekad");
    let stderr = heka_flood(
        &dir,
        &format!("ip_address = \"127.0.0.1:{port}\"\nnum_messages = 300\nascii_only = true\n"),
    );
    assert!(stderr.contains("sent 300 messages"), "{stderr}");
    let got = common::wait_for_messages(&hekad, &out, 300);
    assert_eq!(got.len(), 300);
    assert!(got
        .iter()
        .all(|m| m.logger.as_deref() == Some(&b"flood"[..])));
    // A quarter corrupted and a few oversized: hekad skips and counts those and keeps
    // every intact message.
    let stderr = heka_flood(
        &dir,
        &format!(
            "ip_address = \"127.0.0.1:{port}\"\nnum_messages = 400\ncorrupt_percentage = 25.0\noversized_percentage = 2.0\nvariable_size_messages = false\nstatic_message_size = 100\n"
        ),
    );
    let damaged: u64 = ["corrupted ", "oversized "]
        .iter()
        .map(|key| {
            stderr
                .split(key)
                .nth(1)
                .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {key}count in {stderr}"))
        })
        .sum();
    assert!(damaged > 0, "{stderr}");
    // A flipped length can swallow the frames after it, so how many of this batch arrive
    // varies; what must hold is that hekad survives and takes the next clean batch whole.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let after_damage = common::read_messages(&out).len();
    assert!((300..=700).contains(&after_damage), "{after_damage}");
    heka_flood(
        &dir,
        &format!("ip_address = \"127.0.0.1:{port}\"\nnum_messages = 100\n"),
    );
    let got = common::wait_for_messages(&hekad, &out, after_damage + 100);
    assert!(got.len() >= after_damage + 100);
    let _ = hekad.terminate();
}
