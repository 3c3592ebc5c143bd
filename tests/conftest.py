"""Real servers for the tests: one Temporal server of each kind, and PostgreSQL, per session.

``--workflow-environment`` chooses what the dev-server tests run against, as in sdk-python:
``local`` (default: a fresh dev server), or ``host:port`` of a running server (a cluster on
PostgreSQL, say). Tests of time itself always run on the time-skipping server.
"""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis  # noqa: F401  # loaded early: a late import under a deep stack trips CPython 3.11's AST check
import pytest
from temporalio.testing import WorkflowEnvironment

from testing.postgres import postgres_server
from testing.servers import LOCAL, environment, time_skipping_server
from testing.stack import Outbox, Stack, make_settings, new_id, running

__all__ = ["Outbox", "Stack", "new_id"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--workflow-environment",
        default=LOCAL,
        help="'local' (a fresh dev server) or the host:port of a running Temporal server",
    )


@pytest.fixture(scope="session")
async def dev_env(request: pytest.FixtureRequest) -> AsyncIterator[WorkflowEnvironment]:
    async with environment(request.config.getoption("--workflow-environment")) as env:
        yield env


@pytest.fixture(scope="session")
async def skip_env() -> AsyncIterator[WorkflowEnvironment]:
    async with time_skipping_server() as env:
        yield env


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the session (started by the first test that asks for it)."""
    with postgres_server() as url:
        yield url


@pytest.fixture
async def dev_stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with running(dev_env.client, make_settings(tmp_path / "data")) as stack:
        yield stack


@pytest.fixture(scope="session")
async def skip_stack(
    skip_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    # One worker for the whole session: a workflow left open by an earlier test keeps a worker,
    # so its timers never hold up the time-skipping server (tests filter deliveries by id).
    async with running(skip_env.client, make_settings(tmp_path_factory.mktemp("skip") / "data")) as stack:
        yield stack
