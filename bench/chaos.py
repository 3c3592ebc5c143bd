"""Chaos and recovery: kill the worker, restart the server, and count what arrives where.

One run: a dev server (``temporal server start-dev`` on a SQLite file, a subprocess), a worker
(``python worker.py``, a subprocess, SMTP notifications and HTTP broker/warehouse deliveries),
and the counting sinks of :mod:`bench.sinks`. Sellers sign up, their parcels arrive (one in
``forward_every`` is forwarded at the seller's request), every seller goes through the whole
journey and so releases their held parcels; some parcels belong to sellers who never sign up and
stay held, their 30-second recheck timers pending while the server is down. Meanwhile the worker
is killed with SIGKILL at random moments and restarted, and the server is stopped and restarted.

Every request is retried until it lands, as a client of the API retries a 503: on Temporal's
unavailable or timed-out answers and on the gateway's retryable errors (``gateway.errors.RETRYABLE``,
which the gateway raises for them). Starts are idempotent by workflow id, events carry an
``event_id`` and a fixed update id, decisions a fixed update id. The report says what was lost
(workflows not in their expected end state, expected deliveries that never arrived), what was
duplicated at the receiving end, how late the timers fired, and how long the system took to drain
after the last restart. ``scripts/chaos.py`` is the long version; ``tests/test_chaos.py`` the
short one.
"""

import asyncio
import contextlib
import functools
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHistory,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode

import domain.search_attributes as sa
import gateway.holds as holds
import gateway.onboarding as sellers
from bench.common import binary, free_port, percentile
from bench.sinks import (
    HttpSink,
    SmtpSink,
    handoff_fingerprint,
    instruction_fingerprint,
    message_fingerprint,
)
from config.settings import Settings
from domain.events import EventEnvelope
from domain.payloads import Arrival, SignUp
from domain.workflow_ids import hold_workflow_id
from gateway.calls import Started
from gateway.errors import RETRYABLE
from gateway.holds import hold_handle
from gateway.onboarding import seller_handle
from testing.journeys import FULL_JOURNEY
from testing.stack import settle
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
ADDRESS = {
    "name": "Maple Goods",
    "street": "1 Main St",
    "city": "Blaine",
    "state": "WA",
    "postal_code": "98230",
    "country": "US",
}
RECHECK_S = 30.0  # ReturnHold's first recheck of an unknown seller (WorkflowSettings default)
BUSY_PATIENCE_S = 10.0
"""How long an unknown seller's held parcel may stay busy (a recheck under way) before it is lost."""
RETRIED: tuple[type[Exception], ...] = (
    RPCError,
    TimeoutError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    *RETRYABLE,  # the gateway's Unavailable and TimedOut: what the API answers with a 503
)
"""What the driver sends again (with backoff) until it lands or ``retrying``'s limit passes."""
TYPE_NAMES = {1: "Text", 2: "Keyword", 3: "Int", 4: "Double", 5: "Bool", 6: "Datetime", 7: "KeywordList"}


@dataclass
class ChaosConfig:
    onboardings: int = 50
    holds: int = 50
    """Parcels in all; ``unknown_share`` of them belong to sellers who never sign up."""
    unknown_share: float = 0.1
    forward_every: int = 5
    """Every n-th parcel of a known seller is forwarded at the seller's request before clearance."""
    spread_s: float = 12.0
    """Sellers start over this many seconds; each then sends its events one after another."""
    event_gap_s: float = 0.4
    """Up to this long (random) between one seller's events."""
    worker_kills: int = 3
    server_restarts: int = 1
    server_down_s: float = 5.0
    server_stop_at_s: float | None = None
    """When the (first) server stop begins; default: halfway through the sellers' start window."""
    drain_timeout_s: float = 240.0
    timer_bound_s: float = 2.0
    """A timer fires at most this long after it is due (or after the server is back, if it was
    due while the server was down)."""
    acted_bound_s: float = 45.0
    """A fired timer is acted on (its workflow task completed) at most this long after it fired:
    a killed worker's tasks wait for the sticky-queue timeout (10 s) and its restart."""
    seed: int = 1
    concurrency: int = 200


