//! /proc/stat as `stats.procstat`, the message `lua_decoders/linux_procstat.lua` makes:
//! one DOUBLE field per line named by its first word (`cpu`, `cpu0`..`cpuN`, `intr`,
//! `ctxt`, `btime`, `processes`, `procs_running`, `procs_blocked`, `softirq`), an array
//! of every number on the line (one value when there is one), no representation. A line
//! that is not "key numbers..." is left out (and logged once).

use super::{read_into, scan, Complaint, Emitter};
use crate::message::writer::Values;

const PATH: &str = "/proc/stat";

/// The /proc/stat source and its reused buffers.
#[derive(Debug, Default)]
pub struct ProcStat {
    buf: Vec<u8>,
    values: Vec<f64>,
    unreadable: Complaint,
    malformed: Complaint,
}

fn is_key(word: &[u8]) -> bool {
    !word.is_empty() && word.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

impl ProcStat {
    /// Reads /proc/stat and injects its message.
    pub async fn emit(&mut self, out: &mut Emitter<'_>) {
        if let Err(e) = read_into(PATH, &mut self.buf) {
            self.unreadable
                .once(out.name(), format_args!("cannot read {PATH}: {e}"));
            return;
        }
        let (buf, values) = (&self.buf, &mut self.values);
        let mut bad_line = false;
        out.message("stats.procstat", |w| {
            for line in scan::lines(buf) {
                let mut words = scan::words(line);
                let Some(key) = words.next() else { continue };
                values.clear();
                if !is_key(key) || !scan::counts(words, values) || values.is_empty() {
                    bad_line = true;
                    continue;
                }
                w.field(key, b"", Values::Double(values));
            }
        })
        .await;
        if bad_line {
            self.malformed.once(
                out.name(),
                format_args!("{PATH} has lines that are not \"key numbers...\""),
            );
        }
    }
}
