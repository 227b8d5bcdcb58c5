//! Keys every plugin of a category accepts (§4.5), the restart policy (§4.7) and disk
//! buffering settings (§4.6).

use super::{duration, ConfigError, PluginSection};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

/// Decodes the common keys of `section` into `T`, ignoring plugin-specific keys.
pub fn decode_common<T: DeserializeOwned>(
    section: &PluginSection,
    keys: &[&str],
) -> Result<T, Vec<ConfigError>> {
    let table: toml::Table = section
        .table
        .iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    super::decode_each_key(&table).map_err(|errors| {
        errors
            .into_iter()
            .map(|(key, message)| ConfigError::in_section(section, key.as_deref(), message))
            .collect()
    })
}

/// Restart policy, `[name.retries]` (§4.7).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    pub delay: Duration,
    pub max_delay: Duration,
    pub max_jitter: Duration,
    /// -1 retries forever, 0 never.
    pub max_retries: i64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_jitter: Duration::from_millis(500),
            max_retries: -1,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetries {
    delay: Option<String>,
    max_delay: Option<String>,
    max_jitter: Option<String>,
    max_retries: Option<i64>,
}

impl<'de> Deserialize<'de> for RetryConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawRetries::deserialize(d)?;
        let mut config = RetryConfig::default();
        let parse = |text: Option<String>, slot: &mut Duration| -> Result<(), D::Error> {
            if let Some(text) = text {
                *slot = duration::parse(&text).map_err(serde::de::Error::custom)?;
            }
            Ok(())
        };
        parse(raw.delay, &mut config.delay)?;
        parse(raw.max_delay, &mut config.max_delay)?;
        parse(raw.max_jitter, &mut config.max_jitter)?;
        if let Some(n) = raw.max_retries {
            config.max_retries = n;
        }
        Ok(config)
    }
}

/// Common keys of inputs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CommonInput {
    pub decoder: Option<String>,
    pub splitter: Option<String>,
    pub synchronous_decode: bool,
    pub send_decode_failures: bool,
    pub log_decode_failures: bool,
    pub can_exit: bool,
    pub ticker_interval: u64,
    pub retries: RetryConfig,
}

impl Default for CommonInput {
    fn default() -> Self {
        CommonInput {
            decoder: None,
            splitter: None,
            synchronous_decode: false,
            send_decode_failures: false,
            log_decode_failures: true,
            can_exit: false,
            ticker_interval: 0,
            retries: RetryConfig::default(),
        }
    }
}

impl CommonInput {
    pub const KEYS: &'static [&'static str] = &[
        "decoder",
        "splitter",
        "synchronous_decode",
        "send_decode_failures",
        "log_decode_failures",
        "can_exit",
        "ticker_interval",
        "retries",
    ];

    pub fn from_section(section: &PluginSection) -> Result<Self, Vec<ConfigError>> {
        decode_common(section, Self::KEYS)
    }
}

/// What a full disk buffer does (§4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FullAction {
    #[default]
    Shutdown,
    Drop,
    Block,
}

/// `[name.buffering]` (§4.6).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BufferingConfig {
    pub max_file_size: u64,
    pub max_buffer_size: u64,
    pub full_action: FullAction,
    pub cursor_update_count: u64,
}

impl Default for BufferingConfig {
    fn default() -> Self {
        BufferingConfig {
            max_file_size: 536_870_912,
            max_buffer_size: 0,
            full_action: FullAction::Shutdown,
            cursor_update_count: 1,
        }
    }
}

/// Common keys of filters and outputs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CommonFilterOutput {
    pub message_matcher: Option<String>,
    pub message_signer: Option<String>,
    pub ticker_interval: u64,
    /// `None`: the plugin type's default (SandboxFilter may exit, others not).
    pub can_exit: Option<bool>,
    pub use_buffering: Option<bool>,
    pub buffering: Option<BufferingConfig>,
    pub encoder: Option<String>,
    pub use_framing: Option<bool>,
    pub retries: RetryConfig,
}

impl CommonFilterOutput {
    pub const KEYS: &'static [&'static str] = &[
        "message_matcher",
        "message_signer",
        "ticker_interval",
        "can_exit",
        "use_buffering",
        "buffering",
        "encoder",
        "use_framing",
        "retries",
    ];

    pub fn from_section(section: &PluginSection) -> Result<Self, Vec<ConfigError>> {
        decode_common(section, Self::KEYS)
    }
}
