//! ProcessInput (§5.1): runs a pipeline of commands (`[X.command.0]`, `[X.command.1]`,
//! ... each `bin`, `args`, `env`, `directory`; the stdout of one is the stdin of the
//! next) every `ticker_interval` (default 15 s), and turns the last command's stdout
//! (and, with `stderr = true`, its stderr) into messages through the splitter and
//! decoder: Type `ProcessInput`, Fields `ProcessInputName` (`<name>.stdout|stderr`),
//! `ExitStatus` and, when an earlier command failed, `SubcmdErrors`.
//!
//! A periodic run's output is collected until the pipeline ends (up to `MAX_OUTPUT` per
//! stream; more is cut, counted and logged), so its messages carry that run's exit
//! status. With `ticker_interval = 0` the pipeline is a long-running one: its output is
//! delivered as it comes (ExitStatus 0) and its end is the input's end, which the
//! restart policy (`retries`) handles. `timeout` kills the whole pipeline.
//!
//! Children never outlive hekad and are always reaped: each pipeline runs in a process
//! group of its own that is killed on timeout and at shutdown (SIGTERM, then SIGKILL
//! after a grace period), every child is told by the kernel to die with the executor
//! thread that started it (PR_SET_PDEATHSIG, which outlives any hekad crash), and each
//! is waited for by smol's process reaper.

use super::{Decorator, Deliverer, Input, InputContext, InputShared};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::writer::Values;
use crate::message::MessageWriter;
use crate::pipeline::deadline::Deadline;
use crate::pipeline::shutdown::Control;
use crate::pipeline::stats::PluginStats;
use crate::pipeline::ticker::Polling;
use serde::Deserialize;
use smol::future::{BoxedLocal, FutureExt};
use smol::io::AsyncReadExt;
use smol::Async;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

const DEFAULT_TICKER_SECONDS: u64 = 15;
/// Output kept per stream of one periodic run.
const MAX_OUTPUT: usize = 4 << 20;
/// How long a pipeline gets between SIGTERM and SIGKILL at shutdown.
const STOP_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct CommandConfig {
    bin: String,
    args: Vec<String>,
    /// `NAME=value` strings; when given, the command's whole environment (as Go's
    /// `exec.Cmd.Env`).
    env: Option<Vec<String>>,
    directory: String,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct ProcessConfig {
    command: BTreeMap<String, CommandConfig>,
    immediate_start: bool,
    /// Seconds; 0 is no timeout.
    timeout: u64,
    stdout: bool,
    stderr: bool,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            command: BTreeMap::new(),
            immediate_start: false,
            timeout: 0,
            stdout: true,
            stderr: false,
        }
    }
}

/// The ProcessInput plugin.
pub struct ProcessInput {
    steps: Vec<CommandConfig>,
    /// `None`: run once, long-running (`ticker_interval = 0`).
    every: Option<Duration>,
    immediate_start: bool,
    timeout: Option<Duration>,
    stdout: bool,
    stderr: bool,
}

pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    Ok(Box::new(build_input(section, common_keys)?))
}

/// The ProcessInput `section` describes (ProcessDirectoryInput builds them too).
pub fn build_input(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<ProcessInput, Vec<ConfigError>> {
    let mut c: ProcessConfig = section::decode(section, common_keys)?;
    // Every check runs: all of the section's errors are reported together.
    let mut errors = SectionErrors::new(section);
    let what = format!("a [{}.command.0] table with a bin", section.name);
    errors.required("command", !c.command.is_empty(), &what);
    let given: Vec<String> = c.command.keys().cloned().collect();
    let mut steps = Vec::new();
    for idx in 0..c.command.len() {
        let Some(step) = c.command.remove(&idx.to_string()) else {
            let msg = format!(
                "expected commands numbered 0 to {} without gaps, got {}",
                given.len() - 1,
                given.join(", ")
            );
            errors.add("command", msg);
            break;
        };
        let key = format!("command.{idx}.bin");
        if errors.required(&key, !step.bin.is_empty(), "a program to run") {
            errors.check(&key, crate::preflight::executable(&step.bin));
        }
        steps.push(step);
    }
    let every = match section
        .table
        .get("ticker_interval")
        .and_then(|v| v.as_integer())
    {
        None => Some(Duration::from_secs(DEFAULT_TICKER_SECONDS)),
        Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs.max(0) as u64)),
    };
    errors.finish(|| ProcessInput {
        steps,
        every,
        immediate_start: c.immediate_start,
        timeout: (c.timeout > 0).then(|| Duration::from_secs(c.timeout)),
        stdout: c.stdout,
        stderr: c.stderr,
    })
}