@dataclass
class Outage:
    what: str
    down_at: datetime
    up_at: datetime | None = None


@dataclass
class ChaosReport:
    config: dict[str, Any]
    workflows: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    missing_deliveries: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    sinks: dict[str, dict[str, int]] = field(default_factory=dict)
    timers: dict[str, Any] = field(default_factory=dict)
    outages: list[dict[str, Any]] = field(default_factory=list)
    worker_restarts: int = 0
    unexpected_worker_exits: int = 0
    drain_s: float | None = None
    """From the last restart (worker or server) until every check passed."""
    drain_after_last_request_s: float | None = None
    """From the moment every request of the workload had been answered until every check passed."""
    total_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.missing_deliveries or self.errors) and (
            self.timers.get("late_beyond_bound", 0) == 0
        )

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out


# --- processes --------------------------------------------------------------------------------


class DevServer:
    """``temporal server start-dev`` on a SQLite file and a fixed port, stopped and started again."""

    def __init__(self, data_dir: Path) -> None:
        self.db = data_dir / "t.sqlite"
        self.log = data_dir / "server.log"
        self.port, self.http_port, self.metrics_port = free_port(), free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--headless",
            "--log-level",
            "error",
            "--dynamic-config-value",
            "system.forceSearchAttributesCacheRefreshOnRead=true",
        ]
        for key in sa.ALL:
            cmd += ["--search-attribute", f"{key.name}={TYPE_NAMES[int(key.indexed_value_type)]}"]
        return cmd

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        self.proc = self._spawn()
        async with asyncio.timeout(60):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dev server exited with {self.proc.returncode}; see {self.log}")
                try:
                    client = await Client.connect(self.address)
                    await client.workflow_service.get_system_info(GetSystemInfoRequest())
                    return
                except Exception:
                    await asyncio.sleep(0.3)

    async def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)


def worker_environment(settings: dict[str, str]) -> dict[str, str]:
    """The environment without any of the service's settings, plus ``settings``."""
    own = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in own}
    env.update(settings)
    env["PYTHONPATH"] = str(ROOT)
    return env


