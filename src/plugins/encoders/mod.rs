//! Encoders (spec §5.5): turn a message into the bytes an output writes.

pub mod es_json;
pub mod influx_line;
pub mod payload;
pub mod protobuf;
pub mod rst;
pub mod sandbox;

use crate::message::MessageView;

/// What an encoder produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoded {
    /// `out` holds bytes to write.
    Emit,
    /// Nothing to write for this message.
    Skip,
}

/// An encoder failure: the message is dropped and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One encoder instance (one per output, built on the executor thread that runs the
/// output, so it need not be `Send`).
pub trait Encoder {
    /// Appends the encoding of `msg` to `out`, which may already hold other messages'
    /// encodings; on `Skip` or an error the caller discards whatever was appended.
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError>;

    /// True when the encoding is always the message bytes unchanged (ProtobufEncoder), so
    /// outputs can write them straight from the pack without copying.
    fn passes_message_bytes(&self) -> bool {
        false
    }
}
