//! The config error catalogue, through the real binary: one bad config per error class,
//! each error naming file, `[section]` and key, saying what was expected and what was
//! given, printed once, and all errors of a config reported in one pass.

mod common;

use common::scratch_dir;
use std::process::Command;

/// Runs `hekad -config=<path>` and returns its exit code and stderr.
fn run(path: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hekad"))
        .arg(format!("-config={}", path.display()))
        .args(extra)
        .output()
        .expect("run hekad");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ERROR lines hekad printed about the config, without the log prefix.
fn error_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(" ERROR [hekad] ").map(|(_, m)| m.to_owned()))
        .filter(|m| !m.ends_with("errors loading plugins"))
        .collect()
}

/// One case: a config (`{dir}` is replaced by the scratch directory) and the text each
/// of its errors must contain, in any order; no other error may appear.
struct Case {
    name: &'static str,
    config: &'static str,
    errors: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "unknown key",
        config: "[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\nparser_typo = 1\n",
        errors: &["[In] parser_typo: unknown config setting for 'In': parser_typo"],
    },
    Case {
        name: "common key of the wrong type",
        config: "[CounterFilter]\nticker_interval = \"5s\"\n",
        errors: &[
            "[CounterFilter] ticker_interval: expected a whole number (0 or more), got string \"5s\"",
        ],
    },
    Case {
        name: "plugin key of the wrong type, on one line",
        config: "[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = 5\nencoder = \"PayloadEncoder\"\n\n[PayloadEncoder]\n",
        errors: &["[Out] path: expected a string, got integer `5`"],
    },
    Case {
        name: "every bad key of a section",
        config: "[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = 5\nflush_interval = \"1s\"\nticker_interval = \"5s\"\nuse_buffering = \"yes\"\nencoder = \"PayloadEncoder\"\n\n[PayloadEncoder]\n",
        errors: &[
            "[Out] path: expected a string, got integer `5`",
            "[Out] flush_interval: expected a whole number (0 or more), got string \"1s\"",
            "[Out] ticker_interval: expected a whole number (0 or more), got string \"5s\"",
            "[Out] use_buffering: expected a boolean (true or false), got string \"yes\"",
        ],
    },
    Case {
        name: "every failed check of a plugin",
        config: "[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{dir}/out.log\"\nperm = \"rw\"\nflush_operator = \"XOR\"\nrotation_interval = 5\nencoder = \"PayloadEncoder\"\n\n[PayloadEncoder]\n",
        errors: &[
            "[Out] perm: expected an octal permission such as \"644\", got \"rw\"",
            "[Out] flush_operator: expected AND or OR, got \"XOR\"",
            "[Out] rotation_interval: expected one of 0, 1, 4, 12, 24 (hours), got 5",
        ],
    },
    Case {
        name: "every failed check of LogstreamerInput",
        config: "[tail]\ntype = \"LogstreamerInput\"\nlog_directory = \"{dir}/plain\"\nrescan_interval = \"soon\"\n",
        errors: &[
            "[tail] file_match: `file_match` setting is required.",
            "[tail] rescan_interval: ",
            "[tail] log_directory: {dir}/plain is not a directory",
        ],
    },
    Case {
        name: "every bad global",
        config: "[hekad]\npoolsize = \"100\"\nmaxprocs = true\n\n[CounterFilter]\n",
        errors: &[
            "[hekad] poolsize: expected an integer, got string \"100\"",
            "[hekad] maxprocs: expected an integer, got boolean `true`",
        ],
    },
    Case {
        name: "global of the wrong type",
        config: "[hekad]\npoolsize = \"100\"\n\n[CounterFilter]\n",
        errors: &["[hekad] poolsize: expected an integer, got string \"100\""],
    },
    Case {
        name: "unknown global",
        config: "[hekad]\npoolsizes = 100\n\n[CounterFilter]\n",
        errors: &["[hekad] poolsizes: unknown config setting"],
    },
    Case {
        name: "global out of range",
        config: "[hekad]\nmax_message_size = 10\n\n[CounterFilter]\n",
        errors: &["[hekad] max_message_size: must be > 1024, got 10"],
    },
    Case {
        name: "nested key of the wrong value",
        config: "[Out]\ntype = \"TcpOutput\"\naddress = \"127.0.0.1:1\"\nmessage_matcher = \"TRUE\"\n[Out.buffering]\nfull_action = \"explode\"\n",
        errors: &["[Out] buffering.full_action: expected one of `shutdown`, `drop`, `block`, got `explode`"],
    },
    Case {
        name: "missing required key",
        config: "[tail]\ntype = \"LogstreamerInput\"\nlog_directory = \"{dir}\"\n",
        errors: &["[tail] file_match: `file_match` setting is required."],
    },
    Case {
        name: "Heka type not implemented",
        config: "[Kafka]\ntype = \"KafkaOutput\"\nmessage_matcher = \"TRUE\"\n",
        errors: &["[Kafka] type: KafkaOutput is a Heka plugin that hekad does not implement yet"],
    },
    Case {
        name: "misspelled type",
        config: "[Fil]\ntype = \"FilOutput\"\nmessage_matcher = \"TRUE\"\n",
        errors: &["[Fil] type: No registered plugin type: FilOutput; did you mean FileOutput?"],
    },
    Case {
        name: "bad message matcher",
        config: "[Out]\ntype = \"LogOutput\"\nmessage_matcher = \"Type ==\"\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
        errors: &["[Out] message_matcher: \"Type ==\""],
    },
    Case {
        name: "reference to a missing decoder",
        config: "[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\ndecoder = \"Nope\"\n",
        errors: &["[In] decoder: no Decoder named 'Nope'"],
    },
    Case {
        name: "TLS table on a plugin without TLS",
        config: "[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\n[In.tls]\ncert_file = \"x.pem\"\n",
        errors: &["[In] tls: UdpInput does not support TLS (no tls table)"],
    },
    Case {
        name: "unknown key in a tls table",
        config: "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:0\"\nuse_tls = true\n[In.tls]\ncert_file = \"x.pem\"\nbogus_key = 1\n",
        errors: &["[In] tls.bogus_key: unknown config setting for 'In': tls.bogus_key"],
    },
    Case {
        name: "a decoder used by an input is reported once",
        config: "[Dec]\ntype = \"PayloadRegexDecoder\"\n\n[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\ndecoder = \"Dec\"\n",
        errors: &["[Dec] match_regex: match_regex is required"],
    },
    Case {
        name: "TOML syntax",
        config: "[In\ntype = \"UdpInput\"\n",
        errors: &["line 1: "],
    },
    Case {
        name: "output directory under a regular file",
        config: "[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{dir}/plain/out.log\"\nencoder = \"PayloadEncoder\"\n\n[PayloadEncoder]\n",
        errors: &["[Out] path: cannot create directory {dir}/plain: {dir}/plain is not a directory"],
    },
    Case {
        name: "log directory that is a file",
        config: "[tail]\ntype = \"LogstreamerInput\"\nlog_directory = \"{dir}/plain\"\nfile_match = 'x\\.log'\n",
        errors: &["[tail] log_directory: {dir}/plain is not a directory"],
    },
    Case {
        name: "missing Lua file",
        config: "[Lua]\ntype = \"SandboxFilter\"\nmessage_matcher = \"TRUE\"\nfilename = \"{dir}/missing.lua\"\n",
        errors: &["[Lua] filename: "],
    },
    Case {
        name: "command that cannot be run",
        config: "[Run]\ntype = \"ProcessInput\"\n[Run.command.0]\nbin = \"{dir}/plain\"\n",
        errors: &["[Run] command.0.bin: {dir}/plain is not executable"],
    },
    Case {
        name: "address that does not parse",
        config: "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1\"\n",
        errors: &["[In] address: "],
    },
    Case {
        name: "disk queue under a regular file",
        config: "[hekad]\nbase_dir = \"{dir}/plain\"\n\n[Out]\ntype = \"LogOutput\"\nmessage_matcher = \"TRUE\"\nuse_buffering = true\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
        errors: &["[hekad] base_dir: cannot create directory {dir}/plain: {dir}/plain is not a directory"],
    },
];

