//! The `[hekad]` section (§4.2) with the hekad binary's effective defaults.

use super::duration;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Process-wide settings.
#[derive(Debug, Clone)]
pub struct Globals {
    pub maxprocs: usize,
    pub poolsize: usize,
    pub plugin_chansize: usize,
    pub max_message_loops: u32,
    pub max_process_inject: u32,
    pub max_timer_inject: u32,
    pub max_process_duration: u64,
    pub max_pack_idle: Duration,
    pub base_dir: PathBuf,
    pub share_dir: PathBuf,
    pub hostname: String,
    pub pid_file: Option<PathBuf>,
    pub sample_denominator: u32,
    /// Effective MAX_MESSAGE_SIZE (65536 unless set).
    pub max_message_size: u32,
    pub log_flags: u32,
    pub full_buffer_max_retries: u32,
    /// hekad extension: how often disk queues, their checkpoints and Logstreamer journals
    /// are fsync'd; zero never fsyncs (survives kill -9 but not power loss). See
    /// docs/DELIVERY.md.
    pub fsync_interval: Duration,
    /// Not a config key: set by `hekad -test` (and when the config already has errors) so
    /// that building the pipeline checks everything without binding a socket or writing
    /// a file.
    pub dry_run: bool,
}

/// Raw `[hekad]` keys as written; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobals {
    maxprocs: Option<i64>,
    poolsize: Option<i64>,
    plugin_chansize: Option<i64>,
    max_message_loops: Option<i64>,
    max_process_inject: Option<i64>,
    max_timer_inject: Option<i64>,
    max_process_duration: Option<i64>,
    max_pack_idle: Option<String>,
    base_dir: Option<String>,
    share_dir: Option<String>,
    hostname: Option<String>,
    pid_file: Option<String>,
    sample_denominator: Option<i64>,
    max_message_size: Option<i64>,
    log_flags: Option<i64>,
    full_buffer_max_retries: Option<i64>,
    fsync_interval: Option<String>,
    cpuprof: Option<String>,
    memprof: Option<String>,
}

/// Heka's default MAX_MESSAGE_SIZE.
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 65536;

impl Default for Globals {
    fn default() -> Self {
        Globals {
            maxprocs: 1,
            poolsize: 100,
            plugin_chansize: 30,
            max_message_loops: 4,
            max_process_inject: 1,
            max_timer_inject: 10,
            max_process_duration: 100_000,
            max_pack_idle: Duration::from_secs(120),
            base_dir: PathBuf::from("/var/cache/hekad"),
            share_dir: PathBuf::from("/usr/share/heka"),
            hostname: os_hostname(),
            pid_file: None,
            sample_denominator: 1000,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            log_flags: 3,
            full_buffer_max_retries: 10,
            fsync_interval: Duration::from_secs(1),
            dry_run: false,
        }
    }
}

/// The machine's hostname.
pub fn os_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl Globals {
    /// Decodes a `[hekad]` table; errors are `(key, message)` pairs.
    pub fn from_table(table: &toml::Table) -> Result<Globals, Vec<(Option<String>, String)>> {
        let raw: RawGlobals = super::decode_each_key(table)?;
        let mut g = Globals::default();
        let mut errors = Vec::new();
        let mut positive = |key: &str, value: Option<i64>, min: i64, slot: &mut dyn FnMut(i64)| {
            if let Some(v) = value {
                if v < min {
                    errors.push((
                        Some(key.to_owned()),
                        format!("must be at least {min}, got {v}"),
                    ));
                } else {
                    slot(v);
                }
            }
        };
        positive("maxprocs", raw.maxprocs, 1, &mut |v| {
            g.maxprocs = v as usize
        });
        positive("poolsize", raw.poolsize, 1, &mut |v| {
            g.poolsize = v as usize
        });
        positive("plugin_chansize", raw.plugin_chansize, 1, &mut |v| {
            g.plugin_chansize = v as usize
        });
        positive("max_message_loops", raw.max_message_loops, 0, &mut |v| {
            g.max_message_loops = (v as u32).max(1)
        });
        positive("max_process_inject", raw.max_process_inject, 0, &mut |v| {
            g.max_process_inject = v as u32
        });
        positive("max_timer_inject", raw.max_timer_inject, 0, &mut |v| {
            g.max_timer_inject = v as u32
        });
        positive(
            "max_process_duration",
            raw.max_process_duration,
            0,
            &mut |v| g.max_process_duration = v as u64,
        );
        positive("sample_denominator", raw.sample_denominator, 1, &mut |v| {
            g.sample_denominator = v as u32
        });
        positive("log_flags", raw.log_flags, 0, &mut |v| {
            g.log_flags = v as u32
        });
        positive(
            "full_buffer_max_retries",
            raw.full_buffer_max_retries,
            0,
            &mut |v| g.full_buffer_max_retries = v as u32,
        );
        if let Some(size) = raw.max_message_size {
            if size != 0 && !(1025..=u32::MAX as i64).contains(&size) {
                errors.push((
                    Some("max_message_size".into()),
                    format!("must be > 1024, got {size}"),
                ));
            } else if size != 0 {
                g.max_message_size = size as u32;
            }
        }
        if let Some(interval) = raw.fsync_interval {
            match duration::parse(&interval) {
                Ok(d) => g.fsync_interval = d,
                Err(e) => errors.push((Some("fsync_interval".into()), e)),
            }
        }
        if let Some(idle) = raw.max_pack_idle {
            match duration::parse(&idle) {
                Ok(d) => g.max_pack_idle = d,
                Err(e) => errors.push((Some("max_pack_idle".into()), e)),
            }
        }
        if let Some(dir) = raw.base_dir {
            g.base_dir = PathBuf::from(dir);
        }
        if let Some(dir) = raw.share_dir {
            g.share_dir = PathBuf::from(dir);
        }
        if let Some(host) = raw.hostname.filter(|h| !h.is_empty()) {
            g.hostname = host;
        }
        g.pid_file = raw.pid_file.filter(|p| !p.is_empty()).map(PathBuf::from);
        let _ = (raw.cpuprof, raw.memprof);
        if errors.is_empty() {
            Ok(g)
        } else {
            Err(errors)
        }
    }
}
