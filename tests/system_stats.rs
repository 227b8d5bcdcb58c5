//! SystemStatsInput in the real hekad against this machine's /proc and /sys: what it
//! reports agrees with the files, its messages have the same field names, types and
//! representations as the stock Lua decoders make from the same files through a
//! FilePollingInput, a bad config is refused, and config/system-metrics.toml runs as
//! shipped.

mod common;

use common::{globals, read_messages, scratch_dir, Hekad};
use hekad::message::{Field, Message};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn field<'m>(msg: &'m Message, name: &str) -> &'m Field {
    msg.fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .unwrap_or_else(|| panic!("no field {name} in {msg:?}"))
}

fn text(msg: &Message, name: &str) -> String {
    String::from_utf8_lossy(&field(msg, name).value_string[0]).into_owned()
}

fn double(msg: &Message, name: &str) -> f64 {
    let f = field(msg, name);
    assert_eq!(f.value_type, Some(3), "{name} is DOUBLE");
    assert_eq!(f.value_double.len(), 1, "{name} has one value");
    f.value_double[0]
}

fn representation(f: &Field) -> &str {
    std::str::from_utf8(f.representation.as_deref().unwrap_or_default()).unwrap_or("?")
}

fn of<'a>(messages: &'a [Message], r#type: &str, logger: &str) -> Vec<&'a Message> {
    messages
        .iter()
        .filter(|m| m.r#type.as_deref() == Some(r#type.as_bytes()))
        .filter(|m| m.logger.as_deref() == Some(logger.as_bytes()))
        .collect()
}

/// Name, value type, representation and number of values of every field.
fn shape(msg: &Message) -> BTreeSet<(String, i32, String, usize)> {
    msg.fields
        .iter()
        .map(|f| {
            let values = f.value_double.len()
                + f.value_integer.len()
                + f.value_string.len()
                + f.value_bool.len()
                + f.value_bytes.len();
            (
                String::from_utf8_lossy(&f.name).into_owned(),
                f.value_type.unwrap_or(0),
                representation(f).to_owned(),
                values,
            )
        })
        .collect()
}

/// Waits (bounded) until the messages in `path` satisfy `done`.
fn wait_until(hekad: &Hekad, path: &Path, done: impl Fn(&[Message]) -> bool) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = read_messages(path);
        if done(&got) {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} messages in {}, not what was expected; stderr:\n{}",
            got.len(),
            path.display(),
            hekad.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn output(out: &Path) -> String {
    format!(
        "[out]\ntype = \"FileOutput\"\nmessage_matcher = \"Type =~ /^stats\\\\./\"\n\
         path = \"{}\"\nencoder = \"ProtobufEncoder\"\nflush_interval = 100\n",
        out.display()
    )
}

/// The block devices SystemStatsInput reports by default (not loop*, not ram*).
fn disks() -> Vec<String> {
    let mut disks: Vec<String> = std::fs::read_dir("/sys/block")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with("loop") && !n.starts_with("ram"))
                .collect()
        })
        .unwrap_or_default();
    disks.sort();
    disks
}

/// Names of /proc/net/dev's interfaces.
fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/net/dev")
        .expect("/proc/net/dev")
        .lines()
        .filter(|l| !l.contains('|'))
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_owned())
        .collect()
}

fn meminfo_value(name: &str) -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .expect("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_owned))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("{name} in /proc/meminfo"))
}

