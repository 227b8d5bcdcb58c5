//! Pattern trees to a flat program for the matcher ([`super::vm`]), compiled once per
//! pattern: literal runs, spans over sets, and a test of the next byte before each choice
//! whose first alternative cannot start with it, so the common failure costs no backtrack
//! entry.

use super::charset::Charset;
use super::tree::{as_set, first, fixed_len, CapKind, Literal, Node, Pat, Payload, Tree};
use mlua::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// Instructions a program may hold (`p^n` and `p^-n` unroll `p`): bounds the memory one
/// pattern's program takes outside the Lua heap (the sandbox's memory limit is checked
/// against [`Program::bytes`] too).
pub const MAX_CODE: usize = 1 << 21;

/// One matcher instruction. Jump targets are instruction indexes.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Exactly n bytes.
    Any(u32),
    Char(u8),
    /// A literal run (index into [`Program::literals`]).
    Str(u32),
    Set(u32),
    /// As many bytes of the set as there are.
    Span(u32),
    /// Jumps unless the next byte is this one (consumes nothing).
    TestChar(u8, u32),
    /// Jumps unless the next byte is in the set (consumes nothing).
    TestSet(u32, u32),
    /// Moves back n bytes.
    Behind(u32),
    /// Pushes a backtrack entry resuming at the target.
    Choice(u32),
    /// Pops the entry and jumps.
    Commit(u32),
    /// Updates the top entry to the current position and captures, and jumps.
    PartialCommit(u32),
    /// Pops the entry, restoring its position and captures, and jumps (`#p`).
    BackCommit(u32),
    /// Pops the entry and fails (`-p` matched).
    FailTwice,
    Fail,
    Jmp(u32),
    Call(u32),
    Ret,
    OpenCapture(CapKind, u32),
    CloseCapture,
    /// A capture of a fixed-length pattern without nested captures: recorded once, after
    /// it matched (length, payload).
    FullCapture(CapKind, u32, u32),
    /// Ends a `Cmt`: its function runs now.
    CloseRunTime,
    End,
}

/// A compiled pattern.
pub struct Program {
    pub code: Vec<Op>,
    pub sets: Vec<Charset>,
    pub literals: Vec<Rc<Literal>>,
    /// Capture payloads, indexed by the capture instructions.
    pub payloads: Vec<PayloadRef>,
    /// The Lua values payloads refer to, in order: the pattern's value table (1-based).
    pub values: Vec<Value>,
}

impl Program {
    /// What the program takes in memory, roughly.
    pub fn bytes(&self) -> usize {
        self.code.len() * std::mem::size_of::<Op>()
            + self.sets.len() * std::mem::size_of::<Charset>()
            + self.literals.len() * 16
            + self.payloads.len() * std::mem::size_of::<PayloadRef>()
            + self.values.len() * 16
    }
}

/// Where a capture's Lua values are: `count` values from `key` in the pattern's value
/// table (`key` 0: none), or a number (`Carg`'s and `/number`'s).
#[derive(Clone, Copy, Debug, Default)]
pub struct PayloadRef {
    pub key: u32,
    pub count: u32,
    pub index: u32,
}

/// Compiles `tree`; fails on a `V` outside a grammar or an oversized program.
pub fn compile(tree: &Pat) -> Result<Program, String> {
    let mut c = Compiler {
        program: Program {
            code: Vec::new(),
            sets: Vec::new(),
            literals: Vec::new(),
            payloads: Vec::new(),
            values: Vec::new(),
        },
        literal_index: HashMap::new(),
        payload_index: HashMap::new(),
        set_lookup: HashMap::new(),
        calls: Vec::new(),
    };
    c.gen(tree)?;
    c.emit(Op::End)?;
    Ok(c.program)
}

struct Compiler {
    program: Program,
    /// Literal and payload indexes by the address of what they come from (the tree
    /// outlives compilation), so unrolled repetitions share them.
    literal_index: HashMap<usize, u32>,
    payload_index: HashMap<usize, u32>,
    set_lookup: HashMap<Charset, u32>,
    /// Per grammar being compiled: call instructions to patch with their rule's address.
    calls: Vec<Vec<(usize, u32)>>,
}

impl Compiler {
    fn here(&self) -> u32 {
        self.program.code.len() as u32
    }

    fn emit(&mut self, op: Op) -> Result<usize, String> {
        if self.program.code.len() >= MAX_CODE {
            return Err(format!(
                "pattern too complex (over {MAX_CODE} instructions compiled)"
            ));
        }
        self.program.code.push(op);
        Ok(self.program.code.len() - 1)
    }

    /// Points the jump at `at` to the current end of the code.
    fn land(&mut self, at: usize) {
        let to = self.here();
        self.retarget(at, to);
    }

