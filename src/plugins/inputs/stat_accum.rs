//! StatAccumInput (§5.1): aggregates the stats StatsdInput and StatFilter submit and, every
//! `ticker_interval`, emits them as one `heka.statmetric` message: graphite plaintext
//! lines in the Payload and/or one field per stat, with Heka's names and formats.
//!
//! Submitters reach the accumulator by name through a [`StatSink`] they are handed at
//! build time (Heka looked the input up by `stat_accum_name` at run time). A sink is a
//! mutex around the maps: a statsd datagram takes it once for all its lines, and a new
//! name is the only thing that allocates. Memory is bounded: at most `max_stats` distinct
//! names and `max_samples` stored timer values and set members per interval; what is
//! refused is counted (DropMessageCount) and logged once per interval. A timer whose
//! values were refused still counts, sums and bounds them exactly; only its percentiles
//! come from the values kept.

use super::{Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::writer::Values;
use crate::message::MessageWriter;
use crate::pipeline::stats::PluginStats;
use crate::pipeline::ticker::Polling;
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Heka's type name, for the checks of plugins that name one (`stat_accum_name`).
pub const TYPE_NAME: &str = "StatAccumInput";
const DEFAULT_TICKER_SECONDS: u64 = 10;
/// Payload and fields per emitted message.
const MESSAGE_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct StatAccumConfig {
    emit_in_payload: bool,
    emit_in_fields: bool,
    percent_threshold: Vec<u32>,
    message_type: String,
    legacy_namespaces: bool,
    global_prefix: String,
    counter_prefix: String,
    timer_prefix: String,
    gauge_prefix: String,
    /// Not in Heka (it had no sets): Etsy statsd's `stats.sets.<name>.count`.
    set_prefix: String,
    statsd_prefix: String,
    delete_idle_stats: bool,
    /// Distinct stat names held at once (hekad's bound; Heka had none).
    max_stats: usize,
    /// Timer values and set members stored per interval (hekad's bound).
    max_samples: usize,
}

impl Default for StatAccumConfig {
    fn default() -> Self {
        StatAccumConfig {
            emit_in_payload: true,
            emit_in_fields: false,
            percent_threshold: vec![90],
            message_type: "heka.statmetric".into(),
            legacy_namespaces: false,
            global_prefix: "stats".into(),
            counter_prefix: "counters".into(),
            timer_prefix: "timers".into(),
            gauge_prefix: "gauges".into(),
            set_prefix: "sets".into(),
            statsd_prefix: "statsd".into(),
            delete_idle_stats: false,
            max_stats: 50_000,
            max_samples: 250_000,
        }
    }
}

/// One submitted measurement (Heka's `Stat`, values already parsed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample<'a> {
    /// Added to the counter, scaled by `1 / rate`.
    Counter { value: f64, rate: f32 },
    /// One timing; it counts `1 / rate` times.
    Timer { value: f64, rate: f32 },
    /// Sets the gauge, or with `delta` adds to it (statsd's `+N`/`-N`).
    Gauge { value: f64, delta: bool },
    /// One member of a set; the distinct members per interval are counted.
    Set(&'a [u8]),
}

/// What the plugins that submit stats hold: the accumulator of one StatAccumInput.
#[derive(Debug, Default)]
pub struct StatSink {
    inner: Mutex<Accumulator>,
}

impl StatSink {
    /// The accumulator, for a batch of submissions.
    pub fn lock(&self) -> MutexGuard<'_, Accumulator> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Default)]
struct TimerStat {
    /// Values kept for the percentiles (all of them, unless `max_samples` was reached).
    values: Vec<f64>,
    /// Values received; their sum and bounds, exact whatever was kept.
    received: u64,
    sum: f64,
    lower: f64,
    upper: f64,
    /// Sum of `1 / rate` over the values received.
    count: f64,
}

/// A gauge: with `set`, an absolute value; without, the sum of deltas since the
/// interval's maps were taken out for emission (added to the value before them).
#[derive(Debug, Default, Clone, Copy)]
struct Gauge {
    value: f64,
    set: bool,
}

/// The stats of one interval, by name.
#[derive(Debug, Default)]
struct Maps {
    counters: HashMap<Box<[u8]>, i64>,
    gauges: HashMap<Box<[u8]>, Gauge>,
    timers: HashMap<Box<[u8]>, TimerStat>,
    sets: HashMap<Box<[u8]>, HashSet<Box<[u8]>>>,
}

/// What submitters add to: the interval's maps and the bounds on them.
///
/// Emission must not hold the lock long (a statsd receive thread waits on it while the
/// kernel's queue fills): [`Accumulator::take`] swaps the maps out, the emitter formats
/// them unlocked, and [`Accumulator::put_back`] merges what arrived meanwhile into them.
#[derive(Debug)]
pub struct Accumulator {
    maps: Maps,
    max_stats: usize,
    max_samples: usize,
    /// Timer values and set members stored this interval.
    samples: usize,
    /// Refused this interval: new names over `max_stats`, values over `max_samples`.
    refused_names: u64,
    refused_samples: u64,
}

impl Default for Accumulator {
    fn default() -> Self {
        let limits = StatAccumConfig::default();
        Accumulator {
            maps: Maps::default(),
            max_stats: limits.max_stats,
            max_samples: limits.max_samples,
            samples: 0,
            refused_names: 0,
            refused_samples: 0,
        }
    }
}

/// The entry for `name` in `map`, made if there is room for one more name.
fn entry<'m, V: Default>(
    map: &'m mut HashMap<Box<[u8]>, V>,
    name: &[u8],
    room: bool,
    refused: &mut u64,
) -> Option<&'m mut V> {
    if !map.contains_key(name) {
        if !room {
            *refused += 1;
            return None;
        }
        map.insert(name.into(), V::default());
    }
    map.get_mut(name)
}

