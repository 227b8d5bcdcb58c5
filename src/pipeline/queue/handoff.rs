//! Records the writer has just written, handed to a reader that has caught up with it, so
//! the reader need not read them back from the segment, parse their frames, check their
//! checksums and re-index their messages: it copies each message and takes its header
//! index as the writer knew it. The segment file stays the truth: a reader that is
//! behind (a slow plugin, a restart) reads the file, and a batch is used only
//! from the exact position the reader has reached.
//!
//! Three buffers circulate (the writer's, one waiting, one being read) and keep their
//! capacity, so the hand-off allocates nothing in the steady state and bounds its memory:
//! while a batch still waits for the reader, the writer's next one is simply not handed off.
//! A reader that stops gives its batch back ([`Handoff::give_back`]), so restarts of the
//! plugin do not use the buffers up.

use crate::message::view::HeaderIndex;
use std::sync::Mutex;

/// One record of a [`WrittenBatch`]: where its message is and where the record ends.
#[derive(Debug, Clone, Copy)]
struct WrittenRecord {
    /// Start of the message in the batch's bytes (after the frame header).
    msg_start: usize,
    /// End of the record in the batch's bytes.
    end: usize,
    index: HeaderIndex,
}

/// Frames written to one segment by one write(2), and the records in them.
#[derive(Debug, Default)]
pub struct WrittenBatch {
    segment: u64,
    /// Segment offset of `bytes[0]`.
    start: u64,
    bytes: Vec<u8>,
    records: Vec<WrittenRecord>,
    /// The reader's next record.
    next: usize,
}

impl WrittenBatch {
    /// An empty batch whose buffer holds `capacity` bytes before it grows.
    pub fn with_capacity(capacity: usize) -> WrittenBatch {
        WrittenBatch {
            bytes: Vec::with_capacity(capacity),
            ..Default::default()
        }
    }

    /// The frames gathered so far, as they will be written.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Records gathered so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Appends one record that `write` frames into the batch: a frame ending with a
    /// message of `msg_len` bytes indexed by `index`. Returns the frame's length; on error
    /// nothing was added.
    pub fn push_with<E>(
        &mut self,
        msg_len: usize,
        index: HeaderIndex,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let start = self.bytes.len();
        if let Err(e) = write(&mut self.bytes) {
            self.bytes.truncate(start);
            return Err(e);
        }
        let end = self.bytes.len();
        self.records.push(WrittenRecord {
            msg_start: end - msg_len,
            end,
            index,
        });
        Ok(end - start)
    }

    /// Empties the batch, keeping its capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
        self.next = 0;
    }

    /// Segment offset where the reader's next record in this batch starts.
    fn next_offset(&self) -> u64 {
        match self.next {
            0 => self.start,
            n => self.start + self.records[n - 1].end as u64,
        }
    }

    /// Whether nothing in the batch lies at or after `(segment, offset)`: it is of no more use.
    fn behind(&self, segment: u64, offset: u64) -> bool {
        self.next == self.records.len()
            || self.segment < segment
            || (self.segment == segment && self.start + self.bytes.len() as u64 <= offset)
    }

    /// The record starting at `(segment, offset)`, if this batch holds it: its message,
    /// header index and end offset. Records before `offset` are skipped.
    fn take_at(&mut self, segment: u64, offset: u64) -> Option<(&[u8], HeaderIndex, u64)> {
        if self.segment != segment {
            return None;
        }
        while self.next < self.records.len() && self.next_offset() < offset {
            self.next += 1;
        }
        if self.next == self.records.len() || self.next_offset() != offset {
            return None;
        }
        let record = self.records[self.next];
        self.next += 1;
        let msg = &self.bytes[record.msg_start..record.end];
        Some((msg, record.index, self.start + record.end as u64))
    }
}

/// The hand-off point between a queue's writer and its reader.
#[derive(Debug)]
pub struct Handoff {
    state: Mutex<Slots>,
}

#[derive(Debug)]
struct Slots {
    /// Handed off, not yet taken by the reader.
    ready: Option<WrittenBatch>,
    /// Empty batches the writer may swap its written one for.
    spare: Vec<WrittenBatch>,
}

impl Default for Handoff {
    /// A hand-off with two circulating batches (their buffers grow on first use).
    fn default() -> Handoff {
        let spare = (0..2).map(|_| WrittenBatch::default()).collect();
        Handoff {
            state: Mutex::new(Slots { ready: None, spare }),
        }
    }
}

impl Handoff {
    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the writer once `batch` is written at `(segment, start)`: hands it off if
    /// a spare batch is free (leaving `batch` empty either way).
    pub fn publish(&self, batch: &mut WrittenBatch, segment: u64, start: u64) {
        let mut slots = self.slots();
        if slots.ready.is_none() {
            if let Some(mut spare) = slots.spare.pop() {
                batch.segment = segment;
                batch.start = start;
                batch.next = 0;
                std::mem::swap(batch, &mut spare);
                slots.ready = Some(spare);
                return;
            }
        }
        drop(slots);
        batch.clear();
    }

