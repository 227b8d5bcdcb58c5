//! StatsToFieldsDecoder (§5.3): graphite plaintext lines in the Payload (`name value
//! unix_ts`, what StatAccumInput emits) become fields, as StatAccumInput's field mode
//! makes them: one DOUBLE field per stat and an INTEGER `timestamp`. Lines of the first
//! timestamp go into the message itself (its Payload kept); each other timestamp makes a
//! message of its own (a copy of the headers, empty Payload). A malformed line fails the
//! message with the line in the error. (Heka also added every other timestamp's lines to
//! the first message, a bug not kept.)

use super::{DecodeError, Decoded, Decoder, MorePacks};
use crate::config::{section, ConfigError, PluginSection};
use crate::message::rewrite::{rewrite, Overrides};
use crate::message::writer::Values;
use crate::message::MessageWriter;
use crate::pipeline::pack::Pack;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatsToFieldsConfig {}

/// The StatsToFieldsDecoder.
pub struct StatsToFieldsDecoder;

pub fn from_section(section: &PluginSection) -> Result<Box<dyn Decoder>, Vec<ConfigError>> {
    let _: StatsToFieldsConfig = section::decode(section, &[])?;
    Ok(Box::new(StatsToFieldsDecoder))
}

/// One parsed line.
struct Stat<'a> {
    name: &'a [u8],
    value: f64,
    time: u32,
}

fn parse(line: &[u8]) -> Result<Stat<'_>, DecodeError> {
    let shown = || String::from_utf8_lossy(line).into_owned();
    let parts: Vec<&[u8]> = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
        .collect();
    let [name, value, time] = parts[..] else {
        return Err(DecodeError(format!(
            "malformed statmetric line: '{}'",
            shown()
        )));
    };
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
    let time = text(time)
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| DecodeError(format!("invalid timestamp: '{}'", shown())))?;
    let value = text(value)
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| DecodeError(format!("invalid value: '{}'", shown())))?;
    Ok(Stat { name, value, time })
}

impl Decoder for StatsToFieldsDecoder {
    fn decode(&mut self, pack: &mut Pack, more: &mut MorePacks) -> Result<Decoded, DecodeError> {
        let mut out = std::mem::take(&mut pack.scratch);
        let view = pack.view();
        let mut stats = Vec::new();
        for line in view.payload().split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            stats.push(parse(line)?);
        }
        let Some(first) = stats.first().map(|s| s.time) else {
            pack.scratch = out;
            return Ok(Decoded::Keep);
        };
        let mut others: Vec<u32> = Vec::new();
        for s in &stats {
            if s.time != first && !others.contains(&s.time) {
                others.push(s.time);
            }
        }
        // The extra messages first, while the original is unchanged.
        for &time in &others {
            let extra = more.push();
            let headers_only = Overrides {
                payload: Some(b""),
                drop_fields: true,
                ..Overrides::default()
            };
            let mut extra_out = std::mem::take(&mut extra.scratch);
            rewrite(&view, &headers_only, &[], &mut extra_out);
            append_fields(&mut extra_out, &stats, time);
            extra.scratch = extra_out;
            extra
                .commit_scratch(None)
                .map_err(|e| DecodeError(e.to_string()))?;
        }
        rewrite(&view, &Overrides::default(), &[], &mut out);
        append_fields(&mut out, &stats, first);
        pack.scratch = out;
        pack.commit_scratch(None)
            .map_err(|e| DecodeError(e.to_string()))?;
        Ok(Decoded::Keep)
    }
}

/// Appends a field per stat of `time`, then `timestamp`.
fn append_fields(out: &mut Vec<u8>, stats: &[Stat<'_>], time: u32) {
    let mut w = MessageWriter::new(out);
    for s in stats.iter().filter(|s| s.time == time) {
        w.field(s.name, b"", Values::Double(&[s.value]));
    }
    w.field(b"timestamp", b"", Values::Integer(&[i64::from(time)]));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageView;

    #[test]
    fn one_message_per_timestamp_with_double_fields() {
        let mut pack = Pack::default();
        let payload =
            b"stats.a.count 3 1700000000\nstats.b 0.5 1700000010\n stats.c 2 1700000000 \n";
        let mut w = MessageWriter::new(&mut pack.msg);
        w.uuid(&[7; 16])
            .timestamp(5)
            .r#type(b"heka.statmetric")
            .payload(payload);
        let index = w.index();
        pack.index_written(index).expect("index");
        let mut more = MorePacks::default();
        let mut decoder = StatsToFieldsDecoder;
        assert_eq!(decoder.decode(&mut pack, &mut more), Ok(Decoded::Keep));
        let fields = |view: MessageView<'_>| -> Vec<(String, String)> {
            view.fields()
                .map(|f| {
                    let name = String::from_utf8_lossy(f.name()).into_owned();
                    (name, format!("{:?}", f.value(0)))
                })
                .collect()
        };
        assert_eq!(
            fields(pack.view()),
            [
                ("stats.a.count".to_owned(), "Some(Double(3.0))".to_owned()),
                ("stats.c".to_owned(), "Some(Double(2.0))".to_owned()),
                (
                    "timestamp".to_owned(),
                    "Some(Integer(1700000000))".to_owned()
                ),
            ]
        );
        assert_eq!(pack.view().payload(), payload);
        assert_eq!(more.len(), 1);
        let extra = more.get_mut(0).expect("extra");
        assert_eq!(extra.view().payload(), b"");
        assert_eq!(extra.view().r#type(), b"heka.statmetric");
        assert_eq!(
            fields(extra.view()),
            [
                ("stats.b".to_owned(), "Some(Double(0.5))".to_owned()),
                (
                    "timestamp".to_owned(),
                    "Some(Integer(1700000010))".to_owned()
                ),
            ]
        );
        let mut bad = Pack::default();
        let mut w = MessageWriter::new(&mut bad.msg);
        w.uuid(&[7; 16]).payload(b"stats.a 1");
        let index = w.index();
        bad.index_written(index).expect("index");
        let err = decoder.decode(&mut bad, &mut MorePacks::default());
        assert_eq!(
            err,
            Err(DecodeError("malformed statmetric line: 'stats.a 1'".into()))
        );
    }
}
