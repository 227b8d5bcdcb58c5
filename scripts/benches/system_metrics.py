"""System metrics: hekad's SystemStatsInput against collectd (docs/BENCHMARKS.md).

    scripts/bench system-metrics                    120 s at 10 s, then 120 s at 1 s
    scripts/bench system-metrics --seconds 600 --intervals 10
    scripts/bench system-metrics --hekad target/cross/x86_64-unknown-linux-musl/hekad
                                                    the static binary that ships
    scripts/bench system-metrics --smoke            3 s at 1 s

Runs collectd (plugins cpu, memory, load, disk, df, interface; csv writer) and hekad
(SystemStatsInput only; FileOutput of framed protobuf) side by side for the same wall
time at the same interval, each writing to a local file, and prints per interval a
markdown table: CPU seconds per hour (utime + stime from /proc/<pid>/stat, measured from
`--warmup` seconds after start to the end, so start-up is left out), VmRSS at the end and
VmHWM (peak RSS) from /proc/<pid>/status, messages / values written, hekad's heap
allocations between its two `Mallocs` reports divided by the ticks between them (printing
a report itself allocates about 1,200 times, so at long intervals that dominates), and
the ratio hekad / collectd.

Installs collectd-core with apt-get when collectd is missing.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from common import apt_install, cpu_seconds, has_command, status_kib


def collectd_config(work, interval):
    return f"""Hostname "bench"
FQDNLookup false
BaseDir "{work}/collectd"
PIDFile "{work}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval {interval}

LoadPlugin cpu
LoadPlugin memory
LoadPlugin load
LoadPlugin disk
LoadPlugin df
LoadPlugin interface
LoadPlugin csv

<Plugin cpu>
  ReportByCpu true
</Plugin>
<Plugin csv>
  DataDir "{work}/csv"
  StoreRates false
</Plugin>
"""


def hekad_config(work, interval):
    return f"""[hekad]
maxprocs = 1
base_dir = "{work}/hekad"

[SystemStats]
type = "SystemStatsInput"
ticker_interval = {interval}

[Out]
type = "FileOutput"
message_matcher = "Logger == 'SystemStats'"
path = "{work}/hekad.pb"
encoder = "ProtobufEncoder"
"""


def csv_values(work):
    """Rows collectd wrote (one value set each), headers left out."""
    rows = 0
    for dirpath, _, files in os.walk(os.path.join(work, "csv")):
        for name in files:
            with open(os.path.join(dirpath, name)) as f:
                rows += sum(1 for line in f if not line.startswith("epoch"))
    return rows


def framed_messages(path):
    """Framed Heka messages in a file (record separator + header length + header...)."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return 0
    count, i = 0, 0
    while i + 2 < len(data) and data[i] == 0x1E:
        hlen = data[i + 1]
        header = data[i + 2:i + 2 + hlen]
        # Header field 1 (message_length) is a varint after tag 0x08.
        length, shift, j = 0, 0, 1
        while j < len(header):
            b = header[j]
            length |= (b & 0x7F) << shift
            shift += 7
            j += 1
            if b < 0x80:
                break
        i += 2 + hlen + 1 + length
        count += 1
    return count


def mallocs(err_path):
    with open(err_path) as f:
        return [int(m) for m in re.findall(r"Mallocs: (\d+)", f.read())]


