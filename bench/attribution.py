"""(e) Where an onboarding event's cost goes: the burst of (a) with parts of its work switched off.

The same sellers and journey as the throughput part, on the same dev server, five times: as
shipped; with no notices to people (``Deliveries.notify`` does nothing, so no local activity runs
for them); with no search-attribute upserts; with neither; and with every delivery a regular
activity instead of a local attempt first (the other side of the trade: the answer no longer
waits, the history grows). Each variant runs right after a trivial
baseline of its own, and reports the CPU time spent per update by this process (client and worker)
and by the server, besides the two ratios of (a). The variants are taken in turn ``rounds`` times and
each figure is the median of its rounds: one round apart, the same variant varies by a quarter.

A measurement, not a product setting: the variants exist only inside this part, and what they
switch off is what the product must do (tell the seller each next step, keep the Web UI's
columns current). They say how much of the gap to the trivial workflow each part of the work is,
so that a target can be weighed against what it would cost the sellers and operations.
"""

import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from temporalio import workflow
from temporalio.client import Client

from bench.common import cpu_seconds, plain_worker, server_pid
from bench.throughput import Phase, drive_onboardings, drive_trivial
from bench.trivial import ACTIVITIES, WORKFLOWS
from testing.stack import make_settings
from worker import build_worker
from workflows.deliveries import Deliveries

VARIANTS = ("as shipped", "no notices", "no upserts", "neither", "notices as activities")
_start = Deliveries.start


def _as_activity(self: Deliveries, *args: Any, **kwargs: Any) -> None:
    # Release 1's commands for every delivery: a regular activity, so the update's answer leaves
    # without waiting for the attempt, at the price of its own events and workflow task.
    self.local_first = False
    _start(self, *args, **kwargs)


@contextlib.contextmanager
def _switched_off(variant: str) -> Iterator[None]:
    # Both patched names live in modules the sandbox passes through, so the sandboxed workflow
    # sees the patch; nothing else in the process runs workflow code meanwhile.
    with contextlib.ExitStack() as stack:
        if variant in ("no notices", "neither"):
            stack.enter_context(mock.patch.object(Deliveries, "notify", lambda self, **_: None))
        if variant in ("no upserts", "neither"):
            stack.enter_context(mock.patch.object(workflow, "upsert_search_attributes", lambda *_: None))
        if variant == "notices as activities":
            stack.enter_context(mock.patch.object(Deliveries, "start", _as_activity))
        yield


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


class _Cpu:
    """CPU seconds of this process and of the server over a block, per update."""

    def __init__(self, server: int | None) -> None:
        self.server = server
        self.own = self.srv = 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        own, srv = _own_cpu(), cpu_seconds(self.server) if self.server else 0.0
        yield
        self.own = _own_cpu() - own
        self.srv = (cpu_seconds(self.server) - srv) if self.server else 0.0

    def per_update_ms(self, phase: Phase) -> dict[str, float]:
        n = max(len(phase.latencies), 1)
        return {
            "process_cpu_ms": round(self.own / n * 1000, 2),
            "server_cpu_ms": round(self.srv / n * 1000, 2),
        }


async def _trivial(client: Client, n: int, cpu: _Cpu) -> Phase:
    queue = f"bench-attr-trivial-{uuid.uuid4().hex[:8]}"
    async with plain_worker(client, queue, WORKFLOWS, ACTIVITIES):
        await drive_trivial(client, queue, 3, 3)
        with cpu.measure():
            return await drive_trivial(client, queue, n, n)


async def _onboarding(client: Client, data_dir: Path, n: int, variant: str, cpu: _Cpu) -> Phase:
    settings = make_settings(
        data_dir / variant.replace(" ", "-"),
        temporal_task_queue=f"bench-attr-{uuid.uuid4().hex[:8]}",
        log_level="WARNING",
    )
    with _switched_off(variant):
        async with build_worker(client, settings):
            await drive_onboardings(client, settings.temporal_task_queue, 3, 3)
            with cpu.measure():
                return await drive_onboardings(client, settings.temporal_task_queue, n, n)


async def _variant(
    client: Client, data_dir: Path, n: int, variant: str, server: int | None
) -> dict[str, Any]:
    trivial_cpu, onboarding_cpu = _Cpu(server), _Cpu(server)
    trivial = await _trivial(client, n, trivial_cpu)
    onboarding = await _onboarding(client, data_dir, n, variant, onboarding_cpu)
    return {
        "events_per_workflow": onboarding.history_events / max(n, 1),
        "events_per_s_ratio": onboarding.events_per_second / trivial.events_per_second,
        "p50_latency_ratio": onboarding.p50_ms / trivial.p50_ms,
        "p95_latency_ratio": onboarding.p95_ms / trivial.p95_ms,
        **onboarding_cpu.per_update_ms(onboarding),
        **{f"trivial_{k}": v for k, v in trivial_cpu.per_update_ms(trivial).items()},
    }


async def run_attribution(client: Client, data_dir: Path, n: int, rounds: int = 3) -> dict[str, Any]:
    """Each variant after a trivial run of its own, ``rounds`` times in turn; the medians."""
    server = server_pid(int(client.service_client.config.target_host.rsplit(":", 1)[1]))
    samples: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    t0 = time.perf_counter()
    for r in range(rounds):
        for variant in VARIANTS:
            samples[variant].append(await _variant(client, data_dir / f"round-{r}", n, variant, server))
    variants = {
        v: {k: round(statistics.median(x[k] for x in runs), 3) for k in runs[0]}
        for v, runs in samples.items()
    }
    return {"n": n, "rounds": rounds, "wall_s": round(time.perf_counter() - t0, 1), "variants": variants}
