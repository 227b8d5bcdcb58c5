//! Heka TOML configuration (spec §4): `[hekad]` globals plus one section per plugin.
//!
//! - [`section`]: decoding one plugin section into its typed config, reporting unknown keys;
//! - [`duration`]: Go duration strings ("250ms", "1m", "720h");
//! - [`loader`]: files and directories, `%ENV[..]` substitution, categories, error collection;
//! - [`globals`]: the `[hekad]` section with Heka's defaults;
//! - [`types`]: Heka's plugin type names, for errors that tell unimplemented from misspelled.

pub mod common;
pub mod duration;
pub mod env;
pub mod globals;
pub mod loader;
pub mod section;
pub mod types;

use std::fmt;
use std::path::PathBuf;

/// Plugin category, from the suffix of the type name (§4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Input,
    Splitter,
    Decoder,
    Filter,
    Encoder,
    Output,
}

impl Category {
    /// Category of a type name by suffix (`TcpInput` ⇒ Input), as Heka's
    /// `(Decoder|Encoder|Filter|Input|Output|Splitter)$`.
    pub fn of_type(type_name: &str) -> Option<Category> {
        const SUFFIXES: [(&str, Category); 6] = [
            ("Decoder", Category::Decoder),
            ("Encoder", Category::Encoder),
            ("Filter", Category::Filter),
            ("Input", Category::Input),
            ("Output", Category::Output),
            ("Splitter", Category::Splitter),
        ];
        SUFFIXES
            .iter()
            .find(|(s, _)| type_name.ends_with(s))
            .map(|&(_, c)| c)
    }
}

/// One plugin section as written in the config: its name, type and raw keys.
#[derive(Debug, Clone)]
pub struct PluginSection {
    /// Table name, which is the plugin's name.
    pub name: String,
    /// `type = "..."`, or the table name when absent.
    pub type_name: String,
    pub category: Category,
    /// File the section came from (for error messages).
    pub file: PathBuf,
    /// All keys of the section, `type` included.
    pub table: toml::Table,
}

/// A configuration error that names where it is: file, section and key when known.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: Option<PathBuf>,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
    /// Raised while decoding the section (an unknown key, a value of the wrong type): the
    /// plugin's own checks did not run, so `section::build_reporting_all` runs them again
    /// without the keys named.
    pub undecoded: bool,
}

impl ConfigError {
    /// An error about a section (and optionally one of its keys).
    pub fn in_section(
        section: &PluginSection,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: Some(section.file.clone()),
            section: Some(section.name.clone()),
            key: key.map(str::to_owned),
            message: message.into(),
            undecoded: false,
        }
    }

    /// An error decoding a section (see `undecoded`).
    pub fn undecoded(
        section: &PluginSection,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            undecoded: true,
            ..ConfigError::in_section(section, key, message)
        }
    }

    /// An error not tied to a file or section.
    pub fn general(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            section: None,
            key: None,
            message: message.into(),
            undecoded: false,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(section) = &self.section {
            write!(f, "[{section}] ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The errors of one section's checks, collected so that every check runs and all of
/// them are reported together (a plugin's constructor after decoding its keys).
pub struct SectionErrors<'a> {
    section: &'a PluginSection,
    errors: Vec<ConfigError>,
}

impl<'a> SectionErrors<'a> {
    /// No errors yet, for `section`.
    pub fn new(section: &'a PluginSection) -> Self {
        SectionErrors {
            section,
            errors: Vec::new(),
        }
    }

    /// Records an error about `key`.
    pub fn add(&mut self, key: &str, message: impl Into<String>) {
        self.errors
            .push(ConfigError::in_section(self.section, Some(key), message));
    }

    /// The value of `result`, or `None` with its error recorded against `key`.
    pub fn check<T>(&mut self, key: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.add(key, e)).ok()
    }

    /// Whether `key` is set (`set`); records `key: expected {what}, not set (required)`
    /// when it is not.
    pub fn required(&mut self, key: &str, set: bool, what: &str) -> bool {
        if !set {
            self.add(key, not_set(what));
        }
        set
    }

    /// `given` when it is one of `allowed` (ASCII case ignored when `any_case`); records
    /// `key: expected one of ..., got "given"` otherwise.
    pub fn one_of<'v>(
        &mut self,
        key: &str,
        given: &'v str,
        allowed: &[&str],
        any_case: bool,
    ) -> Option<&'v str> {
        let known = allowed.iter().any(|a| match any_case {
            true => a.eq_ignore_ascii_case(given),
            false => *a == given,
        });
        if known {
            Some(given)
        } else {
            self.add(key, not_one_of(allowed, given));
            None
        }
    }

    /// The value of a check that names its own keys (TLS settings, HTTP request keys,
    /// a sandbox's keys), or `None` with its errors recorded.
    pub fn merge<T>(&mut self, result: Result<T, Vec<ConfigError>>) -> Option<T> {
        result.map_err(|e| self.errors.extend(e)).ok()
    }

    /// The section the errors are about.
    pub fn section(&self) -> &'a PluginSection {
        self.section
    }

    /// Whether nothing was recorded so far.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The recorded errors, for a constructor that cannot go on; `key: message` when
    /// none was recorded.
    pub fn fail(mut self, key: &str, message: &str) -> Vec<ConfigError> {
        if self.errors.is_empty() {
            self.add(key, message);
        }
        self.errors
    }

    /// `value` if nothing was recorded, else every recorded error.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<ConfigError>> {
        if self.errors.is_empty() {
            Ok(value())
        } else {
            Err(self.errors)
        }
    }
}

