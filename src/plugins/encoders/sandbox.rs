//! SandboxEncoder (§5.5, §7): a Lua script renders each message for its output. Its
//! output is what it passes to `inject_payload` (text) or `inject_message` (a protobuf
//! message); with neither, the message itself (as `write_message` left it).
//!
//! Return codes (§7.4): 0 emits, -2 skips the message silently, other negatives fail
//! it ("Failed serializing"), above 0 (or a Lua error, a limit) terminates the sandbox:
//! every later message then fails, counted by the output.

use super::{EncodeError, Encoded, Encoder};
use crate::config::ConfigError;
use crate::message::MessageView;
use crate::plugins::build::BuildContext;
use crate::sandbox::{Kind, Outcome, Sandbox};

/// Heka's "nothing to emit" status.
const SKIP: i64 = -2;

/// A running SandboxEncoder.
pub struct SandboxEncoder {
    sandbox: Sandbox,
    reported: bool,
}

pub fn build(ctx: &BuildContext<'_>) -> Result<Box<dyn Encoder>, Vec<ConfigError>> {
    let sandbox = ctx.sandbox(ctx.sandbox_settings(Kind::Encoder)?)?;
    Ok(Box::new(SandboxEncoder {
        sandbox,
        reported: false,
    }))
}

impl Encoder for SandboxEncoder {
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError> {
        let outcome = match self.sandbox.process_message(Some(msg), 0) {
            Ok(outcome) => outcome,
            Err(reason) => {
                if !self.reported {
                    self.reported = true;
                    log::error!(
                        "Encoder '{}' terminated: {reason}",
                        self.sandbox.settings().name
                    );
                }
                return Err(EncodeError(format!("FATAL: {reason}")));
            }
        };
        match outcome {
            Outcome { status: 0, .. } => {}
            Outcome { status: SKIP, .. } => return Ok(Encoded::Skip),
            Outcome { status, error } if status < 0 => {
                return Err(EncodeError(format!(
                    "Failed serializing: {}",
                    error.unwrap_or_default()
                )))
            }
            Outcome { status, error } => {
                let reason = format!(
                    "process_message() returned {status}: {}",
                    error.unwrap_or_default()
                );
                self.sandbox.terminate(reason.clone());
                return Err(EncodeError(format!("FATAL: {reason}")));
            }
        }
        let mut injected = self.sandbox.injected();
        if let Some((output, _)) = injected.get_mut(0) {
            out.extend_from_slice(output);
            injected.clear();
            return Ok(Encoded::Emit);
        }
        drop(injected);
        match self.sandbox.edited_message() {
            Some((edited, _)) => out.extend_from_slice(&edited),
            None => out.extend_from_slice(msg.bytes()),
        }
        Ok(Encoded::Emit)
    }
}
