//! Outputs (spec §5.6): take routed packs, encode them (plus optional Heka framing) and
//! write them somewhere.

pub mod amqp;
pub mod carbon;
pub mod elasticsearch;
pub mod file;
pub mod http;
mod link;
pub mod log;
pub mod sandbox;
pub mod tcp;
pub mod udp;

use crate::framing;
use crate::message::MessageView;
use crate::pipeline::inbox::Inbox;
use crate::pipeline::pack::Pack;
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use crate::plugins::encoders::{Encoded, Encoder};
use smol::future::BoxedLocal;
use std::sync::Arc;
use std::time::Duration;

/// What a running output gets from the pipeline.
pub struct OutputContext {
    pub name: String,
    /// Packs routed to this output (from memory or its disk queue); closed when the
    /// pipeline shuts down.
    pub queue: Inbox,
    pub encoder: Option<Box<dyn Encoder>>,
    /// Wrap encoder output in Heka stream framing (§2).
    pub use_framing: bool,
    pub max_message_size: u32,
    pub control: Control,
    pub stats: Arc<PluginStats>,
    /// `ticker_interval`, for outputs that take one (SandboxOutput); `None` when 0.
    pub ticker: Option<Duration>,
    /// The encoder's report entry (`<output>-<encoder>`, Heka's name): messages encoded
    /// and encoding failures.
    pub encoder_stats: Option<Arc<PluginStats>>,
    scratch: Vec<u8>,
}

impl OutputContext {
    pub fn new(
        name: String,
        queue: Inbox,
        encoder: Option<Box<dyn Encoder>>,
        use_framing: bool,
        max_message_size: u32,
        control: Control,
        stats: Arc<PluginStats>,
    ) -> OutputContext {
        OutputContext {
            name,
            queue,
            encoder,
            use_framing,
            max_message_size,
            control,
            stats,
            ticker: None,
            encoder_stats: None,
            scratch: Vec::new(),
        }
    }

    /// Appends the encoding of `pack` (framed if configured) to `out`. Returns false when
    /// the encoder skipped the message or failed (failures are logged and counted).
    pub fn encode_into(&mut self, pack: &Pack, out: &mut Vec<u8>) -> bool {
        let encoded = self.encode_unreported(pack, out);
        if encoded {
            if let Some(stats) = &self.encoder_stats {
                PluginStats::add(&stats.process_count, 1);
            }
        }
        encoded
    }

    fn encode_unreported(&mut self, pack: &Pack, out: &mut Vec<u8>) -> bool {
        let view = pack.view();
        let Some(encoder) = self.encoder.as_mut() else {
            return false;
        };
        // The protobuf encoder's output is the message bytes themselves: frame them
        // straight from the pack, never copying or re-encoding.
        let passes_bytes = encoder.passes_message_bytes();
        if !self.use_framing {
            // Unframed, the encoding goes straight into `out`: one copy, not two.
            if passes_bytes {
                out.extend_from_slice(view.bytes());
                return true;
            }
            return self.append_encoding(view, out);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let encoded = if passes_bytes {
            view.bytes()
        } else if self.append_encoding(view, &mut scratch) {
            &scratch
        } else {
            self.scratch = scratch;
            return false;
        };
        let mark = out.len();
        let framed = match framing::write_frame(encoded, None, self.max_message_size, out) {
            Ok(()) => true,
            Err(e) => {
                out.truncate(mark);
                PluginStats::add(&self.stats.drop_count, 1);
                ::log::error!("Plugin '{}' error: {e}", self.name);
                false
            }
        };
        self.scratch = scratch;
        framed
    }

    /// Appends the encoder's output for `view` to `out`; on a skip or a failure (logged
    /// and counted) `out` is left as it was.
    fn append_encoding(&mut self, view: MessageView<'_>, out: &mut Vec<u8>) -> bool {
        let Some(encoder) = self.encoder.as_mut() else {
            return false;
        };
        let mark = out.len();
        let error = match encoder.encode(view, out) {
            Ok(Encoded::Emit) => return true,
            Ok(Encoded::Skip) => None,
            Err(e) => Some(e),
        };
        out.truncate(mark);
        if let Some(e) = error {
            PluginStats::add(&self.stats.process_failures, 1);
            if let Some(stats) = &self.encoder_stats {
                PluginStats::add(&stats.process_failures, 1);
            }
            ::log::error!("Plugin '{}' error: encoding: {e}", self.name);
        }
        false
    }
}

/// What an output's constructor returns instead of binding a socket when the pipeline
/// is only checked (`hekad -test`): it is never run.
pub struct CheckedOnly;

impl Output for CheckedOnly {
    fn run(self: Box<Self>, _ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async { Err("built to be checked only".to_owned()) })
    }
}

/// A configured output: `run` consumes its queue until the queue is closed and drained.
pub trait Output: Send {
    fn run(self: Box<Self>, ctx: OutputContext) -> BoxedLocal<Result<(), String>>;
}
