//! `%ENV[NAME]` substitution (§4.3): textual, before TOML parsing, so it works in keys and
//! section names too. Unset variables become "".

/// Why substitution failed, with the byte offset of the offending `%ENV[`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    pub offset: usize,
    pub message: &'static str,
}

const OPEN: &str = "%ENV[";

/// Replaces every `%ENV[NAME]` in `text` using `lookup`.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, EnvError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut consumed = 0;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let offset = consumed + start;
        let Some(end) = after.find(']') else {
            return Err(EnvError {
                offset,
                message: "Missing closing delimiter",
            });
        };
        let name = &after[..end];
        if name.contains([' ', '\t', '\r', '\n']) || name.contains(OPEN) {
            return Err(EnvError {
                offset,
                message: "Invalid characters in environmental variable",
            });
        }
        out.push_str(&lookup(name).unwrap_or_default());
        let skip = start + OPEN.len() + end + 1;
        consumed += skip;
        rest = &rest[skip..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/root".to_owned())
    }

    #[test]
    fn substitutes_and_reports_errors() {
        assert_eq!(
            substitute("a %ENV[HOME] b", env).as_deref(),
            Ok("a /root b")
        );
        assert_eq!(substitute("%ENV[UNSET]x", env).as_deref(), Ok("x"));
        assert_eq!(
            substitute("100% sure %E", env).as_deref(),
            Ok("100% sure %E")
        );
        assert_eq!(
            substitute("x = \"%ENV[oops\"", env).map_err(|e| e.message),
            Err("Missing closing delimiter")
        );
        let e = substitute("ab%ENV[ spaces here]", env).expect_err("invalid");
        assert_eq!(
            (e.offset, e.message),
            (2, "Invalid characters in environmental variable")
        );
    }
}
