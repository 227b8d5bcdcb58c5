//! LPeg patterns as immutable trees: the constructors behind `lpeg.P`, the operators and the
//! captures, with LPeg's construction-time checks, and the analyses the compiler needs
//! (nullable, fixed length, first sets). Trees share subtrees through `Rc`, so building a
//! grammar out of many small patterns copies nothing.
//!
//! Sequences and choices are kept flat (`a * b * c` is one `Seq` of three), adjacent
//! literals merge into one run and single-byte choices into one set, so that neither the
//! tree depth nor the compiled program grows with how a grammar was spelled.

use super::charset::Charset;
use mlua::Value;
use std::cell::Cell;
use std::rc::Rc;

/// A shared pattern tree.
pub type Pat = Rc<Tree>;

/// Nesting a tree may reach: what bounds the native recursion of the compiler and of
/// binding a grammar's rules (a pattern built by a loop of `lpeg.C(p)` ends with
/// "pattern too complex"); the grammar checks have their own frame budget.
pub const MAX_DEPTH: u32 = 1000;
/// Rules one grammar may have (LPeg's limit).
pub const MAX_RULES: usize = 1000;
/// Longest literal run `a * b` merges two literals into.
const MAX_MERGED_LITERAL: usize = 64;
/// Bytes a look-behind may reach back (LPeg's limit).
pub const MAX_BEHIND: u32 = 255;

/// One pattern node and what the compiler wants to know about it without walking it.
pub struct Tree {
    pub node: Node,
    pub depth: u32,
    /// The node or a descendant captures (calls count as capturing: their rule may).
    pub captures: bool,
    /// The node or a descendant is a `V` not yet bound to a grammar rule.
    pub open_calls: bool,
    /// The node or a descendant calls a grammar rule.
    calls: bool,
    /// The analyses below, computed once when the node is made from its children's
    /// (so none of them recurses down a tree).
    nullable: bool,
    fixed: Option<u32>,
    first: Option<(Charset, bool)>,
}

/// The kinds of pattern.
pub enum Node {
    True,
    False,
    /// Exactly `n` bytes (n >= 1).
    Any(u32),
    /// A literal byte string (non-empty), shared with the programs compiled from it.
    Str(Rc<Literal>),
    Set(Box<Charset>),
    Seq(Vec<Pat>),
    /// Ordered choice.
    Choice(Vec<Pat>),
    /// At least `n` repetitions (`p^n`).
    Rep(Pat, u32),
    /// At most `n` repetitions (`p^-n`).
    AtMost(Pat, u32),
    Not(Pat),
    And(Pat),
    /// `lpeg.B`: the pattern (of this fixed length) matches just before the position.
    Behind(Pat, u32),
    Capture(CapKind, Pat, Payload),
    /// `lpeg.V(key)` outside any grammar yet.
    OpenCall(Value),
    /// A call of rule `n` of the enclosing grammar.
    Call(u32),
    /// A closed grammar; rule 0 is the initial rule.
    Grammar(Rc<[Pat]>),
}

/// A literal's bytes. A long literal copied from a Lua string counts in its sandbox's
/// meter of bytes held outside the Lua heap while any pattern or program holds it.
pub struct Literal {
    bytes: Box<[u8]>,
    meter: Option<Rc<Cell<usize>>>,
}

impl std::ops::Deref for Literal {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Literal {
    fn drop(&mut self) {
        if let Some(meter) = &self.meter {
            meter.set(meter.get().saturating_sub(self.bytes.len()));
        }
    }
}

/// What a capture produces (the LPeg manual's capture table).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CapKind {
    /// `C(p)`: the match, then p's captures.
    Simple,
    /// `Cp()`.
    Position,
    /// `Cc(...)`.
    Const,
    /// `Carg(n)`.
    Arg,
    /// `Cb(name)`.
    Backref,
    /// `Cg(p [, name])`.
    Group,
    /// `Ct(p)`.
    Table,
    /// `Cf(p, f)`.
    Fold,
    /// `Cs(p)`.
    Subst,
    /// `p / string`.
    String,
    /// `p / number`.
    Number,
    /// `p / table`.
    Query,
    /// `p / function`.
    Function,
    /// `p / tonumber` with the base library's `tonumber`: converted without a call when
    /// `p` gives one value (the common `digit^1 / tonumber`).
    ToNumber,
    /// `Cmt(p, f)`: called while matching.
    Runtime,
}

