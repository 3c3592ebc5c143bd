import asyncio
import json
import stat
from pathlib import Path

from activities.adapters.outbox import OutboxBroker, OutboxNotifier, OutboxSink, OutboxWarehouse, file_name
from activities.adapters.rendering import RenderedMessage
from domain.addresses import USAddress
from domain.deliveries import BrokerAffinityRequest, BrokerHandoff, Notification, WarehouseInstruction

MESSAGE = RenderedMessage(subject="Your parcel is held", body="Hello,\nyour parcel is held.\n")


def notification(key: str = "onboarding:s-1:next-step:1") -> Notification:
    return Notification(
        idempotency_key=key,
        audience="seller",
        to="seller@example.com",
        template="onboarding_next_step",
        params={"step": "importer_account"},
        seller_id="s-1",
    )


def files(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


async def test_notification_is_written_as_readable_json(tmp_path: Path) -> None:
    receipt = await OutboxNotifier(OutboxSink(tmp_path)).send(notification(), MESSAGE)

    assert not receipt.duplicate
    assert receipt.channel == "outbox"
    [path] = files(tmp_path / "notifications")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["idempotency_key"] == "onboarding:s-1:next-step:1"
    assert document["to"] == "seller@example.com"
    assert document["params"] == {"step": "importer_account"}
    assert document["subject"] == "Your parcel is held"
    assert document["body"] == MESSAGE.body
    assert document["delivered_at"]


async def test_outbox_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    sink = OutboxSink(tmp_path / "outbox")
    await OutboxNotifier(sink).send(notification(), MESSAGE)
    [path] = files(tmp_path / "outbox" / "notifications")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0


async def test_a_key_already_written_is_refused_and_the_file_is_kept(tmp_path: Path) -> None:
    notifier = OutboxNotifier(OutboxSink(tmp_path))
    await notifier.send(notification(), MESSAGE)
    [path] = files(tmp_path / "notifications")
    first = path.read_bytes()

    again = await notifier.send(notification(), RenderedMessage(subject="changed", body="changed"))

    assert again.duplicate
    assert files(tmp_path / "notifications") == [path]
    assert path.read_bytes() == first


async def test_concurrent_writers_of_one_key_deliver_exactly_once(tmp_path: Path) -> None:
    notifier = OutboxNotifier(OutboxSink(tmp_path))

    receipts = await asyncio.gather(*(notifier.send(notification(), MESSAGE) for _ in range(16)))

    assert sum(not r.duplicate for r in receipts) == 1
    # One file and no temporary files left behind.
    assert len(list((tmp_path / "notifications").iterdir())) == 1


async def test_keys_that_look_alike_once_sanitized_get_their_own_files(tmp_path: Path) -> None:
    notifier = OutboxNotifier(OutboxSink(tmp_path))
    first = await notifier.send(notification("a/b"), MESSAGE)
    second = await notifier.send(notification("a_b"), MESSAGE)

    assert not first.duplicate and not second.duplicate
    assert len(files(tmp_path / "notifications")) == 2


def test_file_names_stay_inside_the_folder_and_stay_readable() -> None:
    name = file_name("../../etc/passwd")
    assert "/" not in name and not name.startswith(".")
    assert file_name("hold:SHIP-1:reminder:2").startswith("hold_SHIP-1_reminder_2-")
    assert file_name("") != file_name("_")


async def test_broker_requests_go_to_the_broker_folder(tmp_path: Path) -> None:
    broker = OutboxBroker(OutboxSink(tmp_path))
    handoff = BrokerHandoff(
        idempotency_key="handoff:s-1:1",
        seller_id="s-1",
        returns_account_number="s-1",
        business_number="123456782",
        program_account="RM0001",
        handoff_number=1,
    )
    request = BrokerAffinityRequest(idempotency_key="affinity:s-1:1", seller_id="s-1")

    assert not (await broker.hand_off(handoff)).duplicate
    assert not (await broker.request_affinity_figures(request)).duplicate
    assert (await broker.hand_off(handoff)).duplicate

    kinds = {json.loads(p.read_text())["kind"] for p in files(tmp_path / "broker")}
    assert kinds == {"handoff", "affinity_request"}


async def test_warehouse_instructions_go_to_the_warehouse_folder(tmp_path: Path) -> None:
    warehouse = OutboxWarehouse(OutboxSink(tmp_path))
    address = USAddress(name="A Seller", street="1 Main St", city="Buffalo", state="NY", postal_code="14201")
    instruction = WarehouseInstruction(
        idempotency_key="warehouse:SHIP-1",
        shipment_id="SHIP-1",
        seller_id="s-1",
        action="forward",
        us_address=address,
        reason="seller chose to forward",
    )

    assert not (await warehouse.instruct(instruction)).duplicate
    assert (await warehouse.instruct(instruction)).duplicate

    [path] = files(tmp_path / "warehouse")
    document = json.loads(path.read_text())
    assert document["action"] == "forward"
    assert document["us_address"]["postal_code"] == "14201"
