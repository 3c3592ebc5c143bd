"""Run the benchmarks: ``python -m bench.run [--quick]`` (docs/performance.md has the numbers).

Each part starts its own server: (a) and (b) and the open-workflows half of (c) a dev server with
the contract's search attributes, the deadline half of (c) and the disposal case of (b) the
time-skipping test server. Baselines run in the same process, on the same server, in the same run;
the results are ratios. The JSON of the whole run goes to ``--json`` (default: bench/results/).
"""

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import dev_server, machine, time_skipping_server
from bench.cost import dev_scenarios, time_skipping_scenarios
from bench.scale import deadlines, open_workflows
from bench.throughput import run_throughput
from config.logging import configure_logging
from config.settings import Settings

PARTS = ("throughput", "cost", "scale", "deadlines")


@dataclass
class Config:
    sellers: int = 200
    concurrency: int | None = None
    open_workflows: int = 10_000
    deadlines: int = 1_000
    idle_s: float = 15
    scale_budget_s: float = 1800
    scale_holds: bool = True
    """(c) start the holds too (False: onboardings only)."""
    cache: int | None = None
    """(c) the worker's max_cached_workflows (None: the SDK's default, 1,000)."""
    """(c) how long the open workflows may take to settle before the run reports what it got."""
    parts: tuple[str, ...] = PARTS


QUICK = Config(sellers=30, open_workflows=1_000, deadlines=200, idle_s=10, scale_budget_s=600)
SMOKE = Config(sellers=3, open_workflows=5, deadlines=3, idle_s=0)


async def run(config: Config, data_dir: Path) -> dict[str, Any]:
    """Run the chosen parts; every result is a dict of plain numbers (and the ratios)."""
    results: dict[str, Any] = {"config": asdict(config), "started": datetime.now(UTC).isoformat()}
    t0 = time.perf_counter()
    if "throughput" in config.parts or "cost" in config.parts:
        async with dev_server() as env:
            if "throughput" in config.parts:
                results["throughput"] = await run_throughput(
                    env.client, data_dir / "throughput", config.sellers, config.concurrency
                )
            if "cost" in config.parts:
                results["cost"] = await dev_scenarios(env.client, data_dir / "cost")
    if "cost" in config.parts:
        async with time_skipping_server() as env:
            results["cost"].update(await time_skipping_scenarios(env, data_dir / "cost-skip"))
    if "scale" in config.parts:
        async with dev_server() as env:
            results["scale"] = await open_workflows(
                env.client,
                data_dir / "scale",
                config.open_workflows,
                idle_s=config.idle_s,
                budget_s=config.scale_budget_s,
                holds=config.scale_holds,
                cache=config.cache,
            )
    if "deadlines" in config.parts:
        async with time_skipping_server() as env:
            results["deadlines"] = await deadlines(env, data_dir / "deadlines", config.deadlines)
    results["total_s"] = round(time.perf_counter() - t0, 1)
    return results


