//! LogstreamerInput (§6): tails every stream of log files under `log_directory`, follows
//! rotation (rename+create, copytruncate, truncate in place, delete and recreate) and
//! resumes from Heka-compatible journals.
//!
//! The journal only ever records positions whose lines the whole pipeline has finished with
//! (see `pipeline/ack.rs`): a kill -9 replays at most the lines that were in flight, and
//! never skips one. A partial last line is not part of any committed position, so it is
//! read again, whole, after a restart.

pub mod discovery;
pub mod follow;
pub mod journal;

use super::{Input, InputContext};
use crate::config::{duration, section, ConfigError, PluginSection, SectionErrors};
use discovery::{Discovery, DiscoverySettings};
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Debug, Deserialize)]
#[serde(default)]
struct LogstreamerConfig {
    log_directory: String,
    file_match: String,
    priority: Vec<String>,
    differentiator: Vec<String>,
    translation: BTreeMap<String, BTreeMap<String, i64>>,
    oldest_duration: String,
    rescan_interval: String,
    check_data_interval: String,
    journal_directory: String,
    hostname: String,
    initial_tail: bool,
}

impl Default for LogstreamerConfig {
    fn default() -> Self {
        LogstreamerConfig {
            log_directory: "/var/log".into(),
            file_match: String::new(),
            priority: Vec::new(),
            differentiator: Vec::new(),
            translation: BTreeMap::new(),
            oldest_duration: "720h".into(),
            rescan_interval: "1m".into(),
            check_data_interval: "250ms".into(),
            journal_directory: String::new(),
            hostname: String::new(),
            initial_tail: false,
        }
    }
}

/// The LogstreamerInput plugin.
pub struct LogstreamerInput {
    discovery: Arc<Discovery>,
    rescan_interval: Duration,
    check_data_interval: Duration,
    journal_directory: Option<PathBuf>,
    hostname: Option<String>,
    initial_tail: bool,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    base_dir: &std::path::Path,
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let c: LogstreamerConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let what = "a regular expression for the file names to read";
    errors.required("file_match", !c.file_match.is_empty(), what);
    let mut parse = |key: &str, text: &str| {
        errors
            .check(key, duration::parse(text))
            .unwrap_or(Duration::ZERO)
    };
    let oldest = parse("oldest_duration", &c.oldest_duration);
    let rescan_interval = parse("rescan_interval", &c.rescan_interval);
    let check_data_interval = parse("check_data_interval", &c.check_data_interval);
    let differentiator = if c.differentiator.is_empty() {
        vec![section.name.clone()]
    } else {
        c.differentiator
    };
    let dir = std::path::Path::new(&c.log_directory);
    if !dir.exists() {
        log::warn!(
            "[{}] log_directory {} does not exist (yet): nothing to read until it does",
            section.name,
            dir.display()
        );
    } else if !dir.is_dir() {
        errors.add(
            "log_directory",
            format!(
                "expected a directory, got {} (not a directory)",
                dir.display()
            ),
        );
    } else {
        errors.check("log_directory", crate::preflight::readable(dir));
    }
    // Journals are written once running: a directory that cannot be made is refused now.
    // The default one is under base_dir, whose own check reports a bad base_dir.
    if !c.journal_directory.is_empty() {
        let journals = std::path::Path::new(&c.journal_directory);
        errors.check(
            "journal_directory",
            crate::preflight::dir_creatable(journals),
        );
    } else if crate::preflight::dir_creatable(base_dir).is_ok() {
        let journals = base_dir.join("logstreamer");
        errors.check(
            "journal_directory",
            crate::preflight::dir_creatable(&journals),
        );
    }
    let discovery = if c.file_match.is_empty() {
        None
    } else {
        let made = Discovery::new(DiscoverySettings {
            log_directory: PathBuf::from(&c.log_directory),
            file_match: c.file_match,
            priority: c.priority,
            differentiator,
            translation: c.translation,
            oldest_duration: Some(oldest),
        });
        errors.check("file_match", made)
    };
    let Some(discovery) = discovery else {
        return Err(errors.fail("file_match", "no file_match to scan with"));
    };
    errors.finish(|| {
        Box::new(LogstreamerInput {
            discovery: Arc::new(discovery),
            rescan_interval: rescan_interval.max(Duration::from_millis(10)),
            check_data_interval: check_data_interval.max(Duration::from_millis(1)),
            journal_directory: (!c.journal_directory.is_empty())
                .then(|| c.journal_directory.into()),
            hostname: (!c.hostname.is_empty()).then_some(c.hostname),
            initial_tail: c.initial_tail,
        }) as Box<dyn Input>
    })
}

/// A stream's current file list, refreshed by every rescan.
pub struct StreamFiles {
    pub files: Vec<PathBuf>,
    /// Bumped on every refresh, so a follower knows to look again.
    pub generation: u64,
}

impl Input for LogstreamerInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let journal_dir = self
                .journal_directory
                .clone()
                .unwrap_or_else(|| ctx.globals.base_dir.join("logstreamer"));
            {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o744)
                    .create(&journal_dir)
                    .map_err(|e| format!("journal_directory {}: {e}", journal_dir.display()))?;
            }
            let hostname = self
                .hostname
                .clone()
                .unwrap_or_else(|| ctx.globals.hostname.clone());
            let mut streams: BTreeMap<String, Rc<RefCell<StreamFiles>>> = BTreeMap::new();
            let mut followers = Vec::new();
            let mut reported: Vec<String> = Vec::new();
            let mut waiting = false;
            loop {
                let missing = !self.discovery.root().exists();
                if missing && !waiting {
                    log::warn!(
                        "Input '{}': log_directory {} does not exist yet; waiting for it",
                        ctx.shared.input_name,
                        self.discovery.root().display()
                    );
                }
                waiting = missing;
                let (found, errors) = self.discovery.scan(SystemTime::now());
                // Log each problem once, not on every rescan.
                for e in &errors {
                    if !reported.contains(e) {
                        log::error!("Input '{}': {e}", ctx.shared.input_name);
                    }
                }
                reported = errors;
                for stream in found {
                    if let Some(files) = streams.get(&stream.name) {
                        let mut f = files.borrow_mut();
                        if f.files != stream.files {
                            f.files = stream.files;
                            f.generation += 1;
                        }
                        continue;
                    }
                    let files = Rc::new(RefCell::new(StreamFiles {
                        files: stream.files,
                        generation: 0,
                    }));
                    streams.insert(stream.name.clone(), files.clone());
                    let settings = follow::Settings {
                        stream: stream.name,
                        hostname: hostname.clone(),
                        journal_dir: journal_dir.clone(),
                        check_interval: self.check_data_interval,
                        fsync_interval: ctx.globals.fsync_interval,
                        initial_tail: self.initial_tail,
                    };
                    let follower = follow::Follower::new(
                        settings,
                        &ctx.shared,
                        files,
                        self.discovery.clone(),
                        ctx.control.clone(),
                    )?;
                    followers.push(crate::pipeline::executors::spawn_local(follower.run()));
                }
                let stopped = async {
                    ctx.control.stopped().await;
                    true
                };
                let rescan = async {
                    smol::Timer::after(self.rescan_interval).await;
                    false
                };
                if stopped.or(rescan).await {
                    break;
                }
            }
            for f in followers {
                f.await;
            }
            Ok(())
        })
    }
}
