//! Turns a loaded [`Config`] into a running pipeline: builds every plugin (collecting all
//! configuration errors), wires queues and the router, starts the per-core executors in
//! Heka's order (outputs, filters, router, inputs) and waits for the graceful shutdown.

use super::executors::Executors;
use super::inbox::Inbox;
use super::pool::{PackPool, SharedPack};
use super::queue::reader::QueueReader;
use super::queue::writer::QueueWriter;
use super::queue::{Queue, QueueSettings};
use super::ring as channel;
use super::router::{Route, Router, RouterSettings};
use super::shutdown::Control;
use super::stats::PluginStats;
use super::stats::StatsRegistry;
use super::supervise::{supervise, Attempt, Policy};
use crate::config::common::{BufferingConfig, CommonFilterOutput, CommonInput};
use crate::config::globals::Globals;
use crate::config::loader::sanitize_name;
use crate::config::loader::Config;
use crate::config::{Category, ConfigError, PluginSection};
use crate::framing;
use crate::matcher::Matcher;
use crate::plugins::decoders::Decoder;
use crate::plugins::encoders::Encoder;
use crate::plugins::filters::{FilterContext, Injector, Origin};
use crate::plugins::inputs::deliver::{DecoderFactory, InputShared, SplitterFactory};
use crate::plugins::inputs::InputContext;
use crate::plugins::outputs::OutputContext;
use crate::plugins::registry::{self, Builder, ALWAYS_REGISTERED};
use crate::plugins::splitters::CommonSplitterConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A pipeline that is built and ready to start.
pub struct Pipeline {
    globals: Globals,
    control: Control,
    stats: StatsRegistry,
    input_pool: PackPool,
    inject_pool: PackPool,
    /// Start-up jobs in Heka's start order.
    jobs: Vec<Job>,
}

type Job = Box<dyn FnOnce(&Executors) + Send>;

fn joined(errors: Vec<ConfigError>) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Plugin sections by name, with the always-registered defaults added.
struct Sections {
    by_name: BTreeMap<String, PluginSection>,
    order: Vec<String>,
}

impl Sections {
    fn new(sections: Vec<PluginSection>) -> Sections {
        let mut by_name = BTreeMap::new();
        let mut order = Vec::new();
        for s in sections {
            order.push(s.name.clone());
            by_name.insert(s.name.clone(), s);
        }
        for name in ALWAYS_REGISTERED {
            if !by_name.contains_key(*name) {
                if let Some(category) = Category::of_type(name) {
                    by_name.insert(
                        (*name).to_owned(),
                        PluginSection {
                            name: (*name).to_owned(),
                            type_name: (*name).to_owned(),
                            category,
                            file: PathBuf::from("<built-in>"),
                            table: toml::Table::new(),
                        },
                    );
                }
            }
        }
        Sections { by_name, order }
    }

    fn of(&self, category: Category) -> impl Iterator<Item = &PluginSection> {
        self.order
            .iter()
            .filter_map(|n| self.by_name.get(n))
            .filter(move |s| s.category == category)
    }

    /// The section `name` refers to from `referrer.key`, which must be of `category`.
    fn template(
        &self,
        referrer: &PluginSection,
        key: &str,
        name: &str,
        category: Category,
    ) -> Result<&PluginSection, ConfigError> {
        match self.by_name.get(name) {
            Some(s) if s.category == category => Ok(s),
            Some(s) => Err(ConfigError::in_section(
                referrer,
                Some(key),
                format!("'{name}' is a {:?}, not a {category:?}", s.category),
            )),
            None => Err(ConfigError::in_section(
                referrer,
                Some(key),
                format!("no {category:?} named '{name}'"),
            )),
        }
    }
}

/// The error for a section whose type no plugin registers.
fn unregistered(section: &PluginSection) -> Vec<ConfigError> {
    let message = format!("No registered plugin type: {}", section.type_name);
    vec![ConfigError::in_section(section, Some("type"), message)]
}

