//! The matcher grammar (§3.2) as recursive descent: `&&` binds tighter than `||`, both
//! left-associative; juxtaposed expressions are accepted and the last one counts (QUIRK).

use super::lexer::{Lexer, NumVar, Op, StrVar, Token};
use super::MatcherError;
use regex::bytes::Regex;

/// A compiled string test against a literal or regex.
#[derive(Debug, Clone)]
pub enum StrTest {
    Compare(Op, Vec<u8>),
    Regex { negate: bool, pattern: Pattern },
}

/// A regex, or a cheaper literal test with the same meaning (§3.1 optimisation).
#[derive(Debug, Clone)]
pub enum Pattern {
    Always,
    StartsWith(Vec<u8>),
    EndsWith(Vec<u8>),
    Contains(Vec<u8>),
    Regex(Box<Regex>),
}

/// Right-hand side of a `Fields[...]` test.
#[derive(Debug, Clone)]
pub enum FieldRhs {
    Str(Op, Vec<u8>),
    Number(Op, f64),
    Bool(bool),
    Regex { negate: bool, pattern: Pattern },
    Nil { equal: bool },
}

/// The compiled expression tree.
#[derive(Debug, Clone)]
pub enum Node {
    Const(bool),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Str(StrVar, StrTest),
    Num(NumVar, Op, f64),
    Field {
        name: Vec<u8>,
        field_index: usize,
        array_index: usize,
        rhs: FieldRhs,
    },
}

struct Parser {
    lexer: Lexer,
    token: Token,
}

/// Parses a whole matcher expression.
pub fn parse(input: &str) -> Result<Node, MatcherError> {
    let mut lexer = Lexer::new(input);
    let token = lexer.next_token();
    let mut p = Parser { lexer, token };
    let mut node = p.expr()?;
    while !matches!(p.token, Token::End) {
        node = p.expr()?;
    }
    Ok(node)
}

impl Parser {
    fn advance(&mut self) -> Token {
        std::mem::replace(&mut self.token, self.lexer.next_token())
    }

    fn error(&self) -> MatcherError {
        MatcherError {
            last_token: self.token.symbol(),
            pos: self.lexer.pos(),
        }
    }

    fn expr(&mut self) -> Result<Node, MatcherError> {
        let mut left = self.and_expr()?;
        while matches!(self.token, Token::Or) {
            self.advance();
            left = Node::Or(Box::new(left), Box::new(self.and_expr()?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Node, MatcherError> {
        let mut left = self.primary()?;
        while matches!(self.token, Token::And) {
            self.advance();
            left = Node::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Node, MatcherError> {
        match self.token.clone() {
            Token::Open => {
                self.advance();
                let inner = self.expr()?;
                if !matches!(self.token, Token::Close) {
                    return Err(self.error());
                }
                self.advance();
                Ok(inner)
            }
            Token::True => {
                self.advance();
                Ok(Node::Const(true))
            }
            Token::False => {
                self.advance();
                Ok(Node::Const(false))
            }
            Token::StrVar(var) => {
                self.advance();
                let test = match (self.op()?, self.advance()) {
                    (op @ (Op::Match | Op::NotMatch), Token::Regex(re, src)) => StrTest::Regex {
                        negate: op == Op::NotMatch,
                        pattern: pattern(*re, &src),
                    },
                    (op, Token::Str(s)) if !matches!(op, Op::Match | Op::NotMatch) => {
                        StrTest::Compare(op, s.into_bytes())
                    }
                    _ => return Err(self.error()),
                };
                Ok(Node::Str(var, test))
            }
            Token::NumVar(var) => {
                self.advance();
                match (self.op()?, self.advance()) {
                    (op, Token::Number(n)) if !matches!(op, Op::Match | Op::NotMatch) => {
                        Ok(Node::Num(var, op, n))
                    }
                    _ => Err(self.error()),
                }
            }
            Token::Field {
                name,
                field_index,
                array_index,
            } => {
                self.advance();
                let op = self.op()?;
                let regex_op = matches!(op, Op::Match | Op::NotMatch);
                let rhs = match self.advance() {
                    Token::Regex(re, src) if regex_op => FieldRhs::Regex {
                        negate: op == Op::NotMatch,
                        pattern: pattern(*re, &src),
                    },
                    Token::Str(s) if !regex_op => FieldRhs::Str(op, s.into_bytes()),
                    Token::Number(n) if !regex_op => FieldRhs::Number(op, n),
                    Token::True if op == Op::Eq => FieldRhs::Bool(true),
                    Token::False if op == Op::Eq => FieldRhs::Bool(false),
                    Token::Nil if matches!(op, Op::Eq | Op::Ne) => FieldRhs::Nil {
                        equal: op == Op::Eq,
                    },
                    _ => return Err(self.error()),
                };
                Ok(Node::Field {
                    name: name.into_bytes(),
                    field_index,
                    array_index,
                    rhs,
                })
            }
            _ => Err(self.error()),
        }
    }

    fn op(&mut self) -> Result<Op, MatcherError> {
        match self.token {
            Token::Op(op) => {
                self.advance();
                Ok(op)
            }
            _ => Err(self.error()),
        }
    }
}

const META: &[char] = &[
    '\\', '.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$',
];

/// Picks the cheapest test equivalent to the regex `src`.
fn pattern(re: Regex, src: &str) -> Pattern {
    let literal = |s: &str| !s.contains(META);
    if src == "^" || src == "$" || src.is_empty() {
        return Pattern::Always;
    }
    if let Some(rest) = src.strip_prefix('^') {
        if literal(rest) {
            return Pattern::StartsWith(rest.as_bytes().to_vec());
        }
    }
    if let Some(rest) = src.strip_suffix('$') {
        if literal(rest) {
            return Pattern::EndsWith(rest.as_bytes().to_vec());
        }
    }
    if literal(src) {
        return Pattern::Contains(src.as_bytes().to_vec());
    }
    Pattern::Regex(Box::new(re))
}
