"""What the list endpoints share: their paging parameters, their page tokens, their answer's shape.

A list answers ``{"items": [...], "next_page_token"}`` from Temporal's visibility (the search
attributes, so no workflow is queried and no personal data is listed); ``next_page_token`` is
null on the last page, and is passed back as ``page_token`` for the next one.

The token is Temporal's own, sealed with an HMAC over it and the list's query: Temporal fails a
token it did not make as an internal error (after retrying it for seconds), so the API only hands
it tokens it made for the same filters, and answers anything else 422 at once. The key derives
from the checklist link key, shared by every replica of the API.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from domain.errors import InvalidInput

MAX_PAGE_SIZE = 200

PageSize = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, at most {MAX_PAGE_SIZE}")
]
PageToken = Annotated[
    str | None,
    Query(max_length=4096, description="`next_page_token` of the previous page; none for the first"),
]

Item = TypeVar("Item", bound=BaseModel)


def one_of(values: Sequence[str], description: str) -> Any:
    """A query parameter that takes one of ``values`` (checked, and listed in the document)."""
    return Query(
        description=description,
        pattern="^(" + "|".join(re.escape(v) for v in values) + ")$",
        json_schema_extra={"enum": list(values)},
    )


class ListPage(BaseModel, Generic[Item]):
    """One page of a list."""

    items: list[Item]
    next_page_token: str | None
    """Pass it as ``page_token`` for the next page; null on the last page."""


SEAL_BYTES = 16


def page_key(link_key: bytes) -> bytes:
    return hmac.new(link_key, b"carm-returns list page tokens v1", hashlib.sha256).digest()


def _seal(key: bytes, query: str, token: bytes) -> bytes:
    return hmac.new(key, query.encode() + b"\0" + token, hashlib.sha256).digest()[:SEAL_BYTES]


def _not_ours() -> InvalidInput:
    return InvalidInput(
        "page_token is not a token this list gave (with these filters)",
        code="page_token_invalid",
        field="page_token",
    )


def decode_token(token: str | None, query: str, key: bytes) -> bytes | None:
    """Temporal's token inside ``token``, if this API sealed it for ``query``; else ``InvalidInput``."""
    if not token:
        return None
    try:
        sealed = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise _not_ours() from None
    seal, raw = sealed[:SEAL_BYTES], sealed[SEAL_BYTES:]
    if not raw or not hmac.compare_digest(seal, _seal(key, query, raw)):
        raise _not_ours()
    return raw


def encode_token(token: bytes | None, query: str, key: bytes) -> str | None:
    """Temporal's next-page token, sealed for ``query``; None on the last page."""
    if not token:
        return None
    return base64.urlsafe_b64encode(_seal(key, query, token) + token).decode().rstrip("=")