/// The Lua value(s) a capture carries.
#[derive(Clone)]
pub enum Payload {
    None,
    Value(Value),
    Values(Vec<Value>),
    Index(u32),
}

fn make(node: Node) -> Result<Pat, String> {
    let (depth, captures, open_calls) = {
        let children: Vec<&Pat> = match &node {
            Node::Seq(items) | Node::Choice(items) => items.iter().collect(),
            Node::Grammar(rules) => rules.iter().collect(),
            Node::Rep(p, _)
            | Node::AtMost(p, _)
            | Node::Not(p)
            | Node::And(p)
            | Node::Behind(p, _)
            | Node::Capture(_, p, _) => vec![p],
            _ => Vec::new(),
        };
        let depth = children.iter().map(|c| c.depth).max().unwrap_or(0) + 1;
        let captures = match &node {
            Node::Capture(..) | Node::Call(_) => true,
            // Captures inside a predicate are dropped (LPeg 1.0: `#p` and `-p` produce none).
            Node::Not(_) | Node::And(_) => false,
            _ => children.iter().any(|c| c.captures),
        };
        let open = matches!(node, Node::OpenCall(_)) || children.iter().any(|c| c.open_calls);
        (depth, captures, open)
    };
    if depth > MAX_DEPTH {
        return Err("pattern too complex".into());
    }
    let calls = match &node {
        Node::Call(_) => true,
        Node::Seq(items) | Node::Choice(items) => items.iter().any(|c| c.calls),
        Node::Rep(p, _)
        | Node::AtMost(p, _)
        | Node::Not(p)
        | Node::And(p)
        | Node::Behind(p, _)
        | Node::Capture(_, p, _) => p.calls,
        _ => false,
    };
    let (nullable, fixed, first) = (
        node_nullable(&node),
        node_fixed_len(&node),
        node_first(&node),
    );
    Ok(Rc::new(Tree {
        node,
        depth,
        captures,
        open_calls,
        calls,
        nullable,
        fixed,
        first,
    }))
}

pub fn always() -> Pat {
    make(Node::True).expect("leaf")
}

pub fn never() -> Pat {
    make(Node::False).expect("leaf")
}

/// `P(n)`, n >= 0.
pub fn any(n: u32) -> Pat {
    match n {
        0 => always(),
        n => make(Node::Any(n)).expect("leaf"),
    }
}

/// `P(string)`.
pub fn literal(bytes: &[u8]) -> Pat {
    metered_literal(bytes, None)
}

/// `P(string)`, its bytes counted in `meter` while they live.
pub fn metered_literal(bytes: &[u8], meter: Option<&Rc<Cell<usize>>>) -> Pat {
    if bytes.is_empty() {
        return always();
    }
    if let Some(m) = meter {
        m.set(m.get() + bytes.len());
    }
    let literal = Literal {
        bytes: bytes.into(),
        meter: meter.cloned(),
    };
    make(Node::Str(Rc::new(literal))).expect("leaf")
}

/// `S`, `R`, locale classes.
pub fn set(set: Charset) -> Pat {
    make(Node::Set(Box::new(set))).expect("leaf")
}

/// The set a one-byte pattern matches, if it is one.
pub fn as_set(p: &Tree) -> Option<Charset> {
    match &p.node {
        Node::Set(s) => Some(**s),
        Node::Str(s) if s.len() == 1 => Some(Charset::of(s)),
        Node::Any(1) => Some(Charset::FULL),
        _ => None,
    }
}

