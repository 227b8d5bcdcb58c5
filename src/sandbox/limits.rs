//! The per-call instruction budget of a sandbox (`instruction_limit`, §7.1).
//!
//! Lua's count hook charges the budget as the VM runs; native work that the hook cannot
//! see (Lua pattern matching, which runs in Rust here) charges it explicitly, so a pattern
//! that backtracks for minutes ends its sandbox like `while true do end` does. Once the
//! budget is exceeded the call is doomed: every later charge fails again, even after a
//! script's `pcall` caught the first error.

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
