//! Sets of bytes, the unit LPeg's `S`, `R`, `locale` classes and single-byte choices
//! compile to: 256 bits, merged with `+` and `-` at construction so `(1 - S",")^1` becomes
//! one span over a set.

/// A set of byte values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Charset([u64; 4]);

impl Charset {
    /// Every byte.
    pub const FULL: Charset = Charset([u64::MAX; 4]);

    /// The set holding the bytes of `bytes`.
    pub fn of(bytes: &[u8]) -> Charset {
        let mut set = Charset::default();
        for &b in bytes {
            set.insert(b);
        }
        set
    }

    /// The bytes from `low` to `high`, both included (empty when `low > high`).
    pub fn range(low: u8, high: u8) -> Charset {
        let mut set = Charset::default();
        for b in low..=high {
            set.insert(b);
        }
        set
    }

    /// The bytes for which `test` holds.
    pub fn from_fn(test: impl Fn(u8) -> bool) -> Charset {
        let mut set = Charset::default();
        for b in 0..=255u8 {
            if test(b) {
                set.insert(b);
            }
        }
        set
    }

    pub fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    #[inline(always)]
    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    pub fn union(&self, other: &Charset) -> Charset {
        Charset(std::array::from_fn(|i| self.0[i] | other.0[i]))
    }

    pub fn minus(&self, other: &Charset) -> Charset {
        Charset(std::array::from_fn(|i| self.0[i] & !other.0[i]))
    }

    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    pub fn is_full(&self) -> bool {
        *self == Charset::FULL
    }

    /// The only byte of a one-byte set.
    pub fn single(&self) -> Option<u8> {
        let count: u32 = self.0.iter().map(|w| w.count_ones()).sum();
        match count {
            1 => (0..=255u8).find(|&b| self.contains(b)),
            _ => None,
        }
    }
}

/// A byte test of a character class.
pub type ClassTest = fn(u8) -> bool;

/// C-locale character classes as `lpeg.locale` names them (ctype.h: `space` includes \v).
pub const CLASSES: [(&str, ClassTest); 11] = [
    ("alnum", |b| b.is_ascii_alphanumeric()),
    ("alpha", |b| b.is_ascii_alphabetic()),
    ("cntrl", |b| b.is_ascii_control()),
    ("digit", |b| b.is_ascii_digit()),
    ("graph", |b| b.is_ascii_graphic()),
    ("lower", |b| b.is_ascii_lowercase()),
    ("print", |b| b.is_ascii_graphic() || b == b' '),
    ("punct", |b| b.is_ascii_punctuation()),
    ("space", |b| {
        matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
    }),
    ("upper", |b| b.is_ascii_uppercase()),
    ("xdigit", |b| b.is_ascii_hexdigit()),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_algebra() {
        let digits = Charset::range(b'0', b'9');
        assert!(digits.contains(b'0') && digits.contains(b'9') && !digits.contains(b'a'));
        let some = Charset::of(b"59x");
        assert_eq!(digits.minus(&some), Charset::of(b"01234678"));
        assert!(digits.union(&some).contains(b'x'));
        assert_eq!(Charset::of(b"z").single(), Some(b'z'));
        assert_eq!(some.single(), None);
        assert!(Charset::FULL.minus(&Charset::FULL).is_empty());
        assert!(Charset::range(b'b', b'a').is_empty());
        let space = Charset::from_fn(CLASSES[8].1);
        assert!(space.contains(0x0b) && !space.contains(b'x'));
    }
}
