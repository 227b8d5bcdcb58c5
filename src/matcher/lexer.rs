//! Tokens of the matcher language (§3.1), rune by rune with Heka's quirks: a newline ends
//! the input, only space and tab are whitespace, an unknown capitalised word acts as the
//! end of input, unparsable numbers are 0.

use regex::bytes::Regex;

/// Header variables compared as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrVar {
    Uuid,
    Type,
    Logger,
    Payload,
    EnvVersion,
    Hostname,
}

/// Header variables compared as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumVar {
    Timestamp,
    Severity,
    Pid,
}

/// Comparison and regex operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Match,
    NotMatch,
}

/// One token.
#[derive(Debug, Clone)]
pub enum Token {
    StrVar(StrVar),
    NumVar(NumVar),
    Field {
        name: String,
        field_index: usize,
        array_index: usize,
    },
    True,
    False,
    Nil,
    Op(Op),
    And,
    Or,
    Open,
    Close,
    Str(String),
    Regex(Box<Regex>, String),
    Number(f64),
    End,
    /// Anything the grammar cannot start with; always a syntax error.
    Bad(String),
}

impl Token {
    /// How the token is shown in "last token:" of a syntax error.
    pub fn symbol(&self) -> String {
        match self {
            Token::StrVar(v) => format!("{v:?}"),
            Token::NumVar(v) => format!("{v:?}"),
            Token::Field { name, .. } => format!("Fields[{name}]"),
            Token::True => "TRUE".into(),
            Token::False => "FALSE".into(),
            Token::Nil => "NIL".into(),
            Token::Op(op) => match op {
                Op::Eq => "==",
                Op::Ne => "!=",
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Match => "=~",
                Op::NotMatch => "!~",
            }
            .into(),
            Token::And => "&&".into(),
            Token::Or => "||".into(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Str(s) => format!("{s:?}"),
            Token::Regex(_, s) => format!("/{s}/"),
            Token::Number(n) => n.to_string(),
            Token::End => "EOF".into(),
            Token::Bad(s) => s.clone(),
        }
    }
}

/// Splits an expression into tokens on demand.
pub struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    pub fn new(input: &str) -> Lexer {
        // A newline ends the input.
        let text = input.split('\n').next().unwrap_or("");
        Lexer {
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    /// Rune position of the lexer (for error messages).
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// The next token.
    pub fn next_token(&mut self) -> Token {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
        let Some(c) = self.bump() else {
            return Token::End;
        };
        match c {
            '(' => Token::Open,
            ')' => Token::Close,
            '=' => match self.peek() {
                Some('=') => self.then(Token::Op(Op::Eq)),
                Some('~') => self.then(Token::Op(Op::Match)),
                _ => Token::Bad("=".into()),
            },
            '!' => match self.peek() {
                Some('=') => self.then(Token::Op(Op::Ne)),
                Some('~') => self.then(Token::Op(Op::NotMatch)),
                _ => Token::Bad("!".into()),
            },
            '>' => match self.peek() {
                Some('=') => self.then(Token::Op(Op::Ge)),
                _ => Token::Op(Op::Gt),
            },
            '<' => match self.peek() {
                Some('=') => self.then(Token::Op(Op::Le)),
                _ => Token::Op(Op::Lt),
            },
            '&' if self.peek() == Some('&') => self.then(Token::And),
            '|' if self.peek() == Some('|') => self.then(Token::Or),
            '\'' | '"' => self.string(c),
            '/' => self.regex(),
            '0'..='9' | '.' => self.number(c),
            'A'..='Z' => self.word(c),
            other => Token::Bad(other.to_string()),
        }
    }

    fn then(&mut self, token: Token) -> Token {
        self.pos += 1;
        token
    }

    fn string(&mut self, quote: char) -> Token {
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Token::Bad(format!("{quote}{text}")),
                Some(c) if c == quote => return Token::Str(text),
                Some('\\') => match self.bump() {
                    Some(c) if c == quote => text.push(c),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => return Token::Bad(format!("{quote}{text}")),
                },
                Some(c) => text.push(c),
            }
        }
    }

    fn regex(&mut self) -> Token {
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Token::Bad(format!("/{text}")),
                Some('/') => break,
                Some('\\') => match self.bump() {
                    Some('/') => text.push('/'),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => return Token::Bad(format!("/{text}")),
                },
                Some(c) => text.push(c),
            }
        }
        match Regex::new(&text) {
            Ok(re) => Token::Regex(Box::new(re), text),
            Err(_) => Token::Bad(format!("/{text}/")),
        }
    }

    fn number(&mut self, first: char) -> Token {
        let mut text = String::from(first);
        while let Some(c) = self
            .peek()
            .filter(|c| matches!(c, '0'..='9' | '.' | 'e' | '+' | '-'))
        {
            text.push(c);
            self.pos += 1;
        }
        // Heka logs "error converting" and uses 0 for runs like `6e` or `1-2`.
        Token::Number(text.parse().unwrap_or(0.0))
    }

    fn word(&mut self, first: char) -> Token {
        let mut word = String::from(first);
        while let Some(c) = self.peek().filter(char::is_ascii_alphabetic) {
            word.push(c);
            self.pos += 1;
        }
        match word.as_str() {
            "Uuid" => Token::StrVar(StrVar::Uuid),
            "Type" => Token::StrVar(StrVar::Type),
            "Logger" => Token::StrVar(StrVar::Logger),
            "Payload" => Token::StrVar(StrVar::Payload),
            "EnvVersion" => Token::StrVar(StrVar::EnvVersion),
            "Hostname" => Token::StrVar(StrVar::Hostname),
            "Timestamp" => Token::NumVar(NumVar::Timestamp),
            "Severity" => Token::NumVar(NumVar::Severity),
            "Pid" => Token::NumVar(NumVar::Pid),
            "TRUE" => Token::True,
            "FALSE" => Token::False,
            "NIL" => Token::Nil,
            "Fields" => self.field(),
            // QUIRK: an unknown capitalised word ends the input.
            _ => {
                self.pos = self.chars.len();
                Token::End
            }
        }
    }

    fn field(&mut self) -> Token {
        if self.bump() != Some('[') {
            return Token::Bad("Fields".into());
        }
        let mut name = String::new();
        loop {
            match self.bump() {
                None => return Token::Bad(format!("Fields[{name}")),
                Some(']') => break,
                Some(c) => name.push(c),
            }
        }
        if name.is_empty() {
            return Token::Bad("Fields[]".into());
        }
        let mut indexes = [0usize; 2];
        for slot in indexes.iter_mut() {
            if self.peek() != Some('[') {
                break;
            }
            self.pos += 1;
            let mut digits = String::new();
            loop {
                match self.bump() {
                    Some(c @ '0'..='9') => digits.push(c),
                    Some(']') if !digits.is_empty() => break,
                    _ => return Token::Bad(format!("Fields[{name}][{digits}")),
                }
            }
            *slot = digits.parse().unwrap_or(usize::MAX);
        }
        Token::Field {
            name,
            field_index: indexes[0],
            array_index: indexes[1],
        }
    }
}
