"""The codec server: Temporal's remote codec protocol, CORS for the Web UI, and who may call it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.api.common.v1 import Payload

from codec.aes import ENCODING, EncryptionCodec
from codec.server import AccessCheck, ConfigError, app_from_settings, create_app
from config.settings import Settings
from scripts.devstack import BANNER_TITLE, StackConfig, StackError, server_command

ROOT = Path(__file__).resolve().parent.parent
KEY = bytes(range(32))
KEYS = f"k1:{base64.b64encode(KEY).decode()}"
UI = "http://localhost:8233"
EMAIL = "secret-owner@example.com"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the defaults, whatever the surrounding shell exports."""
    for name in os.environ:
        if name.startswith(("CODEC_", "PAYLOAD_CODEC")):
            monkeypatch.delenv(name)


def json_payload(value: Any) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def wire(payloads: list[Payload]) -> dict[str, Any]:
    """A Payloads message in protobuf JSON, as the Web UI sends it."""
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def values(body: dict[str, Any]) -> list[Any]:
    """The JSON values inside a protobuf-JSON Payloads body (asserting they are plain JSON)."""
    found = []
    for p in body["payloads"]:
        assert base64.b64decode(p["metadata"]["encoding"]) == b"json/plain"
        found.append(json.loads(base64.b64decode(p["data"])))
    return found


async def encrypted(*items: Any) -> dict[str, Any]:
    return wire(await EncryptionCodec({"k1": KEY}).encode([json_payload(v) for v in items]))


def app(access: AccessCheck | None = None, origins: tuple[str, ...] = (UI,)) -> FastAPI:
    return create_app(EncryptionCodec({"k1": KEY}), namespace="default", cors_origins=origins, access=access)


def http(application: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://codec")


# --- protocol --------------------------------------------------------------------------------


async def test_decode_returns_the_plain_json_payloads() -> None:
    async with http(app()) as client:
        response = await client.post("/decode", json=await encrypted({"email": EMAIL}, 42))
    assert response.status_code == 200
    assert values(response.json()) == [{"email": EMAIL}, 42]


async def test_encode_then_decode_round_trips_and_encode_encrypts() -> None:
    async with http(app()) as client:
        encoded = (await client.post("/encode", json=wire([json_payload({"email": EMAIL})]))).json()
        (first,) = encoded["payloads"]
        assert base64.b64decode(first["metadata"]["encoding"]) == ENCODING
        assert EMAIL.encode() not in base64.b64decode(first["data"])
        decoded = (await client.post("/decode", json=encoded)).json()
    assert values(decoded) == [{"email": EMAIL}]


async def test_only_the_last_path_segment_counts_and_other_paths_are_not_found() -> None:
    async with http(app()) as client:
        body = await encrypted("x")
        assert (await client.post("/default/decode", json=body)).status_code == 200
        assert (await client.post("/codec/default/decode/", json=body)).status_code == 200
        assert (await client.post("/decrypt", json=body)).status_code == 404
        assert (await client.get("/decode")).status_code == 405
        assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_plain_payloads_pass_through_decode() -> None:
    async with http(app()) as client:
        response = await client.post("/decode", json=wire([json_payload("written before the key")]))
    assert values(response.json()) == ["written before the key"]


async def test_the_x_namespace_header_must_name_the_served_namespace() -> None:
    async with http(app()) as client:
        body = await encrypted("x")
        ok = await client.post("/decode", json=body, headers={"X-Namespace": "default"})
        assert ok.status_code == 200
        other = await client.post("/encode", json=body, headers={"X-Namespace": "payments"})
        assert other.status_code == 403 and "serves namespace 'default'" in other.json()["detail"]


async def test_bad_bodies_and_bad_ciphertext_are_400_with_the_reason() -> None:
    async with http(app()) as client:
        assert (await client.post("/decode", content=b"not json")).status_code == 400
        assert (await client.post("/decode", json=[1, 2])).status_code == 400
        assert (await client.post("/decode", json={"payloads": "nope"})).status_code == 400
        body = await encrypted("x")
        data = bytearray(base64.b64decode(body["payloads"][0]["data"]))
        data[-1] ^= 1
        body["payloads"][0]["data"] = base64.b64encode(bytes(data)).decode()
        tampered = await client.post("/decode", json=body)
        assert tampered.status_code == 400 and "failed authentication" in tampered.json()["detail"]
        foreign = wire(await EncryptionCodec({"k9": KEY}).encode([json_payload("x")]))
        unknown = await client.post("/decode", json=foreign)
        assert unknown.status_code == 400 and "'k9'" in unknown.json()["detail"]


# --- CORS --------------------------------------------------------------------------------------


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }


async def test_preflight_from_the_web_ui_is_allowed_with_the_authorization_header() -> None:
    async with http(app(AccessCheck(token="t0ken"))) as client:  # no token on a preflight
        response = await client.options("/decode", headers=preflight(UI))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == UI
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "x-namespace", "content-type"} <= {h.strip() for h in allowed.split(",")}
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_preflight_from_another_origin_is_refused() -> None:
    async with http(app()) as client:
        response = await client.options("/decode", headers=preflight("https://evil.example"))
        assert response.status_code == 400
        assert "access-control-allow-origin" not in response.headers
        # A simple request from there gets no CORS grant either: the browser hides the answer.
        post = await client.post(
            "/decode", json=await encrypted("x"), headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in post.headers
        own = await client.post("/decode", json=await encrypted("x"), headers={"Origin": UI})
        assert own.headers["access-control-allow-origin"] == UI


# --- access ------------------------------------------------------------------------------------


async def test_a_configured_token_is_required() -> None:
    async with http(app(AccessCheck(token="s3cret-token"))) as client:
        body = await encrypted({"email": EMAIL})
        missing = await client.post("/decode", json=body, headers={"Origin": UI})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.headers["access-control-allow-origin"] == UI  # the UI can show why
        assert EMAIL not in missing.text
        wrong = await client.post("/decode", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        basic = await client.post("/decode", json=body, headers={"Authorization": "Basic s3cret-token"})
        assert basic.status_code == 401
        ok = await client.post("/decode", json=body, headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and values(ok.json()) == [{"email": EMAIL}]
        assert (await client.get("/healthz")).status_code == 200  # probes need no token


class FakeIdentityProvider:
    """An OIDC userinfo endpoint: knows two access tokens, counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.users = {"ops-token": "ops@example.com", "outsider-token": "someone@elsewhere.example"}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        assert str(request.url) == "https://idp.example/userinfo"
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.users:
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"sub": token, "email": self.users[token], "email_verified": True})


@pytest.fixture
async def idp() -> AsyncIterator[tuple[FakeIdentityProvider, httpx.AsyncClient]]:
    provider = FakeIdentityProvider()
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider.handle)) as client:
        yield provider, client


async def test_the_access_token_the_ui_forwards_is_checked_with_the_identity_provider(
    idp: tuple[FakeIdentityProvider, httpx.AsyncClient],
) -> None:
    provider, idp_http = idp
    access = AccessCheck(
        userinfo_url="https://idp.example/userinfo", allowed_emails=["@example.com"], http=idp_http
    )
    async with http(app(access)) as client:
        body = await encrypted("x")

        async def call(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}", "X-Namespace": "default"}
            return (await client.post("/decode", json=body, headers=headers)).status_code

        assert await call("ops-token") == 200
        assert await call("ops-token") == 200
        assert provider.calls == 1  # cached for a minute
        assert await call("outsider-token") == 401  # a real user, but not one of the allowed
        assert await call("forged") == 401
        assert (await client.post("/decode", json=body)).status_code == 401


async def test_any_user_the_provider_accepts_when_no_allow_list(
    idp: tuple[FakeIdentityProvider, httpx.AsyncClient],
) -> None:
    _, idp_http = idp
    access = AccessCheck(userinfo_url="https://idp.example/userinfo", token="automation", http=idp_http)
    async with http(app(access)) as client:
        body = await encrypted("x")
        for token, status in (("outsider-token", 200), ("automation", 200), ("forged", 401)):
            response = await client.post("/decode", json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == status, token


async def test_an_unreachable_identity_provider_denies() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down)) as idp_http:
        access = AccessCheck(userinfo_url="https://idp.example/userinfo", http=idp_http)
        async with http(app(access)) as client:
            response = await client.post(
                "/decode", json=await encrypted("x"), headers={"Authorization": "Bearer ops-token"}
            )
    assert response.status_code == 401 and "could not be reached" in response.json()["detail"]


# --- settings ----------------------------------------------------------------------------------


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=tmp_path, **overrides)


def test_settings_make_a_loopback_server_by_default(tmp_path: Path) -> None:
    s = settings(tmp_path, payload_codec_keys=KEYS)
    assert s.codec_server_bind == "127.0.0.1:8081"
    assert UI in s.codec_cors_origins
    assert isinstance(app_from_settings(s), FastAPI)


def test_comma_separated_origins_and_allowed_emails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEC_CORS_ORIGINS", "https://ui.example.com, https://ui2.example.com")
    monkeypatch.setenv("CODEC_SERVER_ALLOWED_EMAILS", "ops@example.com,@ops.example.com")
    s = Settings()
    assert s.codec_cors_origins == ["https://ui.example.com", "https://ui2.example.com"]
    assert s.codec_server_allowed_emails == ["ops@example.com", "@ops.example.com"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({}, "PAYLOAD_CODEC_KEYS is not set"),
        ({"codec_server_bind": "0.0.0.0:8081"}, "not loopback, and no access check"),
        ({"codec_server_bind": "8081"}, "must be host:port"),
        ({"codec_server_allowed_emails": ["@example.com"]}, "needs CODEC_SERVER_OIDC_USERINFO_URL"),
        ({"codec_cors_origins": []}, "CODEC_CORS_ORIGINS is empty"),
    ],
)
def test_unsafe_or_incomplete_settings_are_refused(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    base: dict[str, Any] = {} if not overrides else {"payload_codec_keys": KEYS}
    with pytest.raises(ConfigError, match=message):
        app_from_settings(settings(tmp_path, **base, **overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {"codec_server_token": "t"},
        {"codec_server_oidc_userinfo_url": "https://idp.example/userinfo"},
        {"codec_server_allow_unauthenticated": True},
    ],
)
def test_beyond_loopback_needs_an_access_check_or_an_explicit_waiver(
    tmp_path: Path, overrides: dict[str, Any]
) -> None:
    s = settings(tmp_path, payload_codec_keys=KEYS, codec_server_bind="0.0.0.0:8081", **overrides)
    assert isinstance(app_from_settings(s), FastAPI)


async def decode_as(application: FastAPI, host: str, **headers: str) -> httpx.Response:
    """A decode request that names ``host`` in its Host header, as a browser does."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url=f"http://{host}"
    ) as c:
        return await c.post("/decode", json=await encrypted({"email": EMAIL}), headers=headers)


async def test_without_a_token_check_a_rebinding_host_is_refused(tmp_path: Path) -> None:
    application = app_from_settings(settings(tmp_path, payload_codec_keys=KEYS))
    for served in ("127.0.0.1:8081", "localhost:8081", "[::1]:8081", "LOCALHOST:8081"):
        assert (await decode_as(application, served)).status_code == 200, served
    # A page on attacker.example whose name now resolves to 127.0.0.1: same origin for the browser.
    for foreign in ("attacker.example:8081", "127.0.0.1.attacker.example:8081", "attacker.example"):
        rebound = await decode_as(application, foreign, Origin=f"http://{foreign}")
        assert rebound.status_code == 400, foreign
        assert EMAIL not in rebound.text


async def test_allowed_hosts_can_be_named_and_a_token_check_replaces_the_host_check(tmp_path: Path) -> None:
    named = settings(
        tmp_path,
        payload_codec_keys=KEYS,
        codec_server_bind="0.0.0.0:8081",
        codec_server_allow_unauthenticated=True,
        codec_server_allowed_hosts=["codec.internal"],
    )
    assert (await decode_as(app_from_settings(named), "codec.internal:8081")).status_code == 200
    assert (await decode_as(app_from_settings(named), "localhost:8081")).status_code == 400
    token = settings(tmp_path, payload_codec_keys=KEYS, codec_server_token="s3cret-token")
    with_token = app_from_settings(token)
    assert (await decode_as(with_token, "codec.example.com")).status_code == 401
    ok = await decode_as(with_token, "codec.example.com", Authorization="Bearer s3cret-token")
    assert ok.status_code == 200


# --- the real server, on loopback --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(port: int, process: asyncio.subprocess.Process, within: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if process.returncode is not None:
            raise AssertionError(f"the process exited with code {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise
        await asyncio.sleep(0.1)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "CODEC_", "PAYLOAD_CODEC"))}
    return env | {"PYTHONUNBUFFERED": "1", **extra}


