"""A burst against the real API: many sign-ups and events at once, and whether any answer lied.

    python -m bench.burst                 300 sign-ups + 300 events at once (on a dev server it starts)
    python -m bench.burst --quick         20 + 20
    python -m bench.burst --json r.json   the report as JSON too

Starts a dev server, ``python worker.py`` and ``python -m starter.api`` as their own processes
(as in production: the load generator does not share their CPU time), signs up the sellers the
events go to, then sends every request of the burst at once and checks each answer against what
Temporal holds afterwards:

* every 2xx was applied (a 200/201 at once, a 202 by the time it is polled);
* every 503 was not applied, or is safe to send again (the sign-up or the event, with its
  ``event_id``, sent again answers 2xx, and the event is applied once);
* no 504, and no other 5xx.

:func:`burst` does the driving and checking against any API, so the smoke test runs it against an
API and worker in its own process.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.service import RPCError

from bench.common import gather_limited, percentile
from domain.workflow_ids import seller_workflow_id
from starter.webhooks import new_secret
from testing.servers import dev_server, free_port

ROOT = Path(__file__).resolve().parent.parent
BN = "123456782"
SETUP_CONCURRENCY = 20
"""Sign-ups for the events' sellers go this many at a time: setup, not the burst."""
SETTLE_SECONDS = 120.0
"""How long a 202 may take to show as applied."""


@dataclass
class Answer:
    kind: str
    """``sign-up`` or ``event``."""
    seller_id: str
    status: int
    seconds: float
    retry_after: str | None = None
    server_seconds: float | None = None
    """What the API's ``Server-Timing`` says it took (the rest is the client's and the network's)."""


@dataclass
class Report:
    sign_ups: int
    events: int
    wall_seconds: float
    statuses: dict[str, dict[str, int]]
    latency_seconds: dict[str, float]
    server_seconds: dict[str, float] = field(default_factory=dict)
    """The same, as the API measured it (arrival to answer)."""
    median_by_answer: dict[str, float] = field(default_factory=dict)
    """The median latency of each kind of answer (``event 503``…)."""
    lies: list[str] = field(default_factory=list)
    retried_503: int = 0

    @property
    def honest(self) -> bool:
        return not self.lies

    def text(self) -> str:
        lines = [
            f"burst: {self.sign_ups} sign-ups + {self.events} events at once, "
            f"answered in {self.wall_seconds:.1f} s",
        ]
        for kind, counts in self.statuses.items():
            lines.append(f"  {kind:<8} " + ", ".join(f"{n} x {code}" for code, n in sorted(counts.items())))
        lines.append(
            "  latency  " + ", ".join(f"{name} {value:.2f} s" for name, value in self.latency_seconds.items())
        )
        lines.append(
            "  in API   " + ", ".join(f"{name} {value:.2f} s" for name, value in self.server_seconds.items())
        )
        lines.append(
            "  median   "
            + ", ".join(f"{name} {value:.2f} s" for name, value in self.median_by_answer.items())
        )
        lines.append(f"  503s sent again: {self.retried_503}")
        lines.append("  no answer lied" if self.honest else "  LIES:\n    " + "\n    ".join(self.lies))
        return "\n".join(lines)


def sign_up_body(seller_id: str) -> dict[str, Any]:
    return {"seller_id": seller_id, "email": f"{seller_id}@example.com"}


def event_body(seller_id: str) -> dict[str, Any]:
    return {"type": "business_number_provided", "business_number": BN, "event_id": f"burst-{seller_id}"}


async def _timed(kind: str, seller_id: str, request: Awaitable[httpx.Response]) -> Answer:
    started = time.perf_counter()
    try:
        response = await request
    except httpx.HTTPError:  # no answer at all: counted as such, never as a success
        return Answer(kind, seller_id, 0, time.perf_counter() - started)
    return Answer(
        kind,
        seller_id,
        response.status_code,
        time.perf_counter() - started,
        response.headers.get("Retry-After"),
        _server_seconds(response.headers.get("Server-Timing")),
    )


