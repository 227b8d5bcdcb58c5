//! SandboxDecoder (§5.3, §7): a Lua script turns each record into messages. It may
//! rewrite the message in place (`write_message`), or inject one or more messages that
//! replace it (each takes from the original what it does not say). One sandbox per
//! input stream.
//!
//! Return codes (§7.4): 0 passes the message(s) on, below 0 is a decode failure, above
//! 0 stops hekad. A script that fails on its own (a Lua error, a limit) is terminated:
//! from then on every record fails to decode (counted and logged once), and hekad keeps
//! running (Heka stopped; see `docs/ARCHITECTURE.md`).

use super::{DecodeError, Decoded, Decoder, MorePacks, FATAL_PREFIX};
use crate::config::ConfigError;
use crate::diagnostics::escaped_prefix;
use crate::pipeline::pack::Pack;
use crate::plugins::build::BuildContext;
use crate::sandbox::{Kind, Outcome, Sandbox};

/// A running SandboxDecoder.
pub struct SandboxDecoder {
    sandbox: Sandbox,
    /// Whether the termination was logged (it is logged once, then counted).
    reported: bool,
}

pub fn build(ctx: &BuildContext<'_>) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let sandbox = ctx.sandbox(ctx.sandbox_settings(Kind::Decoder)?)?;
    Ok(Box::new(SandboxDecoder {
        sandbox,
        reported: false,
    }))
}

impl Decoder for SandboxDecoder {
    fn decode(&mut self, pack: &mut Pack, more: &mut MorePacks) -> Result<Decoded, DecodeError> {
        let outcome = self.sandbox.process_message(Some(pack.view()), 0);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(reason) => {
                if !self.reported {
                    self.reported = true;
                    log::error!(
                        "Decoder '{}' terminated: {reason}",
                        self.sandbox.settings().name
                    );
                }
                return Err(DecodeError(format!("sandbox terminated: {reason}")));
            }
        };
        match outcome {
            Outcome { status: 0, .. } => {}
            Outcome { status, error } if status < 0 => {
                self.sandbox.injected().clear();
                return Err(DecodeError(format!(
                    "Failed parsing: {} payload: {}",
                    error.unwrap_or_default(),
                    escaped_prefix(pack.view().payload())
                )));
            }
            Outcome { status, error } => {
                let reason = format!(
                    "process_message() returned {status}: {}",
                    error.unwrap_or_default()
                );
                self.sandbox.terminate(reason.clone());
                return Err(DecodeError(format!("{FATAL_PREFIX}{reason}")));
            }
        }
        let mut injected = self.sandbox.injected();
        if injected.is_empty() {
            drop(injected);
            if let Some((mut bytes, index)) = self.sandbox.edited_message() {
                std::mem::swap(&mut pack.msg, &mut bytes);
                pack.index = index;
            }
            return Ok(Decoded::Keep);
        }
        for i in 0..injected.len() {
            let Some((bytes, index)) = injected.get_mut(i) else {
                break;
            };
            let target = match i {
                0 => &mut *pack,
                _ => more.push(),
            };
            std::mem::swap(&mut target.msg, bytes);
            target.index = index;
        }
        injected.clear();
        Ok(Decoded::Keep)
    }

    fn stop(&mut self) {
        self.sandbox.preserve();
    }
}
