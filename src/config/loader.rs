//! Loading a config file or directory (§4.3, §4.4): `%ENV[]` substitution, TOML parsing,
//! plugin sections with their category, Heka's load order, every error collected.

use super::globals::Globals;
use super::{env, Category, ConfigError, PluginSection};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A loaded configuration: globals and plugin sections in Heka's load order (decoders,
/// MultiDecoders after their subs, encoders, splitters, inputs, filters, outputs).
#[derive(Debug, Clone)]
pub struct Config {
    pub globals: Globals,
    pub sections: Vec<PluginSection>,
    /// The file `[hekad]` came from, if any (for errors about globals).
    pub globals_file: Option<PathBuf>,
}

/// Loads `path`: a file, or a directory whose `*.toml` files load in name order.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let (config, errors) = load_partial(path);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(errors)
    }
}

/// Loads `path` as far as it can: the sections that loaded (with Heka's defaults for
/// `[hekad]` if it has errors) and every error found, so that the sections can still be
/// checked and all errors of a config reported in one pass.
pub fn load_partial(path: &Path) -> (Config, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let files = match config_files(path) {
        Ok(files) => files,
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    };
    let texts = files.into_iter().map(|file| {
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string());
        (file, text)
    });
    load_texts(texts, errors)
}

/// [`load_partial`] of one config file's text, read from nowhere (`file` only names it in
/// errors): the entry point of the config fuzz target (`fuzz/`).
#[doc(hidden)]
pub fn load_text(file: &Path, text: &str) -> (Config, Vec<ConfigError>) {
    load_texts(
        std::iter::once((file.to_path_buf(), Ok(text.to_owned()))),
        Vec::new(),
    )
}

fn load_texts(
    files: impl Iterator<Item = (PathBuf, Result<String, String>)>,
    mut errors: Vec<ConfigError>,
) -> (Config, Vec<ConfigError>) {
    let mut globals_table: Option<(PathBuf, toml::Table)> = None;
    let mut sections: Vec<PluginSection> = Vec::new();
    for (file, text) in files {
        let Some(table) = parse_file(&file, text, &mut errors) else {
            continue;
        };
        for (name, value) in table {
            let toml::Value::Table(table) = value else {
                errors.push(ConfigError {
                    undecoded: false,
                    file: Some(file.clone()),
                    section: None,
                    message: format!(
                        "expected a section [{name}], got {} {value}",
                        value.type_str()
                    ),
                    key: Some(name),
                });
                continue;
            };
            if name == "hekad" {
                globals_table = Some((file.clone(), table));
                continue;
            }
            let type_name = match table.get("type") {
                None => name.clone(),
                Some(toml::Value::String(t)) => t.clone(),
                Some(other) => {
                    errors.push(ConfigError {
                        undecoded: false,
                        file: Some(file.clone()),
                        key: Some("type".into()),
                        message: format!("expected a string, got {} {other}", other.type_str()),
                        section: Some(name),
                    });
                    continue;
                }
            };
            let Some(category) = Category::of_type(&type_name) else {
                errors.push(ConfigError {
                    undecoded: false,
                    file: Some(file.clone()),
                    section: Some(name),
                    key: Some("type".into()),
                    message: format!(
                        "expected a type ending in Input, Splitter, Decoder, Filter, Encoder \
                         or Output, got {type_name:?}{}",
                        super::types::suggestion(
                            &type_name,
                            super::types::HEKA_PLUGIN_TYPES.iter().copied()
                        )
                    ),
                });
                continue;
            };
            if let Some(first) = sections.iter().find(|s| s.name == name) {
                errors.push(ConfigError {
                    undecoded: false,
                    file: Some(file.clone()),
                    section: Some(name.clone()),
                    key: None,
                    message: format!(
                        "[{name}] is defined again (first in {}): section names must be unique",
                        first.file.display()
                    ),
                });
                continue;
            }
            sections.push(PluginSection {
                name,
                type_name,
                category,
                file: file.clone(),
                table,
            });
        }
    }
    let globals = match &globals_table {
        None => Globals::default(),
        Some((file, table)) => Globals::from_table(table).unwrap_or_else(|errs| {
            for (key, message) in errs {
                errors.push(ConfigError {
                    undecoded: false,
                    file: Some(file.clone()),
                    section: Some("hekad".into()),
                    key,
                    message,
                });
            }
            Globals::default()
        }),
    };
    if sections.is_empty() && errors.is_empty() {
        errors.push(ConfigError::general("Empty configuration, exiting."));
    }
    let sections = load_order(sections, &mut errors);
    let globals_file = globals_table.map(|(file, _)| file);
    (
        Config {
            globals,
            sections,
            globals_file,
        },
        errors,
    )
}