/// `p1 * p2`.
pub fn seq(a: &Pat, b: &Pat) -> Result<Pat, String> {
    match (&a.node, &b.node) {
        (Node::True, _) => return Ok(b.clone()),
        (_, Node::True) => return Ok(a.clone()),
        (Node::False, _) => return Ok(a.clone()),
        _ => {}
    }
    let mut items: Vec<Pat> = match &a.node {
        Node::Seq(items) => items.clone(),
        _ => vec![a.clone()],
    };
    let rest: Vec<Pat> = match &b.node {
        Node::Seq(items) => items.clone(),
        _ => vec![b.clone()],
    };
    for item in rest {
        let merged = match (items.last().map(|l| &l.node), &item.node) {
            // Short runs only: merging copies, and `p = p * "x"` in a loop must not be
            // quadratic.
            (Some(Node::Str(x)), Node::Str(y)) if x.len() + y.len() <= MAX_MERGED_LITERAL => {
                Some(literal(&[&x[..], &y[..]].concat()))
            }
            (Some(Node::Any(x)), Node::Any(y)) => Some(any(x.saturating_add(*y))),
            _ => None,
        };
        match merged {
            Some(m) => *items.last_mut().expect("non-empty") = m,
            None => items.push(item),
        }
    }
    match items.len() {
        1 => Ok(items.pop().expect("one")),
        _ => make(Node::Seq(items)),
    }
}

/// `p1 + p2`.
pub fn choice(a: &Pat, b: &Pat) -> Result<Pat, String> {
    match (&a.node, &b.node) {
        (Node::False, _) => return Ok(b.clone()),
        (_, Node::False) | (Node::True, _) => return Ok(a.clone()),
        _ => {}
    }
    let mut items: Vec<Pat> = match &a.node {
        Node::Choice(items) => items.clone(),
        _ => vec![a.clone()],
    };
    let rest: Vec<Pat> = match &b.node {
        Node::Choice(items) => items.clone(),
        _ => vec![b.clone()],
    };
    for item in rest {
        let merged = match (items.last().and_then(|l| as_set(l)), as_set(&item)) {
            (Some(x), Some(y)) => Some(set(x.union(&y))),
            _ => None,
        };
        match merged {
            Some(m) => *items.last_mut().expect("non-empty") = m,
            None => items.push(item),
        }
    }
    match items.len() {
        1 => Ok(items.pop().expect("one")),
        _ => make(Node::Choice(items)),
    }
}

/// `p1 - p2`: `-p2 * p1`, or a set difference when both are sets.
pub fn difference(a: &Pat, b: &Pat) -> Result<Pat, String> {
    if let (Some(x), Some(y)) = (as_set(a), as_set(b)) {
        return Ok(set(x.minus(&y)));
    }
    seq(&not(b)?, a)
}

/// `-p`.
pub fn not(p: &Pat) -> Result<Pat, String> {
    make(Node::Not(p.clone()))
}

/// `#p`.
pub fn and(p: &Pat) -> Result<Pat, String> {
    make(Node::And(p.clone()))
}

/// `p^n`: at least `n` repetitions for n >= 0, at most `-n` for n < 0.
pub fn repeat(p: &Pat, n: i64) -> Result<Pat, String> {
    if n >= 0 {
        // A `V` not yet bound counts as consuming; the grammar checks it once bound.
        if nullable(p) {
            return Err("loop body may accept empty string".into());
        }
        let n = u32::try_from(n).map_err(|_| "repetition count too large".to_string())?;
        make(Node::Rep(p.clone(), n))
    } else {
        let n = u32::try_from(n.unsigned_abs()).map_err(|_| "repetition count too large")?;
        make(Node::AtMost(p.clone(), n))
    }
}

/// `lpeg.B(p)`.
pub fn behind(p: &Pat) -> Result<Pat, String> {
    if p.open_calls {
        return Err("pattern may not have fixed length".into());
    }
    let Some(len) = fixed_len(p) else {
        return Err("pattern may not have fixed length".into());
    };
    if has_capture(p) {
        return Err("pattern have captures".into());
    }
    if len > MAX_BEHIND {
        return Err("pattern too long to look behind".into());
    }
    make(Node::Behind(p.clone(), len))
}

