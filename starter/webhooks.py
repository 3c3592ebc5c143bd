"""The broker's webhooks, signed as the Standard Webhooks specification says (standardwebhooks.com).

Three headers: ``webhook-id`` (the message's id, which is the event's ``event_id``),
``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">``, several space-separated during a rotation). The key is
``BROKER_WEBHOOK_SECRET``, ``whsec_<base64>``; a comma-separated list of them lets the broker move
to a new one while the old one still verifies. The specification's reference library checks the
signature over the exact bytes received and refuses a timestamp more than five minutes from now;
replays older than that are refused by their timestamp, and redeliveries within it (or re-signed
later, as senders do for days) apply once because the id is the event's ``event_id``.
"""

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
PREFIX = "whsec_"
MIN_KEY_BYTES = 24
"""The specification's smallest secret (it recommends 24 to 64 random bytes)."""


class SecretError(ValueError):
    """``BROKER_WEBHOOK_SECRET`` is not a list of Standard Webhooks secrets."""


class WebhookRefused(Exception):
    """A webhook whose signature does not hold: why, as words and as a code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def new_secret() -> str:
    """A fresh secret: ``whsec_`` and 32 random bytes in base64."""
    import secrets

    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secrets_from(setting: str | None) -> list[Webhook]:
    """The verifiers of every secret in ``BROKER_WEBHOOK_SECRET`` (comma-separated), checked."""
    found = []
    for number, secret in enumerate((setting or "").split(","), start=1):
        secret = secret.strip()
        if not secret:
            continue
        if not secret.startswith(PREFIX):
            raise SecretError(f"BROKER_WEBHOOK_SECRET entry {number} does not start with {PREFIX}")
        try:
            key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
        except binascii.Error:
            raise SecretError(f"BROKER_WEBHOOK_SECRET entry {number} is not base64 after {PREFIX}") from None
        if len(key) < MIN_KEY_BYTES:
            raise SecretError(
                f"BROKER_WEBHOOK_SECRET entry {number} is {len(key)} bytes; at least {MIN_KEY_BYTES}"
            )
        found.append(Webhook(key))
    return found


def sign(secrets: Sequence[str], webhook_id: str, body: bytes, at: datetime | None = None) -> dict[str, str]:
    """The three headers a sender puts on ``body`` (signed with every secret given)."""
    # The library labels the time as UTC rather than converting it: give it UTC.
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    signatures = [Webhook(s).sign(webhook_id, moment, body.decode()) for s in secrets]
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(int(moment.timestamp())),
        SIGNATURE_HEADER: " ".join(signatures),
    }


_WORDS = {
    "Missing required headers": (
        f"missing Standard Webhooks headers: {ID_HEADER}, {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}",
        "webhook_headers_missing",
    ),
    "Invalid Signature Headers": (f"{TIMESTAMP_HEADER} is not a Unix time", "webhook_timestamp_invalid"),
    "Message timestamp too old": (
        f"{TIMESTAMP_HEADER} is more than five minutes old: re-sign the delivery",
        "webhook_timestamp_too_old",
    ),
    "Message timestamp too new": (
        f"{TIMESTAMP_HEADER} is more than five minutes ahead",
        "webhook_timestamp_too_new",
    ),
}
_NO_MATCH = "No matching signature found"


def verify(verifiers: Sequence[Webhook], body: bytes, headers: Mapping[str, str]) -> str:
    """The ``webhook-id`` of a delivery whose signature holds for one of the secrets, else
    :class:`WebhookRefused`."""
    given = {name.lower(): value for name, value in headers.items()}
    for verifier in verifiers:
        try:
            verifier.verify(body, given, json_parse=False)
        except WebhookVerificationError as err:
            if str(err) == _NO_MATCH:
                continue  # another secret of the rotation may match
            message, code = _WORDS.get(str(err), (f"bad webhook: {err}", "webhook_invalid"))
            raise WebhookRefused(message, code) from None
        except ValueError:
            # The library unpacks each "v1,<base64>", decodes its base64 and the body's UTF-8
            # without checking them (binascii.Error and UnicodeDecodeError are ValueErrors).
            raise WebhookRefused(
                f"{SIGNATURE_HEADER} is malformed (or the body is not UTF-8)", "webhook_signature_malformed"
            ) from None
        return given[ID_HEADER]
    raise WebhookRefused(
        f"{SIGNATURE_HEADER} does not match the request body with any BROKER_WEBHOOK_SECRET",
        "webhook_signature_mismatch",
    )
