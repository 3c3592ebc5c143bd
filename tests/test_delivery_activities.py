import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs
from temporalio.activity import _Definition
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from activities.adapters.http import HttpBroker, HttpWarehouse
from activities.adapters.ledger import PostgresLedger, SqliteLedger
from activities.adapters.outbox import OutboxBroker, OutboxNotifier, OutboxSink, OutboxWarehouse
from activities.adapters.rendering import RenderedMessage, TemplateError, TemplateRenderer
from activities.adapters.smtp import SmtpNotifier
from activities.deliveries import DeliveryActivities
from activities.factory import build_delivery_activities
from config.settings import Settings
from domain.deliveries import (
    BrokerAffinityRequest,
    BrokerHandoff,
    DeliveryReceipt,
    Notification,
    WarehouseInstruction,
)
from workflows.deliveries import DELIVERY_RETRY

PARAMS = {"shipment_id": "SHIP-1", "business_name": "Maple Goods", "due_on": "2026-01-13"}


def notification(template: str = "_test_sample", params: dict[str, str] = PARAMS) -> Notification:
    return Notification(
        idempotency_key="hold:SHIP-1:held",
        audience="seller",
        to="seller@example.com",
        template=template,
        params=params,
        seller_id="s-1",
        shipment_id="SHIP-1",
    )


class BusyNotifier:
    """A notifier whose key another worker (perhaps a dead one) is sending: ready in ``ready_in``."""

    channel = "test"

    def __init__(self, ready_in: timedelta | None) -> None:
        self.ready_in = ready_in

    async def send(self, notification: Notification, message: RenderedMessage) -> DeliveryReceipt:
        raise TransientDeliveryError("another worker is sending it right now", ready_in=self.ready_in)


class RefusingWarehouse:
    """A warehouse whose API refuses every instruction for good."""

    channel = "test"

    async def instruct(self, instruction: WarehouseInstruction) -> DeliveryReceipt:
        raise PermanentDeliveryError("warehouse instruction refused: HTTP 422 Unprocessable Entity")


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxSink:
    return OutboxSink(tmp_path / "outbox")


@pytest.fixture
def activities(outbox: OutboxSink) -> DeliveryActivities:
    return DeliveryActivities(
        OutboxNotifier(outbox), OutboxBroker(outbox), OutboxWarehouse(outbox), TemplateRenderer()
    )


def test_templates_render_to_subject_and_body() -> None:
    message = TemplateRenderer().render("_test_sample", PARAMS)

    assert message.subject == "Parcel SHIP-1 for Maple Goods"
    assert message.body == "Hello Maple Goods,\n\nYour returned parcel SHIP-1 is held until 2026-01-13.\n"


