//! Heka's built-in `bloom_filter` module: approximate set membership in a fixed number of
//! bits, as lua_sandbox made it (no stock script uses it; user filters may).
//!
//! For `items` expected items and a false-positive probability `p` the filter has
//! `bits = ceil(items * ln p / ln(1 / 2^ln 2))` bits (that is `-items * ln p / ln²2`) and
//! `k = round(ln 2 * bits / items)` hash functions: XXH32 of the key with seeds `0..k`,
//! each taken modulo `bits`; bit `b` is bit `b % 8` of byte `b / 8`. Keys hash as in
//! `hyperloglog`: strings by their bytes, numbers by their 8-byte double. The same layout
//! as lua_sandbox's keeps preserved filters readable both ways.
//!
//! Script API: `bloom_filter.new(items, probability)`, `bf:add(key)` (true if a bit was
//! newly set, i.e. the key was not in the filter), `bf:query(key)`, `bf:clear()`,
//! `bf:count()` (keys added so far, counted by `add` answering true), and
//! `bf:fromstring(bits [, count])` for preservation.

use super::api::{self, api_error, type_name};
use super::hyperloglog::{arguments, this, with_key};
use super::limits::{NativeMemory, Reserved};
use mlua::{AnyUserData, Lua, MultiValue, Table, UserData, UserDataFields, Value};
use std::f64::consts::LN_2;
use xxhash_rust::xxh32::xxh32;

/// One Bloom filter (userdata `bloom_filter`). It exists so scripts can remember which
/// keys they saw in a bounded amount of memory.
pub struct BloomFilter {
    items: u32,
    probability: f64,
    bits: u64,
    hashes: u32,
    data: Vec<u8>,
    /// Keys `add` found new (approximate: a false positive is not counted).
    added: u64,
    _memory: Reserved,
}

/// Most bits a filter may have: XXH32 cannot address more.
const MAX_BITS: f64 = u32::MAX as f64;

impl BloomFilter {
    /// A filter for `items` keys with false-positive probability `probability`, its
    /// memory counted in `memory`; errors name the bad argument.
    pub fn new(
        lua: &Lua,
        memory: &NativeMemory,
        items: f64,
        probability: f64,
    ) -> mlua::Result<BloomFilter> {
        let items = items.trunc();
        if !(items > 1.0 && items <= f64::from(i32::MAX)) {
            return Err(api_error(format!(
                "bad argument #1 to 'new' (items must be > 1 and < 2^31, got {items})"
            )));
        }
        if !(probability > 0.0 && probability < 1.0) {
            return Err(api_error(format!(
                "bad argument #2 to 'new' (probability must be between 0 and 1, got \
                 {probability})"
            )));
        }
        let bits = (items * probability.ln() / (1.0 / 2f64.powf(LN_2)).ln()).ceil();
        if bits > MAX_BITS {
            return Err(api_error(format!(
                "bad argument #2 to 'new' (the filter would need {bits} bits, at most \
                 {MAX_BITS})"
            )));
        }
        let bits = (bits as u64).max(1);
        let hashes = (LN_2 * bits as f64 / items).round().max(1.0) as u32;
        let bytes = bits.div_ceil(8) as usize;
        let memory = memory.reserve(lua, bytes, "bloom_filter")?;
        Ok(BloomFilter {
            items: items as u32,
            probability,
            bits,
            hashes,
            data: vec![0; bytes],
            added: 0,
            _memory: memory,
        })
    }

    /// The byte and bit mask hash `seed` picks for `key`.
    fn position(&self, key: &[u8], seed: u32) -> (usize, u8) {
        let bit = u64::from(xxh32(key, seed)) % self.bits;
        ((bit / 8) as usize, 1u8 << (bit % 8))
    }

    /// Adds `key`; true if it was not in the filter (a bit was newly set).
    pub fn add(&mut self, key: &[u8]) -> bool {
        let mut added = false;
        for seed in 0..self.hashes {
            let (byte, mask) = self.position(key, seed);
            if self.data[byte] & mask == 0 {
                self.data[byte] |= mask;
                added = true;
            }
        }
        self.added += u64::from(added);
        added
    }

    /// True if `key` may have been added (false: certainly not).
    pub fn query(&self, key: &[u8]) -> bool {
        (0..self.hashes).all(|seed| {
            let (byte, mask) = self.position(key, seed);
            self.data[byte] & mask != 0
        })
    }

    pub fn clear(&mut self) {
        self.data.fill(0);
        self.added = 0;
    }

    /// Keys added so far (approximate).
    pub fn count(&self) -> u64 {
        self.added
    }

    /// The number of keys the bits set suggest (Swamidass and Baldi), for state saved
    /// without a count (lua_sandbox's).
    fn estimated_count(&self) -> u64 {
        let set: u64 = self.data.iter().map(|b| u64::from(b.count_ones())).sum();
        let (m, k) = (self.bits as f64, f64::from(self.hashes));
        let unset = (1.0 - set as f64 / m).max(1.0 / m);
        (-(m / k) * unset.ln()).round() as u64
    }

