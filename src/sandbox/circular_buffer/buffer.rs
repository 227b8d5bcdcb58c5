//! The buffer itself: `rows` rows of `columns` numbers, each row `seconds_per_row`
//! seconds of time, the newest row ending the window. Times are whole seconds since the
//! epoch, rounded down to the start of their row.

use super::cells::Cells;
use crate::sandbox::payload::write_number;
use std::io::Write as _;

/// Longest column name a header keeps (bytes).
pub const MAX_NAME: usize = 15;
/// Longest unit a header keeps (bytes).
pub const MAX_UNIT: usize = 7;

/// How a column's values combine (a hint for consumers; it also decides what a "cbufd"
/// delta holds, see [`Buffer::add`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// Values add up (the default).
    Sum,
    /// The smallest value counts.
    Min,
    /// The largest value counts.
    Max,
    /// Values average.
    Avg,
    /// Values do not combine.
    None,
}

impl Aggregation {
    /// The aggregation a script names.
    pub fn parse(name: &[u8]) -> Option<Aggregation> {
        Some(match name {
            b"sum" => Aggregation::Sum,
            b"min" => Aggregation::Min,
            b"max" => Aggregation::Max,
            b"avg" => Aggregation::Avg,
            b"none" => Aggregation::None,
            _ => return None,
        })
    }

    /// Its name in headers.
    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Avg => "avg",
            Aggregation::None => "none",
        }
    }
}

/// A column's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// At most [`MAX_NAME`] letters, digits and `_` ("Column_N" by default).
    pub name: String,
    /// At most [`MAX_UNIT`] letters, digits and `_` ("count" by default).
    pub unit: String,
    /// How values combine ("sum" by default).
    pub aggregation: Aggregation,
}

/// The text a buffer writes to a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The header and every row.
    Cbuf,
    /// The header and the rows changed since the last output, each after its time.
    Cbufd,
}

/// The changes since the last "cbufd" output: per cell, the sum added to a "sum" column
/// or the last value written to any other column; per row, whether it changed.
struct Delta {
    cells: Cells,
    changed: Vec<bool>,
}

/// A circular buffer.
pub struct Buffer {
    rows: usize,
    columns: usize,
    seconds_per_row: i64,
    /// Start of the newest row, in seconds since the epoch.
    current_time: i64,
    /// Index of the newest row in `cells`.
    current_row: usize,
    /// Row-major, `rows * columns`.
    cells: Cells,
    headers: Vec<Header>,
    delta: Option<Delta>,
    /// What [`Buffer::write_output`] writes.
    pub format: Format,
}

/// `name` cut to `max` bytes, every byte but ASCII letters and digits made `_`.
pub fn sanitize(name: &[u8], max: usize) -> String {
    name.iter()
        .take(max)
        .map(|&b| match b.is_ascii_alphanumeric() {
            true => b as char,
            false => '_',
        })
        .collect()
}

/// Whole seconds (rounded down) of a time in nanoseconds; `None` when it is not a
/// number or beyond what an f64 counts exactly.
pub fn seconds(ns: f64) -> Option<i64> {
    const LIMIT: f64 = (1u64 << 53) as f64;
    let s = (ns / 1e9).floor();
    (s.is_finite() && s.abs() <= LIMIT).then_some(s as i64)
}

