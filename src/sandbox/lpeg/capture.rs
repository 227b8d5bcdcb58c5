//! Turns the capture list a match recorded into Lua values, as the LPeg manual defines
//! each capture (values, "no value" vs nil, fold order, `Cs` nesting). Runs after the
//! match, except for the captures nested in a `Cmt`, evaluated when it closes.
//!
//! The values are built directly on the Lua stack with the C API, inside one protected
//! call per match (through mlua every string and table store cost a protected call of its
//! own, most of a match's time). Lua errors (memory, a capture function failing) unwind
//! with `longjmp` to that protected call, so nothing here holds a value with a destructor
//! across a call into Lua: the evaluator only borrows, and error texts are moved onto the
//! Lua stack before they are raised.

use super::compile::{PayloadRef, Program};
use super::tree::CapKind;
use super::vm::{Cap, Slot};
use crate::sandbox::limits::{Instructions, INSTRUCTION_LIMIT_EXCEEDED};
use mlua::ffi::{self, lua_State};
use std::os::raw::c_int;

/// Captures nested deeper than this end the match with an error (bounds the evaluator's
/// native recursion).
const MAX_NESTING: u32 = 200;
/// Pieces a `Cs` or string replacement keeps on the stack before joining them.
const JOIN_EVERY: c_int = 16;

/// Where the evaluation's inputs are on the Lua stack.
#[derive(Clone, Copy)]
pub struct Stack {
    /// The pattern's value table.
    pub values: c_int,
    /// The values `Cmt` functions returned (a table, or nil).
    pub dynamic: c_int,
    /// The first of `match`'s extra arguments (`Carg`), and their count.
    pub args: c_int,
    pub nargs: c_int,
}

/// One evaluation over a capture list.
pub struct Eval<'a> {
    l: *mut lua_State,
    program: &'a Program,
    subject: &'a [u8],
    caps: &'a [Cap],
    stack: Stack,
    depth: u32,
    /// Capture entries visited since the last charge to the instruction budget (building
    /// values runs no Lua instruction the hook could count; back references can revisit
    /// a group many times).
    steps: u64,
    instructions: &'a Instructions,
}

/// Entries visited between two charges to the instruction budget.
const CHARGE_EVERY: u64 = 1024;

/// Raises `text` as a Lua error. The text is copied to a fixed buffer and dropped before
/// anything that can `longjmp` (pushing it can fail for memory).
unsafe fn raise(l: *mut lua_State, text: String) -> ! {
    let mut buffer = [0u8; 256];
    let len = text.len().min(buffer.len());
    buffer[..len].copy_from_slice(&text.as_bytes()[..len]);
    drop(text);
    ffi::lua_pushlstring(l, buffer.as_ptr().cast(), len);
    ffi::lua_error(l)
}

unsafe fn type_name(l: *mut lua_State, idx: c_int) -> String {
    let name = ffi::lua_typename(l, ffi::lua_type(l, idx));
    std::ffi::CStr::from_ptr(name)
        .to_string_lossy()
        .into_owned()
}

