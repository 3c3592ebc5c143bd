"""Every committed history of every released workflow version replays against today's code.

A change that would make a running seller's or parcel's workflow non-deterministic fails here
(see docs/versioning.md). Histories are recorded with ``python -m scripts.record_histories VERSION``.
"""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*/*.json"))


def test_there_are_histories_for_both_workflows() -> None:
    kinds = set()
    for path in HISTORIES:
        started = json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
        kinds.add(started["workflowType"]["name"])
    assert kinds == {"SellerOnboarding", "ReturnHold"}


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=WORKFLOWS, workflow_runner=workflow_runner(), data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