    /// The bits, as `fromstring` takes them.
    pub fn state(&self) -> &[u8] {
        &self.data
    }

    /// Replaces the bits (and the count, or an estimate of it).
    pub fn restore(&mut self, state: &[u8], count: Option<u64>) -> Result<(), String> {
        if state.len() != self.data.len() {
            return Err(format!(
                "fromstring() bytes found: {}, expected {}",
                state.len(),
                self.data.len()
            ));
        }
        self.data.copy_from_slice(state);
        self.added = match count {
            Some(n) => n,
            None => self.estimated_count(),
        };
        Ok(())
    }
}

impl UserData for BloomFilter {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", methods);
    }
}

/// The lines that rebuild the filter in `ud` as `target` when preserved data is
/// restored (`None` if `ud` is not one): made with the same size if missing, then given
/// its bits and count.
pub fn preservation_script(ud: &AnyUserData, target: &str) -> Option<String> {
    let bf = ud.borrow::<BloomFilter>().ok()?;
    Some(format!(
        "if {target} == nil then {target} = require(\"bloom_filter\").new({}, {:?}) end\n\
         {target}:fromstring({}, {})\n",
        bf.items,
        bf.probability,
        super::preserve::quoted(bf.state()),
        bf.count()
    ))
}

/// A number argument (numbers, and strings Lua converts, as `luaL_checknumber` takes).
fn number(lua: &Lua, value: Option<&Value>, position: usize, function: &str) -> mlua::Result<f64> {
    let value = value.cloned().unwrap_or(Value::Nil);
    let given = type_name(&value);
    match lua.coerce_number(value)? {
        Some(n) => Ok(n),
        None => Err(api_error(format!(
            "bad argument #{position} to '{function}' (number expected, got {given})"
        ))),
    }
}

fn methods(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    api::register(lua, &t, "add", |_, args: MultiValue| {
        let ud = this::<BloomFilter>(args.front(), "bloom_filter", "add")?;
        arguments(&args, 2, "add", true)?;
        let mut bf = ud.borrow_mut::<BloomFilter>()?;
        with_key(args.get(1), "add", |key| bf.add(key))
    })?;
    api::register(lua, &t, "query", |_, args: MultiValue| {
        let ud = this::<BloomFilter>(args.front(), "bloom_filter", "query")?;
        arguments(&args, 2, "query", true)?;
        let bf = ud.borrow::<BloomFilter>()?;
        with_key(args.get(1), "query", |key| bf.query(key))
    })?;
    api::register(lua, &t, "clear", |_, args: MultiValue| {
        let ud = this::<BloomFilter>(args.front(), "bloom_filter", "clear")?;
        arguments(&args, 1, "clear", true)?;
        ud.borrow_mut::<BloomFilter>()?.clear();
        Ok(())
    })?;
    api::register(lua, &t, "count", |_, args: MultiValue| {
        let ud = this::<BloomFilter>(args.front(), "bloom_filter", "count")?;
        arguments(&args, 1, "count", true)?;
        let count = ud.borrow::<BloomFilter>()?.count();
        Ok(count as f64)
    })?;
    api::register(lua, &t, "fromstring", |lua, args: MultiValue| {
        let ud = this::<BloomFilter>(args.front(), "bloom_filter", "fromstring")?;
        if args.len() != 3 {
            arguments(&args, 2, "fromstring", true)?;
        }
        let Some(Value::String(state)) = args.get(1) else {
            return Err(api_error(format!(
                "bad argument #1 to 'fromstring' (string expected, got {})",
                args.get(1).map_or("no value", type_name)
            )));
        };
        let count = match args.len() {
            3 => Some(number(lua, args.get(2), 2, "fromstring")?.max(0.0) as u64),
            _ => None,
        };
        let mut bf = ud.borrow_mut::<BloomFilter>()?;
        bf.restore(&state.as_bytes(), count).map_err(api_error)
    })?;
    Ok(t)
}