/// The catalogue's text for a required key that is absent or empty.
pub fn not_set(what: &str) -> String {
    format!("expected {what}, not set (required)")
}

/// The catalogue's text for a value outside a fixed list.
pub fn not_one_of(allowed: &[&str], given: &str) -> String {
    format!("expected one of {}, got {given:?}", allowed.join(", "))
}

/// Splits a TOML decoding error into the key it is about (when serde named one) and a
/// message saying what was expected and what was given: `invalid type: string "5s",
/// expected u64` reads `expected a whole number, got string "5s"`; `missing field `x``
/// reads `expected a value, not set (required)` under key `x`.
pub fn serde_error(e: &toml::de::Error) -> (Option<String>, String) {
    let message = e.message().trim();
    // toml's Display ends with "in `a.b`" when it knows the key path.
    let shown = e.to_string();
    let mut key = shown
        .lines()
        .filter_map(|l| l.strip_prefix("in `").and_then(|r| r.strip_suffix('`')))
        .next_back()
        .map(str::to_owned);
    let quoted = |text: &str, prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|r| r.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted(message, "missing field `") {
        let key = Some(join_key(key, &field));
        return (key, not_set("a value"));
    }
    if let Some(field) = quoted(message, "unknown field `") {
        let rest = message
            .split_once(", expected ")
            .map(|(_, r)| format!(" (known: {r})"))
            .unwrap_or_default();
        let key = Some(join_key(key.take(), &field));
        return (key, format!("unknown config setting{rest}"));
    }
    if let Some(body) = message.strip_prefix("invalid type: ") {
        if let Some((given, expected)) = body.rsplit_once(", expected ") {
            return (
                key,
                format!("expected {}, got {given}", plain_type(expected)),
            );
        }
    }
    if let Some(body) = message.strip_prefix("invalid value: ") {
        if let Some((given, expected)) = body.rsplit_once(", expected ") {
            return (
                key,
                format!("expected {}, got {given}", plain_type(expected)),
            );
        }
    }
    if let Some(body) = message.strip_prefix("unknown variant ") {
        if let Some((given, expected)) = body.split_once(", expected ") {
            return (key, format!("expected {expected}, got {given}"));
        }
    }
    (key, message.to_owned())
}

/// Decodes `table` into `T`; on failure, every key is tried on its own so that each bad
/// key is reported (serde stops at the first), as [`serde_error`] pairs, without repeats.
pub fn decode_each_key<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
) -> Result<T, Vec<(Option<String>, String)>> {
    let first = match toml::Value::Table(table.clone()).try_into::<T>() {
        Ok(value) => return Ok(value),
        Err(e) => serde_error(&e),
    };
    Err(each_key_errors::<T>(table, first))
}

/// The errors of each key of `table` decoded into `T` on its own; `first` (the error of
/// the whole table) when no single key fails.
pub fn each_key_errors<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
    first: (Option<String>, String),
) -> Vec<(Option<String>, String)> {
    let mut errors: Vec<(Option<String>, String)> = Vec::new();
    for (key, value) in table {
        let single: toml::Table = std::iter::once((key.clone(), value.clone())).collect();
        if let Err(e) = toml::Value::Table(single).try_into::<T>() {
            let error = serde_error(&e);
            if !errors.contains(&error) {
                errors.push(error);
            }
        }
    }
    if errors.is_empty() {
        errors.push(first);
    }
    errors
}

fn join_key(parent: Option<String>, field: &str) -> String {
    match parent {
        Some(p) => format!("{p}.{field}"),
        None => field.to_owned(),
    }
}

/// Rust type names in serde's messages, said in the config's terms.
fn plain_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        "a boolean" | "bool" => "a boolean (true or false)".to_owned(),
        other => other.to_owned(),
    }
}
