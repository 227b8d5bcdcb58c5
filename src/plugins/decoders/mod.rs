//! Decoders (spec §5.3): turn a pack's message into the message that is routed.

pub mod multi;
pub mod payload_regex;
pub mod protobuf;
pub mod rewrite;
pub mod scribble;
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

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One decoder instance (decoders are templates: one instance per input stream).
pub trait Decoder: Send {
    fn decode(&mut self, pack: &mut Pack) -> Result<Decoded, DecodeError>;
}
