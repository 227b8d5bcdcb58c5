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
                let known = known_keys::<T>().iter().chain(also_allowed).copied();
                format!(
                    "unknown config setting for '{}': {key}{}",
                    section.name,
                    expected_keys(&key, known)
                )
            };
            ConfigError::undecoded(section, Some(&key), message)
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
                errors.push(ConfigError::undecoded(section, key.as_deref(), message));
            }
            Err(errors)
        }
    }
}

/// Runs `build` on `section`; when decoding stopped it at some keys (unknown, or of the
/// wrong type), runs it again without them (until decoding passes) and adds the errors
/// its own checks find, so a mistyped key does not hide the rest (`adress = ...` and
/// `address: not set`). Errors about the keys taken out are not repeated.
pub fn build_reporting_all<R>(
    section: &PluginSection,
    build: impl Fn(&PluginSection) -> Result<R, Vec<ConfigError>>,
) -> Result<R, Vec<ConfigError>> {
    let mut errors = match build(section) {
        Ok(built) => return Ok(built),
        Err(errors) => errors,
    };
    let mut cleaned = section.clone();
    let mut taken_out: Vec<String> = Vec::new();
    // Each round takes out at least one more key, so this ends.
    loop {
        let undecoded: Vec<&ConfigError> = errors.iter().filter(|e| e.undecoded).collect();
        if undecoded.iter().any(|e| e.key.is_none()) {
            // An error that names no key: nothing safe to take out.
            break;
        }
        let more: Vec<String> = undecoded
            .iter()
            .filter_map(|e| e.key.clone())
            .filter(|key| !taken_out.contains(key))
            .collect();
        if more.is_empty() {
            break;
        }
        for key in more {
            remove_key(&mut cleaned.table, &key);
            taken_out.push(key);
        }
        let Err(found) = build(&cleaned) else {
            break;
        };
        // An error about a key taken out, or inside a table taken out, would repeat one.
        let repeats = |key: &str| {
            taken_out.iter().any(|out| {
                key == out
                    || key
                        .strip_prefix(out.as_str())
                        .is_some_and(|r| r.starts_with('.'))
            })
        };
        for e in found {
            if !e.key.as_deref().is_some_and(repeats) && !errors.contains(&e) {
                errors.push(e);
            }
        }
    }
    Err(errors)
}

/// Removes `key` (a dotted path into nested tables) from `table`.
fn remove_key(table: &mut toml::Table, key: &str) {
    match key.split_once('.') {
        None => {
            table.remove(key);
        }
        Some((first, rest)) => {
            if let Some(toml::Value::Table(inner)) = table.get_mut(first) {
                remove_key(inner, rest);
            }
        }
    }
}

/// What an unknown top-level `key` should have been: the closest known key, else the
/// list of them (nothing for a key inside a table).
fn expected_keys<'a>(key: &str, known: impl Iterator<Item = &'a str> + Clone) -> String {
    if key.contains('.') {
        return String::new();
    }
    match super::types::closest(key, known.clone()) {
        Some(close) => format!("; did you mean {close}?"),
        None => {
            let mut all: Vec<&str> = known.collect();
            all.sort_unstable();
            all.dedup();
            format!("; expected one of {}", all.join(", "))
        }
    }
}

/// The field names of the struct `T` decodes into, as its `Deserialize` impl declares
/// them (empty when `T` is not a plain struct).
fn known_keys<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::value::Error;
    use serde::de::{Error as _, Visitor};

    /// A deserializer that only records the fields a struct asks for.
    struct Probe<'f>(&'f mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
            Err(Error::custom("probe"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Error> {
            *self.0 = fields;
            Err(Error::custom("probe"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}
