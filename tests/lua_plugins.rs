//! hekad's built-in Lua library in the real hekad: a config from Heka's documentation
//! runs unchanged with no Heka files installed, the Linux stats decoders read this
//! machine's /proc, a file in share_dir wins over the built-in one, the example configs
//! run as shipped, and `hekad -lua-library` lists what is built in.

mod common;

use common::{globals, scratch_dir, wait_for_messages, Hekad};
use hekad::message::{Field, Message};
use std::path::Path;
use std::time::Duration;

fn field<'a>(msg: &'a Message, name: &str) -> &'a Field {
    msg.fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .unwrap_or_else(|| panic!("no field {name} in {msg:?}"))
}

/// An optional byte-string header or representation as text.
fn utf8(v: &Option<Vec<u8>>) -> Option<&str> {
    v.as_deref().and_then(|b| std::str::from_utf8(b).ok())
}

fn text(f: &Field) -> String {
    String::from_utf8_lossy(&f.value_string[0]).into_owned()
}

/// Connects to 127.0.0.1:`port` once hekad listens there (bounded) and sends `data`.
fn send_when_listening(port: u16, data: &[u8]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut stream) => {
                std::io::Write::write_all(&mut stream, data).expect("send");
                return;
            }
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "port {port}: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lua/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// Heka's nginx access log example config (its decoder section exactly as Heka's
/// documentation gives it), with only the paths and the output filled in.
#[test]
fn heka_documentation_nginx_config_runs_unchanged() {
    let dir = scratch_dir("lua-plugins-nginx-doc");
    let logs = dir.as_path().join("logs");
    std::fs::create_dir_all(&logs).expect("logs");
    std::fs::copy(fixture("nginx_combined.log"), logs.join("access.log")).expect("copy");
    let lines = std::fs::read_to_string(logs.join("access.log")).expect("read");
    let out = dir.as_path().join("out.log");
    let config = format!(
        r#"{}
[TestWebserver]
type = "LogstreamerInput"
log_directory = "{}"
file_match = 'access\.log'
decoder = "CombinedLogDecoder"

[CombinedLogDecoder]
type = "SandboxDecoder"
filename = "lua_decoders/nginx_access.lua"

[CombinedLogDecoder.config]
type = "combined"
user_agent_transform = true
# combined log format
log_format = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'

[Out]
type = "FileOutput"
message_matcher = "Type == 'combined'"
path = "{}"
encoder = "ProtobufEncoder"
use_framing = true
"#,
        globals(
            dir.as_path(),
            &format!("share_dir = \"{}\"", dir.as_path().display())
        ),
        logs.display(),
        out.display()
    );
    let hekad = Hekad::start(dir.as_path(), &config);
    let n = lines.lines().count();
    let got = wait_for_messages(&hekad, &out, n);
    assert_eq!(got.len(), n);
    // The first line is the example of Heka's nginx_access documentation.
    let first = &got[0];
    assert_eq!(utf8(&first.r#type), Some("combined"));
    assert_eq!(first.timestamp, 1_389_366_296_000_000_000);
    assert_eq!(first.payload, None, "payload_keep is off");
    let addr = field(first, "remote_addr");
    assert_eq!(text(addr), "62.195.113.219");
    assert_eq!(utf8(&addr.representation), Some("ipv4"));
    assert_eq!(field(first, "status").value_double, vec![200.0]);
    let bytes = field(first, "body_bytes_sent");
    assert_eq!(bytes.value_double, vec![82.0]);
    assert_eq!(utf8(&bytes.representation), Some("B"));
    assert_eq!(
        text(field(first, "request")),
        "GET /v1/recovery_email/status HTTP/1.1"
    );
    assert_eq!(text(field(first, "user_agent_browser")), "Firefox");
    assert_eq!(field(first, "user_agent_version").value_double, vec![29.0]);
    assert_eq!(text(field(first, "user_agent_os")), "FirefoxOS");
    assert!(first.fields.iter().all(|f| f.name != b"http_user_agent"));
    // Every line parsed: an address field on each message.
    assert!(got
        .iter()
        .all(|m| m.fields.iter().any(|f| f.name == b"remote_addr")));
    let (_, stderr) = hekad.terminate();
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

/// Each Linux stats decoder gets the live file of this machine as one datagram.
#[test]
fn linux_stats_decoders_read_this_machines_proc_files() {
    let dir = scratch_dir("lua-plugins-proc");
    let out = dir.as_path().join("out.log");
    let mut files = vec![
        ("linux_loadavg", "/proc/loadavg".to_owned()),
        ("linux_memstats", "/proc/meminfo".to_owned()),
        ("linux_procstat", "/proc/stat".to_owned()),
        ("linux_netdev", "/proc/net/dev".to_owned()),
        ("linux_netstat", "/proc/net/netstat".to_owned()),
    ];
    let disk = std::fs::read_dir("/sys/block")
        .ok()
        .and_then(|mut d| d.find_map(|e| e.ok()))
        .map(|e| e.path().join("stat").display().to_string());
    if let Some(disk) = &disk {
        files.push(("linux_diskstats", disk.clone()));
    }
    // Each file arrives whole over TCP: a TokenSplitter record of as many lines as it has.
    let contents: Vec<String> = files
        .iter()
        .map(|(_, path)| std::fs::read_to_string(path).expect("read /proc file"))
        .collect();
    let ports: Vec<u16> = files.iter().map(|_| common::free_port()).collect();
    let mut config = globals(dir.as_path(), "");
    for (((decoder, _), port), content) in files.iter().zip(&ports).zip(&contents) {
        config.push_str(&format!(
            "[{decoder}_in]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\n\
             splitter = \"{decoder}_lines\"\ndecoder = \"{decoder}\"\n\n\
             [{decoder}_lines]\ntype = \"TokenSplitter\"\ncount = {}\n\n\
             [{decoder}]\ntype = \"SandboxDecoder\"\nfilename = \"lua_decoders/{decoder}.lua\"\n\n",
            content.lines().count()
        ));
    }
    config.push_str(&format!(
        "[Out]\ntype = \"FileOutput\"\nmessage_matcher = \"Type =~ /^stats\\\\./\"\n\
         path = \"{}\"\nencoder = \"ProtobufEncoder\"\nuse_framing = true\n",
        out.display()
    ));
    let hekad = Hekad::start(dir.as_path(), &config);
    for (port, content) in ports.iter().zip(&contents) {
        send_when_listening(*port, content.as_bytes());
    }
    let interfaces = contents[3].lines().filter(|l| l.contains(':')).count();
    let expected = files.len() - 1 + interfaces;
    let got = wait_for_messages(&hekad, &out, expected);
    let of_type =
        |t: &str| -> Vec<&Message> { got.iter().filter(|m| utf8(&m.r#type) == Some(t)).collect() };
    // /proc/loadavg: "0.52 0.58 0.59 2/1234 56789".
    let load = of_type("stats.loadavg");
    let first: f64 = contents[0]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(field(load[0], "1MinAvg").value_double, vec![first]);
    // /proc/meminfo: every line a field in kB.
    let mem = of_type("stats.memstats");
    let total: f64 = contents[1]
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("MemTotal");
    let mem_total = field(mem[0], "MemTotal");
    assert_eq!(mem_total.value_double, vec![total]);
    assert_eq!(utf8(&mem_total.representation), Some("kB"));
    // /proc/stat: the cpu line as an array, one value per column.
    let stat = of_type("stats.procstat");
    let columns = contents[2]
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .count()
        - 1;
    assert_eq!(field(stat[0], "cpu").value_double.len(), columns);
    // /proc/net/dev: one message per interface.
    let dev = of_type("stats.netdev");
    assert_eq!(dev.len(), interfaces);
    assert!(dev.iter().any(|m| text(field(m, "netdevice")) == "lo"));
    // /proc/net/netstat: <Proto>_<Name> integers.
    let netstat = of_type("stats.netstat");
    assert!(netstat[0]
        .fields
        .iter()
        .any(|f| f.name.starts_with(b"TcpExt_")));
    if disk.is_some() {
        let disk = of_type("stats.diskstats");
        assert_eq!(disk.len(), 1);
        field(disk[0], "ReadsCompleted");
    }
    let (_, stderr) = hekad.terminate();
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

/// A script or module of the same path under share_dir / module_directory wins over the
/// built-in one; modules it does not override still come from the library.
#[test]
fn share_dir_files_override_the_built_in_library() {
    let dir = scratch_dir("lua-plugins-override");
    let share = dir.as_path().join("share");
    std::fs::create_dir_all(share.join("lua_decoders")).expect("dirs");
    std::fs::create_dir_all(share.join("lua_modules")).expect("dirs");
    std::fs::write(
        share.join("lua_modules/util.lua"),
        "return { marker = 'from share_dir' }\n",
    )
    .expect("module");
    std::fs::write(
        share.join("lua_decoders/json.lua"),
        r#"local util = require "util"
local date_time = require "date_time"
function process_message()
    inject_message({ Type = "overridden", Payload = read_message("Payload"),
        Fields = { marker = util.marker, built_in = type(date_time.time_to_ns) } })
    return 0
end
"#,
    )
    .expect("script");
    let port = common::free_port();
    let out = dir.as_path().join("out.log");
    let config = format!(
        "{}[In]\ntype = \"TcpInput\"\naddress = \"127.0.0.1:{port}\"\n\
         splitter = \"TokenSplitter\"\ndecoder = \"Json\"\n\n\
         [Json]\ntype = \"SandboxDecoder\"\nfilename = \"lua_decoders/json.lua\"\n\n\
         [Out]\ntype = \"FileOutput\"\nmessage_matcher = \"TRUE\"\npath = \"{}\"\n\
         encoder = \"ProtobufEncoder\"\nuse_framing = true\n",
        globals(
            dir.as_path(),
            &format!("share_dir = \"{}\"", share.display())
        ),
        out.display()
    );
    let hekad = Hekad::start(dir.as_path(), &config);
    send_when_listening(port, b"{\"a\": 1}\n");
    let got = wait_for_messages(&hekad, &out, 1);
    assert_eq!(utf8(&got[0].r#type), Some("overridden"));
    assert_eq!(text(field(&got[0], "marker")), "from share_dir");
    assert_eq!(text(field(&got[0], "built_in")), "function");
    hekad.terminate();
}

/// config/nginx-lua.toml and config/syslog.toml as shipped, with only their log and
/// state paths pointed at a scratch directory.
#[test]
fn example_configs_run_as_shipped() {
    for (config, log, fixture_name, decoded) in [
        (
            "nginx-lua.toml",
            "/var/log/nginx",
            "nginx_combined.log",
            "nginx.access",
        ),
        (
            "syslog.toml",
            "/var/log",
            "syslog_traditional.log",
            "syslog",
        ),
    ] {
        let dir = scratch_dir(&format!("lua-plugins-{config}"));
        let logs = dir.as_path().join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        let target = match config {
            "syslog.toml" => "syslog",
            _ => "access.log",
        };
        std::fs::copy(fixture(fixture_name), logs.join(target)).expect("copy");
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("config")
                .join(config),
        )
        .expect("shipped config");
        // The aggregator's port is bound before hekad starts (no race with other tests).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let aggregator = listener.local_addr().expect("address").port();
        let text = shipped
            .replace(&format!("\"{log}\""), &format!("\"{}\"", logs.display()))
            .replace(
                "/var/cache/hekad",
                &dir.as_path().join("cache").display().to_string(),
            )
            .replace("127.0.0.1:5580", &format!("127.0.0.1:{aggregator}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let hekad = Hekad::start(dir.as_path(), &text);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut conn = loop {
            match listener.accept() {
                Ok((conn, _)) => break conn,
                Err(_) => {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "{config}: hekad did not connect; stderr:\n{}",
                        hekad.stderr_text()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        conn.set_nonblocking(false).expect("blocking");
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let expected = std::fs::read_to_string(fixture(fixture_name))
            .expect("fixture")
            .lines()
            .count();
        let mut data = Vec::new();
        let mut buf = [0u8; 65536];
        while common::unframe_all(&data).len() < expected {
            let n = std::io::Read::read(&mut conn, &mut buf).expect("read");
            assert!(n > 0, "connection closed; stderr:\n{}", hekad.stderr_text());
            data.extend_from_slice(&buf[..n]);
        }
        let messages: Vec<Message> = common::unframe_all(&data)
            .iter()
            .map(|m| <Message as prost::Message>::decode(&m[..]).expect("message"))
            .collect();
        assert!(
            messages.iter().all(|m| utf8(&m.r#type) == Some(decoded)),
            "{config}: {:?}",
            messages.first()
        );
        assert!(messages
            .iter()
            .all(|m| m.timestamp > 0 && !m.fields.is_empty()));
        let (_, stderr) = hekad.terminate();
        assert!(!stderr.contains("ERROR"), "{config}: {stderr}");
    }
}

#[test]
fn hekad_lists_and_prints_its_lua_library() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hekad"))
        .arg("-lua-library")
        .output()
        .expect("run hekad");
    assert!(out.status.success());
    let list = String::from_utf8_lossy(&out.stdout);
    for path in [
        "lua_decoders/nginx_access.lua",
        "lua_decoders/rsyslog.lua",
        "lua_encoders/schema_influx_line.lua",
        "lua_modules/date_time.lua",
    ] {
        assert!(list.contains(path), "{path} missing from:\n{list}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hekad"))
        .arg("-lua-show=lua_decoders/nginx_access.lua")
        .output()
        .expect("run hekad");
    assert!(String::from_utf8_lossy(&out.stdout).contains("function process_message"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hekad"))
        .arg("-lua-show=lua_decoders/nope.lua")
        .output()
        .expect("run hekad");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no built-in Lua file"));
}