#[test]
fn reports_agree_with_this_machines_proc_and_sys() {
    let dir = scratch_dir("system-stats-proc");
    let out = dir.join("out.pb");
    let config = format!(
        "{}[Sys]\ntype = \"SystemStatsInput\"\nticker_interval = 1\n\
         processes = [\"hekad\", \"no-such-process\"]\n\n{}",
        globals(&dir, ""),
        output(&out)
    );
    let hekad = Hekad::start(&dir, &config);
    // The process messages come last in a tick: two of them mean one whole tick.
    let got = wait_until(&hekad, &out, |m| of(m, "stats.process", "Sys").len() >= 2);
    let pid = hekad.child.id() as i32;
    assert!(got.iter().all(|m| m.pid == Some(pid)));
    assert!(got.iter().all(|m| m.logger.as_deref() == Some(&b"Sys"[..])));
    assert!(got.iter().all(|m| m.severity == Some(7)));

    // /proc/stat: the cpu line and every core's line, one value per column.
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let procstat = of(&got, "stats.procstat", "Sys");
    for line in stat.lines().filter(|l| l.starts_with("cpu")) {
        let mut words = line.split_whitespace();
        let key = words.next().expect("key");
        let f = field(procstat[0], key);
        assert_eq!(f.value_type, Some(3));
        assert_eq!(f.value_double.len(), words.count(), "{key}");
    }
    assert!(double(procstat[0], "btime") > 0.0);

    // /proc/meminfo: MemTotal does not change, in kB.
    let mem = of(&got, "stats.memstats", "Sys");
    assert_eq!(double(mem[0], "MemTotal"), meminfo_value("MemTotal"));
    assert_eq!(representation(field(mem[0], "MemTotal")), "kB");
    assert_eq!(text(mem[0], "FilePath"), "/proc/meminfo");

    // /proc/loadavg.
    let load = of(&got, "stats.loadavg", "Sys");
    assert!(double(load[0], "15MinAvg") >= 0.0);
    assert!(double(load[0], "NumProcesses") >= 1.0);

    // /sys/block: one message per device, told apart by FilePath.
    let disks = disks();
    let diskstats = of(&got, "stats.diskstats", "Sys");
    let mut paths: Vec<String> = diskstats.iter().map(|m| text(m, "FilePath")).collect();
    paths.sort();
    paths.dedup();
    let expected: Vec<String> = disks
        .iter()
        .map(|d| format!("/sys/block/{d}/stat"))
        .collect();
    assert_eq!(paths, expected);
    for m in &diskstats {
        assert_eq!(double(m, "TickerInterval"), 1.0);
        double(m, "WeightedTimeDoingIO");
    }

    // /proc/net/dev: one message per interface, lo among them.
    let netdev = of(&got, "stats.netdev", "Sys");
    let mut names: Vec<String> = netdev.iter().map(|m| text(m, "netdevice")).collect();
    names.sort();
    names.dedup();
    let mut expected = interfaces();
    expected.sort();
    assert_eq!(names, expected);
    assert!(names.iter().any(|n| n == "lo"));
    let lo = netdev
        .iter()
        .find(|m| text(m, "netdevice") == "lo")
        .expect("lo");
    assert!(double(lo, "receive_bytes") >= 0.0);

    // The root file system, with the type /proc/self/mounts gives it.
    let mounts = std::fs::read_to_string("/proc/self/mounts").expect("mounts");
    let root_type = mounts
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.get(1) == Some(&"/")).then(|| w[2].to_owned())
        })
        .next_back()
        .expect("/ in mounts");
    let filesystems = of(&got, "stats.filesystem", "Sys");
    let root = filesystems
        .iter()
        .find(|m| text(m, "mountpoint") == "/")
        .expect("root file system reported");
    assert_eq!(text(root, "fstype"), root_type);
    let total = double(root, "total_bytes");
    let free = double(root, "free_bytes");
    assert!(total > 0.0 && total >= free && free >= double(root, "available_bytes"));
    assert_eq!(double(root, "used_bytes"), total - free);
    assert!(double(root, "total_inodes") >= double(root, "free_inodes"));
    for name in ["total_bytes", "free_bytes", "available_bytes", "used_bytes"] {
        assert_eq!(representation(field(root, name)), "B");
    }
    assert!(filesystems
        .iter()
        .all(|m| !["proc", "sysfs", "cgroup", "devpts"].contains(&text(m, "fstype").as_str())));

    // Named processes: hekad itself, and zero of a name nothing runs under.
    let processes = of(&got, "stats.process", "Sys");
    let me = processes
        .iter()
        .find(|m| text(m, "process") == "hekad")
        .expect("hekad");
    assert!(double(me, "count") >= 1.0);
    assert!(double(me, "rss_bytes") > 0.0);
    assert_eq!(representation(field(me, "rss_bytes")), "B");
    assert_eq!(representation(field(me, "cpu_seconds")), "s");
    let none = processes
        .iter()
        .find(|m| text(m, "process") == "no-such-process")
        .expect("no-such-process");
    assert_eq!(double(none, "count"), 0.0);

    let (_, stderr) = hekad.terminate();
    assert!(!stderr.contains("ERROR"), "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
}

