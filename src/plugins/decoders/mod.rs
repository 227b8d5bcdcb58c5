//! Decoders (spec §5.3): turn a pack's message into the message that is routed.

pub mod multi;
pub mod payload_regex;
pub mod protobuf;
pub mod sandbox;
pub mod scribble;
pub mod stats_to_fields;
pub mod template;

use crate::pipeline::pack::Pack;

/// What a decoder did with a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Route the pack (its message may have been rewritten in place).
    Keep,
    /// Drop the pack silently (e.g. `log_errors = false` on a non-matching line).
    Drop,
}

/// A decoder failure; the text is logged with the decoder's name and the message counted
/// in ProcessMessageFailures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

/// A failure after which hekad must stop (a SandboxDecoder returning a status above 0,
/// §7.4): the input shuts hekad down with exit code 1.
pub const FATAL_PREFIX: &str = "FATAL: ";

impl DecodeError {
    /// Whether hekad must shut down ([`FATAL_PREFIX`]).
    pub fn is_fatal(&self) -> bool {
        self.0.starts_with(FATAL_PREFIX)
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The messages a decoder makes beyond the one it was given (a SandboxDecoder that
/// injects several, §5.3): packs owned by the input stream and reused from record to
/// record, whose buffers the input swaps into pooled packs and sends after the first.
#[derive(Debug, Default)]
pub struct MorePacks {
    packs: Vec<Pack>,
    len: usize,
}

impl MorePacks {
    /// A cleared pack for one more message.
    pub fn push(&mut self) -> &mut Pack {
        if self.len == self.packs.len() {
            self.packs.push(Pack::default());
        }
        let pack = &mut self.packs[self.len];
        pack.reset();
        self.len += 1;
        pack
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets the messages (their buffers stay for the next record).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Message `i`, to decode it further (MultiDecoder's "all") or send it.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Pack> {
        self.packs[..self.len].get_mut(i)
    }

    /// Takes message `i` out, leaving an empty pack in its place until [`MorePacks::put`].
    pub fn take(&mut self, i: usize) -> Pack {
        self.get_mut(i).map(std::mem::take).unwrap_or_default()
    }

    /// Puts message `i` back after [`MorePacks::take`].
    pub fn put(&mut self, i: usize, pack: Pack) {
        if let Some(slot) = self.get_mut(i) {
            *slot = pack;
        }
    }
}

/// One decoder instance (decoders are templates: one instance per input stream, built
/// on the executor thread that runs the stream, so it need not be `Send`).
pub trait Decoder {
    /// Decodes `pack` in place; messages beyond it go to `more` (empty on entry).
    fn decode(&mut self, pack: &mut Pack, more: &mut MorePacks) -> Result<Decoded, DecodeError>;

    /// The stream ends cleanly (a SandboxDecoder preserves its state).
    fn stop(&mut self) {}
}
