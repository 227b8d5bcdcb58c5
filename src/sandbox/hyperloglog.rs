//! Heka's built-in `hyperloglog` module: approximate counts of distinct items (stock use:
//! `unique_items.lua`), as lua_sandbox 2015 made them with Redis 2.8's dense HyperLogLog.
//!
//! The layout, hash and estimator are Redis' of that time, so that counts and preserved
//! state read the same as Heka's: 2^14 six-bit registers packed little-endian-first in
//! 12,288 bytes behind Redis' 16-byte `HYLL` header, MurmurHash64A with seed `0xadc83b19`
//! (the low 14 bits pick the register, the run of zeros above them, plus one, is its
//! candidate value), and the raw HyperLogLog estimate corrected by linear counting below
//! 2.5 m and by Redis' polynomial bias fit below 72,000. Strings are hashed by their
//! bytes, numbers by the 8 bytes of their double (little-endian), as lua_sandbox hashed
//! them. The standard error is 1.04 / sqrt(16384), about 0.81%.
//!
//! Script API: `hyperloglog.new()`, `hll:add(key)` (true when a register grew, as Redis'
//! `PFADD` answers), `hll:count()`, `hll:clear()`, `hll:merge(other)` and
//! `hyperloglog.count(hll, ...)` (the estimate of the union, as the later
//! lua_sandbox_extensions module has them), and `hll:fromstring(state)` for preservation.

use super::api::{self, api_error, type_name};
use super::limits::{NativeMemory, Reserved};
use mlua::{AnyUserData, Lua, MultiValue, Table, UserData, UserDataFields, Value};

/// Bits of the hash that pick a register.
const P: u32 = 14;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bytes of the packed registers (6 bits each).
const REGISTER_BYTES: usize = REGISTERS * 6 / 8;
/// Redis' header: magic, encoding (0: dense), 3 unused bytes, the cached count.
const HEADER_BYTES: usize = 16;
/// Length of the state `fromstring` takes and preservation writes.
pub const STATE_BYTES: usize = HEADER_BYTES + REGISTER_BYTES;
const MAGIC: &[u8; 4] = b"HYLL";
/// Redis' seed for the register hash.
const SEED: u64 = 0xadc8_3b19;

/// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2), reading 8-byte blocks as
/// little-endian words as Redis' endian-neutral version does. It exists because Redis'
/// HyperLogLog, and so Heka's, places items by it.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut word = [0u8; 8];
        word.copy_from_slice(block);
        let mut k = u64::from_le_bytes(word).wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = (h ^ k).wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^ (h >> R)
}