async def test_python_m_codec_serves_on_loopback_with_a_token(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "codec",
        cwd=ROOT,
        env=child_env(
            PAYLOAD_CODEC_KEYS=KEYS,
            CODEC_SERVER_BIND=f"127.0.0.1:{port}",
            CODEC_SERVER_TOKEN="loopback-token",
            DATA_DIR=str(tmp_path),
        ),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_listening(port, process)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=5) as client:
            body = await encrypted({"email": EMAIL})
            assert (await client.post("/decode", json=body)).status_code == 401
            headers = {"Authorization": "Bearer loopback-token", "Origin": UI, "X-Namespace": "default"}
            response = await client.post("/decode", json=body, headers=headers)
            assert response.status_code == 200 and values(response.json()) == [{"email": EMAIL}]
            assert response.headers["access-control-allow-origin"] == UI
            assert (await client.options("/decode", headers=preflight(UI))).status_code == 200
            assert (
                await client.options("/decode", headers=preflight("http://evil.example"))
            ).status_code == 400
        # Loopback only: nothing answers on the machine's other addresses.
        with socket.socket() as sock:
            sock.settimeout(1)
            other = socket.gethostbyname(socket.gethostname())
            if not other.startswith("127."):
                assert sock.connect_ex((other, port)) != 0
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 10)


