//! ScribbleDecoder (§5.3): sets headers and adds fields from static `message_fields`
//! (no interpolation); typically inside a MultiDecoder chain.

use super::template::MessageFields;
use super::{DecodeError, Decoded, Decoder, MorePacks};
use crate::config::{section, ConfigError, PluginSection};
use crate::message::rewrite::{rewrite, Overrides};
use crate::pipeline::pack::Pack;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScribbleConfig {
    message_fields: BTreeMap<String, String>,
}

/// The ScribbleDecoder.
pub struct ScribbleDecoder {
    fields: MessageFields,
}

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let c: ScribbleConfig = section::decode(section, &[])?;
    let mut fields = MessageFields::new(&c.message_fields, false);
    fields.render(|_| None);
    Ok(Box::new(ScribbleDecoder { fields }))
}

impl Decoder for ScribbleDecoder {
    fn decode(&mut self, pack: &mut Pack, _more: &mut MorePacks) -> Result<Decoded, DecodeError> {
        let mut set = Overrides::default();
        let mut added = Vec::new();
        let mut uuid = [0u8; 16];
        self.fields.apply(&mut set, &mut added, &mut uuid);
        let mut out = std::mem::take(&mut pack.scratch);
        let written = rewrite(&pack.view(), &set, &added, &mut out);
        pack.scratch = out;
        pack.commit_scratch(written)
            .map_err(|e| DecodeError(e.to_string()))?;
        Ok(Decoded::Keep)
    }
}
