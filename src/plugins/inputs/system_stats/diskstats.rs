//! /sys/block/<dev>/stat as `stats.diskstats`, one message per block device, as
//! `lua_decoders/linux_diskstats.lua` makes it from a FilePollingInput: the kernel's
//! first eleven counters as DOUBLE fields (ReadsCompleted, ReadsMerged, SectorsRead,
//! TimeReading, WritesCompleted, WritesMerged, SectorsWritten, TimeWriting,
//! NumIOInProgress, TimeDoingIO, WeightedTimeDoingIO), `TickerInterval` (DOUBLE, seconds)
//! and `FilePath` (STRING, "/sys/block/sda/stat"), which tells the devices apart.
//! Devices are listed again every tick (USB disks come and go); `disks_include` /
//! `disks_exclude` choose them by name (loop and ram devices are left out by default).

use super::dir::Dir;
use super::filter::NameFilter;
use super::{read_into, scan, Complaint, Emitter};
use crate::message::writer::Values;
use std::fmt::Write as _;

/// The counters' field names, in the file's column order.
const NAMES: [&[u8]; 11] = [
    b"ReadsCompleted",
    b"ReadsMerged",
    b"SectorsRead",
    b"TimeReading",
    b"WritesCompleted",
    b"WritesMerged",
    b"SectorsWritten",
    b"TimeWriting",
    b"NumIOInProgress",
    b"TimeDoingIO",
    b"WeightedTimeDoingIO",
];

/// The block devices' source: /sys/block kept open, and reused buffers.
pub struct DiskStats {
    filter: NameFilter,
    dir: Option<Dir>,
    path: String,
    buf: Vec<u8>,
    unlisted: Complaint,
    unreadable: Complaint,
    malformed: Complaint,
}

/// The eleven named counters of a stat file (later columns ignored).
fn parse(text: &[u8]) -> Option<[f64; 11]> {
    let mut counters = [0.0; 11];
    let mut words = scan::words(text.strip_suffix(b"\n").unwrap_or(text));
    for c in &mut counters {
        *c = scan::count(words.next()?)?;
    }
    words.all(|w| scan::count(w).is_some()).then_some(counters)
}

impl DiskStats {
    /// A source for the devices `filter` allows.
    pub fn new(filter: NameFilter) -> DiskStats {
        DiskStats {
            filter,
            dir: None,
            path: String::new(),
            buf: Vec::new(),
            unlisted: Complaint::default(),
            unreadable: Complaint::default(),
            malformed: Complaint::default(),
        }
    }

    /// Injects one message per allowed device.
    pub async fn emit(&mut self, out: &mut Emitter<'_>) {
        let dir = match &mut self.dir {
            Some(dir) => {
                dir.rewind();
                dir
            }
            None => match Dir::open(c"/sys/block") {
                Ok(dir) => self.dir.insert(dir),
                Err(e) => {
                    self.unlisted
                        .once(out.name(), format_args!("cannot list /sys/block: {e}"));
                    return;
                }
            },
        };
        while let Some(name) = dir.next_name() {
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if !self.filter.allows(name.as_bytes()) {
                continue;
            }
            self.path.clear();
            let _ = write!(self.path, "/sys/block/{name}/stat");
            if let Err(e) = read_into(&self.path, &mut self.buf) {
                self.unreadable
                    .once(out.name(), format_args!("cannot read {}: {e}", self.path));
                continue;
            }
            let Some(counters) = parse(&self.buf) else {
                self.malformed
                    .once(out.name(), format_args!("cannot parse {}", self.path));
                continue;
            };
            let (path, ticker) = (self.path.as_bytes(), out.ticker_secs);
            out.message("stats.diskstats", |w| {
                for (name, value) in NAMES.iter().zip(&counters) {
                    w.field(name, b"", Values::Double(std::slice::from_ref(value)));
                }
                w.field(b"TickerInterval", b"", Values::Double(&[ticker]))
                    .field(b"FilePath", b"", Values::String(&[path]));
            })
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn eleven_counters_of_old_and_new_kernels() {
        let old = b"    1    2    3    4    5    6    7    8    0    9   10\n";
        assert_eq!(
            parse(old),
            Some([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.0, 9.0, 10.0])
        );
        let new = b" 1 2 3 4 5 6 7 8 0 9 10 11 12 13 14 15 16\n";
        assert_eq!(parse(new).map(|c| c[10]), Some(10.0));
        assert_eq!(parse(b"1 2 3\n"), None);
    }
}