async def test_python_m_codec_refuses_to_start_without_a_usable_key(tmp_path: Path) -> None:
    for keys, message in (("", b"PAYLOAD_CODEC_KEYS is not set"), ("k1:c2hvcnQ=", b"is 5 bytes")):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "codec",
            cwd=ROOT,
            env=child_env(PAYLOAD_CODEC_KEYS=keys, DATA_DIR=str(tmp_path)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 2 and message in err, err
        assert b"c2hvcnQ" not in err


def test_new_key_prints_a_usable_entry() -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "codec", "--new-key", "k2027"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    entry = result.stdout.strip()
    assert re.fullmatch(r"k2027:[A-Za-z0-9+/]{43}=", entry)
    assert EncryptionCodec.from_spec(entry).key_id == "k2027"


# --- the dev stack -----------------------------------------------------------------------------


def test_devstack_wires_the_codec_only_when_a_key_is_set() -> None:
    plain = StackConfig.from_env({})
    assert plain.codec_bind is None and "--ui-codec-endpoint" not in server_command("temporal", plain)
    keyed = StackConfig.from_env({"PAYLOAD_CODEC_KEYS": KEYS})
    command = server_command("temporal", keyed)
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8081"
    ipv6 = StackConfig.from_env({"PAYLOAD_CODEC_KEYS": KEYS, "CODEC_SERVER_BIND": "[::1]:9001"})
    assert ipv6.codec_endpoint == "http://[::1]:9001"
    with pytest.raises(StackError, match="loopback only"):
        StackConfig.from_env({"PAYLOAD_CODEC_KEYS": KEYS, "CODEC_SERVER_BIND": "0.0.0.0:8081"})


@pytest.mark.devserver
async def test_devstack_runs_the_codec_server_and_points_the_web_ui_at_it(tmp_path: Path) -> None:
    port, ui_port, codec_port = free_port(), free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scripts.devstack",
        cwd=ROOT,
        env=child_env(
            TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
            TEMPORAL_UI_PORT=str(ui_port),
            DATA_DIR=str(tmp_path),
            DEVSTACK_SERVER_ONLY="1",
            PAYLOAD_CODEC_KEYS=KEYS,
            CODEC_SERVER_BIND=f"127.0.0.1:{codec_port}",
        ),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[str] = []

    async def read_until(pattern: str) -> None:
        assert process.stdout is not None
        while line := (await process.stdout.readline()).decode():
            output.append(line)
            if re.search(pattern, line):
                return
        raise AssertionError("".join(output))

    try:
        await asyncio.wait_for(read_until(re.escape(BANNER_TITLE)), 60)
        await asyncio.wait_for(read_until(r"^=+$"), 5)
        endpoint = f"http://127.0.0.1:{codec_port}"
        assert f"Encryption    on: the Web UI decodes through {endpoint}" in "".join(output)
        ui_origin = f"http://localhost:{ui_port}"
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            ui_settings = (await client.get(f"http://127.0.0.1:{ui_port}/api/v1/settings")).json()
            assert ui_settings["Codec"]["Endpoint"] == endpoint
            answer = await client.post(
                f"{endpoint}/decode",
                json=await encrypted({"email": EMAIL}),
                headers={"Origin": ui_origin, "X-Namespace": "default"},
            )
            assert answer.status_code == 200 and values(answer.json()) == [{"email": EMAIL}]
            assert answer.headers["access-control-allow-origin"] == ui_origin
        process.send_signal(signal.SIGINT)
        assert process.stdout is not None
        output.append((await asyncio.wait_for(process.stdout.read(), 30)).decode())
        assert await asyncio.wait_for(process.wait(), 30) == 0, "".join(output)
        assert "stopping codec server" in "".join(output)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    with socket.socket() as sock:  # the codec server is gone with the script
        assert sock.connect_ex(("127.0.0.1", codec_port)) != 0
