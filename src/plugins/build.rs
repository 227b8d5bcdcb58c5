//! What every plugin is built from: its section, the keys its category handles, the
//! `[hekad]` globals and the other sections by name ([`BuildContext`]). The same context
//! serves the check at start-up (main thread) and, for decoders and encoders, the
//! instances built later on the executor thread that runs them.

use super::decoders::Decoder;
use super::inputs::stat_accum::{self, StatSink};
use super::registry::{self, Builder, ALWAYS_REGISTERED};
use crate::config::globals::Globals;
use crate::config::{types, Category, ConfigError, PluginSection};
use crate::pipeline::stats::PluginStats;
use crate::sandbox::{Kind, Sandbox, SandboxSettings};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// MultiDecoders nested deeper than this are taken for a cycle.
const MAX_DECODER_DEPTH: usize = 16;

/// Plugin sections by name, with the always-registered defaults added, and the
/// hand-offs between plugins that name each other (clones share them, so a plugin
/// rebuilt after a failure finds the same ones).
#[derive(Debug, Clone)]
pub struct Sections {
    by_name: BTreeMap<String, PluginSection>,
    order: Vec<String>,
    /// Each StatAccumInput's accumulator, by section name: made by whichever of it and
    /// its submitters (StatsdInput, StatFilter) is built first.
    stat_sinks: Arc<Mutex<BTreeMap<String, Arc<StatSink>>>>,
}

impl Sections {
    pub fn new(sections: Vec<PluginSection>) -> Sections {
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
        Sections {
            by_name,
            order,
            stat_sinks: Arc::default(),
        }
    }

    /// The configured sections of `category`, in config order.
    pub fn of(&self, category: Category) -> impl Iterator<Item = &PluginSection> {
        self.order
            .iter()
            .filter_map(|n| self.by_name.get(n))
            .filter(move |s| s.category == category)
    }

    /// The section `name` refers to from `referrer.key`, which must be of `category`.
    pub fn template(
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

/// The error for a section whose type no plugin registers: a Heka plugin not implemented
/// yet, or a misspelling with the closest known type.
pub fn unregistered(section: &PluginSection) -> Vec<ConfigError> {
    let name = &section.type_name;
    let message = if types::is_heka_type(name) {
        format!("{name} is a Heka plugin that hekad does not implement yet")
    } else {
        let known = super::registry::PLUGINS.iter().map(|(n, _)| *n);
        let heka = types::HEKA_PLUGIN_TYPES.iter().copied();
        format!(
            "expected a plugin type hekad implements, got {name:?}{}",
            types::suggestion(name, known.chain(heka))
        )
    };
    vec![ConfigError::in_section(section, Some("type"), message)]
}

/// Memory plugins declare beyond the pack pools (a sandbox's `memory_limit`), summed
/// for the bound hekad prints at start-up.
#[derive(Debug, Default)]
pub struct Reserved {
    /// Bytes for plugins that run once.
    pub fixed: Cell<u64>,
    /// Bytes for each stream of an input (decoders run once per stream).
    pub per_stream: Cell<u64>,
}

/// What a plugin's constructor gets.
pub struct BuildContext<'a> {
    pub section: &'a PluginSection,
    /// The keys the plugin's category handles (§4.5); its own decoding must allow them.
    pub common_keys: &'a [&'a str],
    /// `[hekad]`: share_dir, base_dir, hostname, inject limits, sizes.
    pub globals: &'a Globals,
    /// The name this instance runs under: the section name, or for a decoder its runner
    /// name `<input>-<decoder>` (log lines, sandbox preservation files).
    pub instance: &'a str,
    /// The report entry of the instance, when it has one of its own (a decoder runner):
    /// a sandbox reports its memory and timings there.
    pub stats: Option<Arc<PluginStats>>,
    sections: &'a Sections,
    reserved: &'a Reserved,
    depth: usize,
}

