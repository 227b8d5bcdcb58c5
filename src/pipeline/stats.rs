//! Per-plugin counters (§8.3) and the text report printed on SIGUSR1. Counters are
//! atomics shared between a plugin's task and whoever reports; the future dashboard reads
//! the same structures.

use crate::config::Category;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of one plugin instance.
#[derive(Debug, Default)]
pub struct PluginStats {
    pub name: String,
    pub category: Option<Category>,
    /// Capacity of the plugin's input queue (0 when it has none).
    pub in_chan_capacity: AtomicU64,
    /// The length of the plugin's input queue, read when a report is made.
    pub in_chan_length: InChanLength,
    /// Messages handled successfully.
    pub process_count: AtomicU64,
    /// Messages that failed (decode errors, encode errors, rejected frames...).
    pub process_failures: AtomicU64,
    /// Messages dropped on purpose (wedged output, oversized, full_action=drop...).
    pub drop_count: AtomicU64,
    /// Messages injected by this plugin (filters).
    pub inject_count: AtomicU64,
    /// Matcher timing samples: count and total nanoseconds.
    pub match_samples: AtomicU64,
    pub match_total_ns: AtomicU64,
    /// Bytes of garbage skipped while splitting (inputs).
    pub garbage_bytes: AtomicU64,
    /// Set by inputs reading a UDP socket: `kernel_drops` is reported.
    pub receives_datagrams: AtomicBool,
    /// Datagrams the kernel dropped for the input's socket (its receive queue was full).
    pub kernel_drops: AtomicU64,
    /// Set by plugins serving TLS (`use_tls`): `tls_refused` is reported.
    pub serves_tls: AtomicBool,
    /// Connections refused during the TLS handshake (no or untrusted client certificate,
    /// plain TCP, a failed or timed-out handshake).
    pub tls_refused: AtomicU64,
    /// Whether the plugin has a disk queue (`use_buffering`).
    pub buffered: AtomicBool,
    /// Bytes in the plugin's disk queue segments.
    pub queue_bytes: AtomicU64,
    /// Bytes of damaged disk queue data skipped (torn writes, flipped bits).
    pub queue_corrupt_bytes: AtomicU64,
    /// A Lua sandbox's figures, for plugins that run one.
    pub sandbox: SandboxStats,
}

/// The report fields of a plugin that runs a Lua sandbox (§8.3). A decoder template
/// runs one sandbox per stream: they share the entry (Memory is the last one measured,
/// the maxima are over all of them).
#[derive(Debug, Default)]
pub struct SandboxStats {
    /// Set when the plugin runs a sandbox: the fields below are reported.
    pub active: AtomicBool,
    /// Bytes the Lua state uses now, and the most it used.
    pub memory: AtomicU64,
    pub max_memory: AtomicU64,
    /// The most instructions one call used.
    pub max_instructions: AtomicU64,
    /// The largest output (payload or injected message) one call made, in bytes.
    pub max_output: AtomicU64,
    /// Timed `process_message` calls and their total nanoseconds.
    pub process_samples: AtomicU64,
    pub process_total_ns: AtomicU64,
    /// Timed `timer_event` calls and their total nanoseconds.
    pub timer_samples: AtomicU64,
    pub timer_total_ns: AtomicU64,
}

/// Reads a plugin's queue length at report time (an idle plugin's queue reads 0, not
/// what it held after the last delivery).
#[derive(Default)]
pub struct InChanLength(std::sync::OnceLock<super::ring::LengthProbe>);

impl InChanLength {
    /// Sets the queue to read (once; later calls are ignored).
    pub fn watch(&self, probe: super::ring::LengthProbe) {
        let _ = self.0.set(probe);
    }

    /// Items queued now (0 when nothing is watched).
    pub fn get(&self) -> u64 {
        self.0.get().map_or(0, |probe| probe() as u64)
    }
}

impl std::fmt::Debug for InChanLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InChanLength({})", self.get())
    }
}

impl SandboxStats {
    /// Records the state's memory after a call.
    pub fn memory_used(&self, bytes: u64) {
        self.memory.store(bytes, Ordering::Relaxed);
        self.max_memory.fetch_max(bytes, Ordering::Relaxed);
    }
}

impl PluginStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Counts one task makes locally and adds to a shared counter in batches: once every
/// [`PendingCount::EVERY`] counts, or when the task calls [`PendingCount::flush`] (it runs
/// out of work, stops), instead of an atomic add per message on the hot path. A report
/// may trail by up to `EVERY` counts meanwhile.
#[derive(Debug, Default)]
pub struct PendingCount(u64);

impl PendingCount {
    pub const EVERY: u64 = 1024;

    /// Counts one, adding the batch to `counter` when it is full.
    pub fn one(&mut self, counter: &AtomicU64) {
        self.0 += 1;
        if self.0 == Self::EVERY {
            self.flush(counter);
        }
    }

    /// Adds what was counted since the last flush to `counter`.
    pub fn flush(&mut self, counter: &AtomicU64) {
        if self.0 > 0 {
            PluginStats::add(counter, std::mem::take(&mut self.0));
        }
    }
}

/// Every plugin's counters, in registration order.
#[derive(Debug, Default, Clone)]
pub struct StatsRegistry {
    plugins: Arc<Mutex<Vec<Arc<PluginStats>>>>,
}

impl StatsRegistry {
    /// Registers (or returns the existing) counters for `name`.
    pub fn register(&self, name: &str, category: Category) -> Arc<PluginStats> {
        let mut plugins = self.plugins.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = plugins.iter().find(|p| p.name == name) {
            return found.clone();
        }
        let stats = Arc::new(PluginStats {
            name: name.to_owned(),
            category: Some(category),
            ..Default::default()
        });
        plugins.push(stats.clone());
        stats
    }

