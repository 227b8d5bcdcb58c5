//! The per-stream splitter buffer (§2.5), after ripgrep's line buffer: one reusable
//! buffer with `start`/`end` indexes, an absolute stream offset for error messages, and
//! an explicit policy for records longer than the buffer may grow (`MAX_RECORD_SIZE`):
//! dropped, or delivered truncated with `keep_truncated`.

use super::Splitter;
use crate::diagnostics::escaped_prefix;
use std::ops::Range;

/// A stream buffer and its position in the stream.
#[derive(Debug)]
pub struct SplitterBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
    /// Absolute stream offset of `data[0]`.
    base: u64,
    min_size: usize,
    max_size: usize,
    keep_truncated: bool,
    garbage: u64,
    /// The last read filled all of it: the source has more waiting.
    filled_all: bool,
}

/// How far a buffer grows on its own while its reads keep coming back full (a file
/// being caught up on, a busy connection): one read(2) per 64 KiB instead of per
/// `min_buffer_size`. Idle and slow streams keep their small buffer.
const READ_AHEAD: usize = 64 * 1024;

/// The outcome of [`SplitterBuffer::next_record`].
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A record, as a range of [`SplitterBuffer::data`] valid until the next read.
    Record(Range<usize>),
    /// No complete record yet.
    NeedData,
    /// The buffer is at `MAX_RECORD_SIZE` and holds no record end: the data was dropped,
    /// or is delivered truncated as `truncated`.
    Oversized {
        error: String,
        truncated: Option<Range<usize>>,
        /// Bytes of the record this part held.
        len: usize,
    },
}

impl SplitterBuffer {
    /// A buffer starting at `min_size` bytes that may grow to `max_size`.
    pub fn new(min_size: usize, max_size: usize, keep_truncated: bool) -> SplitterBuffer {
        let max_size = max_size.max(1);
        let min_size = min_size.clamp(1, max_size);
        SplitterBuffer {
            data: Vec::new(),
            start: 0,
            end: 0,
            base: 0,
            min_size,
            max_size,
            keep_truncated,
            garbage: 0,
            filled_all: false,
        }
    }

    /// Free space to read into: compacts, and grows ×2 up to the maximum when less than
    /// half the buffer is free, or up to [`READ_AHEAD`] after a read that filled it.
    /// Never empty.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.data.is_empty() {
            self.data.resize(self.min_size, 0);
        }
        if self.start > 0 && self.data.len() - self.end <= self.data.len() / 2 {
            self.data.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        let busy = std::mem::take(&mut self.filled_all) && self.data.len() < READ_AHEAD;
        if (busy || self.data.len() - self.end <= self.data.len() / 2)
            && self.data.len() < self.max_size
        {
            let grown = (self.data.len() * 2).min(self.max_size);
            self.data.resize(grown, 0);
        }
        if self.end == self.data.len() {
            // Full at the maximum size: next_record reports the oversized record first;
            // reaching here means the caller read without asking, so make room.
            self.base += self.end as u64;
            self.start = 0;
            self.end = 0;
        }
        &mut self.data[self.end..]
    }

    /// Records that `n` bytes were read into [`SplitterBuffer::spare`].
    pub fn filled(&mut self, n: usize) {
        // spare() handed out data[end..]: a read that filled it reached the end.
        self.filled_all = n > 0 && self.end + n >= self.data.len();
        self.end = (self.end + n).min(self.data.len());
    }

    /// The buffer's bytes (index with the ranges [`Next::Record`] returns).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Finds the next record with `splitter`, skipping garbage (counted).
    pub fn next_record(&mut self, splitter: &mut dyn Splitter) -> Next {
        loop {
            if self.start == self.end {
                return Next::NeedData;
            }
            let window = &self.data[self.start..self.end];
            let (consumed, record) = splitter.find_record(window);
            let consumed = consumed.min(window.len());
            let at = self.start;
            match record {
                Some(r) if r.end <= window.len() && r.start <= r.end => {
                    self.garbage += r.start as u64;
                    self.start += consumed;
                    if !r.is_empty() {
                        return Next::Record(at + r.start..at + r.end);
                    }
                    if consumed > 0 {
                        continue;
                    }
                }
                _ => {
                    self.garbage += consumed as u64;
                    self.start += consumed;
                    if consumed > 0 {
                        continue;
                    }
                }
            }
            if self.end - self.start < self.max_size {
                return Next::NeedData;
            }
            let window = self.start..self.end;
            let error = format!(
                "record exceeded MAX_RECORD_SIZE {} at stream offset {} and was {}: prefix {}",
                self.max_size,
                self.base + self.start as u64,
                if self.keep_truncated {
                    "truncated"
                } else {
                    "dropped"
                },
                escaped_prefix(&self.data[window.clone()])
            );
            self.start = self.end;
            let len = window.len();
            let truncated = self.keep_truncated.then_some(window);
            return Next::Oversized {
                error,
                truncated,
                len,
            };
        }
    }

    /// Makes `index` (inside the record [`SplitterBuffer::next_record`] returned last,
    /// before any read) the next unconsumed byte: the stream is split again from there.
    pub fn rewind_to(&mut self, index: usize) {
        if index < self.start {
            self.start = index;
        }
    }

    /// Consumes `n` bytes without splitting them (the disk-queue reader steps into a frame
    /// cut short at the end of a segment).
    pub fn skip(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Absolute stream offset of the next unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// Bytes skipped so far as garbage (before records the splitter found).
    pub fn garbage_bytes(&self) -> u64 {
        self.garbage
    }

    /// Unconsumed bytes (an incomplete last record at end of stream).
    pub fn remaining(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Index in [`SplitterBuffer::data`] of the first unconsumed byte.
    pub fn offset_in_data(&self) -> usize {
        self.start
    }

    /// Empties the buffer for a stream that continues at absolute offset `offset` (after
    /// a seek).
    pub fn restart_at(&mut self, offset: u64) {
        self.base = offset;
        self.start = 0;
        self.end = 0;
    }

    /// Forgets the unconsumed bytes.
    pub fn clear(&mut self) {
        self.base += self.end as u64;
        self.start = 0;
        self.end = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_read_ahead_only_while_reads_come_back_full() {
        let mut buf = SplitterBuffer::new(8192, 1024 * 1024, false);
        let mut offered = Vec::new();
        for _ in 0..5 {
            let n = buf.spare().len();
            offered.push(n);
            buf.filled(n);
            buf.start = buf.end; // the records were taken
        }
        assert_eq!(offered, [8192, 16384, 32768, 65536, 65536]);

        let mut quiet = SplitterBuffer::new(8192, 1024 * 1024, false);
        for _ in 0..5 {
            let n = quiet.spare().len() / 2;
            quiet.filled(n);
            quiet.start = quiet.end;
        }
        assert_eq!(
            quiet.data.len(),
            8192,
            "partial reads keep the small buffer"
        );
    }
}