impl<'a> BuildContext<'a> {
    pub fn new(
        section: &'a PluginSection,
        common_keys: &'a [&'a str],
        globals: &'a Globals,
        sections: &'a Sections,
        instance: &'a str,
        reserved: &'a Reserved,
    ) -> BuildContext<'a> {
        BuildContext {
            section,
            common_keys,
            globals,
            instance,
            stats: None,
            sections,
            reserved,
            depth: 0,
        }
    }

    /// The same context reporting into `stats`.
    pub fn with_stats(mut self, stats: Option<Arc<PluginStats>>) -> Self {
        self.stats = stats;
        self
    }

    /// The sandbox keys of a Sandbox* section; its `memory_limit` counts in the printed
    /// memory bound.
    pub fn sandbox_settings(&self, kind: Kind) -> Result<SandboxSettings, Vec<ConfigError>> {
        let settings = SandboxSettings::from_section(
            self.section,
            self.common_keys,
            self.globals,
            kind,
            self.instance,
        )?;
        self.reserve(settings.memory_limit as u64);
        Ok(settings)
    }

    /// A sandbox of these settings, made now (decoders and encoders, whose instances are
    /// built on the thread that runs them); its errors name the section's `filename`.
    pub fn sandbox(&self, settings: SandboxSettings) -> Result<Sandbox, Vec<ConfigError>> {
        Sandbox::new(Arc::new(settings), self.stats.clone(), None)
            .map_err(|e| vec![ConfigError::in_section(self.section, Some("filename"), e)])
    }

    /// The sandbox settings of a plugin whose sandbox is made later, on its executor
    /// thread (filters, outputs, inputs): the script is loaded once now, so its errors are
    /// reported before start.
    pub fn checked_sandbox_settings(
        &self,
        kind: Kind,
    ) -> Result<Arc<SandboxSettings>, Vec<ConfigError>> {
        let settings = self.sandbox_settings(kind)?;
        Sandbox::check(&settings)
            .map_err(|e| vec![ConfigError::in_section(self.section, Some("filename"), e)])?;
        Ok(Arc::new(settings))
    }

    /// The accumulator of this StatAccumInput.
    pub fn own_stat_sink(&self) -> Arc<StatSink> {
        self.stat_sink_named(&self.section.name)
    }

    /// The accumulator of the StatAccumInput this plugin's `key` names (StatsdInput's and
    /// StatFilter's `stat_accum_name`).
    pub fn stat_sink(&self, key: &str, name: &str) -> Result<Arc<StatSink>, Vec<ConfigError>> {
        let section = self
            .sections
            .template(self.section, key, name, Category::Input)
            .map_err(|e| vec![e])?;
        if section.type_name != stat_accum::TYPE_NAME {
            let msg = format!("'{name}' is a {}, not a StatAccumInput", section.type_name);
            return Err(vec![ConfigError::in_section(self.section, Some(key), msg)]);
        }
        Ok(self.stat_sink_named(name))
    }

    fn stat_sink_named(&self, name: &str) -> Arc<StatSink> {
        let mut sinks = self
            .sections
            .stat_sinks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        sinks.entry(name.to_owned()).or_default().clone()
    }

    /// Declares `bytes` of memory this plugin may hold (per stream for a decoder).
    pub fn reserve(&self, bytes: u64) {
        let slot = match self.section.category {
            Category::Decoder => &self.reserved.per_stream,
            _ => &self.reserved.fixed,
        };
        slot.set(slot.get() + bytes);
    }

    /// Builds the decoder section `name` that this plugin's `key` names (MultiDecoder's
    /// subs), running as `<instance>-<name>`.
    pub fn decoder(&self, key: &str, name: &str) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
        if self.depth >= MAX_DECODER_DEPTH {
            return Err(vec![ConfigError::in_section(
                self.section,
                Some(key),
                format!(
                    "expected decoders that do not name each other, got '{name}' nested over \
                     {MAX_DECODER_DEPTH} deep: circular dependency detected"
                ),
            )]);
        }
        let section = self
            .sections
            .template(self.section, key, name, Category::Decoder)
            .map_err(|e| vec![e])?;
        let instance = format!("{}-{name}", self.instance);
        let ctx = BuildContext {
            section,
            common_keys: &[],
            globals: self.globals,
            instance: &instance,
            stats: None,
            sections: self.sections,
            reserved: self.reserved,
            depth: self.depth + 1,
        };
        build_decoder(&ctx)
    }
}

/// Builds the decoder `ctx.section` describes.
pub fn build_decoder(ctx: &BuildContext<'_>) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    match registry::lookup(&ctx.section.type_name) {
        Some(Builder::Decoder(build)) => build(ctx),
        _ => Err(unregistered(ctx.section)),
    }
}
