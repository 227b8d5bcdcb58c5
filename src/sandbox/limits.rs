//! The per-call instruction budget of a sandbox (`instruction_limit`, §7.1).
//!
//! Lua's count hook charges the budget as the VM runs; native work that the hook cannot
//! see (Lua pattern matching, which runs in Rust here) charges it explicitly, so a pattern
//! that backtracks for minutes ends its sandbox like `while true do end` does. Once the
//! budget is exceeded the call is doomed: every later charge fails again, even after a
//! script's `pcall` caught the first error.
//!
//! [`NativeMemory`] is the `memory_limit`'s counterpart for state that native modules keep
//! outside the Lua heap (hyperloglog registers, Bloom filter bits).

use std::cell::Cell;

/// Text of the error that ends a call over its budget (Heka's wording).
pub const INSTRUCTION_LIMIT_EXCEEDED: &str = "instruction_limit exceeded";

/// Instructions used by the current call, against the configured limit.
#[derive(Debug, Default)]
pub struct Instructions {
    /// 0: unlimited.
    limit: u64,
    used: Cell<u64>,
    /// The most one call used (the report's MaxInstructions).
    max: Cell<u64>,
    exceeded: Cell<bool>,
}

impl Instructions {
    /// A budget of `limit` instructions per call (0: unlimited).
    pub fn new(limit: u64) -> Instructions {
        Instructions {
            limit,
            ..Instructions::default()
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Adds `n` instructions to the current call; fails once the limit is passed.
    pub fn charge(&self, n: u64) -> mlua::Result<()> {
        let used = self.used.get().saturating_add(n);
        self.used.set(used);
        if self.limit > 0 && used > self.limit {
            self.exceeded.set(true);
        }
        self.check()
    }

    /// Fails if the current call already went over its budget.
    pub fn check(&self) -> mlua::Result<()> {
        match self.exceeded.get() {
            true => Err(mlua::Error::runtime(INSTRUCTION_LIMIT_EXCEEDED)),
            false => Ok(()),
        }
    }

    /// Starts a new call with an empty budget.
    pub fn start_call(&self) {
        self.used.set(0);
        self.exceeded.set(false);
    }

    /// Ends the call, keeping its use for the report.
    pub fn finish_call(&self) {
        self.max.set(self.max.get().max(self.used.get()));
    }

    /// The most instructions one call used so far.
    pub fn max(&self) -> u64 {
        self.max.get()
    }
}

/// Memory that native objects of a sandbox (hyperloglog and bloom_filter state) hold
/// outside the Lua heap: mlua keeps a userdata's Rust value on the Rust heap, where the
/// Lua allocator's `memory_limit` does not see it. Each object reserves its bytes here,
/// checked against the limit together with what Lua uses, and gives them back when Lua
/// collects it.
#[derive(Debug, Clone, Default)]
pub struct NativeMemory {
    /// The sandbox's `memory_limit` in bytes (0: none).
    limit: usize,
    held: std::rc::Rc<Cell<usize>>,
}

impl NativeMemory {
    /// Native memory of a sandbox whose `memory_limit` is `limit` bytes (0: none).
    pub fn new(limit: usize) -> NativeMemory {
        NativeMemory {
            limit,
            held: Default::default(),
        }
    }

    /// Reserves `bytes` for an object about to be made, or fails as Lua does when out of
    /// memory (`what` names the object in the message).
    pub fn reserve(&self, lua: &mlua::Lua, bytes: usize, what: &str) -> mlua::Result<Reserved> {
        let held = self.held.get().saturating_add(bytes);
        if self.limit > 0 && lua.used_memory().saturating_add(held) > self.limit {
            return Err(mlua::Error::runtime(format!("not enough memory ({what})")));
        }
        self.held.set(held);
        Ok(Reserved {
            bytes,
            held: self.held.clone(),
        })
    }

    /// Bytes held now by live objects.
    pub fn held(&self) -> usize {
        self.held.get()
    }
}

/// Bytes reserved by one native object, given back when it is dropped.
#[derive(Debug)]
pub struct Reserved {
    bytes: usize,
    held: std::rc::Rc<Cell<usize>>,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.held.set(self.held.get().saturating_sub(self.bytes));
    }
}

/// What a sandbox's state uses now: the Lua heap and its native objects' memory.
pub fn memory_in_use(lua: &mlua::Lua) -> usize {
    let native = lua.app_data_ref::<NativeMemory>().map_or(0, |m| m.held());
    lua.used_memory().saturating_add(native)
}
