//! ProtobufEncoder (§5.5): the message's own protobuf bytes (with `use_framing`, a Heka
//! frame around them). Outputs write them straight from the pack.

use super::{EncodeError, Encoded, Encoder};
use crate::config::{section, ConfigError, PluginSection};
use crate::message::MessageView;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProtobufEncoderConfig {}

/// The ProtobufEncoder.
pub struct ProtobufEncoder;

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Encoder>, Vec<ConfigError>> {
    let _: ProtobufEncoderConfig = section::decode(section, &[])?;
    Ok(Box::new(ProtobufEncoder))
}

impl Encoder for ProtobufEncoder {
    fn encode(&mut self, msg: MessageView<'_>, out: &mut Vec<u8>) -> Result<Encoded, EncodeError> {
        out.extend_from_slice(msg.bytes());
        Ok(Encoded::Emit)
    }

    fn passes_message_bytes(&self) -> bool {
        true
    }
}