impl TimerStat {
    /// Adds one value's aggregates (not the value itself).
    fn count(&mut self, value: f64, times: f64) {
        if self.received == 0 {
            (self.lower, self.upper) = (value, value);
        }
        self.received += 1;
        self.sum += value;
        self.lower = self.lower.min(value);
        self.upper = self.upper.max(value);
        self.count += times;
    }

    /// Takes in what `other` gathered.
    fn merge(&mut self, other: TimerStat) {
        if other.received == 0 {
            return;
        }
        if self.received == 0 {
            (self.lower, self.upper) = (other.lower, other.upper);
        }
        self.received += other.received;
        self.sum += other.sum;
        self.lower = self.lower.min(other.lower);
        self.upper = self.upper.max(other.upper);
        self.count += other.count;
        self.values.extend(other.values);
    }
}

impl Maps {
    fn names(&self) -> usize {
        self.counters.len() + self.gauges.len() + self.timers.len() + self.sets.len()
    }

    /// Whether `name` is known in the map of `sample`'s kind.
    fn knows(&self, name: &[u8], sample: &Sample<'_>) -> bool {
        match sample {
            Sample::Counter { .. } => self.counters.contains_key(name),
            Sample::Gauge { .. } => self.gauges.contains_key(name),
            Sample::Timer { .. } => self.timers.contains_key(name),
            Sample::Set(_) => self.sets.contains_key(name),
        }
    }
}

impl Accumulator {
    /// Adds one sample for `name`; false if it was refused (a bound was reached).
    pub fn add(&mut self, name: &[u8], sample: Sample<'_>) -> bool {
        let room = self.maps.names() < self.max_stats;
        let refused = &mut self.refused_names;
        let maps = &mut self.maps;
        match sample {
            Sample::Counter { value, rate } => {
                let Some(c) = entry(&mut maps.counters, name, room, refused) else {
                    return false;
                };
                // Heka's arithmetic: float32 value times float32 (1 / rate), truncated.
                let scaled = (value as f32 * (1.0 / rate)) as i64;
                *c = c.saturating_add(scaled);
            }
            Sample::Gauge { value, delta } => {
                let Some(g) = entry(&mut maps.gauges, name, room, refused) else {
                    return false;
                };
                match delta {
                    true => g.value += value,
                    false => *g = Gauge { value, set: true },
                }
            }
            Sample::Timer { value, rate } => {
                let Some(t) = entry(&mut maps.timers, name, room, refused) else {
                    return false;
                };
                t.count(value, 1.0 / f64::from(rate));
                if self.samples >= self.max_samples {
                    self.refused_samples += 1;
                    return false;
                }
                t.values.push(value);
                self.samples += 1;
            }
            Sample::Set(member) => {
                let Some(s) = entry(&mut maps.sets, name, room, refused) else {
                    return false;
                };
                if !s.contains(member) {
                    if self.samples >= self.max_samples {
                        self.refused_samples += 1;
                        return false;
                    }
                    s.insert(member.into());
                    self.samples += 1;
                }
            }
        }
        true
    }