impl<'a> Eval<'a> {
    /// # Safety
    /// `l` must be the state the match ran in, inside a protected call, with `stack`
    /// describing its stack.
    pub unsafe fn new(
        l: *mut lua_State,
        program: &'a Program,
        subject: &'a [u8],
        caps: &'a [Cap],
        stack: Stack,
        instructions: &'a Instructions,
    ) -> Eval<'a> {
        Eval {
            l,
            program,
            subject,
            caps,
            stack,
            depth: 0,
            steps: 0,
            instructions,
        }
    }

    /// Counts one visited entry; charges the budget every [`CHARGE_EVERY`].
    unsafe fn step(&mut self) {
        self.steps += 1;
        if self.steps >= CHARGE_EVERY {
            self.steps = 0;
            if self.instructions.charge(CHARGE_EVERY).is_err() {
                raise(self.l, INSTRUCTION_LIMIT_EXCEEDED.into());
            }
        }
    }

    /// Pushes the values of the captures from entry `i` to the end of the list (all of
    /// them, or those nested in a `Cmt` that just closed; earlier entries stay visible to
    /// back references). Returns their count.
    pub unsafe fn push_from(&mut self, mut i: usize) -> c_int {
        let mut n = 0;
        while i < self.caps.len() {
            n += self.push(&mut i).0;
        }
        n
    }

    unsafe fn check_stack(&self, n: c_int) {
        ffi::luaL_checkstack(self.l, n + 4, c"too many captures".as_ptr());
    }

    unsafe fn text(&self, from: usize, to: usize) {
        let bytes = &self.subject[from..to];
        ffi::lua_pushlstring(self.l, bytes.as_ptr().cast(), bytes.len());
    }

    fn payload(&self, cap: &Cap) -> PayloadRef {
        self.program.payloads[cap.idx as usize]
    }

    /// Pushes value `key` of the pattern's value table.
    unsafe fn value(&self, key: u32) {
        ffi::lua_rawgeti(self.l, self.stack.values, key as ffi::lua_Integer);
    }

    unsafe fn entry(&self, i: usize) -> Cap {
        match self.caps.get(i) {
            Some(cap) => *cap,
            None => raise(self.l, "lpeg: malformed capture list".into()),
        }
    }

    /// Pushes the values of the captures nested in the one at `*i` (moving past it);
    /// with `whole`, the capture's match stands in when none gives a value. Returns the
    /// count and the capture's end offset.
    unsafe fn nested(&mut self, i: &mut usize, whole: bool) -> (c_int, usize) {
        let open = self.entry(*i);
        *i += 1;
        let (mut n, end) = if open.is_open() {
            let mut n = 0;
            loop {
                let cap = self.entry(*i);
                if cap.slot == Slot::Close {
                    *i += 1;
                    break (n, cap.pos);
                }
                n += self.push(i).0;
            }
        } else {
            (0, open.pos + open.len)
        };
        if whole && n == 0 {
            self.check_stack(1);
            self.text(open.pos, end);
            n = 1;
        }
        (n, end)
    }

    /// Moves `*i` past the capture there without evaluating it; returns its end.
    unsafe fn skip(&mut self, i: &mut usize) -> usize {
        let open = self.entry(*i);
        *i += 1;
        if !open.is_open() {
            return open.pos + open.len;
        }
        let mut depth = 0usize;
        loop {
            self.step();
            let cap = self.entry(*i);
            *i += 1;
            if cap.slot == Slot::Close {
                if depth == 0 {
                    return cap.pos;
                }
                depth -= 1;
            } else if cap.is_open() {
                depth += 1;
            }
        }
    }

    /// Pushes the first value of the capture at `*i` (moving past it), or nothing when
    /// it gives none. Returns whether it pushed, and the capture's end.
    unsafe fn first_value(&mut self, i: &mut usize) -> (bool, usize) {
        let (n, end) = self.push(i);
        if n > 1 {
            ffi::lua_pop(self.l, n - 1);
        }
        (n > 0, end)
    }

    /// Pushes the values of the capture at `*i`, moving past it; returns their count and
    /// the capture's end offset.
    pub unsafe fn push(&mut self, i: &mut usize) -> (c_int, usize) {
        if self.depth >= MAX_NESTING {
            raise(self.l, "lpeg: captures nested too deeply".into());
        }
        self.depth += 1;
        self.step();
        self.check_stack(2);
        let result = self.push_capture(i);
        self.depth -= 1;
        result
    }

    unsafe fn push_capture(&mut self, i: &mut usize) -> (c_int, usize) {
        let l = self.l;
        let cap = self.entry(*i);
        let kind = match cap.slot {
            Slot::Capture(kind) => kind,
            Slot::Dynamic => {
                *i += 1;
                return (self.push_dynamic(cap.idx), cap.pos + cap.len);
            }
            Slot::Close => raise(l, "lpeg: malformed capture list".into()),
        };
        let payload = self.payload(&cap);
        match kind {
            CapKind::Simple => {
                let at = ffi::lua_gettop(l) + 1;
                ffi::lua_pushnil(l);
                let (n, end) = self.nested(i, false);
                self.text(cap.pos, end);
                ffi::lua_replace(l, at);
                (n + 1, end)
            }
            CapKind::Position => {
                let end = self.skip(i);
                ffi::lua_pushinteger(l, (cap.pos + 1) as ffi::lua_Integer);
                (1, end)
            }
            CapKind::Const => {
                let end = self.skip(i);
                let count = payload.count as c_int;
                self.check_stack(count);
                for k in 0..payload.count {
                    self.value(payload.key + k);
                }
                (count, end)
            }
            CapKind::Arg => {
                let end = self.skip(i);
                let n = payload.index as c_int;
                if n > self.stack.nargs {
                    raise(l, format!("reference to absent extra argument #{n}"));
                }
                ffi::lua_pushvalue(l, self.stack.args + n - 1);
                (1, end)
            }
            CapKind::Backref => {
                let here = *i;
                let end = self.skip(i);
                let Some(mut group) = self.find_group(here, payload.key) else {
                    self.value(payload.key);
                    let text = format!("back reference '{}' not found", key_text(l, -1));
                    raise(l, text);
                };
                let (n, _) = self.nested(&mut group, true);
                (n, end)
            }
            CapKind::Group if payload.key != 0 => (0, self.skip(i)),
            CapKind::Group => self.nested(i, true),
            CapKind::Table => self.table(i),
            CapKind::Fold => self.fold(i, payload.key),
            CapKind::Subst => self.substitute(i),
            CapKind::String => self.string(i, payload.key),
            CapKind::Number => {
                let n = payload.index as c_int;
                if n == 0 {
                    return (0, self.skip(i));
                }
                let base = ffi::lua_gettop(l);
                let (count, end) = self.nested(i, true);
                if n > count {
                    raise(l, format!("no capture '{n}'"));
                }
                ffi::lua_pushvalue(l, base + n);
                ffi::lua_replace(l, base + 1);
                ffi::lua_settop(l, base + 1);
                (1, end)
            }
            CapKind::Query => {
                let base = ffi::lua_gettop(l);
                let (_, end) = self.nested(i, true);
                ffi::lua_settop(l, base + 1);
                self.value(payload.key);
                ffi::lua_insert(l, -2);
                ffi::lua_gettable(l, -2);
                ffi::lua_remove(l, -2);
                if ffi::lua_isnil(l, -1) != 0 {
                    ffi::lua_pop(l, 1);
                    return (0, end);
                }
                (1, end)
            }
            CapKind::Function => {
                let base = ffi::lua_gettop(l);
                self.value(payload.key);
                let (n, end) = self.nested(i, true);
                ffi::lua_call(l, n, ffi::LUA_MULTRET);
                self.check_stack(1);
                (ffi::lua_gettop(l) - base, end)
            }
            CapKind::ToNumber => {
                let base = ffi::lua_gettop(l);
                self.value(payload.key);
                let (n, end) = self.nested(i, true);
                if n != 1 {
                    ffi::lua_call(l, n, ffi::LUA_MULTRET);
                    self.check_stack(1);
                    return (ffi::lua_gettop(l) - base, end);
                }
                // tonumber(v): v as a number if Lua can read it as one, else nil.
                if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
                    let mut len = 0usize;
                    let text = ffi::lua_tolstring(l, -1, &mut len);
                    if let Some(number) =
                        plain_decimal(std::slice::from_raw_parts(text.cast::<u8>(), len))
                    {
                        ffi::lua_pushnumber(l, number);
                        ffi::lua_replace(l, -2);
                    }
                }
                if ffi::lua_type(l, -1) != ffi::LUA_TNUMBER {
                    if ffi::lua_isnumber(l, -1) != 0 {
                        let number = ffi::lua_tonumber(l, -1);
                        ffi::lua_pushnumber(l, number);
                    } else {
                        ffi::lua_pushnil(l);
                    }
                    ffi::lua_replace(l, -2);
                }
                ffi::lua_replace(l, -2);
                (1, end)
            }
            CapKind::Runtime => raise(l, "lpeg: malformed capture list (Cmt)".into()),
        }
    }

    /// Pushes the values a `Cmt` function returned (entry `idx` of the dynamic table).
    unsafe fn push_dynamic(&mut self, idx: u32) -> c_int {
        let l = self.l;
        ffi::lua_rawgeti(l, self.stack.dynamic, idx as ffi::lua_Integer);
        ffi::lua_getfield(l, -1, c"n".as_ptr());
        let n = ffi::lua_tointeger(l, -1) as c_int;
        ffi::lua_pop(l, 1);
        self.check_stack(n);
        for k in 1..=n {
            ffi::lua_rawgeti(l, -k, ffi::lua_Integer::from(k));
        }
        ffi::lua_remove(l, -n - 1);
        n
    }

    /// The most recent complete, outermost group named like value `key` before entry
    /// `from`.
    unsafe fn find_group(&mut self, from: usize, key: u32) -> Option<usize> {
        let mut j = from;
        while j > 0 {
            self.step();
            j -= 1;
            let cap = self.caps[j];
            if cap.is_open() {
                // A capture enclosing the back reference: look further out.
                continue;
            }
            if cap.slot == Slot::Close {
                j = self.open_of_close(j)?;
            }
            let start = self.caps[j];
            if start.slot == Slot::Capture(CapKind::Group) {
                let name = self.payload(&start).key;
                if name != 0 && self.same_value(name, key) {
                    return Some(j);
                }
            }
        }
        None
    }

    unsafe fn same_value(&self, a: u32, b: u32) -> bool {
        if a == b {
            return true;
        }
        self.value(a);
        self.value(b);
        let same = ffi::lua_rawequal(self.l, -1, -2) != 0;
        ffi::lua_pop(self.l, 2);
        same
    }

    fn open_of_close(&self, close: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut j = close;
        while j > 0 {
            j -= 1;
            let cap = self.caps[j];
            if cap.slot == Slot::Close {
                depth += 1;
            } else if cap.is_open() {
                if depth == 0 {
                    return Some(j);
                }
                depth -= 1;
            }
        }
        None
    }

    /// Moves `*i` into the capture there; returns whether it has nested entries (else
    /// it was a whole capture, already passed) and its start.
    unsafe fn enter(&self, i: &mut usize) -> (bool, usize, usize) {
        let open = self.entry(*i);
        *i += 1;
        match open.is_open() {
            true => (true, open.pos, open.pos),
            false => (false, open.pos, open.pos + open.len),
        }
    }

    /// Whether the entry at `i` closes the capture being walked (then moves past it and
    /// gives its end).
    unsafe fn at_close(&self, i: &mut usize) -> Option<usize> {
        let cap = self.entry(*i);
        if cap.slot == Slot::Close {
            *i += 1;
            return Some(cap.pos);
        }
        None
    }

    /// The named groups and other captures directly nested in the open capture at `i`
    /// (sizes a table capture's table up front).
    unsafe fn children(&mut self, i: usize) -> (c_int, c_int) {
        let (mut named, mut others) = (0, 0);
        let mut j = i + 1;
        while let Some(cap) = self.caps.get(j) {
            if cap.slot == Slot::Close {
                break;
            }
            match cap.slot == Slot::Capture(CapKind::Group) && self.payload(cap).key != 0 {
                true => named += 1,
                false => others += 1,
            }
            self.skip(&mut j);
        }
        (named, others)
    }

    unsafe fn table(&mut self, i: &mut usize) -> (c_int, usize) {
        let l = self.l;
        let (named, others) = match self.entry(*i).is_open() {
            true => self.children(*i),
            false => (0, 0),
        };
        ffi::lua_createtable(l, others, named);
        let t = ffi::lua_gettop(l);
        let (nested, _, whole_end) = self.enter(i);
        if !nested {
            return (1, whole_end);
        }
        let mut index: ffi::lua_Integer = 0;
        loop {
            if let Some(end) = self.at_close(i) {
                return (1, end);
            }
            let cap = self.entry(*i);
            let group = match cap.slot {
                Slot::Capture(CapKind::Group) => self.payload(&cap).key,
                _ => 0,
            };
            if group != 0 {
                let payload = self.payload(&cap);
                let (n, _) = self.nested(i, true);
                if n > 0 {
                    ffi::lua_settop(l, t + 1);
                    self.value(payload.key);
                    ffi::lua_insert(l, -2);
                    ffi::lua_rawset(l, t);
                } else {
                    ffi::lua_settop(l, t);
                }
                continue;
            }
            let (n, _) = self.push(i);
            for k in (1..=n).rev() {
                ffi::lua_rawseti(l, t, index + ffi::lua_Integer::from(k));
            }
            index += ffi::lua_Integer::from(n);
        }
    }

    unsafe fn fold(&mut self, i: &mut usize, function: u32) -> (c_int, usize) {
        let l = self.l;
        let (nested, _, _) = self.enter(i);
        if !nested {
            raise(l, "no initial value for fold capture".into());
        }
        if let Some(_end) = self.at_close(i) {
            raise(l, "no initial value for fold capture".into());
        }
        let base = ffi::lua_gettop(l);
        let (n, _) = self.push(i);
        if n == 0 {
            raise(l, "no initial value for fold capture".into());
        }
        ffi::lua_settop(l, base + 1);
        loop {
            if let Some(end) = self.at_close(i) {
                return (1, end);
            }
            self.value(function);
            ffi::lua_insert(l, -2);
            let (n, _) = self.push(i);
            ffi::lua_call(l, n + 1, 1);
        }
    }

    /// Joins the `pieces` strings on top of the stack into one when there are enough.
    unsafe fn join(&self, pieces: &mut c_int, force: bool) {
        if *pieces >= JOIN_EVERY || (force && *pieces != 1) {
            if *pieces == 0 {
                ffi::lua_pushlstring(self.l, c"".as_ptr(), 0);
            } else {
                ffi::lua_concat(self.l, *pieces);
            }
            *pieces = 1;
        }
    }

    unsafe fn substitute(&mut self, i: &mut usize) -> (c_int, usize) {
        let l = self.l;
        let (nested, start, whole_end) = self.enter(i);
        if !nested {
            self.text(start, whole_end);
            return (1, whole_end);
        }
        self.check_stack(JOIN_EVERY + 2);
        let mut cursor = start;
        let mut pieces: c_int = 0;
        loop {
            if let Some(end) = self.at_close(i) {
                self.text(cursor, end);
                pieces += 1;
                self.join(&mut pieces, true);
                return (1, end);
            }
            let at = self.entry(*i).pos;
            self.text(cursor, at);
            pieces += 1;
            let (pushed, end) = self.first_value(i);
            if !pushed {
                self.text(at, end);
            } else if ffi::lua_isstring(l, -1) == 0 {
                let text = format!("invalid replacement value (a {})", type_name(l, -1));
                raise(l, text);
            }
            pieces += 1;
            cursor = end;
            self.join(&mut pieces, false);
        }
    }

    /// Collects the captures `%1`..`%9` of a string replacement refer to, after the one at
    /// `*i` (moving past it): a simple capture and then its own nested captures, any
    /// other capture as itself. Evaluated only when the replacement uses them.
    unsafe fn string_captures(
        &mut self,
        i: &mut usize,
        found: &mut [usize; 9],
        count: &mut usize,
        depth: u32,
    ) {
        if self.depth + depth >= MAX_NESTING {
            raise(self.l, "lpeg: captures nested too deeply".into());
        }
        let cap = self.entry(*i);
        if *count < found.len() {
            found[*count] = *i;
        }
        *count += 1;
        if cap.slot != Slot::Capture(CapKind::Simple) || !cap.is_open() {
            self.skip(i);
            return;
        }
        *i += 1;
        while self.at_close(i).is_none() {
            self.string_captures(i, found, count, depth + 1);
        }
    }

    /// Pushes the text `%n` stands for: capture entry `at`'s match if it is a simple
    /// capture, else its first value, which must be a string or a number.
    unsafe fn string_capture(&mut self, at: usize, n: usize) {
        let l = self.l;
        let cap = self.entry(at);
        if cap.slot == Slot::Capture(CapKind::Simple) {
            let mut j = at;
            let end = self.skip(&mut j);
            self.text(cap.pos, end);
            return;
        }
        let mut j = at;
        let (pushed, _) = self.first_value(&mut j);
        if !pushed {
            raise(l, format!("no values in capture index {n}"));
        }
        if ffi::lua_isstring(l, -1) == 0 {
            let text = format!("invalid capture value (a {})", type_name(l, -1));
            raise(l, text);
        }
    }

    unsafe fn string(&mut self, i: &mut usize, replacement: u32) -> (c_int, usize) {
        let l = self.l;
        let base = ffi::lua_gettop(l);
        let (nested, start, whole_end) = self.enter(i);
        let mut found = [0usize; 9];
        let mut count = 0usize;
        let end = if nested {
            loop {
                if let Some(end) = self.at_close(i) {
                    break end;
                }
                self.string_captures(i, &mut found, &mut count, 0);
            }
        } else {
            whole_end
        };
        let count = count.min(found.len());
        self.check_stack(JOIN_EVERY + 2);
        self.value(replacement);
        let mut len = 0usize;
        let text = ffi::lua_tolstring(l, -1, &mut len);
        let bytes = std::slice::from_raw_parts(text.cast::<u8>(), len);
        let mut pieces: c_int = 0;
        let mut literal_from = 0;
        let mut k = 0;
        while k < bytes.len() {
            if bytes[k] != b'%' {
                k += 1;
                continue;
            }
            ffi::lua_pushlstring(l, bytes[literal_from..].as_ptr().cast(), k - literal_from);
            pieces += 1;
            k += 1;
            let Some(&d) = bytes.get(k) else {
                literal_from = k;
                break;
            };
            k += 1;
            literal_from = k;
            if !d.is_ascii_digit() {
                ffi::lua_pushlstring(l, bytes[k - 1..].as_ptr().cast(), 1);
            } else if d == b'0' {
                self.text(start, end);
            } else {
                let n = usize::from(d - b'0');
                if n > count {
                    raise(l, format!("invalid capture index ({n})"));
                }
                self.string_capture(found[n - 1], n);
            }
            pieces += 1;
            self.join(&mut pieces, false);
        }
        ffi::lua_pushlstring(
            l,
            bytes[literal_from..].as_ptr().cast(),
            bytes.len() - literal_from,
        );
        pieces += 1;
        self.join(&mut pieces, true);
        // Replacement, result: keep the result.
        ffi::lua_replace(l, base + 1);
        ffi::lua_settop(l, base + 1);
        (1, end)
    }
}

