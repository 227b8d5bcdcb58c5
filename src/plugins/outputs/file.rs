//! FileOutput (§5.6): appends encoded messages to a file, with Heka's flush rules
//! (`flush_interval` / `flush_count` / `flush_operator`), time-based rotation
//! (`rotation_interval`, strftime in `path`) and reopen on SIGHUP.

use super::{Output, OutputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::pipeline::ack::AckToken;
use crate::pipeline::stats::PluginStats;
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
#[serde(default)]
struct FileOutputConfig {
    path: String,
    perm: String,
    folder_perm: String,
    flush_interval: u64,
    flush_count: u64,
    flush_operator: String,
    rotation_interval: u32,
}

impl Default for FileOutputConfig {
    fn default() -> Self {
        FileOutputConfig {
            path: String::new(),
            perm: "644".into(),
            folder_perm: "700".into(),
            flush_interval: 1000,
            flush_count: 1,
            flush_operator: "AND".into(),
            rotation_interval: 0,
        }
    }
}

/// Encoded bytes held between flushes before a write is forced, whatever the flush
/// settings: memory stays bounded when messages arrive faster than `flush_interval`.
const MAX_PENDING_BYTES: usize = 64 * 1024;

/// The FileOutput plugin.
pub struct FileOutput {
    path: String,
    perm: u32,
    folder_perm: u32,
    flush_interval: Option<Duration>,
    flush_count: u64,
    flush_and: bool,
    rotation_hours: u32,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Output>, Vec<ConfigError>> {
    let c: FileOutputConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    errors.required("path", !c.path.is_empty(), "a file path");
    let octal = |text: &str| {
        u32::from_str_radix(text, 8)
            .map_err(|_| format!("expected an octal permission such as \"644\", got {text:?}"))
    };
    let perm = errors.check("perm", octal(&c.perm)).unwrap_or(0o644);
    let folder_perm = errors
        .check("folder_perm", octal(&c.folder_perm))
        .unwrap_or(0o700);
    let flush_and = match c.flush_operator.to_ascii_uppercase().as_str() {
        "AND" => true,
        "OR" => false,
        other => {
            errors.add(
                "flush_operator",
                format!("expected AND or OR, got {other:?}"),
            );
            true
        }
    };
    if ![0, 1, 4, 12, 24].contains(&c.rotation_interval) {
        errors.add(
            "rotation_interval",
            format!(
                "expected one of 0, 1, 4, 12, 24 (hours), got {}",
                c.rotation_interval
            ),
        );
    }
    let output = FileOutput {
        perm,
        folder_perm,
        path: c.path,
        flush_interval: (c.flush_interval > 0).then(|| Duration::from_millis(c.flush_interval)),
        flush_count: c.flush_count.max(1),
        flush_and,
        rotation_hours: c.rotation_interval,
    };
    // Refused now rather than failing and restarting forever once running.
    if !output.path.is_empty() {
        errors.check(
            "path",
            crate::preflight::file_writable(&output.current_path()),
        );
    }
    errors.finish(|| Box::new(output) as Box<dyn Output>)
}

impl FileOutput {
    /// The path for the current rotation period (strftime expanded when rotating).
    fn current_path(&self) -> PathBuf {
        if self.rotation_hours == 0 {
            return PathBuf::from(&self.path);
        }
        let now = jiff::Zoned::now();
        PathBuf::from(now.strftime(&self.path).to_string())
    }

    /// Time until the next rotation boundary, aligned to local midnight.
    fn until_rotation(&self) -> Option<Duration> {
        if self.rotation_hours == 0 {
            return None;
        }
        let now = jiff::Zoned::now();
        let since_midnight = now
            .time()
            .duration_until(jiff::civil::Time::midnight())
            .unsigned_abs();
        let period = Duration::from_secs(u64::from(self.rotation_hours) * 3600);
        let into_period = Duration::from_secs(since_midnight.as_secs() % period.as_secs());
        Some(period - into_period)
    }

    fn open(&self) -> Result<(File, PathBuf), String> {
        let path = self.current_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(self.folder_perm)
                .create(dir)
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(self.perm)
            .open(&path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        Ok((file, path))
    }
}

impl Output for FileOutput {
    fn run(self: Box<Self>, mut ctx: OutputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let (mut file, mut path) = self.open()?;
            let mut reopen_seen = ctx.control.reopen_generation();
            let mut rotate_at = self.until_rotation().map(|d| Instant::now() + d);
            let mut pending = Vec::new();
            let mut pending_count = 0u64;
            // The acknowledgements of the messages in `pending`, completed once they are
            // written: a tailed file or an AMQP queue must not count them as delivered
            // while they are only in memory (a kill -9 would lose them).
            let mut pending_acks: Vec<AckToken> = Vec::new();
            let mut last_flush = Instant::now();
            let idle_tick = Duration::from_secs(1);
            loop {
                let wait = match pending_acks.is_empty() {
                    true => self.flush_interval.unwrap_or(idle_tick).min(idle_tick),
                    // A replayable source waits for these (an AMQP queue sends no more
                    // than prefetch_count unacknowledged): once nothing else comes, write.
                    false => ACK_WRITE_DELAY,
                };
                let received = async { Some(ctx.queue.recv().await.ok()) };
                let ticked = async {
                    smol::Timer::after(wait).await;
                    None
                };
                let event = received.or(ticked).await;
                // Rotation and SIGHUP take effect before the message that follows them.
                let rotating = rotate_at.is_some_and(|t| Instant::now() >= t);
                let reopening = ctx.control.reopen_generation() != reopen_seen;
                if rotating || reopening {
                    write_out(&mut file, &path, &mut pending, &mut pending_count, &ctx);
                    pending_acks.clear();
                    last_flush = Instant::now();
                    reopen_seen = ctx.control.reopen_generation();
                    rotate_at = self.until_rotation().map(|d| Instant::now() + d);
                    match self.open() {
                        Ok((f, p)) => {
                            log::info!("Plugin '{}': writing to {}", ctx.name, p.display());
                            (file, path) = (f, p);
                        }
                        Err(e) => log::error!("Plugin '{}' error: {e}", ctx.name),
                    }
                }
                let idle_with_acks = event.is_none() && !pending_acks.is_empty();
                let closed = match event {
                    Some(Some(pack)) => {
                        if ctx.encode_into(&pack, &mut pending) {
                            pending_count += 1;
                            PluginStats::add(&ctx.stats.process_count, 1);
                            pending_acks.extend(pack.hold_ack());
                        }
                        false
                    }
                    Some(None) => true,
                    None => false,
                };
                let count_due = pending_count >= self.flush_count;
                let interval_due = self
                    .flush_interval
                    .is_some_and(|i| last_flush.elapsed() >= i);
                let due = match (self.flush_and, self.flush_interval.is_some()) {
                    (_, false) => count_due,
                    (true, true) => count_due && interval_due,
                    (false, true) => count_due || interval_due,
                };
                let full = pending.len() >= MAX_PENDING_BYTES;
                if due || full || closed || idle_with_acks {
                    write_out(&mut file, &path, &mut pending, &mut pending_count, &ctx);
                    pending_acks.clear();
                    last_flush = Instant::now();
                }
                if closed {
                    let _ = file.flush();
                    return Ok(());
                }
            }
        })
    }
}

/// How long messages whose sources wait for them (they carry acknowledgements) stay
/// unwritten once no more messages come, whatever the flush settings.
const ACK_WRITE_DELAY: Duration = Duration::from_millis(10);

/// Writes the pending bytes; a failed write is logged and its messages counted as dropped.
fn write_out(
    file: &mut File,
    path: &std::path::Path,
    pending: &mut Vec<u8>,
    count: &mut u64,
    ctx: &OutputContext,
) {
    if pending.is_empty() {
        return;
    }
    if let Err(e) = file.write_all(pending) {
        log::error!(
            "Plugin '{}' error: writing {}: {e}",
            ctx.name,
            path.display()
        );
        PluginStats::add(&ctx.stats.drop_count, *count);
    }
    pending.clear();
    *count = 0;
}
