//! Go reference-time layouts ("02/Jan/2006:15:04:05 -0700") and Heka's `Epoch*` layouts,
//! compiled once into a strptime format and parsed with jiff. Missing year or date parts
//! are filled from the current date (Heka behaviour).

use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::TimeZone;

/// A compiled `timestamp_layout`.
#[derive(Debug, Clone)]
pub enum Layout {
    Epoch(i64),
    Go {
        format: String,
        has_year: bool,
        has_date: bool,
        has_offset: bool,
    },
}

/// Go layout tokens, longest first, with their strptime equivalents.
const TOKENS: &[(&str, &str)] = &[
    ("January", "%B"),
    ("Monday", "%A"),
    ("-07:00:00", "%::z"),
    ("Z07:00:00", "%::z"),
    ("-07:00", "%:z"),
    ("Z07:00", "%:z"),
    ("-0700", "%z"),
    ("Z0700", "%z"),
    ("-07", "%z"),
    ("Z07", "%z"),
    ("2006", "%Y"),
    ("Jan", "%b"),
    ("Mon", "%a"),
    ("MST", "%Z"),
    ("002", "%j"),
    ("_2", "%e"),
    ("06", "%y"),
    ("01", "%m"),
    ("02", "%d"),
    ("15", "%H"),
    ("03", "%I"),
    ("04", "%M"),
    ("05", "%S"),
    ("PM", "%p"),
    ("pm", "%P"),
    ("1", "%m"),
    ("2", "%d"),
    ("3", "%I"),
    ("4", "%M"),
    ("5", "%S"),
];

impl Layout {
    /// Compiles a Go layout or `Epoch`/`EpochMilli`/`EpochMicro`/`EpochNano`.
    pub fn new(layout: &str) -> Result<Layout, String> {
        match layout {
            "Epoch" => return Ok(Layout::Epoch(1_000_000_000)),
            "EpochMilli" => return Ok(Layout::Epoch(1_000_000)),
            "EpochMicro" => return Ok(Layout::Epoch(1_000)),
            "EpochNano" => return Ok(Layout::Epoch(1)),
            "" => {
                return Err(
                    "expected a Go time layout (e.g. \"Jan 2 15:04:05\") or Epoch, got \"\"".into(),
                )
            }
            _ => {}
        }
        let mut format = String::new();
        let mut rest = layout;
        let (mut has_year, mut has_date, mut has_offset) = (false, false, false);
        'outer: while !rest.is_empty() {
            // Fractional seconds: ".000", ".999999", ",000".
            if let Some(sep @ ('.' | ',')) = rest.chars().next() {
                let digits = rest[1..]
                    .chars()
                    .take_while(|c| *c == '0' || *c == '9')
                    .count();
                if digits > 0 && format.ends_with("%S") {
                    format.push(sep);
                    format.push_str("%f");
                    rest = &rest[1 + digits..];
                    continue;
                }
            }
            for (token, directive) in TOKENS {
                if let Some(after) = rest.strip_prefix(token) {
                    format.push_str(directive);
                    has_year |= matches!(*directive, "%Y" | "%y");
                    has_date |= matches!(*directive, "%d" | "%e" | "%j");
                    has_offset |= directive.ends_with('z');
                    rest = after;
                    continue 'outer;
                }
            }
            let c = rest.chars().next().unwrap_or(' ');
            if c == '%' {
                format.push_str("%%");
            } else {
                format.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
        Ok(Layout::Go {
            format,
            has_year,
            has_date,
            has_offset,
        })
    }

    /// Parses `text` into nanoseconds since the epoch; `zone` applies when the text has
    /// no UTC offset.
    pub fn parse(&self, text: &str, zone: &TimeZone) -> Result<i64, String> {
        let text = text.trim();
        let (format, has_year, has_date, has_offset) = match self {
            Layout::Epoch(unit) => {
                let value: f64 = text
                    .parse()
                    .map_err(|_| format!("not an epoch number: {text:?}"))?;
                return Ok((value * *unit as f64) as i64);
            }
            Layout::Go {
                format,
                has_year,
                has_date,
                has_offset,
            } => (format, *has_year, *has_date, *has_offset),
        };
        let mut tm = BrokenDownTime::parse(format, text)
            .map_err(|e| format!("timestamp {text:?} does not match layout: {e}"))?;
        if !has_year || !has_date {
            let today = jiff::Zoned::now().with_time_zone(zone.clone());
            if !has_year {
                tm.set_year(Some(today.year())).map_err(|e| e.to_string())?;
            }
            if !has_date {
                tm.set_month(Some(today.month()))
                    .map_err(|e| e.to_string())?;
                tm.set_day(Some(today.day())).map_err(|e| e.to_string())?;
            }
        }
        let ts = if has_offset {
            tm.to_timestamp().map_err(|e| e.to_string())?
        } else {
            let civil = tm.to_datetime().map_err(|e| e.to_string())?;
            civil
                .to_zoned(zone.clone())
                .map_err(|e| e.to_string())?
                .timestamp()
        };
        i64::try_from(ts.as_nanosecond()).map_err(|_| "timestamp out of range".to_owned())
    }
}

/// A layout and zone that remember the last text they parsed. Consecutive log lines
/// mostly share their second, so most lines skip the parse (it was 12% of the CPU of
/// the nginx parse benchmark). Only layouts with a full date are remembered: a time
/// of day alone means a different instant tomorrow.
#[derive(Debug, Clone)]
pub struct TimestampParser {
    layout: Layout,
    zone: TimeZone,
    last_text: Vec<u8>,
    last_ns: Option<i64>,
}

impl TimestampParser {
    pub fn new(layout: Layout, zone: TimeZone) -> TimestampParser {
        TimestampParser {
            layout,
            zone,
            last_text: Vec::new(),
            last_ns: None,
        }
    }