/// The register an item falls in, and the value it offers: one more than the number of
/// zero bits of its hash above the register bits (the top bit counts as set, so at most
/// 50).
fn placement(key: &[u8]) -> (usize, u8) {
    let hash = murmur64a(key, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let run = ((hash | 1 << 63) >> P).trailing_zeros() + 1;
    (index, run as u8)
}

/// Register `i` of packed registers (which have one spare byte at the end).
fn get(registers: &[u8], i: usize) -> u8 {
    let (byte, shift) = (i * 6 / 8, i * 6 % 8);
    let pair = u16::from(registers[byte]) | u16::from(registers[byte + 1]) << 8;
    ((pair >> shift) & 63) as u8
}

fn set(registers: &mut [u8], i: usize, value: u8) {
    let (byte, shift) = (i * 6 / 8, i * 6 % 8);
    let mut pair = u16::from(registers[byte]) | u16::from(registers[byte + 1]) << 8;
    pair = (pair & !(63 << shift)) | u16::from(value & 63) << shift;
    registers[byte] = pair as u8;
    registers[byte + 1] = (pair >> 8) as u8;
}

/// Redis 2.8's estimate from the register values.
fn estimate(registers: impl Iterator<Item = u8>) -> u64 {
    let m = REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let mut zeros = 0usize;
    let mut sum = 0.0;
    // Summed as Redis does (pairs, in groups of 16), so counts match Heka's to the unit.
    let mut group = [0u8; 16];
    let mut filled = 0;
    for r in registers {
        zeros += usize::from(r == 0);
        group[filled] = r;
        filled += 1;
        if filled == group.len() {
            let inverse = |r: u8| 1.0 / (1u64 << r.min(63)) as f64;
            let mut part = inverse(group[0]) + inverse(group[1]);
            for pair in group[2..].chunks_exact(2) {
                part += inverse(pair[0]) + inverse(pair[1]);
            }
            sum += part;
            filled = 0;
        }
    }
    let mut e = (1.0 / sum) * alpha * m * m;
    if e < m * 2.5 && zeros != 0 {
        // Linear counting.
        e = m * (m / zeros as f64).ln();
    } else if e < 72_000.0 {
        // Redis' polynomial fit of the raw estimate's bias (in percent) for P = 14.
        let bias = 5.9119e-18 * (e * e * e * e) - 1.4253e-12 * (e * e * e) + 1.2940e-7 * (e * e)
            - 5.2921e-3 * e
            + 83.3216;
        e -= e * (bias / 100.0);
    }
    e as u64
}

/// One HyperLogLog (userdata `hyperloglog`). It exists so scripts can count distinct
/// items in 12 KiB whatever their number.
pub struct HyperLogLog {
    /// Packed registers and one spare byte, which stays zero.
    registers: Vec<u8>,
    /// The last count, until a register changes.
    cached: Option<u64>,
    _memory: Reserved,
}

impl HyperLogLog {
    /// An empty HyperLogLog whose memory is counted in `memory`.
    pub fn new(lua: &Lua, memory: &NativeMemory) -> mlua::Result<HyperLogLog> {
        let memory = memory.reserve(lua, REGISTER_BYTES + 1, "hyperloglog")?;
        Ok(HyperLogLog {
            registers: vec![0; REGISTER_BYTES + 1],
            cached: None,
            _memory: memory,
        })
    }

    /// Adds an item; true if a register grew (the estimate may have changed).
    pub fn add(&mut self, key: &[u8]) -> bool {
        let (index, run) = placement(key);
        if run <= get(&self.registers, index) {
            return false;
        }
        set(&mut self.registers, index, run);
        self.cached = None;
        true
    }

    /// The estimated number of distinct items added.
    pub fn count(&mut self) -> u64 {
        let registers = &self.registers;
        *self
            .cached
            .get_or_insert_with(|| estimate((0..REGISTERS).map(|i| get(registers, i))))
    }

    pub fn clear(&mut self) {
        self.registers.fill(0);
        self.cached = None;
    }

    /// Takes the larger of each pair of registers: `self` then counts the union.
    pub fn merge(&mut self, other: &HyperLogLog) {
        for i in 0..REGISTERS {
            let theirs = get(&other.registers, i);
            if theirs > get(&self.registers, i) {
                set(&mut self.registers, i, theirs);
            }
        }
        self.cached = None;
    }

    /// The state as Redis (and lua_sandbox's preservation) lays it out: header with the
    /// count cached, then the registers.
    pub fn state(&mut self) -> Vec<u8> {
        let count = self.count();
        let mut out = Vec::with_capacity(STATE_BYTES);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&self.registers[..REGISTER_BYTES]);
        out
    }

    /// Replaces the registers with those of `state` (from [`HyperLogLog::state`] or a
    /// Heka preservation file); the cached count in it is not trusted.
    pub fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        if state.len() != STATE_BYTES {
            return Err(format!(
                "fromstring() bytes found: {}, expected {STATE_BYTES}",
                state.len()
            ));
        }
        if &state[..4] != MAGIC {
            return Err("fromstring() HYLL header not found".into());
        }
        if state[4] != 0 {
            return Err("fromstring() invalid encoding".into());
        }
        self.registers[..REGISTER_BYTES].copy_from_slice(&state[HEADER_BYTES..]);
        self.registers[REGISTER_BYTES] = 0;
        self.cached = None;
        Ok(())
    }
}

impl UserData for HyperLogLog {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", methods);
    }
}

/// The lines that rebuild the HyperLogLog in `ud` as `target` when preserved data is
/// restored (`None` if `ud` is not one): made if missing, then given its state.
pub fn preservation_script(ud: &AnyUserData, target: &str) -> Option<String> {
    let state = ud.borrow_mut::<HyperLogLog>().ok()?.state();
    Some(format!(
        "if {target} == nil then {target} = require(\"hyperloglog\").new() end\n\
         {target}:fromstring({})\n",
        super::preserve::quoted(&state)
    ))
}

