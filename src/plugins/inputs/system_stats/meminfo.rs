//! /proc/meminfo as `stats.memstats`, the message `lua_decoders/linux_memstats.lua`
//! makes: one DOUBLE field per line named exactly as the kernel names it (`MemTotal`,
//! `Active(anon)`, `HugePages_Total`...), its unit (`kB`) as the representation when the
//! line has one, and `FilePath` = "/proc/meminfo" (STRING).

use super::{read_into, scan, Complaint, Emitter};
use crate::message::writer::Values;

const PATH: &str = "/proc/meminfo";

/// The /proc/meminfo source and its reused buffer.
#[derive(Debug, Default)]
pub struct MemInfo {
    buf: Vec<u8>,
    unreadable: Complaint,
    malformed: Complaint,
}

/// "Name:   value [unit]" as (name, value, unit or "").
fn parse(line: &[u8]) -> Option<(&[u8], f64, &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, rest) = (&line[..colon], &line[colon + 1..]);
    let mut words = scan::words(rest);
    let value = scan::count(words.next()?)?;
    let unit = match words.next() {
        Some(u) if u.iter().all(u8::is_ascii_alphabetic) => u,
        Some(_) => return None,
        None => b"",
    };
    if name.is_empty() || words.next().is_some() {
        return None;
    }
    Some((name, value, unit))
}

impl MemInfo {
    /// Reads /proc/meminfo and injects its message.
    pub async fn emit(&mut self, out: &mut Emitter<'_>) {
        if let Err(e) = read_into(PATH, &mut self.buf) {
            self.unreadable
                .once(out.name(), format_args!("cannot read {PATH}: {e}"));
            return;
        }
        let buf = &self.buf;
        let mut bad_line = false;
        out.message("stats.memstats", |w| {
            for line in scan::lines(buf).filter(|l| !l.is_empty()) {
                match parse(line) {
                    Some((name, value, unit)) => {
                        w.field(name, unit, Values::Double(&[value]));
                    }
                    None => bad_line = true,
                }
            }
            w.field(b"FilePath", b"", Values::String(&[PATH.as_bytes()]));
        })
        .await;
        if bad_line {
            self.malformed.once(
                out.name(),
                format_args!("{PATH} has lines that are not \"Name: value [unit]\""),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn lines_with_and_without_units() {
        assert_eq!(
            parse(b"MemTotal:       24683784 kB"),
            Some((&b"MemTotal"[..], 24683784.0, &b"kB"[..]))
        );
        assert_eq!(
            parse(b"HugePages_Total:       0"),
            Some((&b"HugePages_Total"[..], 0.0, &b""[..]))
        );
        assert_eq!(
            parse(b"Active(anon): 1 kB").map(|p| p.0),
            Some(&b"Active(anon)"[..])
        );
        assert_eq!(parse(b"nonsense"), None);
        assert_eq!(parse(b"X: 1 kB 2"), None);
    }
}