    fn retarget(&mut self, at: usize, to: u32) {
        match &mut self.program.code[at] {
            Op::TestChar(_, t)
            | Op::TestSet(_, t)
            | Op::Choice(t)
            | Op::Commit(t)
            | Op::PartialCommit(t)
            | Op::BackCommit(t)
            | Op::Jmp(t)
            | Op::Call(t) => *t = to,
            op => unreachable!("{op:?} has no target"),
        }
    }

    /// The index of a literal run (one entry per literal however often `p^n` unrolls it).
    fn literal(&mut self, s: &Rc<Literal>) -> u32 {
        let key = Rc::as_ptr(s) as usize;
        if let Some(&i) = self.literal_index.get(&key) {
            return i;
        }
        self.program.literals.push(s.clone());
        let i = (self.program.literals.len() - 1) as u32;
        self.literal_index.insert(key, i);
        i
    }

    /// Records a capture's payload (once per capture node): its values go to the value
    /// table.
    fn payload(&mut self, node: &Tree, payload: &Payload) -> u32 {
        let node_key = node as *const Tree as usize;
        if let Some(&i) = self.payload_index.get(&node_key) {
            return i;
        }
        let i = self.new_payload(payload);
        self.payload_index.insert(node_key, i);
        i
    }

    fn new_payload(&mut self, payload: &Payload) -> u32 {
        let key = self.program.values.len() as u32 + 1;
        let reference = match payload {
            Payload::None => PayloadRef::default(),
            Payload::Value(v) => {
                self.program.values.push(v.clone());
                PayloadRef {
                    key,
                    count: 1,
                    index: 0,
                }
            }
            Payload::Values(values) => {
                self.program.values.extend(values.iter().cloned());
                PayloadRef {
                    key,
                    count: values.len() as u32,
                    index: 0,
                }
            }
            Payload::Index(index) => PayloadRef {
                index: *index,
                ..PayloadRef::default()
            },
        };
        self.program.payloads.push(reference);
        (self.program.payloads.len() - 1) as u32
    }

    fn set_index(&mut self, set: Charset) -> u32 {
        if let Some(&i) = self.set_lookup.get(&set) {
            return i;
        }
        self.program.sets.push(set);
        let i = (self.program.sets.len() - 1) as u32;
        self.set_lookup.insert(set, i);
        i
    }

    /// An instruction matching one byte of `set`.
    fn one_of(&mut self, set: Charset) -> Result<usize, String> {
        if set.is_full() {
            return self.emit(Op::Any(1));
        }
        if set.is_empty() {
            return self.emit(Op::Fail);
        }
        match set.single() {
            Some(b) => self.emit(Op::Char(b)),
            None => {
                let i = self.set_index(set);
                self.emit(Op::Set(i))
            }
        }
    }

    /// A test jumping (to be patched) unless the next byte is in `set`.
    fn test(&mut self, set: Charset) -> Result<usize, String> {
        match set.single() {
            Some(b) => self.emit(Op::TestChar(b, 0)),
            None => {
                let i = self.set_index(set);
                self.emit(Op::TestSet(i, 0))
            }
        }
    }

    fn gen(&mut self, t: &Tree) -> Result<(), String> {
        match &t.node {
            Node::True => {}
            Node::False => {
                self.emit(Op::Fail)?;
            }
            Node::Any(n) => {
                self.emit(Op::Any(*n))?;
            }
            Node::Str(s) if s.len() == 1 => {
                self.emit(Op::Char(s[0]))?;
            }
            Node::Str(s) => {
                let index = self.literal(s);
                self.emit(Op::Str(index))?;
            }
            Node::Set(set) => {
                self.one_of(**set)?;
            }
            Node::Seq(items) => {
                for item in items {
                    self.gen(item)?;
                }
            }
            Node::Choice(items) => self.choice(items)?,
            Node::Rep(p, n) => {
                for _ in 0..*n {
                    self.gen(p)?;
                }
                self.star(p)?;
            }
            Node::AtMost(p, n) => self.at_most(p, *n)?,
            Node::Not(p) => {
                if let Some(set) = as_set(p) {
                    let test = self.test(set)?;
                    self.emit(Op::Fail)?;
                    self.land(test);
                } else {
                    let choice = self.emit(Op::Choice(0))?;
                    self.gen(p)?;
                    self.emit(Op::FailTwice)?;
                    self.land(choice);
                }
            }
            Node::And(p) => {
                let choice = self.emit(Op::Choice(0))?;
                self.gen(p)?;
                let back = self.emit(Op::BackCommit(0))?;
                self.land(choice);
                self.emit(Op::Fail)?;
                self.land(back);
            }
            Node::Behind(p, n) => {
                if *n > 0 {
                    self.emit(Op::Behind(*n))?;
                }
                self.gen(p)?;
            }
            Node::Capture(kind, p, payload) => {
                let index = self.payload(t, payload);
                if *kind != CapKind::Runtime && !p.captures {
                    if let Some(len) = fixed_len(p) {
                        self.gen(p)?;
                        self.emit(Op::FullCapture(*kind, len, index))?;
                        return Ok(());
                    }
                }
                self.emit(Op::OpenCapture(*kind, index))?;
                self.gen(p)?;
                self.emit(match kind {
                    CapKind::Runtime => Op::CloseRunTime,
                    _ => Op::CloseCapture,
                })?;
            }
            Node::OpenCall(_) => return Err(String::new()),
            Node::Call(rule) => {
                let at = self.emit(Op::Call(0))?;
                self.calls
                    .last_mut()
                    .expect("calls only inside grammars")
                    .push((at, *rule));
            }
            Node::Grammar(rules) => {
                self.calls.push(Vec::new());
                let start = self.emit(Op::Call(0))?;
                let skip = self.emit(Op::Jmp(0))?;
                let mut addresses = Vec::with_capacity(rules.len());
                for rule in rules.iter() {
                    addresses.push(self.here());
                    self.gen(rule)?;
                    // A call ending a rule is a tail call: a jump, which needs no stack.
                    if let Some(last) = self.program.code.last_mut() {
                        if let Op::Call(to) = *last {
                            *last = Op::Jmp(to);
                        }
                    }
                    self.emit(Op::Ret)?;
                }
                self.land(skip);
                self.retarget(start, addresses[0]);
                for (at, rule) in self.calls.pop().expect("pushed above") {
                    self.retarget(at, addresses[rule as usize]);
                }
            }
        }
        Ok(())
    }

