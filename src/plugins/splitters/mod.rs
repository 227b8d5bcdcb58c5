//! Splitters (spec §2.3, §2.5, §2.6): find record boundaries in a stream of bytes.

use std::ops::Range;

/// Finds records in the unconsumed window of a stream buffer.
pub trait Splitter: Send {
    /// Looks for the next record at the start of `window`. Returns how many bytes are
    /// consumed (garbage skipped plus the record) and the record's range inside `window`,
    /// or `None` when more data is needed (`consumed` may still be > 0 to drop garbage).
    fn find_record(&mut self, window: &[u8]) -> (usize, Option<Range<usize>>);

    /// Turns a found record into message bytes. Heka framing strips the header and checks
    /// the signature here (§2.4); other splitters hand the record through.
    fn unframe<'r>(&mut self, record: &'r [u8]) -> Unframed<'r> {
        Unframed::Message { bytes: record, signer: None }
    }

    /// True when records are encoded messages (ProtobufDecoder input) rather than text
    /// that becomes a new message's payload.
    fn use_message_bytes(&self) -> bool {
        false
    }
}

/// Result of [`Splitter::unframe`].
#[derive(Debug, PartialEq, Eq)]
pub enum Unframed<'r> {
    /// The bytes to deliver, and the signer that authenticated them.
    Message { bytes: &'r [u8], signer: Option<&'r str> },
    /// Failed authentication: dropped (and counted by the caller).
    Rejected { reason: &'static str },
}
