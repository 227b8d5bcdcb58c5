//! The matcher: runs a compiled [`Program`] over a subject with an explicit backtrack
//! stack (so no pattern can drive native recursion), recording captures as it goes for
//! [`super::capture`] to turn into Lua values after the match. Every instruction counts
//! toward the sandbox's instruction budget, and what the stack and the capture list hold
//! toward its memory limit.

use super::compile::{Op, Program};
use super::tree::CapKind;
use crate::pipeline::shutdown::Control;
use crate::sandbox::limits::Instructions;
use mlua::Error;

/// What a recorded capture entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Opens a capture of this kind (`len` is [`OPEN`]) or is a whole one (`len` bytes).
    Capture(CapKind),
    /// Closes the innermost open capture.
    Close,
    /// Values a `Cmt` function returned (`idx` into the match's dynamic values).
    Dynamic,
}

/// `Cap::len` of an entry that opens a capture closed by a later `Close`.
pub const OPEN: usize = usize::MAX;

/// One entry of the capture list.
#[derive(Clone, Copy, Debug)]
pub struct Cap {
    /// Subject offset where the capture starts (a `Close`: where it ends).
    pub pos: usize,
    pub len: usize,
    pub slot: Slot,
    /// Payload index (or dynamic values index).
    pub idx: u32,
}

impl Cap {
    pub fn is_open(&self) -> bool {
        self.len == OPEN && self.slot != Slot::Close
    }
}

/// Runs `Cmt` functions while matching.
pub trait MatchTime {
    /// Calls the function of the `Cmt` whose open entry is `caps[open]`, with the captures
    /// nested in it (the entries after it), the match having reached `end`. `Ok(None)`:
    /// the match fails here; otherwise the new position and the index of the values it
    /// returned, if any.
    fn call(
        &mut self,
        caps: &[Cap],
        open: usize,
        end: usize,
    ) -> mlua::Result<Option<(usize, Option<u32>)>>;
}

/// Steps counted locally before they are charged to the instruction budget.
const CHARGE_EVERY: u64 = 1024;
/// `pos` of a call's return entry on the backtrack stack.
const CALL: usize = usize::MAX;

#[derive(Clone, Copy)]
struct Frame {
    pc: u32,
    pos: usize,
    caps: usize,
}

/// Limits one match runs under.
pub struct Limits<'a> {
    /// Backtrack entries (`lpeg.setmaxstack`).
    pub max_stack: usize,
    /// Bytes the stack and capture list may take (0: unlimited).
    pub memory: usize,
    pub instructions: &'a Instructions,
    /// hekad's stop signal: a match ends at shutdown even without an instruction limit.
    pub stop: Option<&'a Control>,
}

impl Limits<'_> {
    /// Charges `steps` to the budget; fails once it is spent or hekad stops.
    fn charge(&self, steps: u64) -> mlua::Result<()> {
        if self.stop.is_some_and(Control::is_stopping) {
            return Err(Error::runtime("aborted"));
        }
        self.instructions.charge(steps)
    }
}

/// Reusable matcher storage.
#[derive(Default)]
pub struct Machine {
    stack: Vec<Frame>,
    pub caps: Vec<Cap>,
}