/// Builds the `bloom_filter` table of one sandbox; filter memory is counted in the
/// sandbox's [`NativeMemory`] (none when the state has no such app data).
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let memory = lua
        .app_data_ref::<NativeMemory>()
        .map(|m| m.clone())
        .unwrap_or_default();
    let m = lua.create_table()?;
    api::register(lua, &m, "new", move |lua, args: MultiValue| {
        arguments(&args, 2, "new", false)?;
        let items = number(lua, args.front(), 1, "new")?;
        let probability = number(lua, args.get(1), 2, "new")?;
        lua.create_userdata(BloomFilter::new(lua, &memory, items, probability)?)
    })?;
    m.raw_set("version", lua.create_function(|_, ()| Ok("1.0.0"))?)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::test_support::{eval, state_with};

    fn lua(limit: usize) -> Lua {
        state_with("bloom_filter", module, limit)
    }

    fn filter(items: f64, probability: f64) -> BloomFilter {
        BloomFilter::new(&Lua::new(), &NativeMemory::default(), items, probability).expect("filter")
    }

    /// XXH32's published value for empty input and seed 0, and the seeds giving the
    /// filter different hashes.
    #[test]
    fn xxh32_is_the_reference_hash() {
        assert_eq!(xxh32(b"", 0), 0x02cc_5d05);
        assert_ne!(xxh32(b"key", 0), xxh32(b"key", 1));
    }

    #[test]
    fn sizes_follow_the_formulas() {
        let bf = filter(1000.0, 0.01);
        assert_eq!(bf.bits, 9586);
        assert_eq!(bf.hashes, 7);
        assert_eq!(bf.data.len(), 1199);
        let bf = filter(100_000.0, 0.001);
        assert_eq!(bf.bits, 1_437_759);
        assert_eq!(bf.hashes, 10);
    }

    #[test]
    fn no_false_negatives_and_about_the_configured_false_positives() {
        for probability in [0.01, 0.001] {
            let items = 10_000;
            let mut bf = filter(items as f64, probability);
            let mut added = 0;
            for i in 0..items {
                added += usize::from(bf.add(format!("in-{i}").as_bytes()));
            }
            assert!(added >= items * 99 / 100, "{added} new of {items}");
            assert_eq!(bf.count(), added as u64);
            assert!((0..items).all(|i| bf.query(format!("in-{i}").as_bytes())));
            let trials = 200_000;
            let positives = (0..trials)
                .filter(|i| bf.query(format!("out-{i}").as_bytes()))
                .count();
            let rate = positives as f64 / trials as f64;
            assert!(
                rate > probability * 0.7 && rate < probability * 1.3,
                "{probability}: {rate}"
            );
        }
    }

    #[test]
    fn add_query_clear_count_from_lua() {
        let lua = lua(0);
        let answers: (bool, bool, bool, bool, bool, f64) = eval(
            &lua,
            r#"bf = bloom_filter.new(1000, 0.01)
               local before = bf:query("test")
               local first, again = bf:add("test"), bf:add("test")
               local number = bf:add(7)
               return before, first, again, bf:query("test"), number, bf:count()"#,
        );
        assert_eq!(answers, (false, true, false, true, true, 2.0));
        let (found, count): (bool, f64) =
            eval(&lua, "bf:clear() return bf:query('test'), bf:count()");
        assert!(!found);
        assert_eq!(count, 0.0);
    }

    #[test]
    fn bad_arguments_name_the_argument() {
        let lua = lua(0);
        let cases = [
            (
                "bloom_filter.new(1, 0.01)",
                "bad argument #1 to 'new' (items must be > 1 and < 2^31, got 1)",
            ),
            (
                "bloom_filter.new(10, 1)",
                "bad argument #2 to 'new' (probability must be between 0 and 1, got 1)",
            ),
            (
                "bloom_filter.new('x', 0.1)",
                "bad argument #1 to 'new' (number expected, got string)",
            ),
            (
                "bloom_filter.new(10)",
                "bad argument #2 to 'new' (incorrect number of arguments: 2 expected, got 1)",
            ),
            (
                "bloom_filter.new(10, 0.1):query(true)",
                "bad argument #1 to 'query' (string or number expected, got boolean)",
            ),
            (
                "bloom_filter.new(10, 0.1).add('x', 'y')",
                "calling 'add' on bad self (bloom_filter expected, got string)",
            ),
            (
                "bloom_filter.new(2^30, 1e-300)",
                "bad argument #2 to 'new' (the filter would need",
            ),
            (
                "bloom_filter.new(10, 0.1):fromstring('ab')",
                "fromstring() bytes found: 2, expected 6",
            ),
        ];
        for (code, expected) in cases {
            let (ok, err): (bool, String) =
                eval(&lua, &format!("return pcall(function() {code} end)"));
            assert!(!ok, "{code}");
            assert!(err.contains(expected), "{code}: {err}");
        }
    }

    #[test]
    fn state_round_trips_with_or_without_a_count() {
        let mut bf = filter(1000.0, 0.01);
        for i in 0..300 {
            bf.add(format!("{i}").as_bytes());
        }
        let state = bf.state().to_vec();
        let mut copy = filter(1000.0, 0.01);
        copy.restore(&state, Some(bf.count())).expect("restores");
        assert_eq!(copy.state(), &state[..]);
        assert_eq!(copy.count(), bf.count());
        assert!((0..300).all(|i| copy.query(format!("{i}").as_bytes())));
        copy.restore(&state, None).expect("restores");
        let estimate = copy.count() as f64;
        assert!((estimate - 300.0).abs() < 15.0, "{estimate}");
    }

    #[test]
    fn bits_count_against_the_memory_limit() {
        let lua = lua(1024 * 1024);
        let (ok, err): (bool, String) =
            eval(&lua, "return pcall(bloom_filter.new, 10000000, 0.01)");
        assert!(!ok);
        assert!(err.contains("not enough memory (bloom_filter)"), "{err}");
        let ok: bool = eval(&lua, "return pcall(bloom_filter.new, 100000, 0.01)");
        assert!(ok);
    }
}
