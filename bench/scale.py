"""(c) Scale: many open workflows on one worker, and hold deadlines under time skipping.

Open workflows: N onboardings (signed up, no events yet) and N holds (one per seller, so each
parcel finds its seller and is told it is held) on one worker process — ``python worker.py``, as
deployed, with the SDK's default workflow cache (``max_cached_workflows`` = 1,000) — whose
resident memory is sampled every second from /proc. A workflow is *settled* once it has sent its
first message (every seller gets ``onboarding_next_step``, every parcel ``return_held``), counted
in the outbox, so the run knows when the worker has caught up without querying 2N workflows.

Deadlines: N holds run to disposal on the time-skipping server against N ``BenchTimer``
workflows (one timer to the same deadline, then one no-op activity) in the same run. Results are
awaited one after another: awaiting many at once has hung that server.
"""

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from bench.common import cpu_seconds, gather_limited, plain_worker, rss_kib, server_pid, settle
from bench.trivial import ACTIVITIES, WORKFLOWS, BenchTimer
from config.settings import Settings
from domain.payloads import Arrival, HoldResult, SignUp
from gateway.holds import record_arrival
from gateway.onboarding import sign_up as start_onboarding
from testing.stack import make_settings
from worker import build_worker

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = 1000  # temporalio.worker.Worker's max_cached_workflows default


def _count_files(folder: Path) -> int:
    try:
        with os.scandir(folder) as it:
            return sum(1 for e in it if e.name.endswith(".json") and not e.name.startswith("."))
    except FileNotFoundError:
        return 0


def worker_env(address: str, task_queue: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment without any of the service's own settings, plus the worker's."""
    own = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in own and not k.startswith("BENCH_")}
    env.update(
        TEMPORAL_ADDRESS=address,
        TEMPORAL_TASK_QUEUE=task_queue,
        DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
        PYTHONPATH=str(ROOT),
        CHECKLIST_LINK_SECRET="bench-link-secret",
    )
    env.update(extra)
    return env


def start_worker_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python worker.py`` as deployed; ``python -m bench.worker_process`` for another cache size."""
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(ROOT / "worker.py")]
    if env.get("BENCH_MAX_CACHED_WORKFLOWS"):
        command = [sys.executable, "-m", "bench.worker_process"]
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


async def open_workflows(
    client: Client,
    data_dir: Path,
    n: int,
    *,
    concurrency: int = 64,
    warm_up_s: float = 3,
    idle_s: float = 15,
    budget_s: float = 1800,
    holds: bool = True,
    cache: int | None = None,
) -> dict[str, Any]:
    """Start N onboardings and N holds; sample the worker's RSS until all settle (or the budget ends).

    ``holds=False`` starts the onboardings only; ``cache`` sets ``max_cached_workflows``.
    """
    n_holds = n if holds else 0
    task_queue = f"bench-scale-{uuid.uuid4().hex[:6]}"
    address = client.service_client.config.target_host
    server = server_pid(int(address.rsplit(":", 1)[1]))
    extra = {"BENCH_MAX_CACHED_WORKFLOWS": str(cache)} if cache else {}
    proc = start_worker_process(worker_env(address, task_queue, data_dir, **extra), data_dir / "worker.log")
    notifications = data_dir / "outbox" / "notifications"
    samples: list[dict[str, Any]] = []
    counters = {"onboardings": 0, "holds": 0}
    t0 = time.perf_counter()
    stop = asyncio.Event()

    def sample() -> dict[str, Any]:
        return {
            "t": round(time.perf_counter() - t0, 1),
            "rss_mib": round(rss_kib(proc.pid) / 1024, 1),
            "started": counters["onboardings"] + counters["holds"],
            "settled": _count_files(notifications),
            "worker_cpu_s": round(cpu_seconds(proc.pid), 1),
            "server_cpu_s": round(cpu_seconds(server), 1) if server else None,
        }

    sampler = asyncio.create_task(_every_second(sample, samples, stop))
    run = uuid.uuid4().hex[:6]
    try:
        await asyncio.sleep(warm_up_s)  # the worker connects and warms up; its idle RSS is the first samples
        idle_rss = samples[-1]["rss_mib"] if samples else 0.0

        async def sign_up(i: int) -> None:
            seller = f"scale-{run}-{i}"
            await start_onboarding(
                client, SignUp(seller_id=seller, email="o@example.com"), task_queue=task_queue
            )
            counters["onboardings"] += 1

        async def arrive(i: int) -> None:
            await record_arrival(
                client,
                Arrival(
                    shipment_id=f"scale-{run}-p{i}",
                    seller_id=f"scale-{run}-{i}",
                    arrived_at=datetime.now().astimezone(),
                ),
                task_queue=task_queue,
            )
            counters["holds"] += 1

        ts = time.perf_counter()
        await gather_limited([sign_up(i) for i in range(n)], concurrency)
        onboarding_start_s = time.perf_counter() - ts
        ts = time.perf_counter()
        await gather_limited([arrive(i) for i in range(n_holds)], concurrency)
        hold_start_s = max(time.perf_counter() - ts, 1e-9)
        started_at = time.perf_counter() - t0

        deadline = t0 + budget_s
        while (settled := _count_files(notifications)) < n + n_holds and time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}; see {data_dir / 'worker.log'}")
            await asyncio.sleep(1)
        settled_at = time.perf_counter() - t0
        await asyncio.sleep(idle_s)  # idle: does memory come back down, or stay where the cache holds it?
    finally:
        stop.set()
        await sampler
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "settled": settled,
        "budget_exhausted": settled < n + n_holds,
        "open_onboardings": n,
        "open_holds": n_holds,
        "max_cached_workflows": cache or DEFAULT_CACHE,
        "onboarding_starts_per_s": round(n / onboarding_start_s, 1),
        "hold_starts_per_s": round(n_holds / hold_start_s, 1),
        "all_started_after_s": round(started_at, 1),
        "all_settled_after_s": round(settled_at, 1),
        "settled_per_s": round(settled / (settled_at - warm_up_s), 1),
        **_resources(samples, n + n_holds, idle_rss),
    }