/// The same files through FilePollingInput and the stock Lua decoders give messages of
/// the same shape: field names, value types, representations and value counts.
#[test]
fn messages_have_the_lua_decoders_shape() {
    let dir = scratch_dir("system-stats-lua");
    let out = dir.join("out.pb");
    let disk = disks().into_iter().next();
    let mut polled = vec![
        ("linux_loadavg", "/proc/loadavg".to_owned()),
        ("linux_memstats", "/proc/meminfo".to_owned()),
        ("linux_procstat", "/proc/stat".to_owned()),
        ("linux_netdev", "/proc/net/dev".to_owned()),
    ];
    if let Some(disk) = &disk {
        polled.push(("linux_diskstats", format!("/sys/block/{disk}/stat")));
    }
    let mut config = format!(
        "{}[Sys]\ntype = \"SystemStatsInput\"\nticker_interval = 1\n\n{}",
        globals(&dir, ""),
        output(&out)
    );
    for (decoder, path) in &polled {
        config.push_str(&format!(
            "[{decoder}_poll]\ntype = \"FilePollingInput\"\nticker_interval = 1\n\
             file_path = \"{path}\"\ndecoder = \"{decoder}\"\n\n\
             [{decoder}]\ntype = \"SandboxDecoder\"\nfilename = \"lua_decoders/{decoder}.lua\"\n\n"
        ));
    }
    let hekad = Hekad::start(&dir, &config);
    let types = [
        ("stats.loadavg", "linux_loadavg_poll"),
        ("stats.memstats", "linux_memstats_poll"),
        ("stats.procstat", "linux_procstat_poll"),
        ("stats.netdev", "linux_netdev_poll"),
        ("stats.diskstats", "linux_diskstats_poll"),
    ];
    let types = &types[..polled.len()];
    let got = wait_until(&hekad, &out, |m| {
        types
            .iter()
            .all(|(t, lua)| !of(m, t, "Sys").is_empty() && !of(m, t, lua).is_empty())
    });
    for (t, lua) in types {
        let ours = of(&got, t, "Sys");
        let theirs = of(&got, t, lua);
        let (ours, theirs) = match *t {
            "stats.netdev" => (
                *ours
                    .iter()
                    .find(|m| text(m, "netdevice") == "lo")
                    .expect("lo"),
                *theirs
                    .iter()
                    .find(|m| text(m, "netdevice") == "lo")
                    .expect("lo"),
            ),
            "stats.diskstats" => {
                let path = &polled[4].1;
                (
                    *ours
                        .iter()
                        .find(|m| &text(m, "FilePath") == path)
                        .expect("disk"),
                    theirs[0],
                )
            }
            _ => (ours[0], theirs[0]),
        };
        assert_eq!(shape(ours), shape(theirs), "{t}");
        assert_eq!(ours.hostname, theirs.hostname, "{t}");
        if *t == "stats.diskstats" {
            assert_eq!(
                field(ours, "TickerInterval").value_double,
                field(theirs, "TickerInterval").value_double
            );
        }
        if *t == "stats.memstats" {
            assert_eq!(
                field(ours, "MemTotal").value_double,
                field(theirs, "MemTotal").value_double
            );
        }
    }
    let (_, stderr) = hekad.terminate();
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

#[test]
fn unknown_keys_and_empty_process_names_are_config_errors() {
    for (line, expected) in [
        (
            "collect_everything = true",
            "unknown config setting for 'Sys': collect_everything",
        ),
        (
            "processes = [\"\"]",
            "[Sys] processes: expected process names (one line, not empty), got \"\"",
        ),
    ] {
        let dir = scratch_dir("system-stats-bad");
        let config = format!(
            "{}[Sys]\ntype = \"SystemStatsInput\"\n{line}\n",
            globals(&dir, "")
        );
        let (status, stderr) = Hekad::start(&dir, &config).wait();
        assert!(!status.success(), "{line}: {stderr}");
        assert!(stderr.contains(expected), "{line}: {stderr}");
    }
}

/// config/system-metrics.toml as shipped, with only its state directory and the
/// aggregator's address replaced: the first report reaches the aggregator at start.
#[test]
fn system_metrics_config_runs_as_shipped() {
    let dir = scratch_dir("system-stats-config");
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/system-metrics.toml"),
    )
    .expect("shipped config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let text = shipped
        .replace(
            "/var/cache/hekad-metrics",
            &dir.join("cache").display().to_string(),
        )
        .replace("127.0.0.1:5565", &format!("127.0.0.1:{port}"));
    assert_ne!(
        text, shipped,
        "the config names its state dir and aggregator"
    );
    listener.set_nonblocking(true).expect("nonblocking");
    let hekad = Hekad::start(&dir, &text);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(_) => {
                assert!(
                    Instant::now() < deadline,
                    "hekad did not connect; stderr:\n{}",
                    hekad.stderr_text()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    conn.set_nonblocking(false).expect("blocking");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let wanted = [
        "stats.procstat",
        "stats.memstats",
        "stats.loadavg",
        "stats.netdev",
        "stats.filesystem",
    ];
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    let seen = |data: &[u8]| -> BTreeSet<String> {
        // Only whole frames: the last one may still be arriving.
        let mut whole = data;
        let mut frames = Vec::new();
        while whole.len() > 2 && whole.len() >= 3 + whole[1] as usize {
            let hlen = whole[1] as usize;
            let header =
                <hekad::message::Header as prost::Message>::decode(&whole[2..2 + hlen]).ok();
            let Some(header) = header else { break };
            let end = 3 + hlen + header.message_length as usize;
            if whole.len() < end {
                break;
            }
            frames.push(whole[3 + hlen..end].to_vec());
            whole = &whole[end..];
        }
        frames
            .iter()
            .filter_map(|m| <Message as prost::Message>::decode(&m[..]).ok())
            .filter_map(|m| m.r#type.map(|t| String::from_utf8_lossy(&t).into_owned()))
            .collect()
    };
    while !wanted.iter().all(|t| seen(&data).contains(*t)) {
        let n = std::io::Read::read(&mut conn, &mut buf).expect("read");
        assert!(n > 0, "connection closed; stderr:\n{}", hekad.stderr_text());
        data.extend_from_slice(&buf[..n]);
    }
    let (_, stderr) = hekad.terminate();
    assert!(!stderr.contains("ERROR"), "{stderr}");
}
