//! Number text as C's `printf("%.{p}g")` writes it.
//!
//! lua-cjson encodes numbers with `%.14g` (its `encode_number_precision`), so Heka's JSON
//! output says `200`, not `200.0`, and `0.1 + 0.2` gives `0.3`. Rust's own float printing
//! (shortest round trip) differs, so this module rebuilds C's `%g` rules on top of Rust's
//! shortest digits, falling back to its exact, correctly rounded `{:.Ne}` digits (the same
//! rounding glibc uses) where the shortest ones cannot tell.

use std::io::Write;

/// Precisions above this print the same text as this one: every double's exact decimal
/// expansion has fewer significant digits, and its exponent is smaller.
const MAX_PRECISION: usize = 1000;

/// Up to this precision the shortest round-trip digits, rounded, are the exact digits
/// (see `shortest_digits`).
const FAST_PRECISION: usize = 14;

/// Appends `x` as C's `printf("%.14g", x)` prints it: lua-cjson's default number text.
pub fn format_g14(x: f64, out: &mut Vec<u8>) {
    format_g(x, 14, out);
}

/// Appends `x` as C's `printf("%.{precision}g", x)` prints it.
///
/// The `%e` form is used when the exponent (after rounding to `precision` significant
/// digits) is below -4 or at least `precision`, the `%f` form otherwise; trailing zeros
/// and a trailing decimal point are removed; exponents have a sign and at least two digits.
/// A precision of 0 counts as 1, as in C. Non-finite values print `inf`, `-inf`, `nan`.
pub fn format_g(x: f64, precision: usize, out: &mut Vec<u8>) {
    let precision = precision.clamp(1, MAX_PRECISION);
    if x.is_sign_negative() {
        out.push(b'-');
    }
    let x = x.abs();
    if x.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if x.is_infinite() {
        out.extend_from_slice(b"inf");
        return;
    }
    // Subnormals have fewer bits than the fast path's reasoning needs.
    if precision <= FAST_PRECISION && (x == 0.0 || x.is_normal()) {
        if let Some(n) = small_integer(x, precision) {
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{n}");
            return;
        }
        let mut buf = [0_u8; 32];
        if let Some((len, exponent)) = shortest_digits(x, precision, &mut buf) {
            layout(&buf[..len], exponent, precision, out);
            return;
        }
    }
    let (digits, exponent) = exact_digits(x, precision);
    layout(&digits, exponent, precision, out);
}

/// `x` when it is an integer of at most `precision` digits (printed as it is).
fn small_integer(x: f64, precision: usize) -> Option<u64> {
    if x >= 1e15 || x.fract() != 0.0 {
        return None;
    }
    let n = x as u64;
    (n < 10_u64.pow(precision as u32)).then_some(n)
}

/// The significant digits of `x` rounded to `precision` (at most 14) into `buf`, without
/// trailing zeros, and the decimal exponent of the first digit; `None` when only the exact
/// expansion can tell.
///
/// Starts from the shortest digits that read back as `x`. The exact value lies within half
/// an ulp of them, an interval narrower than the gap between 15-digit decimals. So when
/// there are at most `precision` digits they are the exact rounding; when there are more,
/// rounding them goes the same way as rounding the exact value unless they end exactly on
/// the midpoint (digit `precision + 1` is their last and is 5). Only for normal numbers.
fn shortest_digits(x: f64, precision: usize, buf: &mut [u8; 32]) -> Option<(usize, i32)> {
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    write!(cursor, "{x:e}").ok()?;
    let written = usize::try_from(cursor.position()).ok()?;
    let (mut len, exponent) = split_scientific(&mut buf[..written]);
    if len > precision {
        if len == precision + 1 && buf[precision] == b'5' {
            return None;
        }
        let round_up = buf[precision] >= b'5';
        len = precision;
        if round_up && round_up_digits(&mut buf[..len]) {
            // 99..9 became 100..0: one digit more before the point.
            buf[0] = b'1';
            len = 1;
            return Some((len, exponent + 1));
        }
    }
    Some((strip_zeros(&buf[..len]), exponent))
}

/// The digits of `x` rounded to `precision` by Rust's exact formatting (correctly rounded,
/// ties to even like glibc), without trailing zeros, and the exponent of the first digit.
fn exact_digits(x: f64, precision: usize) -> (Vec<u8>, i32) {
    let mut text = format!("{:.*e}", precision - 1, x).into_bytes();
    let (len, exponent) = split_scientific(&mut text);
    let len = strip_zeros(&text[..len]).max(1);
    text.truncate(len);
    (text, exponent)
}

/// Turns Rust's `d.ddde-X` in place into its digits (moved to the front); returns their
/// number and the exponent.
fn split_scientific(text: &mut [u8]) -> (usize, i32) {
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let mut exponent: i32 = 0;
    for &b in &text[e_at..] {
        if b.is_ascii_digit() {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i32::from(b - b'0'));
        }
    }
    if text.get(e_at + 1) == Some(&b'-') {
        exponent = -exponent;
    }
    let mut len = 0;
    for at in 0..e_at {
        if text[at] != b'.' {
            text[len] = text[at];
            len += 1;
        }
    }
    (len, exponent)
}

