//! Heka's message matcher language (spec §3): compiled once per plugin, evaluated per
//! message over the zero-copy [`MessageView`] without heap allocation.

mod eval;
mod lexer;
mod parser;

use crate::message::MessageView;
use std::fmt;

/// A compiled `message_matcher` expression.
#[derive(Debug, Clone)]
pub struct Matcher {
    source: String,
    root: parser::Node,
}

/// A syntax error, printed as Heka prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatcherError {
    pub last_token: String,
    pub pos: usize,
}

impl fmt::Display for MatcherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "syntax error: last token: {} pos: {}",
            self.last_token, self.pos
        )
    }
}

impl std::error::Error for MatcherError {}

impl Matcher {
    /// Compiles `expr`.
    pub fn compile(expr: &str) -> Result<Matcher, MatcherError> {
        Ok(Matcher {
            source: expr.to_owned(),
            root: parser::parse(expr)?,
        })
    }

    /// True when `msg` matches.
    pub fn matches(&self, msg: &MessageView<'_>) -> bool {
        eval::eval(&self.root, msg)
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}