    /// Ordered choice: each alternative but the last is tried under a backtrack entry,
    /// skipped by a byte test when its first byte rules it out.
    fn choice(&mut self, items: &[Pat]) -> Result<(), String> {
        let mut exits = Vec::new();
        let (last, alternatives) = items.split_last().expect("choices have two items");
        for (k, p) in alternatives.iter().enumerate() {
            if let Some(set) = as_set(p) {
                let test = self.test(set)?;
                self.emit(Op::Any(1))?;
                exits.push(self.emit(Op::Jmp(0))?);
                self.land(test);
                continue;
            }
            let own = match first(p) {
                Some((set, false)) => Some(set),
                _ => None,
            };
            // When no later alternative can start with a byte this one starts with, this
            // one failing past its first byte fails the whole choice: no backtrack entry.
            if let Some(set) = own {
                if disjoint_from_rest(&set, &items[k + 1..]) {
                    let test = self.test(set)?;
                    self.gen(p)?;
                    exits.push(self.emit(Op::Jmp(0))?);
                    self.land(test);
                    continue;
                }
            }
            let test = match own {
                Some(set) => Some(self.test(set)?),
                None => None,
            };
            let choice = self.emit(Op::Choice(0))?;
            self.gen(p)?;
            exits.push(self.emit(Op::Commit(0))?);
            self.land(choice);
            if let Some(test) = test {
                self.land(test);
            }
        }
        self.gen(last)?;
        for exit in exits {
            self.land(exit);
        }
        Ok(())
    }

    /// `p^0`: a span for a set, else a loop under one backtrack entry.
    fn star(&mut self, p: &Pat) -> Result<(), String> {
        if let Some(set) = as_set(p) {
            let i = self.set_index(set);
            self.emit(Op::Span(i))?;
            return Ok(());
        }
        let test = match first(p) {
            Some((set, false)) => Some(self.test(set)?),
            _ => None,
        };
        let choice = self.emit(Op::Choice(0))?;
        let body = self.here();
        self.gen(p)?;
        self.emit(Op::PartialCommit(body))?;
        self.land(choice);
        if let Some(test) = test {
            self.land(test);
        }
        Ok(())
    }

    /// `p^-n`: up to n copies of `p`, the first failure ending the repetition.
    fn at_most(&mut self, p: &Pat, n: u32) -> Result<(), String> {
        if n == 0 {
            return Ok(());
        }
        if let Some(set) = as_set(p) {
            let mut exits = Vec::new();
            for _ in 0..n {
                exits.push(self.test(set)?);
                self.emit(Op::Any(1))?;
            }
            for exit in exits {
                self.land(exit);
            }
            return Ok(());
        }
        let choice = self.emit(Op::Choice(0))?;
        for k in 0..n {
            self.gen(p)?;
            if k + 1 < n {
                let next = self.here() + 1;
                self.emit(Op::PartialCommit(next))?;
            }
        }
        let commit = self.emit(Op::Commit(0))?;
        self.land(commit);
        self.land(choice);
        Ok(())
    }
}

/// Whether none of `rest` can match empty or start with a byte of `set`.
fn disjoint_from_rest(set: &Charset, rest: &[Pat]) -> bool {
    rest.iter().all(|p| match first(p) {
        Some((s, false)) => s.minus(set) == s,
        _ => false,
    })
}
