//! The output buffer (§7.3): `add_to_payload` appends to it, `inject_payload` emits it —
//! as a `heka.sandbox-output` message from a filter, as the payload of the decoded
//! message from a decoder, as the output of an encoder. Numbers are written the way
//! lua_sandbox writes them, not as Lua's `tostring` does.

use super::api::{api_error, register};
use super::circular_buffer;
use super::config::Kind;
use super::inject::deliver;
use super::state::Shared;
use crate::message::rewrite::{rewrite, Overrides};
use crate::message::view::HeaderIndex;
use crate::message::writer::Values;
use crate::message::{uuid, MessageWriter, DEFAULT_SEVERITY};
use crate::pipeline::inject::now_ns;
use mlua::{Lua, Value, Variadic};
use std::rc::Rc;

/// Installs `add_to_payload` and `inject_payload` where the plugin type has them.
pub fn install(lua: &Lua, shared: &Rc<Shared>) -> mlua::Result<()> {
    if !shared.settings.kind.has_payload() {
        return Ok(());
    }
    let globals = lua.globals();
    let s = shared.clone();
    register(
        lua,
        &globals,
        "add_to_payload",
        move |_, args: Variadic<Value>| append(&s, &args, "add_to_payload()"),
    )?;
    let s = shared.clone();
    register(
        lua,
        &globals,
        "inject_payload",
        move |lua, args: Variadic<Value>| inject_payload(lua, &s, args),
    )
}

