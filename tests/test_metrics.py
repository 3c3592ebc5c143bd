"""The service's own metrics reach Prometheus beside the SDK's."""

import socket
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from gateway.connection import runtime_for
from testing.journeys import FULL_JOURNEY
from testing.probes import send, wait_for
from testing.stack import Stack, make_settings, new_id
from worker import build_worker


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_workflow_metrics_are_exported(dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = make_settings(tmp_path, metrics_bind_address=address)
    runtime = runtime_for(settings)
    assert runtime is not None
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
    async with build_worker(client, settings):
        stack = Stack(client, settings)
        handle = await stack.sign_up(new_id("s"))
        for event in FULL_JOURNEY:
            await send(handle, event)

        async def exported() -> bool:
            async with httpx.AsyncClient() as http:
                text = (await http.get(f"http://{address}/metrics")).text
            return "carm_sellers_cleared" in text and 'event="carm_registered"' in text

        await wait_for(exported, 15)
        await stack.stop_everything()
