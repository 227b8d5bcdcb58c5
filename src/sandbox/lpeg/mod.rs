//! `lpeg`: LPeg 1.0's API for the sandboxes, in Rust (the LPeg manual is the spec), and
//! the `re` module over it.
//!
//! Patterns are immutable trees ([`tree`]) built by `lpeg.P`, the capture functions and the
//! operators; on its first match a pattern compiles once to a flat program ([`compile`])
//! that a backtracking machine with an explicit stack runs ([`vm`]); the captures it
//! records become Lua values after the match ([`capture`]). Matching charges the
//! sandbox's instruction budget and keeps its stack and capture list inside the memory
//! limit, so a pathological pattern or subject ends its sandbox, never hekad.

mod capture;
mod charset;
mod compile;
mod tree;
mod vm;

use crate::pipeline::shutdown::Control;
use crate::sandbox::limits::Instructions;
use capture::Eval;
use charset::{Charset, CLASSES};
use compile::Program;
use mlua::{
    AnyUserData, Error, Function, IntoLuaMulti, Lua, LuaString, MetaMethod, MultiValue, Table,
    UserData, UserDataMethods, Value, Variadic,
};
use std::cell::{Cell, OnceCell, RefCell};
use std::os::raw::c_int;
use std::rc::Rc;
use tree::{CapKind, Pat, Payload};
use vm::{Cap, Limits, Machine, MatchTime};

/// How a rule or group key reads in an error.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.to_string_lossy().to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
        v => v.type_name().to_string(),
    }
}

/// What `lpeg.version()` answers: the LPeg release whose manual this follows.
pub const VERSION: &str = "1.0.2";
/// Backtrack entries a match may use unless `lpeg.setmaxstack` says otherwise (LPeg's).
const DEFAULT_MAX_STACK: usize = 400;
/// The `re` module: LPeg's regex-like syntax, written in Lua over this module.
const RE_SOURCE: &str = include_str!("re.lua");

/// Per-state settings and storage of the module.
struct Context {
    instructions: Rc<Instructions>,
    /// The sandbox's memory limit in bytes (0: none).
    memory_limit: usize,
    max_stack: Cell<usize>,
    /// The base library's `tonumber`, which `p / tonumber` runs without a call.
    tonumber: Option<Function>,
    /// hekad's stop signal, for sandboxes without an instruction limit (inputs): a long
    /// match ends at shutdown.
    stop: Option<Control>,
    /// Matches running now (a `Cmt` or function capture may match again).
    nesting: Cell<u32>,
    /// Bytes of long literals patterns hold outside the Lua heap (checked against the
    /// memory limit with what Lua uses).
    literal_bytes: Rc<Cell<usize>>,
    /// The matcher's stack and capture list, reused across matches (taken while one runs,
    /// so a `Cmt` function matching again gets its own).
    machine: RefCell<Option<Machine>>,
}

/// A pattern as Lua sees it (userdata with LPeg's operators).
pub struct Pattern {
    tree: Pat,
    compiled: OnceCell<Compiled>,
}

/// A pattern's program and the Lua values its captures use.
#[derive(Clone)]
struct Compiled {
    program: Rc<Program>,
    values: Table,
}

impl Pattern {
    fn new(tree: Pat) -> Pattern {
        Pattern {
            tree,
            compiled: OnceCell::new(),
        }
    }

    fn compiled(&self, lua: &Lua) -> mlua::Result<Compiled> {
        if let Some(c) = self.compiled.get() {
            return Ok(c.clone());
        }
        let program = compile::compile(&self.tree).map_err(|e| match e.is_empty() {
            true => Error::runtime(open_call_error(&self.tree)),
            false => Error::runtime(e),
        })?;
        if let Some(context) = lua.app_data_ref::<Context>() {
            context.instructions.charge(program.code.len() as u64)?;
            let limit = context.memory_limit;
            let held = context.literal_bytes.get() + program.bytes();
            if limit > 0 && lua.used_memory() + held > limit {
                return Err(Error::runtime("not enough memory (lpeg program)"));
            }
        }
        let values = lua.create_table_with_capacity(program.values.len(), 0)?;
        for (i, v) in program.values.iter().enumerate() {
            values.raw_set(i + 1, v.clone())?;
        }
        let compiled = Compiled {
            program: Rc::new(program),
            values,
        };
        Ok(self.compiled.get_or_init(|| compiled).clone())
    }
}

