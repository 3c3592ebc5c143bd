"""Chaos, short version: the worker killed with SIGKILL three times and the server restarted once.

50 sellers go through their whole journey and 50 parcels arrive (45 of those sellers, 9 of them
forwarded at the seller's request; 5 of sellers who never sign up, their 30-second recheck timers
pending while the server is down). Notifications go to a real SMTP server and broker and
warehouse requests to a real HTTP server, both counting every delivery by idempotency key.
Nothing may be lost and nothing carried out twice. The long version is ``scripts/chaos.py``.
"""

from pathlib import Path

import pytest

from activities.adapters.ledger import STALE_CLAIM
from bench.chaos import ChaosConfig, run_chaos, summary

pytestmark = pytest.mark.devserver

SHORT = ChaosConfig(
    onboardings=50,
    holds=50,
    unknown_share=0.1,
    spread_s=10.0,
    worker_kills=3,
    server_restarts=1,
    server_down_s=6.0,
    # Late enough that the unknown sellers' parcels, arriving at the start, have their 30 s
    # rechecks come due while the server is down.
    server_stop_at_s=27.0,
    # A kill that cuts an SMTP send leaves its key claimed: the message can go again only once the
    # claim is stale, and its retry is timed to that (docs/reliability.md).
    drain_timeout_s=STALE_CLAIM.total_seconds() + 60,
    seed=5,
)


async def test_nothing_lost_and_nothing_delivered_twice_through_kills_and_a_server_restart(
    tmp_path: Path,
) -> None:
    report = await run_chaos(SHORT, tmp_path)
    print(summary(report))  # shown with -s or on failure: the numbers docs/reliability.md quotes
    assert report.errors == []
    assert report.lost == []
    assert report.missing_deliveries == []
    assert report.duplicated == []
    assert report.worker_restarts == SHORT.worker_kills
    assert [o["what"] for o in report.outages].count("server stop") == SHORT.server_restarts
    # Every expected delivery arrived exactly once as far as the receiving ends acted on it.
    assert report.sinks["handoffs"]["keys"] == SHORT.onboardings
    assert report.sinks["instructions"]["keys"] == report.workflows["holds_known_seller"]
    assert report.timers["fired"] >= report.workflows["holds_unknown_seller"]