fn splitter_factory(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<SplitterFactory, Vec<ConfigError>> {
    let Some(Builder::Splitter(build)) = registry::lookup(&section.type_name) else {
        return Err(unregistered(section));
    };
    let build = *build;
    build(section, max_message_size)?;
    let section = section.clone();
    Ok(Arc::new(move || {
        build(&section, max_message_size).map_err(joined)
    }))
}

fn decoder_factory(
    sections: &Sections,
    section: &PluginSection,
    depth: usize,
) -> Result<DecoderFactory, Vec<ConfigError>> {
    match registry::lookup(&section.type_name) {
        Some(Builder::Decoder(build)) => {
            let build = *build;
            build(section)?;
            let section = section.clone();
            Ok(Arc::new(move || {
                build(&section)
                    .map(|d| d as Box<dyn Decoder>)
                    .map_err(joined)
            }))
        }
        Some(Builder::MultiDecoder) => {
            if depth > 16 {
                return Err(vec![ConfigError::in_section(
                    section,
                    Some("subs"),
                    "circular dependency detected",
                )]);
            }
            let names: Vec<String> = match section.table.get("subs").and_then(|v| v.as_array()) {
                Some(list) => list
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
                None => Vec::new(),
            };
            let mut subs = Vec::new();
            let mut errors = Vec::new();
            for name in &names {
                match sections.template(section, "subs", name, Category::Decoder) {
                    Ok(sub) => match decoder_factory(sections, sub, depth + 1) {
                        Ok(f) => subs.push((name.clone(), f)),
                        Err(e) => errors.extend(e),
                    },
                    Err(e) => errors.push(e),
                }
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            let make =
                move |section: &PluginSection| -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
                    let mut built = Vec::new();
                    for (name, factory) in &subs {
                        let decoder = factory()
                            .map_err(|e| vec![ConfigError::in_section(section, Some("subs"), e)])?;
                        built.push((name.clone(), decoder));
                    }
                    crate::plugins::decoders::multi::from_section(section, built)
                };
            make(section)?;
            let section = section.clone();
            Ok(Arc::new(move || make(&section).map_err(joined)))
        }
        _ => Err(unregistered(section)),
    }
}

type EncoderFactory = Arc<dyn Fn() -> Result<Box<dyn Encoder>, String> + Send + Sync>;

fn encoder_factory(section: &PluginSection) -> Result<EncoderFactory, Vec<ConfigError>> {
    let Some(Builder::Encoder(build)) = registry::lookup(&section.type_name) else {
        return Err(unregistered(section));
    };
    let build = *build;
    build(section)?;
    let section = section.clone();
    Ok(Arc::new(move || build(&section).map_err(joined)))
}

fn compile_matcher(section: &PluginSection, expr: &str) -> Result<Matcher, ConfigError> {
    Matcher::compile(expr).map_err(|e| {
        ConfigError::in_section(section, Some("message_matcher"), format!("{expr:?}: {e}"))
    })
}

/// How a filter or output receives what the router sends it.
enum PluginQueue {
    Memory(channel::Receiver<SharedPack>),
    /// `use_buffering`: the router's queue feeds a disk queue writer; the plugin reads the
    /// disk queue.
    Disk {
        queue: Arc<Queue>,
        writer: Box<QueueWriter>,
        from_router: channel::Receiver<SharedPack>,
        written: channel::Receiver<()>,
        direct: Option<channel::Receiver<SharedPack>>,
    },
}

/// What a plugin attempt reads from; the writer task, if any, is already split off.
#[derive(Clone)]
enum InboxSource {
    Memory(channel::Receiver<SharedPack>),
    Disk {
        queue: Arc<Queue>,
        written: channel::Receiver<()>,
        direct: Option<channel::Receiver<SharedPack>>,
        in_flight: usize,
    },
}

impl InboxSource {
    fn open(&self) -> Result<Inbox, String> {
        match self {
            InboxSource::Memory(rx) => Ok(Inbox::Memory(rx.clone())),
            InboxSource::Disk {
                queue,
                written,
                direct,
                in_flight,
            } => QueueReader::open(queue.clone(), written.clone(), direct.clone(), *in_flight)
                .map(|r| Inbox::Disk(Box::new(r)))
                .map_err(|e| format!("opening disk queue {}: {e}", queue.settings.dir.display())),
        }
    }
}

impl PluginQueue {
    /// Whether the router must wait for this plugin however long it takes: a disk queue's
    /// writer only stalls on `full_action = "block"` or a failing disk, and dropping then
    /// would complete the sources' acknowledgements of messages that were never queued.
    fn never_wedged(&self) -> bool {
        matches!(self, PluginQueue::Disk { .. })
    }

    /// Spawns the disk queue writer (if any) and returns what each attempt reads from.
    fn start(self, ex: &Executors, in_flight: usize) -> InboxSource {
        match self {
            PluginQueue::Memory(rx) => InboxSource::Memory(rx),
            PluginQueue::Disk {
                queue,
                writer,
                from_router,
                written,
                direct,
            } => {
                ex.spawn(move || writer.run(from_router));
                InboxSource::Disk {
                    queue,
                    written,
                    direct,
                    in_flight,
                }
            }
        }
    }
}

/// Everything plugins are wired to while the pipeline is built.
struct Wiring {
    globals: Globals,
    control: Control,
    stats: StatsRegistry,
    input_pool: PackPool,
    inject_pool: PackPool,
    to_router: channel::Sender<crate::pipeline::pool::PooledPack>,
    to_router_from_filters: channel::Sender<crate::pipeline::pool::PooledPack>,
    routes: Vec<Route>,
}

impl Wiring {
    fn chansize(&self) -> usize {
        self.globals.plugin_chansize.max(1)
    }

    /// The router's queue to plugin `s`, and the disk queue behind it when buffered
    /// (§4.6; TcpOutput buffers by default with its own defaults). A plugin that
    /// `confirms_delivery` may also take messages straight from the queue's writer.
    fn plugin_queue(
        &self,
        s: &PluginSection,
        common: &CommonFilterOutput,
        stats: &Arc<PluginStats>,
        confirms_delivery: bool,
    ) -> Result<(channel::Sender<SharedPack>, PluginQueue), Vec<ConfigError>> {
        let (tx, rx) = channel::bounded(self.chansize());
        let plugin_default = s.type_name == "TcpOutput";
        if !common.use_buffering.unwrap_or(plugin_default) {
            return Ok((tx, PluginQueue::Memory(rx)));
        }
        let b = match &common.buffering {
            Some(b) => b.clone(),
            None if plugin_default => BufferingConfig {
                max_file_size: 134_217_728,
                cursor_update_count: 50,
                ..BufferingConfig::default()
            },
            None => BufferingConfig::default(),
        };
        let defaults = BufferingConfig::default();
        let dir = self
            .globals
            .base_dir
            .join("output_queue")
            .join(sanitize_name(&s.name));
        let settings = QueueSettings::new(
            dir.clone(),
            if b.max_file_size == 0 {
                defaults.max_file_size
            } else {
                b.max_file_size
            },
            b.max_buffer_size,
            b.full_action,
            b.cursor_update_count,
            self.globals.fsync_interval,
            self.globals.max_message_size,
        );
        let err = |e: std::io::Error| {
            vec![ConfigError::in_section(
                s,
                Some("use_buffering"),
                format!("cannot open disk queue {}: {e}", dir.display()),
            )]
        };
        let queue =
            Queue::open(&s.name, settings, stats.clone(), self.control.clone()).map_err(err)?;
        let (notify, written) = channel::bounded(1);
        let (to_plugin, direct) = match confirms_delivery {
            true => {
                let (tx, rx) = channel::bounded(self.chansize());
                (Some((tx, rx.clone())), Some(rx))
            }
            false => (None, None),
        };
        let writer = Box::new(QueueWriter::open(queue.clone(), notify, to_plugin).map_err(err)?);
        Ok((
            tx,
            PluginQueue::Disk {
                queue,
                writer,
                from_router: rx,
                written,
                direct,
            },
        ))
    }

    fn build_output(
        &mut self,
        sections: &Sections,
        s: &PluginSection,
    ) -> Result<Job, Vec<ConfigError>> {
        let Some(&Builder::Output {
            build,
            default_encoder,
            frames_protobuf,
            confirms_delivery,
        }) = registry::lookup(&s.type_name)
        else {
            return Err(unregistered(s));
        };
        let common = CommonFilterOutput::from_section(s)?;
        let output = build(s, CommonFilterOutput::KEYS)?;
        let Some(expr) = common.message_matcher.as_deref().filter(|m| !m.is_empty()) else {
            return Err(vec![ConfigError::in_section(
                s,
                Some("message_matcher"),
                format!("'{}' missing message matcher", s.name),
            )]);
        };
        let matcher = compile_matcher(s, expr).map_err(|e| vec![e])?;
        if common.ticker_interval > 0 {
            let msg = format!("'{}' can't support a ticker_interval setting", s.name);
            return Err(vec![ConfigError::in_section(
                s,
                Some("ticker_interval"),
                msg,
            )]);
        }
        let Some(encoder_name) = common
            .encoder
            .clone()
            .filter(|e| !e.is_empty())
            .or(default_encoder.map(str::to_owned))
        else {
            return Err(vec![ConfigError::in_section(
                s,
                Some("encoder"),
                "Encoder required.",
            )]);
        };
        let encoder_section = sections
            .template(s, "encoder", &encoder_name, Category::Encoder)
            .map_err(|e| vec![e])?;
        let encoders = encoder_factory(encoder_section)?;
        let use_framing = common
            .use_framing
            .unwrap_or(frames_protobuf && encoder_section.type_name == "ProtobufEncoder");
        let stats = self.stats.register(&s.name, Category::Output);
        let (tx, plugin_queue) = self.plugin_queue(s, &common, &stats, confirms_delivery)?;
        let in_flight = self.chansize();
        let signer = common.message_signer.clone().filter(|x| !x.is_empty());
        let mut route = Route::new(s.name.clone(), matcher, signer, tx, stats.clone(), false);
        route.waits_forever = plugin_queue.never_wedged();
        self.routes.push(route);
        let policy = Policy {
            name: s.name.clone(),
            kind: "Plugin",
            retries: common.retries.clone(),
            can_exit: common.can_exit,
            stops_with_queue: true,
        };
        let (section, control) = (s.clone(), self.control.clone());
        let max_message_size = self.globals.max_message_size;
        let mut first = Some(output);
        Ok(Box::new(move |ex: &Executors| {
            let source = plugin_queue.start(ex, in_flight);
            ex.spawn(move || {
                let supervisor = control.clone();
                let attempt: Attempt = Box::new(move |_| {
                    let output = match first.take() {
                        Some(o) => o,
                        None => build(&section, CommonFilterOutput::KEYS).map_err(joined)?,
                    };
                    let encoder = Some(encoders()?);
                    let ctx = OutputContext::new(
                        section.name.clone(),
                        source.open()?,
                        encoder,
                        use_framing,
                        max_message_size,
                        control.clone(),
                        stats.clone(),
                    );
                    Ok(output.run(ctx))
                });
                supervise(policy, supervisor, attempt)
            })
        }))
    }

    fn build_filter(&mut self, s: &PluginSection) -> Result<Job, Vec<ConfigError>> {
        let Some(&Builder::Filter {
            build,
            default_matcher,
            default_ticker,
        }) = registry::lookup(&s.type_name)
        else {
            return Err(unregistered(s));
        };
        let common = CommonFilterOutput::from_section(s)?;
        let filter = build(s, CommonFilterOutput::KEYS)?;
        let expr = common
            .message_matcher
            .clone()
            .filter(|m| !m.is_empty())
            .or(default_matcher.map(str::to_owned));
        let Some(expr) = expr else {
            return Err(vec![ConfigError::in_section(
                s,
                Some("message_matcher"),
                format!("'{}' missing message matcher", s.name),
            )]);
        };
        let matcher = compile_matcher(s, &expr).map_err(|e| vec![e])?;
        let own_matcher = compile_matcher(s, &expr).map_err(|e| vec![e])?;
        for key in ["encoder", "use_framing"] {
            if s.table.contains_key(key) {
                return Err(vec![ConfigError::in_section(
                    s,
                    Some(key),
                    format!("unknown config setting for '{}': {key}", s.name),
                )]);
            }
        }
        let ticker_secs = if common.ticker_interval > 0 {
            common.ticker_interval
        } else {
            default_ticker
        };
        let ticker = (ticker_secs > 0).then(|| Duration::from_secs(ticker_secs));
        let stats = self.stats.register(&s.name, Category::Filter);
        let (tx, plugin_queue) = self.plugin_queue(s, &common, &stats, false)?;
        let in_flight = self.chansize();
        let signer = common.message_signer.clone().filter(|x| !x.is_empty());
        let mut route = Route::new(s.name.clone(), matcher, signer, tx, stats.clone(), true);
        route.waits_forever = plugin_queue.never_wedged();
        self.routes.push(route);
        let origin = Origin {
            hostname: self.globals.hostname.clone(),
            pid: std::process::id() as i32,
            max_message_loops: self.globals.max_message_loops.clamp(1, 255) as u8,
        };
        let injector = Injector::new(
            s.name.clone(),
            self.inject_pool.clone(),
            self.to_router_from_filters.clone(),
            own_matcher,
            origin,
            stats.clone(),
        );
        let policy = Policy {
            name: s.name.clone(),
            kind: "Plugin",
            retries: common.retries.clone(),
            can_exit: common.can_exit,
            stops_with_queue: true,
        };
        let control = self.control.clone();
        let mut first = Some((filter, injector));
        Ok(Box::new(move |ex: &Executors| {
            let source = plugin_queue.start(ex, in_flight);
            ex.spawn(move || {
                let supervisor = control.clone();
                let attempt: Attempt = Box::new(move |_| {
                    // A filter's injector is unique to it, so a filter is run once; a
                    // failure is logged and, unless can_exit, shuts hekad down.
                    let Some((filter, injector)) = first.take() else {
                        return Err("filter cannot be restarted".to_owned());
                    };
                    let name = stats.name.clone();
                    let ctx = FilterContext {
                        name,
                        queue: source.open()?,
                        injector,
                        ticker,
                        control: control.clone(),
                        stats: stats.clone(),
                    };
                    Ok(filter.run(ctx))
                });
                supervise(policy, supervisor, attempt)
            })
        }))
    }

    fn build_input(
        &mut self,
        sections: &Sections,
        s: &PluginSection,
    ) -> Result<Job, Vec<ConfigError>> {
        let Some(&Builder::Input {
            build,
            default_splitter,
            default_decoder,
        }) = registry::lookup(&s.type_name)
        else {
            return Err(unregistered(s));
        };
        let common = CommonInput::from_section(s)?;
        let splitter_name = common
            .splitter
            .clone()
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| default_splitter.to_owned());
        let splitter_section = sections
            .template(s, "splitter", &splitter_name, Category::Splitter)
            .map_err(|e| vec![e])?;
        let max_message_size = self.globals.max_message_size;
        let splitter = splitter_factory(splitter_section, max_message_size)?;
        let splitter_common = CommonSplitterConfig::from_section(splitter_section)?;
        let decoder_name = common
            .decoder
            .clone()
            .filter(|x| !x.is_empty())
            .or(default_decoder.map(str::to_owned));
        let decoder = match &decoder_name {
            Some(name) => {
                let section = sections
                    .template(s, "decoder", name, Category::Decoder)
                    .map_err(|e| vec![e])?;
                Some(decoder_factory(sections, section, 0)?)
            }
            None => None,
        };
        let input = build(s, CommonInput::KEYS)?;
        let stats = self.stats.register(&s.name, Category::Input);
        let decoder_stats = decoder_name.as_ref().map(|d| {
            self.stats
                .register(&format!("{}-{d}", s.name), Category::Decoder)
        });
        let shared = InputShared {
            input_name: s.name.clone(),
            pool: self.input_pool.clone(),
            router: self.to_router.clone(),
            stats: stats.clone(),
            common: common.clone(),
            splitter_name,
            splitter,
            min_buffer_size: splitter_common.min_buffer_size(splitter_section),
            max_record_size: framing::max_record_size(max_message_size),
            deliver_incomplete_final: splitter_common.deliver_incomplete_final,
            keep_truncated: splitter_common.keep_truncated,
            decoder_name,
            decoder,
            decoder_stats,
        };
        let policy = Policy {
            name: s.name.clone(),
            kind: "Input",
            retries: common.retries.clone(),
            can_exit: common.can_exit,
            stops_with_queue: false,
        };
        let (section, control) = (s.clone(), self.control.clone());
        let globals = Arc::new(self.globals.clone());
        let mut first = Some(input);
        Ok(Box::new(move |ex: &Executors| {
            ex.spawn(move || {
                let supervisor = control.clone();
                let attempt: Attempt = Box::new(move |_| {
                    let input = match first.take() {
                        Some(i) => i,
                        None => build(&section, CommonInput::KEYS).map_err(joined)?,
                    };
                    Ok(input.run(InputContext {
                        shared: shared.clone(),
                        control: control.clone(),
                        globals: globals.clone(),
                    }))
                });
                supervise(policy, supervisor, attempt)
            })
        }))
    }
}