/// Appends `args` to the output buffer; over `output_limit` nothing is appended.
fn append(shared: &Shared, args: &[Value], function: &str) -> mlua::Result<()> {
    let mut buf = shared.payload.borrow_mut();
    let start = buf.len();
    // Circular buffers written, told so once the text is kept ("cbufd" deltas reset).
    let mut buffers = Vec::new();
    for arg in args {
        match arg {
            Value::UserData(ud) if ud.is::<circular_buffer::Buffer>() => {
                if circular_buffer::write_payload(ud, &mut buf)? == Some(true) {
                    buffers.push(ud);
                }
            }
            Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
            Value::Integer(i) => write_number(*i as f64, &mut buf),
            Value::Number(n) => write_number(*n, &mut buf),
            Value::Boolean(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Nil => buf.extend_from_slice(b"nil"),
            other => {
                buf.truncate(start);
                return Err(api_error(format!(
                    "{function} does not support {} values",
                    other.type_name()
                )));
            }
        }
        let limit = shared.settings.output_limit;
        if limit > 0 && buf.len() > limit {
            buf.truncate(start);
            return Err(api_error(format!("{function} output_limit exceeded")));
        }
    }
    shared.note_output(buf.len());
    for ud in buffers {
        circular_buffer::written(ud)?;
    }
    Ok(())
}

/// `inject_payload([type [, name [, args...]]])`: appends `args`, then emits the buffer
/// (when it holds anything) and empties it.
fn inject_payload(lua: &Lua, shared: &Shared, args: Variadic<Value>) -> mlua::Result<()> {
    let text = |v: Option<&Value>| -> mlua::Result<Option<mlua::LuaString>> {
        match v {
            None | Some(Value::Nil) => Ok(None),
            Some(v) => lua.coerce_string(v.clone()),
        }
    };
    let payload_type = text(args.first())?;
    let payload_name = text(args.get(1))?;
    if args.len() > 2 {
        append(shared, &args[2..], "inject_payload()")?;
    }
    if shared.payload.borrow().is_empty() {
        return Ok(());
    }
    if shared.inject_budget.get() == 0 {
        return Err(api_error("inject_payload() exceeded InjectMessage count"));
    }
    let payload_type = payload_type.as_ref().map(|t| t.as_bytes());
    let payload_type: &[u8] = match payload_type.as_deref() {
        None | Some(b"") => b"txt",
        Some(t) => t,
    };
    let payload_name = payload_name.as_ref().map(|n| n.as_bytes());
    let payload_name: &[u8] = payload_name.as_deref().unwrap_or_default();
    let payload = std::mem::take(&mut *shared.payload.borrow_mut());
    let mut buf = shared.injected.borrow_mut().next_buffer();
    let index = match shared.settings.kind {
        Kind::Encoder => {
            buf.extend_from_slice(&payload);
            HeaderIndex::default()
        }
        Kind::Decoder => {
            let set = Overrides {
                payload: Some(&payload),
                ..Overrides::default()
            };
            let fields = [
                (&b"payload_type"[..], &b"file-extension"[..], payload_type),
                (&b"payload_name"[..], &b""[..], payload_name),
            ];
            shared
                .with_message(|orig| rewrite(orig, &set, &fields, &mut buf))
                .flatten()
                .unwrap_or_default()
        }
        _ => {
            let settings = &shared.settings;
            let mut w = MessageWriter::new(&mut buf);
            w.uuid(&uuid::new_v4())
                .timestamp(now_ns())
                .r#type(b"heka.sandbox-output")
                .logger(settings.name.as_bytes())
                .severity(DEFAULT_SEVERITY)
                .payload(&payload)
                .pid(settings.pid)
                .hostname(settings.hostname.as_bytes())
                .field(
                    b"payload_type",
                    b"file-extension",
                    Values::String(&[payload_type]),
                )
                .field(b"payload_name", b"", Values::String(&[payload_name]));
            w.index().unwrap_or_default()
        }
    };
    // The buffer keeps its capacity for the next payload.
    let mut payload = payload;
    payload.clear();
    *shared.payload.borrow_mut() = payload;
    deliver(shared, buf, index, "inject_payload()")
}

/// A number as lua_sandbox writes it to a payload: integers without a fraction, others
/// with up to 8 fraction digits (trailing zeros dropped, ties to even), `%.17g` beyond
/// the 32-bit integer range, and `nan`, `inf`, `-inf`.
pub fn write_number(n: f64, out: &mut Vec<u8>) {
    if n.is_nan() {
        return out.extend_from_slice(b"nan");
    }
    if n.is_infinite() {
        return out.extend_from_slice(if n > 0.0 { b"inf" } else { b"-inf" });
    }
    if n.abs() > f64::from(i32::MAX) {
        return super::number::format_g(n, 17, out);
    }
    const PRECISION: u32 = 8;
    const MAGNITUDE: f64 = 100_000_000.0;
    let negative = n < 0.0;
    let d = n.abs();
    let mut whole = d.trunc() as u64;
    let scaled = (d - d.trunc()) * MAGNITUDE;
    let mut fraction = scaled.trunc() as u64;
    let rest = scaled - scaled.trunc();
    if rest > 0.5 || (rest == 0.5 && fraction & 1 == 1) {
        fraction += 1;
        if fraction >= MAGNITUDE as u64 {
            fraction = 0;
            whole += 1;
        }
    }
    if negative && (whole != 0 || fraction != 0) {
        out.push(b'-');
    }
    out.extend_from_slice(whole.to_string().as_bytes());
    if fraction != 0 {
        let digits = format!("{fraction:0width$}", width = PRECISION as usize);
        out.push(b'.');
        out.extend_from_slice(digits.trim_end_matches('0').as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::write_number;

    fn text(n: f64) -> String {
        let mut out = Vec::new();
        write_number(n, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn numbers_print_as_lua_sandbox_prints_them() {
        assert_eq!(text(200.0), "200");
        assert_eq!(text(-3.0), "-3");
        assert_eq!(text(0.0), "0");
        assert_eq!(text(0.5), "0.5");
        assert_eq!(text(1.0 / 3.0), "0.33333333");
        assert_eq!(text(2.0 / 3.0), "0.66666667");
        assert_eq!(text(-1.25), "-1.25");
        assert_eq!(text(0.123456785), "0.12345678");
        assert_eq!(text(99.999999999), "100");
        assert_eq!(text(f64::NAN), "nan");
        assert_eq!(text(f64::INFINITY), "inf");
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
        assert_eq!(text(1e10), "10000000000");
        assert_eq!(text(1392050801123.5), "1392050801123.5");
    }
}