/// NaN (no value yet) as 0.
fn or_zero(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

impl Buffer {
    /// A buffer over `cells` (`rows * columns`, all NaN; `delta`: as many, to track
    /// changes for "cbufd"). `rows > 1`, `columns > 0`, `seconds_per_row > 0`, and
    /// `seconds_per_row * rows` well inside an i64 (the caller checks). The window starts
    /// at time 0.
    pub fn new(
        rows: usize,
        columns: usize,
        seconds_per_row: i64,
        cells: Cells,
        delta: Option<Cells>,
    ) -> Buffer {
        let headers = (1..=columns)
            .map(|c| Header {
                name: format!("Column_{c}"),
                unit: "count".to_owned(),
                aggregation: Aggregation::Sum,
            })
            .collect();
        Buffer {
            rows,
            columns,
            seconds_per_row,
            current_time: seconds_per_row * (rows as i64 - 1),
            current_row: rows - 1,
            cells,
            headers,
            delta: delta.map(|cells| Delta {
                cells,
                changed: vec![false; rows],
            }),
            format: Format::Cbuf,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Seconds of time each row holds.
    pub fn seconds_per_row(&self) -> i64 {
        self.seconds_per_row
    }

    /// Whether changes are tracked for "cbufd".
    pub fn has_delta(&self) -> bool {
        self.delta.is_some()
    }

    /// Start of the newest row, in seconds.
    pub fn current_time(&self) -> i64 {
        self.current_time
    }

    /// Start of the oldest row, in seconds.
    pub fn oldest_time(&self) -> i64 {
        self.current_time - self.seconds_per_row * (self.rows as i64 - 1)
    }

    /// The header of column `column` (from 0, in range).
    pub fn header(&self, column: usize) -> &Header {
        &self.headers[column]
    }

    /// Sets the header of column `column` (from 0, in range).
    pub fn set_header(&mut self, column: usize, header: Header) {
        self.headers[column] = header;
    }

    /// Start of the row holding time `seconds`.
    fn row_start(&self, seconds: i64) -> i64 {
        seconds - seconds.rem_euclid(self.seconds_per_row)
    }

    /// Index of the row holding time `seconds`, if the window has it.
    fn row(&self, seconds: i64) -> Option<usize> {
        let t = self.row_start(seconds);
        if t > self.current_time || t < self.oldest_time() {
            return None;
        }
        let back = ((self.current_time - t) / self.seconds_per_row) as usize;
        Some((self.current_row + self.rows - back) % self.rows)
    }

    /// Moves the window forward to end with the row of `seconds` (if that is newer),
    /// clearing to NaN the rows it passes.
    fn advance(&mut self, seconds: i64) {
        let t = self.row_start(seconds);
        if t <= self.current_time {
            return;
        }
        let steps = (t - self.current_time) / self.seconds_per_row;
        let cleared = steps.min(self.rows as i64) as usize;
        for i in 1..=cleared {
            self.clear_row((self.current_row + i) % self.rows);
        }
        self.current_row = (self.current_row + (steps % self.rows as i64) as usize) % self.rows;
        self.current_time = t;
    }

    fn clear_row(&mut self, row: usize) {
        let cells = row * self.columns..(row + 1) * self.columns;
        self.cells[cells.clone()].fill(f64::NAN);
        if let Some(delta) = &mut self.delta {
            delta.cells[cells].fill(f64::NAN);
            delta.changed[row] = false;
        }
    }

    /// Adds `value` to column `column` (from 0, in range) of the row of `seconds`
    /// (NaN counting as 0), moving the window forward if that time is newer. The new
    /// value, or `None` when the time is older than the window.
    pub fn add(&mut self, seconds: i64, column: usize, value: f64) -> Option<f64> {
        self.advance(seconds);
        let row = self.row(seconds)?;
        let i = row * self.columns + column;
        let new = or_zero(self.cells[i]) + value;
        self.cells[i] = new;
        self.note_change(row, column, value, new);
        Some(new)
    }

    /// Sets column `column` of the row of `seconds` to `value`, as [`Buffer::add`] does.
    pub fn set(&mut self, seconds: i64, column: usize, value: f64) -> Option<f64> {
        self.advance(seconds);
        let row = self.row(seconds)?;
        let i = row * self.columns + column;
        let old = self.cells[i];
        self.cells[i] = value;
        self.note_change(row, column, value - or_zero(old), value);
        Some(value)
    }

    /// Records for "cbufd" that a cell went up by `increment` to `new`: a "sum" column's
    /// delta adds up the increments (so adding deltas elsewhere rebuilds the sums), any
    /// other column's is its new value.
    fn note_change(&mut self, row: usize, column: usize, increment: f64, new: f64) {
        let aggregation = self.headers[column].aggregation;
        let Some(delta) = &mut self.delta else {
            return;
        };
        let i = row * self.columns + column;
        delta.cells[i] = match aggregation {
            Aggregation::Sum => or_zero(delta.cells[i]) + increment,
            _ => new,
        };
        delta.changed[row] = true;
    }

    /// Column `column` (from 0, in range) of the row of `seconds`, if the window has it.
    pub fn get(&self, seconds: i64, column: usize) -> Option<f64> {
        let row = self.row(seconds)?;
        Some(self.cells[row * self.columns + column])
    }

    /// Column `column` (from 0, in range) of the rows from `start` to `end` (seconds,
    /// `start <= end`), oldest first; `None` unless the window has both.
    pub fn column(&self, column: usize, start: i64, end: i64) -> Option<Vec<f64>> {
        let first = self.row(start)?;
        self.row(end)?;
        let n = (self.row_start(end) - self.row_start(start)) / self.seconds_per_row + 1;
        let values = (0..n as usize)
            .map(|i| self.cells[(first + i) % self.rows * self.columns + column])
            .collect();
        Some(values)
    }

    /// Writes the buffer as its format says; `false` when there was nothing to write (a
    /// "cbufd" with no changes). A "cbufd" output's changes are forgotten only by
    /// [`Buffer::clear_delta`], once the text was kept.
    pub fn write_output(&self, out: &mut Vec<u8>) -> bool {
        match self.format {
            Format::Cbuf => {
                self.write_cbuf(out);
                true
            }
            Format::Cbufd => self.write_cbufd(out),
        }
    }

    /// The JSON header line.
    pub fn write_header(&self, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "{{\"time\":{},\"rows\":{},\"columns\":{},\"seconds_per_row\":{},\"column_info\":[",
            self.oldest_time(),
            self.rows,
            self.columns,
            self.seconds_per_row
        );
        for (i, h) in self.headers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Names and units are letters, digits and `_`: nothing to escape.
            let _ = write!(
                out,
                "{{\"name\":\"{}\",\"unit\":\"{}\",\"aggregation\":\"{}\"}}",
                h.name,
                h.unit,
                h.aggregation.name()
            );
        }
        out.extend_from_slice(b"]}\n");
    }

    /// Rows in time order, oldest first: their index and start time.
    fn rows_in_order(&self) -> impl Iterator<Item = (usize, i64)> + '_ {
        let oldest = self.oldest_time();
        (0..self.rows).map(move |i| {
            let row = (self.current_row + 1 + i) % self.rows;
            (row, oldest + i as i64 * self.seconds_per_row)
        })
    }

    fn write_row(&self, cells: &[f64], row: usize, out: &mut Vec<u8>) {
        for (c, v) in cells[row * self.columns..(row + 1) * self.columns]
            .iter()
            .enumerate()
        {
            if c > 0 {
                out.push(b'\t');
            }
            write_number(*v, out);
        }
        out.push(b'\n');
    }

    /// "cbuf": the header, then every row, oldest first, values separated by tabs.
    pub fn write_cbuf(&self, out: &mut Vec<u8>) {
        self.write_header(out);
        for (row, _) in self.rows_in_order() {
            self.write_row(&self.cells, row, out);
        }
    }

    /// "cbufd": the header, then each row changed since the last output, oldest first,
    /// as its time in seconds and its deltas. Nothing (`false`) without changes.
    pub fn write_cbufd(&self, out: &mut Vec<u8>) -> bool {
        let Some(delta) = &self.delta else {
            return false;
        };
        if !delta.changed.contains(&true) {
            return false;
        }
        self.write_header(out);
        for (row, time) in self.rows_in_order() {
            if delta.changed[row] {
                let _ = write!(out, "{time}\t");
                self.write_row(&delta.cells, row, out);
            }
        }
        true
    }

    /// Forgets the changes a "cbufd" output wrote.
    pub fn clear_delta(&mut self) {
        if let Some(delta) = &mut self.delta {
            delta.cells.fill(f64::NAN);
            delta.changed.fill(false);
        }
    }

    /// The state `fromstring` reads back: the newest row's time, every value (oldest
    /// row first), then each changed row's time and deltas.
    pub fn save(&self) -> String {
        fn token(out: &mut String, v: f64) {
            use std::fmt::Write as _;
            let _ = match v.is_nan() {
                true => write!(out, " nan"),
                false => write!(out, " {v:?}"),
            };
        }
        let mut out = self.current_time.to_string();
        for (row, _) in self.rows_in_order() {
            for &v in &self.cells[row * self.columns..(row + 1) * self.columns] {
                token(&mut out, v);
            }
        }
        if let Some(delta) = &self.delta {
            for (row, time) in self.rows_in_order() {
                if delta.changed[row] {
                    out.push_str(&format!(" {time}"));
                    for &v in &delta.cells[row * self.columns..(row + 1) * self.columns] {
                        token(&mut out, v);
                    }
                }
            }
        }
        out
    }

    /// Restores what [`Buffer::save`] wrote for a buffer of the same shape.
    pub fn restore(&mut self, text: &str) -> Result<(), String> {
        let mut tokens = text.split_ascii_whitespace();
        let time = tokens
            .next()
            .and_then(|t| t.parse::<i64>().ok())
            .filter(|t| t.unsigned_abs() < 1 << 53)
            .ok_or("invalid time")?;
        let number = |t: &str| t.parse::<f64>().map_err(|_| format!("invalid value '{t}'"));
        let n = self.rows * self.columns;
        let mut values = Vec::with_capacity(n.min(1 << 20));
        for t in tokens.by_ref().take(n) {
            values.push(number(t)?);
        }
        if values.len() != n {
            return Err(format!("{} values for {n} cells", values.len()));
        }
        let rest: Vec<&str> = tokens.collect();
        let group = self.columns + 1;
        if !rest.is_empty() && (self.delta.is_none() || !rest.len().is_multiple_of(group)) {
            return Err("unexpected data after the values".into());
        }
        self.current_time = self.row_start(time);
        self.current_row = self.rows - 1;
        self.cells.copy_from_slice(&values);
        self.clear_delta();
        for chunk in rest.chunks(group) {
            let time: i64 = chunk[0]
                .parse()
                .map_err(|_| format!("invalid time '{}'", chunk[0]))?;
            let Some(row) = self.row(time) else {
                continue;
            };
            if let Some(delta) = &mut self.delta {
                for (c, t) in chunk[1..].iter().enumerate() {
                    delta.cells[row * self.columns + c] = number(t)?;
                }
                delta.changed[row] = true;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(rows: usize, columns: usize, spr: i64, delta: bool) -> Buffer {
        let n = rows * columns;
        Buffer::new(
            rows,
            columns,
            spr,
            Cells::heap(n),
            delta.then(|| Cells::heap(n)),
        )
    }

    fn text(b: &Buffer) -> String {
        let mut out = Vec::new();
        b.write_output(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn new_buffers_end_at_row_time_zero_and_hold_nan() {
        let b = buffer(3, 2, 60, false);
        assert_eq!((b.oldest_time(), b.current_time()), (0, 120));
        assert!(b.get(0, 0).is_some_and(f64::is_nan));
        assert_eq!(b.get(180, 0), None);
        assert_eq!(b.get(-1, 0), None);
    }

    #[test]
    fn add_set_and_get_follow_the_window() {
        let mut b = buffer(3, 2, 60, false);
        assert_eq!(b.add(0, 0, 1.0), Some(1.0));
        assert_eq!(b.add(59, 0, 7.0), Some(8.0));
        assert_eq!(b.set(60, 1, 5.0), Some(5.0));
        assert_eq!(b.get(30, 0), Some(8.0));
        // Forward by two rows: the window is now 120..240, the row of 0 is gone and the
        // new row is NaN.
        assert_eq!(b.add(250, 0, 2.0), Some(2.0));
        assert_eq!(b.current_time(), 240);
        assert_eq!(b.get(0, 0), None);
        assert_eq!(b.add(0, 0, 1.0), None);
        assert_eq!(b.set(119, 0, 1.0), None);
        assert_eq!(b.get(60, 1), None);
        assert!(b.get(120, 0).is_some_and(f64::is_nan));
        assert!(b.get(180, 1).is_some_and(f64::is_nan));
        // Far forward: every row cleared.
        assert_eq!(b.set(10_000, 1, 3.0), Some(3.0));
        assert_eq!(b.current_time(), 9_960);
        assert!(b.get(9_960 - 60, 0).is_some_and(f64::is_nan));
        assert!(b.get(9_960, 0).is_some_and(f64::is_nan));
        assert_eq!(b.get(9_960, 1), Some(3.0));
    }

    #[test]
    fn columns_come_oldest_first() {
        let mut b = buffer(4, 1, 10, false);
        for t in [0, 10, 20, 30, 40, 50] {
            b.set(t, 0, t as f64);
        }
        assert_eq!(b.column(0, 20, 50), Some(vec![20.0, 30.0, 40.0, 50.0]));
        assert_eq!(b.column(0, 35, 45), Some(vec![30.0, 40.0]));
        assert_eq!(b.column(0, 10, 50), None);
        assert_eq!(b.column(0, 20, 60), None);
    }

    #[test]
    fn cbuf_text_is_the_header_and_every_row() {
        let mut b = buffer(3, 2, 60, false);
        b.set_header(
            0,
            Header {
                name: sanitize(b"Requests per second!", MAX_NAME),
                unit: sanitize(b"count/s", MAX_UNIT),
                aggregation: Aggregation::Max,
            },
        );
        b.add(60, 0, 1.5);
        b.add(120, 1, -2.0);
        b.set(180, 0, f64::INFINITY);
        assert_eq!(
            text(&b),
            "{\"time\":60,\"rows\":3,\"columns\":2,\"seconds_per_row\":60,\"column_info\":[\
             {\"name\":\"Requests_per_se\",\"unit\":\"count_s\",\"aggregation\":\"max\"},\
             {\"name\":\"Column_2\",\"unit\":\"count\",\"aggregation\":\"sum\"}]}\n\
             1.5\tnan\nnan\t-2\ninf\tnan\n"
        );
    }

    #[test]
    fn cbufd_text_has_only_changed_rows_until_written() {
        let mut b = buffer(3, 2, 60, true);
        b.format = Format::Cbufd;
        b.set_header(
            1,
            Header {
                name: "Peak".into(),
                unit: "B".into(),
                aggregation: Aggregation::Max,
            },
        );
        assert_eq!(text(&b), "");
        b.add(0, 0, 2.0);
        b.add(0, 0, 3.0);
        b.set(120, 0, 10.0);
        b.set(120, 0, 4.0);
        b.set(120, 1, 9.0);
        let header =
            "{\"time\":0,\"rows\":3,\"columns\":2,\"seconds_per_row\":60,\"column_info\":[\
            {\"name\":\"Column_1\",\"unit\":\"count\",\"aggregation\":\"sum\"},\
            {\"name\":\"Peak\",\"unit\":\"B\",\"aggregation\":\"max\"}]}\n";
        assert_eq!(text(&b), format!("{header}0\t5\tnan\n120\t4\t9\n"));
        b.clear_delta();
        assert_eq!(text(&b), "");
        b.add(60, 0, 1.0);
        assert_eq!(text(&b), format!("{header}60\t1\tnan\n"));
        // A row that leaves the window takes its changes with it.
        b.add(300, 1, 1.0);
        assert!(text(&b).ends_with("]}\n300\tnan\t1\n"));
    }

    #[test]
    fn saved_state_restores() {
        let mut b = buffer(3, 2, 60, true);
        b.add(100, 0, 1.25);
        b.set(200, 1, f64::NEG_INFINITY);
        b.add(200, 0, 1e300);
        let saved = b.save();
        assert_eq!(
            saved,
            "180 1.25 nan nan nan 1e300 -inf 60 1.25 nan 180 1e300 -inf"
        );
        let mut c = buffer(3, 2, 60, true);
        assert_eq!(c.restore(&saved), Ok(()));
        assert_eq!(c.save(), saved);
        assert_eq!(c.current_time(), 180);
        assert_eq!(c.get(100, 0), Some(1.25));
        assert!(c.restore("180 1 2").is_err());
        assert!(c.restore("x").is_err());
        assert!(buffer(3, 2, 60, false).restore(&saved).is_err());
    }
}
