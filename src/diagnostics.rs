//! Helpers for log lines about bad input, shared by the runtime (disk queue reader) and
//! the plugins (splitter buffer, decoders, outputs).

/// Up to 32 bytes of `data`, escaped, for error messages about bad input.
pub fn escaped_prefix(data: &[u8]) -> String {
    let shown = &data[..data.len().min(32)];
    let mut text: String = shown.escape_ascii().to_string();
    if data.len() > shown.len() {
        text.push_str("...");
    }
    format!("\"{text}\"")
}