/// LPeg's error for a `V` matched outside a grammar, naming the rule.
fn open_call_error(tree: &tree::Tree) -> String {
    fn find(t: &tree::Tree) -> Option<String> {
        use tree::Node;
        match &t.node {
            Node::OpenCall(key) => Some(key_text(key)),
            Node::Seq(items) | Node::Choice(items) => items.iter().find_map(|i| find(i)),
            Node::Rep(p, _)
            | Node::AtMost(p, _)
            | Node::Not(p)
            | Node::And(p)
            | Node::Capture(_, p, _) => find(p),
            _ => None,
        }
    }
    format!(
        "rule '{}' used outside a grammar",
        find(tree).unwrap_or_default()
    )
}

impl UserData for Pattern {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method(
            "match",
            |lua, this, (subject, init, args): (Value, Option<i64>, Variadic<Value>)| {
                matching(lua, this, subject, init, &args)
            },
        );
        methods.add_meta_function(MetaMethod::Mul, |lua, (a, b): (Value, Value)| {
            binary(lua, &a, &b, tree::seq)
        });
        methods.add_meta_function(MetaMethod::Add, |lua, (a, b): (Value, Value)| {
            binary(lua, &a, &b, tree::choice)
        });
        methods.add_meta_function(MetaMethod::Sub, |lua, (a, b): (Value, Value)| {
            binary(lua, &a, &b, tree::difference)
        });
        methods.add_meta_function(MetaMethod::Pow, |lua, (a, n): (Value, Value)| {
            let p = to_tree(lua, &a)?;
            let n = integer(&n)
                .ok_or_else(|| Error::runtime("bad argument #2 to 'pow' (number expected)"))?;
            new_pattern(lua, tree::repeat(&p, n))
        });
        methods.add_meta_function(MetaMethod::Div, |lua, (a, b): (Value, Value)| {
            divide(lua, &a, b)
        });
        methods.add_meta_function(MetaMethod::Unm, |lua, args: Variadic<Value>| {
            let p = to_tree(lua, args.first().unwrap_or(&Value::Nil))?;
            new_pattern(lua, tree::not(&p))
        });
        methods.add_meta_function(MetaMethod::Index, |lua, (_, key): (Value, Value)| {
            let module: Table = lua.named_registry_value(MODULE_KEY)?;
            module.raw_get::<Value>(key)
        });
        methods.add_meta_function(MetaMethod::Len, |lua, args: Variadic<Value>| {
            let p = to_tree(lua, args.first().unwrap_or(&Value::Nil))?;
            new_pattern(lua, tree::and(&p))
        });
    }
}

fn new_pattern(lua: &Lua, tree: Result<Pat, String>) -> mlua::Result<AnyUserData> {
    let tree = tree.map_err(Error::runtime)?;
    // Building runs in Rust: a sequence or choice costs its items (flattening copies
    // them), so a script building patterns in a loop stays inside its budget.
    if let Some(context) = lua.app_data_ref::<Context>() {
        let items = match &tree.node {
            tree::Node::Seq(items) | tree::Node::Choice(items) => items.len(),
            _ => 1,
        };
        context.instructions.charge(items as u64)?;
    }
    lua.create_userdata(Pattern::new(tree))
}

fn binary(
    lua: &Lua,
    a: &Value,
    b: &Value,
    op: fn(&Pat, &Pat) -> Result<Pat, String>,
) -> mlua::Result<AnyUserData> {
    let (a, b) = (to_tree(lua, a)?, to_tree(lua, b)?);
    new_pattern(lua, op(&a, &b))
}

