"""AMQP with publisher confirms: hekad -> RabbitMQ -> hekad against Python's pika
publishing and consuming through the same broker, in the same invocation.

    scripts/bench amqp                          100,000 messages, 3 runs each
    scripts/bench amqp --messages 20000 --runs 1
    scripts/bench amqp --smoke                  hekad only, 5,000 messages, 1 run

A RabbitMQ node (Debian's rabbitmq-server) is started for the suite on 127.0.0.1. Each run
declares a fresh durable fanout exchange and durable queue; the consumer starts first,
then the publisher sends N persistent messages of one ~90-byte log line each, with
publisher confirms; the figure is N / (time from the publisher's start until the
consumer has all N), end to end.
- hekad: A tails a file of N lines (LogstreamerInput -> AMQPOutput, confirms, up to 512
  unconfirmed), B consumes (AMQPInput, prefetch_count 200, acknowledging once written
  -> FileOutput). Also the CPU seconds and peak RSS of each.
- pika (python3-pika, BlockingConnection): the publisher calls confirm_delivery() and
  basic_publish per line (pika's blocking channel waits for each confirm); the consumer
  acknowledges each message (prefetch 200).
Installs rabbitmq-server and python3-pika when missing.
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from common import apt_install, has_command, proc_stats

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
PYTHON = "/usr/bin/python3"
LINE = ('203.0.113.{i} - - [07/Dec/2026:10:00:00 +0000] "GET /item/{n} HTTP/1.1" 200 '
        '512 "-" "bench"\n')

PIKA_PUBLISH = """
import pika, sys
port, exchange, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
ch = conn.channel()
ch.confirm_delivery()
props = pika.BasicProperties(delivery_mode=2)
with open(path, "rb") as f:
    for line in f:
        ch.basic_publish(exchange, "", line, props)
conn.close()
"""

PIKA_CONSUME = """
import pika, sys
port, queue, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
ch = conn.channel()
ch.basic_qos(prefetch_count=200)
got = 0
print("ready", flush=True)
for method, props, body in ch.consume(queue):
    ch.basic_ack(method.delivery_tag)
    got += 1
    if got == n:
        break
