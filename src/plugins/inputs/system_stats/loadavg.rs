//! /proc/loadavg as `stats.loadavg`, the message `lua_decoders/linux_loadavg.lua` makes:
//! DOUBLE fields `1MinAvg`, `5MinAvg`, `15MinAvg`, `NumProcesses` (the runnable count
//! before the slash of "2/1234") and `FilePath` = "/proc/loadavg" (STRING).

use super::{read_into, scan, Complaint, Emitter};
use crate::message::writer::Values;

const PATH: &str = "/proc/loadavg";

/// The /proc/loadavg source and its reused buffer.
#[derive(Debug, Default)]
pub struct LoadAvg {
    buf: Vec<u8>,
    unreadable: Complaint,
    malformed: Complaint,
}

/// "0.52 0.58 0.59 2/1234 56789" as the three averages and the runnable count.
fn parse(text: &[u8]) -> Option<[f64; 4]> {
    let mut words = scan::words(text.strip_suffix(b"\n").unwrap_or(text));
    let one = scan::decimal(words.next()?)?;
    let five = scan::decimal(words.next()?)?;
    let fifteen = scan::decimal(words.next()?)?;
    let tasks = words.next()?;
    let slash = tasks.iter().position(|&b| b == b'/')?;
    scan::count(&tasks[slash + 1..])?;
    Some([one, five, fifteen, scan::count(&tasks[..slash])?])
}

impl LoadAvg {
    /// Reads /proc/loadavg and injects its message.
    pub async fn emit(&mut self, out: &mut Emitter<'_>) {
        if let Err(e) = read_into(PATH, &mut self.buf) {
            self.unreadable
                .once(out.name(), format_args!("cannot read {PATH}: {e}"));
            return;
        }
        let Some([one, five, fifteen, running]) = parse(&self.buf) else {
            self.malformed
                .once(out.name(), format_args!("cannot parse {PATH}"));
            return;
        };
        out.message("stats.loadavg", |w| {
            w.field(b"1MinAvg", b"", Values::Double(&[one]))
                .field(b"5MinAvg", b"", Values::Double(&[five]))
                .field(b"15MinAvg", b"", Values::Double(&[fifteen]))
                .field(b"NumProcesses", b"", Values::Double(&[running]))
                .field(b"FilePath", b"", Values::String(&[PATH.as_bytes()]));
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_the_kernels_line() {
        assert_eq!(
            parse(b"0.45 0.58 0.91 1/107 20592\n"),
            Some([0.45, 0.58, 0.91, 1.0])
        );
        assert_eq!(parse(b"0.45 0.58\n"), None);
        assert_eq!(parse(b"0.45 0.58 0.91 1107 20592\n"), None);
    }
}
