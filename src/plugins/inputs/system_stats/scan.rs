//! Plain byte scanning for the text of /proc and /sys: words, numbers and lines without
//! regexes or allocation. Numbers become `f64` as Lua's `tonumber` makes them (correctly
//! rounded), so values match the stock Lua decoders bit for bit.

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

/// A run of decimal digits as a number; `None` for anything else (signs included).
pub fn count(word: &[u8]) -> Option<f64> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(word).ok()?.parse().ok()
}

/// Digits with an optional fraction (`0.52`), as /proc/loadavg writes its averages.
pub fn decimal(word: &[u8]) -> Option<f64> {
    let (whole, fraction) = match word.iter().position(|&b| b == b'.') {
        Some(dot) => (&word[..dot], Some(&word[dot + 1..])),
        None => (word, None),
    };
    count(whole)?;
    if let Some(f) = fraction {
        count(f)?;
    }
    std::str::from_utf8(word).ok()?.parse().ok()
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