    /// The interval's maps, leaving empty ones to gather the next (O(1) under the lock),
    /// and what the interval refused.
    fn take(&mut self) -> (Maps, Refused) {
        self.samples = 0;
        let refused = Refused {
            names: std::mem::take(&mut self.refused_names),
            samples: std::mem::take(&mut self.refused_samples),
        };
        (std::mem::take(&mut self.maps), refused)
    }

    /// Puts emitted (and reset) maps back, merging in what was added since [`take`]
    /// (little: the time one emission takes).
    ///
    /// [`take`]: Accumulator::take
    fn put_back(&mut self, maps: Maps) {
        let since = std::mem::replace(&mut self.maps, maps);
        let Maps {
            counters,
            gauges,
            timers,
            sets,
        } = since;
        let max = self.max_stats;
        let room = |maps: &Maps, name: &[u8], kind: &Sample<'_>, refused: &mut u64| {
            let fits = maps.knows(name, kind) || maps.names() < max;
            if !fits {
                *refused += 1;
            }
            fits
        };
        for (name, count) in counters {
            let kind = Sample::Counter {
                value: 0.0,
                rate: 1.0,
            };
            if room(&self.maps, &name, &kind, &mut self.refused_names) {
                let c = self.maps.counters.entry(name).or_default();
                *c = c.saturating_add(count);
            }
        }
        for (name, gauge) in gauges {
            let kind = Sample::Gauge {
                value: 0.0,
                delta: false,
            };
            if room(&self.maps, &name, &kind, &mut self.refused_names) {
                let g = self.maps.gauges.entry(name).or_default();
                match gauge.set {
                    true => *g = gauge,
                    false => g.value += gauge.value,
                }
            }
        }
        for (name, timer) in timers {
            let kind = Sample::Timer {
                value: 0.0,
                rate: 1.0,
            };
            if room(&self.maps, &name, &kind, &mut self.refused_names) {
                self.maps.timers.entry(name).or_default().merge(timer);
            }
        }
        for (name, members) in sets {
            if room(
                &self.maps,
                &name,
                &Sample::Set(b""),
                &mut self.refused_names,
            ) {
                self.maps.sets.entry(name).or_default().extend(members);
            }
        }
    }
}

/// Where an interval's stats go, one by one, in emission order; a name comes in parts
/// (prefix, stat name, suffix) so nothing is formatted twice.
trait Emit {
    fn stat(&mut self, name: &[&[u8]], value: Value);
}

impl Maps {
    /// Emits everything this interval yields and resets the maps as Heka does: counters
    /// to 0, timers emptied, sets emptied, gauges kept (or all deleted with
    /// `delete_idle_stats`).
    fn emit(&mut self, names: &Names, interval_secs: f64, out: &mut impl Emit) {
        let mut num_stats: i64 = 0;
        for (key, count) in sorted(&self.counters) {
            let rate = *count as f64 / interval_secs;
            if names.legacy {
                // Legacy namespaces: the rate is a float line and an integer field.
                out.stat(
                    &[names.global.as_bytes(), key],
                    Value::Rate(rate, rate as i64),
                );
                out.stat(&[names.legacy_counts.as_bytes(), key], Value::Int(*count));
            } else {
                let prefix = names.counters.as_bytes();
                out.stat(&[prefix, key, b".rate"], Value::Float(rate));
                out.stat(&[prefix, key, b".count"], Value::Int(*count));
            }
            num_stats += 1;
        }
        for (key, gauge) in sorted(&self.gauges) {
            out.stat(&[names.gauges.as_bytes(), key], Value::Float(gauge.value));
            num_stats += 1;
        }
        for (key, timer) in sorted_mut(&mut self.timers) {
            for (stat, value) in timer_stats(timer, &names.percent_threshold, interval_secs) {
                out.stat(
                    &[names.timers.as_bytes(), key, b".", stat.as_bytes()],
                    value,
                );
            }
            num_stats += 1;
        }
        for (key, members) in sorted(&self.sets) {
            out.stat(
                &[names.sets.as_bytes(), key, b".count"],
                Value::Int(members.len() as i64),
            );
            num_stats += 1;
        }
        out.stat(&[names.num_stats.as_bytes()], Value::Int(num_stats));
        if names.delete_idle {
            *self = Maps::default();
        } else {
            self.counters.values_mut().for_each(|c| *c = 0);
            for t in self.timers.values_mut() {
                let mut values = std::mem::take(&mut t.values);
                values.clear();
                *t = TimerStat {
                    values,
                    ..TimerStat::default()
                };
            }
            self.sets.values_mut().for_each(HashSet::clear);
            // Kept gauges are absolute from now on.
            self.gauges.values_mut().for_each(|g| g.set = true);
        }
    }
}