def _resources(samples: list[dict[str, Any]], total: int, idle_rss: float) -> dict[str, Any]:
    """CPU and memory of the worker over the run, from its samples."""
    last = samples[-1]
    return {
        "worker_cpu_s": last["worker_cpu_s"],
        "server_cpu_s": last["server_cpu_s"],
        "settled_per_s_by_quarter": _rates(samples, total),
        "worker_rss_idle_mib": idle_rss,
        "worker_rss_peak_mib": max(s["rss_mib"] for s in samples),
        "worker_rss_end_mib": last["rss_mib"],
        "rss_at_settled_quarters_mib": _quarters(samples, total),
        "samples": samples,
    }


async def _every_second(
    sample: Callable[[], dict[str, Any]], samples: list[dict[str, Any]], stop: asyncio.Event
) -> None:
    """Take a sample each second until ``stop`` is set."""
    while not stop.is_set():
        with contextlib.suppress(OSError):
            samples.append(sample())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _rates(samples: list[dict[str, Any]], total: int) -> list[float]:
    """Workflows settled per second in each quarter of the run's settling: does it slow down?"""
    marks = [
        next((s for s in samples if s["settled"] >= q * total), None) for q in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    rates = []
    for a, b in itertools.pairwise(marks):
        if a is not None and b is not None and b["t"] > a["t"]:
            rates.append(round((b["settled"] - a["settled"]) / (b["t"] - a["t"]), 1))
    return rates


def _quarters(samples: list[dict[str, Any]], total: int) -> dict[str, float]:
    """Worker RSS when a quarter, half, three quarters and all of the workflows had settled."""
    out: dict[str, float] = {}
    for q in (0.25, 0.5, 0.75, 1.0):
        hit = next((s for s in samples if s["settled"] >= q * total), None)
        if hit is not None:
            out[f"{int(q * 100)}%"] = hit["rss_mib"]
    return out


async def deadlines(
    env: WorkflowEnvironment, data_dir: Path, n: int, *, budget_s: float = 1200
) -> dict[str, Any]:
    """N holds run to disposal vs N one-timer workflows, on the time-skipping server.

    The holds' results are awaited for at most ``budget_s``; what had finished by then is reported.
    """
    client = env.client
    tag = uuid.uuid4().hex[:6]
    # The sellers' own reminders are moved past the holds' deadlines: only the holds' work is timed.
    settings = make_settings(
        data_dir,
        temporal_task_queue=f"bench-deadline-{tag}",
        seller_reminder_days=[200],
        seller_escalate_after_days=300,
        log_level="WARNING",
    )
    trivial_queue = f"bench-timer-{tag}"
    sellers = max(1, n // 10)

    def deadline_after(arrived: datetime) -> datetime:
        calendar = settings.workflow_settings(arrived.date()).calendar
        return calendar.end_of_day(calendar.due_on(arrived, settings.hold_business_days))

    # Each side starts at the server's current time and waits for the deadline a parcel arriving
    # then would get (the server's clock has moved on by the time the second side starts).
    start = await env.get_current_time()
    deadline = deadline_after(start)

    async with plain_worker(client, trivial_queue, WORKFLOWS, ACTIVITIES):
        t = time.perf_counter()
        handles = [
            await client.start_workflow(
                BenchTimer.run, deadline, id=f"bench-timer-{tag}-{i}", task_queue=trivial_queue
            )
            for i in range(n)
        ]
        for h in handles:
            await h.result()
        trivial_s = time.perf_counter() - t

    async with build_worker(client, settings):
        seller_handles: list[WorkflowHandle[Any, Any]] = []
        for i in range(sellers):
            seller = (
                await start_onboarding(
                    client,
                    SignUp(seller_id=f"dl-{tag}-{i}", email="o@example.com"),
                    task_queue=settings.temporal_task_queue,
                )
            ).handle
            seller_handles.append(seller)
        for seller in seller_handles:
            await settle(seller)
        arrived = await env.get_current_time()
        t = time.perf_counter()
        parcels: list[WorkflowHandle[Any, Any]] = []
        for i in range(n):
            parcel = (
                await record_arrival(
                    client,
                    Arrival(
                        shipment_id=f"dl-{tag}-p{i}", seller_id=f"dl-{tag}-{i % sellers}", arrived_at=arrived
                    ),
                    task_queue=settings.temporal_task_queue,
                )
            ).handle
            parcels.append(parcel)
        outcomes: dict[str, int] = {}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(budget_s):
                for parcel in parcels:
                    outcome = HoldResult.model_validate(await parcel.result()).outcome
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
        holds_s = time.perf_counter() - t
        for leftover in [*seller_handles, *parcels[sum(outcomes.values()) :]]:
            with contextlib.suppress(Exception):
                await leftover.terminate("benchmark finished")
    return {
        "n": n,
        "sellers": sellers,
        "timer_days_ahead": round((deadline - start) / timedelta(days=1), 1),
        "hold_days_ahead": round((deadline_after(arrived) - arrived) / timedelta(days=1), 1),
        "holds_s": round(holds_s, 2),
        "timers_s": round(trivial_s, 2),
        "holds_finished": sum(outcomes.values()),
        "holds_per_s": round(sum(outcomes.values()) / holds_s, 1),
        "timers_per_s": round(n / trivial_s, 1),
        "ratio": round(holds_s / trivial_s, 2),
        "outcomes": outcomes,
    }