/// `p / x`: a string, numbered, query or function capture by the type of `x`.
fn divide(lua: &Lua, a: &Value, b: Value) -> mlua::Result<AnyUserData> {
    let p = to_tree(lua, a)?;
    let (kind, payload) = match b {
        Value::String(_) => (CapKind::String, Payload::Value(b)),
        Value::Integer(_) | Value::Number(_) => {
            // LPeg's range (SHRT_MAX): capture indexes are small.
            let n = integer(&b)
                .filter(|n| (0..=i64::from(i16::MAX)).contains(n))
                .ok_or_else(|| Error::runtime("invalid number"))? as u32;
            (CapKind::Number, Payload::Index(n))
        }
        Value::Table(_) => (CapKind::Query, Payload::Value(b)),
        Value::Function(ref f) => {
            let base_tonumber = lua
                .app_data_ref::<Context>()
                .is_some_and(|c| c.tonumber.as_ref() == Some(f));
            match base_tonumber {
                true => (CapKind::ToNumber, Payload::Value(b)),
                false => (CapKind::Function, Payload::Value(b)),
            }
        }
        other => {
            return Err(Error::runtime(format!(
                "bad argument #2 to 'div' (invalid replacement value, a {})",
                other.type_name()
            )))
        }
    };
    new_pattern(lua, tree::capture(kind, &p, payload))
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(crate::sandbox::api::lua_integer(*i)),
        Value::Number(n) if n.is_finite() => Some(*n as i64),
        Value::String(s) => s
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .map(|n| n as i64),
        _ => None,
    }
}

/// Any value LPeg accepts where a pattern is expected, as a tree.
fn to_tree(lua: &Lua, v: &Value) -> mlua::Result<Pat> {
    match v {
        Value::UserData(ud) => match ud.borrow::<Pattern>() {
            Ok(p) => Ok(p.tree.clone()),
            Err(_) => Err(not_a_pattern(v)),
        },
        Value::String(s) => string_pattern(lua, &s.as_bytes()),
        Value::Integer(_) | Value::Number(_) => {
            let n = integer(v).unwrap_or(0);
            let count = u32::try_from(n.unsigned_abs()).unwrap_or(u32::MAX);
            match n >= 0 {
                true => Ok(tree::any(count)),
                false => tree::not(&tree::any(count)).map_err(Error::runtime),
            }
        }
        Value::Boolean(true) => Ok(tree::always()),
        Value::Boolean(false) => Ok(tree::never()),
        Value::Table(t) => grammar(lua, t),
        Value::Function(_) => {
            tree::capture(CapKind::Runtime, &tree::always(), Payload::Value(v.clone()))
                .map_err(Error::runtime)
        }
        _ => Err(not_a_pattern(v)),
    }
}

/// Literals at most this long are not metered (a pattern's own Lua userdata is about as
/// large).
const UNMETERED_LITERAL: usize = 64;

/// `P(string)`: a long literal is a copy outside the Lua heap, so it counts against the
/// memory limit while a pattern holds it.
fn string_pattern(lua: &Lua, bytes: &[u8]) -> mlua::Result<Pat> {
    let Some(context) = lua.app_data_ref::<Context>() else {
        return Ok(tree::literal(bytes));
    };
    if bytes.len() <= UNMETERED_LITERAL {
        return Ok(tree::literal(bytes));
    }
    let held = context.literal_bytes.get() + bytes.len();
    if context.memory_limit > 0 && lua.used_memory() + held > context.memory_limit {
        return Err(Error::runtime("not enough memory (lpeg literal)"));
    }
    Ok(tree::metered_literal(bytes, Some(&context.literal_bytes)))
}

fn not_a_pattern(v: &Value) -> Error {
    Error::runtime(format!("lpeg-pattern expected, got {}", v.type_name()))
}

/// `P(table)`: the grammar whose initial rule `t[1]` names (or is).
fn grammar(lua: &Lua, t: &Table) -> mlua::Result<Pat> {
    let first: Value = t.raw_get(1)?;
    let initial_key = match &first {
        Value::Nil => return Err(Error::runtime("grammar has no initial rule")),
        Value::String(_) | Value::Integer(_) | Value::Number(_) => first.clone(),
        _ => Value::Integer(1),
    };
    let initial: Value = t.raw_get(initial_key.clone())?;
    if initial.is_nil() {
        return Err(Error::runtime("grammar has no initial rule"));
    }
    // Rules must be patterns already (LPeg converts nothing here).
    let rule = |key: &Value, v: &Value, what: &str| -> mlua::Result<Pat> {
        match v {
            Value::UserData(ud) if ud.is::<Pattern>() => to_tree(lua, v),
            _ => Err(Error::runtime(format!(
                "{what} '{}' is not a pattern",
                key_text(key)
            ))),
        }
    };
    let mut rules = vec![(
        initial_key.clone(),
        rule(&initial_key, &initial, "initial rule")?,
    )];
    for pair in t.pairs::<Value, Value>() {
        let (key, value) = pair?;
        if same_key(&key, &Value::Integer(1)) || same_key(&key, &initial_key) {
            continue;
        }
        let p = rule(&key, &value, "rule")?;
        rules.push((key, p));
    }
    tree::grammar(rules, same_key, key_text).map_err(Error::runtime)
}

