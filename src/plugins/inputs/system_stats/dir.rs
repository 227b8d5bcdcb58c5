//! A directory listed again every tick without allocating: /proc (processes) and
//! /sys/block (disks) stay open and are rewound, where `std::fs::read_dir` would allocate
//! a handle and a name per entry each time.

use std::ffi::CStr;
use std::ptr::NonNull;

/// An open directory stream (libc `DIR`), closed on drop.
pub struct Dir {
    stream: NonNull<libc::DIR>,
}

impl Dir {
    /// Opens `path`.
    pub fn open(path: &CStr) -> std::io::Result<Dir> {
        // SAFETY: `path` is a valid NUL-terminated string.
        let stream = unsafe { libc::opendir(path.as_ptr()) };
        NonNull::new(stream)
            .map(|stream| Dir { stream })
            .ok_or_else(std::io::Error::last_os_error)
    }

    /// Starts the listing again from the first entry (and re-reads the directory).
    pub fn rewind(&mut self) {
        // SAFETY: the stream is open until drop.
        unsafe { libc::rewinddir(self.stream.as_ptr()) }
    }

    /// The next entry's name, skipping `.` and `..`; `None` at the end. The name lives
    /// until the next call.
    pub fn next_name(&mut self) -> Option<&[u8]> {
        loop {
            // SAFETY: the stream is open; readdir's entry stays valid until the next
            // readdir/closedir on this stream, which need `&mut self`.
            let name = unsafe {
                let entry = libc::readdir(self.stream.as_ptr());
                if entry.is_null() {
                    return None;
                }
                CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes()
            };
            if name != b"." && name != b".." {
                return Some(name);
            }
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: opened by opendir, closed once.
        unsafe {
            libc::closedir(self.stream.as_ptr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_rewinds() {
        let mut d = Dir::open(c"/proc").expect("/proc");
        let mut first = 0;
        while let Some(name) = d.next_name() {
            assert!(name != b"." && name != b"..");
            first += 1;
        }
        assert!(first > 0);
        d.rewind();
        assert!(d.next_name().is_some());
        assert!(Dir::open(c"/no/such/dir").is_err());
    }
}
