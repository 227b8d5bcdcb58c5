//! ProcessDirectoryInput (§5.1): runs the ProcessInputs a directory tree describes,
//! `<process_dir>/<seconds>/<name>.toml`, each file holding one `[ProcessInput]` section
//! run every `<seconds>` (its own `ticker_interval` is ignored; 0 is a long-running
//! command). `process_dir` is relative to `share_dir` (default `processes`). The tree is
//! scanned at start and every `ticker_interval` (default 300 s): new files start, removed
//! ones stop (their children killed), changed ones restart.
//!
//! A file that is not valid, or whose pipeline fails, is logged and left stopped until
//! it changes, as if its `can_exit` were true; with `can_exit = false` in the file, its
//! failure shuts hekad down. The managed inputs use this input's splitter and decoder,
//! run as `<input>-<seconds>-<name>` (their ProcessInputName) and count in this input's
//! report entry.

use super::process::{self, Host};
use super::{Input, InputContext};
use crate::config::common::CommonInput;
use crate::config::{section, Category, ConfigError, PluginSection};
use crate::pipeline::executors::spawn_local;
use crate::pipeline::ticker::Polling;
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

const DEFAULT_TICKER_SECONDS: u64 = 300;

#[derive(Debug, Deserialize)]
#[serde(default)]
struct ProcessDirectoryConfig {
    process_dir: String,
}

impl Default for ProcessDirectoryConfig {
    fn default() -> Self {
        ProcessDirectoryConfig {
            process_dir: "processes".into(),
        }
    }
}

/// The ProcessDirectoryInput plugin.
pub struct ProcessDirectoryInput {
    dir: PathBuf,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    share_dir: &Path,
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let c: ProcessDirectoryConfig = section::decode(section, common_keys)?;
    Ok(Box::new(ProcessDirectoryInput {
        dir: share_dir.join(&c.process_dir),
    }))
}

/// One managed ProcessInput: the file text it was started from and its task.
struct Managed {
    text: String,
    task: smol::Task<()>,
}

impl Input for ProcessDirectoryInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let ctx = Rc::new(ctx);
            let every = ctx
                .ticker
                .unwrap_or(Duration::from_secs(DEFAULT_TICKER_SECONDS));
            let mut managed: BTreeMap<PathBuf, Managed> = BTreeMap::new();
            let mut polling = Polling::new(every);
            loop {
                self.rescan(&ctx, &mut managed);
                if !polling.tick(&ctx.control).await {
                    break;
                }
            }
            for (_, m) in managed {
                m.task.await;
            }
            Ok(())
        })
    }
}

impl ProcessDirectoryInput {
    /// Starts, stops and restarts managed inputs to match the tree.
    fn rescan(&self, ctx: &Rc<InputContext>, managed: &mut BTreeMap<PathBuf, Managed>) {
        let found = scan(&self.dir);
        managed.retain(|path, m| match found.get(path) {
            Some((_, text)) => *text == m.text,
            None => {
                log::info!(
                    "Input '{}': {} removed; stopping it",
                    ctx.shared.input_name,
                    path.display()
                );
                false
            }
        });
        for (path, (seconds, text)) in found {
            if managed.contains_key(&path) {
                continue;
            }
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = format!("{}-{seconds}-{stem}", ctx.shared.input_name);
            let task = spawn_local(run_managed(
                ctx.clone(),
                path.clone(),
                name,
                seconds,
                text.clone(),
            ));
            managed.insert(path, Managed { text, task });
        }
    }
}

/// The `<seconds>/<name>.toml` files under `dir` with their interval and text.
fn scan(dir: &Path) -> BTreeMap<PathBuf, (u64, String)> {
    let mut found = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(seconds) = name.to_str().and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(entry.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    found.insert(path, (seconds, text));
                }
            }
        }
    }
    found
}

/// Builds and runs one managed ProcessInput until it ends or hekad stops.
async fn run_managed(
    ctx: Rc<InputContext>,
    path: PathBuf,
    name: String,
    seconds: u64,
    text: String,
) {
    let input = &ctx.shared.input_name;
    let (input_config, can_exit) = match managed_section(&path, &name, seconds, &text) {
        Ok(built) => built,
        Err(e) => {
            log::error!("Input '{input}': {}: {e}", path.display());
            return;
        }
    };
    let every = if seconds == 0 {
        "long-running".to_owned()
    } else {
        format!("every {seconds} s")
    };
    log::info!(
        "Input '{input}': running {name} ({}), {every}",
        path.display()
    );
    let mut shared = ctx.shared.clone();
    shared.input_name = name.clone();
    let host = Host {
        shared: &shared,
        control: &ctx.control,
        hostname: &ctx.globals.hostname,
    };
    if let Err(e) = input_config.serve(&host).await {
        log::error!("Input '{input}': {name} ({}) failed: {e}", path.display());
        if !can_exit {
            log::error!("Input '{input}': {name} has can_exit = false: shutting down");
            ctx.control.shutdown(true);
        }
    }
}

/// The file's `[ProcessInput]` section, run every `seconds`, and its `can_exit`.
fn managed_section(
    path: &Path,
    name: &str,
    seconds: u64,
    text: &str,
) -> Result<(process::ProcessInput, bool), String> {
    let mut doc: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let Some(toml::Value::Table(mut table)) = doc.remove("ProcessInput") else {
        return Err("no [ProcessInput] section".into());
    };
    for key in ["splitter", "decoder"] {
        if table.remove(key).is_some() {
            log::warn!(
                "{}: '{key}' is ignored: managed ProcessInputs use the ProcessDirectoryInput's",
                path.display()
            );
        }
    }
    table.insert(
        "ticker_interval".into(),
        toml::Value::Integer(seconds as i64),
    );
    let can_exit = table
        .get("can_exit")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let section = PluginSection {
        name: name.to_owned(),
        type_name: "ProcessInput".into(),
        category: Category::Input,
        file: path.to_owned(),
        table,
    };
    let show = |errors: Vec<ConfigError>| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    let input = process::build_input(&section, CommonInput::KEYS).map_err(show)?;
    Ok((input, can_exit))
}