impl StatSink {
    /// Emits the interval into `out`: the maps are formatted and reset without holding
    /// the lock (see [`Accumulator`]). Returns what the interval refused.
    fn flush(&self, names: &Names, interval_secs: f64, out: &mut impl Emit) -> Refused {
        let (mut maps, refused) = self.lock().take();
        maps.emit(names, interval_secs, out);
        self.lock().put_back(maps);
        refused
    }
}

/// One message's worth of emitted stats: graphite lines and/or encoded fields.
#[derive(Debug, Default)]
struct Chunk {
    payload: Vec<u8>,
    fields: Vec<u8>,
}

/// Emitted stats cut into messages of at most `budget` bytes each (payload plus
/// fields), each complete in itself (fields mode: each starts with `timestamp`).
struct Chunks {
    in_payload: bool,
    in_fields: bool,
    budget: usize,
    now: i64,
    done: Vec<Chunk>,
    current: Chunk,
    stats: u64,
    name: Vec<u8>,
}

impl Chunks {
    fn new(in_payload: bool, in_fields: bool, budget: usize, now: i64) -> Chunks {
        Chunks {
            in_payload,
            in_fields,
            budget,
            now,
            done: Vec::new(),
            current: Chunk::default(),
            stats: 0,
            name: Vec::new(),
        }
    }

    /// Every chunk, the last one included.
    fn finish(mut self) -> Vec<Chunk> {
        if !self.current.payload.is_empty() || !self.current.fields.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}

impl Emit for Chunks {
    fn stat(&mut self, name: &[&[u8]], value: Value) {
        self.stats += 1;
        let size = self.current.payload.len() + self.current.fields.len();
        if size > 0 && size + 2 * name.iter().map(|p| p.len()).sum::<usize>() + 64 > self.budget {
            self.done.push(std::mem::take(&mut self.current));
        }
        let (now, chunk) = (self.now, &mut self.current);
        if self.in_payload {
            name.iter()
                .for_each(|part| chunk.payload.extend_from_slice(part));
            let _ = match value {
                Value::Int(v) => writeln!(chunk.payload, " {v} {now}"),
                Value::Float(v) | Value::Rate(v, _) => writeln!(chunk.payload, " {v:.6} {now}"),
            };
        }
        if self.in_fields {
            let first = chunk.fields.is_empty();
            let mut w = MessageWriter::new(&mut chunk.fields);
            if first {
                w.field(b"timestamp", b"", Values::Integer(&[now]));
            }
            self.name.clear();
            name.iter()
                .for_each(|part| self.name.extend_from_slice(part));
            let values = match &value {
                Value::Int(v) | Value::Rate(_, v) => Values::Integer(std::slice::from_ref(v)),
                Value::Float(v) => Values::Double(std::slice::from_ref(v)),
            };
            w.field(&self.name, b"", values);
        }
    }
}

/// What an interval refused.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Refused {
    names: u64,
    samples: u64,
}

