//! SystemStatsInput (hekad's own; Heka read these files with FilePollingInput and a Lua
//! decoder per file): every `ticker_interval` (default 10 s) it reads /proc and /sys
//! itself and injects the same messages the stock decoders make, without a sandbox or a
//! text payload per file, so a router can afford it.
//!
//! Messages (Hostname and Pid hekad's, Logger the input's name, Severity 7):
//! - `stats.procstat`: /proc/stat as `lua_decoders/linux_procstat.lua` makes it
//!   (`procstat.rs`), the cpu line and one line per core included;
//! - `stats.memstats`: /proc/meminfo as `linux_memstats.lua` (`meminfo.rs`);
//! - `stats.loadavg`: /proc/loadavg as `linux_loadavg.lua` (`loadavg.rs`);
//! - `stats.diskstats`: one per block device, /sys/block/<dev>/stat as
//!   `linux_diskstats.lua` with `FilePath` naming the device (`diskstats.rs`);
//! - `stats.netdev`: one per interface of /proc/net/dev as `linux_netdev.lua` (`netdev.rs`);
//! - `stats.filesystem`: one per mounted real file system, hekad's own (`filesystems.rs`);
//! - `stats.process`: one per configured process name, hekad's own (`processes.rs`).
//!
//! A file that is missing or does not parse is logged once and skipped; the other
//! sources still report. Buffers are kept between ticks, so after the first tick a tick
//! allocates nothing beyond the messages' packs (which are pooled).

mod dir;
mod diskstats;
mod filesystems;
mod filter;
mod loadavg;
mod meminfo;
mod netdev;
mod processes;
mod procstat;
mod scan;

use super::{Input, InputContext};
use crate::config::{section, ConfigError, PluginSection, SectionErrors};
use crate::message::{MessageWriter, DEFAULT_SEVERITY};
use crate::pipeline::stats::PluginStats;
use crate::pipeline::ticker::Polling;
use filter::NameFilter;
use serde::Deserialize;
use smol::future::BoxedLocal;
use std::io::Read;
use std::time::Duration;

const DEFAULT_TICKER_SECONDS: u64 = 10;

/// The file system types never reported by default: kernel interfaces and memory-backed
/// or network file systems (a hung NFS server would block `statvfs`).
const PSEUDO_FILESYSTEMS: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "sysfs",
    "tracefs",
    "tmpfs",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "fuse.sshfs",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
struct SystemStatsConfig {
    cpu: bool,
    memory: bool,
    load: bool,
    disks: bool,
    network: bool,
    filesystems: bool,
    /// Process names (as in /proc/<pid>/stat's comm) to report; none by default.
    processes: Vec<String>,
    disks_include: Vec<String>,
    disks_exclude: Vec<String>,
    interfaces_include: Vec<String>,
    interfaces_exclude: Vec<String>,
    mount_points_include: Vec<String>,
    mount_points_exclude: Vec<String>,
    filesystem_types_exclude: Vec<String>,
}

impl Default for SystemStatsConfig {
    fn default() -> Self {
        SystemStatsConfig {
            cpu: true,
            memory: true,
            load: true,
            disks: true,
            network: true,
            filesystems: true,
            processes: Vec::new(),
            disks_include: Vec::new(),
            disks_exclude: vec!["loop*".into(), "ram*".into()],
            interfaces_include: Vec::new(),
            interfaces_exclude: Vec::new(),
            mount_points_include: Vec::new(),
            mount_points_exclude: Vec::new(),
            filesystem_types_exclude: PSEUDO_FILESYSTEMS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The SystemStatsInput plugin: its checked config until `run` opens its sources.
pub struct SystemStatsInput {
    config: SystemStatsConfig,
}

/// Builds a SystemStatsInput from its section (unknown keys are errors).
pub fn build(
    section: &PluginSection,
    common_keys: &[&str],
) -> Result<Box<dyn Input>, Vec<ConfigError>> {
    let config: SystemStatsConfig = section::decode(section, common_keys)?;
    let mut errors = SectionErrors::new(section);
    for bad in config
        .processes
        .iter()
        .filter(|p| p.is_empty() || p.contains(['\n', '\0']))
    {
        let msg = format!("expected process names (one line, not empty), got {bad:?}");
        errors.add("processes", msg);
    }
    errors.finish(|| Box::new(SystemStatsInput { config }) as Box<dyn Input>)
}

/// Where a source sends its messages: the input's injector, with the standard headers
/// written once here.
pub(crate) struct Emitter<'c> {
    ctx: &'c mut InputContext,
    /// `ticker_interval` in seconds, for the messages that carry it.
    ticker_secs: f64,
}

impl Emitter<'_> {
    /// The input's name, for log lines.
    fn name(&self) -> &str {
        &self.ctx.shared.input_name
    }

    /// Injects one message of `r#type` whose fields `fields` writes.
    async fn message(&mut self, r#type: &str, fields: impl FnOnce(&mut MessageWriter<'_>)) {
        let sent = self
            .ctx
            .injector
            .inject(r#type, |w, origin| {
                w.severity(DEFAULT_SEVERITY)
                    .pid(origin.pid)
                    .hostname(origin.hostname.as_bytes());
                fields(w);
            })
            .await;
        if sent {
            PluginStats::add(&self.ctx.shared.stats.process_count, 1);
        }
    }
}

