//! Mounted file systems as `stats.filesystem` (hekad's own Type), one message per mount
//! point of a real file system, from /proc/self/mounts and `statvfs(3)`:
//!
//! | field | type | representation | value |
//! |---|---|---|---|
//! | `mountpoint` | STRING | | where it is mounted ("/", "/boot") |
//! | `device` | STRING | | what is mounted ("/dev/sda1", "overlayfs:/overlay") |
//! | `fstype` | STRING | | "ext4", "squashfs", "overlay"... |
//! | `total_bytes` | DOUBLE | B | size |
//! | `free_bytes` | DOUBLE | B | free, including the blocks reserved for root |
//! | `available_bytes` | DOUBLE | B | free for unprivileged users |
//! | `used_bytes` | DOUBLE | B | `total_bytes - free_bytes` |
//! | `total_inodes` | DOUBLE | | inodes |
//! | `free_inodes` | DOUBLE | | free inodes |
//!
//! Types in `filesystem_types_exclude` (kernel interfaces, tmpfs, network file systems by
//! default) and file systems of size 0 are skipped; a mount point mounted over is
//! reported once (what is visible there). `mount_points_include` / `_exclude` choose by
//! path. Paths are unescaped (`\040` is a space).

use super::filter::NameFilter;
use super::{read_into, scan, Complaint, Emitter};
use crate::message::writer::Values;
use std::ffi::CStr;

const PATH: &str = "/proc/self/mounts";

/// The file systems' source and its reused buffers.
pub struct FileSystems {
    filter: NameFilter,
    types_exclude: Vec<String>,
    buf: Vec<u8>,
    /// The mount point being reported, unescaped and NUL-terminated for `statvfs`.
    mount_point: Vec<u8>,
    device: Vec<u8>,
    unreadable: Complaint,
    unstatable: Complaint,
}

/// The sizes `statvfs` reports, in bytes and inodes.
#[derive(Debug, Clone, Copy)]
struct Usage {
    total: f64,
    free: f64,
    available: f64,
    inodes: f64,
    free_inodes: f64,
}

/// Appends `escaped` with the kernel's octal escapes (`\040`) decoded to `out`.
fn unescape(escaped: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < escaped.len() {
        let octal = escaped
            .get(i + 1..i + 4)
            .filter(|d| d[0] <= b'3' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (escaped[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// `statvfs` of a NUL-terminated path.
fn usage(path: &CStr) -> std::io::Result<Usage> {
    // SAFETY: an all-zero statvfs is a valid value of this plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `st` is a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let block = match st.f_frsize {
        0 => st.f_bsize as f64,
        n => n as f64,
    };
    Ok(Usage {
        total: st.f_blocks as f64 * block,
        free: st.f_bfree as f64 * block,
        available: st.f_bavail as f64 * block,
        inodes: st.f_files as f64,
        free_inodes: st.f_ffree as f64,
    })
}

impl FileSystems {
    /// A source for the mount points `filter` allows, skipping `types_exclude`.
    pub fn new(filter: NameFilter, types_exclude: Vec<String>) -> FileSystems {
        FileSystems {
            filter,
            types_exclude,
            buf: Vec::new(),
            mount_point: Vec::new(),
            device: Vec::new(),
            unreadable: Complaint::default(),
            unstatable: Complaint::default(),
        }
    }

    /// Reads the mount table and injects one message per real file system.
    pub async fn emit(&mut self, out: &mut Emitter<'_>) {
        if let Err(e) = read_into(PATH, &mut self.buf) {
            self.unreadable
                .once(out.name(), format_args!("cannot read {PATH}: {e}"));
            return;
        }
        let buf = &self.buf;
        let mut rest = buf.as_slice();
        while !rest.is_empty() {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let line = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            let mut words = scan::words(line);
            let (Some(device), Some(mount_point), Some(fstype)) =
                (words.next(), words.next(), words.next())
            else {
                continue;
            };
            if self.types_exclude.iter().any(|t| t.as_bytes() == fstype) {
                continue;
            }
            // Mounted over later in the table: the later mount is what is visible.
            let shadowed = scan::lines(rest).any(|l| scan::words(l).nth(1) == Some(mount_point));
            if shadowed {
                continue;
            }
            self.mount_point.clear();
            unescape(mount_point, &mut self.mount_point);
            if !self.filter.allows(&self.mount_point) {
                continue;
            }
            self.mount_point.push(0);
            let Ok(path) = CStr::from_bytes_with_nul(&self.mount_point) else {
                continue;
            };
            let usage = match usage(path) {
                Ok(u) if u.total > 0.0 => u,
                Ok(_) => continue,
                Err(e) => {
                    self.unstatable.once(
                        out.name(),
                        format_args!("statvfs {}: {e}", path.to_string_lossy()),
                    );
                    continue;
                }
            };
            self.device.clear();
            unescape(device, &mut self.device);
            let (mount_point, device) = (path.to_bytes(), &self.device[..]);
            out.message("stats.filesystem", |w| {
                w.field(b"mountpoint", b"", Values::String(&[mount_point]))
                    .field(b"device", b"", Values::String(&[device]))
                    .field(b"fstype", b"", Values::String(&[fstype]))
                    .field(b"total_bytes", b"B", Values::Double(&[usage.total]))
                    .field(b"free_bytes", b"B", Values::Double(&[usage.free]))
                    .field(b"available_bytes", b"B", Values::Double(&[usage.available]))
                    .field(
                        b"used_bytes",
                        b"B",
                        Values::Double(&[usage.total - usage.free]),
                    )
                    .field(b"total_inodes", b"", Values::Double(&[usage.inodes]))
                    .field(b"free_inodes", b"", Values::Double(&[usage.free_inodes]));
            })
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_octal() {
        let mut out = Vec::new();
        unescape(br"/media/my\040disk\134x\04", &mut out);
        assert_eq!(out, br"/media/my disk\x\04");
    }

    #[test]
    fn root_has_a_size() {
        let u = usage(c"/").expect("statvfs /");
        assert!(u.total > 0.0 && u.total >= u.free && u.free >= u.available);
    }
}
