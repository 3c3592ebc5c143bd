"""Signed links to a seller's checklist page.

A link carries a token bound to one seller id with HMAC-SHA256, so a seller can read their own
page and nobody can guess another's. The key is ``CHECKLIST_LINK_SECRET``, or one derived from
``API_TOKEN`` when that is unset (a separate derivation, so the token itself never appears in a
link).
"""

import hashlib
import hmac
from urllib.parse import quote

from config.settings import Settings


def checklist_key(settings: Settings) -> bytes:
    if settings.checklist_link_secret:
        return settings.checklist_link_secret.encode()
    if not settings.api_token:
        raise ValueError("set CHECKLIST_LINK_SECRET or API_TOKEN to mint checklist links")
    return hmac.new(settings.api_token.encode(), b"carm-returns checklist links v1", hashlib.sha256).digest()


def mint_checklist_token(seller_id: str, key: bytes) -> str:
    return hmac.new(key, f"checklist:{seller_id}".encode(), hashlib.sha256).hexdigest()


def verify_checklist_token(seller_id: str, token: str | None, key: bytes) -> bool:
    if not token:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a token is anything a browser sends.
    return hmac.compare_digest(mint_checklist_token(seller_id, key).encode(), token.encode())


def checklist_url(settings: Settings, seller_id: str) -> str:
    token = mint_checklist_token(seller_id, checklist_key(settings))
    base = settings.public_base_url.rstrip("/")
    return f"{base}/sellers/{quote(seller_id)}/checklist?token={token}"
