"""Signed links to a seller's checklist page.

A link carries a token bound to one seller id with HMAC-SHA256, so a seller can read their own
page and nobody can guess another's. The key is ``CHECKLIST_LINK_SECRET``, or one derived from
``API_TOKEN`` when that is unset (a separate derivation, so the token itself never appears in a
link). ``CHECKLIST_LINK_SECRET`` may list several keys, comma-separated, to rotate them: the first
signs new links, every one still opens the links it signed.
"""

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote

from config.settings import Settings


def checklist_keys(settings: Settings) -> list[bytes]:
    """Every key that opens a link, the one that signs new links first."""
    keys = [k.strip().encode() for k in (settings.checklist_link_secret or "").split(",") if k.strip()]
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


def mint_checklist_token(seller_id: str, key: bytes) -> str:
    return hmac.new(key, f"checklist:{seller_id}".encode(), hashlib.sha256).hexdigest()


def verify_checklist_token(seller_id: str, token: str | None, key: bytes | Sequence[bytes]) -> bool:
    """Whether ``token`` opens ``seller_id``'s page with ``key`` (or one of the keys)."""
    if not token:
        return False
    keys = [key] if isinstance(key, bytes) else list(key)
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a token is anything a browser sends.
    return any(hmac.compare_digest(mint_checklist_token(seller_id, k).encode(), token.encode()) for k in keys)


def checklist_url(settings: Settings, seller_id: str) -> str:
    token = mint_checklist_token(seller_id, checklist_key(settings))
    base = settings.public_base_url.rstrip("/")
    return f"{base}/sellers/{quote(seller_id)}/checklist?token={token}"