/// How a pipeline ended.
#[derive(Debug, Default)]
struct ChainStatus {
    /// The last command's exit code; -1 when a signal ended it.
    exit_status: i64,
    /// "Subcommand[i] returned an error: [...]" for each earlier command that failed.
    subcmd_errors: Vec<String>,
    /// Set when the pipeline ran into its timeout.
    timed_out: bool,
}

/// The running commands of one pipeline.
struct Running {
    children: Vec<smol::process::Child>,
    /// The pipeline's process group (the first command's pid).
    group: i32,
    stdout: Option<Async<std::io::PipeReader>>,
    stderr: Option<Async<std::io::PipeReader>>,
}

impl Running {
    fn signal(&self, signal: i32) {
        // SAFETY: signalling our own children's process group.
        unsafe {
            libc::kill(-self.group, signal);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Whatever happened, nothing of this pipeline lives on.
        self.signal(libc::SIGKILL);
    }
}

impl ProcessInput {
    /// Starts every command of the pipeline in a new process group.
    fn start(&self) -> std::io::Result<Running> {
        let mut children = Vec::with_capacity(self.steps.len());
        let mut group = 0;
        let mut stdin: Option<std::io::PipeReader> = None;
        let mut stdout = None;
        let mut stderr = None;
        let last = self.steps.len() - 1;
        for (i, step) in self.steps.iter().enumerate() {
            let mut cmd = std::process::Command::new(&step.bin);
            cmd.args(&step.args);
            if let Some(env) = &step.env {
                cmd.env_clear();
                for pair in env {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    cmd.env(name, value);
                }
            }
            if !step.directory.is_empty() {
                cmd.current_dir(&step.directory);
            }
            cmd.process_group(group);
            // SAFETY: prctl is async-signal-safe; it only sets this child's parent-death
            // signal.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            // smol's Command sets its own stdio over the std one's: set them on it.
            let mut cmd = smol::process::Command::from(cmd);
            cmd.stdin(stdin.take().map_or_else(Stdio::null, Stdio::from));
            if i < last {
                let (reader, writer) = std::io::pipe()?;
                cmd.stdout(writer);
                stdin = Some(reader);
                cmd.stderr(Stdio::null());
            } else {
                match self.stdout {
                    true => {
                        let (reader, writer) = std::io::pipe()?;
                        cmd.stdout(writer);
                        stdout = Some(Async::new(reader)?);
                    }
                    false => {
                        cmd.stdout(Stdio::null());
                    }
                }
                match self.stderr {
                    true => {
                        let (reader, writer) = std::io::pipe()?;
                        cmd.stderr(writer);
                        stderr = Some(Async::new(reader)?);
                    }
                    false => {
                        cmd.stderr(Stdio::null());
                    }
                }
            }
            cmd.kill_on_drop(true);
            let spawned = cmd.spawn();
            // The parent's copies of the pipe ends go with `cmd`.
            drop(cmd);
            let child = match spawned {
                Ok(c) => c,
                Err(e) => {
                    if group != 0 {
                        // SAFETY: killing the group of children started above.
                        unsafe {
                            libc::kill(-group, libc::SIGKILL);
                        }
                    }
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("starting command {i} ({}): {e}", step.bin),
                    ));
                }
            };
            if group == 0 {
                group = child.id() as i32;
            }
            children.push(child);
        }
        Ok(Running {
            children,
            group,
            stdout,
            stderr,
        })
    }

    /// Waits for every command of `running`, killing the pipeline at its timeout, and
    /// at shutdown (politely first).
    async fn wait(&self, ctx: &Host<'_>, running: &mut Running) -> ChainStatus {
        let mut status = ChainStatus::default();
        let deadline = Deadline::new();
        let timeout_at = self.timeout.map(|t| Instant::now() + t);
        let last = running.children.len() - 1;
        let mut statuses = Vec::with_capacity(running.children.len());
        let group = running.group;
        let kill = |signal| {
            // SAFETY: signalling our own children's process group.
            unsafe {
                libc::kill(-group, signal);
            }
        };
        for child in running.children.iter_mut() {
            let exited = async { Some(child.status().await) };
            let timed_out = async {
                match timeout_at {
                    Some(at) => deadline.until(at).await,
                    None => std::future::pending().await,
                }
                None
            };
            let stopped = async {
                ctx.control.stopped().await;
                kill(libc::SIGTERM);
                smol::Timer::after(STOP_GRACE).await;
                None
            };
            let result = match exited.or(timed_out.or(stopped)).await {
                Some(result) => result,
                None => {
                    status.timed_out = !ctx.control.is_stopping();
                    kill(libc::SIGKILL);
                    child.status().await
                }
            };
            statuses.push(result);
        }
        for (i, result) in statuses.into_iter().enumerate() {
            let error = match &result {
                Ok(s) if s.success() => None,
                _ if status.timed_out => Some("ManagedCmd timedout".to_owned()),
                Ok(s) => Some(describe(*s)),
                Err(e) => Some(e.to_string()),
            };
            if i == last {
                status.exit_status = match &result {
                    Ok(s) => s.code().map_or(-1, i64::from),
                    Err(_) => -1,
                };
            } else if let Some(e) = error {
                status
                    .subcmd_errors
                    .push(format!("Subcommand[{i}] returned an error: [{e}]"));
            }
        }
        status
    }

    /// The dynamic fields of this stream's messages.
    fn fields(stream: &str, status: &ChainStatus) -> Vec<u8> {
        let mut fields = Vec::new();
        let mut w = MessageWriter::new(&mut fields);
        w.field(
            b"ProcessInputName",
            b"",
            Values::String(&[stream.as_bytes()]),
        )
        .field(b"ExitStatus", b"", Values::Integer(&[status.exit_status]));
        if !status.subcmd_errors.is_empty() {
            let errors = status.subcmd_errors.join("\n");
            w.field(b"SubcmdErrors", b"", Values::String(&[errors.as_bytes()]));
        }
        fields
    }

    /// One periodic run: the output collected, then delivered with the run's status.
    async fn run_collected(&self, ctx: &Host<'_>, streams: &mut Streams) -> Result<(), String> {
        let mut running = self
            .start()
            .map_err(|e| format!("CommandChain::Start() error: [{e}]"))?;
        let (out, err) = (running.stdout.take(), running.stderr.take());
        let name = &ctx.shared.input_name;
        let read = smol::future::zip(collect(out, name, "stdout"), collect(err, name, "stderr"));
        let ((out, err), status) = smol::future::zip(read, self.wait(ctx, &mut running)).await;
        drop(running);
        if status.timed_out {
            log::error!("Input '{name}' error: the command pipeline timed out and was killed");
        }
        for (data, stream) in [(out, &mut streams.stdout), (err, &mut streams.stderr)] {
            let (Some((data, cut)), Some((deliverer, label))) = (data, stream.as_mut()) else {
                continue;
            };
            if cut > 0 {
                PluginStats::add(&ctx.shared.stats.drop_count, 1);
            }
            deliverer.set_fields(Self::fields(label, &status));
            if deliverer.push(&data).await.is_err() || deliverer.flush_incomplete().await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// The long-running pipeline (`ticker_interval = 0`): output delivered as it comes;
    /// its end is an error for the restart policy.
    async fn run_streaming(&self, ctx: &Host<'_>, streams: &mut Streams) -> Result<(), String> {
        let mut running = self
            .start()
            .map_err(|e| format!("CommandChain::Start() error: [{e}]"))?;
        let (out, err) = (running.stdout.take(), running.stderr.take());
        let running_status = ChainStatus::default();
        let Streams { stdout, stderr } = streams;
        for stream in [&mut *stdout, &mut *stderr].into_iter().flatten() {
            stream
                .0
                .set_fields(Self::fields(&stream.1, &running_status));
        }
        let read = smol::future::zip(
            stream_into(out, stdout.as_mut().map(|s| &mut s.0)),
            stream_into(err, stderr.as_mut().map(|s| &mut s.0)),
        );
        let (_, status) = smol::future::zip(read, self.wait(ctx, &mut running)).await;
        if ctx.control.is_stopping() {
            return Ok(());
        }
        Err(format!(
            "the command pipeline exited (status {}{})",
            status.exit_status,
            match status.subcmd_errors.is_empty() {
                true => String::new(),
                false => format!("; {}", status.subcmd_errors.join("; ")),
            }
        ))
    }
}

/// The deliverers of the streams parsed, with their ProcessInputName.
struct Streams {
    stdout: Option<(Deliverer, String)>,
    stderr: Option<(Deliverer, String)>,
}

/// What a pipeline's runs need from the input they belong to: a ProcessInput's own, or
/// those of the ProcessDirectoryInput that manages it.
pub struct Host<'a> {
    pub shared: &'a InputShared,
    pub control: &'a Control,
    pub hostname: &'a str,
}

