//! MultiDecoder (§5.3): runs sub-decoders, `first-wins` (the first that succeeds) or `all`
//! (each in turn; a failing one passes the message on). Fails only when none succeeded.

use super::{DecodeError, Decoded, Decoder, MorePacks};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::pack::Pack;
use crate::plugins::build::BuildContext;
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

/// Builds a MultiDecoder and its sub-decoders, each by its section name.
pub fn build(ctx: &BuildContext<'_>) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let c: MultiConfig = section::decode(ctx.section, &[])?;
    // Every check runs, the subs' too: all of the errors are reported together.
    let mut errors = SectionErrors::new(ctx.section);
    let all = check(&mut errors, &c);
    let mut subs = Vec::new();
    for name in &c.subs {
        if let Some(decoder) = errors.merge(ctx.decoder("subs", name)) {
            subs.push((name.clone(), decoder));
        }
    }
    errors.finish(|| new(subs, all, c.log_sub_errors))
}

/// Builds a MultiDecoder around already-built sub-decoders (in `subs` order).
pub fn from_section(
    section: &PluginSection,
    subs: Vec<(String, Box<dyn Decoder>)>,
) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let c: MultiConfig = section::decode(section, &[])?;
    let mut errors = SectionErrors::new(section);
    let all = check(&mut errors, &c);
    errors.finish(|| new(subs, all, c.log_sub_errors))
}

/// The section's own checks; whether the cascade strategy is "all".
fn check(errors: &mut SectionErrors, c: &MultiConfig) -> bool {
    errors.required("subs", !c.subs.is_empty(), "a list of decoder names");
    let strategy = errors.one_of(
        "cascade_strategy",
        &c.cascade_strategy,
        &["first-wins", "all"],
        false,
    );
    strategy == Some("all")
}

fn new(subs: Vec<(String, Box<dyn Decoder>)>, all: bool, log_sub_errors: bool) -> Box<dyn Decoder> {
    let subs = subs
        .into_iter()
        .map(|(n, d)| (n, d, SubCounts::default()))
        .collect();
    Box::new(MultiDecoder {
        subs,
        all,
        log_sub_errors,
    })
}

impl MultiDecoder {
    /// Per-sub counters, for reports.
    pub fn counts(&self) -> impl Iterator<Item = (&str, SubCounts)> {
        self.subs.iter().map(|(n, _, c)| (n.as_str(), *c))
    }
}

impl Decoder for MultiDecoder {
    /// first-wins: the first sub that succeeds decides (with the messages it made);
    /// all: each sub is applied to every message made so far, the given one first.
    fn decode(&mut self, pack: &mut Pack, more: &mut MorePacks) -> Result<Decoded, DecodeError> {
        let mut succeeded = false;
        for (name, decoder, counts) in self.subs.iter_mut() {
            let made_before = more.len();
            let mut result = apply(
                name,
                decoder.as_mut(),
                counts,
                pack,
                more,
                self.log_sub_errors,
            )?;
            if !self.all {
                match result {
                    Some(Decoded::Keep) => return Ok(Decoded::Keep),
                    Some(Decoded::Drop) => return Ok(Decoded::Drop),
                    None => {
                        more.clear();
                        continue;
                    }
                }
            }
            for i in 0..made_before {
                let mut made = more.take(i);
                let r = apply(
                    name,
                    decoder.as_mut(),
                    counts,
                    &mut made,
                    more,
                    self.log_sub_errors,
                );
                more.put(i, made);
                result = result.or(r?);
            }
            match result {
                Some(Decoded::Drop) => return Ok(Decoded::Drop),
                Some(Decoded::Keep) => succeeded = true,
                None => {}
            }
        }
        if succeeded {
            Ok(Decoded::Keep)
        } else {
            Err(DecodeError("All subdecoders failed.".into()))
        }
    }

    fn stop(&mut self) {
        for (_, decoder, _) in self.subs.iter_mut() {
            decoder.stop();
        }
    }
}

/// Runs one sub-decoder on one message, counting it; `None` when it failed (a failing
/// sub passes the message on unchanged). Only a fatal failure is an error.
fn apply(
    name: &str,
    decoder: &mut dyn Decoder,
    counts: &mut SubCounts,
    pack: &mut Pack,
    more: &mut MorePacks,
    log_errors: bool,
) -> Result<Option<Decoded>, DecodeError> {
    counts.processed += 1;
    match decoder.decode(pack, more) {
        Ok(decoded) => Ok(Some(decoded)),
        Err(e) if e.is_fatal() => Err(e),
        Err(e) => {
            counts.failures += 1;
            if log_errors {
                log::error!("Subdecoder '{name}' decode error: {e}");
            }
            Ok(None)
        }
    }
}
