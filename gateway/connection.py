"""Connecting to Temporal: the client every process of the service uses.

Worker, command line, API and the dev stack's tools all connect here, with the same data converter
(pydantic JSON, AES-256-GCM encrypted when ``PAYLOAD_CODEC_KEYS`` is set) so that what one writes
the others can read.

Where and how to connect comes from ``temporalio.envconfig``, the configuration the ``temporal``
CLI reads: a profile of its TOML file (``TEMPORAL_PROFILE``, ``TEMPORAL_CONFIG_FILE``), overridden
field by field by ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY`` and the
``TEMPORAL_TLS*`` variables. So the service reaches a plaintext dev server, a TLS or mTLS cluster or
Temporal Cloud with the settings an operator already uses for the CLI.
"""

import asyncio
import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from config.settings import Settings

DEFAULT_ADDRESS = "localhost:7233"
RETRY_FIRST_DELAY = 0.5
RETRY_MAX_DELAY = 10.0


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic JSON payloads; encrypted (with failure messages too) when ``PAYLOAD_CODEC_KEYS`` is set.

    With a key, every payload Temporal stores (inputs, results, updates, queries, memos, summaries,
    failure details) is AES-256-GCM ciphertext, and failure messages and stack traces move into
    an encoded attribute (the SDK's ``DefaultFailureConverterWithEncodedAttributes``). Payloads
    written without a key still decode. See docs/encryption.md.
    """
    if settings.payload_codec_keys is None:
        return pydantic_data_converter
    from codec.aes import EncryptionCodec

    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec.from_spec(settings.payload_codec_keys.get_secret_value()),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


@functools.cache
def _prometheus_runtime(bind_address: str) -> Runtime:
    # One per process: a second runtime would try to bind the metrics port again.
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def runtime_for(settings: Settings) -> Runtime | None:
    """A runtime that serves the SDK's Prometheus metrics, when ``METRICS_BIND_ADDRESS`` is set."""
    if not settings.metrics_bind_address:
        return None
    return _prometheus_runtime(settings.metrics_bind_address)


def connect_config(settings: Settings) -> dict[str, Any]:
    """``Client.connect``'s connection arguments: ``target_host``, ``namespace``, ``api_key``, ``tls``.

    The process's environment, with the settings given in code on top (so a test's or a tool's
    ``Settings`` wins over the shell's), read the way the ``temporal`` CLI reads them.
    """
    environment = {**os.environ, **settings.temporal_environment()}
    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config(override_env_vars=environment))
    config.setdefault("target_host", DEFAULT_ADDRESS)
    config.setdefault("namespace", settings.temporal_namespace)
    return config


def describe_target(settings: Settings) -> str:
    """Where ``settings`` connect, for logs and messages (no secrets): ``host:port (namespace x, TLS)``."""
    try:
        config = connect_config(settings)
    except RuntimeError as err:  # an unreadable profile: say so where the target would be
        return f"{settings.temporal_address} (configuration error: {err})"
    security = "TLS" if config.get("tls") else "plaintext"
    if config.get("api_key"):
        security += ", API key"
    return f"{config['target_host']} (namespace {config['namespace']}, {security})"


async def connect(settings: Settings) -> Client:
    """A client for ``settings``' Temporal frontend and namespace."""
    return await Client.connect(
        **connect_config(settings),
        data_converter=data_converter(settings),
        runtime=runtime_for(settings) or Runtime.default(),
    )


async def connect_patiently(
    settings: Settings,
    stop: asyncio.Event,
    on_failure: Callable[[Exception, float], None],
) -> Client | None:
    """Connect, retrying with backoff while Temporal is unreachable; None if ``stop`` is set first.

    ``on_failure(error, delay)`` is told of each failed attempt (to log it). A setting that can
    never work (a profile that does not exist, a missing certificate file) fails the same way
    every time, and is retried too: the log says why, and fixing the file is enough.
    """
    delay = RETRY_FIRST_DELAY
    while not stop.is_set():
        try:
            return await connect(settings)
        except Exception as err:  # unreachable, refused, misconfigured: all retried
            on_failure(err, delay)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            delay = min(delay * 2, RETRY_MAX_DELAY)
    return None
