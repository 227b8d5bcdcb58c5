//! ProtobufDecoder (§5.3): the record is an encoded message; it is validated and indexed
//! and kept as-is (never decoded into owned structures, never re-encoded).

use super::{DecodeError, Decoded, Decoder};
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
    fn decode(&mut self, pack: &mut Pack) -> Result<Decoded, DecodeError> {
        // The input path validates and indexes every message before decoders run; this
        // confirms it for callers that did not.
        pack.reindex().map_err(|e| DecodeError(e.to_string()))?;
        Ok(Decoded::Keep)
    }
}
