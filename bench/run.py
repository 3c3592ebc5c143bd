"""Run the benchmarks: ``python -m bench.run [--quick]`` (docs/performance.md has the numbers).

Parts, grouped by the server they share:

- (a) ``throughput``, (b) ``cost`` (events sent back to back) and ``settled`` (each event once the
  previous has settled, as in life) on one dev server with the contract's search attributes; the
  disposal scenarios of ``cost`` on the time-skipping server; (e) ``attribution`` (the burst of
  (a) with notices or search-attribute upserts switched off, or every delivery a regular activity,
  to say where the gap goes) there too;
- (d) ``replay`` on a dev server of its own (its suggestion to continue as new moved out of the
  way), and ``instances`` with no server at all;
- (c) ``scale`` (open workflows on a ``python worker.py`` process) on a dev server, ``deadlines``
  on the time-skipping server.

Baselines run in the same part, on the same server, in the same run; the results are ratios, and
the machine's load during each group is noted beside them. The JSON of the whole run goes to
``--json`` (default: bench/results/), with issue #12's measures under ``summary``.
"""

import argparse
import asyncio
import compileall
import dataclasses
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.attribution import run_attribution
from bench.common import Load, dev_server, machine, time_skipping_server
from bench.cost import dev_scenarios, time_skipping_scenarios
from bench.instances import instance_creation
from bench.replay import SERVER_ARGS, run_replay
from bench.scale import deadlines, open_workflows
from bench.settled import run_settled
from bench.throughput import run_throughput
from config.logging import configure_logging
from config.settings import Settings

PARTS = ("throughput", "cost", "settled", "attribution", "replay", "instances", "scale", "deadlines")
DEV_PARTS = ("throughput", "cost", "settled", "attribution")
"""The parts that share one dev server."""


@dataclass
class Config:
    sellers: int = 200
    concurrency: int | None = None
    settled_repeats: int = 5
    """(b) sellers driven event by event, settled (each with a twin and a parcel)."""
    replay_events: int | None = None
    """(d) length of the seller's run to replay (None: the CONTINUE_AS_NEW_AFTER_EVENTS setting)."""
    replay_repeats: int = 3
    replay_budget_s: float = 900
    """(d) how long recording the seller's run may take; a shorter run is extrapolated."""
    instance_rounds: int = 200
    """(d) sandboxed instances created of each workflow."""
    open_workflows: int = 10_000
    deadlines: int = 1_000
    idle_s: float = 15
    scale_budget_s: float = 1800
    """(c) how long the open workflows may take to settle before the run reports what it got."""
    scale_holds: bool = True
    """(c) start the holds too (False: onboardings only)."""
    cache: int | None = None
    """(c) the worker's max_cached_workflows (None: the SDK's default, 1,000)."""
    attribution_rounds: int = 3
    """(e) times the four variants are taken in turn (each figure is the median)."""
    parts: tuple[str, ...] = PARTS


QUICK = Config(
    sellers=30,
    settled_repeats=3,
    replay_repeats=2,
    replay_budget_s=300,
    instance_rounds=100,
    # 500 + 500 open: enough to fill the cache halfway and see memory level off, and to keep
    # --quick within 10 minutes on two shared cores (1,000 + 1,000 took 344 s of a 510 s run).
    open_workflows=500,
    deadlines=200,
    idle_s=10,
    scale_budget_s=240,
)
SMOKE = Config(
    sellers=3,
    settled_repeats=1,
    replay_events=150,
    replay_repeats=1,
    replay_budget_s=60,
    instance_rounds=3,
    open_workflows=5,
    attribution_rounds=1,
    deadlines=3,
    idle_s=0,
)


async def _dev_parts(config: Config, data_dir: Path, results: dict[str, Any]) -> None:
    async with dev_server() as env:
        if "throughput" in config.parts:
            results["throughput"] = await run_throughput(
                env.client, data_dir / "throughput", config.sellers, config.concurrency
            )
        if "cost" in config.parts:
            results["cost"] = await dev_scenarios(env.client, data_dir / "cost")
        if "settled" in config.parts:
            results["settled"] = await run_settled(env.client, data_dir / "settled", config.settled_repeats)
        if "attribution" in config.parts:
            results["attribution"] = await run_attribution(
                env.client, data_dir / "attribution", config.sellers, config.attribution_rounds
            )
    if "cost" in config.parts:
        async with time_skipping_server() as env:
            results["cost"].update(await time_skipping_scenarios(env, data_dir / "cost-skip"))


