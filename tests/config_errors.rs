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
        name: "misspelled key",
        config: "[In]\ntype = \"UdpInput\"\nadress = \"127.0.0.1:0\"\n",
        errors: &[
            "[In] adress: unknown config setting for 'In': adress; did you mean address?",
            "[In] address: expected a host:port, a path, an @abstract name or fd:<n>, not set (required)",
        ],
    },
    Case {
        name: "unknown key with nothing close",
        config: "[Out]\ntype = \"LogOutput\"\nmessage_matcher = \"TRUE\"\nencoder = \"RstEncoder\"\ncolour = \"red\"\n\n[RstEncoder]\n",
        errors: &["[Out] colour: unknown config setting for 'Out': colour; expected one of "],
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
            "[tail] file_match: expected a regular expression for the file names to read, not set (required)",
            "[tail] rescan_interval: ",
            "[tail] log_directory: expected a directory, got {dir}/plain (not a directory)",
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
        errors: &["[tail] file_match: expected a regular expression for the file names to read, not set (required)"],
    },
    Case {
        name: "Heka type not implemented",
        config: "[Kafka]\ntype = \"KafkaOutput\"\nmessage_matcher = \"TRUE\"\n",
        errors: &["[Kafka] type: KafkaOutput is a Heka plugin that hekad does not implement yet"],
    },
    Case {
        name: "misspelled type",
        config: "[Fil]\ntype = \"FilOutput\"\nmessage_matcher = \"TRUE\"\n",
        errors: &["[Fil] type: expected a plugin type hekad implements, got \"FilOutput\"; did you mean FileOutput?"],
    },
    Case {
        name: "bad message matcher",
        config: "[Out]\ntype = \"LogOutput\"\nmessage_matcher = \"Type ==\"\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
        errors: &["[Out] message_matcher: expected a message matcher expression, got \"Type ==\": "],
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
        errors: &[
            "[In] tls.bogus_key: unknown config setting for 'In': tls.bogus_key",
            "[In] tls.cert_file: expected a PEM certificate file, got \"x.pem\": ",
            "[In] tls.key_file: expected a PEM private key file (a TLS server needs one), not set (required)",
        ],
    },
    Case {
        name: "a decoder used by an input is reported once",
        config: "[Dec]\ntype = \"PayloadRegexDecoder\"\n\n[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\ndecoder = \"Dec\"\n",
        errors: &["[Dec] match_regex: expected a regular expression with named captures, not set (required)"],
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
        errors: &["[tail] log_directory: expected a directory, got {dir}/plain (not a directory)"],
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
    Case {
        name: "journal directory under a regular file",
        config: "[tail]\ntype = \"LogstreamerInput\"\nlog_directory = \"{dir}\"\nfile_match = 'x\\.log'\njournal_directory = \"{dir}/plain/journals\"\n",
        errors: &["[tail] journal_directory: cannot create directory {dir}/plain/journals: {dir}/plain is not a directory"],
    },
    Case {
        name: "default journal directory taken by a regular file",
        config: "[hekad]\nbase_dir = \"{dir}/base\"\n\n[tail]\ntype = \"LogstreamerInput\"\nlog_directory = \"{dir}\"\nfile_match = 'x\\.log'\n",
        errors: &["[tail] journal_directory: cannot create directory {dir}/base/logstreamer: {dir}/base/logstreamer is not a directory"],
    },
    Case {
        name: "two bad keys of one section: a value outside a list and a required key",
        config: "[In]\ntype = \"TcpInput\"\nnet = \"sctp\"\n",
        errors: &[
            "[In] net: expected one of tcp, tcp4, tcp6, unix, got \"sctp\"",
            "[In] address: expected a host:port or a path, not set (required)",
        ],
    },
    Case {
        name: "two bad keys of a UdpInput",
        config: "[In]\ntype = \"UdpInput\"\nnet = \"udp7\"\n",
        errors: &[
            "[In] net: expected one of udp, udp4, udp6, unixgram, got \"udp7\"",
            "[In] address: expected a host:port, a path, an @abstract name or fd:<n>, not set (required)",
        ],
    },
    Case {
        name: "two bad keys of a StatsdInput",
        config: "[StatAccumInput]\n\n[Stats]\ntype = \"StatsdInput\"\nnet = \"sctp\"\nmax_msg_size = 0\n",
        errors: &[
            "[Stats] max_msg_size: expected a size above 0, got 0",
            "[Stats] net: expected one of udp, udp4, udp6, tcp, tcp4, tcp6, got \"sctp\"",
        ],
    },
    Case {
        name: "two bad keys of an HttpListenInput",
        config: "[In]\ntype = \"HttpListenInput\"\naddress = \"127.0.0.1:0\"\nauth_type = \"Digest\"\n[In.headers]\n\"bad name\" = \"x\"\n",
        errors: &[
            "[In] auth_type: expected one of Basic, API, got \"Digest\"",
            "[In] headers: expected an HTTP header name, got \"bad name\"",
        ],
    },
    Case {
        name: "TLS server without its certificate and key",
        config: "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:0\"\nuse_tls = true\n[In.tls]\nclient_auth = \"NoClientCert\"\n",
        errors: &[
            "[In] tls.cert_file: expected a PEM certificate file (a TLS server needs one), not set (required)",
            "[In] tls.key_file: expected a PEM private key file (a TLS server needs one), not set (required)",
        ],
    },
    Case {
        name: "every failed check of StatAccumInput",
        config: "[StatAccumInput]\nticker_interval = 0\nemit_in_payload = false\nemit_in_fields = false\npercent_threshold = [90, 150]\n",
        errors: &[
            "[StatAccumInput] ticker_interval: expected seconds above 0, got 0",
            "[StatAccumInput] emit_in_payload: expected emit_in_payload or emit_in_fields to be true, got both false",
            "[StatAccumInput] percent_threshold: expected percentages (0 to 100), got 150",
        ],
    },
    Case {
        name: "ProcessInput commands with a gap",
        config: "[Run]\ntype = \"ProcessInput\"\n[Run.command.0]\nbin = \"/bin/true\"\n[Run.command.2]\nbin = \"/bin/true\"\n",
        errors: &["[Run] command: expected commands numbered 0 to 1 without gaps, got 0, 2"],
    },
    Case {
        name: "ProcessInput without a command",
        config: "[Run]\ntype = \"ProcessInput\"\n",
        errors: &["[Run] command: expected a [Run.command.0] table with a bin, not set (required)"],
    },
    Case {
        name: "FilePollingInput without a file",
        config: "[Poll]\ntype = \"FilePollingInput\"\n",
        errors: &["[Poll] file_path: expected a file to read, not set (required)"],
    },
    Case {
        name: "HttpInput with url and urls",
        config: "[Get]\ntype = \"HttpInput\"\nurl = \"http://127.0.0.1:1/\"\nurls = [\"http://127.0.0.1:2/\"]\nmethod = \"FETCH\"\n",
        errors: &[
            "[Get] urls: expected url or urls, got both (url \"http://127.0.0.1:1/\")",
            "[Get] method: expected one of GET, POST, PUT, got \"FETCH\"",
        ],
    },
    Case {
        name: "SystemStatsInput with an empty process name",
        config: "[Sys]\ntype = \"SystemStatsInput\"\nprocesses = [\"\", \"ok\"]\n",
        errors: &["[Sys] processes: expected process names (one line, not empty), got \"\""],
    },
    Case {
        name: "two bad keys of a PayloadRegexDecoder",
        config: "[Dec]\ntype = \"PayloadRegexDecoder\"\nmatch_regex = \"(\"\ntimestamp_location = \"Mars/Base\"\n",
        errors: &[
            "[Dec] match_regex: expected a regular expression, got \"(\": ",
            "[Dec] timestamp_location: expected a time zone (UTC, Local, a tz database name), got \"Mars/Base\"",
        ],
    },
    Case {
        name: "MultiDecoder without subs and with an unknown strategy",
        config: "[Multi]\ntype = \"MultiDecoder\"\ncascade_strategy = \"some\"\n",
        errors: &[
            "[Multi] subs: expected a list of decoder names, not set (required)",
            "[Multi] cascade_strategy: expected one of first-wins, all, got \"some\"",
        ],
    },
    Case {
        name: "MultiDecoder with a bad strategy and a missing sub",
        config: "[Multi]\ntype = \"MultiDecoder\"\nsubs = [\"Nope\"]\ncascade_strategy = \"some\"\n",
        errors: &[
            "[Multi] cascade_strategy: expected one of first-wins, all, got \"some\"",
            "[Multi] subs: no Decoder named 'Nope'",
        ],
    },
    Case {
        name: "StatFilter without metrics",
        config: "[StatAccumInput]\n\n[Stat]\ntype = \"StatFilter\"\nmessage_matcher = \"TRUE\"\n",
        errors: &["[Stat] Metric: expected [Stat.Metric.<id>] tables with type, name and value, not set (required)"],
    },
    Case {
        name: "StatFilter with a bad metric type and a missing StatAccumInput",
        config: "[Stat]\ntype = \"StatFilter\"\nmessage_matcher = \"TRUE\"\nstat_accum_name = \"Nope\"\n[Stat.Metric.hits]\ntype = \"Count\"\nname = \"x\"\nvalue = \"1\"\n",
        errors: &[
            "[Stat] stat_accum_name: no Input named 'Nope'",
            "[Stat] Metric.hits.type: expected one of Counter, Timer, Gauge, got \"Count\"",
        ],
    },
    Case {
        name: "two bad keys of a SandboxFilter",
        config: "[Lua]\ntype = \"SandboxFilter\"\nmessage_matcher = \"TRUE\"\nscript_type = \"js\"\n",
        errors: &[
            "[Lua] script_type: expected one of lua, got \"js\"",
            "[Lua] filename: expected a Lua script under share_dir or a built-in one, not set (required)",
        ],
    },
    Case {
        name: "output without a message matcher",
        config: "[Out]\ntype = \"LogOutput\"\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
        errors: &["[Out] message_matcher: expected a message matcher expression such as \"Type == 'x'\", not set (required)"],
    },
    Case {
        name: "ticker_interval on an output that does not tick",
        config: "[Out]\ntype = \"LogOutput\"\nmessage_matcher = \"TRUE\"\nticker_interval = 5\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
        errors: &["[Out] ticker_interval: expected no ticker_interval (LogOutput does not tick), got 5"],
    },
    Case {
        name: "two bad keys of a TcpOutput",
        config: "[Out]\ntype = \"TcpOutput\"\nmessage_matcher = \"TRUE\"\naddress = \"\"\nlocal_address = \"here\"\n",
        errors: &[
            "[Out] address: expected a host:port, not set (required)",
            "[Out] local_address: expected an ip:port address, got \"here\"",
        ],
    },
    Case {
        name: "two bad keys of a UdpOutput",
        config: "[Out]\ntype = \"UdpOutput\"\nmessage_matcher = \"TRUE\"\nnet = \"tcp\"\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
        errors: &[
            "[Out] net: expected one of udp, udp4, udp6, unixgram, got \"tcp\"",
            "[Out] address: expected a host:port or a path, not set (required)",
        ],
    },
    Case {
        name: "two bad keys of an HttpOutput",
        config: "[Out]\ntype = \"HttpOutput\"\nmessage_matcher = \"TRUE\"\nmethod = \"FETCH\"\nencoder = \"RstEncoder\"\n\n[RstEncoder]\n",
        errors: &[
            "[Out] address: expected an http:// or https:// URL, not set (required)",
            "[Out] method: expected one of GET, POST, PUT, got \"FETCH\"",
        ],
    },
    Case {
        name: "ElasticSearchOutput over UDP",
        config: "[ES]\ntype = \"ElasticSearchOutput\"\nmessage_matcher = \"TRUE\"\nserver = \"udp://127.0.0.1:9700\"\nencoder = \"ESJsonEncoder\"\n\n[ESJsonEncoder]\n",
        errors: &["[ES] server: expected an http:// or https:// URL, got \"udp://127.0.0.1:9700\": the bulk UDP API is not supported"],
    },
    Case {
        name: "two bad keys of a CarbonOutput",
        config: "[Carbon]\ntype = \"CarbonOutput\"\nmessage_matcher = \"TRUE\"\nprotocol = \"sctp\"\naddress = \"\"\n",
        errors: &[
            "[Carbon] protocol: expected one of tcp, udp, got \"sctp\"",
            "[Carbon] address: expected a host:port, not set (required)",
        ],
    },
    Case {
        name: "two bad keys of an ESJsonEncoder",
        config: "[Out]\ntype = \"LogOutput\"\nmessage_matcher = \"TRUE\"\nencoder = \"Enc\"\n\n[Enc]\ntype = \"ESJsonEncoder\"\nfields = [\"Uuid\", \"Colour\"]\n[Enc.field_mappings]\nShade = \"x\"\n",
        errors: &[
            "[Enc] fields: expected one of Uuid, Timestamp, Type, Logger, Severity, Payload, EnvVersion, Pid, Hostname, DynamicFields, got \"Colour\"",
            "[Enc] field_mappings: expected one of Uuid, Timestamp, Type, Logger, Severity, Payload, EnvVersion, Pid, Hostname, got \"Shade\"",
        ],
    },
    Case {
        name: "InfluxLineEncoder precision",
        config: "[Out]\ntype = \"LogOutput\"\nmessage_matcher = \"TRUE\"\nencoder = \"Enc\"\n\n[Enc]\ntype = \"InfluxLineEncoder\"\ntimestamp_precision = \"h\"\n",
        errors: &["[Enc] timestamp_precision: expected one of ns, us, ms, s, got \"h\""],
    },
    Case {
        name: "two bad keys of a TokenSplitter",
        config: "[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\nsplitter = \"Split\"\n\n[Split]\ntype = \"TokenSplitter\"\ndelimiter = \"ab\"\nmin_buffer_size = 1000000000\n",
        errors: &[
            "[Split] min_buffer_size: expected at most ",
            "[Split] delimiter: expected a single character, got \"ab\"",
        ],
    },
    Case {
        name: "two bad keys of a PatternGroupingSplitter",
        config: "[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\nsplitter = \"Split\"\n\n[Split]\ntype = \"PatternGroupingSplitter\"\ndelimiter = \"(\"\ngrouping = \"[\"\n",
        errors: &[
            "[Split] delimiter: expected a regular expression, got \"(\"",
            "[Split] grouping: expected a regular expression, got \"[\"",
        ],
    },
    Case {
        name: "RegexSplitter with two capture groups",
        config: "[In]\ntype = \"UdpInput\"\naddress = \"127.0.0.1:0\"\nsplitter = \"Split\"\n\n[Split]\ntype = \"RegexSplitter\"\ndelimiter = \"(a)(b)\"\n",
        errors: &["[Split] delimiter: expected a regular expression with at most one capture group, got \"(a)(b)\" (2 groups)"],
    },
    Case {
        name: "a mistyped key does not hide the section's other checks",
        config: "[In]\ntype = \"TcpInput\"\nadress = \"127.0.0.1:0\"\n\n[Files]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npth = \"/tmp/x.log\"\nflush_count = \"many\"\n",
        errors: &[
            "[In] adress: unknown config setting for 'In': adress; did you mean address?",
            "[In] address: expected a host:port or a path, not set (required)",
            "[Files] pth: unknown config setting for 'Files': pth; did you mean path?",
            "[Files] flush_count: expected a whole number (0 or more), got string \"many\"",
            "[Files] path: expected a file path, not set (required)",
            "[Files] encoder: expected the name of an encoder section, not set (required)",
        ],
    },
    Case {
        name: "every bad key of a tls table",
        config: "[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:0\"\nuse_tls = true\n[In.tls]\ncert_file = \"{dir}/missing.pem\"\nkey_fil = \"{dir}/missing.key\"\nmin_version = \"TLS10\"\n",
        errors: &[
            "[In] tls.key_fil: unknown config setting for 'In': tls.key_fil",
            "[In] tls.min_version: expected TLS12 or TLS13, got \"TLS10\"",
            "[In] tls.cert_file: expected a PEM certificate file, got \"{dir}/missing.pem\": ",
            "[In] tls.key_file: expected a PEM private key file (a TLS server needs one), not set (required)",
        ],
    },
    Case {
        name: "type that is not a string",
        config: "[In]\ntype = 5\n",
        errors: &["[In] type: expected a string, got integer 5"],
    },
];

