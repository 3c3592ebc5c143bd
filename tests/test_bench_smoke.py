"""The benchmarks' smallest configuration, so the scripts in bench/ keep working.

Only that every part runs and computes its ratios is checked, never a timing: the numbers live in
docs/performance.md, measured with ``python -m bench.run``.
"""

import json
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowHistory

import bench.burst
from bench.burst import Answer, burst, check
from bench.replay_profile import profile_replay
from bench.run import SMOKE, Config, main, markdown, run
from starter.api import create_app
from tests.api.helpers import AUTH, TOKEN, api_settings, serving
from tests.conftest import Stack, new_id

SUMMARY_KEYS = {
    "events_per_s_ratio",
    "update_p50_ratio",
    "update_p95_ratio",
    "onboarding_events_settled",
    "parcel_released_at_once_events",
    "seller_events_per_parcel",
    "deadlines_vs_timers_ratio",
    "replay_per_event_ratio",
    "instance_creation_ratio",
    "replay_at_threshold_seconds",
    "workflow_task_timeout_seconds",
}
"""Issue #12's measures, which ``--json`` writes under ``summary``."""

pytestmark = [pytest.mark.devserver, pytest.mark.timeskipping]


async def test_every_part_runs_and_computes_positive_ratios(tmp_path: Path) -> None:
    results = await run(SMOKE, tmp_path)

    throughput = results["throughput"]
    for ratio in ("events_per_s_ratio", "updates_per_s_ratio", "p50_latency_ratio", "p95_latency_ratio"):
        assert throughput[ratio] > 0, ratio
    assert throughput["onboarding"]["updates"] == SMOKE.sellers * throughput["updates_per_workflow"]

    cost = results["cost"]
    for scenario in (
        "onboarding_full_journey",
        "hold_released_at_once",
        "hold_forwarded_by_seller",
        "hold_released_on_clearance",
        "hold_disposed_at_deadline",
        "hold_disposed_unknown_seller",
    ):
        assert cost[scenario]["events"] > 0 and cost[scenario]["billable_actions"] > 0, scenario

    scale = results["scale"]
    assert scale["onboarding_starts_per_s"] > 0 and scale["hold_starts_per_s"] > 0
    assert scale["worker_rss_peak_mib"] > 0

    deadlines = results["deadlines"]
    assert deadlines["ratio"] > 0
    assert deadlines["outcomes"] == {"disposed": SMOKE.deadlines}

    settled = results["settled"]
    assert settled["onboarding"]["events"]["median"] > 0
    assert settled["hold_released_at_once"]["events"]["median"] > 0

    # Each switch takes effect: no notice markers, no upsert events (the sandboxed workflow sees it).
    variants = results["attribution"]["variants"]
    shipped = variants["as shipped"]["events_per_workflow"]
    assert variants["no notices"]["events_per_workflow"] < shipped
    assert variants["no upserts"]["events_per_workflow"] < shipped
    assert variants["neither"]["events_per_workflow"] < min(
        variants["no notices"]["events_per_workflow"], variants["no upserts"]["events_per_workflow"]
    )
    # Regular activities record three events and a workflow task where a local attempt records one.
    assert variants["notices as activities"]["events_per_workflow"] > shipped
    assert all(v["process_cpu_ms"] > 0 for v in variants.values())

    replay = results["replay"]
    assert replay["seller"]["events"] >= SMOKE.replay_events
    assert replay["trivial"]["events"] >= replay["seller"]["events"]

    summary = results["summary"]
    assert set(summary) == SUMMARY_KEYS
    for key, value in summary.items():
        # Numbers only, never checked against a target: they depend on the machine.
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert value > 0, key

    report = markdown(results)
    assert "### (a)" in report and "### (e)" in report and "### Issue #12: summary" in report


def test_command_line_parses_and_writes_its_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Config] = {}

    async def fake_run(config: Config, data_dir: Path) -> dict[str, object]:
        captured["config"] = config
        return {"config": {}}

    monkeypatch.setattr("bench.run.run", fake_run)
    out = tmp_path / "r.json"
    main(
        [
            "--quick",
            "--sellers",
            "4",
            "--parts",
            "throughput",
            "--cache",
            "50",
            "--no-holds",
            "--json",
            str(out),
        ]
    )
    config = captured["config"]
    assert (config.sellers, config.parts, config.cache, config.scale_holds) == (4, ("throughput",), 50, False)
    assert "machine" in json.loads(out.read_text())


async def test_a_burst_against_the_api_gets_only_honest_answers(dev_stack: Stack) -> None:
    app = create_app(api_settings(dev_stack), client=dev_stack.client)
    async with serving(app) as base_url:
        report = await burst(base_url, TOKEN, dev_stack.client, sign_ups=8, events=8)
    assert report.honest, report.text()
    assert sum(report.statuses["sign-up"].values()) == sum(report.statuses["event"].values()) == 8
    assert "504" not in {*report.statuses["sign-up"], *report.statuses["event"]}
    assert "no answer lied" in report.text()


async def test_the_burst_check_finds_an_answer_that_lied(
    dev_stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.burst, "SETTLE_SECONDS", 1.0)
    app = create_app(api_settings(dev_stack), client=dev_stack.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test", headers=AUTH) as http:
        never = new_id("never-signed-up")
        lies, _ = await check(http, dev_stack.client, Answer("sign-up", never, 201, 0.1))
        assert lies == [f"sign-up {never}: 201 but it was not applied"]
        lies, _ = await check(http, dev_stack.client, Answer("event", never, 504, 20.0))
        assert lies == [f"event {never}: 504: an error for a request that was not applied"]
        lies, _ = await check(http, dev_stack.client, Answer("event", never, 503, 1.0))
        assert lies == [f"event {never}: 503 without Retry-After"]


async def test_the_replay_profile_splits_a_committed_history_into_shares() -> None:
    history_file = Path(__file__).parent / "histories" / "release-2" / "onboarding_full_journey.json"
    history = WorkflowHistory.from_json("profiled", history_file.read_text())

    shares = await profile_replay(history)

    assert shares["events"] == len(history.events)
    parts = [shares[k] for k in ("workflow_code", "payload_visits", "rest")]
    assert all(0 <= p <= 1 for p in parts) and sum(parts) == pytest.approx(1, abs=0.01)
    assert 0 < shares["serialization_context"] <= shares["payload_visits"]
    assert "domain/onboarding.py:apply" in shares["largest_own_functions"]