/// A source's first failure is logged, later ones are not: on a device without the file
/// (or with a kernel that formats it differently) it would otherwise fill the log.
#[derive(Debug, Default)]
pub(crate) struct Complaint(bool);

impl Complaint {
    fn once(&mut self, input: &str, what: std::fmt::Arguments<'_>) {
        if !self.0 {
            self.0 = true;
            log::warn!("Input '{input}': {what} (skipped; logged only once)");
        }
    }
}

/// Reads all of `path` into `buf`, which keeps its capacity between ticks.
fn read_into(path: &str, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    std::fs::File::open(path)?.read_to_end(buf)?;
    Ok(())
}

/// The enabled sources with their buffers, made when the input starts running.
struct Sources {
    procstat: Option<procstat::ProcStat>,
    meminfo: Option<meminfo::MemInfo>,
    loadavg: Option<loadavg::LoadAvg>,
    disks: Option<diskstats::DiskStats>,
    netdev: Option<netdev::NetDev>,
    filesystems: Option<filesystems::FileSystems>,
    processes: Option<processes::Processes>,
}

impl Sources {
    fn new(c: &SystemStatsConfig) -> Sources {
        Sources {
            procstat: c.cpu.then(procstat::ProcStat::default),
            meminfo: c.memory.then(meminfo::MemInfo::default),
            loadavg: c.load.then(loadavg::LoadAvg::default),
            disks: c.disks.then(|| {
                diskstats::DiskStats::new(NameFilter::new(&c.disks_include, &c.disks_exclude))
            }),
            netdev: c.network.then(|| {
                netdev::NetDev::new(NameFilter::new(
                    &c.interfaces_include,
                    &c.interfaces_exclude,
                ))
            }),
            filesystems: c.filesystems.then(|| {
                filesystems::FileSystems::new(
                    NameFilter::new(&c.mount_points_include, &c.mount_points_exclude),
                    c.filesystem_types_exclude.clone(),
                )
            }),
            processes: (!c.processes.is_empty())
                .then(|| processes::Processes::new(c.processes.clone())),
        }
    }

    /// One tick: every enabled source reads its files and injects its messages.
    async fn collect(&mut self, out: &mut Emitter<'_>) {
        if let Some(s) = &mut self.procstat {
            s.emit(out).await;
        }
        if let Some(s) = &mut self.meminfo {
            s.emit(out).await;
        }
        if let Some(s) = &mut self.loadavg {
            s.emit(out).await;
        }
        if let Some(s) = &mut self.disks {
            s.emit(out).await;
        }
        if let Some(s) = &mut self.netdev {
            s.emit(out).await;
        }
        if let Some(s) = &mut self.filesystems {
            s.emit(out).await;
        }
        if let Some(s) = &mut self.processes {
            s.emit(out).await;
        }
    }
}

impl Input for SystemStatsInput {
    fn run(self: Box<Self>, mut ctx: InputContext) -> BoxedLocal<Result<(), String>> {
        Box::pin(async move {
            let every = ctx
                .ticker
                .unwrap_or(Duration::from_secs(DEFAULT_TICKER_SECONDS));
            let mut sources = Sources::new(&self.config);
            // The first report goes out at start, the next ones every interval.
            let mut polling = Polling::new(every);
            loop {
                let mut out = Emitter {
                    ctx: &mut ctx,
                    ticker_secs: every.as_secs_f64(),
                };
                sources.collect(&mut out).await;
                if !polling.tick(&ctx.control).await {
                    return Ok(());
                }
            }
        })
    }
}
