//! Turns a loaded [`Config`] into a running pipeline: builds every plugin (collecting all
//! configuration errors), wires queues and the router, starts the per-core executors in
//! Heka's order (outputs, filters, router, inputs) and waits for the graceful shutdown.

use crate::config::common::{BufferingConfig, CommonFilterOutput, CommonInput};
use crate::config::globals::Globals;
use crate::config::loader::sanitize_name;
use crate::config::loader::Config;
use crate::config::section::build_reporting_all;
use crate::config::{Category, ConfigError, PluginSection};
use crate::framing;
use crate::matcher::Matcher;
use crate::pipeline::executors::Executors;
use crate::pipeline::inbox::Inbox;
use crate::pipeline::inject::{Injector, Origin};
use crate::pipeline::pool::{PackPool, SharedPack};
use crate::pipeline::queue::reader::QueueReader;
use crate::pipeline::queue::writer::QueueWriter;
use crate::pipeline::queue::{Queue, QueueSettings};
use crate::pipeline::ring as channel;
use crate::pipeline::router::{Route, Router, RouterSettings};
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use crate::pipeline::stats::StatsRegistry;
use crate::pipeline::supervise::{supervise, Attempt, Policy};
use crate::plugins::build::{build_decoder, unregistered, BuildContext, Reserved, Sections};
use crate::plugins::encoders::Encoder;
use crate::plugins::filters::FilterContext;
use crate::plugins::inputs::deliver::{DecoderFactory, InputShared, SplitterFactory};
use crate::plugins::inputs::InputContext;
use crate::plugins::outputs::OutputContext;
use crate::plugins::registry::{self, Builder};
use crate::splitters::CommonSplitterConfig;
use std::sync::Arc;
use std::time::Duration;

/// A pipeline that is built and ready to start.
pub struct Pipeline {
    globals: Globals,
    control: Control,
    stats: StatsRegistry,
    input_pool: PackPool,
    inject_pool: PackPool,
    /// Memory the plugins declared beyond the pools (sandboxes).
    reserved: Reserved,
    /// Start-up jobs in Heka's start order.
    jobs: Vec<Job>,
    /// One line per plugin: type, what it reads and writes, matcher, disk queue.
    summary: Vec<String>,
    /// How many plugins have a disk queue.
    disk_queues: usize,
}

type Job = Box<dyn FnOnce(&Executors) + Send>;

fn joined(errors: Vec<ConfigError>) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn splitter_factory(
    section: &PluginSection,
    max_message_size: u32,
) -> Result<SplitterFactory, Vec<ConfigError>> {
    let Some(Builder::Splitter(build)) = registry::lookup(&section.type_name) else {
        return Err(unregistered(section));
    };
    let build = *build;
    build_reporting_all(section, |s| build(s, max_message_size))?;
    let section = section.clone();
    Ok(Arc::new(move || {
        build(&section, max_message_size).map_err(joined)
    }))
}

/// Builds a decoder for each stream of an input, as `instance`; checked once now so its
/// configuration errors are reported before anything starts.
fn decoder_factory(
    sections: &Arc<Sections>,
    globals: &Arc<Globals>,
    section: &PluginSection,
    instance: &str,
    reserved: &Reserved,
    stats: Arc<PluginStats>,
) -> Result<DecoderFactory, Vec<ConfigError>> {
    build_reporting_all(section, |s| {
        build_decoder(&BuildContext::new(
            s,
            &[],
            globals,
            sections,
            instance,
            reserved,
        ))
    })?;
    let recipe = Recipe {
        section: section.clone(),
        keys: &[],
        instance: instance.to_owned(),
        globals: globals.clone(),
        sections: sections.clone(),
        stats: Some(stats),
    };
    Ok(Arc::new(move || recipe.build(build_decoder)))
}

/// What a plugin is built from again at run time (a decoder per stream, an encoder per
/// output, a plugin after a failure): owned, to move to the executor thread.
struct Recipe {
    section: PluginSection,
    keys: &'static [&'static str],
    instance: String,
    globals: Arc<Globals>,
    sections: Arc<Sections>,
    stats: Option<Arc<PluginStats>>,
}