/// The value of `digits[.digits]` with at most 15 digits, computed exactly as `strtod`
/// rounds it (both the digits as an integer and the power of ten are exact doubles, and
/// IEEE division rounds correctly); `None` for anything else, which Lua then converts.
/// Saves `strtod`, the largest single cost of `digit^1 / tonumber`.
fn plain_decimal(text: &[u8]) -> Option<f64> {
    const POWERS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0;
    let mut fraction: Option<usize> = None;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
                if let Some(f) = fraction.as_mut() {
                    *f += 1;
                }
            }
            b'.' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    if digits == 0 || digits > 15 {
        return None;
    }
    Some(mantissa as f64 / POWERS[fraction.unwrap_or(0)])
}

/// How the value at `idx` reads as a rule or group name in an error.
unsafe fn key_text(l: *mut lua_State, idx: c_int) -> String {
    match ffi::lua_type(l, idx) {
        ffi::LUA_TSTRING | ffi::LUA_TNUMBER => {
            let mut len = 0usize;
            ffi::lua_pushvalue(l, idx);
            let p = ffi::lua_tolstring(l, -1, &mut len);
            let text = String::from_utf8_lossy(std::slice::from_raw_parts(p.cast::<u8>(), len))
                .into_owned();
            ffi::lua_pop(l, 1);
            text
        }
        _ => type_name(l, idx),
    }
}

#[cfg(test)]
mod tests {
    use super::plain_decimal;

    #[test]
    fn plain_decimals_read_as_strtod_reads_them() {
        for text in [
            "0",
            "200",
            "007",
            "0.1",
            "0.123",
            "3.",
            ".5",
            "123456789012345",
            "99.999",
        ] {
            let expected: f64 = text.parse().expect("a number");
            assert_eq!(plain_decimal(text.as_bytes()), Some(expected), "{text}");
        }
        for text in [
            "",
            ".",
            "1e5",
            "-1",
            " 1",
            "0x10",
            "1.2.3",
            "1234567890123456",
            "1,5",
        ] {
            assert_eq!(plain_decimal(text.as_bytes()), None, "{text}");
        }
    }
}
