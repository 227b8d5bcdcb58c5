"""What every benchmark suite of `scripts/bench` uses: package installs and process figures."""

import os
import re
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def apt_install(packages):
    """Installs Debian packages (with sudo when not root); does nothing when none is given."""
    if not packages:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages,
                   env=env, check=True)


def has_command(cmd):
    return shutil.which(cmd) is not None or os.path.exists(cmd)


def cpu_seconds(pid):
    """User + system CPU seconds of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_kib(pid, key):
    """A `/proc/<pid>/status` figure in KiB, such as `VmRSS` or `VmHWM`."""
    with open(f"/proc/{pid}/status") as f:
        m = re.search(rf"^{key}:\s+(\d+)", f.read(), re.M)
    return int(m.group(1)) if m else 0


def proc_stats(pid):
    """(CPU seconds, peak RSS KiB) of a running process."""
    return cpu_seconds(pid), status_kib(pid, "VmHWM")