def _server_seconds(header: str | None) -> float | None:
    found = re.search(r"\bapp;dur=([0-9.]+)", header or "")
    return float(found.group(1)) / 1000 if found else None


async def _applied(client: Client, answer: Answer) -> int:
    """How many times the request was carried out: a sign-up's workflow, an event in the audit."""
    handle = client.get_workflow_handle(seller_workflow_id(answer.seller_id))
    try:
        if answer.kind == "sign-up":
            await handle.describe()
            return 1
        audit = await handle.query("audit")
    except RPCError:
        return 0
    event_id = event_body(answer.seller_id)["event_id"]
    return sum(1 for entry in audit if entry.get("event_id") == event_id)


async def _settled(client: Client, answer: Answer) -> int:
    """:func:`_applied`, once it is (or after ``SETTLE_SECONDS``: a 202 may take a while)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        count = await _applied(client, answer)
        if count or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.5)


async def _resend(http: httpx.AsyncClient, answer: Answer) -> int:
    """Send a 503'd request again after its Retry-After, until Temporal takes it; its final status."""
    for _ in range(20):
        await asyncio.sleep(float(answer.retry_after or 1))
        try:
            if answer.kind == "sign-up":
                r = await http.post("/v1/sellers", json=sign_up_body(answer.seller_id))
            else:
                r = await http.post(
                    f"/v1/sellers/{answer.seller_id}/events", json=event_body(answer.seller_id)
                )
        except httpx.TransportError:
            # A kept-alive connection the server closed as it was reused: sending again is the point.
            continue
        if r.status_code != 503:
            return r.status_code
    return 503


def _failed(status: int) -> bool:
    return status == 0 or (status >= 500 and status != 503)


async def check(http: httpx.AsyncClient, client: Client, answer: Answer) -> tuple[list[str], bool]:
    """What was wrong with one answer (nothing, ideally), and whether it had to be sent again."""
    name = f"{answer.kind} {answer.seller_id}: {answer.status}"
    if _failed(answer.status):  # 504 above all: an error, for work that may well have been done
        done = "applied" if await _settled(client, answer) else "not applied"
        return [f"{name}: an error for a request that was {done}"], False
    if answer.status == 503:
        if answer.retry_after is None:
            return [f"{name} without Retry-After"], False
        again = await _resend(http, answer)
        if not 200 <= again < 300:
            return [f"{name}, sent again: {again}"], True
    elif not 200 <= answer.status < 300:
        return [f"{name}: refused"], False
    count = await _settled(client, answer)
    resent = answer.status == 503
    if count == 0:
        return [f"{name} but it was not applied"], resent
    return ([] if count == 1 else [f"{name} but applied {count} times"]), resent


