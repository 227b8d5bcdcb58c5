//! /proc/net/dev as `stats.netdev`, one message per interface in file order, as
//! `lua_decoders/linux_netdev.lua` makes them: STRING `netdevice` (the interface name)
//! and sixteen DOUBLE counters (receive_bytes ... transmit_compressed). The two header
//! lines (holding a "|") are skipped; `interfaces_include` / `interfaces_exclude` choose
//! interfaces by name.

use super::filter::NameFilter;
use super::{read_into, scan, Complaint, Emitter};
use crate::message::writer::Values;

const PATH: &str = "/proc/net/dev";

/// The counters' field names, in the file's column order.
const NAMES: [&[u8]; 16] = [
    b"receive_bytes",
    b"receive_packets",
    b"receive_errs",
    b"receive_drop",
    b"receive_fifo",
    b"receive_frame",
    b"receive_compressed",
    b"receive_multicast",
    b"transmit_bytes",
    b"transmit_packets",
    b"transmit_errs",
    b"transmit_drop",
    b"transmit_fifo",
    b"transmit_colls",
    b"transmit_carrier",
    b"transmit_compressed",
];

/// The /proc/net/dev source and its reused buffer.
pub struct NetDev {
    filter: NameFilter,
    buf: Vec<u8>,
    unreadable: Complaint,
    malformed: Complaint,
}

/// "  eth0: 1 2 ... 16" as the name and the sixteen counters (later columns ignored).
fn parse(line: &[u8]) -> Option<(&[u8], [f64; 16])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = scan::words(&line[..colon]).next()?;
    let mut words = scan::words(&line[colon + 1..]);
    let mut counters = [0.0; 16];
    for c in &mut counters {
        *c = scan::count(words.next()?)?;
    }
    Some((name, counters))
}

impl NetDev {
    /// A source for the interfaces `filter` allows.
    pub fn new(filter: NameFilter) -> NetDev {
        NetDev {
            filter,
            buf: Vec::new(),
            unreadable: Complaint::default(),
            malformed: Complaint::default(),
        }
    }

    /// Reads /proc/net/dev and injects one message per allowed interface.
    pub async fn emit(&mut self, out: &mut Emitter<'_>) {
        if let Err(e) = read_into(PATH, &mut self.buf) {
            self.unreadable
                .once(out.name(), format_args!("cannot read {PATH}: {e}"));
            return;
        }
        let mut bad_line = false;
        for line in scan::lines(&self.buf) {
            if line.contains(&b'|') || line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Some((name, counters)) = parse(line) else {
                bad_line = true;
                continue;
            };
            if !self.filter.allows(name) {
                continue;
            }
            out.message("stats.netdev", |w| {
                w.field(b"netdevice", b"", Values::String(&[name]));
                for (name, value) in NAMES.iter().zip(&counters) {
                    w.field(name, b"", Values::Double(std::slice::from_ref(value)));
                }
            })
            .await;
        }
        if bad_line {
            self.malformed.once(
                out.name(),
                format_args!("{PATH} has interface lines that do not parse"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn interface_lines() {
        let line = b"  eth0: 300620333   10885    0    0    0     0          0         0   \
                     674401    7875    0    0    0     0       0          0";
        let (name, c) = parse(line).expect("parses");
        assert_eq!(name, b"eth0");
        assert_eq!(
            (c[0], c[1], c[8], c[15]),
            (300620333.0, 10885.0, 674401.0, 0.0)
        );
        assert_eq!(parse(b"eth0: 1 2"), None);
        assert_eq!(parse(b"no colon"), None);
    }
}