impl Machine {
    /// Matches `program` against `subject` from `start`: the end offset on success, with
    /// the captures in `self.caps`.
    pub fn run(
        &mut self,
        program: &Program,
        subject: &[u8],
        start: usize,
        limits: &Limits,
        runtime: &mut dyn MatchTime,
    ) -> mlua::Result<Option<usize>> {
        self.stack.clear();
        self.caps.clear();
        let code = &program.code[..];
        let len = subject.len();
        let mut pc = 0usize;
        let mut pos = start;
        let mut steps: u64 = 0;
        macro_rules! fail {
            () => {{
                loop {
                    match self.stack.pop() {
                        None => return Ok(None),
                        Some(f) if f.pos == CALL => continue,
                        Some(f) => {
                            pos = f.pos;
                            self.caps.truncate(f.caps);
                            pc = f.pc as usize;
                            break;
                        }
                    }
                }
                continue;
            }};
        }
        loop {
            steps += 1;
            if steps >= CHARGE_EVERY {
                limits.charge(steps)?;
                steps = 0;
            }
            match code[pc] {
                Op::Any(n) => {
                    let n = n as usize;
                    if len - pos < n {
                        fail!();
                    }
                    pos += n;
                    pc += 1;
                }
                Op::Char(c) => {
                    if pos >= len || subject[pos] != c {
                        fail!();
                    }
                    pos += 1;
                    pc += 1;
                }
                Op::Str(i) => {
                    let lit = &program.literals[i as usize];
                    // Charged before comparing: a long literal failing late costs too.
                    steps += (lit.len() >> 4) as u64;
                    if !subject[pos..].starts_with(&lit[..]) {
                        fail!();
                    }
                    pos += lit.len();
                    pc += 1;
                }
                Op::Set(i) => {
                    if pos >= len || !program.sets[i as usize].contains(subject[pos]) {
                        fail!();
                    }
                    pos += 1;
                    pc += 1;
                }
                Op::Span(i) => {
                    let set = &program.sets[i as usize];
                    let from = pos;
                    while pos < len && set.contains(subject[pos]) {
                        pos += 1;
                    }
                    steps += ((pos - from) >> 4) as u64;
                    pc += 1;
                }
                Op::TestChar(c, to) => {
                    pc = match pos < len && subject[pos] == c {
                        true => pc + 1,
                        false => to as usize,
                    };
                }
                Op::TestSet(i, to) => {
                    pc = match pos < len && program.sets[i as usize].contains(subject[pos]) {
                        true => pc + 1,
                        false => to as usize,
                    };
                }
                Op::Behind(n) => {
                    let n = n as usize;
                    if pos < n {
                        fail!();
                    }
                    pos -= n;
                    pc += 1;
                }
                Op::Choice(to) => {
                    self.push(
                        Frame {
                            pc: to,
                            pos,
                            caps: self.caps.len(),
                        },
                        limits,
                    )?;
                    pc += 1;
                }
                Op::Commit(to) => {
                    self.stack.pop();
                    pc = to as usize;
                }
                Op::PartialCommit(to) => {
                    if let Some(top) = self.stack.last_mut() {
                        top.pos = pos;
                        top.caps = self.caps.len();
                    }
                    pc = to as usize;
                }
                Op::BackCommit(to) => {
                    if let Some(f) = self.stack.pop() {
                        pos = f.pos;
                        self.caps.truncate(f.caps);
                    }
                    pc = to as usize;
                }
                Op::FailTwice => {
                    self.stack.pop();
                    fail!();
                }
                Op::Fail => fail!(),
                Op::Jmp(to) => pc = to as usize,
                Op::Call(to) => {
                    self.push(
                        Frame {
                            pc: pc as u32 + 1,
                            pos: CALL,
                            caps: 0,
                        },
                        limits,
                    )?;
                    pc = to as usize;
                }
                Op::Ret => {
                    let f = self.stack.pop().ok_or_else(|| internal("return"))?;
                    pc = f.pc as usize;
                }
                Op::OpenCapture(kind, idx) => {
                    self.record(
                        Cap {
                            pos,
                            len: OPEN,
                            slot: Slot::Capture(kind),
                            idx,
                        },
                        limits,
                    )?;
                    pc += 1;
                }
                Op::CloseCapture => {
                    match self.caps.last_mut() {
                        // Nothing nested: the open entry becomes a whole capture.
                        Some(last) if last.is_open() => last.len = pos - last.pos,
                        _ => self.record(
                            Cap {
                                pos,
                                len: OPEN,
                                slot: Slot::Close,
                                idx: 0,
                            },
                            limits,
                        )?,
                    }
                    pc += 1;
                }
                Op::FullCapture(kind, n, idx) => {
                    let n = n as usize;
                    self.record(
                        Cap {
                            pos: pos - n,
                            len: n,
                            slot: Slot::Capture(kind),
                            idx,
                        },
                        limits,
                    )?;
                    pc += 1;
                }
                Op::CloseRunTime => {
                    limits.charge(steps)?;
                    steps = 0;
                    let open = open_of(&self.caps).ok_or_else(|| internal("Cmt"))?;
                    let entry = self.caps[open];
                    match runtime.call(&self.caps, open, pos)? {
                        None => {
                            fail!();
                        }
                        Some((to, values)) => {
                            if to < pos || to > len {
                                return Err(Error::runtime(
                                    "invalid position returned by match-time capture",
                                ));
                            }
                            self.caps.truncate(open);
                            if let Some(idx) = values {
                                self.record(
                                    Cap {
                                        pos: entry.pos,
                                        len: to - entry.pos,
                                        slot: Slot::Dynamic,
                                        idx,
                                    },
                                    limits,
                                )?;
                            }
                            pos = to;
                        }
                    }
                    pc += 1;
                }
                Op::End => {
                    limits.charge(steps)?;
                    return Ok(Some(pos));
                }
            }
        }
    }

    fn push(&mut self, frame: Frame, limits: &Limits) -> mlua::Result<()> {
        if self.stack.len() >= limits.max_stack {
            return Err(Error::runtime(format!(
                "backtrack stack overflow (current limit is {})",
                limits.max_stack
            )));
        }
        if self.stack.len() == self.stack.capacity() {
            self.check_memory(
                limits,
                self.stack.capacity().max(8) * 2,
                self.caps.capacity(),
            )?;
        }
        self.stack.push(frame);
        Ok(())
    }

    fn record(&mut self, cap: Cap, limits: &Limits) -> mlua::Result<()> {
        if self.caps.len() == self.caps.capacity() {
            self.check_memory(
                limits,
                self.stack.capacity(),
                self.caps.capacity().max(8) * 2,
            )?;
        }
        self.caps.push(cap);
        Ok(())
    }

    fn check_memory(&self, limits: &Limits, frames: usize, caps: usize) -> mlua::Result<()> {
        let bytes = frames * std::mem::size_of::<Frame>() + caps * std::mem::size_of::<Cap>();
        if limits.memory > 0 && bytes > limits.memory {
            return Err(Error::runtime("not enough memory (lpeg captures)"));
        }
        Ok(())
    }

    /// Frees storage a large match grew, keeping a little for the next one.
    pub fn shrink(&mut self) {
        const KEPT: usize = 1024;
        if self.caps.capacity() > KEPT {
            self.caps = Vec::new();
        }
        if self.stack.capacity() > KEPT {
            self.stack = Vec::new();
        }
    }
}

/// The index of the innermost capture still open at the end of `caps`.
fn open_of(caps: &[Cap]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, cap) in caps.iter().enumerate().rev() {
        if cap.slot == Slot::Close {
            depth += 1;
        } else if cap.is_open() {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
    }
    None
}

fn internal(what: &str) -> Error {
    Error::runtime(format!("lpeg: internal error ({what})"))
}