/// Lua's raw equality for rule and group keys.
fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.as_bytes() == y.as_bytes(),
        (Value::Integer(x), Value::Integer(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Integer(x), Value::Number(y)) | (Value::Number(y), Value::Integer(x)) => {
            (*x as f64) == *y
        }
        (Value::Boolean(x), Value::Boolean(y)) => x == y,
        _ => {
            let (p, q) = (a.to_pointer(), b.to_pointer());
            !p.is_null() && p == q
        }
    }
}

/// Runs `Cmt` functions for one match, keeping the values they return.
struct MatchTimeCalls<'a> {
    lua: &'a Lua,
    compiled: &'a Compiled,
    subject: &'a LuaString,
    bytes: &'a [u8],
    args: &'a [Value],
    instructions: &'a Instructions,
    /// The values the functions returned: `{v1, ..., n = n}` per entry.
    dynamic: Option<Table>,
    count: u32,
}

impl MatchTimeCalls<'_> {
    /// Builds the captures of `caps` from entry `from` on the Lua stack (see
    /// [`capture`]), then lets `finish` work on them there; returns what it leaves.
    fn evaluate(
        &self,
        caps: &[Cap],
        from: usize,
        extra: impl IntoLuaMulti,
        finish: impl FnOnce(*mut mlua::ffi::lua_State, c_int, c_int),
    ) -> mlua::Result<MultiValue> {
        let dynamic = match &self.dynamic {
            Some(t) => Value::Table(t.clone()),
            None => Value::Nil,
        };
        let program = &self.compiled.program;
        let nargs = self.args.len() as c_int;
        let mut fixed = Vec::with_capacity(self.args.len() + 5);
        fixed.push(Value::Table(self.compiled.values.clone()));
        fixed.push(dynamic);
        fixed.extend(self.args.iter().cloned());
        fixed.extend(extra.into_lua_multi(self.lua)?);
        let fixed = MultiValue::from_vec(fixed);
        // SAFETY: the closure runs in a protected call with `fixed` at stack indexes 1
        // (values), 2 (dynamic) and 3.. (the extra arguments); the evaluator holds no
        // value with a destructor across a Lua call.
        unsafe {
            self.lua.exec_raw::<MultiValue>(fixed, |l| {
                let stack = capture::Stack {
                    values: 1,
                    dynamic: 2,
                    args: 3,
                    nargs,
                };
                let inputs = mlua::ffi::lua_gettop(l);
                let mut eval = Eval::new(l, program, self.bytes, caps, stack, self.instructions);
                let n = eval.push_from(from);
                finish(l, inputs, n);
            })
        }
    }
}