@pytest.mark.parametrize(
    ("template", "params", "problem"),
    [
        ("no_such_template", PARAMS, "no template"),
        ("_test_sample", {"shipment_id": "SHIP-1"}, "'business_name' is undefined"),
        ("../pyproject", {}, "letters, digits and underscores"),
    ],
)
def test_template_faults_are_template_errors(template: str, params: dict[str, str], problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        TemplateRenderer().render(template, params)


def test_a_template_without_a_subject_line_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bare.txt.j2").write_text("Hello there\n")

    with pytest.raises(TemplateError, match="Subject"):
        TemplateRenderer(tmp_path).render("bare", {})


async def test_send_notification_renders_and_delivers(
    activities: DeliveryActivities, outbox: OutboxSink
) -> None:
    receipt = await ActivityEnvironment().run(activities.send_notification, notification())

    assert not receipt.duplicate
    document = json.loads(outbox.path_for("notifications", "hold:SHIP-1:held").read_text())
    assert document["subject"] == "Parcel SHIP-1 for Maple Goods"
    assert "2026-01-13" in document["body"]

    again = await ActivityEnvironment().run(activities.send_notification, notification())
    assert again.duplicate


async def test_logs_carry_identifiers_but_no_personal_data(activities: DeliveryActivities) -> None:
    with capture_logs() as logs:
        await ActivityEnvironment().run(activities.send_notification, notification())

    [entry] = logs
    assert entry["idempotency_key"] == "hold:SHIP-1:held"
    assert (entry["seller_id"], entry["shipment_id"]) == ("s-1", "SHIP-1")
    assert (entry["template"], entry["channel"]) == ("_test_sample", "outbox")
    flat = json.dumps(entry, default=str)
    assert "seller@example.com" not in flat and "Maple Goods" not in flat


@pytest.mark.parametrize("template", ["no_such_template", "_test_sample"])
async def test_template_errors_fail_the_activity_for_good(
    activities: DeliveryActivities, outbox: OutboxSink, template: str
) -> None:
    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(activities.send_notification, notification(template, params={}))

    assert failed.value.type == "TemplateError" and failed.value.non_retryable
    assert not (outbox.root / "notifications").exists()


async def test_broker_and_warehouse_activities_deliver(
    activities: DeliveryActivities, outbox: OutboxSink
) -> None:
    env = ActivityEnvironment()
    handoff = BrokerHandoff(
        idempotency_key="handoff:s-1:1",
        seller_id="s-1",
        returns_account_number="s-1",
        business_number="123456782",
        handoff_number=1,
    )
    affinity = BrokerAffinityRequest(idempotency_key="affinity:s-1:1", seller_id="s-1")
    instruction = WarehouseInstruction(
        idempotency_key="warehouse:SHIP-1",
        shipment_id="SHIP-1",
        seller_id="s-1",
        action="dispose",
        reason="due",
    )

    assert not (await env.run(activities.hand_off_to_broker, handoff)).duplicate
    assert not (await env.run(activities.request_affinity_figures, affinity)).duplicate
    assert not (await env.run(activities.instruct_warehouse, instruction)).duplicate
    assert (await env.run(activities.instruct_warehouse, instruction)).duplicate

    assert outbox.path_for("broker", "handoff:s-1:1").exists()
    assert outbox.path_for("warehouse", "warehouse:SHIP-1").exists()


async def test_a_permanent_refusal_is_a_non_retryable_application_error(outbox: OutboxSink) -> None:
    activities = DeliveryActivities(
        OutboxNotifier(outbox), OutboxBroker(outbox), RefusingWarehouse(), TemplateRenderer()
    )
    instruction = WarehouseInstruction(
        idempotency_key="warehouse:SHIP-1",
        shipment_id="SHIP-1",
        seller_id="s-1",
        action="release",
        reason="cleared",
    )

    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(activities.instruct_warehouse, instruction)

    assert failed.value.type == "PermanentDeliveryError" and failed.value.non_retryable
    assert "422" in failed.value.message


def test_activity_names_match_the_contract(activities: DeliveryActivities) -> None:
    names = {
        _Definition.must_from_callable(fn).name
        for fn in (
            activities.send_notification,
            activities.hand_off_to_broker,
            activities.request_affinity_figures,
            activities.instruct_warehouse,
        )
    }
    assert names == {
        "send_notification",
        "hand_off_to_broker",
        "request_affinity_figures",
        "instruct_warehouse",
    }


def test_factory_defaults_to_the_outbox(tmp_path: Path) -> None:
    built = build_delivery_activities(Settings(data_dir=tmp_path, checklist_link_secret="k"))

    assert isinstance(built.notifier, OutboxNotifier)
    assert isinstance(built.broker, OutboxBroker)
    assert isinstance(built.warehouse, OutboxWarehouse)


async def test_factory_builds_smtp_and_http_adapters(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        notify_channel="smtp",
        broker_channel="http",
        broker_url="https://broker.test/api",
        warehouse_channel="http",
        warehouse_url="https://warehouse.test",
        checklist_link_secret="k",
    )
    built = build_delivery_activities(settings)

    assert isinstance(built.notifier, SmtpNotifier)
    assert isinstance(built.notifier.ledger, SqliteLedger)
    assert built.notifier.ledger.path == tmp_path / "smtp-ledger.sqlite3"
    shared = build_delivery_activities(
        settings.model_copy(update={"ledger_database_url": SecretStr("postgresql://carm@db.internal/carm")})
    )
    assert isinstance(shared.notifier, SmtpNotifier) and isinstance(shared.notifier.ledger, PostgresLedger)
    assert isinstance(built.broker, HttpBroker) and built.broker.base_url == "https://broker.test/api"
    assert isinstance(built.warehouse, HttpWarehouse)
    await built.broker.aclose()
    await built.warehouse.aclose()


def test_factory_refuses_to_build_without_a_link_key(tmp_path: Path) -> None:
    # Every seller message carries a checklist link: without a key the worker must not start.
    with pytest.raises(ValueError, match="CHECKLIST_LINK_SECRET or API_TOKEN"):
        build_delivery_activities(Settings(data_dir=tmp_path))


def test_the_ledger_keeps_keys_longer_than_deliveries_are_retried() -> None:
    with pytest.raises(ValueError, match="LEDGER_RETENTION_DAYS must be longer"):
        Settings(ledger_retention_days=1, delivery_give_up_after_seconds=2 * 86_400)


@pytest.mark.parametrize("channel", ["broker", "warehouse"])
def test_factory_refuses_an_http_channel_without_url(tmp_path: Path, channel: str) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path, f"{channel}_channel": "http"})

    with pytest.raises(ValueError, match=f"{channel.upper()}_URL"):
        build_delivery_activities(settings)


@pytest.mark.parametrize(
    ("attempt", "ready_in", "delay"),
    [
        (1, timedelta(seconds=100), timedelta(seconds=1)),  # the policy's own first interval
        (7, timedelta(seconds=30), timedelta(seconds=31)),  # not 64 s: the claim is stale by then
        (8, timedelta(0), timedelta(seconds=1)),  # stale already: just past it
    ],
)
async def test_a_busy_message_is_retried_no_later_than_its_claim_goes_stale(
    outbox: OutboxSink, attempt: int, ready_in: timedelta, delay: timedelta
) -> None:
    activities = DeliveryActivities(
        BusyNotifier(ready_in), OutboxBroker(outbox), OutboxWarehouse(outbox), TemplateRenderer()
    )
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt, retry_policy=DELIVERY_RETRY, is_local=False)
    with pytest.raises(ApplicationError) as failed:
        await env.run(activities.send_notification, notification())
    assert failed.value.type == "TransientDeliveryError" and not failed.value.non_retryable
    assert failed.value.next_retry_delay == delay


async def test_without_a_hint_the_retry_policy_alone_decides(outbox: OutboxSink) -> None:
    activities = DeliveryActivities(
        BusyNotifier(None), OutboxBroker(outbox), OutboxWarehouse(outbox), TemplateRenderer()
    )
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, retry_policy=DELIVERY_RETRY)
    with pytest.raises(TransientDeliveryError):
        await env.run(activities.send_notification, notification())
