//! ProtobufDecoder (§5.3): the record is an encoded message, kept as-is (never decoded into
//! owned structures, never re-encoded). Validation happens once, in the input path.

use super::{DecodeError, Decoded, Decoder, MorePacks};
use crate::config::{section, ConfigError, PluginSection};
use crate::pipeline::pack::Pack;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProtobufDecoderConfig {}

/// The ProtobufDecoder.
pub struct ProtobufDecoder;

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let _: ProtobufDecoderConfig = section::decode(section, &[])?;
    Ok(Box::new(ProtobufDecoder))
}

impl Decoder for ProtobufDecoder {
    /// The input path validates and indexes every message in one pass before any decoder
    /// runs (and rewriting decoders re-index what they write), so the bytes are already
    /// known good here: nothing to do, and no second scan on the hot path.
    fn decode(&mut self, _pack: &mut Pack, _more: &mut MorePacks) -> Result<Decoded, DecodeError> {
        Ok(Decoded::Keep)
    }
}