impl MatchTime for MatchTimeCalls<'_> {
    fn call(
        &mut self,
        caps: &[Cap],
        open: usize,
        end: usize,
    ) -> mlua::Result<Option<(usize, Option<u32>)>> {
        let payload = self.compiled.program.payloads[caps[open].idx as usize];
        let function: Function = self.compiled.values.raw_get(payload.key)?;
        let (bytes, start) = (self.bytes, caps[open].pos);
        let results = self.evaluate(
            caps,
            open + 1,
            (function, self.subject.clone(), (end + 1) as i64),
            |l, inputs, n| unsafe {
                // Stack: the inputs, ending with function, subject, position, then the n
                // capture values (or, without any, the match): f(subject, position, ...).
                let mut n = n;
                if n == 0 {
                    let matched = &bytes[start..end];
                    mlua::ffi::lua_pushlstring(l, matched.as_ptr().cast(), matched.len());
                    n = 1;
                }
                mlua::ffi::lua_call(l, n + 2, mlua::ffi::LUA_MULTRET);
                for _ in 0..inputs - 3 {
                    mlua::ffi::lua_remove(l, 1);
                }
            },
        )?;
        let mut results = results.into_iter();
        // LPeg: false/nil fail, true keeps the position, anything else is read as an
        // integer position (a numeric string too; a table reads as 0, invalid).
        let to = match results.next().unwrap_or(Value::Nil) {
            Value::Nil | Value::Boolean(false) => return Ok(None),
            Value::Boolean(true) => end,
            v => {
                let n = integer(&v).unwrap_or(0);
                if n < 1 {
                    return Err(Error::runtime(
                        "invalid position returned by match-time capture",
                    ));
                }
                (n - 1) as usize
            }
        };
        let rest: Vec<Value> = results.collect();
        if rest.is_empty() {
            return Ok(Some((to, None)));
        }
        let entry = self.lua.create_sequence_from(rest.iter().cloned())?;
        entry.raw_set("n", rest.len())?;
        let dynamic = match &self.dynamic {
            Some(t) => t.clone(),
            None => {
                let t = self.lua.create_table()?;
                self.dynamic = Some(t.clone());
                t
            }
        };
        self.count += 1;
        dynamic.raw_set(self.count, entry)?;
        Ok(Some((to, Some(self.count))))
    }
}

/// `lpeg.match(p, subject [, init, ...])`.
fn matching(
    lua: &Lua,
    pattern: &Pattern,
    subject: Value,
    init: Option<i64>,
    args: &[Value],
) -> mlua::Result<MultiValue> {
    let subject = match subject {
        Value::String(s) => s,
        v @ (Value::Integer(_) | Value::Number(_)) => lua
            .coerce_string(v)?
            .ok_or_else(|| Error::runtime("bad argument #2 to 'match' (string expected)"))?,
        v => {
            return Err(Error::runtime(format!(
                "bad argument #2 to 'match' (string expected, got {})",
                v.type_name()
            )))
        }
    };
    let compiled = pattern.compiled(lua)?;
    let bytes = subject.as_bytes();
    let len = bytes.len();
    let start = match init.unwrap_or(1) {
        i if i > 0 => (i as u64 - 1).min(len as u64) as usize,
        i => len.saturating_sub(i.unsigned_abs() as usize),
    };
    let context = lua
        .app_data_ref::<Context>()
        .ok_or_else(|| Error::runtime("lpeg: module not initialised"))?;
    let memory = match context.memory_limit {
        0 => 0,
        limit => limit
            .saturating_sub(lua.used_memory() + context.literal_bytes.get())
            .max(1),
    };
    let limits = Limits {
        max_stack: context.max_stack.get(),
        memory,
        instructions: &context.instructions,
        stop: context.stop.as_ref(),
    };
    if context.nesting.get() >= MAX_NESTED_MATCHES {
        return Err(Error::runtime("lpeg: matches nested too deeply"));
    }
    context.nesting.set(context.nesting.get() + 1);
    let mut machine = context.machine.borrow_mut().take().unwrap_or_default();
    let mut calls = MatchTimeCalls {
        lua,
        compiled: &compiled,
        subject: &subject,
        bytes: &bytes,
        args,
        instructions: &context.instructions,
        dynamic: None,
        count: 0,
    };
    let result = machine
        .run(&compiled.program, &bytes, start, &limits, &mut calls)
        .and_then(|end| match end {
            None => Ok(MultiValue::from_vec(vec![Value::Nil])),
            Some(end) if machine.caps.is_empty() => {
                Ok(MultiValue::from_vec(vec![Value::Integer((end + 1) as _)]))
            }
            Some(end) => calls.evaluate(&machine.caps, 0, (), |l, inputs, n| unsafe {
                if n == 0 {
                    mlua::ffi::lua_pushinteger(l, (end + 1) as mlua::ffi::lua_Integer);
                }
                for _ in 0..inputs {
                    mlua::ffi::lua_remove(l, 1);
                }
            }),
        });
    machine.shrink();
    *context.machine.borrow_mut() = Some(machine);
    context.nesting.set(context.nesting.get() - 1);
    result
}

/// Matches a `Cmt` or function capture may start inside another match (each adds native
/// frames: this bounds them).
const MAX_NESTED_MATCHES: u32 = 8;

