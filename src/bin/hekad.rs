//! `hekad`: runs a Heka pipeline from a TOML config file or directory.

use argh::FromArgs;
use hekad::assembly::Pipeline;
use hekad::config::loader;
use hekad::pipeline::signals;
use std::io::Write as _;
use std::path::{Path, PathBuf};

// Counted so that the report's `Mallocs` shows allocations per message (scripts/bench).
#[global_allocator]
static ALLOCATOR: hekad::alloc_count::Counting = hekad::alloc_count::Counting;

/// Heka stream processor for logs and metrics.
#[derive(FromArgs)]
#[argh(
    note = "Flags also take Heka's form: -config=PATH, -config PATH, -test, -version.\n\n\
Signals:\n  \
SIGINT, SIGTERM  stop gracefully: inputs stop, queues drain, outputs flush\n  \
SIGUSR1          print the report of every plugin's counters to stderr\n  \
SIGHUP           reopen FileOutput files (after logrotate)\n\n\
Environment:\n  \
HEKAD_LOG        log level on stderr: error, warn, info (default), debug\n                   \
(plugin starts, stops, restarts and connections) or trace\n\n\
Exit status: 0 after a clean stop or a passing -test; 1 for config errors or a\n\
plugin that failed and may not exit.\n\n\
Documentation: man hekad; README.md and docs/ in the source tree."
)]
struct Args {
    /// config file or directory of *.toml files (default /etc/hekad.toml)
    #[argh(option, default = "PathBuf::from(\"/etc/hekad.toml\")")]
    config: PathBuf,
    /// print the version and exit
    #[argh(switch)]
    version: bool,
    /// check the config as start-up would (every section, paths, addresses and ports
    /// in use, Lua scripts), print the start-up summary, and exit 0 if it would start or
    /// 1; binds no socket and writes no file
    #[argh(switch)]
    test: bool,
    /// list the Lua scripts and modules built into hekad (Heka's stock decoders, encoders
    /// and modules; a file of the same path under share_dir wins) and exit
    #[argh(switch)]
    lua_library: bool,
    /// print the built-in Lua file at this share_dir-relative path (e.g.
    /// lua_decoders/nginx_access.lua), to copy into share_dir and change, and exit
    #[argh(option)]
    lua_show: Option<String>,
}

fn main() {
    let args: Args = hekad::cli::parse(&["config", "version", "test", "lua-library", "lua-show"]);
    if args.version {
        println!("{}", env!("CARGO_PKG_VERSION"));
        return;
    }
    // Written without println!, which panics when a pager or `head` closes the pipe. The
    // lock is taken only here: LogOutput writes to stdout from an executor thread.
    if args.lua_library {
        let mut stdout = std::io::stdout().lock();
        for (path, source) in hekad::sandbox::library::FILES {
            let line = format!("{path:<40} {:>6} bytes\n", source.len());
            if stdout.write_all(line.as_bytes()).is_err() {
                return;
            }
        }
        return;
    }
    if let Some(path) = &args.lua_show {
        match hekad::sandbox::library::file(path) {
            Some(source) => {
                let _ = std::io::stdout().lock().write_all(source.as_bytes());
            }
            None => {
                eprintln!("hekad: no built-in Lua file {path:?}; `hekad -lua-library` lists them");
                std::process::exit(1);
            }
        }
        return;
    }
    hekad::cli::init_logging();
    if args.test {
        std::process::exit(check(&args.config));
    }
    std::process::exit(run(&args.config));
}

fn fail(errors: &[impl std::fmt::Display]) -> i32 {
    for e in errors {
        log::error!("{e}");
    }
    log::error!("{} errors loading plugins", errors.len());
    1
}

/// `hekad -test`: everything start-up checks, without binding or writing anything.
fn check(config_path: &Path) -> i32 {
    let (mut config, errors) = loader::load_partial(config_path);
    let mut errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    config.globals.dry_run = true;
    if !config.sections.is_empty() {
        match Pipeline::build(config) {
            Ok(pipeline) if errors.is_empty() => {
                for line in pipeline.summary() {
                    log::info!("{line}");
                }
                log::info!("Configuration {} is OK", config_path.display());
                return 0;
            }
            Ok(_) => {}
            Err(more) => errors.extend(more.iter().map(ToString::to_string)),
        }
    }
    fail(&errors)
}

fn run(config_path: &Path) -> i32 {
    let (config, errors) = loader::load_partial(config_path);
    if !errors.is_empty() {
        // The sections that loaded are still checked, without binding or writing
        // anything, so that every error of the config is reported in one pass.
        let mut errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        if !config.sections.is_empty() {
            let mut config = config;
            config.globals.dry_run = true;
            if let Err(more) = Pipeline::build(config) {
                errors.extend(more.iter().map(ToString::to_string));
            }
        }
        return fail(&errors);
    }
    // base_dir first, as before the pid file (which may live in it); a failure is
    // reported by Pipeline::build, naming [hekad] base_dir.
    let _ = std::fs::create_dir_all(&config.globals.base_dir);
    let pid_file = config.globals.pid_file.clone();
    if let Some(path) = &pid_file {
        if let Err(e) = hekad::pidfile::claim(path) {
            log::error!("{e}");
            return 1;
        }
    }
    let code = start(config);
    if let Some(path) = &pid_file {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// Gives back the resident pages of code only start-up used (`footprint.rs`): on a router
/// most of hekad's RSS is its own binary. Once when the pipeline is built (what loading
/// the config and building the plugins touched), so that the peak is not start-up's code
/// plus the running pipeline's, and again once the pipeline has run a while (what
/// starting the plugins touched).
fn release_start_up_code() {
    release_code_pages();
    let released = std::thread::Builder::new()
        .name("hekad-trim".into())
        .stack_size(64 * 1024)
        .spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(3));
            release_code_pages();
        });
    if let Err(e) = released {
        log::debug!("cannot start the start-up code release: {e}");
    }
}

fn release_code_pages() {
    match hekad::footprint::release_code_pages() {
        Ok(bytes) => log::debug!("released {bytes} bytes of start-up code mappings"),
        Err(e) => log::debug!("cannot release start-up code: {e}"),
    }
}

fn start(config: loader::Config) -> i32 {
    let pipeline = match Pipeline::build(config) {
        Ok(p) => p,
        Err(errors) => return fail(&errors),
    };
    if let Err(e) = signals::spawn(
        pipeline.control(),
        pipeline.stats(),
        Box::new(pipeline.globals_report()),
    ) {
        log::error!("cannot install signal handlers: {e}");
        return 1;
    }
    for line in pipeline.summary() {
        log::info!("{line}");
    }
    log::info!(
        "Starting hekad {}; {}",
        env!("CARGO_PKG_VERSION"),
        pipeline.memory_bound()
    );
    release_start_up_code();
    match pipeline.run() {
        Ok(code) => {
            log::info!("Shutdown complete.");
            code
        }
        Err(e) => {
            log::error!("cannot start executors: {e}");
            1
        }
    }
}