fn config_files(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| ConfigError {
        undecoded: false,
        file: Some(path.into()),
        section: None,
        key: None,
        message: e.to_string(),
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| ConfigError {
        undecoded: false,
        file: Some(path.into()),
        section: None,
        key: None,
        message: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn parse_file(
    file: &Path,
    text: Result<String, String>,
    errors: &mut Vec<ConfigError>,
) -> Option<toml::Table> {
    let err = |message: String| ConfigError {
        undecoded: false,
        file: Some(file.to_path_buf()),
        section: None,
        key: None,
        message,
    };
    let text = match text {
        Ok(t) => t,
        Err(e) => {
            errors.push(err(e));
            return None;
        }
    };
    let text = match env::substitute(&text, |name| std::env::var(name).ok()) {
        Ok(t) => t,
        Err(e) => {
            let line = text[..e.offset].matches('\n').count() + 1;
            errors.push(err(format!("line {line}: {}", e.message)));
            return None;
        }
    };
    let text = quote_pipe_keys(&text);
    match text.parse::<toml::Table>() {
        Ok(t) => Some(t),
        Err(e) => {
            let location = e
                .span()
                .map(|s| format!("line {}: ", text[..s.start].matches('\n').count() + 1))
                .unwrap_or_default();
            errors.push(err(format!("{location}{}", e.message())));
            None
        }
    }
}

/// Heka's load order; MultiDecoders after the decoders they use (cycles are errors).
fn load_order(sections: Vec<PluginSection>, errors: &mut Vec<ConfigError>) -> Vec<PluginSection> {
    let rank = |c: Category| match c {
        Category::Decoder => 0,
        Category::Encoder => 1,
        Category::Splitter => 2,
        Category::Input => 3,
        Category::Filter => 4,
        Category::Output => 5,
    };
    let (multi, mut rest): (Vec<PluginSection>, Vec<PluginSection>) = sections
        .into_iter()
        .partition(|s| s.type_name == "MultiDecoder");
    rest.sort_by_key(|s| rank(s.category));
    let subs_of = |s: &PluginSection| -> Vec<String> {
        s.table
            .get("subs")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut pending: BTreeMap<String, PluginSection> = BTreeMap::new();
    let mut order: Vec<String> = multi.iter().map(|s| s.name.clone()).collect();
    for s in multi {
        pending.insert(s.name.clone(), s);
    }
    let mut placed = Vec::new();
    while !order.is_empty() {
        let ready: Vec<String> = order
            .iter()
            .filter(|n| {
                pending
                    .get(*n)
                    .is_some_and(|s| subs_of(s).iter().all(|sub| !pending.contains_key(sub)))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            for name in &order {
                if let Some(s) = pending.get(name) {
                    errors.push(ConfigError::in_section(
                        s,
                        Some("subs"),
                        format!(
                            "circular dependency detected among MultiDecoders: {}",
                            order.join(", ")
                        ),
                    ));
                }
            }
            break;
        }
        for name in ready {
            order.retain(|n| *n != name);
            if let Some(s) = pending.remove(&name) {
                placed.push(s);
            }
        }
    }
    let decoders_end = rest
        .iter()
        .position(|s| s.category != Category::Decoder)
        .unwrap_or(rest.len());
    rest.splice(decoders_end..decoders_end, placed);
    rest
}

/// Heka's TOML parser accepted bare keys such as `RemoteIP|ipv4 = "%RemoteIP%"` (the
/// documented `message_fields` form for representations); modern TOML does not, so such
/// keys are quoted before parsing.
fn quote_pipe_keys(text: &str) -> std::borrow::Cow<'_, str> {
    let needs = |line: &str| {
        let trimmed = line.trim_start();
        let Some((key, _)) = trimmed.split_once('=') else {
            return false;
        };
        let key = key.trim();
        !trimmed.starts_with(['[', '#', '"', '\''])
            && key.contains('|')
            && !key.contains(['"', '\'', ' ', '\t'])
    };
    if !text.lines().any(needs) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        if needs(line) {
            let indent = &line[..line.len() - line.trim_start().len()];
            let trimmed = line.trim_start();
            if let Some((key, rest)) = trimmed.split_once('=') {
                out.push_str(indent);
                out.push('"');
                out.push_str(key.trim());
                out.push_str("\" =");
                out.push_str(rest);
                continue;
            }
        }
        out.push_str(line);
    }
    std::borrow::Cow::Owned(out)
}

/// `\W` replaced by `_`, for names used on disk (queues, state files).
pub fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