#[test]
fn one_bad_config_per_error_class() {
    let dir = scratch_dir("config-errors");
    let dir_text = dir.display().to_string();
    std::fs::write(dir.join("plain"), b"a regular file").expect("plain file");
    std::fs::create_dir_all(dir.join("base")).expect("base dir");
    std::fs::write(dir.join("base/logstreamer"), b"a regular file").expect("journal file");
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
        "[tail] file_match: expected a regular expression for the file names to read, not set (required)",
        "[Out] path: expected a string, got integer `5`",
        "[Out] encoder: expected the name of an encoder section, not set (required)",
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

/// `hekad -test` checks a config without binding or writing: it creates neither base_dir,
/// the output's file nor the unix socket of an input, prints the start-up summary and
/// exits 0; a bad config exits 1 with its errors.
#[test]
fn test_flag_checks_without_binding_or_writing() {
    let dir = scratch_dir("config-test-flag");
    let port = common::free_port();
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

[Socket]
type = "UdpInput"
net = "unixgram"
address = "{dir}/in.sock"
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

/// `hekad -test` binds nothing, yet refuses an address another socket holds (read from
/// /proc/net), with the error a real start gives: a TCP listener on the same address, a
/// TCP listener under a wildcard address, a UDP socket.
#[test]
fn test_flag_refuses_an_address_in_use() {
    if std::fs::read_to_string("/proc/net/tcp").is_err() {
        return;
    }
    let dir = scratch_dir("config-test-flag-in-use");
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    let udp_port = udp.local_addr().expect("addr").port();
    let file = dir.join("in-use.toml");
    let config = format!(
        r#"[hekad]
base_dir = "{cache}"

[In]
type = "TcpInput"
address = "127.0.0.1:{port}"

[Web]
type = "HttpListenInput"
address = "0.0.0.0:{port}"

[Datagrams]
type = "UdpInput"
address = "127.0.0.1:{udp_port}"
"#,
        cache = dir.join("cache").display()
    );
    std::fs::write(&file, config).expect("write config");
    let (code, stderr) = run(&file, &["-test"]);
    assert_eq!(code, 1, "{stderr}");
    let lines = error_lines(&stderr);
    for expected in [
        format!("[In] address: cannot listen on 127.0.0.1:{port}: Address already in use"),
        format!("[Web] address: cannot listen on 0.0.0.0:{port}: Address already in use"),
        format!(
            "[Datagrams] address: cannot listen on 127.0.0.1:{udp_port}: Address already in use"
        ),
    ] {
        let hits = lines.iter().filter(|l| l.contains(&expected)).count();
        assert_eq!(hits, 1, "{expected:?} printed {hits} times:\n{stderr}");
    }
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(!stderr.contains("is OK"), "{stderr}");
    assert!(!dir.join("cache").exists(), "base_dir created");
    // The same error as a real start gives.
    let (code, real) = run(&file, &[]);
    assert_eq!(code, 1, "{real}");
    assert!(
        real.contains(&format!(
            "[In] address: cannot listen on 127.0.0.1:{port}: Address already in use"
        )),
        "{real}"
    );
    drop((held, udp));
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