async def _replay(config: Config, data_dir: Path, results: dict[str, Any]) -> None:
    # Its own server: one told not to suggest continue-as-new before the setting does.
    async with dev_server(dev_server_extra_args=SERVER_ARGS) as env:
        results["replay"] = await run_replay(
            env.client,
            data_dir / "replay",
            target_events=config.replay_events,
            repeats=config.replay_repeats,
            budget_s=config.replay_budget_s,
        )


async def _instances(config: Config, data_dir: Path, results: dict[str, Any]) -> None:
    results["instances"] = await instance_creation(config.instance_rounds)


async def _scale(config: Config, data_dir: Path, results: dict[str, Any]) -> None:
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


async def _deadlines(config: Config, data_dir: Path, results: dict[str, Any]) -> None:
    async with time_skipping_server() as env:
        results["deadlines"] = await deadlines(env, data_dir / "deadlines", config.deadlines)


Part = Callable[[Config, Path, dict[str, Any]], Awaitable[None]]
GROUPS: list[tuple[str, tuple[str, ...], Part]] = [
    ("dev", DEV_PARTS, _dev_parts),
    ("replay", ("replay",), _replay),
    ("instances", ("instances",), _instances),
    ("scale", ("scale",), _scale),
    ("deadlines", ("deadlines",), _deadlines),
]
"""Parts in the order they run, grouped by the server they share; the machine's load is noted per group."""


async def run(config: Config, data_dir: Path) -> dict[str, Any]:
    """Run the chosen parts; every result is a dict of plain numbers (and the ratios)."""
    results: dict[str, Any] = {"config": asdict(config), "started": datetime.now(UTC).isoformat()}
    results["load"] = {}
    whole = Load()
    for group, parts, part in GROUPS:
        if set(parts) & set(config.parts):
            load = Load()
            await part(config, data_dir, results)
            results["load"][group] = load.report()
    results["load"]["all"] = whole.report()
    results["total_s"] = results["load"]["all"]["wall_s"]
    results["summary"] = summary(results)
    return results


def summary(results: dict[str, Any]) -> dict[str, float]:
    """Issue #12's measures, one number each, from the parts that ran (all of them: every key)."""
    out: dict[str, float] = {}
    if "throughput" in results:
        t = results["throughput"]
        out["events_per_s_ratio"] = t["events_per_s_ratio"]
        out["update_p50_ratio"] = t["p50_latency_ratio"]
        out["update_p95_ratio"] = t["p95_latency_ratio"]
    if "settled" in results:
        s = results["settled"]
        out["onboarding_events_settled"] = s["onboarding"]["events"]["median"]
        out["parcel_released_at_once_events"] = s["hold_released_at_once"]["events"]["median"]
        # The worse of the two outcomes measured: a parcel released at once, one on clearance.
        out["seller_events_per_parcel"] = max(
            s["hold_released_at_once"]["seller_events"]["median"],
            s["hold_released_on_clearance"]["seller_events"]["median"],
        )
    if "deadlines" in results:
        out["deadlines_vs_timers_ratio"] = results["deadlines"]["ratio"]
    if "replay" in results:
        r = results["replay"]
        out["replay_per_event_ratio"] = r["per_event_ratio"]
        out["replay_at_threshold_seconds"] = r["replay_at_threshold_s"]
        out["workflow_task_timeout_seconds"] = r["workflow_task_timeout_s"]
    if "instances" in results:
        out["instance_creation_ratio"] = results["instances"]["seller_ratio"]
    return out


# --- the report -------------------------------------------------------------------------------


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _range(spread: dict[str, float]) -> str:
    """A median with its range, when the samples differ."""
    if spread["min"] == spread["max"]:
        return f"{spread['median']:g}"
    return f"{spread['median']:g} ({spread['min']:g}–{spread['max']:g})"