impl Input for ProcessInput {
    fn run(self: Box<Self>, ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let host = Host {
                shared: &ctx.shared,
                control: &ctx.control,
                hostname: &ctx.globals.hostname,
            };
            self.serve(&host).await
        })
    }
}

impl ProcessInput {
    /// Runs the pipeline on its schedule until hekad stops (or, long-running, until it
    /// exits: an error for the restart policy).
    pub async fn serve(&self, ctx: &Host<'_>) -> Result<(), String> {
        let name = ctx.shared.input_name.clone();
        let deliverer = |label: &str| -> Result<(Deliverer, String), String> {
            let decorator = Decorator {
                r#type: Some("ProcessInput".into()),
                hostname: Some(ctx.hostname.to_owned()),
                logger: None,
                severity: None,
                env_version: None,
                pid: Some(std::process::id() as i32),
                fields: Vec::new(),
            };
            let d = Deliverer::new(ctx.shared, Some(label), decorator)?;
            Ok((d, format!("{name}.{label}")))
        };
        let mut streams = Streams {
            stdout: self.stdout.then(|| deliverer("stdout")).transpose()?,
            stderr: self.stderr.then(|| deliverer("stderr")).transpose()?,
        };
        let Some(every) = self.every else {
            return self.run_streaming(ctx, &mut streams).await;
        };
        if self.immediate_start {
            self.run_collected(ctx, &mut streams).await?;
        }
        let mut polling = Polling::new(every);
        while polling.tick(ctx.control).await {
            self.run_collected(ctx, &mut streams).await?;
        }
        Ok(())
    }
}

