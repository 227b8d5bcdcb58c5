//! MultiDecoder (§5.3): runs sub-decoders, `first-wins` (the first that succeeds) or `all`
//! (each in turn; a failing one passes the message on). Fails only when none succeeded.

use super::{DecodeError, Decoded, Decoder};
use crate::config::{section, ConfigError, PluginSection};
use crate::pipeline::pack::Pack;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct MultiConfig {
    subs: Vec<String>,
    cascade_strategy: String,
    log_sub_errors: bool,
}

impl Default for MultiConfig {
    fn default() -> Self {
        MultiConfig {
            subs: Vec::new(),
            cascade_strategy: "first-wins".into(),
            log_sub_errors: false,
        }
    }
}

/// Counters of one sub-decoder.
#[derive(Debug, Default, Clone, Copy)]
pub struct SubCounts {
    pub processed: u64,
    pub failures: u64,
}

/// The MultiDecoder.
pub struct MultiDecoder {
    subs: Vec<(String, Box<dyn Decoder>, SubCounts)>,
    all: bool,
    log_sub_errors: bool,
}

/// Builds a MultiDecoder around already-built sub-decoders (in `subs` order).
pub fn from_section(
    section: &PluginSection,
    subs: Vec<(String, Box<dyn Decoder>)>,
) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let c: MultiConfig = section::decode(section, &[])?;
    let err = |key: &str, msg: &str| vec![ConfigError::in_section(section, Some(key), msg)];
    if c.subs.is_empty() {
        return Err(err("subs", "at least one sub-decoder is required"));
    }
    let all = match c.cascade_strategy.as_str() {
        "first-wins" => false,
        "all" => true,
        _ => return Err(err("cascade_strategy", "must be \"first-wins\" or \"all\"")),
    };
    let subs = subs
        .into_iter()
        .map(|(n, d)| (n, d, SubCounts::default()))
        .collect();
    Ok(Box::new(MultiDecoder {
        subs,
        all,
        log_sub_errors: c.log_sub_errors,
    }))
}

impl MultiDecoder {
    /// Per-sub counters, for reports.
    pub fn counts(&self) -> impl Iterator<Item = (&str, SubCounts)> {
        self.subs.iter().map(|(n, _, c)| (n.as_str(), *c))
    }
}

impl Decoder for MultiDecoder {
    fn decode(&mut self, pack: &mut Pack) -> Result<Decoded, DecodeError> {
        let mut succeeded = false;
        for (name, decoder, counts) in self.subs.iter_mut() {
            counts.processed += 1;
            match decoder.decode(pack) {
                Ok(Decoded::Drop) => return Ok(Decoded::Drop),
                Ok(Decoded::Keep) => {
                    succeeded = true;
                    if !self.all {
                        return Ok(Decoded::Keep);
                    }
                }
                Err(e) => {
                    counts.failures += 1;
                    if self.log_sub_errors {
                        log::error!("Subdecoder '{name}' decode error: {e}");
                    }
                }
            }
        }
        if succeeded {
            Ok(Decoded::Keep)
        } else {
            Err(DecodeError("All subdecoders failed.".into()))
        }
    }
}