def _md_summary(results: dict[str, Any]) -> list[str]:
    s = results["summary"]
    targets = [
        ("onboarding history events/s vs trivial", "events_per_s_ratio", "≥ 0.8 ×"),
        ("`apply_event` p50 vs trivial update", "update_p50_ratio", "≤ 1.5 ×"),
        ("`apply_event` p95 vs trivial update", "update_p95_ratio", "≤ 1.5 ×"),
        ("full onboarding, settled one by one (events)", "onboarding_events_settled", "≤ 85"),
        ("parcel released at once (events)", "parcel_released_at_once_events", "≤ 18"),
        ("events a parcel adds to its seller's history", "seller_events_per_parcel", "≤ 6"),
        ("deadlines to disposal vs timers", "deadlines_vs_timers_ratio", "≤ 2 ×"),
        ("replay per event vs trivial", "replay_per_event_ratio", "≤ 1.5 ×"),
        ("sandboxed seller instance creation vs trivial", "instance_creation_ratio", "≤ 2 ×"),
        ("replay at the continue-as-new threshold (s)", "replay_at_threshold_seconds", "< ½ task timeout"),
    ]
    lines = ["### Issue #12: summary", "", _row("measure", "now", "target"), _row("---", "---", "---")]
    lines += [_row(label, s[key], target) for label, key, target in targets if key in s]
    if "workflow_task_timeout_seconds" in s:
        lines.append(_row("workflow task timeout (s)", s["workflow_task_timeout_seconds"], ""))
    return [*lines, ""]


def _md_throughput(r: dict[str, Any]) -> list[str]:
    t, o = r["trivial"], r["onboarding"]
    return [
        f"### (a) Throughput: {r['n']} workflows × {r['updates_per_workflow']} updates, "
        f"concurrency {r['concurrency']}",
        "",
        _row("", "trivial", "SellerOnboarding", "ratio", "target"),
        _row("---", "---", "---", "---", "---"),
        _row("wall time (s)", t["wall_s"], o["wall_s"], "", ""),
        _row("history events / workflow", t["events_per_workflow"], o["events_per_workflow"], "", ""),
        _row("history events / s", t["events_per_s"], o["events_per_s"], r["events_per_s_ratio"], "≥ 0.8"),
        _row("updates / s", t["updates_per_s"], o["updates_per_s"], r["updates_per_s_ratio"], ""),
        _row("update p50 (ms)", t["update_p50_ms"], o["update_p50_ms"], r["p50_latency_ratio"], "≤ 1.5"),
        _row("update p95 (ms)", t["update_p95_ms"], o["update_p95_ms"], r["p95_latency_ratio"], "≤ 1.5"),
        _row("workflow task p95 / max (s)", _tasks(t), _tasks(o), "", "< 10 (timeout)"),
        _row(
            "workflow tasks timed out",
            t.get("workflow_task_timeouts"),
            o.get("workflow_task_timeouts"),
            "",
            "0",
        ),
        "",
    ]


def _tasks(phase: dict[str, Any]) -> str:
    return f"{phase.get('workflow_task_p95_s')} / {phase.get('workflow_task_max_s')}"