/// Adds one unit in the last place of decimal `digits`; true when it carried out of the
/// first digit (all nines).
fn round_up_digits(digits: &mut [u8]) -> bool {
    for digit in digits.iter_mut().rev() {
        if *digit == b'9' {
            *digit = b'0';
        } else {
            *digit += 1;
            return false;
        }
    }
    true
}

/// The length of `digits` without trailing zeros (at least 1).
fn strip_zeros(digits: &[u8]) -> usize {
    digits
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(1, |last| last + 1)
}

/// Writes significant `digits` (no trailing zeros) with decimal `exponent` in `%g` form.
fn layout(digits: &[u8], exponent: i32, precision: usize, out: &mut Vec<u8>) {
    let exponential = exponent < -4 || usize::try_from(exponent).is_ok_and(|e| e >= precision);
    if exponential {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.unsigned_abs());
    } else if let Ok(before_point) = usize::try_from(exponent) {
        let whole = before_point + 1;
        if digits.len() <= whole {
            out.extend_from_slice(digits);
            out.resize(out.len() + whole - digits.len(), b'0');
        } else {
            out.extend_from_slice(&digits[..whole]);
            out.push(b'.');
            out.extend_from_slice(&digits[whole..]);
        }
    } else {
        out.extend_from_slice(b"0.");
        let zeros = exponent.unsigned_abs() as usize - 1;
        out.resize(out.len() + zeros, b'0');
        out.extend_from_slice(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(x: f64, precision: usize) -> String {
        let mut out = Vec::new();
        format_g(x, precision, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Reference outputs of glibc's printf (generated with Python's `%` operator, which
    /// follows C, and checked against a C program).
    #[test]
    fn matches_c_printf_reference_table() {
        let cases = include_str!("testdata/format_g_cases.txt");
        let mut checked = 0;
        for line in cases
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let mut fields = line.split(' ');
            let (Some(bits), Some(precision), Some(expected)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("bad case line {line:?}");
            };
            let x = f64::from_bits(u64::from_str_radix(bits, 16).expect("hex bits"));
            let precision: usize = precision.parse().expect("precision");
            assert_eq!(
                g(x, precision),
                expected,
                "%.{precision}g of {x:e} ({bits})"
            );
            checked += 1;
        }
        assert!(checked > 900, "only {checked} cases");
    }

    #[test]
    fn g14_examples_from_heka_scripts() {
        let g14 = |x: f64| {
            let mut out = Vec::new();
            format_g14(x, &mut out);
            String::from_utf8(out).expect("ascii")
        };
        assert_eq!(g14(1392050801123.5), "1392050801123.5");
        assert_eq!(g14(0.1 + 0.2), "0.3");
        assert_eq!(g14(200.0), "200");
        assert_eq!(g14(1e20), "1e+20");
        assert_eq!(g14(1e15), "1e+15");
        assert_eq!(g14(123456789012345678.0), "1.2345678901235e+17");
        assert_eq!(g14(1.0 / 3.0), "0.33333333333333");
        assert_eq!(g14(0.0001), "0.0001");
        assert_eq!(g14(0.00001), "1e-05");
        assert_eq!(g14(-0.0), "-0");
        assert_eq!(g14(5e-324), "4.9406564584125e-324");
        assert_eq!(g14(2f64.powi(63)), "9.2233720368548e+18");
    }

    #[test]
    fn precision_zero_and_huge() {
        assert_eq!(g(2.5, 0), "2");
        assert_eq!(g(0.1, 20), "0.10000000000000000555");
        assert_eq!(g(0.1, usize::MAX), g(0.1, MAX_PRECISION));
        assert_eq!(g(5e-324, 2000).len(), g(5e-324, MAX_PRECISION).len());
    }

    #[test]
    fn non_finite() {
        assert_eq!(g(f64::INFINITY, 14), "inf");
        assert_eq!(g(f64::NEG_INFINITY, 14), "-inf");
        assert_eq!(g(f64::NAN, 14), "nan");
    }

    /// The fast paths against the exact digits, on random doubles and on decimals that
    /// sit on a rounding midpoint.
    #[test]
    fn fast_paths_agree_with_exact_digits() {
        let exact = |x: f64, precision: usize| {
            let (digits, exponent) = exact_digits(x, precision);
            let mut out = Vec::new();
            layout(&digits, exponent, precision, &mut out);
            String::from_utf8(out).expect("ascii")
        };
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let x = match round % 4 {
                0 => f64::from_bits(random() >> 1),
                1 => (random() % 100_000_000_000_000_000) as f64 / 1e3,
                2 => format!("{}5e{}", random() % 100_000_000_000_000, round % 40 - 20)
                    .parse()
                    .expect("decimal"),
                _ => (random() % 1_000_000) as f64 / 64.0,
            };
            if !x.is_finite() {
                continue;
            }
            for precision in [1, 2, 6, 13, 14] {
                assert_eq!(
                    g(x, precision),
                    exact(x, precision),
                    "%.{precision}g of {x:e}"
                );
            }
        }
    }
}
