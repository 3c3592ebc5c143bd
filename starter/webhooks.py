"""The broker webhook's signature: ``X-Broker-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.

The key is the setting ``BROKER_WEBHOOK_SECRET``. The HMAC covers the exact bytes received, so a
body changed after signing (even re-serialised JSON with the same meaning) fails the check. The
comparison is constant-time.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Broker-Signature"
SCHEME = "sha256"


def sign(body: bytes, secret: str) -> str:
    """The header value a sender puts on ``body``: ``sha256=<hex digest>``."""
    return f"{SCHEME}={hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}"


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """Whether ``header`` is a valid signature of ``body`` with ``secret``."""
    if not header or not secret:
        return False
    scheme, sep, given = header.strip().partition("=")
    if not sep or scheme.strip().lower() != SCHEME:
        return False
    expected = sign(body, secret).partition("=")[2].encode()
    # Header values arrive as latin-1 text; compare bytes so any input is safe to compare.
    return hmac.compare_digest(expected, given.strip().lower().encode("latin-1", "replace"))