def _md_cost(cost: dict[str, Any]) -> list[str]:
    lines = [
        "### (b) History cost (events sent back to back)",
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
    for name, c in cost.items():
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
    kinds = sorted({k for c in cost.values() for k in c["by_kind"]})
    names = list(cost)
    lines += [_row("event kind", *names), _row("---", *["---"] * len(names))]
    lines += [_row(k, *[cost[n]["by_kind"].get(k, "") for n in names]) for k in kinds]
    return [*lines, ""]


def _md_settled(s: dict[str, Any]) -> list[str]:
    o, now, clear = s["onboarding"], s["hold_released_at_once"], s["hold_released_on_clearance"]
    return [
        f"### (b) Settled one by one: {s['repeats']} sellers, each event sent once the previous has settled",
        "",
        _row("measure", "median (range)"),
        _row("---", "---"),
        _row("full onboarding: history events", _range(o["events"])),
        _row("… workflow tasks", _range(o["workflow_tasks"])),
        _row(
            "… timers started / cancelled", f"{_range(o['timers_started'])} / {_range(o['timers_canceled'])}"
        ),
        _row(
            "… activities / search-attribute upserts", f"{_range(o['activities'])} / {_range(o['upserts'])}"
        ),
        _row(
            "… events added by each event",
            " ".join(str(g) for g in s["onboarding_samples"][0]["growth_by_event"]),
        ),
        _row("trivial workflow, same updates: history events", _range(s["trivial_events"])),
        _row("parcel released at once: its history events", _range(now["events"])),
        _row("… events it adds to its seller's history", _range(now["seller_events"])),
        _row("parcel released on clearance: events it adds to its seller's", _range(clear["seller_events"])),
        _row(
            "… of which its arrival / its outcome", f"{_range(clear['arrival'])} / {_range(clear['outcome'])}"
        ),
        _row("… the whole journey beyond its twin's", _range(clear["journey_beyond_twin"])),
        _row(
            "settled update p50 / p95 (ms): onboarding vs trivial",
            f"{s['update_p50_ms']} vs {s['trivial_update_p50_ms']} ({s['update_p50_ratio']} ×) / "
            f"{s['update_p95_ms']} vs {s['trivial_update_p95_ms']} ({s['update_p95_ratio']} ×)",
        ),
        "",
    ]


def _md_attribution(a: dict[str, Any]) -> list[str]:
    lines = [
        f"### (e) Where an event's cost goes: the burst of (a), {a['n']} sellers, parts switched off "
        f"(medians of {a['rounds']} rounds)",
        "",
        _row(
            "variant",
            "events / seller",
            "events/s ratio",
            "p50 / p95 ratio",
            "CPU ms per update: this process (trivial)",
            "server (trivial)",
        ),
        _row("---", "---", "---", "---", "---", "---"),
    ]
    for name, v in a["variants"].items():
        lines.append(
            _row(
                name,
                v["events_per_workflow"],
                v["events_per_s_ratio"],
                f"{v['p50_latency_ratio']} / {v['p95_latency_ratio']}",
                f"{v['process_cpu_ms']} ({v['trivial_process_cpu_ms']})",
                f"{v['server_cpu_ms']} ({v['trivial_server_cpu_ms']})",
            )
        )
    return [*lines, ""]


def _md_replay(r: dict[str, Any]) -> list[str]:
    s, t = r["seller"], r["trivial"]
    how = "extrapolated linearly from the run measured" if r["threshold_extrapolated"] else "measured"
    return [
        f"### (d) Replay: a seller's run of {s['events']} events vs a trivial workflow's of {t['events']}",
        "",
        _row("", "trivial", "SellerOnboarding", "ratio", "target"),
        _row("---", "---", "---", "---", "---"),
        _row("updates in the run", t["updates"], s["updates"], "", ""),
        _row("history (MiB)", t["history_mib"], s["history_mib"], "", ""),
        _row("replays (s)", " / ".join(map(str, t["replay_s"])), " / ".join(map(str, s["replay_s"])), "", ""),
        _row(
            "replay per history event (ms)",
            r["trivial_per_event_ms"],
            r["seller_per_event_ms"],
            r["per_event_ratio"],
            "≤ 1.5",
        ),
        _row("replay per update (ms)", r["trivial_per_update_ms"], r["seller_per_update_ms"], "", ""),
        _row(
            f"replay at the threshold, {r['threshold_events']} events (s), {how}",
            "",
            r["replay_at_threshold_s"],
            "",
            f"< {r['workflow_task_timeout_s'] / 2:g}",
        ),
        "",
    ]


def _md_instances(i: dict[str, Any]) -> list[str]:
    m, x = i["median_ms"], i["max_ms"]
    return [
        f"### (d) Sandboxed instance creation: {i['rounds']} of each",
        "",
        _row("", "BenchTrivial", "SellerOnboarding", "ReturnHold", "target"),
        _row("---", "---", "---", "---", "---"),
        _row("median (ms)", m["trivial"], m["seller"], m["parcel"], ""),
        _row("max (ms)", x["trivial"], x["seller"], x["parcel"], ""),
        _row("ratio to trivial", 1, i["seller_ratio"], i["parcel_ratio"], "≤ 2 (seller)"),
        "",
        f"Workflow modules' bytecode cached: {'yes' if i['bytecode_cached'] else 'no'} "
        f"(PYTHONDONTWRITEBYTECODE {'set' if i['dont_write_bytecode'] else 'unset'}).",
        "",
    ]


def _md_scale(s: dict[str, Any]) -> list[str]:
    return [
        f"### (c) {s['open_onboardings']} open onboardings + {s['open_holds']} open holds on one worker "
        f"(max_cached_workflows {s['max_cached_workflows']})",
        "",
        _row("measure", "value"),
        _row("---", "---"),
        _row("onboarding starts / s", s["onboarding_starts_per_s"]),
        _row("hold starts / s", s["hold_starts_per_s"]),
        _row("all started after (s)", s["all_started_after_s"]),
        _row("settled (first message sent)", f"{s['settled']} of {s['open_onboardings'] + s['open_holds']}"),
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


def _md_deadlines(d: dict[str, Any]) -> list[str]:
    return [
        f"### (c) {d['n']} hold deadlines under time skipping ({d['sellers']} sellers)",
        "",
        _row("", "BenchTimer", "ReturnHold", "ratio", "target"),
        _row("---", "---", "---", "---", "---"),
        _row("wall time (s)", d["timers_s"], d["holds_s"], d["ratio"], "≤ 2"),
        _row("per second", d["timers_per_s"], d["holds_per_s"], "", ""),
        _row("outcomes", "", ", ".join(f"{k}: {v}" for k, v in d["outcomes"].items()), "", ""),
        "",
    ]


SECTIONS: dict[str, Callable[[Any], list[str]]] = {
    "throughput": _md_throughput,
    "cost": _md_cost,
    "settled": _md_settled,
    "attribution": _md_attribution,
    "replay": _md_replay,
    "instances": _md_instances,
    "scale": _md_scale,
    "deadlines": _md_deadlines,
}


def _md_load(load: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "### The machine's load while each part ran (cores busy on average)",
        "",
        _row("parts", "wall (s)", "busy", "this run", "others", "load average (1 min): start → end"),
        _row("---", "---", "---", "---", "---", "---"),
    ]
    for group, x in load.items():
        lines.append(
            _row(
                group,
                x["wall_s"],
                f"{x['busy_cores']} of {x['cores']:g}",
                x["own_cores"],
                x["others_cores"],
                f"{x['loadavg_1min_start']} → {x['loadavg_1min_end']}",
            )
        )
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    lines = _md_summary(results) if results.get("summary") else []
    for part, section in SECTIONS.items():
        if part in results:
            lines += section(results[part])
    if results.get("load"):
        lines += _md_load(results["load"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="30 sellers, 3 settled, 500 open of each, 200 deadlines"
    )
    parser.add_argument("--sellers", type=int, help="(a) sellers driven through the journey (200)")
    parser.add_argument("--concurrency", type=int, help="(a) workflows driven at once (all of them)")
    parser.add_argument(
        "--open", type=int, dest="open_workflows", help="(c) open onboardings and holds, each (10,000)"
    )
    parser.add_argument("--deadlines", type=int, help="(c) holds run to their deadline (1,000)")
    parser.add_argument(
        "--settled-repeats", type=int, help="(b) sellers driven event by event, settled (5; --quick 3)"
    )
    parser.add_argument(
        "--replay-events",
        type=int,
        help="(d) length of the seller's run to replay (the CONTINUE_AS_NEW_AFTER_EVENTS setting)",
    )
    parser.add_argument("--replay-repeats", type=int, help="(d) replays of each history (3; --quick 2)")
    parser.add_argument("--instance-rounds", type=int, help="(d) instances created of each workflow (200)")
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
    for field in (
        "sellers",
        "concurrency",
        "settled_repeats",
        "replay_events",
        "replay_repeats",
        "instance_rounds",
        "open_workflows",
        "deadlines",
        "scale_budget_s",
        "cache",
    ):
        if getattr(args, field) is not None:
            setattr(config, field, getattr(args, field))
    config.scale_holds = not args.no_holds
    config.parts = tuple(p for p in args.parts.split(",") if p)
    unknown = set(config.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")

    configure_logging(Settings(log_level="WARNING"))
    # As deployed (the image and `make` compile them): a sandboxed instance re-imports the
    # workflow modules, and without bytecode each instance would compile them again.
    root = Path(__file__).resolve().parents[1]
    for package in ("domain", "workflows", "activities", "gateway", "config"):
        compileall.compile_dir(str(root / package), quiet=1)
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