    /// Registers the counters of a runtime part that Heka reports under Globals (the
    /// Router), or returns the existing ones.
    pub fn register_global(&self, name: &str) -> Arc<PluginStats> {
        let mut plugins = self.plugins.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = plugins.iter().find(|p| p.name == name) {
            return found.clone();
        }
        let stats = Arc::new(PluginStats {
            name: name.to_owned(),
            category: None,
            ..Default::default()
        });
        plugins.push(stats.clone());
        stats
    }

    /// A snapshot of every plugin's counters.
    pub fn all(&self) -> Vec<Arc<PluginStats>> {
        self.plugins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Heka's SIGUSR1 text report (§8.3), with `globals` lines prepended.
    pub fn text_report(&self, globals: &[(String, Vec<(&'static str, u64)>)]) -> String {
        let mut out = String::from("========[heka.all-report]========\n");
        let sections = [
            ("Globals", None),
            ("Inputs", Some(Category::Input)),
            ("Splitters", Some(Category::Splitter)),
            ("Decoders", Some(Category::Decoder)),
            ("Filters", Some(Category::Filter)),
            ("Outputs", Some(Category::Output)),
            ("Encoders", Some(Category::Encoder)),
        ];
        let plugins = self.all();
        for (title, category) in sections {
            let _ = write!(out, "\n===={title}====\n");
            let mut any = false;
            if category.is_none() {
                for (name, values) in globals {
                    any = true;
                    let _ = writeln!(out, "{name}:");
                    for (key, value) in values {
                        let _ = writeln!(out, "    {key}: {value}");
                    }
                }
            }
            // Heka lists the Router under Globals, after the recycle channels.
            for p in plugins.iter().filter(|p| p.category == category) {
                any = true;
                let _ = writeln!(out, "{}:", p.name);
                for (key, value) in p.report_values() {
                    let _ = writeln!(out, "    {key}: {value}");
                }
            }
            if !any {
                out.push_str("NONE\n");
            }
        }
        out.push_str("========\n");
        out
    }
}

impl PluginStats {
    /// The report keys of this plugin, in Heka's fixed order, then ours.
    pub fn report_values(&self) -> Vec<(&'static str, u64)> {
        let mut values = Vec::new();
        match self.category {
            None => {
                values.push(("InChanCapacity", Self::get(&self.in_chan_capacity)));
                values.push(("InChanLength", self.in_chan_length.get()));
                values.push(("ProcessMessageCount", Self::get(&self.process_count)));
                return values;
            }
            Some(Category::Encoder) => {
                values.push(("ProcessMessageCount", Self::get(&self.process_count)));
                self.push_sandbox_values(&mut values);
                values.push(("ProcessMessageFailures", Self::get(&self.process_failures)));
                return values;
            }
            Some(Category::Splitter) => {
                values.push(("ProcessMessageCount", Self::get(&self.process_count)));
                values.push(("GarbageBytes", Self::get(&self.garbage_bytes)));
                return values;
            }
            _ => {}
        }
        let capacity = Self::get(&self.in_chan_capacity);
        if capacity > 0 {
            values.push(("InChanCapacity", capacity));
            values.push(("InChanLength", self.in_chan_length.get()));
        }
        let samples = Self::get(&self.match_samples);
        if matches!(self.category, Some(Category::Filter | Category::Output)) {
            let avg = Self::get(&self.match_total_ns)
                .checked_div(samples)
                .unwrap_or(0);
            values.push(("MatchAvgDuration", avg));
        }
        values.push(("ProcessMessageCount", Self::get(&self.process_count)));
        if self.category == Some(Category::Filter) {
            values.push(("InjectMessageCount", Self::get(&self.inject_count)));
        }
        self.push_sandbox_values(&mut values);
        values.push(("ProcessMessageFailures", Self::get(&self.process_failures)));
        values.push(("DropMessageCount", Self::get(&self.drop_count)));
        if self.category == Some(Category::Input) {
            values.push(("GarbageBytes", Self::get(&self.garbage_bytes)));
            if self.receives_datagrams.load(Ordering::Relaxed) {
                values.push(("KernelDropCount", Self::get(&self.kernel_drops)));
            }
            if self.serves_tls.load(Ordering::Relaxed) {
                values.push(("TlsRefusedCount", Self::get(&self.tls_refused)));
            }
        }
        if self.buffered.load(Ordering::Relaxed) {
            values.push(("QueueBytes", Self::get(&self.queue_bytes)));
            values.push(("QueueCorruptBytes", Self::get(&self.queue_corrupt_bytes)));
        }
        values
    }

    /// The sandbox fields (§8.3), in Heka's order, when the plugin runs a sandbox.
    fn push_sandbox_values(&self, values: &mut Vec<(&'static str, u64)>) {
        let sandbox = &self.sandbox;
        if !sandbox.active.load(Ordering::Relaxed) {
            return;
        }
        let avg = |total: &AtomicU64, samples: &AtomicU64| {
            Self::get(total)
                .checked_div(Self::get(samples))
                .unwrap_or(0)
        };
        values.push(("Memory", Self::get(&sandbox.memory)));
        values.push(("MaxMemory", Self::get(&sandbox.max_memory)));
        values.push(("MaxInstructions", Self::get(&sandbox.max_instructions)));
        values.push(("MaxOutput", Self::get(&sandbox.max_output)));
        values.push((
            "ProcessMessageAvgDuration",
            avg(&sandbox.process_total_ns, &sandbox.process_samples),
        ));
        if matches!(self.category, Some(Category::Filter | Category::Output)) {
            values.push((
                "TimerEventAvgDuration",
                avg(&sandbox.timer_total_ns, &sandbox.timer_samples),
            ));
        }
    }
}