# --- the report -------------------------------------------------------------------------------


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    if "throughput" in results:
        r = results["throughput"]
        t, o = r["trivial"], r["onboarding"]
        lines += [
            f"### (a) Throughput: {r['n']} workflows × {r['updates_per_workflow']} updates, "
            f"concurrency {r['concurrency']}",
            "",
            _row("", "trivial", "SellerOnboarding", "ratio", "target"),
            _row("---", "---", "---", "---", "---"),
            _row("wall time (s)", t["wall_s"], o["wall_s"], "", ""),
            _row("history events / workflow", t["events_per_workflow"], o["events_per_workflow"], "", ""),
            _row(
                "history events / s", t["events_per_s"], o["events_per_s"], r["events_per_s_ratio"], "≥ 0.8"
            ),
            _row("updates / s", t["updates_per_s"], o["updates_per_s"], r["updates_per_s_ratio"], ""),
            _row("update p50 (ms)", t["update_p50_ms"], o["update_p50_ms"], r["p50_latency_ratio"], "≤ 1.5"),
            _row("update p95 (ms)", t["update_p95_ms"], o["update_p95_ms"], r["p95_latency_ratio"], "≤ 1.5"),
            "",
        ]
    if "cost" in results:
        lines += [
            "### (b) History cost",
            "",
            _row(
                "scenario",
                "events",
                "workflow tasks",
                "billable actions",
                "events caused in the seller's workflow",
            ),
            _row("---", "---", "---", "---", "---"),
        ]
        for name, c in results["cost"].items():
            caused = c["events_caused_in_seller_workflow"]
            lines.append(
                _row(
                    name,
                    c["events"],
                    c["workflow_tasks"],
                    c["billable_actions"],
                    "" if caused is None else caused,
                )
            )
        lines.append("")
        kinds = sorted({k for c in results["cost"].values() for k in c["by_kind"]})
        names = list(results["cost"])
        lines += [_row("event kind", *names), _row("---", *["---"] * len(names))]
        for k in kinds:
            lines.append(_row(k, *[results["cost"][n]["by_kind"].get(k, "") for n in names]))
        lines.append("")
    if "scale" in results:
        s = results["scale"]
        lines += [
            f"### (c) {s['open_onboardings']} open onboardings + {s['open_holds']} open holds on one worker "
            f"(max_cached_workflows {s['max_cached_workflows']})",
            "",
            _row("measure", "value"),
            _row("---", "---"),
            _row("onboarding starts / s", s["onboarding_starts_per_s"]),
            _row("hold starts / s", s["hold_starts_per_s"]),
            _row("all started after (s)", s["all_started_after_s"]),
            _row(
                "settled (first message sent)", f"{s['settled']} of {s['open_onboardings'] + s['open_holds']}"
            ),
            _row("all settled after (s)", s["all_settled_after_s"]),
            _row("workflows settled / s", s["settled_per_s"]),
            _row("settled / s in each quarter", " / ".join(str(v) for v in s["settled_per_s_by_quarter"])),
            _row("CPU seconds: worker / dev server", f"{s['worker_cpu_s']} / {s['server_cpu_s']}"),
            _row("worker RSS idle (MiB)", s["worker_rss_idle_mib"]),
            _row(
                "worker RSS at 25/50/75/100 % settled (MiB)",
                " / ".join(str(v) for v in s["rss_at_settled_quarters_mib"].values()),
            ),
            _row("worker RSS peak (MiB)", s["worker_rss_peak_mib"]),
            _row("worker RSS at the end, idle (MiB)", s["worker_rss_end_mib"]),
            "",
        ]
    if "deadlines" in results:
        d = results["deadlines"]
        lines += [
            f"### (c) {d['n']} hold deadlines under time skipping ({d['sellers']} sellers)",
            "",
            _row("", "BenchTimer", "ReturnHold", "ratio", "target"),
            _row("---", "---", "---", "---", "---"),
            _row("wall time (s)", d["timers_s"], d["holds_s"], d["ratio"], "≤ 2"),
            _row("per second", d["timers_per_s"], d["holds_per_s"], "", ""),
            _row("outcomes", "", ", ".join(f"{k}: {v}" for k, v in d["outcomes"].items()), "", ""),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="30 sellers, 1,000 open of each, 200 deadlines")
    parser.add_argument("--sellers", type=int, help="(a) sellers driven through the journey (200)")
    parser.add_argument("--concurrency", type=int, help="(a) workflows driven at once (all of them)")
    parser.add_argument(
        "--open", type=int, dest="open_workflows", help="(c) open onboardings and holds, each (10,000)"
    )
    parser.add_argument("--deadlines", type=int, help="(c) holds run to their deadline (1,000)")
    parser.add_argument(
        "--scale-budget",
        type=float,
        dest="scale_budget_s",
        help="(c) seconds the open workflows may take (1,800)",
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument(
        "--json", type=Path, help="where the full results go (default bench/results/<time>.json)"
    )
    parser.add_argument("--cache", type=int, help="(c) the worker's max_cached_workflows (SDK default 1,000)")
    parser.add_argument("--no-holds", action="store_true", help="(c) open onboardings only")
    args = parser.parse_args(argv)

    config = dataclasses.replace(QUICK if args.quick else Config())
    for field in ("sellers", "concurrency", "open_workflows", "deadlines", "scale_budget_s", "cache"):
        if getattr(args, field) is not None:
            setattr(config, field, getattr(args, field))
    config.scale_holds = not args.no_holds
    config.parts = tuple(p for p in args.parts.split(",") if p)
    unknown = set(config.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")

    configure_logging(Settings(log_level="WARNING"))
    measured_on = machine()  # before the run: the code the worker processes load is this commit's
    with tempfile.TemporaryDirectory(prefix="carm-bench-") as tmp:
        results = asyncio.run(run(config, Path(tmp)))
    results["machine"] = measured_on
    out = args.json or Path(__file__).parent / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    sys.stdout.write("\n" + markdown(results) + f"\nmachine: {results['machine']}\nfull results: {out}\n")


if __name__ == "__main__":
    main()
