"""Notifications by e-mail through an SMTP relay, sent at most once per idempotency key.

A local sqlite ledger records every key the relay accepted and is checked before sending. The
ledger is written after the relay accepted the message, so a worker that dies in between sends it
again on retry; the deterministic ``Message-ID`` lets mail systems drop that rare duplicate.
"""

import asyncio
import hashlib
import smtplib
import sqlite3
import ssl
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import NoReturn

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from activities.adapters.rendering import RenderedMessage
from domain.deliveries import DeliveryReceipt, Notification

CHANNEL = "smtp"


def message_id(key: str) -> str:
    """The Message-ID for ``key``: the same on every retry."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@carm-returns>"


class SmtpNotifier:
    """Sends notifications through an SMTP relay, refusing keys its ledger has already seen."""

    channel = CHANNEL

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        operations_email: str,
        broker_email: str,
        ledger_path: Path,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._addresses = {"operations": operations_email, "broker": broker_email}
        self.ledger_path = ledger_path
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        with self._ledger() as db:
            db.execute("CREATE TABLE IF NOT EXISTS sent (key TEXT PRIMARY KEY, sent_at TEXT NOT NULL)")

    async def send(self, notification: Notification, message: RenderedMessage) -> DeliveryReceipt:
        """Send the notification unless its key is in the ledger."""
        key = notification.idempotency_key
        now = datetime.now(UTC)
        if await asyncio.to_thread(self._seen, key):
            return DeliveryReceipt(idempotency_key=key, duplicate=True, channel=CHANNEL, at=now)
        email = self._email(notification, message)
        await asyncio.to_thread(self._deliver, email, notification.audience)
        await asyncio.to_thread(self._record, key, now)
        return DeliveryReceipt(idempotency_key=key, channel=CHANNEL, at=now)

    def _recipient(self, notification: Notification) -> str:
        # The audience alone picks the configured addresses, so an alert meant for operations
        # can never reach a seller through a stray ``to``.
        if notification.audience != "seller":
            return self._addresses[notification.audience]
        if not notification.to:
            raise PermanentDeliveryError("a notification to the seller needs an e-mail address")
        return notification.to

    def _email(self, notification: Notification, message: RenderedMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        try:
            email["To"] = self._recipient(notification)
        except ValueError:
            raise PermanentDeliveryError(f"the {notification.audience}'s address is malformed") from None
        email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = message_id(notification.idempotency_key)
        email["X-Idempotency-Key"] = notification.idempotency_key
        email.set_content(message.body)
        if message.html:
            # multipart/alternative: mail clients show the last part they can, the HTML one.
            email.add_alternative(message.html, subtype="html")
        # After the parts: making the message multipart moves Content-* headers into its first part.
        email["Content-Language"] = message.language
        return email

    def _deliver(self, email: EmailMessage, audience: str) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username:
                    smtp.login(self._username, self._password or "")
                smtp.send_message(email)
        # Messages keep only the reply codes: the server's text often echoes the address.
        except smtplib.SMTPRecipientsRefused as err:
            codes = sorted({code for code, _ in err.recipients.values()})
            _classify(max(codes), f"the mail server refused the {audience}'s address (SMTP {codes})")
        except smtplib.SMTPAuthenticationError as err:
            # Wrong credentials are fixed by operations; retrying then delivers the message.
            raise TransientDeliveryError(f"SMTP login refused (SMTP {err.smtp_code})") from None
        except smtplib.SMTPConnectError as err:
            raise TransientDeliveryError(f"mail server unavailable (SMTP {err.smtp_code})") from None
        except smtplib.SMTPResponseException as err:
            _classify(err.smtp_code, f"the mail server refused the message (SMTP {err.smtp_code})")

    @contextmanager
    def _ledger(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: calls come from worker threads, and sqlite's own file locking
        # lets several worker processes share one ledger.
        with closing(sqlite3.connect(self.ledger_path, timeout=30)) as db, db:
            yield db

    def _seen(self, key: str) -> bool:
        with self._ledger() as db:
            return db.execute("SELECT 1 FROM sent WHERE key = ?", (key,)).fetchone() is not None

    def _record(self, key: str, at: datetime) -> None:
        with self._ledger() as db:
            db.execute("INSERT OR IGNORE INTO sent (key, sent_at) VALUES (?, ?)", (key, at.isoformat()))


def _classify(code: int, problem: str) -> NoReturn:
    if code >= 500:
        raise PermanentDeliveryError(problem) from None
    raise TransientDeliveryError(problem) from None
