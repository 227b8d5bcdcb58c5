//! Decoding a plugin section into a typed config struct, strictly: every key that neither
//! the plugin's struct nor the category's common keys know is an error naming the key
//! (Heka's "unknown config setting for '<name>': <key>").

use super::{ConfigError, PluginSection};
use serde::de::DeserializeOwned;

/// Decodes `section` into `T`. Keys in `also_allowed` (the category's common keys and
/// `type`) are removed before decoding; any other key `T` does not know is reported.
/// `T` should use `#[serde(default)]` so Heka's defaults apply to absent keys.
pub fn decode<T: DeserializeOwned>(
    section: &PluginSection,
    also_allowed: &[&str],
) -> Result<T, Vec<ConfigError>> {
    let mut table = section.table.clone();
    table.remove("type");
    for key in also_allowed {
        table.remove(*key);
    }
    let mut unknown = Vec::new();
    let value = toml::Value::Table(table.clone());
    let result: Result<T, _> =
        serde_ignored::deserialize(value, |path| unknown.push(path.to_string()));
    let mut errors: Vec<ConfigError> = unknown
        .into_iter()
        .map(|key| {
            // The whole table unknown: the plugin has no TLS settings at all.
            let message = if key == "tls" {
                format!("{} does not support TLS (no tls table)", section.type_name)
            } else {
                format!("unknown config setting for '{}': {key}", section.name)
            };
            ConfigError::in_section(section, Some(&key), message)
        })
        .collect();
    match result {
        Ok(config) if errors.is_empty() => Ok(config),
        Ok(_) => Err(errors),
        Err(e) => {
            // Every bad key, not only the first serde met; unknown keys are reported above.
            let known: toml::Table = table
                .into_iter()
                .filter(|(k, _)| !errors.iter().any(|e| e.key.as_deref() == Some(k)))
                .collect();
            for (key, message) in super::each_key_errors::<T>(&known, super::serde_error(&e)) {
                errors.push(ConfigError::in_section(section, key.as_deref(), message));
            }
            Err(errors)
        }
    }
}
