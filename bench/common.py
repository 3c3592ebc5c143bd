"""What every benchmark shares: servers (the tests' own), workers, settling, RSS, percentiles."""

import asyncio
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from testing.servers import binary, dev_server, free_port, time_skipping_server
from testing.stack import settle

# The servers and the settling are the tests' own (testing/), so a benchmark measures the same stack.
BIN = Path(sys.executable).parent
__all__ = ["binary", "dev_server", "free_port", "settle", "time_skipping_server"]


def plain_worker(
    client: Client, task_queue: str, workflows: Sequence[type], activities: Sequence[Any]
) -> Worker:
    """A worker with the same options as ``worker.build_worker``, for the bench's own workflows."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        activity_executor=ThreadPoolExecutor(max_workers=8),
        graceful_shutdown_timeout=timedelta(seconds=20),
    )


async def gather_limited(coros: Sequence[Any], limit: int) -> list[Any]:
    """Run coroutines with at most ``limit`` at once, results in order."""
    sem = asyncio.Semaphore(limit)

    async def one(coro: Any) -> Any:
        async with sem:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100), nearest-rank on the sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_kib(pid: int | None = None) -> int:
    """Resident set size in KiB: psutil when installed, else /proc/<pid>/status VmRSS."""
    try:
        import psutil

        return int(psutil.Process(pid or os.getpid()).memory_info().rss // 1024)
    except ImportError:
        pass
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_pid(port: int) -> int | None:
    """The pid of the ``temporal server start-dev`` listening on ``port`` (for its CPU time)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"start-dev" in argv and str(port).encode() in argv:
            return int(entry.name)
    return None


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def machine() -> dict[str, str]:
    """The machine and versions the numbers were measured on."""
    import platform
    import subprocess

    import temporalio

    cli = subprocess.run([binary("temporal"), "--version"], capture_output=True, text=True, check=False)
    mem = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
        cwd=BIN.parents[1],
    )
    return {
        "commit": commit.stdout.strip(),
        "cpus": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "temporalio": temporalio.__version__ if hasattr(temporalio, "__version__") else "?",
        "temporal_cli": cli.stdout.strip(),
        "platform": platform.platform(),
    }


def _machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has been busy since boot (/proc/stat's first line)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and of its children that have ended (servers, worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Load:
    """How busy the machine was while a part ran, and how much of it was someone else.

    The cores are shared with other people's test runs: a ratio holds up under that load only if
    both sides of it met the same load, which is why baselines run in the same part; this says
    how much there was. Our own CPU includes the servers and worker processes a part started,
    which have ended by the time the part does.
    """

    def __init__(self) -> None:
        self._t = time.perf_counter()
        self._busy = _machine_busy_seconds()
        self._own = _own_seconds()
        self._loadavg = os.getloadavg()[0]

    def report(self) -> dict[str, float]:
        wall = max(time.perf_counter() - self._t, 1e-9)
        busy = (_machine_busy_seconds() - self._busy) / wall
        own = (_own_seconds() - self._own) / wall
        return {
            "wall_s": round(wall, 1),
            "cores": float(os.cpu_count() or 1),
            "busy_cores": round(busy, 2),
            "own_cores": round(own, 2),
            "others_cores": round(max(busy - own, 0.0), 2),
            "loadavg_1min_start": round(self._loadavg, 2),
            "loadavg_1min_end": round(os.getloadavg()[0], 2),
        }