print("done", flush=True)
conn.close()
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rabbit:
    """A RabbitMQ node of this suite, in a temporary directory."""

    def __init__(self, work):
        self.port = free_port()
        env = dict(os.environ, HOME=work, RABBITMQ_NODENAME=f"hekad-bench-{os.getpid()}@localhost",
                   RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(self.port),
                   RABBITMQ_DIST_PORT=str(free_port()),
                   RABBITMQ_CONFIG_FILE=os.path.join(work, "rabbitmq"),
                   RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(work, "enabled_plugins"),
                   RABBITMQ_MNESIA_BASE=os.path.join(work, "mnesia"),
                   RABBITMQ_LOG_BASE=os.path.join(work, "log"))
        open(os.path.join(work, "rabbitmq.conf"), "w").close()
        with open(os.path.join(work, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        # A session of its own: the script's Erlang VM is stopped with it.
        self.proc = subprocess.Popen([RABBITMQ_SERVER], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    sys.exit("rabbitmq-server did not start")
                time.sleep(0.1)

    def url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def hekad_publisher_config(work, rabbit, exchange):
    return f"""[hekad]
base_dir = "{work}/a"
[lines]
type = "LogstreamerInput"
log_directory = "{work}/logs"
file_match = 'lines\\.log'
[publish]
type = "AMQPOutput"
message_matcher = "TRUE"
url = "{rabbit.url()}"
exchange = "{exchange}"
exchange_type = "fanout"
exchange_durability = true
exchange_auto_delete = false
persistent = true
encoder = "raw"
[raw]
type = "PayloadEncoder"
append_newlines = false
"""


def hekad_consumer_config(work, rabbit, exchange, queue):
    return f"""[hekad]
base_dir = "{work}/b"
[consume]
type = "AMQPInput"
url = "{rabbit.url()}"
exchange = "{exchange}"
exchange_type = "fanout"
exchange_durability = true
exchange_auto_delete = false
queue = "{queue}"
queue_durability = true
queue_auto_delete = false
prefetch_count = 200
[received]
type = "FileOutput"
message_matcher = "Type == 'amqp'"
path = "{work}/received.log"
encoder = "raw"
[raw]
type = "PayloadEncoder"
append_newlines = false
"""


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def declare(rabbit, exchange, queue):
    """The exchange and queue of a pika run (hekad's consumer declares its own)."""
    code = ("import pika, sys\n"
            "conn = pika.BlockingConnection(pika.ConnectionParameters('127.0.0.1', int(sys.argv[1])))\n"
            "ch = conn.channel()\n"
            "ch.exchange_declare(sys.argv[2], 'fanout', durable=True)\n"
            "ch.queue_declare(sys.argv[3], durable=True)\n"
            "ch.queue_bind(sys.argv[3], sys.argv[2])\n"
            "conn.close()\n")
    subprocess.run([PYTHON, "-c", code, str(rabbit.port), exchange, queue], check=True)


def run_hekad(hekad, rabbit, lines, n, run):
    exchange, queue = f"hekad-{run}", f"hekad-{run}"
    with tempfile.TemporaryDirectory(prefix="bench-amqp-") as work:
        os.makedirs(os.path.join(work, "logs"))
        for name, text in (("a.toml", hekad_publisher_config(work, rabbit, exchange)),
                           ("b.toml", hekad_consumer_config(work, rabbit, exchange, queue))):
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
        log_path = os.path.join(work, "hekad.log")
        log = open(log_path, "w")
        consumer = subprocess.Popen([hekad, f"-config={work}/b.toml"], stdout=subprocess.DEVNULL,
                                    stderr=log, env=dict(os.environ, HEKAD_LOG="debug"))
        received = os.path.join(work, "received.log")
        # Publish once the consumer has declared and bound its queue.
        deadline = time.time() + 30
        while "consuming from" not in open(log_path).read():
            if time.time() > deadline or consumer.poll() is not None:
                sys.exit(f"hekad's AMQPInput did not start; see {log_path}")
            time.sleep(0.02)
        os.link(lines, os.path.join(work, "logs/lines.log"))
        start = time.time()
        publisher = subprocess.Popen([hekad, f"-config={work}/a.toml"], stdout=subprocess.DEVNULL,
                                     stderr=log)
        deadline = start + max(120, n / 500)
        while count_lines(received) < n:
            if time.time() > deadline:
                sys.exit(f"hekad: {count_lines(received)} of {n} messages arrived; see {work}")
            time.sleep(0.01)
        elapsed = time.time() - start
        stats = {"a": proc_stats(publisher.pid), "b": proc_stats(consumer.pid)}
        for p in (publisher, consumer):
            p.terminate()
            p.wait()
    return {"rate": n / elapsed, "cpu_a": stats["a"][0], "cpu_b": stats["b"][0],
            "rss_a": stats["a"][1], "rss_b": stats["b"][1]}


def run_pika(rabbit, lines, n, run):
    exchange, queue = f"pika-{run}", f"pika-{run}"
    declare(rabbit, exchange, queue)
    consumer = subprocess.Popen([PYTHON, "-c", PIKA_CONSUME, str(rabbit.port), queue, str(n)],
                                stdout=subprocess.PIPE, text=True)
    consumer.stdout.readline()
    start = time.time()
    publisher = subprocess.Popen([PYTHON, "-c", PIKA_PUBLISH, str(rabbit.port), exchange, lines])
    consumer.stdout.readline()
    elapsed = time.time() - start
    consumer.wait()
    publisher.wait()
    return {"rate": n / elapsed}


def main(argv, hekad, smoke):
    """Runs the suite with its own options `argv` against the `hekad` binary."""
    ap = argparse.ArgumentParser(prog="scripts/bench amqp", description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="hekad,pika")
    a = ap.parse_args(argv)
    if smoke:
        a.messages, a.runs, a.only = 5_000, 1, "hekad"
    kinds = a.only.split(",")
    need = [] if has_command(RABBITMQ_SERVER) else ["rabbitmq-server"]
    if "pika" in kinds and subprocess.run([PYTHON, "-c", "import pika"]).returncode != 0:
        need.append("python3-pika")
    apt_install(need)
    print(f"# AMQP with publisher confirms: hekad {hekad}, {a.messages} messages, "
          f"{a.runs} runs (medians)")
    with tempfile.TemporaryDirectory(prefix="bench-amqp-rabbit-") as work:
        lines = os.path.join(work, "lines.log")
        with open(lines, "w") as f:
            f.writelines(LINE.format(i=i % 250, n=i) for i in range(a.messages))
        rabbit = Rabbit(work)
        try:
            results = {k: [] for k in kinds}
            for run in range(a.runs):
                if "hekad" in kinds:
                    results["hekad"].append(run_hekad(hekad, rabbit, lines, a.messages, run))
                if "pika" in kinds:
                    results["pika"].append(run_pika(rabbit, lines, a.messages, run))
        finally:
            rabbit.stop()
    print("| publisher -> RabbitMQ -> consumer | messages/s | vs pika | CPU s (pub / cons) "
          "| peak RSS KiB (pub / cons) |")
    print("|---|---|---|---|---|")
    med = {k: statistics.median(r["rate"] for r in results[k]) for k in kinds}
    for k in kinds:
        ratio = f"{med[k] / med['pika']:.2f}x" if "pika" in med else "-"
        if k == "hekad":
            r = results[k]
            cpu = (f"{statistics.median(x['cpu_a'] for x in r):.2f} / "
                   f"{statistics.median(x['cpu_b'] for x in r):.2f}")
            rss = f"{max(x['rss_a'] for x in r)} / {max(x['rss_b'] for x in r)}"
            print(f"| hekad AMQPOutput -> hekad AMQPInput | {med[k]:,.0f} | {ratio} | {cpu} "
                  f"| {rss} |")
        else:
            print(f"| pika confirm_delivery -> pika consume | {med[k]:,.0f} | {ratio} | - | - |")
