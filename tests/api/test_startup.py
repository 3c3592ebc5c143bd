"""Starting the API: it refuses to run without its secrets; ``python -m starter.api`` serves.

One test runs ``python -m starter.api`` itself against the session's dev server.
"""

import asyncio
import contextlib
import os
import sys
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from starter.api import ApiConfigError, create_app
from tests.api.helpers import AUTH, ROOT, SECRET, TOKEN, free_port
from tests.conftest import new_id


@pytest.mark.parametrize(
    ("update", "missing"),
    [
        ({"api_token": None}, "API_TOKEN or API_TOKENS"),
        ({"broker_webhook_secret": None}, "BROKER_WEBHOOK_SECRET"),
        ({"api_token": "", "broker_webhook_secret": ""}, "API_TOKEN or API_TOKENS and BROKER_WEBHOOK_SECRET"),
        (
            {"broker_webhook_secret": "an-hmac-key"},
            "BROKER_WEBHOOK_SECRET entry 1 does not start with whsec_",
        ),
        ({"api_tokens": SecretStr("shop:signup")}, "API_TOKENS entry 1 is not name:role:token"),
        ({"api_tokens": SecretStr("shop:admin:t0ken")}, "unknown role 'admin'"),
        ({"api_tokens": SecretStr("shop:signup:x,dock:warehouse:x")}, r"entry 2 \(dock\) repeats"),
        # Without API_TOKEN, checklist links have no key to derive theirs from.
        ({"api_token": None, "api_tokens": SecretStr("shop:signup:t0ken")}, "set CHECKLIST_LINK_SECRET"),
    ],
)
def test_the_api_refuses_to_be_built_without_its_secrets(update: dict[str, Any], missing: str) -> None:
    settings = Settings(api_token="t", broker_webhook_secret=SECRET).model_copy(update=update)
    with pytest.raises(ApiConfigError, match=missing):
        create_app(settings)


def test_role_tokens_alone_with_a_link_secret_make_an_api() -> None:
    settings = Settings(
        api_tokens=SecretStr("shop:signup:t0ken"), broker_webhook_secret=SECRET, checklist_link_secret="k"
    )
    assert create_app(settings).state.secrets.tokens.caller("t0ken").name == "shop"


async def test_python_m_starter_api_refuses_to_start_without_secrets() -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "API_TOKENS", "BROKER_WEBHOOK_SECRET")
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter.api",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert "API_TOKEN or API_TOKENS and BROKER_WEBHOOK_SECRET" in err.decode()


async def test_python_m_starter_api_serves_against_the_dev_server(dev_env: WorkflowEnvironment) -> None:
    port = free_port()
    env = {
        **os.environ,
        "API_TOKEN": TOKEN,
        "BROKER_WEBHOOK_SECRET": SECRET,
        "API_PORT": str(port),
        "API_HOST": "127.0.0.1",
        "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_env.client.namespace,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "starter.api",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async with asyncio.timeout(30):
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        health = await http.get("/healthz")
                        if health.status_code == 200:
                            break
                    await asyncio.sleep(0.2)
            assert health.json() == {"status": "ok", "temporal": "reachable"}
            unknown = await http.get(f"/v1/sellers/{new_id('nobody')}", headers=AUTH)
            assert unknown.status_code == 404
            assert (await http.get("/v1/sellers/x")).status_code == 401
    finally:
        proc.terminate()
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
        assert await asyncio.wait_for(proc.wait(), timeout=30) in (0, -15)
