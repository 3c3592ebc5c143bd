"""Where a cold replay's time goes: ``python -m bench.replay_profile [--events 600] [--json FILE]``.

Records a seller's run and a ``BenchTrivial`` run of the same length (as part (d) does, on a dev
server of its own), then replays each once more under ``cProfile`` on both threads that run
Python: the event loop, which decodes each activation's payloads and encodes each completion's,
and the workflow thread, which runs the sandboxed workflow code. It reports each side's share of
the profiled time:

- ``workflow_code``: the workflow thread busy (the handlers, the rules, the sandbox's own calls);
- ``payload_visits``: the event loop in ``decode_activation`` and ``encode_completion``, and of
  that ``serialization_context``: the SDK asking the sandboxed workflow for each payload's
  serialization context, which enters the sandbox once per payload (temporalio 1.35);
- ``rest``: the event loop otherwise busy; its idle time (waiting for the workflow thread or the
  SDK's core) is left out;
- ``largest_own_functions``: the service's own functions (``workflows/``, ``domain/``) with the
  largest cumulative shares, to say which part of the workflow code it is.

Profiling slows Python code several times over, so only the shares and the sides' ratio mean
anything; ``bench.run`` part (d) measures the replay itself.
"""

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory

from bench.common import dev_server
from bench.replay import SERVER_ARGS, record_pair, replayer
from config.logging import configure_logging
from testing.stack import make_settings

IDLE = {
    ("~", 0, "<method 'poll' of 'select.epoll' objects>"),  # the event loop waiting
    ("~", 0, "<method 'get' of '_queue.SimpleQueue' objects>"),  # the workflow thread waiting
}


Table = dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
"""pstats' own table: (file, line, function) → (calls, primitive calls, own s, cumulative s, callers)."""


def _table(stats: pstats.Stats) -> Table:
    table: Table = stats.stats  # type: ignore[attr-defined]
    return table


def _seconds(stats: pstats.Stats, file_suffix: str, function: str) -> float:
    """Cumulative seconds of one function (all its entries: recursion counts once)."""
    return sum(
        ct
        for (f, _, name), (_, _, _, ct, _) in _table(stats).items()
        if f.endswith(file_suffix) and name == function
    )


def _own_functions(stats: pstats.Stats, total: float, top: int = 6) -> dict[str, float]:
    """The service's own functions (workflows/, domain/) with the largest cumulative shares."""
    own = {
        f"{Path(f).parent.name}/{Path(f).name}:{name}": ct
        for (f, _, name), (_, _, _, ct, _) in _table(stats).items()
        if Path(f).parent.name in ("workflows", "domain") and name not in ("run", "<module>")
    }
    ranked = sorted(own.items(), key=lambda kv: -kv[1])[:top]
    return {name: round(ct / total, 3) for name, ct in ranked}


def _busy(stats: pstats.Stats) -> float:
    return sum(tt for key, (_, _, tt, _, _) in _table(stats).items() if key not in IDLE)


async def profile_replay(history: WorkflowHistory) -> dict[str, Any]:
    """One warm-up replay, then one under the two profilers; the shares of the profiled time."""
    thread_profiles: list[cProfile.Profile] = []

    def profiled() -> None:
        profile = cProfile.Profile()
        thread_profiles.append(profile)
        profile.enable()

    async def replay(executor: ThreadPoolExecutor) -> None:
        await replayer(executor).replay_workflow(history, raise_on_replay_failure=True)

    with ThreadPoolExecutor(1) as warm:
        await replay(warm)
    with ThreadPoolExecutor(1, initializer=profiled) as executor:
        loop_profile = cProfile.Profile()
        loop_profile.enable()
        await replay(executor)
        loop_profile.disable()
        executor.submit(lambda: thread_profiles[0].disable()).result()
    loop, thread = pstats.Stats(loop_profile), pstats.Stats(thread_profiles[0])
    visits = _seconds(loop, "bridge/worker.py", "decode_activation") + _seconds(
        loop, "bridge/worker.py", "encode_completion"
    )
    context = _seconds(loop, "worker/_workflow.py", "_get_current_dc") + _seconds(
        loop, "workflow_sandbox/_runner.py", "get_external_store_context"
    )
    code, loop_busy = _busy(thread), _busy(loop)
    total = code + loop_busy
    return {
        "events": len(history.events),
        "profiled_ms_per_event": round(total / len(history.events) * 1000, 3),
        "workflow_code": round(code / total, 3),
        "payload_visits": round(visits / total, 3),
        "serialization_context": round(context / total, 3),
        "rest": round(max(loop_busy - visits, 0.0) / total, 3),
        "largest_own_functions": _own_functions(thread, total),
    }


async def run(events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        configure_logging(make_settings(Path(folder), log_level="WARNING"))
        async with dev_server(dev_server_extra_args=SERVER_ARGS) as env:
            seller, baseline = await record_pair(env.client, Path(folder), events, budget_s=600)
    result: dict[str, Any] = {
        "seller": await profile_replay(seller.history),
        "trivial": await profile_replay(baseline.history),
    }
    result["profiled_ratio"] = round(
        result["seller"]["profiled_ms_per_event"] / result["trivial"]["profiled_ms_per_event"], 2
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=600, help="length of the seller's run to replay")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.events))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