/// Whether `p` holds any capture, predicates included (`lpeg.B` refuses them all).
fn has_capture(p: &Tree) -> bool {
    match &p.node {
        Node::Capture(..) => true,
        // A rule's captures are found through its grammar.
        Node::Call(_) | Node::OpenCall(_) => false,
        Node::Grammar(rules) => rules.iter().any(|r| has_capture(r)),
        Node::Seq(items) | Node::Choice(items) => items.iter().any(|i| has_capture(i)),
        Node::Rep(q, _) | Node::AtMost(q, _) | Node::Not(q) | Node::And(q) | Node::Behind(q, _) => {
            has_capture(q)
        }
        _ => false,
    }
}

/// A capture of `kind` around `p`.
pub fn capture(kind: CapKind, p: &Pat, payload: Payload) -> Result<Pat, String> {
    make(Node::Capture(kind, p.clone(), payload))
}

/// `lpeg.V(key)`.
pub fn open_call(key: Value) -> Pat {
    make(Node::OpenCall(key)).expect("leaf")
}

/// Whether `p` can succeed without consuming input (calls must be bound; see
/// [`grammar`] for grammars, whose rules are checked there).
pub fn nullable(p: &Tree) -> bool {
    p.nullable
}

fn node_nullable(node: &Node) -> bool {
    match node {
        Node::True | Node::Not(_) | Node::And(_) | Node::Behind(..) | Node::AtMost(..) => true,
        Node::False | Node::Any(_) | Node::Str(_) | Node::Set(_) => false,
        Node::Seq(items) => items.iter().all(|i| nullable(i)),
        Node::Choice(items) => items.iter().any(|i| nullable(i)),
        Node::Rep(q, n) => *n == 0 || nullable(q),
        Node::Capture(_, q, _) => nullable(q),
        Node::Grammar(rules) => grammar_nullable(rules),
        // An unbound `V` counts as consuming (LPeg's choice); calls only exist inside
        // grammars, which check them with their rules.
        Node::OpenCall(_) => false,
        Node::Call(_) => true,
    }
}

/// The length every match of `p` has, if it is fixed.
pub fn fixed_len(p: &Tree) -> Option<u32> {
    p.fixed
}

fn node_fixed_len(node: &Node) -> Option<u32> {
    match node {
        Node::Grammar(rules) => fixed_len_in(&rules[0], rules, 1),
        node => fixed_len_of(node, |q| q.fixed),
    }
}

/// Calls [`fixed_len`] follows into rules before giving up (bounds its recursion; a
/// recursive rule has no fixed length anyway).
const MAX_FIXED_LEN_CALLS: u32 = 4;

/// The fixed length of `p` inside a grammar: through its calls of `rules`.
fn fixed_len_in(p: &Tree, rules: &[Pat], calls: u32) -> Option<u32> {
    if !p.calls {
        return p.fixed;
    }
    match &p.node {
        Node::Call(i) if calls < MAX_FIXED_LEN_CALLS => {
            fixed_len_in(rules.get(*i as usize)?, rules, calls + 1)
        }
        node => fixed_len_of(node, |q| fixed_len_in(q, rules, calls)),
    }
}

/// The fixed length of a node given its children's (`fixed_len`).
fn fixed_len_of(node: &Node, fixed_len: impl Fn(&Tree) -> Option<u32>) -> Option<u32> {
    match node {
        Node::True | Node::False | Node::Not(_) | Node::And(_) | Node::Behind(..) => Some(0),
        Node::Any(n) => Some(*n),
        Node::Str(s) => u32::try_from(s.len()).ok(),
        Node::Set(_) => Some(1),
        Node::Seq(items) => items
            .iter()
            .try_fold(0u32, |sum, i| sum.checked_add(fixed_len(i)?)),
        Node::Choice(items) => {
            let first = fixed_len(&items[0])?;
            items[1..]
                .iter()
                .all(|i| fixed_len(i) == Some(first))
                .then_some(first)
        }
        Node::Capture(kind, q, _) => match kind {
            CapKind::Runtime => None,
            _ => fixed_len(q),
        },
        Node::Rep(q, _) | Node::AtMost(q, _) => (fixed_len(q) == Some(0)).then_some(0),
        Node::OpenCall(_) | Node::Call(_) | Node::Grammar(_) => None,
    }
}

/// The bytes a successful match of `p` can start with, and whether it can also succeed
/// without consuming (then the set says nothing). `None`: unknown (calls).
pub fn first(p: &Tree) -> Option<(Charset, bool)> {
    p.first
}