/// The bytes an item key is hashed by: a string's bytes, or a number's 8-byte double
/// (little-endian), as lua_sandbox's modules hashed them; `f` gets them.
pub fn with_key<R>(
    key: Option<&Value>,
    function: &str,
    f: impl FnOnce(&[u8]) -> R,
) -> mlua::Result<R> {
    match key {
        Some(Value::String(s)) => Ok(f(&s.as_bytes())),
        Some(Value::Integer(i)) => Ok(f(&(*i as f64).to_le_bytes())),
        Some(Value::Number(n)) => Ok(f(&n.to_le_bytes())),
        other => Err(api_error(format!(
            "bad argument #1 to '{function}' (string or number expected, got {})",
            other.map_or("no value", type_name)
        ))),
    }
}

/// Fails unless a call got exactly `expected` arguments, `self` included for a `method`
/// (lua_sandbox's check). The message numbers arguments as Lua does, `self` not counted.
pub fn arguments(
    args: &MultiValue,
    expected: usize,
    function: &str,
    method: bool,
) -> mlua::Result<()> {
    if args.len() == expected {
        return Ok(());
    }
    let skip = usize::from(method);
    Err(api_error(format!(
        "bad argument #{} to '{function}' (incorrect number of arguments: {} expected, got {})",
        expected.min(args.len()) + 1 - skip,
        expected.saturating_sub(skip),
        args.len().saturating_sub(skip)
    )))
}

/// The userdata a method was called on (`self`), if it is a `T` named `kind`.
pub fn this<T: 'static>(
    value: Option<&Value>,
    kind: &str,
    method: &str,
) -> mlua::Result<AnyUserData> {
    match value {
        Some(Value::UserData(ud)) if ud.is::<T>() => Ok(ud.clone()),
        other => Err(api_error(format!(
            "calling '{method}' on bad self ({kind} expected, got {})",
            other.map_or("no value", type_name)
        ))),
    }
}

/// The methods table of the userdata (its `__index`).
fn methods(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    api::register(lua, &t, "add", |_, args: MultiValue| {
        let ud = this::<HyperLogLog>(args.front(), "hyperloglog", "add")?;
        arguments(&args, 2, "add", true)?;
        let mut hll = ud.borrow_mut::<HyperLogLog>()?;
        with_key(args.get(1), "add", |key| hll.add(key))
    })?;
    api::register(lua, &t, "count", |_, args: MultiValue| {
        let ud = this::<HyperLogLog>(args.front(), "hyperloglog", "count")?;
        arguments(&args, 1, "count", true)?;
        let count = ud.borrow_mut::<HyperLogLog>()?.count();
        Ok(count as f64)
    })?;
    api::register(lua, &t, "clear", |_, args: MultiValue| {
        let ud = this::<HyperLogLog>(args.front(), "hyperloglog", "clear")?;
        arguments(&args, 1, "clear", true)?;
        ud.borrow_mut::<HyperLogLog>()?.clear();
        Ok(())
    })?;
    api::register(lua, &t, "merge", |_, args: MultiValue| {
        let ud = this::<HyperLogLog>(args.front(), "hyperloglog", "merge")?;
        arguments(&args, 2, "merge", true)?;
        let other = match args.get(1) {
            Some(Value::UserData(o)) if o.is::<HyperLogLog>() => o.clone(),
            other => {
                return Err(api_error(format!(
                    "bad argument #1 to 'merge' (hyperloglog expected, got {})",
                    other.map_or("no value", type_name)
                )))
            }
        };
        if other.to_pointer() != ud.to_pointer() {
            let other = other.borrow::<HyperLogLog>()?;
            ud.borrow_mut::<HyperLogLog>()?.merge(&other);
        }
        Ok(())
    })?;
    api::register(lua, &t, "fromstring", |_, args: MultiValue| {
        let ud = this::<HyperLogLog>(args.front(), "hyperloglog", "fromstring")?;
        arguments(&args, 2, "fromstring", true)?;
        let Some(Value::String(state)) = args.get(1) else {
            return Err(api_error(format!(
                "bad argument #1 to 'fromstring' (string expected, got {})",
                args.get(1).map_or("no value", type_name)
            )));
        };
        let mut hll = ud.borrow_mut::<HyperLogLog>()?;
        hll.restore(&state.as_bytes()).map_err(api_error)
    })?;
    Ok(t)
}