fn sorted<V>(map: &HashMap<Box<[u8]>, V>) -> Vec<(&[u8], &V)> {
    let mut entries: Vec<_> = map.iter().map(|(k, v)| (&k[..], v)).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

fn sorted_mut<V>(map: &mut HashMap<Box<[u8]>, V>) -> Vec<(&[u8], &mut V)> {
    let mut entries: Vec<_> = map.iter_mut().map(|(k, v)| (&k[..], v)).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

/// A timer's stats with Heka's names and arithmetic (percentiles as Etsy's statsd:
/// the lowest `pct` percent of the sorted values, rounded half up).
fn timer_stats(timer: &mut TimerStat, thresholds: &[u32], interval: f64) -> Vec<(String, Value)> {
    let values = &mut timer.values;
    values.sort_unstable_by(f64::total_cmp);
    let mut out = Vec::with_capacity(6 + 2 * thresholds.len());
    let received = timer.received;
    let (lower, upper, sum) = match received {
        0 => (0.0, 0.0, 0.0),
        _ => (timer.lower, timer.upper, timer.sum),
    };
    let count = match timer.count.fract() {
        0.0 => Value::Int(timer.count as i64),
        _ => Value::Float(timer.count),
    };
    out.push(("count".to_owned(), count));
    out.push(("count_ps".to_owned(), Value::Float(timer.count / interval)));
    out.push(("lower".to_owned(), Value::Float(lower)));
    out.push(("upper".to_owned(), Value::Float(upper)));
    out.push(("sum".to_owned(), Value::Float(sum)));
    let mean = if received > 0 {
        sum / received as f64
    } else {
        0.0
    };
    out.push(("mean".to_owned(), Value::Float(mean)));
    let kept = values.len();
    for &pct in thresholds {
        let (mut mean_pct, mut upper_pct) = (0.0, 0.0);
        if kept > 0 {
            let outside = ((100.0 - f64::from(pct)) / 100.0 * kept as f64 + 0.5).floor();
            let within = kept as i64 - outside as i64;
            if within > 0 {
                let within = within as usize;
                mean_pct = values[..within].iter().sum::<f64>() / within as f64;
                upper_pct = values[within - 1];
            } else {
                (mean_pct, upper_pct) = (values[0], values[kept - 1]);
            }
        }
        out.push((format!("mean_{pct}"), Value::Float(mean_pct)));
        out.push((format!("upper_{pct}"), Value::Float(upper_pct)));
    }
    out
}

/// An emitted value: Go's `%v` of an int or `%f` of a float64 in the payload, an
/// INTEGER or DOUBLE field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Int(i64),
    Float(f64),
    /// Legacy counter rate: a float line, an integer field (Heka's `int(rate)`).
    Rate(f64, i64),
}

/// The prefixes of every emitted name, joined once from the config.
#[derive(Debug, Clone)]
struct Names {
    global: String,
    counters: String,
    legacy_counts: String,
    gauges: String,
    timers: String,
    sets: String,
    num_stats: String,
    percent_threshold: Vec<u32>,
    legacy: bool,
    delete_idle: bool,
}

/// Heka's namespace join: `parent` then `name` and a dot, unless `name` is empty or
/// already ends with one.
fn namespace(parent: &str, name: &str) -> String {
    if name.is_empty() || name.ends_with('.') {
        format!("{parent}{name}")
    } else {
        format!("{parent}{name}.")
    }
}

impl Names {
    fn new(c: &StatAccumConfig) -> Names {
        let global = namespace("", &c.global_prefix);
        let statsd = match c.legacy_namespaces {
            true => namespace("", &c.statsd_prefix),
            false => namespace(&global, &c.statsd_prefix),
        };
        Names {
            counters: namespace(&global, &c.counter_prefix),
            legacy_counts: namespace("", "stats_counts"),
            gauges: namespace(&global, &c.gauge_prefix),
            timers: namespace(&global, &c.timer_prefix),
            sets: namespace(&global, &c.set_prefix),
            num_stats: format!("{statsd}numStats"),
            global,
            percent_threshold: c.percent_threshold.clone(),
            legacy: c.legacy_namespaces,
            delete_idle: c.delete_idle_stats,
        }
    }
}

/// The StatAccumInput plugin.
pub struct StatAccumInput {
    sink: Arc<StatSink>,
    config: StatAccumConfig,
    names: Names,
}

/// Builds a StatAccumInput around the sink its submitters were (or will be) given.
pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    sink: Arc<StatSink>,
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let config: StatAccumConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    if section
        .table
        .get("ticker_interval")
        .and_then(|v| v.as_integer())
        == Some(0)
    {
        errors.add("ticker_interval", "expected seconds above 0, got 0");
    }
    if !config.emit_in_payload && !config.emit_in_fields {
        errors.add(
            "emit_in_payload",
            "expected emit_in_payload or emit_in_fields to be true, got both false",
        );
    }
    for bad in config.percent_threshold.iter().filter(|&&p| p > 100) {
        let msg = format!("expected percentages (0 to 100), got {bad}");
        errors.add("percent_threshold", msg);
    }
    if !errors.is_empty() {
        return Err(errors.fail("ticker_interval", "not checked"));
    }
    {
        let mut accumulator = sink.lock();
        accumulator.max_stats = config.max_stats;
        accumulator.max_samples = config.max_samples;
    }
    errors.finish(|| {
        Box::new(StatAccumInput {
            sink,
            names: Names::new(&config),
            config,
        }) as Box<dyn Input>
    })
}