fn node_first(node: &Node) -> Option<(Charset, bool)> {
    match node {
        Node::True | Node::Not(_) | Node::And(_) | Node::Behind(..) => {
            Some((Charset::default(), true))
        }
        Node::False => Some((Charset::default(), false)),
        Node::Any(_) => Some((Charset::FULL, false)),
        Node::Str(s) => Some((Charset::of(&s[..1]), false)),
        Node::Set(s) => Some((**s, false)),
        Node::Seq(items) => {
            let mut set = Charset::default();
            for item in items {
                let (s, empty) = first(item)?;
                set = set.union(&s);
                if !empty {
                    return Some((set, false));
                }
            }
            Some((set, true))
        }
        Node::Choice(items) => {
            let mut set = Charset::default();
            let mut empty = false;
            for item in items {
                let (s, e) = first(item)?;
                set = set.union(&s);
                empty |= e;
            }
            Some((set, empty))
        }
        Node::Rep(q, n) => {
            let (s, e) = first(q)?;
            Some((s, e || *n == 0))
        }
        Node::AtMost(q, _) => Some((first(q)?.0, true)),
        // A match-time function may do anything: nothing is known about what follows.
        Node::Capture(CapKind::Runtime, ..) => None,
        Node::Capture(_, q, _) => first(q),
        Node::OpenCall(_) | Node::Call(_) | Node::Grammar(_) => None,
    }
}

/// A grammar from its rules (the initial rule first) keyed by their Lua keys; `name`
/// gives a key's text for errors. Binds every `V`, then rejects left recursion and loops
/// whose body can match empty, as LPeg does.
pub fn grammar(
    rules: Vec<(Value, Pat)>,
    same_key: impl Fn(&Value, &Value) -> bool,
    name: impl Fn(&Value) -> String,
) -> Result<Pat, String> {
    if rules.len() > MAX_RULES {
        return Err("grammar has too many rules".into());
    }
    let keys: Vec<&Value> = rules.iter().map(|(k, _)| k).collect();
    let bound: Vec<Pat> = rules
        .iter()
        .map(|(_, p)| bind(p, &keys, &same_key, &name))
        .collect::<Result<_, _>>()?;
    let mut state = vec![RuleState::Unknown; bound.len()];
    for i in 0..bound.len() {
        rule_nullable(i, &bound, &mut state, &|i| name(keys[i]), 0)?;
    }
    let nullables: Vec<bool> = state
        .iter()
        .map(|s| matches!(s, RuleState::Done(true)))
        .collect();
    for (i, (key, p)) in rules.iter().enumerate() {
        check_loops(&bound[i], p, &nullables)
            .map_err(|_| format!("empty loop in rule '{}'", name(key)))?;
    }
    make(Node::Grammar(bound.into()))
}

/// `p` with its `V`s replaced by calls of the rules they name.
fn bind(
    p: &Pat,
    keys: &[&Value],
    same_key: &impl Fn(&Value, &Value) -> bool,
    name: &impl Fn(&Value) -> String,
) -> Result<Pat, String> {
    if !p.open_calls {
        return Ok(p.clone());
    }
    let b = |q: &Pat| bind(q, keys, same_key, name);
    let node = match &p.node {
        Node::OpenCall(key) => {
            let Some(i) = keys.iter().position(|k| same_key(k, key)) else {
                return Err(format!("rule '{}' undefined in given grammar", name(key)));
            };
            Node::Call(i as u32)
        }
        Node::Seq(items) => Node::Seq(items.iter().map(b).collect::<Result<_, _>>()?),
        Node::Choice(items) => Node::Choice(items.iter().map(b).collect::<Result<_, _>>()?),
        Node::Rep(q, n) => Node::Rep(b(q)?, *n),
        Node::AtMost(q, n) => Node::AtMost(b(q)?, *n),
        Node::Not(q) => Node::Not(b(q)?),
        Node::And(q) => Node::And(b(q)?),
        Node::Capture(kind, q, payload) => Node::Capture(*kind, b(q)?, payload.clone()),
        _ => unreachable!("only nodes with children carry open calls"),
    };
    make(node)
}

