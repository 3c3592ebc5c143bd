"""Reaching Temporal as the ``temporal`` CLI does: TLS and mTLS through nginx, API keys, profiles.

One nginx for the module, in front of the session's dev server, with a TLS and an mTLS endpoint;
its certificates are made here. Worker, API and command line each connect through it with the
settings an operator would give them (environment variables, or a profile of the CLI's TOML file).
"""

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from gateway.connection import connect, connect_config
from starter.api import create_app
from starter.cli.run import run
from testing.stack import make_settings, running
from testing.tls import PKI, Proxy, grpc_proxy, make_pki
from tests.api.helpers import API_TOKENS, AUTH, SECRET, TOKEN
from tests.conftest import new_id

pytestmark = pytest.mark.devserver


@pytest.fixture(autouse=True)
def no_temporal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: the shell's ``TEMPORAL_*`` would change what is being checked."""
    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def proxy(dev_env: WorkflowEnvironment, pki: PKI) -> Iterator[Proxy]:
    with grpc_proxy(dev_env.client.service_client.config.target_host, pki) as endpoints:
        yield endpoints


def test_the_connection_is_read_like_the_temporal_cli_reads_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert connect_config(Settings()) == {"target_host": "localhost:7233", "namespace": "default"}
    monkeypatch.setenv("TEMPORAL_API_KEY", "k-123")
    config = connect_config(Settings())
    assert (config["api_key"], config["tls"]) == ("k-123", True)  # an API key means TLS
    monkeypatch.setenv("TEMPORAL_TLS", "false")
    assert connect_config(Settings())["tls"] is False
    monkeypatch.delenv("TEMPORAL_TLS")
    monkeypatch.delenv("TEMPORAL_API_KEY")
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(
        '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "carm.a1b2c"\napi_key = "p"\n'
    )
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(profiles))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    config = connect_config(Settings())
    assert (config["target_host"], config["namespace"], config["api_key"]) == (
        "prod.example:7233",
        "carm.a1b2c",
        "p",
    )
    # A variable overrides the profile field by field, as for the CLI; settings given in code win.
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "other")
    assert connect_config(Settings())["namespace"] == "other"
    assert connect_config(Settings(temporal_address="here:1"))["target_host"] == "here:1"


def tls_settings(tmp_path: Path, address: str, pki: PKI, env: WorkflowEnvironment, **more: Any) -> Settings:
    return make_settings(
        tmp_path / "data",
        temporal_address=address,
        temporal_namespace=env.client.namespace,
        temporal_tls_server_ca_cert_path=str(pki.ca_cert),
        **more,
    )


async def test_worker_and_api_work_through_tls(
    dev_env: WorkflowEnvironment, proxy: Proxy, pki: PKI, tmp_path: Path
) -> None:
    settings = tls_settings(tmp_path, proxy.tls, pki, dev_env)
    # Plaintext to a TLS endpoint, or TLS that trusts only the system's roots, does not connect.
    with pytest.raises(RuntimeError):
        await connect(settings.model_copy(update={"temporal_tls_server_ca_cert_path": None}))
    client = await connect(settings)
    async with running(client, settings) as stack:
        app = create_app(settings.model_copy(update={"api_token": TOKEN, "broker_webhook_secret": SECRET}))
        async with app.router.lifespan_context(app):  # the API connects by itself, over TLS
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api.test", headers=AUTH
            ) as http:
                assert (await http.get("/healthz")).json() == {"status": "ok", "temporal": "reachable"}
                seller = new_id("s")
                r = await http.post("/v1/sellers", json={"seller_id": seller, "email": "owner@example.com"})
                assert r.status_code == 201, r.text
                stack.started.append(client.get_workflow_handle(f"seller-onboarding-{seller}"))
                async with asyncio.timeout(20):  # the worker, over TLS too, runs its first task
                    while (await http.get(f"/v1/sellers/{seller}")).json()["waiting_since"] is None:
                        await asyncio.sleep(0.1)


async def test_mtls_needs_the_client_certificate_and_serves_with_it(
    dev_env: WorkflowEnvironment, proxy: Proxy, pki: PKI, tmp_path: Path
) -> None:
    without = tls_settings(tmp_path, proxy.mtls, pki, dev_env)
    with pytest.raises(RuntimeError, match="client certificate required"):
        await connect(without)
    settings = without.model_copy(
        update={
            "temporal_tls_client_cert_path": str(pki.client_cert),
            "temporal_tls_client_key_path": str(pki.client_key),
        }
    )
    client = await connect(settings)
    async with running(client, settings) as stack:  # the worker polls through mTLS
        seller = new_id("s")
        await stack.sign_up(seller)
        event = {"type": "business_number_provided", "business_number": "123456782"}
        status = await asyncio.wait_for(stack.send(seller, event), 20)
        assert status.stage == "importer_account"


async def test_the_command_line_connects_with_a_profile_of_the_cli_file(
    dev_env: WorkflowEnvironment, proxy: Proxy, pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = tmp_path / "temporal.toml"
    profiles.write_text(
        "[profile.prod]\n"
        f'address = "{proxy.mtls}"\n'
        f'namespace = "{dev_env.client.namespace}"\n'
        "[profile.prod.tls]\n"
        f'server_ca_cert_path = "{pki.ca_cert}"\n'
        f'client_cert_path = "{pki.client_cert}"\n'
        f'client_key_path = "{pki.client_key}"\n'
    )
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(profiles))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    settings = Settings(data_dir=tmp_path / "data", api_token=TOKEN, api_tokens=API_TOKENS)
    unknown = new_id("s")
    out, err = io.StringIO(), io.StringIO()
    code = await run(["status", unknown], settings=settings, out=out, err=err)
    # Connected through mTLS: Temporal itself said there is no such seller.
    assert code == 4, err.getvalue()
    assert unknown in err.getvalue()
