//! A pack is one message slot of the fixed pool: an encoded message, its header index and
//! scratch space, all reused from message to message so the steady state allocates nothing.

use crate::message::view::HeaderIndex;
use crate::message::wire::WireError;
use crate::message::MessageView;

/// Longest signer name kept on a pack (signer names are short config identifiers).
pub const SIGNER_CAPACITY: usize = 64;

/// One message in flight.
#[derive(Debug, Default)]
pub struct Pack {
    /// The encoded protobuf message. Always a valid encoding once the pack reaches the router.
    pub msg: Vec<u8>,
    /// Header positions inside `msg`. Invariant: valid for `msg` whenever a decoder, the
    /// router or an output sees the pack (the input path calls [`Pack::reindex`]).
    pub index: HeaderIndex,
    /// Spare buffer for decoders that rebuild the message ([`Pack::commit_scratch`]).
    pub scratch: Vec<u8>,
    /// Name of the HMAC signer that authenticated the message, if any (§2.4).
    pub signer: heapless::String<SIGNER_CAPACITY>,
    /// How many times the message was re-injected (Heka's MsgLoopCount).
    pub loops: u8,
}

impl Pack {
    /// A fresh pack whose buffers hold `capacity` bytes before they need to grow.
    pub fn with_capacity(capacity: usize) -> Pack {
        Pack {
            msg: Vec::with_capacity(capacity),
            scratch: Vec::with_capacity(capacity),
            ..Default::default()
        }
    }

    /// Validates `msg` and rebuilds the header index.
    pub fn reindex(&mut self) -> Result<(), WireError> {
        self.index = HeaderIndex::scan(&self.msg)?;
        Ok(())
    }

    /// The message as a zero-copy view.
    #[inline]
    pub fn view(&self) -> MessageView<'_> {
        MessageView::with_index(&self.msg, &self.index)
    }

    /// Indexes `msg`, which hekad just wrote: `written` is the writer's own index when it
    /// has one ([`MessageWriter::index`]), taken as is since the bytes are valid by
    /// construction; otherwise `msg` is scanned.
    ///
    /// [`MessageWriter::index`]: crate::message::MessageWriter::index
    pub fn index_written(&mut self, written: Option<HeaderIndex>) -> Result<(), WireError> {
        let Some(index) = written else {
            return self.reindex();
        };
        debug_assert_eq!(HeaderIndex::scan(&self.msg).ok(), Some(index));
        self.index = index;
        Ok(())
    }

    /// Makes `scratch` (holding a freshly written message) the pack's message; `written`
    /// as in [`Pack::index_written`].
    pub fn commit_scratch(&mut self, written: Option<HeaderIndex>) -> Result<(), WireError> {
        std::mem::swap(&mut self.msg, &mut self.scratch);
        self.scratch.clear();
        self.index_written(written)
    }

    /// Clears the pack for reuse, keeping buffer capacity.
    pub fn reset(&mut self) {
        self.msg.clear();
        self.scratch.clear();
        self.index = HeaderIndex::default();
        self.signer.clear();
        self.loops = 0;
    }
}