impl Pipeline {
    /// Builds every plugin of `config`; all configuration errors are returned together.
    pub fn build(config: Config) -> Result<Pipeline, Vec<ConfigError>> {
        let sections = Sections::new(config.sections);
        let mut errors = Vec::new();
        let globals = config.globals;
        let max_message_size = globals.max_message_size;
        // Template sections are validated even when nothing uses them.
        for s in sections.of(Category::Splitter) {
            errors.extend(
                splitter_factory(s, max_message_size)
                    .err()
                    .unwrap_or_default(),
            );
        }
        for s in sections.of(Category::Decoder) {
            errors.extend(decoder_factory(&sections, s, 0).err().unwrap_or_default());
        }
        for s in sections.of(Category::Encoder) {
            errors.extend(encoder_factory(s).err().unwrap_or_default());
        }

        let chansize = globals.plugin_chansize.max(1);
        let (to_router, from_inputs) = channel::bounded(chansize);
        let (to_router_from_filters, from_filters) = channel::bounded(chansize);
        let mut wiring = Wiring {
            control: Control::new(),
            stats: StatsRegistry::default(),
            input_pool: PackPool::new(globals.poolsize, 0),
            inject_pool: PackPool::new(globals.poolsize, 0),
            to_router,
            to_router_from_filters,
            routes: Vec::new(),
            globals,
        };
        let mut jobs: Vec<Job> = Vec::new();
        for s in sections.of(Category::Output) {
            match wiring.build_output(&sections, s) {
                Ok(job) => jobs.push(job),
                Err(e) => errors.extend(e),
            }
        }
        for s in sections.of(Category::Filter) {
            match wiring.build_filter(s) {
                Ok(job) => jobs.push(job),
                Err(e) => errors.extend(e),
            }
        }
        // Filters come first in the router so their injections see outputs last (Heka).
        let (filters, outputs): (Vec<Route>, Vec<Route>) =
            wiring.routes.drain(..).partition(|r| r.is_filter);
        let routes: Vec<Route> = filters.into_iter().chain(outputs).collect();
        let router_stats = wiring.stats.register("Router", Category::Input);
        let settings = RouterSettings {
            max_pack_idle: wiring.globals.max_pack_idle,
            sample_denominator: wiring.globals.sample_denominator.max(1) as u64,
        };
        let router = Router::new(routes, from_inputs, from_filters, settings, router_stats);
        jobs.push(Box::new(move |ex: &Executors| {
            ex.spawn_on(0, move || router.run())
        }));
        // The router keeps accepting input until shutdown even when no input is running.
        let keeper = (wiring.to_router.clone(), wiring.control.clone());
        jobs.push(Box::new(move |ex: &Executors| {
            ex.spawn_on(0, move || async move {
                let (sender, control) = keeper;
                control.stopped().await;
                drop(sender);
            })
        }));
        for s in sections.of(Category::Input) {
            match wiring.build_input(&sections, s) {
                Ok(job) => jobs.push(job),
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let Wiring {
            globals,
            control,
            stats,
            input_pool,
            inject_pool,
            ..
        } = wiring;
        Ok(Pipeline {
            globals,
            control,
            stats,
            input_pool,
            inject_pool,
            jobs,
        })
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    pub fn stats(&self) -> StatsRegistry {
        self.stats.clone()
    }

    /// The memory bound of the message buffers, from the config (printed at start-up).
    pub fn memory_bound(&self) -> String {
        let packs = self.input_pool.size() + self.inject_pool.size();
        let per_pack = 2 * self.globals.max_message_size as u64;
        format!(
            "{packs} packs (poolsize {} x 2); message buffers grow to at most {} KiB per pack: {} MiB worst case",
            self.globals.poolsize,
            per_pack / 1024,
            packs as u64 * per_pack / (1024 * 1024)
        )
    }

    /// Globals section of the text report.
    pub fn globals_report(
        &self,
    ) -> impl Fn() -> Vec<(String, Vec<(&'static str, u64)>)> + Send + 'static {
        let (input, inject) = (self.input_pool.clone(), self.inject_pool.clone());
        move || {
            vec![
                (
                    "inputRecycleChan".to_owned(),
                    vec![
                        ("InChanCapacity", input.size() as u64),
                        ("InChanLength", input.free() as u64),
                    ],
                ),
                (
                    "injectRecycleChan".to_owned(),
                    vec![
                        ("InChanCapacity", inject.size() as u64),
                        ("InChanLength", inject.free() as u64),
                    ],
                ),
                (
                    "memstats".to_owned(),
                    vec![("Mallocs", crate::alloc_count::allocations())],
                ),
            ]
        }
    }

    /// Starts every plugin (outputs, filters, router, inputs) and blocks until the
    /// pipeline has shut down and drained. Returns the process exit code.
    pub fn run(self) -> std::io::Result<i32> {
        let executors = Executors::start(self.globals.maxprocs.max(1))?;
        for job in self.jobs {
            job(&executors);
        }
        executors.join();
        Ok(self.control.exit_code())
    }
}
