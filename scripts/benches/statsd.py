"""statsd ingestion: hekad (StatsdInput -> StatAccumInput -> CarbonOutput) against Etsy's
statsd (npm `statsd`, graphite backend) on the same load, in the same invocation.

    scripts/bench statsd                      rates 50k .. 3.2M metrics/s, 3 s each
    scripts/bench statsd --rates 100000,400000 --seconds 5 --names 10000
    scripts/bench statsd --smoke              hekad only, 50k metrics/s for 1 s

For each offered rate, a paced sender (`bench_kit statsd`) sends counters `bench.n<i>:1|c`
cycling through `--names` distinct names, 20 lines per datagram, to a fresh server; both
servers flush every second to a carbon-like TCP sink that sums the counts they report.
Received = the sum of `stats.counters.bench.*.count`; lost = sent - received (kernel
receive-queue drops, read from /proc/net/udp, shown apart). Also the server's CPU seconds
and peak RSS. The figure to compare: the highest rate each keeps with at most 1% lost.
Installs Etsy's statsd with npm into target/bench-deps when missing (needs node and npm).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

from common import ROOT, proc_stats

KIT = os.path.join(ROOT, "target/release/examples/bench_kit")
DEPS = os.path.join(ROOT, "target/bench-deps")
STATSD = os.path.join(DEPS, "node_modules/statsd/stats.js")
STATSD_VERSION = "0.9.0"


class Sink:
    """A carbon plaintext listener summing the bench counters it is sent."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.port = self.server.getsockname()[1]
        self.total = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.server.accept()
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        rest = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            n = 0
            for line in lines:
                parts = line.split()
                if len(parts) == 3 and parts[0].startswith(b"stats.counters.bench.") \
                        and parts[0].endswith(b".count"):
                    n += int(float(parts[1]))
            with self.lock:
                self.total += n

    def reset(self):
        with self.lock:
            self.total = 0

    def value(self):
        with self.lock:
            return self.total


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def udp_row(port):
    """The /proc/net/udp{,6} columns of the socket bound to 127.0.0.1:port, or None."""
    suffix = ":%04X" % port
    for path in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            rows = open(path).read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[1].endswith(suffix):
                return cols
    return None


def udp_drops(port):
    """The kernel's count of datagrams dropped for that socket (its queue was full)."""
    cols = udp_row(port)
    return int(cols[-1]) if cols else 0


def start_hekad(hekad, work, port, sink_port):
    config = os.path.join(work, "hekad.toml")
    with open(config, "w") as f:
        f.write(f"""[hekad]
base_dir = "{work}/base"
[StatsdInput]
address = "127.0.0.1:{port}"
[StatAccumInput]
ticker_interval = 1
[CarbonOutput]
message_matcher = "Type == 'heka.statmetric'"
address = "127.0.0.1:{sink_port}"
""")
    return subprocess.Popen([hekad, f"-config={config}"], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "hekad.log"), "w"))


def start_statsd(_hekad, work, port, sink_port):
    config = os.path.join(work, "statsd.js")
    with open(config, "w") as f:
        f.write(json.dumps({
            "address": "127.0.0.1", "port": port, "flushInterval": 1000,
            "backends": ["./backends/graphite"], "graphiteHost": "127.0.0.1",
            "graphitePort": sink_port, "graphite": {"legacyNamespace": False},
        }))
    return subprocess.Popen(["node", STATSD, config], cwd=os.path.dirname(STATSD),
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "statsd.log"), "w"))


def wait_listening(port, proc):
    deadline = time.time() + 20
    while udp_row(port) is None:
        if proc.poll() is not None or time.time() > deadline:
            sys.exit(f"server on {port} did not start")
        time.sleep(0.05)


def one_run(hekad, kind, rate, a, sink):
    with tempfile.TemporaryDirectory(prefix=f"bench-statsd-{kind}-") as work:
        port = free_port()
        sink.reset()
        start = start_hekad if kind == "hekad" else start_statsd
        proc = start(hekad, work, port, sink.port)
        try:
            wait_listening(port, proc)
            time.sleep(0.3)
            cpu0, _ = proc_stats(proc.pid)
            out = subprocess.run([KIT, "statsd", str(port), str(rate), str(a.seconds),
                                  str(a.names), "20"], capture_output=True, text=True, check=True)
            sent = json.loads(out.stdout)["sent"]
            # Until the counts stop growing (the last flushes have arrived).
            last, stable = -1, 0
            while stable < 3:
                time.sleep(1)
                got = sink.value()
                stable = stable + 1 if got == last else 0
                last = got
            cpu1, hwm = proc_stats(proc.pid)
            drops = udp_drops(port)
        finally:
            proc.terminate()
            proc.wait()
        return {"sent": sent, "received": last, "kernel_drops_datagrams": drops,
                "cpu": cpu1 - cpu0, "rss_kib": hwm}


def main(argv, hekad, smoke):
    """Runs the suite with its own options `argv` against the `hekad` binary."""
    ap = argparse.ArgumentParser(prog="scripts/bench statsd", description=__doc__.split("\n")[0])
    ap.add_argument("--rates", default="50000,100000,200000,400000,800000,1600000,3200000")
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--only", default="hekad,statsd")
    a = ap.parse_args(argv)
    if smoke:
        a.rates, a.seconds, a.only = "50000", 1, "hekad"
    print(f"# statsd ingestion: hekad {hekad}")
    kinds = a.only.split(",")
    if "statsd" in kinds and not os.path.exists(STATSD):
        os.makedirs(DEPS, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", DEPS,
                        f"statsd@{STATSD_VERSION}"], check=True)
    sink = Sink()
    rows = []
    for rate in [int(r) for r in a.rates.split(",")]:
        row = {"rate": rate}
        for kind in kinds:
            row[kind] = one_run(hekad, kind, rate, a, sink)
            r = row[kind]
            print(f"# {kind} at {rate}/s: sent {r['sent']} received {r['received']} "
                  f"kernel drops {r['kernel_drops_datagrams']} datagrams, "
                  f"{r['cpu']:.2f} CPU s, peak RSS {r['rss_kib']} KiB", file=sys.stderr)
        rows.append(row)
    head = "| offered metrics/s |" + "".join(
        f" {k} received | {k} kernel drops (datagrams) | {k} CPU s | {k} peak RSS KiB |" for k in kinds)
    print(head)
    print("|---" * (1 + 4 * len(kinds)) + "|")
    best = {k: 0 for k in kinds}
    for row in rows:
        cells = [f"{row['rate']:,}"]
        for k in kinds:
            r = row[k]
            share = r["received"] / r["sent"] if r["sent"] else 0
            if share >= 0.99:
                best[k] = max(best[k], row["rate"])
            cells += [f"{share:.1%}", str(r["kernel_drops_datagrams"]), f"{r['cpu']:.2f}",
                      str(r["rss_kib"])]
        print("| " + " | ".join(cells) + " |")
    print()
    if smoke:
        r = rows[0]["hekad"]
        if not r["sent"] or r["received"] < 0.9 * r["sent"]:
            sys.exit(f"statsd smoke: hekad received {r['received']} of {r['sent']} metrics")
    for k in kinds:
        print(f"highest rate with at most 1% lost, {k}: {best[k]:,} metrics/s")
    if "hekad" in best and best.get("statsd"):
        print(f"hekad / statsd: {best['hekad'] / best['statsd']:.1f}x")

