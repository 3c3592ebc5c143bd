"""Does the real ``carm`` program leave with the documented exit code, every time?

``python -m bench.cli_exit_codes [--runs 100] [--parallel 4] [--json FILE]`` starts a dev server
and a worker, signs a seller up and records a held parcel, then runs the installed ``carm`` as a
subprocess ``--runs`` times, ``--parallel`` at a time: ``parcel`` and ``status`` of the found
parcel and seller (exit 0) and of missing ones (exit 4), mixed. It prints how long the runs took
and every exit code seen, and exits 1 if any run left with another code than documented.

``tests/test_cli_program.py`` runs the same check, 100 runs, in ``make test``: each run is a
fresh interpreter that imports the SDK and the service (about 0.7 s of CPU), and 100 of them took
37–38 s here, 4 at a time on two cores (63 s while other test suites shared the machine). Run
this module for more runs, or to see the timing.

The crash this guards against: the Temporal SDK's runtime threads at interpreter shutdown
(temporalio/sdk-python#300) aborted a run after its answer was printed — "Fatal Python error:
PyGILState_Release", exit 134 (SIGABRT) or 139 (SIGSEGV). ``starter.cli.run.leave`` exits with
``os._exit`` instead of the interpreter's teardown.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from temporalio.client import Client

from domain.workflow_ids import shipment_id_of
from starter.cli.errors import ExitCode
from testing.servers import binary, dev_server
from testing.stack import Stack, make_settings, new_id, running

RUN_TIMEOUT_S = 120.0
"""Longer than carm's own --timeout (30 s): a run killed here hung past its own limit."""
DESCRIPTION = "Run the real carm program many times; are its exit codes the documented ones?"


@dataclass(frozen=True)
class Invocation:
    argv: tuple[str, ...]
    expected: int

    @property
    def kind(self) -> str:
        """``parcel found``, ``status missing``, ...: how the results are counted."""
        return f"{self.argv[0]} {'found' if self.expected == ExitCode.OK else 'missing'}"


@dataclass(frozen=True)
class Outcome:
    invocation: Invocation
    code: int
    """The exit code; negative when a signal ended the process (-6: SIGABRT, shells say 134)."""
    stderr: str


@dataclass(frozen=True)
class Wrong:
    """A run that left with another code than documented."""

    argv: list[str]
    code: int
    stderr: str
    """Its end."""


@dataclass
class Report:
    runs: int
    parallel: int
    seconds: float
    codes: dict[str, dict[int, int]] = field(default_factory=dict)
    """Per kind of invocation, how many runs left with each exit code."""
    wrong: list[Wrong] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.wrong

    def summary(self) -> str:
        seen = "; ".join(
            f"{kind}: " + ", ".join(f"exit {code} ×{n}" for code, n in sorted(codes.items()))
            for kind, codes in sorted(self.codes.items())
        )
        verdict = "all as documented" if self.ok else f"{len(self.wrong)} NOT as documented"
        return (
            f"{self.runs} runs of carm, {self.parallel} at a time, in {self.seconds:.1f} s "
            f"({self.runs / max(self.seconds, 1e-9):.1f} runs/s): {verdict}. {seen}"
        )


def mixed(seller: str, shipment: str, runs: int) -> list[Invocation]:
    """Found and missing parcels and sellers in turn (the missing ids are fresh each time)."""
    kinds = [
        lambda: Invocation(("parcel", shipment), ExitCode.OK),
        lambda: Invocation(("parcel", new_id("ghost")), ExitCode.NOT_FOUND),
        lambda: Invocation(("status", seller), ExitCode.OK),
        lambda: Invocation(("status", new_id("ghost")), ExitCode.NOT_FOUND),
    ]
    return [kinds[i % len(kinds)]() for i in range(runs)]


def environment_for(client: Client, task_queue: str) -> dict[str, str]:
    """The process environment that points ``carm`` at ``client``'s server."""
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": client.namespace,
        "TEMPORAL_TASK_QUEUE": task_queue,
    }


async def invoke_all(
    invocations: Sequence[Invocation], *, env: dict[str, str], cwd: Path, parallel: int
) -> list[Outcome]:
    """Run the installed ``carm`` once per invocation, at most ``parallel`` at a time."""
    program = binary("carm")
    gate = asyncio.Semaphore(parallel)

    async def one(invocation: Invocation) -> Outcome:
        async with gate:
            process = await asyncio.create_subprocess_exec(
                program,
                *invocation.argv,
                env=env,
                cwd=cwd,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
            except TimeoutError:  # a hung run is a wrong exit too, not a hung check
                process.kill()
                _, stderr = await process.communicate()
        assert process.returncode is not None  # communicate() waited for the process
        return Outcome(invocation, process.returncode, stderr.decode(errors="replace"))

    return list(await asyncio.gather(*(one(i) for i in invocations)))


def report(outcomes: Sequence[Outcome], *, parallel: int, seconds: float) -> Report:
    counts: dict[str, Counter[int]] = {}
    for o in outcomes:
        counts.setdefault(o.invocation.kind, Counter())[o.code] += 1
    wrong = [
        Wrong(list(o.invocation.argv), o.code, o.stderr[-400:])
        for o in outcomes
        if o.code != o.invocation.expected
    ]
    return Report(
        runs=len(outcomes),
        parallel=parallel,
        seconds=seconds,
        codes={kind: dict(c) for kind, c in counts.items()},
        wrong=wrong,
    )


async def check(stack: Stack, runs: int, parallel: int, cwd: Path) -> Report:
    """Sign a seller up, record their parcel, and run ``carm`` against them ``runs`` times."""
    seller = new_id("s")
    await stack.sign_up(seller)
    shipment = shipment_id_of((await stack.arrive(seller)).id)
    invocations = mixed(seller, shipment, runs)
    # A working folder of its own: no data/dev-secrets.env of a checkout is read.
    env = environment_for(stack.client, stack.task_queue)
    started = time.monotonic()
    outcomes = await invoke_all(invocations, env=env, cwd=cwd, parallel=parallel)
    return report(outcomes, parallel=parallel, seconds=time.monotonic() - started)


async def measure(runs: int, parallel: int) -> Report:
    with tempfile.TemporaryDirectory(prefix="carm-exit-codes-") as tmp:
        async with dev_server() as env, running(env.client, make_settings(Path(tmp) / "data")) as stack:
            return await check(stack, runs, parallel, Path(tmp))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cli_exit_codes", description=DESCRIPTION)
    parser.add_argument("--runs", type=int, default=100, help="invocations of carm (default 100)")
    parser.add_argument("--parallel", type=int, default=4, help="at a time (default 4)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the report here too")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.runs, args.parallel))
    print(result.summary())
    for wrong in result.wrong:
        print(f"  {' '.join(wrong.argv)}: exit {wrong.code}: {wrong.stderr!r}")
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