    /// Called by the reader at `(segment, offset)`: the record starting there, if the
    /// writer handed it off (its message, header index and end offset). `current` is the
    /// batch the reader holds; once it is behind the reader it goes back as spare and the
    /// waiting one takes its place.
    pub fn take<'b>(
        &self,
        current: &'b mut Option<WrittenBatch>,
        segment: u64,
        offset: u64,
    ) -> Option<(&'b [u8], HeaderIndex, u64)> {
        if current
            .as_ref()
            .is_none_or(|batch| batch.behind(segment, offset))
        {
            let mut slots = self.slots();
            if let Some(mut done) = current.take() {
                done.clear();
                slots.spare.push(done);
            }
            *current = slots.ready.take();
        }
        current.as_mut()?.take_at(segment, offset)
    }

    /// Called by a reader that stops: its batch becomes spare again.
    pub fn give_back(&self, current: Option<WrittenBatch>) {
        if let Some(mut batch) = current {
            batch.clear();
            self.slots().spare.push(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch of `n` records of 10 bytes each: a 4-byte frame header, then a 6-byte message.
    fn written(n: usize) -> WrittenBatch {
        let mut batch = WrittenBatch::with_capacity(64);
        for i in 0..n {
            let frame = format!("hhhhmsg{i}..");
            let pushed = batch.push_with(6, HeaderIndex::default(), |out| {
                out.extend_from_slice(frame.as_bytes());
                Ok::<(), ()>(())
            });
            assert_eq!(pushed, Ok(10));
        }
        batch
    }

    /// The message and end offset of the record at `(segment, offset)`, if handed off.
    fn take(
        handoff: &Handoff,
        current: &mut Option<WrittenBatch>,
        segment: u64,
        offset: u64,
    ) -> Option<(Vec<u8>, u64)> {
        handoff
            .take(current, segment, offset)
            .map(|(msg, _, end)| (msg.to_vec(), end))
    }

    #[test]
    fn a_reader_takes_records_only_from_its_exact_position() {
        let handoff = Handoff::default();
        let mut batch = written(3);
        handoff.publish(&mut batch, 5, 100);
        assert!(batch.is_empty(), "the writer keeps an empty batch");
        let mut current = None;

        // Behind the batch (reading the file): nothing, and the batch is kept.
        assert_eq!(take(&handoff, &mut current, 5, 40), None);
        // In another segment: nothing.
        assert_eq!(take(&handoff, &mut current, 4, 100), None);

        let first = take(&handoff, &mut current, 5, 100);
        assert_eq!(first, Some((b"msg0..".to_vec(), 110)));
        // Mid-record: never.
        assert_eq!(take(&handoff, &mut current, 5, 115), None);
        let third = take(&handoff, &mut current, 5, 120);
        assert_eq!(
            third,
            Some((b"msg2..".to_vec(), 130)),
            "the second is skipped"
        );
        // Used up: returned as spare, so the writer can hand off twice more.
        assert_eq!(take(&handoff, &mut current, 5, 130), None);
        for start in [130, 160] {
            let mut next = written(3);
            handoff.publish(&mut next, 5, start);
            assert!(take(&handoff, &mut current, 5, start).is_some());
        }
    }

    #[test]
    fn without_a_spare_batch_the_writer_hands_nothing_off() {
        let handoff = Handoff::default();
        let mut current = None;
        let mut first = written(3);
        handoff.publish(&mut first, 1, 0);
        assert!(
            take(&handoff, &mut current, 1, 0).is_some(),
            "the reader holds it"
        );
        let mut second = written(3);
        handoff.publish(&mut second, 1, 30);
        // One held, one waiting: a third is not handed off, and is left empty.
        let mut third = written(3);
        handoff.publish(&mut third, 1, 60);
        assert!(third.is_empty());
        for offset in [10, 20, 30, 40, 50] {
            assert!(take(&handoff, &mut current, 1, offset).is_some());
        }
        assert_eq!(
            take(&handoff, &mut current, 1, 60),
            None,
            "read from the file"
        );
    }

    #[test]
    fn a_stopping_reader_gives_its_batch_back() {
        let handoff = Handoff::default();
        // Three reader runs in turn, each stopping while holding a batch.
        for run in 0..3u64 {
            let mut batch = written(2);
            handoff.publish(&mut batch, run, 0);
            let mut current = None;
            assert!(
                take(&handoff, &mut current, run, 0).is_some(),
                "run {run} still gets hand-offs"
            );
            handoff.give_back(current);
        }
    }
}