#[test]
fn one_bad_config_per_error_class() {
    let dir = scratch_dir("config-errors");
    let dir_text = dir.display().to_string();
    std::fs::write(dir.join("plain"), b"a regular file").expect("plain file");
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let mut config = case.config.replace("{dir}", &dir_text);
        if !config.contains("[hekad]") && !config.starts_with("[In\n") {
            config = format!("[hekad]\nbase_dir = \"{dir_text}/cache\"\n\n{config}");
        }
        let file = dir.join(format!("case{i}.toml"));
        std::fs::write(&file, &config).expect("write config");
        let (code, stderr) = run(&file, &[]);
        let lines = error_lines(&stderr);
        let mut problems = Vec::new();
        if code != 1 {
            problems.push(format!("exit code {code}"));
        }
        if lines.len() != case.errors.len() {
            problems.push(format!(
                "{} errors, expected {}",
                lines.len(),
                case.errors.len()
            ));
        }
        if !stderr.contains(&format!("{} errors loading plugins", case.errors.len())) {
            problems.push("wrong error count line".to_owned());
        }
        for expected in case.errors {
            let expected = expected.replace("{dir}", &dir_text);
            let hits = lines.iter().filter(|l| l.contains(&expected)).count();
            if hits != 1 {
                problems.push(format!("{expected:?} printed {hits} times"));
            }
        }
        for line in &lines {
            if !line.starts_with(&format!("{}: ", file.display())) {
                problems.push(format!("{line:?} does not name the file first"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n{stderr}", case.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Errors of `[hekad]`, of plugin sections and of the sections they refer to all come
/// out of one run.
#[test]
fn all_errors_of_a_config_in_one_pass() {
    let dir = scratch_dir("config-errors-one-pass");
    let file = dir.join("all.toml");
    let config = format!(
        r#"[hekad]
base_dir = "{cache}"
poolsize = "100"

[CounterFilter]
ticker_interval = "5s"

[Dec]
type = "ProtobufDecoder"
bogus = 1

[In]
type = "TcpInput"
address = "127.0.0.1:0"
decoder = "Dec"
splitter = "NoSuchSplitter"

[tail]
type = "LogstreamerInput"
log_directory = "{dir}"

[Out]
type = "FileOutput"
message_matcher = "TRUE"
path = 5
"#,
        cache = dir.join("cache").display(),
        dir = dir.display(),
    );
    std::fs::write(&file, config).expect("write config");
    let (code, stderr) = run(&file, &[]);
    assert_eq!(code, 1, "{stderr}");
    let lines = error_lines(&stderr);
    let expected = [
        "[hekad] poolsize: expected an integer",
        "[CounterFilter] ticker_interval: expected a whole number",
        "[Dec] bogus: unknown config setting",
        "[In] splitter: no Splitter named 'NoSuchSplitter'",
        "[tail] file_match: `file_match` setting is required.",
        "[Out] path: expected a string, got integer `5`",
        "[Out] encoder: Encoder required.",
    ];
    for needle in expected {
        let hits = lines.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(hits, 1, "{needle:?} printed {hits} times:\n{stderr}");
    }
    assert_eq!(lines.len(), expected.len(), "{stderr}");
    assert!(
        stderr.contains(&format!("{} errors loading plugins", expected.len())),
        "{stderr}"
    );
}

/// An address another process holds is refused at start, naming section and key.
#[test]
fn an_address_in_use_is_refused_at_start() {
    let dir = scratch_dir("config-errors-in-use");
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let file = dir.join("in-use.toml");
    let config = format!(
        "[hekad]\nbase_dir = \"{}\"\n\n[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\n",
        dir.join("cache").display()
    );
    std::fs::write(&file, config).expect("write config");
    let (code, stderr) = run(&file, &[]);
    assert_eq!(code, 1, "{stderr}");
    let lines = error_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(&format!(
            "[In] address: cannot listen on 127.0.0.1:{port}: Address already in use"
        )),
        "{stderr}"
    );
}

/// `hekad -test` checks a config without binding or writing: it succeeds while another
/// process holds the input's port, creates neither base_dir nor the output's file, prints
/// the start-up summary and exits 0; a bad config exits 1 with its errors.
#[test]
fn test_flag_checks_without_binding_or_writing() {
    let dir = scratch_dir("config-test-flag");
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let cache = dir.join("cache");
    let out = dir.join("logs").join("out.log");
    let file = dir.join("good.toml");
    let config = format!(
        r#"[hekad]
base_dir = "{cache}"
poolsize = 10

[In]
type = "TcpInput"
address = "127.0.0.1:{port}"

[Out]
type = "FileOutput"
message_matcher = "Type == 'x'"
path = "{out}"
encoder = "PayloadEncoder"
use_buffering = true

[PayloadEncoder]

[Stats]
type = "StatsdInput"
address = "127.0.0.1:{port}"

[StatAccumInput]

[tail]
type = "LogstreamerInput"
log_directory = "{dir}"
file_match = '.*\.log'

[Lua]
type = "SandboxFilter"
filename = "{dir}/filter.lua"
message_matcher = "TRUE"
preserve_data = true
ticker_interval = 5

[Ship]
type = "TcpOutput"
address = "127.0.0.1:{port}"
message_matcher = "TRUE"

[Datagrams]
type = "UdpOutput"
address = "127.0.0.1:{port}"
message_matcher = "TRUE"
encoder = "PayloadEncoder"
"#,
        cache = cache.display(),
        out = out.display(),
        dir = dir.display(),
    );
    std::fs::write(&file, config).expect("write config");
    std::fs::write(
        dir.join("filter.lua"),
        "function process_message() return 0 end\nfunction timer_event(ns) end\n",
    )
    .expect("write script");
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(&*dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    for flag in ["-test", "--test"] {
        let (code, stderr) = run(&file, &[flag]);
        assert_eq!(code, 0, "{flag}: {stderr}");
        for needle in [
            format!("Input 'In' (TcpInput): listens on 127.0.0.1:{port}; splitter HekaFramingSplitter; decoder ProtobufDecoder"),
            format!(
                "Output 'Out' (FileOutput): writes {}; matches \"Type == 'x'\"; disk queue {} (unbounded); encoder PayloadEncoder",
                out.display(),
                cache.join("output_queue").join("Out").display()
            ),
            format!("disk queues: 2 under {}", cache.join("output_queue").display()),
            "memory bound: 20 packs (poolsize 10 x 2)".to_owned(),
            format!("Configuration {} is OK", file.display()),
        ] {
            assert!(stderr.contains(&needle), "{flag}: missing {needle:?} in\n{stderr}");
        }
        assert!(!cache.exists(), "{flag}: base_dir created");
        assert_eq!(listing(), before, "{flag}: files written");
        assert!(
            !out.exists() && !dir.join("logs").exists(),
            "{flag}: output written"
        );
    }
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1\"\n").expect("bad");
    let (code, stderr) = run(&bad, &["-test"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("[In] address: "), "{stderr}");
    assert!(!stderr.contains("is OK"), "{stderr}");
}

/// Every config shipped in `config/` passes `hekad -test`.
#[test]
fn shipped_configs_pass_the_test_flag() {
    let certs = common::example_certs("test-flag-certs");
    let mut checked = 0;
    for path in common::shipped_configs() {
        let out = Command::new(env!("CARGO_BIN_EXE_hekad"))
            .arg(format!("-config={}", path.display()))
            .arg("-test")
            .env("HEKAD_TLS_DIR", certs.as_os_str())
            .output()
            .expect("run hekad");
        let (code, stderr) = (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(code, 0, "{}: {stderr}", path.display());
        assert!(stderr.contains("is OK"), "{}: {stderr}", path.display());
        assert!(
            stderr.contains("memory bound: "),
            "{}: {stderr}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 3);
}
