//! Command-line handling shared by the binaries: Heka users type Go-style flags
//! (`-config=x`, `-config x`), argh expects `--config x`; this bridges the two.

/// Rewrites Go-style single-dash and `=` flags into the `--flag value` form argh parses.
/// `known` lists the long flag names; `-h` is `--help`; anything else is passed through
/// unchanged.
pub fn normalize_args(args: impl IntoIterator<Item = String>, known: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-h" {
            out.push("--help".to_owned());
            continue;
        }
        let stripped = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'));
        match stripped {
            Some(body) if !body.is_empty() => {
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (body, None),
                };
                if known.contains(&name) {
                    out.push(format!("--{name}"));
                    if let Some(v) = value {
                        out.push(v.to_owned());
                    }
                } else {
                    out.push(arg);
                }
            }
            _ => out.push(arg),
        }
    }
    out
}

/// Parses `T` from the process arguments after [`normalize_args`]; prints help or the
/// error and exits like argh would.
pub fn parse<T: argh::FromArgs>(known: &[&str]) -> T {
    let mut args = std::env::args();
    let command = args.next().unwrap_or_else(|| "hekad".into());
    let normalized = normalize_args(args, known);
    let strs: Vec<&str> = normalized.iter().map(String::as_str).collect();
    let name = std::path::Path::new(&command)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("hekad")
        .to_owned();
    match T::from_args(&[name.as_str()], &strs) {
        Ok(parsed) => parsed,
        Err(early) => {
            let failed = early.status.is_err();
            if failed {
                eprintln!("{}", early.output);
                std::process::exit(2);
            }
            println!("{}", early.output);
            std::process::exit(0);
        }
    }
}

/// Starts logging to stderr at `info`, or at the level `HEKAD_LOG` names (error, warn,
/// info, debug, trace; any case). Any other value is refused: exits with status 1.
pub fn init_logging() {
    let level = match std::env::var("HEKAD_LOG") {
        Err(_) => log::LevelFilter::Info,
        Ok(value) => match value.parse::<log::LevelFilter>() {
            Ok(level) if level != log::LevelFilter::Off => level,
            _ => {
                eprintln!(
                    "hekad: HEKAD_LOG={value:?} is not a log level; use error, warn, info, \
                     debug or trace"
                );
                std::process::exit(1);
            }
        },
    };
    let _ = simple_logger::SimpleLogger::new()
        .with_level(level)
        .with_utc_timestamps()
        .init();
}

#[cfg(test)]
mod tests {
    use super::normalize_args;

    fn norm(args: &[&str]) -> Vec<String> {
        normalize_args(args.iter().map(|s| s.to_string()), &["config", "version"])
    }

    #[test]
    fn accepts_go_and_gnu_style_flags() {
        assert_eq!(norm(&["-config=a.toml"]), ["--config", "a.toml"]);
        assert_eq!(norm(&["-config", "a.toml"]), ["--config", "a.toml"]);
        assert_eq!(norm(&["--config", "a.toml"]), ["--config", "a.toml"]);
        assert_eq!(norm(&["--config=a.toml"]), ["--config", "a.toml"]);
        assert_eq!(norm(&["-version"]), ["--version"]);
        assert_eq!(norm(&["-x"]), ["-x"]);
    }
}
