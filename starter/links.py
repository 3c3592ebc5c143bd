"""Signed, expiring links to a seller's checklist page, minted per message.

A token is ``EPOCH.EXPIRES.NONCE.SIGNATURE``: the seller's link epoch (it moves on at an e-mail
change), the Unix time it stops working (``CHECKLIST_LINK_DAYS`` after it was minted), which of
the seller's workflows it was minted for (a seller who leaves and signs up again gets a new one),
and an HMAC-SHA256 over all of them and the seller id. The signature is checked before anything
else, so a forged link costs the service nothing; the epoch and nonce are then compared with the
seller's status, so links minted before an ``email_changed`` or a ``seller_offboarded`` stop
working.

The key is ``CHECKLIST_LINK_SECRET`` (a comma-separated list: the first signs, every one verifies,
so the key can be rotated), or one derived from ``API_TOKEN`` when that is unset (a separate
derivation, so the token itself never appears in a link).
"""

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from config.settings import Settings

_SIGNATURE_HEX = 32
"""128 bits of the HMAC: ample against forgery, and a link short enough for any mail client."""


def checklist_keys(settings: Settings) -> list[bytes]:
    """The link keys, the signing one first; ``ValueError`` when no setting provides one."""
    if settings.checklist_link_secret:
        keys = [k.strip().encode() for k in settings.checklist_link_secret.split(",") if k.strip()]
        if keys:
            return keys
    if not settings.api_token:
        raise ValueError("set CHECKLIST_LINK_SECRET or API_TOKEN to mint checklist links")
    return [
        hmac.new(settings.api_token.encode(), b"carm-returns checklist links v1", hashlib.sha256).digest()
    ]


def checklist_key(settings: Settings) -> bytes:
    """The key that signs new links."""
    return checklist_keys(settings)[0]


@dataclass(frozen=True)
class LinkToken:
    """What a well-signed token says."""

    epoch: int
    expires_at: datetime
    nonce: str

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def _signature(key: bytes, seller_id: str, epoch: int, expires: int, nonce: str) -> str:
    message = f"checklist:v2:{seller_id}:{epoch}:{expires}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:_SIGNATURE_HEX]


def mint_checklist_token(seller_id: str, *, epoch: int, nonce: str, expires_at: datetime, key: bytes) -> str:
    expires = int(expires_at.timestamp())
    return f"{epoch}.{expires}.{nonce}.{_signature(key, seller_id, epoch, expires, nonce)}"


def read_checklist_token(seller_id: str, token: str | None, keys: Sequence[bytes]) -> LinkToken | None:
    """The token's contents if one of ``keys`` signed it for ``seller_id``; None for anything else."""
    if not token or not token.isascii() or len(token) > 128:
        return None
    parts = token.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    epoch_text, expires_text, nonce, given = parts
    epoch, expires = int(epoch_text), int(expires_text)
    for key in keys:
        # Bytes: compare_digest refuses non-ASCII strings (and the token was checked ASCII above).
        if hmac.compare_digest(_signature(key, seller_id, epoch, expires, nonce).encode(), given.encode()):
            return LinkToken(epoch=epoch, expires_at=datetime.fromtimestamp(expires, UTC), nonce=nonce)
    return None


def checklist_path(seller_id: str, token: str, language: str | None = None) -> str:
    query = {"token": token, **({"lang": language} if language else {})}
    return f"/sellers/{quote(seller_id)}/checklist?{urlencode(query)}"


def checklist_url(
    settings: Settings, seller_id: str, *, epoch: int, nonce: str, now: datetime | None = None
) -> str:
    """A fresh link, working for ``CHECKLIST_LINK_DAYS`` from ``now`` (to the next full hour).

    Rounded so that answers given within the same hour carry the same link: a redelivered request
    gets the very answer it got the first time.
    """
    expires_at = (now or datetime.now(UTC)) + timedelta(days=settings.checklist_link_days)
    expires_at = expires_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    token = mint_checklist_token(
        seller_id, epoch=epoch, nonce=nonce, expires_at=expires_at, key=checklist_key(settings)
    )
    return settings.public_base_url.rstrip("/") + checklist_path(seller_id, token)