impl Recipe {
    /// Builds with `build` in a context made from the recipe.
    fn build<T>(
        &self,
        build: impl FnOnce(&BuildContext) -> Result<T, Vec<ConfigError>>,
    ) -> Result<T, String> {
        let reserved = Reserved::default();
        let ctx = BuildContext::new(
            &self.section,
            self.keys,
            &self.globals,
            &self.sections,
            &self.instance,
            &reserved,
        );
        build(&ctx.with_stats(self.stats.clone())).map_err(joined)
    }
}

type EncoderFactory = Arc<dyn Fn() -> Result<Box<dyn Encoder>, String> + Send + Sync>;

/// Builds the encoder of one output (on its executor thread); checked once now. The
/// second value says whether it writes whole messages (framed by default).
fn encoder_factory(
    sections: &Arc<Sections>,
    globals: &Arc<Globals>,
    section: &PluginSection,
    reserved: &Reserved,
    stats: Option<Arc<PluginStats>>,
) -> Result<(EncoderFactory, bool), Vec<ConfigError>> {
    let Some(&Builder::Encoder {
        build,
        writes_messages,
    }) = registry::lookup(&section.type_name)
    else {
        return Err(unregistered(section));
    };
    build_reporting_all(section, |s| {
        build(&BuildContext::new(
            s,
            &[],
            globals,
            sections,
            &s.name,
            reserved,
        ))
    })?;
    let recipe = Recipe {
        section: section.clone(),
        keys: &[],
        instance: section.name.clone(),
        globals: globals.clone(),
        sections: sections.clone(),
        stats,
    };
    let factory: EncoderFactory = Arc::new(move || recipe.build(build));
    Ok((factory, writes_messages))
}

/// The value of `result`, or `None` with its errors added to `errors`.
fn ok<T>(result: Result<T, Vec<ConfigError>>, errors: &mut Vec<ConfigError>) -> Option<T> {
    result.map_err(|e| errors.extend(e)).ok()
}