async def burst(base_url: str, token: str, client: Client, *, sign_ups: int, events: int) -> Report:
    """Sign up ``events`` sellers, then send ``sign_ups`` sign-ups and ``events`` events at once."""
    run = uuid.uuid4().hex[:8]
    targets = [f"burst-{run}-e{i}" for i in range(events)]
    newcomers = [f"burst-{run}-s{i}" for i in range(sign_ups)]
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(120.0)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout) as setup:
        await _sign_up_targets(setup, targets)
    # A client of its own: a connection kept alive from the setup may be closed by the server just
    # as the burst reuses it, which would be the client's error, not the API's answer.
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=timeout) as http:
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(_timed("sign-up", s, http.post("/v1/sellers", json=sign_up_body(s))) for s in newcomers),
            *(_timed("event", s, http.post(f"/v1/sellers/{s}/events", json=event_body(s))) for s in targets),
        )
        wall = time.perf_counter() - started
        checked = await gather_limited([check(http, client, a) for a in answers], SETUP_CONCURRENCY)
    statuses: dict[str, Counter[str]] = {"sign-up": Counter(), "event": Counter()}
    for answer in answers:
        statuses[answer.kind][str(answer.status)] += 1
    seconds = [a.seconds for a in answers]
    server = [a.server_seconds for a in answers if a.server_seconds is not None]
    by_answer: dict[str, list[float]] = {}
    for answer in answers:
        by_answer.setdefault(f"{answer.kind} {answer.status}", []).append(answer.seconds)
    return Report(
        sign_ups=sign_ups,
        events=events,
        wall_seconds=wall,
        statuses={kind: dict(counts) for kind, counts in statuses.items()},
        latency_seconds={
            "p50": percentile(seconds, 50),
            "p95": percentile(seconds, 95),
            "max": max(seconds, default=0.0),
        },
        server_seconds={
            "p50": percentile(server, 50),
            "p95": percentile(server, 95),
            "max": max(server, default=0.0),
        },
        median_by_answer={name: percentile(values, 50) for name, values in sorted(by_answer.items())},
        lies=[lie for problems, _ in checked for lie in problems],
        retried_503=sum(resent for _, resent in checked),
    )


async def _sign_up_targets(http: httpx.AsyncClient, sellers: list[str]) -> None:
    """The events' sellers, signed up and answering (setup: before the burst, not part of it)."""

    async def one(seller_id: str) -> None:
        for _ in range(60):
            r = await http.post("/v1/sellers", json=sign_up_body(seller_id))
            if r.status_code in (200, 201) and r.json()["waiting_since"] is not None:
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"could not sign up {seller_id} before the burst")

    await gather_limited([one(s) for s in sellers], SETUP_CONCURRENCY)


@contextlib.asynccontextmanager
async def _process(
    *command: str, env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            yield process
        finally:
            if process.returncode is None:
                process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 30)


async def _healthy(base_url: str, seconds: float = 60) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the API at {base_url} did not become healthy")


async def standalone(sign_ups: int, events: int, folder: Path, api: dict[str, str] | None = None) -> Report:
    """A dev server, ``worker.py`` and ``starter.api`` as processes, and the burst against them."""
    token = uuid.uuid4().hex
    port = free_port()
    async with dev_server() as env:
        address = env.client.service_client.config.target_host
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "API_"))}
        environment |= {
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TASK_QUEUE": f"burst-{uuid.uuid4().hex[:8]}",
            "DATA_DIR": str(folder / "data"),
            "API_TOKEN": token,
            "BROKER_WEBHOOK_SECRET": new_secret(),
            "API_PORT": str(port),
            "LOG_LEVEL": "WARNING",
            **(api or {}),
        }
        worker = _process(sys.executable, "worker.py", env=environment, log=folder / "worker.log")
        server = _process(sys.executable, "-m", "starter.api", env=environment, log=folder / "api.log")
        async with worker, server:
            base_url = f"http://127.0.0.1:{port}"
            await _healthy(base_url)
            return await burst(base_url, token, env.client, sign_ups=sign_ups, events=events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sign-ups", type=int, default=300)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="20 sign-ups and 20 events")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")
    parser.add_argument("--logs", type=Path, metavar="DIR", help="keep the worker's and the API's logs here")
    parser.add_argument(
        "--api",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an API setting (API_MAX_IN_FLIGHT=200)",
    )
    args = parser.parse_args(argv)
    sign_ups, events = (20, 20) if args.quick else (args.sign_ups, args.events)
    with tempfile.TemporaryDirectory(prefix="carm-burst-") as scratch:
        folder = args.logs or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        api = dict(setting.split("=", 1) for setting in args.api)
        report = asyncio.run(standalone(sign_ups, events, folder, api))
    print(report.text())
    if args.json:
        args.json.write_text(json.dumps({**asdict(report), "honest": report.honest}, indent=2) + "\n")
    return 0 if report.honest else 1


if __name__ == "__main__":
    sys.exit(main())
