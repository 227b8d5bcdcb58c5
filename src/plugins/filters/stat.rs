//! StatFilter (§5.4): turns any message into statsd-style stats for a StatAccumInput
//! (`stat_accum_name`), by templates: each `[X.Metric.<id>]` has a `type` ("Counter",
//! "Timer" or "Gauge"), a `name` and a `value` in which `%Type%`, `%Hostname%`,
//! `%Logger%`, `%Payload%` and `%<field>%` (the field's first value) are replaced;
//! `replace_dot` turns dots in the replaced values of the name into underscores (so a
//! hostname stays one Graphite path element). A reference to something the message
//! lacks stays as written. A value that is not a number is counted as a failure and
//! logged (at most once a second); Heka submitted 0.

use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::{MessageView, Value};
use crate::pipeline::stats::PluginStats;
use crate::plugins::filters::{Filter, FilterContext};
use crate::plugins::inputs::stat_accum::{Sample, StatSink};
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Deserialize)]
#[serde(default)]
struct StatFilterConfig {
    #[serde(rename = "Metric", alias = "metric")]
    metric: BTreeMap<String, MetricConfig>,
    stat_accum_name: String,
}

impl Default for StatFilterConfig {
    fn default() -> Self {
        StatFilterConfig {
            metric: BTreeMap::new(),
            stat_accum_name: crate::plugins::inputs::stat_accum::TYPE_NAME.into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MetricConfig {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    value: String,
    replace_dot: bool,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Counter,
    Timer,
    Gauge,
}

/// One `[X.Metric.<id>]`.
#[derive(Debug)]
struct Metric {
    kind: Kind,
    name: String,
    value: String,
    replace_dot: bool,
}

/// The StatFilter plugin.
pub struct StatFilter {
    metrics: Vec<Metric>,
    sink: Arc<StatSink>,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
    sink: impl FnOnce(&str) -> Result<Arc<StatSink>, Vec<ConfigError>>,
) -> Result<Box<dyn Filter>, Vec<ConfigError>> {
    let c: StatFilterConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let sink = errors.merge(sink(&c.stat_accum_name));
    let what = format!(
        "[{}.Metric.<id>] tables with type, name and value",
        section.name
    );
    errors.required("Metric", !c.metric.is_empty(), &what);
    let mut metrics = Vec::new();
    for (id, m) in c.metric {
        let key = format!("Metric.{id}.type");
        let kind = match errors.one_of(&key, &m.kind, &["Counter", "Timer", "Gauge"], false) {
            Some("Counter") => Kind::Counter,
            Some("Timer") => Kind::Timer,
            Some(_) => Kind::Gauge,
            None => continue,
        };
        metrics.push(Metric {
            kind,
            name: m.name,
            value: m.value,
            replace_dot: m.replace_dot,
        });
    }
    let Some(sink) = sink else {
        return Err(errors.fail("stat_accum_name", "not checked"));
    };
    errors.finish(|| Box::new(StatFilter { metrics, sink }) as Box<dyn Filter>)
}

/// The text `%name%` stands for in `msg`, if the message has it.
fn lookup(msg: &MessageView<'_>, name: &str) -> Option<String> {
    let text = |b: &[u8]| Some(String::from_utf8_lossy(b).into_owned());
    match name {
        "Type" => text(msg.r#type()),
        "Hostname" => text(msg.hostname()),
        "Logger" => text(msg.logger()),
        "Payload" => text(msg.payload()),
        _ => match msg.field(name.as_bytes(), 0)?.value(0)? {
            Value::String(s) | Value::Bytes(s) => text(s),
            Value::Integer(i) => Some(i.to_string()),
            Value::Double(d) => Some(d.to_string()),
            Value::Bool(b) => Some(b.to_string()),
        },
    }
}

/// `template` with each `%name%` the message has replaced.
fn interpolate(template: &str, msg: &MessageView<'_>, replace_dot: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        let end = after.find('%');
        let name = end.map(|e| &after[..e]);
        let valid = name.is_some_and(|n| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        match (valid, name.and_then(|n| lookup(msg, n)), end) {
            (true, Some(value), Some(e)) => {
                out.push_str(&rest[..start]);
                match replace_dot {
                    true => out.push_str(&value.replace('.', "_")),
                    false => out.push_str(&value),
                }
                rest = &after[e + 1..];
            }
            _ => {
                out.push_str(&rest[..=start]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Filter for StatFilter {
    fn run(self: Box<Self>, ctx: FilterContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let mut last_log: Option<Instant> = None;
            while let Ok(pack) = ctx.queue.recv().await {
                let msg = pack.view();
                let mut failed = false;
                let mut stats = Vec::with_capacity(self.metrics.len());
                for m in &self.metrics {
                    let name = interpolate(&m.name, &msg, m.replace_dot);
                    let value_text = interpolate(&m.value, &msg, false);
                    let Some(value) = value_text
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                    else {
                        failed = true;
                        if last_log.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                            last_log = Some(Instant::now());
                            log::error!("Plugin '{}' error: stat {name}: value {value_text:?} is not a number", ctx.name);
                        }
                        continue;
                    };
                    let sample = match m.kind {
                        Kind::Counter => Sample::Counter { value, rate: 1.0 },
                        Kind::Timer => Sample::Timer { value, rate: 1.0 },
                        Kind::Gauge => Sample::Gauge {
                            value,
                            delta: false,
                        },
                    };
                    stats.push((name, sample));
                }
                {
                    let mut accumulator = self.sink.lock();
                    for (name, sample) in &stats {
                        accumulator.add(name.as_bytes(), *sample);
                    }
                }
                let counter = match failed {
                    true => &ctx.stats.process_failures,
                    false => &ctx.stats.process_count,
                };
                PluginStats::add(counter, 1);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::writer::Values;
    use crate::message::MessageWriter;

    #[test]
    fn templates_take_headers_and_fields() {
        let mut bytes = Vec::new();
        let mut w = MessageWriter::new(&mut bytes);
        w.uuid(&[1; 16])
            .timestamp(1)
            .r#type(b"nginx.access")
            .hostname(b"web.example.com")
            .field(b"status", b"", Values::Integer(&[404]))
            .field(b"bytes", b"", Values::Double(&[512.5]));
        let index = w.index().expect("index");
        let msg = MessageView::with_index(&bytes, &index);
        assert_eq!(
            interpolate("%Hostname%.http.%status%", &msg, true),
            "web_example_com.http.404"
        );
        assert_eq!(interpolate("%bytes%", &msg, false), "512.5");
        assert_eq!(
            interpolate("%missing%.100% sure %Type%", &msg, false),
            "%missing%.100% sure nginx.access"
        );
    }
}