/// Everything a stream yields, up to `MAX_OUTPUT` bytes (the rest read and discarded),
/// and how many bytes were cut.
async fn collect(
    reader: Option<Async<std::io::PipeReader>>,
    input: &str,
    label: &str,
) -> Option<(Vec<u8>, u64)> {
    let mut reader = reader?;
    let mut data = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut cut = 0u64;
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT - data.len();
                data.extend_from_slice(&chunk[..n.min(room)]);
                cut += n.saturating_sub(room) as u64;
            }
        }
    }
    if cut > 0 {
        log::error!(
            "Input '{input}' error: {label} of one run exceeded {MAX_OUTPUT} bytes; {cut} bytes dropped"
        );
    }
    Some((data, cut))
}

/// Delivers a stream as it comes (or drains it when it is not parsed).
async fn stream_into(
    reader: Option<Async<std::io::PipeReader>>,
    deliverer: Option<&mut Deliverer>,
) {
    let (Some(mut reader), Some(deliverer)) = (reader, deliverer) else {
        return;
    };
    loop {
        match reader.read(deliverer.spare()).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if deliverer.filled(n).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = deliverer.flush_incomplete().await;
}

/// Go's text for a failed command's status ("exit status 2", "signal: killed").
fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(libc::SIGKILL)) => "signal: killed".to_owned(),
        (None, Some(libc::SIGTERM)) => "signal: terminated".to_owned(),
        (None, Some(sig)) => format!("signal: {sig}"),
        (None, None) => "unknown status".to_owned(),
    }
}
