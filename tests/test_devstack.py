"""The dev stack: search attributes and retention on a real dev server, and the script end to end."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from scripts.devstack import (
    BANNER_TITLE,
    DEV_SECRETS,
    SEARCH_ATTRIBUTES,
    SearchAttributeConflict,
    custom_search_attributes,
    dev_secrets,
    ensure_search_attributes,
    find_temporal_cli,
    set_retention,
)
from starter.api import create_app

pytestmark = pytest.mark.devserver

ROOT = Path(__file__).resolve().parent.parent
THIRTY_DAYS = timedelta(days=30)
CONTRACT = {  # the contract's table, spelled out here so that a drift in the code is noticed
    "SellerId": SearchAttributeIndexedValueType.KEYWORD,
    "OnboardingStage": SearchAttributeIndexedValueType.KEYWORD,
    "ClearedForReturns": SearchAttributeIndexedValueType.BOOL,
    "WaitingOn": SearchAttributeIndexedValueType.KEYWORD_LIST,
    "Stalled": SearchAttributeIndexedValueType.BOOL,
    "ReturnState": SearchAttributeIndexedValueType.KEYWORD,
    "DisposalDueAt": SearchAttributeIndexedValueType.DATETIME,
}
STARTUP_SECONDS = 60.0
STOP_SECONDS = 30.0


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    # No search attributes at start: registering them is what is under test.
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_temporal_cli(),
        dev_server_startup_timeout=timedelta(seconds=STARTUP_SECONDS),
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def retention(client: Client, namespace: str) -> timedelta:
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def test_the_contract_search_attributes_are_registered_with_their_types(
    dev_server: WorkflowEnvironment,
) -> None:
    client = dev_server.client
    assert not set(CONTRACT) & set(await custom_search_attributes(client, "default"))

    added = await ensure_search_attributes(client, "default")

    assert SEARCH_ATTRIBUTES == CONTRACT
    assert added == sorted(CONTRACT)
    assert await custom_search_attributes(client, "default") == {
        name: int(kind) for name, kind in CONTRACT.items()
    }


async def test_ensuring_search_attributes_again_changes_nothing(dev_server: WorkflowEnvironment) -> None:
    client = dev_server.client
    await ensure_search_attributes(client, "default")

    assert await ensure_search_attributes(client, "default") == []
    assert await ensure_search_attributes(client, "default") == []
    attributes = await custom_search_attributes(client, "default")
    assert {name: attributes[name] for name in CONTRACT} == {
        name: int(kind) for name, kind in CONTRACT.items()
    }


async def test_retention_is_set_to_thirty_days_and_keeps_the_search_attributes(
    dev_server: WorkflowEnvironment,
) -> None:
    client = dev_server.client
    await ensure_search_attributes(client, "default")
    assert await retention(client, "default") != THIRTY_DAYS  # the dev server's own default

    await set_retention(client, "default", 30)
    await set_retention(client, "default", 30)

    assert await retention(client, "default") == THIRTY_DAYS
    assert set(CONTRACT) <= set(await custom_search_attributes(client, "default"))


async def test_a_search_attribute_of_another_type_is_reported_not_ignored(
    dev_server: WorkflowEnvironment,
) -> None:
    client = dev_server.client
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace="devstack-conflict", workflow_execution_retention_period=Duration(seconds=86_400)
        )
    )
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="devstack-conflict",
            search_attributes={"Stalled": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )

    with pytest.raises(SearchAttributeConflict, match="Stalled is Keyword, the contract needs Bool"):
        await ensure_search_attributes(client, "devstack-conflict")


# --- development secrets -----------------------------------------------------------------------


def test_dev_secrets_make_an_api_with_a_token_per_role_and_a_standard_webhooks_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in DEV_SECRETS:
        monkeypatch.delenv(name, raising=False)
    # A data folder from before: its plain HMAC key is replaced, its token kept.
    (tmp_path / "dev-secrets.env").write_text("API_TOKEN=kept-token\nBROKER_WEBHOOK_SECRET=plain-hmac-key\n")
    made = dev_secrets(tmp_path)
    assert made["API_TOKEN"] == "kept-token"
    assert made["BROKER_WEBHOOK_SECRET"].startswith("whsec_")
    assert dev_secrets(tmp_path) == made  # kept across runs
    app = create_app(
        Settings(
            api_token=made["API_TOKEN"],
            api_tokens=made["API_TOKENS"],
            broker_webhook_secret=made["BROKER_WEBHOOK_SECRET"],
        )
    )
    tokens = app.state.secrets.tokens
    for entry in made["API_TOKENS"].split(","):
        name, role, token = entry.split(":")
        assert tokens.caller(token).name == name and {r.value for r in tokens.caller(token).roles} == {role}
    assert stat.S_IMODE((tmp_path / "dev-secrets.env").stat().st_mode) == 0o600


# --- the script itself ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Devstack:
    """``python -m scripts.devstack`` as a subprocess, its stdout and stderr read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []

    @classmethod
    async def start(cls, **env: str) -> Devstack:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("TEMPORAL_")}
        environment |= {"DEVSTACK_SERVER_ONLY": "1", "PYTHONUNBUFFERED": "1", **env}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scripts.devstack",
            cwd=ROOT,
            env=environment,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process)

    @property
    def text(self) -> str:
        return "".join(self.output)

    async def wait_for(self, pattern: str, within: float = STARTUP_SECONDS) -> re.Match[str]:
        async def read() -> re.Match[str]:
            assert self.process.stdout is not None
            while line := (await self.process.stdout.readline()).decode():
                self.output.append(line)
                if match := re.search(pattern, line):
                    return match
            raise AssertionError(f"devstack ended without printing {pattern!r}:\n{self.text}")

        try:
            return await asyncio.wait_for(read(), within)
        except TimeoutError:
            raise AssertionError(f"no {pattern!r} from devstack within {within}s:\n{self.text}") from None

    async def finish(self, within: float = STOP_SECONDS) -> int:
        """Waits for the exit (reading the rest of the output) and returns the exit status."""
        assert self.process.stdout is not None
        try:
            rest = await asyncio.wait_for(self.process.stdout.read(), within)
            self.output.append(rest.decode())
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            raise AssertionError(f"devstack did not exit within {within}s:\n{self.text}") from None

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()  # its children die with it (parent-death signal)
            await self.process.wait()