impl Input for StatAccumInput {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let every = ctx
                .ticker
                .unwrap_or(Duration::from_secs(DEFAULT_TICKER_SECONDS));
            let mut polling = Polling::new(every);
            loop {
                let ticked = polling.tick(&ctx.control).await;
                // The last interval is emitted at shutdown too, as Heka does.
                self.emit(&mut ctx, every).await;
                if !ticked {
                    return Ok(());
                }
            }
        })
    }
}

impl StatAccumInput {
    /// Flushes the interval into one or more messages: a payload or field set larger
    /// than a message may hold is split between several, each complete in itself.
    async fn emit(&self, ctx: &mut InputContext, every: Duration) {
        let started = Instant::now();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        // Small messages: pack buffers keep their size, and the pool hands out all its
        // packs in turn, so 64 KiB messages (max_message_size) grew every inject pack to
        // 64 KiB and the statsd path's RSS by 6 MiB. 8 KiB messages cost 1% in headers.
        let budget = (ctx.globals.max_message_size as usize)
            .saturating_sub(1024)
            .clamp(1024, MESSAGE_BYTES);
        let c = &self.config;
        let mut chunks = Chunks::new(c.emit_in_payload, c.emit_in_fields, budget, now);
        let refused = self
            .sink
            .flush(&self.names, every.as_secs_f64(), &mut chunks);
        let dropped = refused.names + refused.samples;
        if dropped > 0 {
            PluginStats::add(&ctx.shared.stats.drop_count, dropped);
            log::warn!(
                "Input '{}': refused {} new stat names (max_stats {}) and {} values \
                 (max_samples {}) this interval",
                ctx.shared.input_name,
                refused.names,
                c.max_stats,
                refused.samples,
                c.max_samples
            );
        }
        let count = chunks.stats;
        for chunk in chunks.finish() {
            ctx.injector
                .inject(&c.message_type, |w, origin| {
                    w.severity(7).payload(&chunk.payload);
                    w.pid(origin.pid).hostname(origin.hostname.as_bytes());
                    w.raw(&chunk.fields);
                })
                .await;
        }
        PluginStats::add(&ctx.shared.stats.process_count, count);
        log::debug!(
            "Input '{}': {count} stats emitted in {:?}",
            ctx.shared.input_name,
            started.elapsed()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(f: impl FnOnce(&mut StatAccumConfig)) -> Names {
        let mut c = StatAccumConfig::default();
        f(&mut c);
        Names::new(&c)
    }

    impl Emit for Vec<(String, Value)> {
        fn stat(&mut self, name: &[&[u8]], value: Value) {
            let name: Vec<u8> = name.concat();
            self.push((String::from_utf8_lossy(&name).into_owned(), value));
        }
    }

    /// The stats of one interval.
    fn flush(sink: &StatSink, names: &Names, interval: f64) -> (Vec<(String, Value)>, Refused) {
        let mut out = Vec::new();
        let refused = sink.flush(names, interval, &mut out);
        (out, refused)
    }

    fn lines(stats: &[(String, Value)]) -> Vec<String> {
        stats
            .iter()
            .map(|(n, v)| match v {
                Value::Int(v) => format!("{n} {v}"),
                Value::Float(v) | Value::Rate(v, _) => format!("{n} {v:.6}"),
            })
            .collect()
    }

    #[test]
    fn counters_gauges_timers_and_sets_flush_with_hekas_names() {
        let sink = StatSink::default();
        sink.lock().add(
            b"hits",
            Sample::Counter {
                value: 3.0,
                rate: 1.0,
            },
        );
        sink.lock().add(
            b"hits",
            Sample::Counter {
                value: 1.0,
                rate: 0.1,
            },
        );
        sink.lock().add(
            b"temp",
            Sample::Gauge {
                value: 20.0,
                delta: false,
            },
        );
        sink.lock().add(
            b"temp",
            Sample::Gauge {
                value: -5.0,
                delta: true,
            },
        );
        for v in 1..=10 {
            sink.lock().add(
                b"rt",
                Sample::Timer {
                    value: f64::from(v),
                    rate: 1.0,
                },
            );
        }
        sink.lock().add(b"users", Sample::Set(b"alice"));
        sink.lock().add(b"users", Sample::Set(b"bob"));
        sink.lock().add(b"users", Sample::Set(b"alice"));
        let (stats, refused) = flush(&sink, &names(|_| {}), 10.0);
        assert_eq!(refused, Refused::default());
        assert_eq!(
            lines(&stats),
            [
                "stats.counters.hits.rate 1.300000",
                "stats.counters.hits.count 13",
                "stats.gauges.temp 15.000000",
                "stats.timers.rt.count 10",
                "stats.timers.rt.count_ps 1.000000",
                "stats.timers.rt.lower 1.000000",
                "stats.timers.rt.upper 10.000000",
                "stats.timers.rt.sum 55.000000",
                "stats.timers.rt.mean 5.500000",
                "stats.timers.rt.mean_90 5.000000",
                "stats.timers.rt.upper_90 9.000000",
                "stats.sets.users.count 2",
                "stats.statsd.numStats 4",
            ]
        );
        // The next interval: counters and timers idle at zero, gauges kept.
        let (stats, _) = flush(&sink, &names(|_| {}), 10.0);
        let l = lines(&stats);
        assert!(l.contains(&"stats.counters.hits.count 0".to_owned()));
        assert!(l.contains(&"stats.gauges.temp 15.000000".to_owned()));
        assert!(l.contains(&"stats.timers.rt.count 0".to_owned()));
        assert!(l.contains(&"stats.timers.rt.mean_90 0.000000".to_owned()));
        assert!(l.contains(&"stats.sets.users.count 0".to_owned()));
    }

    #[test]
    fn legacy_namespaces_and_deleting_idle_stats() {
        let sink = StatSink::default();
        sink.lock().add(
            b"hits",
            Sample::Counter {
                value: 25.0,
                rate: 1.0,
            },
        );
        let legacy = names(|c| {
            c.legacy_namespaces = true;
            c.delete_idle_stats = true;
        });
        let (stats, _) = flush(&sink, &legacy, 10.0);
        assert_eq!(stats[0], ("stats.hits".into(), Value::Rate(2.5, 2)));
        assert_eq!(
            lines(&stats),
            [
                "stats.hits 2.500000",
                "stats_counts.hits 25",
                "statsd.numStats 1"
            ]
        );
        let (stats, _) = flush(&sink, &legacy, 10.0);
        assert_eq!(lines(&stats), ["statsd.numStats 0"]);
    }

    #[test]
    fn prefixes_join_like_hekas_namespaces() {
        let n = names(|c| {
            c.global_prefix = "".into();
            c.counter_prefix = "c.".into();
        });
        assert_eq!(n.counters, "c.");
        assert_eq!(n.num_stats, "statsd.numStats");
    }

    #[test]
    fn bounds_refuse_new_names_and_samples_but_keep_timer_aggregates_exact() {
        let sink = StatSink::default();
        {
            let mut a = sink.lock();
            a.max_stats = 2;
            a.max_samples = 3;
        }
        assert!(sink.lock().add(
            b"a",
            Sample::Counter {
                value: 1.0,
                rate: 1.0
            }
        ));
        assert!(sink.lock().add(
            b"t",
            Sample::Timer {
                value: 4.0,
                rate: 1.0
            }
        ));
        assert!(!sink.lock().add(
            b"c",
            Sample::Counter {
                value: 1.0,
                rate: 1.0
            }
        ));
        assert!(sink.lock().add(
            b"a",
            Sample::Counter {
                value: 1.0,
                rate: 1.0
            }
        ));
        for v in [1.0, 9.0, 2.0] {
            sink.lock().add(
                b"t",
                Sample::Timer {
                    value: v,
                    rate: 1.0,
                },
            );
        }
        let (stats, refused) = flush(&sink, &names(|_| {}), 1.0);
        assert_eq!(
            refused,
            Refused {
                names: 1,
                samples: 1
            }
        );
        let l = lines(&stats);
        assert!(l.contains(&"stats.timers.t.count 4".to_owned()), "{l:?}");
        assert!(l.contains(&"stats.timers.t.upper 9.000000".to_owned()));
        assert!(l.contains(&"stats.timers.t.sum 16.000000".to_owned()));
        assert!(l.contains(&"stats.counters.a.count 2".to_owned()));
    }

    #[test]
    fn what_arrives_during_an_emission_joins_the_next_interval() {
        let sink = StatSink::default();
        let mut a = sink.lock();
        a.add(
            b"hits",
            Sample::Counter {
                value: 2.0,
                rate: 1.0,
            },
        );
        a.add(
            b"temp",
            Sample::Gauge {
                value: 10.0,
                delta: false,
            },
        );
        a.add(
            b"level",
            Sample::Gauge {
                value: 1.0,
                delta: false,
            },
        );
        let (mut maps, _) = a.take();
        // Arriving while the interval is formatted, unlocked.
        a.add(
            b"hits",
            Sample::Counter {
                value: 5.0,
                rate: 1.0,
            },
        );
        a.add(
            b"temp",
            Sample::Gauge {
                value: 2.5,
                delta: true,
            },
        );
        a.add(
            b"level",
            Sample::Gauge {
                value: 7.0,
                delta: false,
            },
        );
        a.add(
            b"new",
            Sample::Timer {
                value: 3.0,
                rate: 1.0,
            },
        );
        let mut first = Vec::new();
        maps.emit(&names(|_| {}), 1.0, &mut first);
        assert!(lines(&first).contains(&"stats.counters.hits.count 2".to_owned()));
        a.put_back(maps);
        let (mut maps, _) = a.take();
        let mut second = Vec::new();
        maps.emit(&names(|_| {}), 1.0, &mut second);
        let l = lines(&second);
        assert!(
            l.contains(&"stats.counters.hits.count 5".to_owned()),
            "{l:?}"
        );
        assert!(
            l.contains(&"stats.gauges.temp 12.500000".to_owned()),
            "{l:?}"
        );
        assert!(
            l.contains(&"stats.gauges.level 7.000000".to_owned()),
            "{l:?}"
        );
        assert!(
            l.contains(&"stats.timers.new.upper 3.000000".to_owned()),
            "{l:?}"
        );
    }

    #[test]
    fn large_intervals_are_cut_into_complete_messages() {
        let mut chunks = Chunks::new(true, true, 300, 1_700_000_000);
        for i in 0..10 {
            let key = format!("name{i}");
            chunks.stat(&[b"stats.gauges.", key.as_bytes()], Value::Float(1.0));
        }
        assert_eq!(chunks.stats, 10);
        let all = chunks.finish();
        assert!(all.len() > 1);
        let mut lines = 0;
        for chunk in &all {
            assert!(chunk.payload.len() + chunk.fields.len() <= 300);
            assert!(chunk.payload.ends_with(b" 1700000000\n"));
            // Fields mode: each message starts with its timestamp field.
            assert_eq!(&chunk.fields[4..4 + 9], b"timestamp");
            lines += chunk
                .payload
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
        }
        assert_eq!(lines, 10);
    }
}
