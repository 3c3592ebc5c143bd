"""Connecting to Temporal: the client every process of the service uses.

Worker, command line, API and the dev stack's tools all connect here, with the same data converter
(pydantic JSON, AES-256-GCM encrypted when ``PAYLOAD_CODEC_KEYS`` is set) so that what one writes
the others can read.
"""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from config.settings import Settings


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


def runtime_for(settings: Settings) -> Runtime | None:
    """A runtime that serves the SDK's Prometheus metrics, when ``METRICS_BIND_ADDRESS`` is set."""
    if not settings.metrics_bind_address:
        return None
    return Runtime(
        telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.metrics_bind_address))
    )


async def connect(settings: Settings) -> Client:
    """A client for ``settings``' Temporal frontend and namespace."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=runtime_for(settings) or Runtime.default(),
    )
