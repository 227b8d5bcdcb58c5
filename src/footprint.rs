//! Giving back the resident pages of code only start-up ran.
//!
//! Most of hekad's resident memory on a router is its own binary's pages: parsing the
//! config, building every plugin and loading Lua scripts touch code the running pipeline
//! never needs again, and the kernel maps 64 KiB around each page touched. Once hekad runs,
//! [`release_code_pages`] drops the mappings of the executable's read-only segments; the
//! pages the pipeline still uses fault back in (from the page cache, no I/O), the rest
//! stay out of hekad's RSS.
//!
//! Only segments that are file-backed, not writable and hold no private (copied-on-write)
//! page are released: their every page is the file's, so dropping the mapping loses
//! nothing (Linux refuses writes to a running executable, so the file cannot change under
//! it). Relocated read-only data (RELRO in a dynamically linked build) has private pages
//! and is left alone.

use std::io::{BufRead, BufReader};

/// One mapping of /proc/self/smaps: its range, permissions and path, and whether it
/// holds private copies of pages.
#[derive(Debug, Default)]
struct Mapping {
    start: usize,
    end: usize,
    writable: bool,
    path: String,
    anonymous_kib: u64,
}

impl Mapping {
    /// Parses a header line: `start-end perms offset dev inode [path]`.
    fn parse(line: &str) -> Option<Mapping> {
        let mut parts = line.split_whitespace();
        let (start, end) = parts.next()?.split_once('-')?;
        let perms = parts.next()?;
        let path = parts.nth(3).unwrap_or("").to_owned();
        Some(Mapping {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            writable: perms.as_bytes().get(1) == Some(&b'w'),
            path,
            anonymous_kib: 0,
        })
    }
}

/// The mappings of `/proc/self/smaps`.
fn mappings() -> std::io::Result<Vec<Mapping>> {
    let smaps = std::fs::File::open("/proc/self/smaps")?;
    let mut all: Vec<Mapping> = Vec::new();
    for line in BufReader::new(smaps).lines() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("Anonymous:") {
            if let Some(last) = all.last_mut() {
                last.anonymous_kib = rest
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .unwrap_or(u64::MAX);
            }
        } else if line.starts_with(|c: char| c.is_ascii_hexdigit()) && line.contains('-') {
            if let Some(m) = Mapping::parse(&line) {
                all.push(m);
            }
        }
    }
    Ok(all)
}

/// Drops the mappings of the executable's unmodified read-only segments; returns how
/// many bytes of address space were released (resident or not).
pub fn release_code_pages() -> std::io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let exe = exe.to_string_lossy();
    let mut released = 0;
    for m in mappings()? {
        if m.path != exe || m.writable || m.anonymous_kib != 0 || m.end <= m.start {
            continue;
        }
        // SAFETY: the range is one whole mapping of our executable that is not writable
        // and has no private page (checked above), so every page equals the file's and
        // MADV_DONTNEED only makes the next access map it again from the page cache.
        let done = unsafe {
            libc::madvise(
                m.start as *mut libc::c_void,
                m.end - m.start,
                libc::MADV_DONTNEED,
            )
        };
        if done == 0 {
            released += m.end - m.start;
        }
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smaps_headers_parse() {
        let m = Mapping::parse("00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/hekad")
            .expect("parses");
        assert_eq!((m.start, m.end, m.writable), (0x400000, 0x452000, false));
        assert_eq!(m.path, "/usr/bin/hekad");
        let anon = Mapping::parse("7ffd1000-7ffd2000 rw-p 00000000 00:00 0").expect("parses");
        assert!(anon.writable);
        assert_eq!(anon.path, "");
    }

    #[test]
    fn released_code_still_runs() {
        let released = release_code_pages().expect("smaps");
        assert!(released > 0, "the test binary has read-only segments");
        // The code just released runs again (its pages fault back in).
        assert!(release_code_pages().expect("smaps") > 0);
        let mut total = 0u64;
        for i in 0..1000u64 {
            total = total.wrapping_add(i * i);
        }
        assert_eq!(total, 332_833_500);
    }
}
