//! Plain byte scanning for the text of /proc and /sys: words, numbers and lines without
//! regexes or allocation. Numbers become `f64` as Lua's `tonumber` makes them (correctly
//! rounded), so values match the stock Lua decoders bit for bit. They are read as
//! integers first (an integer converts to the nearest `f64`, and so does the quotient of
//! two exact ones), which keeps the float parser's code, a few pages of resident memory
//! on a router, out of the tick; only numbers too long for that take the slow path.

/// The words of `line`, separated by runs of blanks (space or tab).
pub fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
}

/// The lines of `text` without their `\n` (and a `\r` before it); no empty last line.
pub fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    text.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Digits as an integer; `None` when empty, not all digits, or over `u64`.
fn digits(word: &[u8]) -> Option<u64> {
    if word.is_empty() {
        return None;
    }
    word.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// The float parser, for numbers `digits` cannot hold exactly.
fn slow(word: &[u8]) -> Option<f64> {
    std::str::from_utf8(word).ok()?.parse().ok()
}

/// A run of decimal digits as a number; `None` for anything else (signs included).
pub fn count(word: &[u8]) -> Option<f64> {
    match digits(word) {
        Some(n) => Some(n as f64),
        None if !word.is_empty() && word.iter().all(u8::is_ascii_digit) => slow(word),
        None => None,
    }
}

/// Digits with an optional fraction (`0.52`), as /proc/loadavg writes its averages.
pub fn decimal(word: &[u8]) -> Option<f64> {
    let Some(dot) = word.iter().position(|&b| b == b'.') else {
        return count(word);
    };
    let (whole, fraction) = (&word[..dot], &word[dot + 1..]);
    let all_digits = |w: &[u8]| !w.is_empty() && w.iter().all(u8::is_ascii_digit);
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let exact = (1u64 << 53) as f64;
    match (digits(whole), digits(fraction)) {
        (Some(w), Some(f)) if fraction.len() < POW10.len() => {
            let scale = POW10[fraction.len()];
            let n = w as f64 * scale + f as f64;
            // Both operands exact: the quotient is the correctly rounded value.
            if n < exact && (w as f64) * scale < exact {
                return Some(n / scale);
            }
            slow(word)
        }
        _ => slow(word),
    }
}

/// A run of digits as an integer (pids, clock ticks, pages); `None` if not one or too big.
pub fn integer(word: &[u8]) -> Option<u64> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(word).ok()?.parse().ok()
}

/// Fills `out` with the numbers of `words`; false (and `out` partly filled) if one is not
/// a number.
pub fn counts<'a>(words: impl Iterator<Item = &'a [u8]>, out: &mut Vec<f64>) -> bool {
    for w in words {
        match count(w) {
            Some(v) => out.push(v),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lines_and_numbers() {
        let w: Vec<&[u8]> = words(b"  cpu0 12\t 3 ").collect();
        assert_eq!(w, [&b"cpu0"[..], b"12", b"3"]);
        let l: Vec<&[u8]> = lines(b"a\r\nb\n\nc\n").collect();
        assert_eq!(l, [&b"a"[..], b"b", b"", b"c"]);
        assert_eq!(count(b"18446744073709551617"), Some(18446744073709551617.0));
        assert_eq!(count(b"-1"), None);
        assert_eq!(count(b""), None);
        assert_eq!(decimal(b"0.52"), Some(0.52));
        for text in [
            "0.45",
            "12.91",
            "0.01",
            "123.456789",
            "1.1",
            "9007199254740993.5",
        ] {
            assert_eq!(decimal(text.as_bytes()), text.parse().ok(), "{text}");
        }
        assert_eq!(count(b"9007199254740993"), Some(9007199254740993.0));
        assert_eq!(decimal(b"3"), Some(3.0));
        assert_eq!(decimal(b"1."), None);
        assert_eq!(decimal(b"1e5"), None);
        assert_eq!(integer(b"4242"), Some(4242));
        let mut v = Vec::new();
        assert!(counts(words(b"1 2 3"), &mut v));
        assert_eq!(v, [1.0, 2.0, 3.0]);
        assert!(!counts(words(b"1 x"), &mut Vec::new()));
    }
}