fn compile_matcher(section: &PluginSection, expr: &str) -> Result<Matcher, ConfigError> {
    Matcher::compile(expr).map_err(|e| {
        let msg = format!("expected a message matcher expression, got {expr:?}: {e}");
        ConfigError::in_section(section, Some("message_matcher"), msg)
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
    globals: Arc<Globals>,
    sections: Arc<Sections>,
    control: Control,
    stats: StatsRegistry,
    input_pool: PackPool,
    inject_pool: PackPool,
    to_router: channel::Sender<crate::pipeline::pool::PooledPack>,
    to_router_from_filters: channel::Sender<crate::pipeline::pool::PooledPack>,
    routes: Vec<Route>,
    reserved: Reserved,
    /// Whether base_dir exists or can be made: disk queues under it are only checked
    /// when it is, so a bad base_dir is one error.
    base_dir_ok: bool,
    /// One line per plugin for the start-up summary.
    summary: Vec<String>,
    /// Plugins with a disk queue, for the summary.
    disk_queues: usize,
}

impl Wiring {
    fn chansize(&self) -> usize {
        self.globals.plugin_chansize.max(1)
    }

    fn context<'a>(&'a self, s: &'a PluginSection, common_keys: &'a [&'a str]) -> BuildContext<'a> {
        BuildContext::new(
            s,
            common_keys,
            &self.globals,
            &self.sections,
            &s.name,
            &self.reserved,
        )
    }

    /// What rebuilds plugin `s` after a failure.
    fn recipe(&self, s: &PluginSection, keys: &'static [&'static str]) -> Recipe {
        Recipe {
            section: s.clone(),
            keys,
            instance: s.name.clone(),
            globals: self.globals.clone(),
            sections: self.sections.clone(),
            stats: None,
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            hostname: self.globals.hostname.clone(),
            pid: std::process::id() as i32,
            max_message_loops: self.globals.max_message_loops.clamp(1, 255) as u8,
        }
    }

    /// The directory and settings of plugin `s`'s disk queue, if it is buffered.
    fn disk_queue(
        &self,
        s: &PluginSection,
        common: &CommonFilterOutput,
        default_buffering: Option<fn() -> BufferingConfig>,
    ) -> Option<(std::path::PathBuf, BufferingConfig)> {
        if !common.use_buffering.unwrap_or(default_buffering.is_some()) {
            return None;
        }
        let b = match (&common.buffering, default_buffering) {
            (Some(b), _) => b.clone(),
            (None, Some(defaults)) => defaults(),
            (None, None) => BufferingConfig::default(),
        };
        let dir = self
            .globals
            .base_dir
            .join("output_queue")
            .join(sanitize_name(&s.name));
        Some((dir, b))
    }

    /// Plugin `s`'s line of the start-up summary: its type, what it reads from or writes
    /// to (from its section), its matcher, and `extra` (splitter, decoder, encoder,
    /// disk queue).
    fn summary_line(s: &PluginSection, extra: Vec<String>) -> String {
        let text = |key: &str| s.table.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let mut parts = Vec::new();
        if let Some(address) = text("address") {
            let net = text("net").map(|n| format!("{n} ")).unwrap_or_default();
            parts.push(match s.category {
                Category::Input => format!("listens on {net}{address}"),
                _ => format!("sends to {net}{address}"),
            });
        }
        if s.type_name == "LogstreamerInput" {
            let dir = text("log_directory").unwrap_or_else(|| "/var/log".to_owned());
            let pattern = text("file_match").unwrap_or_default();
            parts.push(format!("reads {dir}/ files matching {pattern:?}"));
        }
        if let Some(url) = text("url") {
            let url = without_password(&url);
            let exchange = text("exchange").unwrap_or_default();
            parts.push(match (s.type_name.as_str(), s.category) {
                ("AMQPInput", _) => match text("queue").filter(|q| !q.is_empty()) {
                    Some(queue) => format!("consumes queue {queue:?} of {url}"),
                    None => format!("consumes a queue of exchange {exchange:?} of {url}"),
                },
                ("AMQPOutput", _) => format!("publishes to exchange {exchange:?} of {url}"),
                (_, Category::Input) => format!("polls {url}"),
                _ => format!("sends to {url}"),
            });
        }
        for (key, verb) in [
            ("file_path", "reads"),
            ("server", "sends to"),
            ("path", "writes"),
            ("process_dir", "runs the commands of"),
            ("filename", "script"),
        ] {
            if let Some(value) = text(key) {
                parts.push(format!("{verb} {value}"));
            }
        }
        if let Some(urls) = s.table.get("urls").and_then(|v| v.as_array()) {
            let urls: Vec<&str> = urls.iter().filter_map(|u| u.as_str()).collect();
            parts.push(format!("polls {}", urls.join(", ")));
        }
        if let Some(commands) = s.table.get("command").and_then(|v| v.as_table()) {
            let mut steps: Vec<(usize, String)> = commands
                .iter()
                .filter_map(|(i, step)| {
                    let step = step.as_table()?;
                    let mut words = vec![step.get("bin")?.as_str()?.to_owned()];
                    let args = step.get("args").and_then(|a| a.as_array());
                    words.extend(
                        args.into_iter()
                            .flatten()
                            .filter_map(|a| a.as_str().map(str::to_owned)),
                    );
                    Some((i.parse().ok()?, words.join(" ")))
                })
                .collect();
            steps.sort();
            let pipeline: Vec<String> = steps.into_iter().map(|(_, s)| s).collect();
            parts.push(format!("runs {}", pipeline.join(" | ")));
        }
        if s.type_name == "LogOutput" {
            parts.push("writes stdout".to_owned());
        }
        parts.extend(extra);
        let category = format!("{:?}", s.category);
        format!(
            "{category} '{}' ({}): {}",
            s.name,
            s.type_name,
            if parts.is_empty() {
                "-".to_owned()
            } else {
                parts.join("; ")
            }
        )
    }

    /// The summary's words for a filter's or output's matcher and disk queue.
    fn routing_summary(
        &mut self,
        s: &PluginSection,
        common: &CommonFilterOutput,
        default_matcher: Option<&str>,
        default_buffering: Option<fn() -> BufferingConfig>,
    ) -> Vec<String> {
        let matcher = common
            .message_matcher
            .as_deref()
            .filter(|m| !m.is_empty())
            .or(default_matcher)
            .unwrap_or("");
        let mut parts = vec![format!("matches {matcher:?}")];
        if let Some((dir, b)) = self.disk_queue(s, common, default_buffering) {
            self.disk_queues += 1;
            let bound = match b.max_buffer_size {
                0 => "unbounded".to_owned(),
                n => format!("at most {n} bytes"),
            };
            parts.push(format!("disk queue {} ({bound})", dir.display()));
        }
        parts
    }

    /// The router's queue to plugin `s`, and the disk queue behind it when buffered
    /// (§4.6; `default_buffering` for types that buffer unless told not to). A plugin
    /// that `confirms_delivery` may also take messages straight from the queue's writer.
    fn plugin_queue(
        &self,
        s: &PluginSection,
        common: &CommonFilterOutput,
        stats: &Arc<PluginStats>,
        confirms_delivery: bool,
        default_buffering: Option<fn() -> BufferingConfig>,
    ) -> Result<(channel::Sender<SharedPack>, PluginQueue), Vec<ConfigError>> {
        let (tx, rx) = channel::bounded(self.chansize());
        let Some((dir, b)) = self.disk_queue(s, common, default_buffering) else {
            return Ok((tx, PluginQueue::Memory(rx)));
        };
        let defaults = BufferingConfig::default();
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
        if !self.base_dir_ok {
            return Ok((tx, PluginQueue::Memory(rx)));
        }
        if self.globals.dry_run {
            // Checked, not opened: nothing is written.
            crate::preflight::dir_creatable(&dir).map_err(|e| {
                vec![ConfigError::in_section(
                    s,
                    Some("use_buffering"),
                    format!("disk queue: {e}"),
                )]
            })?;
            return Ok((tx, PluginQueue::Memory(rx)));
        }
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

    /// The matcher of a filter or output: `message_matcher`, else the type's default.
    fn matcher(
        s: &PluginSection,
        common: &CommonFilterOutput,
        default: Option<&str>,
    ) -> Result<Matcher, Vec<ConfigError>> {
        let expr = common
            .message_matcher
            .as_deref()
            .filter(|m| !m.is_empty())
            .or(default);
        let Some(expr) = expr else {
            return Err(vec![ConfigError::in_section(
                s,
                Some("message_matcher"),
                crate::config::not_set("a message matcher expression such as \"Type == 'x'\""),
            )]);
        };
        compile_matcher(s, expr).map_err(|e| vec![e])
    }

    fn build_output(&mut self, s: &PluginSection) -> Result<Job, Vec<ConfigError>> {
        let Some(&Builder::Output {
            build,
            default_encoder,
            uses_encoder,
            frames_protobuf,
            confirms_delivery,
            default_buffering,
            ticks,
        }) = registry::lookup(&s.type_name)
        else {
            return Err(unregistered(s));
        };
        // Every check runs, so all of this section's errors are reported in one pass.
        let mut errors = Vec::new();
        let common = ok(CommonFilterOutput::from_section(s), &mut errors);
        let output = ok(
            build_reporting_all(s, |s| build(&self.context(s, CommonFilterOutput::KEYS))),
            &mut errors,
        );
        // Without its common keys there is no matcher to check (no second error).
        let matcher = common
            .as_ref()
            .and_then(|common| ok(Self::matcher(s, common, None), &mut errors));
        let common_ok = common.is_some();
        let common = common.unwrap_or_default();
        if common.ticker_interval > 0 && !ticks {
            let msg = format!(
                "expected no ticker_interval ({} does not tick), got {}",
                s.type_name, common.ticker_interval
            );
            errors.push(ConfigError::in_section(s, Some("ticker_interval"), msg));
        }
        let ticker =
            (common.ticker_interval > 0).then(|| Duration::from_secs(common.ticker_interval));
        let encoder_name = common
            .encoder
            .clone()
            .filter(|e| !e.is_empty())
            .or(default_encoder.map(str::to_owned));
        let mut encoders = None;
        let mut use_framing = common.use_framing.unwrap_or(false);
        match (encoder_name, uses_encoder) {
            (Some(name), _) => {
                let section = self
                    .sections
                    .template(s, "encoder", &name, Category::Encoder)
                    .map_err(|e| vec![e]);
                if let Some(section) = ok(section, &mut errors) {
                    // Heka reports each output's encoder as `<output>-<encoder>`.
                    let instance = format!("{}-{name}", s.name);
                    let stats = self.stats.register(&instance, Category::Encoder);
                    let factory = encoder_factory(
                        &self.sections,
                        &self.globals,
                        section,
                        &self.reserved,
                        Some(stats.clone()),
                    );
                    if let Some((factory, writes_messages)) = ok(factory, &mut errors) {
                        use_framing = common
                            .use_framing
                            .unwrap_or(frames_protobuf && writes_messages);
                        encoders = Some((factory, stats));
                    }
                }
            }
            // Without its common keys the section's encoder is unknown: no second error.
            (None, true) if common_ok => errors.push(ConfigError::in_section(
                s,
                Some("encoder"),
                crate::config::not_set("the name of an encoder section"),
            )),
            (None, _) => {}
        }
        let (Some(output), Some(matcher), true) = (output, matcher, errors.is_empty()) else {
            return Err(errors);
        };
        let mut extra = self.routing_summary(s, &common, None, default_buffering);
        if let Some(name) = common
            .encoder
            .as_deref()
            .filter(|e| !e.is_empty())
            .or(default_encoder)
        {
            extra.push(format!("encoder {name}"));
        }
        self.summary.push(Self::summary_line(s, extra));
        let stats = self.stats.register(&s.name, Category::Output);
        let (tx, plugin_queue) =
            self.plugin_queue(s, &common, &stats, confirms_delivery, default_buffering)?;
        let in_flight = self.chansize();
        let signer = common.message_signer.clone().filter(|x| !x.is_empty());
        let mut route = Route::new(s.name.clone(), matcher, signer, tx, stats.clone(), false);
        route.waits_forever = plugin_queue.never_wedged();
        self.routes.push(route);
        let policy = Policy {
            name: s.name.clone(),
            kind: "Plugin",
            retries: common.retries.clone(),
            can_exit: common.can_exit.unwrap_or(false),
            stops_with_queue: true,
        };
        let control = self.control.clone();
        let recipe = self.recipe(s, CommonFilterOutput::KEYS);
        let max_message_size = self.globals.max_message_size;
        let mut first = Some(output);
        Ok(Box::new(move |ex: &Executors| {
            let source = plugin_queue.start(ex, in_flight);
            ex.spawn(move || {
                let supervisor = control.clone();
                let attempt: Attempt = Box::new(move |_| {
                    let output = match first.take() {
                        Some(o) => o,
                        None => recipe.build(build)?,
                    };
                    let encoder = match &encoders {
                        Some((make, _)) => Some(make()?),
                        None => None,
                    };
                    let mut ctx = OutputContext::new(
                        recipe.section.name.clone(),
                        source.open()?,
                        encoder,
                        use_framing,
                        max_message_size,
                        control.clone(),
                        stats.clone(),
                    );
                    ctx.ticker = ticker;
                    ctx.encoder_stats = encoders.as_ref().map(|(_, stats)| stats.clone());
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
            can_exit,
        }) = registry::lookup(&s.type_name)
        else {
            return Err(unregistered(s));
        };
        let mut errors = Vec::new();
        let common = ok(CommonFilterOutput::from_section(s), &mut errors);
        let filter = ok(
            build_reporting_all(s, |s| build(&self.context(s, CommonFilterOutput::KEYS))),
            &mut errors,
        );
        let matcher = common
            .as_ref()
            .and_then(|common| ok(Self::matcher(s, common, default_matcher), &mut errors));
        let common = common.unwrap_or_default();
        for key in ["encoder", "use_framing"] {
            if s.table.contains_key(key) {
                errors.push(ConfigError::in_section(
                    s,
                    Some(key),
                    format!("unknown config setting for '{}': {key}", s.name),
                ));
            }
        }
        let (Some(filter), Some(matcher), true) = (filter, matcher, errors.is_empty()) else {
            return Err(errors);
        };
        let ticker_secs = if common.ticker_interval > 0 {
            common.ticker_interval
        } else {
            default_ticker
        };
        let ticker = (ticker_secs > 0).then(|| Duration::from_secs(ticker_secs));
        let extra = self.routing_summary(s, &common, default_matcher, None);
        self.summary.push(Self::summary_line(s, extra));
        let stats = self.stats.register(&s.name, Category::Filter);
        let (tx, plugin_queue) = self.plugin_queue(s, &common, &stats, false, None)?;
        let in_flight = self.chansize();
        let signer = common.message_signer.clone().filter(|x| !x.is_empty());
        let injector = Injector::new(
            s.name.clone(),
            self.inject_pool.clone(),
            self.to_router_from_filters.clone(),
            Some(matcher.clone()),
            self.origin(),
            stats.clone(),
        );
        let mut route = Route::new(s.name.clone(), matcher, signer, tx, stats.clone(), true);
        route.waits_forever = plugin_queue.never_wedged();
        self.routes.push(route);
        let can_exit = common.can_exit.unwrap_or(can_exit);
        let policy = Policy {
            name: s.name.clone(),
            kind: "Plugin",
            retries: common.retries.clone(),
            can_exit,
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
                        can_exit,
                    };
                    Ok(filter.run(ctx))
                });
                supervise(policy, supervisor, attempt)
            })
        }))
    }

    fn build_input(&mut self, s: &PluginSection) -> Result<Job, Vec<ConfigError>> {
        let Some(&Builder::Input {
            build,
            default_splitter,
            default_decoder,
        }) = registry::lookup(&s.type_name)
        else {
            return Err(unregistered(s));
        };
        let mut errors = Vec::new();
        let common = ok(CommonInput::from_section(s), &mut errors).unwrap_or_default();
        let splitter_name = common
            .splitter
            .clone()
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| default_splitter.to_owned());
        let max_message_size = self.globals.max_message_size;
        let splitter_section = self
            .sections
            .template(s, "splitter", &splitter_name, Category::Splitter)
            .map_err(|e| vec![e]);
        let splitter_section = ok(splitter_section, &mut errors);
        let splitter = splitter_section.and_then(|section| {
            let factory = ok(splitter_factory(section, max_message_size), &mut errors)?;
            let common = ok(CommonSplitterConfig::from_section(section), &mut errors)?;
            Some((section, factory, common))
        });
        // The type's default decoder (TcpInput's ProtobufDecoder) reads whole messages:
        // it applies only when the splitter hands over message bytes, not text records.
        let splits_messages = splitter
            .as_ref()
            .and_then(|(_, factory, _)| factory().ok())
            .is_none_or(|s| s.use_message_bytes());
        let decoder_name = common
            .decoder
            .clone()
            .filter(|x| !x.is_empty())
            .or(default_decoder
                .filter(|_| splits_messages)
                .map(str::to_owned));
        let (mut decoder, mut decoder_stats) = (None, None);
        if let Some(name) = &decoder_name {
            let section = self
                .sections
                .template(s, "decoder", name, Category::Decoder)
                .map_err(|e| vec![e]);
            if let Some(section) = ok(section, &mut errors) {
                let instance = format!("{}-{name}", s.name);
                let stats = self.stats.register(&instance, Category::Decoder);
                let factory = decoder_factory(
                    &self.sections,
                    &self.globals,
                    section,
                    &instance,
                    &self.reserved,
                    stats.clone(),
                );
                decoder = ok(factory, &mut errors);
                decoder_stats = Some(stats);
            }
        }
        let input = ok(
            build_reporting_all(s, |s| build(&self.context(s, CommonInput::KEYS))),
            &mut errors,
        );
        let (Some(input), Some((splitter_section, splitter, splitter_common)), true) =
            (input, splitter, errors.is_empty())
        else {
            return Err(errors);
        };
        let mut extra = vec![format!("splitter {splitter_name}")];
        if let Some(name) = &decoder_name {
            extra.push(format!("decoder {name}"));
        }
        self.summary.push(Self::summary_line(s, extra));
        let stats = self.stats.register(&s.name, Category::Input);
        // Heka names a splitter runner `<input>-<splitter>`; one entry per input here,
        // over all its streams.
        let splitter_stats = self
            .stats
            .register(&format!("{}-{splitter_name}", s.name), Category::Splitter);
        let shared = InputShared {
            input_name: s.name.clone(),
            pool: self.input_pool.clone(),
            router: self.to_router.clone(),
            stats: stats.clone(),
            common: common.clone(),
            splitter_name,
            splitter,
            splitter_stats,
            min_buffer_size: splitter_common.min_buffer_size(splitter_section),
            max_record_size: framing::max_record_size(max_message_size),
            deliver_incomplete_final: splitter_common.deliver_incomplete_final,
            keep_truncated: splitter_common.keep_truncated,
            decoder_name,
            decoder,
            decoder_stats,
            control: self.control.clone(),
        };
        let policy = Policy {
            name: s.name.clone(),
            kind: "Input",
            retries: common.retries.clone(),
            can_exit: common.can_exit,
            stops_with_queue: false,
        };
        let ticker =
            (common.ticker_interval > 0).then(|| Duration::from_secs(common.ticker_interval));
        let control = self.control.clone();
        let recipe = self.recipe(s, CommonInput::KEYS);
        let globals = self.globals.clone();
        let (pool, router, origin) = (
            self.input_pool.clone(),
            self.to_router.clone(),
            self.origin(),
        );
        let mut first = Some(input);
        Ok(Box::new(move |ex: &Executors| {
            ex.spawn(move || {
                let supervisor = control.clone();
                let attempt: Attempt = Box::new(move |_| {
                    let input = match first.take() {
                        Some(i) => i,
                        None => recipe.build(build)?,
                    };
                    let injector = Injector::new(
                        recipe.section.name.clone(),
                        pool.clone(),
                        router.clone(),
                        None,
                        origin.clone(),
                        stats.clone(),
                    );
                    Ok(input.run(InputContext {
                        shared: shared.clone(),
                        control: control.clone(),
                        globals: globals.clone(),
                        injector,
                        ticker,
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
        let sections = Arc::new(Sections::new(config.sections));
        let mut errors = Vec::new();
        // base_dir holds the disk queues, journals and preserved sandbox data.
        let base_dir = &config.globals.base_dir;
        let base_dir_ok = if config.globals.dry_run {
            crate::preflight::dir_creatable(base_dir)
        } else {
            std::fs::create_dir_all(base_dir).map_err(|e| {
                crate::preflight::dir_creatable(base_dir)
                    .err()
                    .unwrap_or_else(|| {
                        format!("cannot create directory {}: {e}", base_dir.display())
                    })
            })
        }
        .map_err(|message| {
            errors.push(ConfigError {
                file: config.globals_file.clone(),
                section: Some("hekad".into()),
                key: Some("base_dir".into()),
                message,
                undecoded: false,
            })
        })
        .is_ok();
        let globals = Arc::new(config.globals);
        let max_message_size = globals.max_message_size;
        // Template sections are validated even when nothing uses them; what they reserve
        // counts where they are used.
        let unused = Reserved::default();
        for s in sections.of(Category::Splitter) {
            errors.extend(
                splitter_factory(s, max_message_size)
                    .err()
                    .unwrap_or_default(),
            );
        }
        for s in sections.of(Category::Decoder) {
            let checked = build_reporting_all(s, |s| {
                build_decoder(&BuildContext::new(
                    s,
                    &[],
                    &globals,
                    &sections,
                    &s.name,
                    &unused,
                ))
            });
            errors.extend(checked.err().unwrap_or_default());
        }
        for s in sections.of(Category::Encoder) {
            errors.extend(
                encoder_factory(&sections, &globals, s, &unused, None)
                    .err()
                    .unwrap_or_default(),
            );
        }

        let chansize = globals.plugin_chansize.max(1);
        let (to_router, from_inputs) = channel::bounded(chansize);
        // Every injected message is a pack of the inject pool, so a ring that holds the
        // whole pool never refuses one: a filter never waits on the router while the
        // router waits on that filter's full queue.
        let (to_router_from_filters, from_filters) =
            channel::bounded(chansize.max(globals.poolsize));
        let mut wiring = Wiring {
            control: Control::new(),
            stats: StatsRegistry::default(),
            input_pool: PackPool::new(globals.poolsize, 0),
            inject_pool: PackPool::new(globals.poolsize, 0),
            to_router,
            to_router_from_filters,
            routes: Vec::new(),
            globals,
            sections: sections.clone(),
            reserved: Reserved::default(),
            base_dir_ok,
            summary: Vec::new(),
            disk_queues: 0,
        };
        let mut jobs: Vec<Job> = Vec::new();
        for s in sections.of(Category::Output) {
            match wiring.build_output(s) {
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
        let router_stats = wiring.stats.register_global("Router");
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
            match wiring.build_input(s) {
                Ok(job) => jobs.push(job),
                Err(e) => errors.extend(e),
            }
        }
        if !errors.is_empty() {
            // A template section is checked on its own and again by each plugin that
            // uses it: each error is reported once.
            let mut seen = Vec::with_capacity(errors.len());
            errors.retain(|e| {
                let new = !seen.contains(e);
                if new {
                    seen.push(e.clone());
                }
                new
            });
            return Err(errors);
        }
        let Wiring {
            globals,
            control,
            stats,
            input_pool,
            inject_pool,
            reserved,
            summary,
            disk_queues,
            ..
        } = wiring;
        Ok(Pipeline {
            summary,
            disk_queues,
            globals: Arc::unwrap_or_clone(globals),
            control,
            stats,
            input_pool,
            inject_pool,
            reserved,
            jobs,
        })
    }

    /// The start-up summary: one line per plugin (type; addresses, paths and matchers;
    /// splitter, decoder, encoder; disk queue), then the memory bound.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = self.summary.clone();
        let queues = self.globals.base_dir.join("output_queue");
        lines.push(match self.disk_queues {
            0 => "disk queues: none".to_owned(),
            n => format!("disk queues: {n} under {}", queues.display()),
        });
        lines.push(format!("memory bound: {}", self.memory_bound()));
        lines
    }

    /// The stop signal of the pipeline (signals, tests).
    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// The report's counters of every plugin.
    pub fn stats(&self) -> StatsRegistry {
        self.stats.clone()
    }

    /// The memory bound of the message buffers and sandboxes, from the config (printed
    /// at start-up).
    pub fn memory_bound(&self) -> String {
        let packs = self.input_pool.size() + self.inject_pool.size();
        let per_pack = 2 * self.globals.max_message_size as u64;
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let mut bound = format!(
            "{packs} packs (poolsize {} x 2); message buffers grow to at most {} KiB per pack: {} MiB worst case",
            self.globals.poolsize,
            per_pack / 1024,
            packs as u64 * per_pack / (1024 * 1024)
        );
        let (fixed, per_stream) = (self.reserved.fixed.get(), self.reserved.per_stream.get());
        if fixed > 0 {
            bound.push_str(&format!("; sandboxes {:.1} MiB", mib(fixed)));
        }
        if per_stream > 0 {
            bound.push_str(&format!(
                "; sandbox decoders {:.1} MiB per input stream",
                mib(per_stream)
            ));
        }
        bound
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

/// `url` as logs may show it: a password in it (`scheme://user:password@host`) becomes
/// `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn summary_urls_do_not_show_passwords() {
        assert_eq!(
            without_password("amqp://guest:secret@rabbit:5672/"),
            "amqp://guest:***@rabbit:5672/"
        );
        assert_eq!(
            without_password("https://u:p@w@host/x@y"),
            "https://u:***@host/x@y"
        );
        assert_eq!(without_password("http://host/a@b"), "http://host/a@b");
        assert_eq!(
            without_password("amqp://guest@rabbit/"),
            "amqp://guest@rabbit/"
        );
    }
}
