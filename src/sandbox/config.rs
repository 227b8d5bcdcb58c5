//! The keys every sandbox plugin takes (§7.1), resolved against `[hekad]` into the
//! settings a sandbox is created from. Parsed on the main thread at start-up (errors name
//! the file, section and key); the Lua state itself is made later, on the executor thread
//! that runs the plugin, because an mlua state is not `Send`.

use super::library;
use crate::config::globals::Globals;
use crate::config::loader::sanitize_name;
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Which plugin type a sandbox runs as: it decides the API functions available, the
/// libraries kept and what injected messages become (§7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Input,
    Decoder,
    Filter,
    Encoder,
    Output,
}

impl Kind {
    /// Inputs and outputs keep `io`, `collectgarbage`, `coroutine` and more of `os` (§7.1).
    pub fn has_io(self) -> bool {
        matches!(self, Kind::Input | Kind::Output)
    }

    /// `read_message` and `read_next_field`: every type that is given a message.
    pub fn reads_messages(self) -> bool {
        !matches!(self, Kind::Input)
    }

    /// `inject_message`: every type but outputs.
    pub fn injects(self) -> bool {
        !matches!(self, Kind::Output)
    }

    /// `inject_payload` and `add_to_payload`.
    pub fn has_payload(self) -> bool {
        matches!(self, Kind::Decoder | Kind::Filter | Kind::Encoder)
    }

    /// `write_message`: decoders and encoders (on their copy of the message).
    pub fn writes_messages(self) -> bool {
        matches!(self, Kind::Decoder | Kind::Encoder)
    }
}

/// A `[x.config]` value as the script reads it with `read_config`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    String(String),
    Number(f64),
    Bool(bool),
}

/// The sandbox keys as written in a plugin section, with Heka's defaults.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct SandboxKeys {
    script_type: String,
    filename: String,
    module_directory: Option<String>,
    preserve_data: bool,
    memory_limit: u64,
    instruction_limit: u64,
    output_limit: u64,
    profile: bool,
    config: toml::Table,
    timer_event_on_shutdown: Option<bool>,
}

impl Default for SandboxKeys {
    fn default() -> Self {
        SandboxKeys {
            script_type: "lua".into(),
            filename: String::new(),
            module_directory: None,
            preserve_data: false,
            memory_limit: 8 * 1024 * 1024,
            instruction_limit: 1_000_000,
            output_limit: 63 * 1024,
            profile: false,
            config: toml::Table::new(),
            timer_event_on_shutdown: None,
        }
    }
}

/// Everything a sandbox is created from; plain data, so plugins holding it stay `Send`.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// The plugin (or decoder runner) name: log lines, termination messages, the
    /// preservation file and the Logger of injected filter messages.
    pub name: String,
    pub kind: Kind,
    /// The script as the config names it (error messages say this).
    pub script_name: String,
    /// Where the script comes from: `filename` under `share_dir` when relative, else the
    /// built-in library's file of that path.
    pub script: Script,
    /// Where `require` looks for `<name>.lua` (`module_directory`, `;`-separated).
    pub module_dirs: Vec<PathBuf>,
    /// Where the globals are saved at a clean stop, when `preserve_data` is on.
    pub preservation: Option<PathBuf>,
    /// Bytes; 0 is unlimited.
    pub memory_limit: usize,
    /// Per call; 0 is unlimited (SandboxInput always).
    pub instruction_limit: u64,
    /// Bytes of payload or of one injected message; 0 is unlimited.
    pub output_limit: usize,
    /// `[x.config]`, for `read_config`.
    pub config: Vec<(String, ConfigValue)>,
    pub timer_event_on_shutdown: bool,
    /// `config.tz`: timestamps the script produces are wall-clock times in this zone.
    pub tz: Option<jiff::tz::TimeZone>,
    /// Stamped on injected messages (filters) and messages built from nothing.
    pub hostname: String,
    pub pid: i32,
    pub max_message_size: usize,
    /// Injections allowed per `process_message` and per `timer_event` call.
    pub max_process_inject: u32,
    pub max_timer_inject: u32,
    /// Messages one decoder call may make: at most a pool's worth.
    pub max_decoder_inject: u32,
    /// `sample_denominator`: one call in this many is timed for the report.
    pub sample_denominator: u64,
}