    /// Like [`Layout::parse`].
    pub fn parse(&mut self, text: &str) -> Result<i64, String> {
        if let Some(ns) = self.last_ns.filter(|_| self.last_text == text.as_bytes()) {
            return Ok(ns);
        }
        let ns = self.layout.parse(text, &self.zone)?;
        if let Layout::Go {
            has_year: true,
            has_date: true,
            ..
        } = self.layout
        {
            self.last_text.clear();
            self.last_text.extend_from_slice(text.as_bytes());
            self.last_ns = Some(ns);
        }
        Ok(ns)
    }
}

/// The zone of `timestamp_location` ("UTC", "Local" or an IANA name from the system tzdb).
pub fn zone(name: &str) -> Result<TimeZone, String> {
    match name {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(TimeZone::system()),
        other => TimeZone::get(other).map_err(|e| {
            format!("expected a time zone (UTC, Local, a tz database name), got {other:?}: {e}")
        }),
    }
}

/// Go's `time.Time.String()` in UTC: "2015-04-11 17:30:26.113040228 +0000 UTC".
pub fn go_utc_string(ns: i64) -> String {
    let ts =
        jiff::Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let dt = ts.to_zoned(TimeZone::UTC).datetime();
    let mut out = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    let nanos = dt.subsec_nanosecond();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_go_layouts() {
        let utc = TimeZone::UTC;
        let clf = Layout::new("02/Jan/2006:15:04:05 -0700").expect("layout");
        assert_eq!(
            clf.parse("10/Oct/2000:13:55:36 -0700", &utc),
            Ok(971_211_336_000_000_000)
        );
        let rfc = Layout::new("2006-01-02T15:04:05Z07:00").expect("layout");
        assert_eq!(
            rfc.parse("2000-10-10T20:55:36+00:00", &utc),
            Ok(971_211_336_000_000_000)
        );
        let frac = Layout::new("2006-01-02 15:04:05.000").expect("layout");
        assert_eq!(
            frac.parse("2000-10-10 20:55:36.250", &utc),
            Ok(971_211_336_250_000_000)
        );
        let epoch = Layout::new("Epoch").expect("layout");
        assert_eq!(
            epoch.parse("971211336.5", &utc),
            Ok(971_211_336_500_000_000)
        );
        assert_eq!(
            Layout::new("EpochMilli")
                .expect("layout")
                .parse("1000", &utc),
            Ok(1_000_000_000)
        );
        assert!(clf.parse("garbage", &utc).is_err());
    }

    #[test]
    fn fills_a_missing_year() {
        let syslog = Layout::new("Jan _2 15:04:05").expect("layout");
        let ns = syslog
            .parse("Mar  5 01:02:03", &TimeZone::UTC)
            .expect("parses");
        let year = jiff::Timestamp::from_nanosecond(i128::from(ns))
            .expect("ts")
            .to_zoned(TimeZone::UTC)
            .year();
        assert_eq!(
            year,
            jiff::Zoned::now().with_time_zone(TimeZone::UTC).year()
        );
    }

    #[test]
    fn a_remembered_timestamp_is_the_one_a_fresh_parse_gives() {
        let layout = Layout::new("02/Jan/2006:15:04:05 -0700").expect("layout");
        let mut parser = TimestampParser::new(layout.clone(), TimeZone::UTC);
        let texts = [
            "10/Oct/2000:13:55:36 -0700",
            "10/Oct/2000:13:55:36 -0700",
            "10/Oct/2000:13:55:37 -0700",
            "garbage",
            "10/Oct/2000:13:55:37 -0700",
            "10/Oct/2000:13:55:36 +0000",
        ];
        for text in texts {
            assert_eq!(
                parser.parse(text),
                layout.parse(text, &TimeZone::UTC),
                "{text}"
            );
        }
        // A time of day alone is not remembered: it means another instant tomorrow.
        let mut clock =
            TimestampParser::new(Layout::new("15:04:05").expect("layout"), TimeZone::UTC);
        clock.parse("01:02:03").expect("parses");
        assert_eq!(clock.last_ns, None);
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(
            go_utc_string(1428773426113040228),
            "2015-04-11 17:30:26.113040228 +0000 UTC"
        );
        assert_eq!(go_utc_string(0), "1970-01-01 00:00:00 +0000 UTC");
    }
}
