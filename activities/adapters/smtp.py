"""Notifications by e-mail through an SMTP relay, sent at most once per idempotency key.

A sent-ledger (:mod:`activities.adapters.ledger`: a SQLite file, or PostgreSQL shared by every
worker replica) is claimed before sending and marked once the relay accepted the message. A
worker that dies in between leaves a claim that goes stale, and the retry sends the message
again; the deterministic ``Message-ID`` lets mail systems drop that rare duplicate.
"""

import asyncio
import hashlib
import smtplib
import ssl
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import NoReturn

import structlog

from activities.adapters import PermanentDeliveryError, TransientDeliveryError
from activities.adapters.ledger import Claim, SentLedger
from activities.adapters.rendering import RenderedMessage
from domain.deliveries import DeliveryReceipt, Notification

log = structlog.get_logger("smtp")

CHANNEL = "smtp"
PRUNE_EVERY_SECONDS = 3600.0
"""How often a notifier forgets the ledger's old keys (at most; on a send)."""


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
        ledger: SentLedger,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
        keep_sent_for: timedelta = timedelta(days=30),
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._addresses = {"operations": operations_email, "broker": broker_email}
        self.ledger = ledger
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout
        self._keep_sent_for = keep_sent_for
        self._pruned_at: float | None = None

    async def send(self, notification: Notification, message: RenderedMessage) -> DeliveryReceipt:
        """Send the notification unless the ledger has it (or another worker is sending it)."""
        key = notification.idempotency_key
        now = datetime.now(UTC)
        email = self._email(notification, message)
        await self._prune_now_and_then()
        claim = await self._claim(key)
        if claim is Claim.sent:
            return DeliveryReceipt(idempotency_key=key, duplicate=True, channel=CHANNEL, at=now)
        if claim is Claim.busy:
            raise TransientDeliveryError(
                "another worker is sending this message right now", ready_in=await self._stale_in(key)
            )
        try:
            await asyncio.to_thread(self._deliver, email, notification.audience)
        except Exception:
            await self._release(key)
            raise
        await self.ledger.sent(key)
        return DeliveryReceipt(idempotency_key=key, channel=CHANNEL, at=now)

    async def _claim(self, key: str) -> Claim:
        try:
            return await self.ledger.claim(key)
        except Exception as err:
            # Without the ledger nothing is sent: a retry, once it is back, sends at most once.
            raise TransientDeliveryError(f"the sent-ledger is unavailable ({type(err).__name__})") from None

    async def _stale_in(self, key: str) -> timedelta | None:
        """When a busy key's claim goes stale: should its worker have died, a retry can send then."""
        try:
            return await self.ledger.stale_in(key)
        except Exception as err:  # the backoff alone decides, as it would without the hint
            log.warning("sent-ledger claim age unknown", error=type(err).__name__)
            return None

    async def _release(self, key: str) -> None:
        """Not sent: a retry may send it. Should the ledger fail now, the claim goes stale instead."""
        try:
            await self.ledger.release(key)
        except Exception as err:
            log.warning("sent-ledger claim not released", error=type(err).__name__)

    async def _prune_now_and_then(self) -> None:
        clock = time.monotonic()
        if self._pruned_at is not None and clock - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = clock
        try:
            await self.ledger.prune(self._keep_sent_for)
        except Exception as err:  # pruning is housekeeping: the send goes on without it
            log.warning("sent-ledger not pruned", error=type(err).__name__)

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


def _classify(code: int, problem: str) -> NoReturn:
    if code >= 500:
        raise PermanentDeliveryError(problem) from None
    raise TransientDeliveryError(problem) from None