impl SandboxSettings {
    /// The sandbox keys of `section` (plugin `name`, which differs from the section name
    /// for decoder runners). `also_allowed` are the keys the category itself handles.
    pub fn from_section(
        section: &PluginSection,
        also_allowed: &[&str],
        globals: &Globals,
        kind: Kind,
        name: &str,
    ) -> Result<SandboxSettings, Vec<ConfigError>> {
        let keys: SandboxKeys = section::decode(section, also_allowed)?;
        // Every check runs: all of the section's errors are reported together.
        let mut errors = SectionErrors::new(section);
        errors.one_of("script_type", &keys.script_type, &["lua"], false);
        if keys.timer_event_on_shutdown.is_some() && !matches!(kind, Kind::Filter | Kind::Output) {
            errors.add(
                "timer_event_on_shutdown",
                format!(
                    "unknown config setting for '{}': timer_event_on_shutdown",
                    section.name
                ),
            );
        }
        let what = "a Lua script under share_dir or a built-in one";
        let script = match errors.required("filename", !keys.filename.is_empty(), what) {
            true => errors.check("filename", script_of(&globals.share_dir, &keys.filename)),
            false => None,
        };
        let module_dirs = match &keys.module_directory {
            Some(dirs) => dirs
                .split(';')
                .filter(|d| !d.is_empty())
                .map(|d| under(&globals.share_dir, d))
                .collect(),
            None => vec![globals.share_dir.join("lua_modules")],
        };
        let mut config = Vec::new();
        let mut tz = None;
        for (key, value) in &keys.config {
            let value = match value {
                toml::Value::String(s) => ConfigValue::String(s.clone()),
                toml::Value::Integer(i) => ConfigValue::Number(*i as f64),
                toml::Value::Float(f) => ConfigValue::Number(*f),
                toml::Value::Boolean(b) => ConfigValue::Bool(*b),
                other => {
                    errors.add(
                        &format!("config.{key}"),
                        format!(
                            "expected a string, number or boolean, got {} {other}",
                            other.type_str()
                        ),
                    );
                    continue;
                }
            };
            if key == "tz" && kind != Kind::Filter && kind != Kind::Output {
                if let ConfigValue::String(zone) = &value {
                    tz = errors.check("config.tz", crate::timefmt::zone(zone));
                }
            }
            config.push((key.clone(), value));
        }
        let Some(script) = script else {
            return Err(errors.fail("filename", "not checked"));
        };
        let preservation = keys.preserve_data.then(|| {
            globals
                .base_dir
                .join("sandbox_preservation")
                .join(format!("{}.data", sanitize_name(name)))
        });
        let _ = keys.profile;
        errors.finish(|| SandboxSettings {
            name: name.to_owned(),
            kind,
            script_name: keys.filename,
            script,
            module_dirs,
            preservation,
            memory_limit: keys.memory_limit as usize,
            instruction_limit: match kind {
                Kind::Input => 0,
                _ => keys.instruction_limit,
            },
            output_limit: keys.output_limit as usize,
            config,
            timer_event_on_shutdown: keys.timer_event_on_shutdown.unwrap_or(false),
            tz,
            hostname: globals.hostname.clone(),
            pid: std::process::id() as i32,
            max_message_size: globals.max_message_size as usize,
            max_process_inject: globals.max_process_inject,
            max_timer_inject: globals.max_timer_inject,
            max_decoder_inject: globals.poolsize.min(u32::MAX as usize) as u32,
            sample_denominator: u64::from(globals.sample_denominator.max(1)),
        })
    }

    /// The configured value of `key` in `[x.config]`.
    pub fn config_value(&self, key: &[u8]) -> Option<&ConfigValue> {
        self.config
            .iter()
            .find(|(k, _)| k.as_bytes() == key)
            .map(|(_, v)| v)
    }
}

/// Where a sandbox's script comes from.
#[derive(Clone, Debug)]
pub enum Script {
    File(PathBuf),
    /// A file of hekad's built-in Lua library (its share_dir-relative path).
    Builtin(String),
}

impl Script {
    /// The script's source.
    pub fn source(&self) -> Result<Vec<u8>, String> {
        match self {
            Script::File(path) => {
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
            }
            Script::Builtin(path) => library::file(path)
                .map(|s| s.as_bytes().to_vec())
                .ok_or_else(|| format!("no built-in script {path}")),
        }
    }
}

/// The script `filename` names: a file under `share_dir`, else the built-in library's
/// file of that (relative) path.
fn script_of(share_dir: &Path, filename: &str) -> Result<Script, String> {
    let path = under(share_dir, filename);
    match (path.is_file(), Path::new(filename).is_relative()) {
        (true, _) => Ok(Script::File(path)),
        (false, true) if library::file(filename).is_some() => {
            Ok(Script::Builtin(filename.to_owned()))
        }
        (false, _) => Err(format!(
            "expected a Lua script, got {}: no such file, and no built-in script of that \
             name (`hekad -lua-library` lists them)",
            path.display()
        )),
    }
}

/// `path` under `dir` when relative.
fn under(dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    match path.is_absolute() {
        true => path.to_owned(),
        false => dir.join(path),
    }
}