/// Builds the `hyperloglog` table of one sandbox; state memory is counted in the
/// sandbox's [`NativeMemory`] (none when the state has no such app data).
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let memory = lua
        .app_data_ref::<NativeMemory>()
        .map(|m| m.clone())
        .unwrap_or_default();
    let m = lua.create_table()?;
    api::register(lua, &m, "new", move |lua, args: MultiValue| {
        arguments(&args, 0, "new", false)?;
        lua.create_userdata(HyperLogLog::new(lua, &memory)?)
    })?;
    api::register(lua, &m, "count", |_, args: MultiValue| {
        if args.is_empty() {
            return Err(api_error(
                "bad argument #1 to 'count' (hyperloglog expected, got no value)",
            ));
        }
        let mut hlls = Vec::with_capacity(args.len());
        for (i, value) in args.iter().enumerate() {
            let hll = match value {
                Value::UserData(ud) => ud.borrow::<HyperLogLog>().ok(),
                _ => None,
            };
            let Some(hll) = hll else {
                return Err(api_error(format!(
                    "bad argument #{} to 'count' (hyperloglog expected, got {})",
                    i + 1,
                    type_name(value)
                )));
            };
            hlls.push(hll);
        }
        let union = (0..REGISTERS).map(|i| {
            let each = hlls.iter().map(|h| get(&h.registers, i));
            each.max().unwrap_or(0)
        });
        Ok(estimate(union) as f64)
    })?;
    m.raw_set("version", lua.create_function(|_, ()| Ok("0.1.0"))?)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::test_support::{eval, state_with};

    fn lua(limit: usize) -> Lua {
        state_with("hyperloglog", module, limit)
    }

    fn count_of(n: usize) -> u64 {
        let memory = NativeMemory::default();
        let mut hll = HyperLogLog::new(&Lua::new(), &memory).expect("new");
        for i in 0..n {
            hll.add(format!("item-{i}").as_bytes());
        }
        hll.count()
    }

    /// Expected values from a separate C implementation of the published algorithm
    /// (seed 0xadc83b19 unless said otherwise).
    #[test]
    fn murmur64a_matches_reference_vectors() {
        let cases: [(&[u8], u64); 8] = [
            (b"", 0xd8dfea6585bc9732),
            (b"a", 0x53d2470a9b43b1a7),
            (b"abc", 0x77ec90aeb374e502),
            (b"hello", 0x0f656f01eecfe400),
            (b"1234567", 0x85563db163632857),
            (b"12345678", 0x95ebb86389132953),
            (b"123456789", 0x217532cb09f2a44d),
            (
                b"The quick brown fox jumps over the lazy dog",
                0x51606c5c5b561ace,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur64a(input, SEED), expected, "{input:?}");
        }
        assert_eq!(murmur64a(&1.5f64.to_le_bytes(), SEED), 0xa120cffc68f14bbf);
        assert_eq!(murmur64a(b"abc", 0), 0x9cc9c33498a95efb);
        assert_eq!(murmur64a(b"", 0), 0);
    }

    #[test]
    fn registers_pack_six_bits_each() {
        let mut r = vec![0u8; REGISTER_BYTES + 1];
        for i in 0..REGISTERS {
            set(&mut r, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(get(&r, i), (i % 64) as u8, "register {i}");
        }
        assert_eq!(r[REGISTER_BYTES], 0, "the spare byte stays clear");
        // Redis' layout: register 1 starts at bit 6 of byte 0.
        let mut r = vec![0u8; 4];
        set(&mut r, 1, 0b10_1101);
        assert_eq!(r[..2], [0b0100_0000, 0b0000_1011]);
    }

    #[test]
    fn small_counts_are_exact() {
        for n in 0..=50 {
            assert_eq!(count_of(n), n as u64);
        }
    }

    /// Estimates of fixed sets of distinct strings: each within two standard errors
    /// (2 x 1.04/sqrt(16384) = 1.62%, where about 95% of estimates fall), and their
    /// root mean square error near the standard error (0.81%). The exact counts are what
    /// a separate C implementation of Redis 2.8's algorithm (one byte per register, the
    /// bit-by-bit run count) gives for the same strings.
    #[test]
    fn large_counts_are_within_the_standard_error() {
        let sizes = [1_000, 10_000, 50_000, 100_000, 1_000_000];
        let reference = [995, 9_991, 50_128, 100_640, 1_008_268];
        let mut squares = 0.0;
        for (n, expected) in sizes.into_iter().zip(reference) {
            let count = count_of(n);
            assert_eq!(count, expected, "{n}");
            let count = count as f64;
            let error = (count - n as f64) / n as f64;
            println!("{n}: {count} ({:+.3}%)", error * 100.0);
            assert!(error.abs() < 0.0162, "{n}: {count} ({:.3}%)", error * 100.0);
            squares += error * error;
        }
        let rms = (squares / sizes.len() as f64).sqrt();
        assert!(rms < 0.0081, "root mean square error {:.3}%", rms * 100.0);
    }

    #[test]
    fn add_count_clear_and_merge_from_lua() {
        let lua = lua(0);
        let (first, again, other, count): (bool, bool, bool, f64) = eval(
            &lua,
            r#"h = hyperloglog.new()
               return h:add("test"), h:add("test"), h:add(42), h:count()"#,
        );
        assert!(first && !again && other);
        assert_eq!(count, 2.0);
        let (cleared, re_added): (f64, bool) =
            eval(&lua, "h:clear() return h:count(), h:add('test')");
        assert_eq!(cleared, 0.0);
        assert!(re_added);
        let counts: (f64, f64, f64) = eval(
            &lua,
            r#"local a, b = hyperloglog.new(), hyperloglog.new()
               for i = 1, 100 do a:add("a" .. i) b:add("b" .. i) b:add("a" .. i) end
               local union = hyperloglog.count(a, b)
               local before = a:count()
               a:merge(b)
               return before, union, a:count()"#,
        );
        // Two of the 100 items share a register here: 99 is the algorithm's answer.
        let (before, union, merged) = counts;
        assert!((99.0..=100.0).contains(&before), "{counts:?}");
        assert!(
            (199.0..=201.0).contains(&union) && merged == union,
            "{counts:?}"
        );
        // Numbers hash as their double: 1 and 1.0 are the same key, "1" is another.
        let (same, string): (bool, bool) =
            eval(&lua, "h:clear() h:add(1) return h:add(1.0), h:add('1')");
        assert!(!same && string);
    }

    #[test]
    fn bad_arguments_name_the_argument() {
        let lua = lua(0);
        let cases = [
            (
                "hyperloglog.new():add({})",
                "bad argument #1 to 'add' (string or number expected, got table)",
            ),
            (
                "hyperloglog.new():add()",
                "bad argument #1 to 'add' (incorrect number of arguments: 1 expected, got 0)",
            ),
            (
                "hyperloglog.new().count(5)",
                "calling 'count' on bad self (hyperloglog expected, got number)",
            ),
            (
                "hyperloglog.new():merge('x')",
                "bad argument #1 to 'merge' (hyperloglog expected, got string)",
            ),
            (
                "hyperloglog.count(hyperloglog.new(), 1)",
                "bad argument #2 to 'count' (hyperloglog expected, got number)",
            ),
            (
                "hyperloglog.new(1)",
                "bad argument #1 to 'new' (incorrect number of arguments: 0 expected, got 1)",
            ),
            (
                "hyperloglog.new():fromstring('HYLL')",
                "fromstring() bytes found: 4, expected 12304",
            ),
        ];
        for (code, expected) in cases {
            let (ok, err): (bool, String) =
                eval(&lua, &format!("return pcall(function() {code} end)"));
            assert!(!ok, "{code}");
            assert!(err.ends_with(expected), "{code}: {err}");
        }
    }

    #[test]
    fn state_round_trips_in_redis_layout() {
        let memory = NativeMemory::default();
        let lua = Lua::new();
        let mut hll = HyperLogLog::new(&lua, &memory).expect("new");
        for i in 0..5000 {
            hll.add(format!("{i}").as_bytes());
        }
        let state = hll.state();
        assert_eq!(state.len(), STATE_BYTES);
        assert_eq!(&state[..8], b"HYLL\0\0\0\0");
        let count = hll.count();
        assert_eq!(state[8..16], count.to_le_bytes());
        let mut copy = HyperLogLog::new(&lua, &memory).expect("new");
        copy.restore(&state).expect("restores");
        assert_eq!(copy.count(), count);
        assert_eq!(copy.state(), state);
        let mut bad = state.clone();
        bad[0] = b'X';
        assert!(copy.restore(&bad).is_err());
        bad = state.clone();
        bad[4] = 1;
        assert!(copy.restore(&bad).is_err());
    }

    #[test]
    fn state_memory_counts_against_the_limit() {
        let lua = lua(256 * 1024);
        let err: String = eval(
            &lua,
            r#"local all = {}
               local ok, err = pcall(function()
                   for i = 1, 100 do all[i] = hyperloglog.new() end
               end)
               return err"#,
        );
        assert!(err.contains("not enough memory (hyperloglog)"), "{err}");
        let held = lua.app_data_ref::<NativeMemory>().map(|m| m.held());
        assert!(held.is_some_and(|h| h > 0 && h < 256 * 1024), "{held:?}");
    }
}
