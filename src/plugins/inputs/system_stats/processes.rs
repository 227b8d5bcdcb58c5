//! Named processes as `stats.process` (hekad's own Type), one message per name in
//! `processes`, summed over every process whose command name (/proc/<pid>/stat's comm,
//! which the kernel cuts to 15 bytes) equals it:
//!
//! | field | type | representation | value |
//! |---|---|---|---|
//! | `process` | STRING | | the configured name |
//! | `count` | DOUBLE | | processes running under that name (0 when none) |
//! | `cpu_seconds` | DOUBLE | s | user + system CPU time they used so far (utime + stime) |
//! | `rss_bytes` | DOUBLE | B | their resident memory |
//!
//! /proc is listed once per tick whatever the number of names; a process that ends
//! while it is read is simply not counted.

use super::dir::Dir;
use super::{read_into, scan, Complaint, Emitter};
use crate::message::writer::Values;
use std::fmt::Write as _;

/// The kernel keeps this many bytes of a command name (TASK_COMM_LEN - 1).
const COMM_LEN: usize = 15;

/// Totals for one name this tick.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    count: u64,
    ticks: u64,
    rss_pages: u64,
}

/// The processes' source: /proc kept open, reused buffers and per-name totals.
pub struct Processes {
    names: Vec<String>,
    totals: Vec<Totals>,
    dir: Option<Dir>,
    path: String,
    buf: Vec<u8>,
    ticks_per_second: f64,
    page_size: f64,
    unlisted: Complaint,
}

/// (comm, utime + stime in clock ticks, rss in pages) of a /proc/<pid>/stat line.
fn parse(stat: &[u8]) -> Option<(&[u8], u64, u64)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?;
    // After the comm: state (field 3), ... utime (14), stime (15), ... rss (24).
    let mut fields = scan::words(stat.get(close + 1..)?);
    let utime = scan::integer(fields.nth(11)?)?;
    let stime = scan::integer(fields.next()?)?;
    let rss = scan::integer(fields.nth(8)?)?;
    Some((comm, utime + stime, rss))
}

fn sysconf(name: libc::c_int, fallback: f64) -> f64 {
    // SAFETY: sysconf has no memory effects.
    match unsafe { libc::sysconf(name) } {
        n if n > 0 => n as f64,
        _ => fallback,
    }
}

impl Processes {
    /// A source for these process names.
    pub fn new(names: Vec<String>) -> Processes {
        Processes {
            totals: vec![Totals::default(); names.len()],
            names,
            dir: None,
            path: String::new(),
            buf: Vec::new(),
            ticks_per_second: sysconf(libc::_SC_CLK_TCK, 100.0),
            page_size: sysconf(libc::_SC_PAGESIZE, 4096.0),
            unlisted: Complaint::default(),
        }
    }

    /// Adds up every process by name, then injects one message per name.
    pub async fn emit(&mut self, out: &mut Emitter<'_>) {
        self.totals.fill(Totals::default());
        let dir = match &mut self.dir {
            Some(dir) => {
                dir.rewind();
                dir
            }
            None => match Dir::open(c"/proc") {
                Ok(dir) => self.dir.insert(dir),
                Err(e) => {
                    self.unlisted
                        .once(out.name(), format_args!("cannot list /proc: {e}"));
                    return;
                }
            },
        };
        while let Some(entry) = dir.next_name() {
            let Some(pid) = scan::integer(entry) else {
                continue;
            };
            self.path.clear();
            let _ = write!(self.path, "/proc/{pid}/stat");
            // Gone since it was listed, or not ours to read: not counted.
            if read_into(&self.path, &mut self.buf).is_err() {
                continue;
            }
            let Some((comm, ticks, rss)) = parse(&self.buf) else {
                continue;
            };
            for (name, totals) in self.names.iter().zip(&mut self.totals) {
                let name = name.as_bytes();
                if comm == &name[..name.len().min(COMM_LEN)] {
                    totals.count += 1;
                    totals.ticks += ticks;
                    totals.rss_pages += rss;
                }
            }
        }
        for (name, totals) in self.names.iter().zip(&self.totals) {
            let cpu = totals.ticks as f64 / self.ticks_per_second;
            let rss = totals.rss_pages as f64 * self.page_size;
            out.message("stats.process", |w| {
                w.field(b"process", b"", Values::String(&[name.as_bytes()]))
                    .field(b"count", b"", Values::Double(&[totals.count as f64]))
                    .field(b"cpu_seconds", b"s", Values::Double(&[cpu]))
                    .field(b"rss_bytes", b"B", Values::Double(&[rss]));
            })
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn comm_with_spaces_and_parentheses() {
        let line = b"42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 \
                     7 3 0 0 20 0 1 0 100 1000000 250 18446744073709551615";
        assert_eq!(parse(line), Some((&b"my (odd) name"[..], 10, 250)));
        assert_eq!(parse(b"42 (x) S 1"), None);
    }

    #[test]
    fn reads_this_process() {
        let stat = std::fs::read("/proc/self/stat").expect("stat");
        // Under qemu-user (the ARM test runs) the emulated stat reports an RSS of 0.
        let (comm, _, _rss) = parse(&stat).expect("parses");
        assert!(!comm.is_empty());
    }
}