/// A string argument (numbers read as strings, as Lua's `luaL_checkstring` does).
fn string_arg(lua: &Lua, v: Value, function: &str) -> mlua::Result<LuaString> {
    match v {
        Value::String(s) => Ok(s),
        v @ (Value::Integer(_) | Value::Number(_)) => lua
            .coerce_string(v)?
            .ok_or_else(|| Error::runtime("string expected")),
        v => Err(Error::runtime(format!(
            "bad argument #1 to '{function}' (string expected, got {})",
            v.type_name()
        ))),
    }
}

/// The `lpeg` module for one sandbox: matching charges `instructions` and stays inside
/// `memory_limit` (bytes, 0: none); `tonumber` is the base library's, taken before any
/// script ran.
pub fn module(
    lua: &Lua,
    instructions: Rc<Instructions>,
    memory_limit: usize,
    tonumber: Option<Function>,
    stop: Option<Control>,
) -> mlua::Result<Table> {
    if lua.app_data_ref::<Context>().is_none() {
        lua.set_app_data(Context {
            instructions,
            memory_limit,
            max_stack: Cell::new(DEFAULT_MAX_STACK),
            tonumber,
            stop,
            nesting: Cell::new(0),
            literal_bytes: Rc::new(Cell::new(0)),
            machine: RefCell::new(None),
        });
    }
    let m = lua.create_table()?;
    m.raw_set(
        "P",
        lua.create_function(|lua, v: Variadic<Value>| {
            let Some(v) = v.first() else {
                return Err(Error::runtime("bad argument #1 to 'P' (value expected)"));
            };
            if let Value::UserData(ud) = v {
                if ud.is::<Pattern>() {
                    return Ok(v.clone());
                }
            }
            let p = to_tree(lua, v)?;
            Ok(Value::UserData(lua.create_userdata(Pattern::new(p))?))
        })?,
    )?;
    m.raw_set(
        "S",
        lua.create_function(|lua, s: Value| {
            let s = string_arg(lua, s, "S")?;
            lua.create_userdata(Pattern::new(tree::set(Charset::of(&s.as_bytes()))))
        })?,
    )?;
    m.raw_set(
        "R",
        lua.create_function(|lua, ranges: Variadic<LuaString>| {
            let mut set = Charset::default();
            for r in ranges.iter() {
                let r = r.as_bytes();
                if r.len() != 2 {
                    return Err(Error::runtime(
                        "bad argument to 'R' (range must have two characters)",
                    ));
                }
                set = set.union(&Charset::range(r[0], r[1]));
            }
            lua.create_userdata(Pattern::new(tree::set(set)))
        })?,
    )?;
    m.raw_set(
        "V",
        lua.create_function(|lua, key: Value| {
            if key.is_nil() {
                return Err(Error::runtime(
                    "bad argument #1 to 'V' (non-nil value expected)",
                ));
            }
            lua.create_userdata(Pattern::new(tree::open_call(key)))
        })?,
    )?;
    m.raw_set(
        "B",
        lua.create_function(|lua, v: Value| {
            let p = to_tree(lua, &v)?;
            new_pattern(lua, tree::behind(&p))
        })?,
    )?;
    let simple = |kind: CapKind| {
        move |lua: &Lua, v: Value| {
            let p = to_tree(lua, &v)?;
            new_pattern(lua, tree::capture(kind, &p, Payload::None))
        }
    };
    m.raw_set("C", lua.create_function(simple(CapKind::Simple))?)?;
    m.raw_set("Ct", lua.create_function(simple(CapKind::Table))?)?;
    m.raw_set("Cs", lua.create_function(simple(CapKind::Subst))?)?;
    m.raw_set(
        "Cp",
        lua.create_function(|lua, ()| {
            new_pattern(
                lua,
                tree::capture(CapKind::Position, &tree::always(), Payload::None),
            )
        })?,
    )?;
    m.raw_set(
        "Cc",
        lua.create_function(|lua, values: Variadic<Value>| {
            if values.is_empty() {
                // LPeg: `Cc()` is no capture at all.
                return lua.create_userdata(Pattern::new(tree::always()));
            }
            let payload = Payload::Values(values.into_iter().collect());
            new_pattern(lua, tree::capture(CapKind::Const, &tree::always(), payload))
        })?,
    )?;
    m.raw_set(
        "Cg",
        lua.create_function(|lua, (v, name): (Value, Value)| {
            let p = to_tree(lua, &v)?;
            let payload = match name {
                Value::Nil => Payload::None,
                name => Payload::Value(name),
            };
            new_pattern(lua, tree::capture(CapKind::Group, &p, payload))
        })?,
    )?;
    m.raw_set(
        "Cb",
        lua.create_function(|lua, name: Value| {
            new_pattern(
                lua,
                tree::capture(CapKind::Backref, &tree::always(), Payload::Value(name)),
            )
        })?,
    )?;
    m.raw_set(
        "Carg",
        lua.create_function(|lua, n: Value| {
            let n = integer(&n)
                .filter(|n| (1..=i64::from(i16::MAX)).contains(n))
                .ok_or_else(|| {
                    Error::runtime("bad argument #1 to 'Carg' (invalid argument index)")
                })?;
            new_pattern(
                lua,
                tree::capture(CapKind::Arg, &tree::always(), Payload::Index(n as u32)),
            )
        })?,
    )?;
    let with_function = |kind: CapKind, name: &'static str| {
        move |lua: &Lua, (v, f): (Value, Value)| {
            let p = to_tree(lua, &v)?;
            let Value::Function(_) = f else {
                return Err(Error::runtime(format!(
                    "bad argument #2 to '{name}' (function expected, got {})",
                    f.type_name()
                )));
            };
            new_pattern(lua, tree::capture(kind, &p, Payload::Value(f)))
        }
    };
    m.raw_set(
        "Cf",
        lua.create_function(with_function(CapKind::Fold, "Cf"))?,
    )?;
    m.raw_set(
        "Cmt",
        lua.create_function(with_function(CapKind::Runtime, "Cmt"))?,
    )?;
    m.raw_set(
        "match",
        lua.create_function(
            |lua, (p, subject, init, args): (Value, Value, Option<i64>, Variadic<Value>)| {
                let pattern = match &p {
                    Value::UserData(ud) if ud.is::<Pattern>() => {
                        let borrowed = ud.borrow::<Pattern>()?;
                        return matching(lua, &borrowed, subject, init, &args);
                    }
                    _ => Pattern::new(to_tree(lua, &p)?),
                };
                matching(lua, &pattern, subject, init, &args)
            },
        )?,
    )?;
    m.raw_set(
        "type",
        lua.create_function(|_, v: Value| {
            Ok(match &v {
                Value::UserData(ud) if ud.is::<Pattern>() => Some("pattern"),
                _ => None,
            })
        })?,
    )?;
    m.raw_set("version", lua.create_function(|_, ()| Ok(VERSION))?)?;
    m.raw_set(
        "setmaxstack",
        lua.create_function(|lua, n: Value| {
            let n = integer(&n).ok_or_else(|| {
                Error::runtime("bad argument #1 to 'setmaxstack' (number expected)")
            })?;
            if !(1..=i64::from(i32::MAX)).contains(&n) {
                return Err(Error::runtime(
                    "bad argument #1 to 'setmaxstack' (out of range)",
                ));
            }
            if let Some(context) = lua.app_data_ref::<Context>() {
                context.max_stack.set(n as usize);
            }
            Ok(())
        })?,
    )?;
    m.raw_set(
        "locale",
        lua.create_function(|lua, t: Option<Table>| {
            let t = match t {
                Some(t) => t,
                None => lua.create_table()?,
            };
            for (name, test) in CLASSES {
                t.raw_set(name, Pattern::new(tree::set(Charset::from_fn(test))))?;
            }
            Ok(t)
        })?,
    )?;
    // Patterns index the module (LPeg's `patt:C()`, `patt:Ct()`...).
    lua.set_named_registry_value(MODULE_KEY, m.clone())?;
    Ok(m)
}

/// Registry key of the module table, which patterns index.
const MODULE_KEY: &str = "hekad.lpeg";

/// The `re` module (loaded in the sandbox, over its `lpeg`).
pub fn re_module(lua: &Lua) -> mlua::Result<Value> {
    lua.load(RE_SOURCE).set_name("=re").call::<Value>("re")
}