async def http_status(url: str, within: float = 15.0) -> int:
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as http:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            try:
                return (await http.get(url)).status_code
            except httpx.TransportError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(0.25)


async def test_the_script_runs_the_server_until_interrupted(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    data = tmp_path / "data"
    stack = await Devstack.start(
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}", TEMPORAL_UI_PORT=str(ui_port), DATA_DIR=str(data)
    )
    try:
        await stack.wait_for(re.escape(BANNER_TITLE))
        await stack.wait_for(r"^=+$", within=5)
        assert f"http://localhost:{ui_port}/namespaces/default/workflows" in stack.text
        assert f"127.0.0.1:{port}" in stack.text
        assert str(data / "outbox") in stack.text
        assert "carm sign-up SELLER_ID EMAIL" in stack.text
        assert await http_status(f"http://127.0.0.1:{ui_port}/") == 200

        client = await Client.connect(f"127.0.0.1:{port}")
        assert await retention(client, "default") == THIRTY_DAYS
        assert set(CONTRACT) <= set(await custom_search_attributes(client, "default"))

        stack.process.send_signal(signal.SIGINT)
        assert await stack.finish() == 0, stack.text
    finally:
        await stack.kill()

    assert (data / "temporal.sqlite").is_file()
    assert (data / "temporal-server.log").is_file()
    with socket.socket() as sock:  # the server is gone with the script
        assert sock.connect_ex(("127.0.0.1", port)) != 0


async def test_the_script_stops_with_an_error_when_the_server_dies(tmp_path: Path) -> None:
    stack = await Devstack.start(
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        TEMPORAL_UI_PORT=str(free_port()),
        DATA_DIR=str(tmp_path),
    )
    try:
        server_pid = int((await stack.wait_for(r"started temporal server \(pid (\d+)\)")).group(1))
        await stack.wait_for(re.escape(BANNER_TITLE))

        os.kill(server_pid, signal.SIGKILL)

        assert await stack.finish() == 1, stack.text
        assert "temporal server exited with code" in stack.text
    finally:
        await stack.kill()


async def test_the_script_reuses_a_server_that_is_already_running(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    address = dev_server.client.service_client.config.target_host
    stack = await Devstack.start(
        TEMPORAL_ADDRESS=address, TEMPORAL_NAMESPACE="devstack-reused", DATA_DIR=str(tmp_path)
    )
    try:
        await stack.wait_for(re.escape(BANNER_TITLE))
        assert "reusing it" in stack.text
        assert "started temporal server" not in stack.text

        stack.process.send_signal(signal.SIGTERM)
        assert await stack.finish() == 0, stack.text
    finally:
        await stack.kill()

    client = dev_server.client  # still answering: the script left it alone
    assert await retention(client, "devstack-reused") == THIRTY_DAYS
    assert await ensure_search_attributes(client, "devstack-reused") == []
    assert not (tmp_path / "temporal.sqlite").exists()