class WorkerProcess:
    """``python worker.py`` with its settings in the environment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                await self.kill()


# --- the run ------------------------------------------------------------------------------------


class Chaos:
    def __init__(self, config: ChaosConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(config.seed)
        self.run = uuid.uuid4().hex[:6]
        self.report = ChaosReport(config=asdict(config))
        self.outages: list[Outage] = []
        self.server = DevServer(data_dir)
        self.smtp = SmtpSink()
        self.http = HttpSink()
        self.task_queue = f"chaos-{self.run}"
        self.client: Client | None = None
        self.worker: WorkerProcess | None = None
        self.t0 = time.monotonic()
        self.last_restart = self.t0
        self.sem = asyncio.Semaphore(config.concurrency)
        n_unknown = round(config.holds * config.unknown_share)
        self.sellers = [f"cs-{self.run}-{i}" for i in range(config.onboardings)]
        self.known_holds = [f"cp-{self.run}-{i}" for i in range(config.holds - n_unknown)]
        self.unknown_holds = [f"cu-{self.run}-{i}" for i in range(n_unknown)]
        self.forwarded: set[str] = set()
        self.chaos_done = asyncio.Event()

    def seller_of(self, shipment: str) -> str:
        if shipment in self.unknown_holds:
            return f"nobody-{self.run}-{shipment}"
        return self.sellers[self.known_holds.index(shipment) % len(self.sellers)]

    def email_of(self, seller: str) -> str:
        return f"{seller}@example.com"

    # --- retrying every request until it lands ------------------------------------------------

    async def retrying(self, what: str, call: Callable[[], Awaitable[T]], *, limit_s: float = 300) -> T:
        delay, deadline = 0.2, time.monotonic() + limit_s
        while True:
            try:
                async with self.sem:
                    return await asyncio.wait_for(call(), timeout=40)
            except RETRIED as err:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what}: gave up after {limit_s:.0f} s: {err}") from err
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # --- the workload -----------------------------------------------------------------------------

    async def seller_journey(self, index: int, seller: str) -> None:
        assert self.client is not None
        client = self.client
        await asyncio.sleep(self.rng.uniform(0, self.config.spread_s))
        await self.retrying(
            f"sign up {seller}",
            lambda: sellers.sign_up(
                client, SignUp(seller_id=seller, email=self.email_of(seller)), task_queue=self.task_queue
            ),
        )
        parcels = [s for i, s in enumerate(self.known_holds) if i % len(self.sellers) == index]
        for shipment in parcels:
            await self.retrying(
                f"arrival {shipment}",
                functools.partial(self.record_arrival, shipment, seller),
            )
            if self.known_holds.index(shipment) % self.config.forward_every == 0:
                await self.forward(shipment)
        handle = seller_handle(client, seller)
        for k, event in enumerate(FULL_JOURNEY):
            await asyncio.sleep(self.rng.uniform(0, self.config.event_gap_s))
            update_id = f"{seller}-e{k}"
            await self.retrying(
                f"event {update_id}",
                functools.partial(
                    handle.execute_update,
                    SellerOnboarding.apply_event,
                    EventEnvelope.model_validate({**event, "event_id": update_id}),
                    id=update_id,
                ),
            )

    async def record_arrival(self, shipment: str, seller: str) -> Started[ReturnHold]:
        assert self.client is not None
        arrival = Arrival(shipment_id=shipment, seller_id=seller, arrived_at=datetime.now(UTC))
        return await holds.record_arrival(self.client, arrival, task_queue=self.task_queue)

    async def forward(self, shipment: str) -> None:
        assert self.client is not None
        handle = self.client.get_workflow_handle(hold_workflow_id(shipment))
        try:
            await self.retrying(
                f"decide {shipment}",
                lambda: handle.execute_update(
                    "decide", {"action": "forward", "us_address": ADDRESS}, id=f"decide-{shipment}"
                ),
            )
            self.forwarded.add(shipment)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if not (isinstance(cause, ApplicationError) and cause.type == "NotAllowedNow"):
                raise
            self.forwarded.add(shipment)  # an earlier attempt was accepted: the parcel is closing

    async def unknown_arrival(self, shipment: str, at: float) -> None:
        assert self.client is not None
        client = self.client
        await asyncio.sleep(max(0.0, at - (time.monotonic() - self.t0)))
        await self.retrying(
            f"arrival {shipment}",
            lambda: holds.record_arrival(
                client,
                Arrival(
                    shipment_id=shipment, seller_id=self.seller_of(shipment), arrived_at=datetime.now(UTC)
                ),
                task_queue=self.task_queue,
            ),
        )

    # --- the chaos ------------------------------------------------------------------------------

    def plan(self) -> list[tuple[float, str]]:
        """When to kill the worker and when to stop the server, in seconds from the start."""
        window = self.config.spread_s + len(FULL_JOURNEY) * self.config.event_gap_s / 2
        kills = sorted(self.rng.uniform(1.5, window) for _ in range(self.config.worker_kills))
        steps = [(t, "kill") for t in kills]
        restarts = self.config.server_restarts
        first = self.config.server_stop_at_s
        for r in range(restarts):
            if first is None:
                at = window * (r + 1) / (restarts + 1) + 1.0
            else:
                at = first + r * (window - first) / max(restarts, 1)
            steps.append((at, "server"))
        return sorted(steps)

    async def chaos(self, plan: list[tuple[float, str]]) -> None:
        assert self.worker is not None
        try:
            for at, what in plan:
                await asyncio.sleep(max(0.0, at - (time.monotonic() - self.t0)))
                if what == "kill":
                    outage = Outage("worker SIGKILL", datetime.now(UTC))
                    self.killing = True
                    await self.worker.kill()
                    await asyncio.sleep(self.rng.uniform(0.2, 1.5))
                    self.worker.start()
                    self.killing = False
                else:
                    outage = Outage("server stop", datetime.now(UTC))
                    await self.server.stop()
                    await asyncio.sleep(self.config.server_down_s)
                    await self.server.start()
                outage.up_at = datetime.now(UTC)
                self.outages.append(outage)
                self.last_restart = time.monotonic()
        finally:
            self.chaos_done.set()

    async def watchdog(self) -> None:
        """Restart a worker that died on its own (counted: it should not happen)."""
        assert self.worker is not None
        while not self.stopping:
            await asyncio.sleep(1)
            if not self.worker.alive and not self.stopping and not self.killing:
                self.report.unexpected_worker_exits += 1
                self.worker.start()
                self.last_restart = time.monotonic()

    # --- checking -------------------------------------------------------------------------------

    async def deliveries_complete(self) -> bool:
        handoffs = self.http.ledgers["/handoffs"].snapshot().values()
        instructions = self.http.ledgers["/instructions"].snapshot().values()
        return len({h.get("seller_id") for h in handoffs}) >= len(self.sellers) and len(
            {i.get("shipment_id") for i in instructions}
        ) >= len(self.known_holds)

    async def check(self, final: bool) -> bool:
        """Every workflow in its end state and every expected delivery in; records problems if final."""
        lost: list[str] = []
        check_sem = asyncio.Semaphore(50)  # the checks must not become the load they measure

        async def limited(coro: Awaitable[str | None]) -> None:
            async with check_sem:
                problem = await coro
            if problem is not None:
                lost.append(problem)

        await asyncio.gather(
            *(limited(self._seller_problem(s)) for s in self.sellers),
            *(limited(self._hold_problem(s)) for s in self.known_holds),
            *(limited(self._unknown_hold_problem(s)) for s in self.unknown_holds),
        )
        missing = self.missing_deliveries()
        if final:
            self.report.lost = sorted(lost)
            self.report.missing_deliveries = missing
        return not lost and not missing

    async def _seller_problem(self, seller: str) -> str | None:
        assert self.client is not None
        handle = seller_handle(self.client, seller)
        try:
            # A query may need the workflow replayed; under load it can time out: ask again.
            desc = await self.retrying(f"describe {seller}", handle.describe, limit_s=60)
            status = await self.retrying(
                f"status of {seller}", lambda: handle.query(SellerOnboarding.status), limit_s=60
            )
        except Exception as err:
            return f"{seller}: {type(err).__name__}: {err}"
        if desc.status != WorkflowExecutionStatus.RUNNING or status.stage != "cleared":
            return f"{seller}: {desc.status} stage {status.stage}"
        if desc.raw_description.pending_activities:
            return f"{seller}: {len(desc.raw_description.pending_activities)} deliveries pending"
        return None

    async def _hold_problem(self, shipment: str) -> str | None:
        assert self.client is not None
        handle = hold_handle(self.client, shipment)
        try:
            desc = await handle.describe()
            if desc.status != WorkflowExecutionStatus.COMPLETED:
                return f"{shipment}: {desc.status}"
            result = await handle.result()
        except Exception as err:
            return f"{shipment}: {type(err).__name__}: {err}"
        expected = "forwarded" if shipment in self.forwarded else "released"
        return None if result.outcome == expected else f"{shipment}: {result.outcome}, expected {expected}"

    async def _unknown_hold_problem(self, shipment: str) -> str | None:
        assert self.client is not None
        handle = self.client.get_workflow_handle(hold_workflow_id(shipment))
        try:
            desc = await handle.describe()
        except Exception as err:
            return f"{shipment}: {type(err).__name__}: {err}"
        if desc.status != WorkflowExecutionStatus.RUNNING:
            return f"{shipment}: {desc.status}, expected running (held)"
        # A held parcel wakes by itself to look for its seller again (the recheck timers): busy
        # at one look is that, not lost work; busy at every look for BUSY_PATIENCE_S is stuck.
        try:
            await settle(handle, poll=1.0, limit=BUSY_PATIENCE_S)
        except TimeoutError:
            return f"{shipment}: still busy after {BUSY_PATIENCE_S:.0f} s"
        # Its first recheck timer (30 s, pending while the server was down) must have fired.
        history = await handle.fetch_history()
        if not any(e.event_type == EventType.EVENT_TYPE_TIMER_FIRED for e in history.events):
            return f"{shipment}: recheck timer not fired yet"
        return None

    def missing_deliveries(self) -> list[str]:
        return [*self._missing_broker_and_warehouse(), *self._missing_messages(), *self._notice_gaps()]

    def _missing_broker_and_warehouse(self) -> list[str]:
        handoffs = self.http.ledgers["/handoffs"].snapshot()
        instructions = self.http.ledgers["/instructions"].snapshot()
        handed = {h.get("seller_id") for h in handoffs.values()}
        missing = [f"handoff of {s}" for s in self.sellers if s not in handed]
        by_shipment = {i.get("shipment_id"): i.get("action") for i in instructions.values()}
        for shipment in self.known_holds:
            expected = "forward" if shipment in self.forwarded else "release"
            if by_shipment.get(shipment) != expected:
                missing.append(f"{expected} instruction for {shipment} (got {by_shipment.get(shipment)})")
        missing += [f"instruction for held {s}" for s in self.unknown_holds if s in by_shipment]
        return missing

    def _missing_messages(self) -> list[str]:
        messages = self.smtp.ledger.snapshot()
        subjects = {(m["to"], m["subject"]) for m in messages.values()}
        missing = [
            f"clearance message to {seller}"
            for seller in self.sellers
            if (self.email_of(seller), "You are cleared for U.S. returns") not in subjects
        ]
        subject_lines = {m["subject"] for m in messages.values()}
        for shipment in self.known_holds:
            wanted = (
                f"Returned parcel {shipment} is being forwarded to your U.S. address"
                if shipment in self.forwarded
                else f"Returned parcel {shipment} is on its way to Canada"
            )
            if wanted not in subject_lines:
                missing.append(f"outcome message for {shipment}")
        for shipment in self.unknown_holds:
            if not any(s.startswith(f"Parcel {shipment} arrived for unknown seller") for s in subject_lines):
                missing.append(f"operations message for {shipment}")
        return missing

    def _notice_gaps(self) -> list[str]:
        """Notices are numbered per workflow: a gap is a message that never arrived."""
        numbers: dict[str, set[int]] = {}
        for key in self.smtp.ledger.snapshot():
            prefix, sep, rest = key.rpartition(":notice:")
            n = rest.split(":", 1)[0]  # ":notice:N", then the digest of what it says
            if sep and n.isdigit():
                numbers.setdefault(prefix, set()).add(int(n))
        gaps = {prefix: set(range(1, max(seen) + 1)) - seen for prefix, seen in numbers.items()}
        return [f"notices {sorted(missing)} of {prefix}" for prefix, missing in gaps.items() if missing]

    async def timer_lateness(self) -> None:
        """How late the parcels' timers fired, from their histories (the server's own clock)."""
        assert self.client is not None
        server_outages = [o for o in self.outages if o.what == "server stop" and o.up_at is not None]
        fired_late: list[float] = []
        acted_late: list[float] = []
        beyond: list[str] = []
        during_outage = 0
        histories, never_started = await self._histories()
        for shipment, events in histories.items():
            started: dict[int, datetime] = {}
            for i, e in enumerate(events):
                when = e.event_time.ToDatetime(tzinfo=UTC)
                if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
                    timeout = e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
                    started[e.event_id] = when + timeout
                elif e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
                    due = started[e.timer_fired_event_attributes.started_event_id]
                    effective = due
                    for o in server_outages:
                        assert o.up_at is not None
                        if o.down_at <= due <= o.up_at:
                            effective, during_outage = o.up_at, during_outage + 1
                    late = (when - effective).total_seconds()
                    fired_late.append(late)
                    if late > self.config.timer_bound_s:
                        beyond.append(f"{shipment}: fired {late:.1f} s late")
                    done = next(
                        (
                            x.event_time.ToDatetime(tzinfo=UTC)
                            for x in events[i + 1 :]
                            if x.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                        ),
                        None,
                    )
                    if done is not None:
                        acted = (done - when).total_seconds()
                        acted_late.append(acted)
                        if acted > self.config.acted_bound_s:
                            beyond.append(f"{shipment}: acted on {acted:.1f} s after firing")
        self.report.timers = {
            "fired": len(fired_late),
            "due_while_server_down": during_outage,
            "fire_lateness_max_s": round(max(fired_late, default=0.0), 2),
            "fire_lateness_p95_s": round(percentile(fired_late, 95), 2) if fired_late else 0.0,
            "acted_on_after_fire_max_s": round(max(acted_late, default=0.0), 2),
            "acted_on_after_fire_p95_s": round(percentile(acted_late, 95), 2) if acted_late else 0.0,
            "bound_fire_s": self.config.timer_bound_s,
            "bound_acted_s": self.config.acted_bound_s,
            "late_beyond_bound": len(beyond),
            "late_examples": beyond[:10],
            "never_started": never_started,
        }

    async def _histories(self) -> tuple[dict[str, list[HistoryEvent]], list[str]]:
        """Every parcel's history, and the parcels never started (the check counted them as lost)."""
        assert self.client is not None
        client = self.client

        async def history(shipment: str) -> WorkflowHistory | None:
            try:
                return await client.get_workflow_handle(hold_workflow_id(shipment)).fetch_history()
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    return None  # asking again will not start it
                raise

        histories: dict[str, list[HistoryEvent]] = {}
        never_started: list[str] = []
        for shipment in [*self.unknown_holds, *self.known_holds]:
            found = await self.retrying(f"history {shipment}", functools.partial(history, shipment))
            if found is None:
                never_started.append(shipment)
            else:
                histories[shipment] = list(found.events)
        return histories, never_started

    # --- the whole run ----------------------------------------------------------------------------

    stopping = False
    killing = False

    async def execute(self) -> ChaosReport:
        config = self.config
        self.smtp.start()
        self.http.start()
        try:
            await self.server.start()
            self.client = await Client.connect(
                self.server.address, data_converter=pydantic_data_converter, runtime=_quiet_runtime()
            )
            self.worker = WorkerProcess(
                worker_environment(
                    {
                        "TEMPORAL_ADDRESS": self.server.address,
                        "TEMPORAL_TASK_QUEUE": self.task_queue,
                        "DATA_DIR": str(self.data_dir / "worker"),
                        "LOG_LEVEL": "WARNING",
                        "LOG_FORMAT": "json",
                        "NOTIFY_CHANNEL": "smtp",
                        "SMTP_HOST": "127.0.0.1",
                        "SMTP_PORT": str(self.smtp.port),
                        "BROKER_CHANNEL": "http",
                        "BROKER_URL": self.http.broker_url,
                        "WAREHOUSE_CHANNEL": "http",
                        "WAREHOUSE_URL": self.http.warehouse_url,
                        "DELIVERY_TIMEOUT_SECONDS": "5",
                        "CHECKLIST_LINK_SECRET": "chaos-link-secret",
                    }
                ),
                self.data_dir / "worker.log",
            )
            self.worker.start()
            self.t0 = time.monotonic()
            plan = self.plan()
            server_at = next((t for t, w in plan if w == "server"), config.spread_s)
            # Parcels of unknown sellers arrive so that their 30 s rechecks are pending when the
            # server stops: due a little before, during and after the outage.
            unknown_at = [
                max(0.5, server_at - RECHECK_S + self.rng.uniform(-3.0, config.server_down_s + 5.0))
                for _ in self.unknown_holds
            ]
            chaos = asyncio.create_task(self.chaos(plan))
            watchdog = asyncio.create_task(self.watchdog())
            work = await asyncio.gather(
                *(self.seller_journey(i, s) for i, s in enumerate(self.sellers)),
                *(self.unknown_arrival(s, at) for s, at in zip(self.unknown_holds, unknown_at, strict=True)),
                return_exceptions=True,
            )
            names = [*self.sellers, *self.unknown_holds]
            self.report.errors += [
                f"{name}: {type(e).__name__}: {e}"
                for name, e in zip(names, work, strict=True)
                if isinstance(e, BaseException)
            ]
            await chaos
            workload_done = time.monotonic()
            # Drain: until every workflow is in its end state and every delivery is in.
            deadline = time.monotonic() + config.drain_timeout_s
            while time.monotonic() < deadline:
                if await self.deliveries_complete() and await self.check(final=False):
                    break
                await asyncio.sleep(1.0)
            self.report.drain_s = round(time.monotonic() - self.last_restart, 1)
            self.report.drain_after_last_request_s = round(time.monotonic() - workload_done, 1)
            await asyncio.sleep(1.0)  # anything arriving late would show as a duplicate now
            await self.check(final=True)
            await self.timer_lateness()
            self.stopping = True
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
        finally:
            self.stopping = True
            if self.worker is not None:
                await self.worker.stop()
                self.report.worker_restarts = self.worker.starts - 1
            await self.server.stop()
            self.smtp.stop()
            self.http.stop()
        self.report.duplicated = [
            *(f"message {d}" for d in self.smtp.ledger.duplicates(message_fingerprint)),
            *(f"handoff {d}" for d in self.http.ledgers["/handoffs"].duplicates(handoff_fingerprint)),
            *(
                f"instruction {d}"
                for d in self.http.ledgers["/instructions"].duplicates(instruction_fingerprint)
            ),
        ]
        self.report.sinks = {
            "smtp": self.smtp.ledger.summary(),
            **{path.strip("/"): ledger.summary() for path, ledger in self.http.ledgers.items()},
        }
        self.report.workflows = {
            "onboardings": len(self.sellers),
            "holds_known_seller": len(self.known_holds),
            "holds_forwarded": len(self.forwarded),
            "holds_unknown_seller": len(self.unknown_holds),
        }
        self.report.outages = [
            {
                "what": o.what,
                "down_at": o.down_at.isoformat(),
                "down_s": round(((o.up_at or o.down_at) - o.down_at).total_seconds(), 1),
            }
            for o in self.outages
        ]
        self.report.total_s = round(time.monotonic() - self.t0, 1)
        return self.report


def _quiet_runtime() -> Runtime:
    """A runtime whose core logs only errors: every retried call during an outage warns otherwise."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


async def run_chaos(config: ChaosConfig, data_dir: Path) -> ChaosReport:
    return await Chaos(config, data_dir).execute()


def summary(report: ChaosReport) -> str:
    r = report
    lines = [
        f"workflows: {r.workflows}",
        f"worker SIGKILLs and restarts: {r.worker_restarts}, unexpected exits: {r.unexpected_worker_exits}",
        f"outages: {[(o['what'], o['down_s']) for o in r.outages]}",
        f"lost workflows: {len(r.lost)} {r.lost[:5]}",
        f"missing deliveries: {len(r.missing_deliveries)} {r.missing_deliveries[:5]}",
        f"duplicated deliveries: {len(r.duplicated)} {r.duplicated[:5]}",
        f"receiving ends: {r.sinks}",
        f"timers: {r.timers}",
        f"drain after the last restart: {r.drain_s} s, after the last request: "
        f"{r.drain_after_last_request_s} s; total {r.total_s} s",
        f"errors: {r.errors[:5]}",
        f"OK: {r.ok}",
    ]
    return "\n".join(lines)