#[derive(Clone, Copy)]
enum RuleState {
    Unknown,
    Visiting,
    Done(bool),
}

/// Native frames the grammar check may stack (rules chained through their heads, each
/// walked down its tree) before the grammar is refused: bounds its recursion.
const MAX_CHECK_FRAMES: u32 = 4 * MAX_DEPTH;

fn rule_nullable(
    i: usize,
    rules: &[Pat],
    state: &mut [RuleState],
    name: &impl Fn(usize) -> String,
    frames: u32,
) -> Result<bool, String> {
    match state[i] {
        RuleState::Done(n) => Ok(n),
        RuleState::Visiting => Err(format!("rule '{}' may be left recursive", name(i))),
        RuleState::Unknown => {
            state[i] = RuleState::Visiting;
            let n = head_nullable(&rules[i], rules, state, name, frames + 1)?;
            state[i] = RuleState::Done(n);
            Ok(n)
        }
    }
}

/// Nullability of `p`, following calls only where they are reached without consuming
/// input (a rule reached again that way is left recursive).
fn head_nullable(
    p: &Tree,
    rules: &[Pat],
    state: &mut [RuleState],
    name: &impl Fn(usize) -> String,
    frames: u32,
) -> Result<bool, String> {
    if frames > MAX_CHECK_FRAMES {
        return Err("grammar too complex".into());
    }
    let head = |q: &Tree, state: &mut [RuleState]| head_nullable(q, rules, state, name, frames + 1);
    Ok(match &p.node {
        Node::Call(i) => rule_nullable(*i as usize, rules, state, name, frames)?,
        Node::Seq(items) => {
            for item in items {
                if !head(item, state)? {
                    return Ok(false);
                }
            }
            true
        }
        Node::Choice(items) => {
            let mut any = false;
            for item in items {
                any |= head(item, state)?;
            }
            any
        }
        Node::Rep(q, n) => head(q, state)? || *n == 0,
        Node::AtMost(q, _) | Node::Not(q) | Node::And(q) => {
            head(q, state)?;
            true
        }
        Node::Capture(_, q, _) => head(q, state)?,
        _ => nullable(p),
    })
}

/// Refuses repetitions whose body can match empty once calls are bound.
fn check_loops(p: &Tree, unbound: &Tree, nullables: &[bool]) -> Result<(), String> {
    if !unbound.open_calls {
        return Ok(());
    }
    let nullable_bound = |q: &Tree| -> bool { bound_nullable(q, nullables) };
    match (&p.node, &unbound.node) {
        (Node::Rep(q, _), Node::Rep(u, _)) => {
            if nullable_bound(q) {
                return Err("loop body may accept empty string".into());
            }
            check_loops(q, u, nullables)
        }
        (Node::Seq(a), Node::Seq(b)) | (Node::Choice(a), Node::Choice(b)) => a
            .iter()
            .zip(b.iter())
            .try_for_each(|(x, y)| check_loops(x, y, nullables)),
        (Node::AtMost(q, _), Node::AtMost(u, _))
        | (Node::Not(q), Node::Not(u))
        | (Node::And(q), Node::And(u))
        | (Node::Capture(_, q, _), Node::Capture(_, u, _)) => check_loops(q, u, nullables),
        _ => Ok(()),
    }
}

fn bound_nullable(p: &Tree, nullables: &[bool]) -> bool {
    match &p.node {
        Node::Call(i) => nullables[*i as usize],
        Node::Seq(items) => items.iter().all(|i| bound_nullable(i, nullables)),
        Node::Choice(items) => items.iter().any(|i| bound_nullable(i, nullables)),
        Node::Rep(q, n) => *n == 0 || bound_nullable(q, nullables),
        Node::Capture(_, q, _) => bound_nullable(q, nullables),
        _ => nullable(p),
    }
}

/// Whether a closed grammar can match empty (its initial rule).
pub fn grammar_nullable(rules: &[Pat]) -> bool {
    let mut state = vec![RuleState::Unknown; rules.len()];
    rule_nullable(0, rules, &mut state, &|_| String::new(), 0).unwrap_or(true)
}
