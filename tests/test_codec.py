"""Payload encryption: the codec itself, and what a real dev server stores with it switched on."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

import domain.search_attributes as sa
import gateway.onboarding as sellers
from codec.aes import ENCODING, KEY_ID_METADATA, CodecError, CodecKeyError, EncryptionCodec, parse_keys
from config.settings import Settings
from domain.errors import InvalidInput
from domain.payloads import SignUp
from domain.workflow_ids import seller_workflow_id
from gateway.connection import data_converter
from testing.servers import binary
from testing.stack import make_settings, new_id
from worker import build_worker

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
KEYS = f"k2026a:{base64.b64encode(KEY_A).decode()}"
EMAIL = "secret-owner@example.com"
BN = "123456782"


def payload(text: str = '{"email": "secret-owner@example.com"}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain", "extra": b"meta"}, data=text.encode())


async def roundtrip(codec: EncryptionCodec, p: Payload) -> Payload:
    (encoded,) = await codec.encode([p])
    (decoded,) = await codec.decode([encoded])
    return decoded


# --- the codec ---------------------------------------------------------------------------------


async def test_round_trip_restores_the_whole_payload_metadata_included() -> None:
    codec = EncryptionCodec({"k1": KEY_A})
    original = payload()
    (encoded,) = await codec.encode([original])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID_METADATA] == b"k1"
    assert set(encoded.metadata) == {"encoding", KEY_ID_METADATA}  # the original metadata is inside
    assert b"secret-owner" not in encoded.SerializeToString()
    assert b"json/plain" not in encoded.SerializeToString()
    assert await codec.decode([encoded]) == [original]


async def test_every_encryption_uses_a_fresh_nonce() -> None:
    codec = EncryptionCodec({"k1": KEY_A})
    first, second = await codec.encode([payload(), payload()])
    assert first.data[:12] != second.data[:12]
    assert first.data != second.data


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1], ids=["nonce", "nonce-end", "ct", "ct-mid", "tag"])
async def test_a_flipped_byte_is_detected(position: int) -> None:
    codec = EncryptionCodec({"k1": KEY_A})
    (encoded,) = await codec.encode([payload()])
    data = bytearray(encoded.data)
    data[position] ^= 0x01
    tampered = Payload(metadata=dict(encoded.metadata), data=bytes(data))
    with pytest.raises(CodecError, match="failed authentication"):
        await codec.decode([tampered])


async def test_the_key_id_is_authenticated_too() -> None:
    # Both keys are known: relabelling a payload as the other key's must not decrypt.
    codec = EncryptionCodec({"k1": KEY_A, "k2": KEY_A})
    (encoded,) = await codec.encode([payload()])
    relabelled = Payload(metadata={**encoded.metadata, KEY_ID_METADATA: b"k2"}, data=encoded.data)
    with pytest.raises(CodecError, match="'k2' failed authentication"):
        await codec.decode([relabelled])


async def test_truncated_ciphertext_is_an_error() -> None:
    codec = EncryptionCodec({"k1": KEY_A})
    (encoded,) = await codec.encode([payload()])
    with pytest.raises(CodecError, match="truncated"):
        await codec.decode([Payload(metadata=dict(encoded.metadata), data=encoded.data[:20])])


async def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old = EncryptionCodec({"k1": KEY_A})
    rotated = EncryptionCodec({"k2": KEY_B, "k1": KEY_A})
    (by_old,) = await old.encode([payload()])
    assert await rotated.decode([by_old]) == [payload()]
    (by_new,) = await rotated.encode([payload()])
    assert by_new.metadata[KEY_ID_METADATA] == b"k2"
    assert rotated.key_id == "k2" and rotated.key_ids == ["k2", "k1"]
    # A process still on the old key set names the key it lacks.
    with pytest.raises(CodecError, match="key id 'k2', which is not in PAYLOAD_CODEC_KEYS"):
        await old.decode([by_new])


async def test_unknown_key_id_is_a_clear_error() -> None:
    codec = EncryptionCodec({"k1": KEY_A})
    foreign = await EncryptionCodec({"other": KEY_B}).encode([payload()])
    with pytest.raises(CodecError) as err:
        await codec.decode(foreign)
    assert "'other'" in str(err.value) and "known: k1" in str(err.value)
    missing = Payload(metadata={"encoding": ENCODING}, data=foreign[0].data)
    with pytest.raises(CodecError, match="no 'encryption-key-id'"):
        await codec.decode([missing])


async def test_payloads_not_marked_encrypted_pass_through_decode() -> None:
    codec = EncryptionCodec({"k1": KEY_A})
    plain = [payload(), Payload(metadata={"encoding": b"binary/null"}), Payload(data=b"raw")]
    assert await codec.decode(plain) == plain


def test_key_spec_is_parsed_in_order_first_one_encrypts() -> None:
    a = base64.b64encode(KEY_A).decode()
    b = base64.urlsafe_b64encode(KEY_B).decode().rstrip("=")  # URL-safe, unpadded: accepted too
    keys = parse_keys(f" new-2026_b :{b} , old:{a},")
    assert list(keys) == ["new-2026_b", "old"]
    assert keys == {"new-2026_b": KEY_B, "old": KEY_A}
    assert EncryptionCodec.from_spec(f"new:{b},old:{a}").key_id == "new"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no key given"),
        (" , ", "no key given"),
        (base64.b64encode(KEY_A).decode(), "entry 1 has no key id"),
        (f"bad id:{base64.b64encode(KEY_A).decode()}", "entry 1: the key id must be 1-32 characters"),
        (f"{'x' * 33}:{base64.b64encode(KEY_A).decode()}", "key id must be 1-32"),
        (f"k1:{base64.b64encode(KEY_A[:16]).decode()}", "key 'k1' is 16 bytes; AES-256 needs 32"),
        ("k1:not*base64", "key 'k1' is not valid base64"),
        (f"k1:{base64.b64encode(KEY_A).decode()},k1:{base64.b64encode(KEY_B).decode()}", "given twice"),
    ],
)
def test_malformed_keys_are_refused_with_the_problem_named(spec: str, message: str) -> None:
    with pytest.raises(CodecKeyError, match=message) as err:
        parse_keys(spec)
    assert str(err.value).startswith("PAYLOAD_CODEC_KEYS: ")
    # No key material in the message, whatever was wrong.
    for secret in (base64.b64encode(KEY_A).decode(), base64.b64encode(KEY_A[:16]).decode()):
        assert secret not in str(err.value)


def test_a_key_pasted_as_an_id_is_not_echoed() -> None:
    secret = base64.b64encode(KEY_A).decode()
    with pytest.raises(CodecKeyError) as err:
        parse_keys(f"{secret}:k1")
    assert secret not in str(err.value) and secret[:12] not in str(err.value)


def test_without_a_key_the_plain_pydantic_converter_is_used(tmp_path: Path) -> None:
    assert data_converter(make_settings(tmp_path)) is pydantic_data_converter


def test_with_a_key_payloads_are_encrypted_and_failures_encoded(tmp_path: Path) -> None:
    converter = data_converter(make_settings(tmp_path, payload_codec_keys=KEYS))
    assert isinstance(converter.payload_codec, EncryptionCodec)
    assert converter.payload_codec.key_id == "k2026a"
    assert converter.payload_converter_class is pydantic_data_converter.payload_converter_class
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes


def test_a_bad_key_fails_when_the_client_is_made_without_showing_it(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, payload_codec_keys="k1:c2hvcnQ=")
    assert "c2hvcnQ" not in repr(settings)  # a SecretStr
    with pytest.raises(CodecKeyError, match="key 'k1' is 5 bytes") as err:
        data_converter(settings)
    assert "c2hvcnQ" not in str(err.value)


# --- end to end on a real dev server -----------------------------------------------------------


def encrypted_converter() -> DataConverter:
    return data_converter(Settings(payload_codec_keys=KEYS))


@pytest.fixture(scope="module")
async def encrypted_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=encrypted_converter(),
        search_attributes=list(sa.ALL),
        dev_server_log_level="error",
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def plain_client(encrypted_env: WorkflowEnvironment) -> Client:
    """A client of the same server without the codec: it sees what Temporal stores."""
    return await Client.connect(
        encrypted_env.client.service_client.config.target_host,
        namespace=encrypted_env.client.namespace,
        data_converter=pydantic_data_converter,
    )


@pytest.fixture
async def encrypted_stack(encrypted_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Settings]:
    settings = make_settings(tmp_path, payload_codec_keys=KEYS)
    async with build_worker(encrypted_env.client, settings):
        yield settings


def stored(history: WorkflowHistory) -> bytes:
    """Everything the server keeps of a history: the raw protobuf bytes and the JSON form."""
    raw = b"".join(event.SerializeToString() for event in history.events)
    return raw + history.to_json().encode()


async def raw_history(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


@pytest.mark.devserver
async def test_personal_data_is_not_readable_in_the_stored_history(
    encrypted_env: WorkflowEnvironment, encrypted_stack: Settings, plain_client: Client
) -> None:
    client, task_queue = encrypted_env.client, encrypted_stack.temporal_task_queue
    seller = new_id("enc")
    started = await sellers.sign_up(client, SignUp(seller_id=seller, email=EMAIL), task_queue=task_queue)
    handle = started.handle
    assert started.created
    status = await sellers.apply_event(
        client, seller, {"type": "business_number_provided", "business_number": BN}
    )
    assert "business_number" in status.completed_steps

    # The search attributes are published once the run has started: wait for them.
    async with asyncio.timeout(20):
        while b"OnboardingStage" not in (history := stored(await raw_history(plain_client, handle.id))):
            await asyncio.sleep(0.2)
    assert EMAIL.encode() not in history and b"secret-owner" not in history
    assert BN.encode() not in history
    assert ENCODING in history  # payloads are there, as ciphertext
    # What is not encrypted is still there: the workflow id and the search attributes (no
    # personal data in them), which shows that this check does see plain text.
    assert seller.encode() in history and b"OnboardingStage" in history
    # Summaries go through the codec too.
    assert b"CARM onboarding of seller" not in history

    # The service, with the key, still reads everything; a client without it cannot.
    assert (await sellers.seller_status(client, seller)).stage == "importer_account"
    with pytest.raises(KeyError, match="Unknown payload encoding binary/encrypted"):
        await sellers.seller_status(plain_client, seller)
    await handle.terminate("test finished")


@pytest.mark.devserver
async def test_histories_written_before_the_key_was_set_still_read(
    encrypted_env: WorkflowEnvironment, encrypted_stack: Settings, plain_client: Client
) -> None:
    # A sign-up from a client without the key: its input is stored in plain text, and the
    # worker (with the key) still runs it; the control for the check above.
    seller = new_id("plain")
    handle = (
        await sellers.sign_up(
            plain_client,
            SignUp(seller_id=seller, email=EMAIL),
            task_queue=encrypted_stack.temporal_task_queue,
        )
    ).handle
    status = await sellers.apply_event(
        encrypted_env.client, seller, {"type": "business_number_provided", "business_number": BN}
    )
    assert "business_number" in status.completed_steps
    assert EMAIL.encode() in stored(await raw_history(plain_client, handle.id))
    await handle.terminate("test finished")


@pytest.mark.devserver
async def test_a_failed_workflow_keeps_its_failure_message_encrypted(
    encrypted_env: WorkflowEnvironment, encrypted_stack: Settings, plain_client: Client
) -> None:
    # Started around the starters' validation, so that the workflow itself fails on its input.
    bad, seller = f"bad-email-with-{BN}", new_id("bad")
    handle = await encrypted_env.client.start_workflow(
        "SellerOnboarding",
        {"seller_id": seller, "email": bad},
        id=seller_workflow_id(seller),
        task_queue=encrypted_stack.temporal_task_queue,
    )
    with pytest.raises(WorkflowFailureError) as err:
        await handle.result()
    cause = err.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidInput"
    assert "invalid SellerOnboarding input: email" in cause.message  # decoded for the service

    history = await raw_history(plain_client, handle.id)
    (closed,) = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]
    failure = closed.workflow_execution_failed_event_attributes.failure
    assert failure.message == "Encoded failure" and not failure.stack_trace
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    data = stored(history)
    assert BN.encode() not in data and bad.encode() not in data
    assert b"invalid SellerOnboarding input" not in data and b"should match pattern" not in data


@pytest.mark.devserver
async def test_an_update_rejection_naming_the_business_number_is_encrypted_on_the_wire(
    encrypted_env: WorkflowEnvironment, encrypted_stack: Settings, plain_client: Client
) -> None:
    seller = new_id("rej")
    handle = (
        await sellers.sign_up(
            encrypted_env.client,
            SignUp(seller_id=seller, email=EMAIL),
            task_queue=encrypted_stack.temporal_task_queue,
        )
    ).handle
    wrong = "123456789"  # wrong check digit: the rejection names the number
    with pytest.raises(InvalidInput) as err:
        await sellers.apply_event(
            encrypted_env.client, seller, {"type": "business_number_provided", "business_number": wrong}
        )
    assert wrong in err.value.message  # the service, with the key, reads the reason
    # A client without the key cannot read the rejection: its details (the code and the value
    # the seller gave) are encrypted payloads it cannot decode, and its text is encoded.
    with pytest.raises(KeyError, match="Unknown payload encoding binary/encrypted") as plain_err:
        await sellers.apply_event(
            plain_client, seller, {"type": "business_number_provided", "business_number": wrong}
        )
    assert wrong not in str(plain_err.value)
    assert wrong.encode() not in stored(await raw_history(plain_client, handle.id))
    await handle.terminate("test finished")


@workflow.defn(name="CodecTestRefusal")
class Refusal:
    @workflow.run
    async def run(self, business_number: str) -> None:
        raise ApplicationError(
            f"business number {business_number} refused", type="Refused", non_retryable=True
        )


@pytest.mark.devserver
async def test_failure_messages_with_personal_data_are_not_stored_in_clear(
    encrypted_env: WorkflowEnvironment, plain_client: Client
) -> None:
    task_queue = f"codec-{uuid.uuid4().hex[:8]}"
    async with Worker(
        encrypted_env.client,
        task_queue=task_queue,
        workflows=[Refusal],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await encrypted_env.client.start_workflow(
            Refusal.run,
            BN,
            id=new_id("refusal"),
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        with pytest.raises(WorkflowFailureError) as err:
            await handle.result()
    cause: Any = err.value.cause
    assert cause.message == f"business number {BN} refused"
    assert BN.encode() not in stored(await raw_history(plain_client, handle.id))
