import asyncio
import hashlib
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from activities.adapters.ledger import STALE_CLAIM, Claim, PostgresLedger, SentLedger, SqliteLedger
from activities.adapters.rendering import RenderedMessage, TemplateRenderer
from activities.adapters.smtp import SmtpNotifier
from domain.deliveries import Notification

MESSAGE = RenderedMessage(subject="Next step: your importer account", body="Hello,\nplease add RM0001.\n")


class Recorder:
    """An SMTP handler that keeps what it receives, or rejects recipients with ``rcpt_reply``."""

    def __init__(self, rcpt_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder(getattr(request, "param", None))
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, recorder
    controller.stop()


def notifier_for(controller: Controller, ledger: Path | SentLedger) -> SmtpNotifier:
    return SmtpNotifier(
        host="127.0.0.1",
        port=controller.port,
        sender="returns@carm-returns.test",
        operations_email="ops@carm-returns.test",
        broker_email="broker@carm-returns.test",
        ledger=SqliteLedger(ledger) if isinstance(ledger, Path) else ledger,
        timeout=5,
    )


def notification(key: str = "onboarding:s-1:next-step:1", audience: str = "seller") -> Notification:
    return Notification.model_validate(
        {
            "idempotency_key": key,
            "audience": audience,
            "to": "seller@example.com" if audience == "seller" else None,
            "template": "onboarding_next_step",
            "seller_id": "s-1",
        }
    )


async def test_sends_with_deterministic_message_id_and_idempotency_header(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    key = "onboarding:s-1:next-step:1"

    receipt = await notifier_for(controller, tmp_path / "ledger.sqlite3").send(notification(key), MESSAGE)

    assert not receipt.duplicate and receipt.channel == "smtp"
    [(recipients, message)] = recorder.received
    assert recipients == ["seller@example.com"]
    assert message["To"] == "seller@example.com"
    assert message["From"] == "returns@carm-returns.test"
    assert message["Subject"] == MESSAGE.subject
    assert message["Message-ID"] == f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@carm-returns>"
    assert message["X-Idempotency-Key"] == key
    assert message.get_content().replace("\r\n", "\n") == MESSAGE.body


async def test_a_key_already_sent_is_not_sent_again_even_by_a_new_notifier(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    ledger = tmp_path / "state" / "ledger.sqlite3"
    notifier = notifier_for(controller, ledger)

    assert not (await notifier.send(notification("k-1"), MESSAGE)).duplicate
    assert (await notifier.send(notification("k-1"), MESSAGE)).duplicate
    assert len(recorder.received) == 1

    assert not (await notifier.send(notification("k-2"), MESSAGE)).duplicate
    assert len(recorder.received) == 2

    # A restarted worker reads the same ledger.
    assert (await notifier_for(controller, ledger).send(notification("k-1"), MESSAGE)).duplicate
    assert len(recorder.received) == 2


async def test_operations_and_broker_get_the_configured_addresses(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    notifier = notifier_for(controller, tmp_path / "ledger.sqlite3")

    await notifier.send(notification("ops-1", audience="operations"), MESSAGE)
    await notifier.send(notification("broker-1", audience="broker"), MESSAGE)

    assert [r for r, _ in recorder.received] == [["ops@carm-returns.test"], ["broker@carm-returns.test"]]


@pytest.mark.parametrize("smtp_server", ["550 5.1.1 <seller@example.com>: no such user"], indirect=True)
async def test_a_permanently_refused_recipient_is_a_permanent_failure_without_the_address(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    notifier = notifier_for(controller, tmp_path / "ledger.sqlite3")

    with pytest.raises(PermanentDeliveryError) as refused:
        await notifier.send(notification(), MESSAGE)

    assert "550" in str(refused.value) and "example.com" not in str(refused.value)
    assert recorder.received == []


@pytest.mark.parametrize("smtp_server", ["451 4.7.1 try again later"], indirect=True)
async def test_a_temporary_refusal_is_retryable_and_not_recorded(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    ledger = tmp_path / "ledger.sqlite3"

    with pytest.raises(TransientDeliveryError):
        await notifier_for(controller, ledger).send(notification(), MESSAGE)

    recorder.rcpt_reply = None
    assert not (await notifier_for(controller, ledger).send(notification(), MESSAGE)).duplicate
    assert len(recorder.received) == 1


async def test_an_unreachable_server_is_retryable(tmp_path: Path) -> None:
    notifier = SmtpNotifier(
        host="127.0.0.1",
        port=free_port(),
        sender="returns@carm-returns.test",
        operations_email="ops@carm-returns.test",
        broker_email="broker@carm-returns.test",
        ledger=SqliteLedger(tmp_path / "ledger.sqlite3"),
        timeout=2,
    )

    with pytest.raises(OSError):
        await notifier.send(notification(), MESSAGE)


async def test_a_seller_notification_without_an_address_is_a_permanent_failure(tmp_path: Path) -> None:
    notifier = SmtpNotifier(
        "127.0.0.1", free_port(), "a@b.test", "o@b.test", "b@b.test", SqliteLedger(tmp_path / "l.db")
    )
    nameless = notification().model_copy(update={"to": None})

    with pytest.raises(PermanentDeliveryError):
        await notifier.send(nameless, MESSAGE)


async def test_a_message_goes_as_text_and_html_in_the_sellers_language(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    url = "https://returns.example/sellers/s-1/checklist?token=t"
    rendered = TemplateRenderer().render(
        "return_held",
        {
            "seller": "s-1",
            "business_name": "Boutique <Lune>",
            "shipment": "p1",
            "due_on": "2026-01-13",
            "business_days": 15,
        },
        language="fr",
        checklist_url=url,
    )
    await notifier_for(controller, tmp_path / "ledger.sqlite3").send(notification(), rendered)

    [(_, message)] = recorder.received
    assert message.get_content_type() == "multipart/alternative"
    assert message["Content-Language"] == "fr"
    assert message["Subject"] == "Le colis retourné p1 est retenu jusqu’au mardi 13 janvier 2026"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "Bonjour Boutique <Lune>," in text.get_content()
    page = html.get_content()
    assert '<html lang="fr">' in page and 'name="viewport"' in page
    assert "Bonjour Boutique &lt;Lune&gt;," in page  # a business name is text, never markup
    assert f'<a href="{url}">' in page


# --- the sent-ledger, on SQLite and on PostgreSQL -------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> SentLedger:
    if request.param == "sqlite":
        return SqliteLedger(tmp_path / "ledger.sqlite3")
    url: str = request.getfixturevalue("postgres_url")
    return PostgresLedger(url)


async def test_a_claim_is_sent_busy_or_stale(ledger: SentLedger) -> None:
    key = f"claim-{uuid.uuid4().hex}"
    assert await ledger.claim(key) is Claim.mine
    assert await ledger.claim(key) is Claim.busy  # another worker is sending it
    assert await ledger.claim(key, stale_after=timedelta(0)) is Claim.mine  # its worker died
    await ledger.sent(key)
    assert await ledger.claim(key, stale_after=timedelta(0)) is Claim.sent
    released = f"released-{uuid.uuid4().hex}"
    assert await ledger.claim(released) is Claim.mine
    await ledger.release(released)  # refused by the relay: free to send again
    assert await ledger.claim(released) is Claim.mine


async def test_a_busy_claim_says_when_it_goes_stale(ledger: SentLedger) -> None:
    key = f"stale-{uuid.uuid4().hex}"
    assert await ledger.stale_in(key) is None  # nobody is sending it
    assert await ledger.claim(key) is Claim.mine
    left = await ledger.stale_in(key)
    assert left is not None and STALE_CLAIM - timedelta(seconds=30) < left <= STALE_CLAIM
    assert await ledger.stale_in(key, stale_after=timedelta(0)) == timedelta(0)  # stale already
    await ledger.sent(key)
    assert await ledger.stale_in(key) is None


async def test_a_message_another_worker_is_sending_says_when_to_try_again(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    key = f"busy-{uuid.uuid4().hex}"
    assert await ledger.claim(key) is Claim.mine  # a worker that then died mid-send
    with pytest.raises(TransientDeliveryError) as refused:
        await notifier_for(controller, ledger).send(notification(key), MESSAGE)
    ready_in = refused.value.ready_in
    assert ready_in is not None and timedelta(0) < ready_in <= STALE_CLAIM
    assert recorder.received == []


async def test_the_ledger_forgets_keys_by_age(ledger: SentLedger) -> None:
    key = f"old-{uuid.uuid4().hex}"
    assert await ledger.claim(key) is Claim.mine
    await ledger.sent(key)
    await ledger.prune(timedelta(days=30))  # a key sent just now is kept
    assert await ledger.claim(key) is Claim.sent
    await asyncio.sleep(0.01)
    assert await ledger.prune(timedelta(0)) >= 1
    assert await ledger.claim(key) is Claim.mine


async def test_two_workers_sharing_the_postgres_ledger_send_a_key_once(
    smtp_server: tuple[Controller, Recorder], postgres_url: str
) -> None:
    controller, recorder = smtp_server
    pod_a, pod_b = (notifier_for(controller, PostgresLedger(postgres_url)) for _ in range(2))
    key = f"onboarding:s-{uuid.uuid4().hex}:next-step:1"

    # A retry on another pod, after the first one sent it: not sent again.
    assert not (await pod_a.send(notification(key), MESSAGE)).duplicate
    assert (await pod_b.send(notification(key), MESSAGE)).duplicate
    assert len(recorder.received) == 1

    # Both at once (a retry overlapping a slow first attempt): one sends, the other waits its turn.
    both = f"{key}:both"
    answers = await asyncio.gather(
        *(pod.send(notification(both), MESSAGE) for pod in (pod_a, pod_b, pod_a, pod_b)),
        return_exceptions=True,
    )
    sent = [a for a in answers if not isinstance(a, BaseException) and not a.duplicate]
    assert len(sent) == 1, answers
    assert all(isinstance(a, TransientDeliveryError) or not isinstance(a, BaseException) for a in answers)
    assert (await pod_b.send(notification(both), MESSAGE)).duplicate  # the retry of a busy one
    assert [str(m["X-Idempotency-Key"]).strip() for _, m in recorder.received] == [key, both]


async def test_a_ledger_written_before_claims_keeps_its_keys(
    smtp_server: tuple[Controller, Recorder], tmp_path: Path
) -> None:
    controller, recorder = smtp_server
    path = tmp_path / "smtp-ledger.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE sent (key TEXT PRIMARY KEY, sent_at TEXT NOT NULL)")
        db.execute("INSERT INTO sent VALUES ('k-old', ?)", (datetime.now(UTC).isoformat(),))
    assert (await notifier_for(controller, path).send(notification("k-old"), MESSAGE)).duplicate
    assert recorder.received == []
