//! Evaluation of a compiled matcher against a [`MessageView`] (§3.3): no allocation;
//! header and field values are read straight from the message bytes.

use super::lexer::{NumVar, Op, StrVar};
use super::parser::{FieldRhs, Node, Pattern, StrTest};
use crate::message::{uuid, MessageView, Value};
use std::cmp::Ordering;

fn compare(op: Op, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else { return op == Op::Ne };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Match | Op::NotMatch => false,
    }
}

fn matches(pattern: &Pattern, value: &[u8]) -> bool {
    match pattern {
        Pattern::Always => true,
        Pattern::StartsWith(p) => value.starts_with(p),
        Pattern::EndsWith(p) => value.ends_with(p),
        Pattern::Contains(p) => memchr::memmem::find(value, p).is_some(),
        Pattern::Regex(re) => re.is_match(value),
    }
}

/// Evaluates `node` for `msg`.
pub fn eval(node: &Node, msg: &MessageView<'_>) -> bool {
    match node {
        Node::Const(b) => *b,
        Node::And(a, b) => eval(a, msg) && eval(b, msg),
        Node::Or(a, b) => eval(a, msg) || eval(b, msg),
        Node::Str(var, test) => {
            let mut text = [0u8; uuid::TEXT_LEN];
            let value: &[u8] = match var {
                StrVar::Uuid => uuid::format(msg.uuid(), &mut text).as_bytes(),
                StrVar::Type => msg.r#type(),
                StrVar::Logger => msg.logger(),
                StrVar::Payload => msg.payload(),
                StrVar::EnvVersion => msg.env_version(),
                StrVar::Hostname => msg.hostname(),
            };
            match test {
                StrTest::Compare(op, rhs) => compare(*op, Some(value.cmp(rhs))),
                StrTest::Regex { negate, pattern } => matches(pattern, value) != *negate,
            }
        }
        Node::Num(var, op, rhs) => {
            let value = match var {
                NumVar::Timestamp => msg.timestamp() as f64,
                NumVar::Severity => f64::from(msg.severity()),
                NumVar::Pid => f64::from(msg.pid()),
            };
            compare(*op, value.partial_cmp(rhs))
        }
        Node::Field {
            name,
            field_index,
            array_index,
            rhs,
        } => field_test(msg.field_value(name, *field_index, *array_index), rhs),
    }
}

fn field_test(value: Option<Value<'_>>, rhs: &FieldRhs) -> bool {
    let Some(value) = value else {
        return matches!(rhs, FieldRhs::Nil { equal: true });
    };
    if let FieldRhs::Nil { equal } = rhs {
        return !equal;
    }
    match value {
        Value::String(s) | Value::Bytes(s) => match rhs {
            FieldRhs::Str(op, lit) => compare(*op, Some(s.cmp(lit))),
            FieldRhs::Regex { negate, pattern } => matches(pattern, s) != *negate,
            // QUIRK: TRUE/FALSE compare as the text "TRUE"/"FALSE".
            FieldRhs::Bool(b) => s == if *b { &b"TRUE"[..] } else { &b"FALSE"[..] },
            FieldRhs::Number(..) | FieldRhs::Nil { .. } => false,
        },
        Value::Integer(_) | Value::Double(_) => {
            let n = match value {
                Value::Integer(i) => i as f64,
                Value::Double(d) => d,
                _ => return false,
            };
            match rhs {
                FieldRhs::Number(op, lit) => compare(*op, n.partial_cmp(lit)),
                _ => false,
            }
        }
        // QUIRK: TRUE gives the value, any other right-hand side its negation.
        Value::Bool(v) => match rhs {
            FieldRhs::Bool(true) => v,
            _ => !v,
        },
    }
}