def run(hekad, interval, seconds, warmup, keep):
    work = tempfile.mkdtemp(prefix=f"bench-sysmetrics-{interval}s-")
    os.makedirs(f"{work}/collectd")
    os.makedirs(f"{work}/csv")
    with open(f"{work}/collectd.conf", "w") as f:
        f.write(collectd_config(work, interval))
    with open(f"{work}/hekad.toml", "w") as f:
        f.write(hekad_config(work, interval))
    subprocess.run(["collectd", "-t", "-C", f"{work}/collectd.conf"], check=True)
    procs = {
        "collectd": subprocess.Popen(["collectd", "-f", "-C", f"{work}/collectd.conf"],
                                     stdout=open(f"{work}/collectd.log", "w"),
                                     stderr=subprocess.STDOUT),
        "hekad": subprocess.Popen([hekad, f"-config={work}/hekad.toml"],
                                  stdout=subprocess.DEVNULL,
                                  stderr=open(f"{work}/hekad.err", "w")),
    }
    try:
        time.sleep(warmup)
        start = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        procs["hekad"].send_signal(signal.SIGUSR1)
        began = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - began
        end = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        procs["hekad"].send_signal(signal.SIGUSR1)
        rss = {name: status_kib(p.pid, "VmRSS") for name, p in procs.items()}
        hwm = {name: status_kib(p.pid, "VmHWM") for name, p in procs.items()}
        time.sleep(0.5)
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    result = {}
    for name in procs:
        cpu = end[name] - start[name]
        result[name] = {
            "cpu_s_per_hour": cpu / elapsed * 3600,
            "cpu_s": cpu,
            "rss_kib": rss[name],
            "hwm_kib": hwm[name],
        }
    result["collectd"]["written"] = f"{csv_values(work)} CSV rows"
    result["hekad"]["messages"] = framed_messages(f"{work}/hekad.pb")
    result["hekad"]["written"] = f"{result['hekad']['messages']} messages"
    m = mallocs(f"{work}/hekad.err")
    ticks = elapsed / interval
    result["hekad"]["allocs_per_tick"] = (m[-1] - m[0]) / ticks if len(m) >= 2 else None
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}", file=sys.stderr)
    return result, elapsed


def table(interval, result, elapsed):
    c, h = result["collectd"], result["hekad"]
    ratio = lambda k: (h[k] / c[k]) if c[k] else float("nan")
    allocs = h["allocs_per_tick"]
    lines = [
        f"interval {interval} s, measured {elapsed:.0f} s",
        "",
        "| | collectd | hekad | hekad / collectd |",
        "|---|---:|---:|---:|",
        f"| CPU s per hour | {c['cpu_s_per_hour']:.2f} | {h['cpu_s_per_hour']:.2f} "
        f"| {ratio('cpu_s_per_hour'):.2f} |",
        f"| CPU s measured | {c['cpu_s']:.2f} | {h['cpu_s']:.2f} | |",
        f"| VmRSS at end (KiB) | {c['rss_kib']} | {h['rss_kib']} | {ratio('rss_kib'):.2f} |",
        f"| VmHWM peak (KiB) | {c['hwm_kib']} | {h['hwm_kib']} | {ratio('hwm_kib'):.2f} |",
        f"| written | {c['written']} | {h['written']} | |",
        f"| heap allocations per tick | | "
        f"{'n/a' if allocs is None else f'{allocs:.1f}'} | |",
    ]
    return "\n".join(lines)


def main(argv, hekad, smoke):
    """Runs the suite with its own options `argv` against the `hekad` binary."""
    ap = argparse.ArgumentParser(prog="scripts/bench system-metrics", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=120, help="measured wall time per run")
    ap.add_argument("--intervals", type=int, nargs="+", default=[10, 1],
                    help="collection intervals in seconds, one run each")
    ap.add_argument("--warmup", type=float, default=3.0,
                    help="seconds after start before CPU is measured")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    args = ap.parse_args(argv)
    if smoke:
        args.seconds, args.intervals, args.warmup = 3, [1], 1.0
    if not has_command("collectd") and not has_command("/usr/sbin/collectd"):
        apt_install(["collectd-core"])
    version = subprocess.run(["collectd", "-h"], capture_output=True, text=True).stdout
    version = next((l for l in version.splitlines() if l.startswith("collectd ")), "collectd")
    print(f"# System metrics: hekad SystemStatsInput vs {version.strip()}")
    print(f"# {os.uname().machine}, {os.cpu_count()} CPUs, kernel {os.uname().release}")
    print(f"# hekad: {hekad}\n")
    for interval in args.intervals:
        result, elapsed = run(hekad, interval, args.seconds, args.warmup, args.keep)
        print(table(interval, result, elapsed))
        print()
        if smoke and not result["hekad"]["messages"]:
            sys.exit("system-metrics smoke: hekad wrote no message")
