"""The ids in the API's paths: documented with the contract's pattern, and checked before use.

An id that cannot exist is simply not found (404) and never reaches Temporal. The checks are
dependencies, so they run before a route reads its body.
"""

import re
from typing import Annotated

from fastapi import Depends
from fastapi import Path as PathParam

from domain.identifiers import ID_PATTERN
from gateway.errors import NotFound
from gateway.holds import not_recorded
from gateway.onboarding import not_signed_up
from starter.api.errors import refuse

_ID_RE = re.compile(ID_PATTERN)

SellerPath = Annotated[
    str,
    PathParam(
        description="The seller's id: 1–64 characters of A-Z a-z 0-9 _ -",
        json_schema_extra={"pattern": ID_PATTERN, "minLength": 1, "maxLength": 64},
    ),
]
ShipmentPath = Annotated[
    str,
    PathParam(
        description="The returned parcel's shipment id: 1–64 characters of A-Z a-z 0-9 _ -",
        json_schema_extra={"pattern": ID_PATTERN, "minLength": 1, "maxLength": 64},
    ),
]


def is_id(value: object) -> bool:
    """Whether ``value`` is an id of the contract (1–64 characters of ``A-Z a-z 0-9 _ -``)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def _known(value: str, missing: NotFound) -> str:
    if not is_id(value):
        refuse(
            404,
            f"{missing.message} (ids are 1–64 characters of A-Z a-z 0-9 _ -)",
            code=missing.code,
            params=missing.params,
        )
    return value


async def _known_seller(seller_id: SellerPath) -> str:
    return _known(seller_id, not_signed_up(seller_id))


async def _known_shipment(shipment_id: ShipmentPath) -> str:
    return _known(shipment_id, not_recorded(shipment_id))


SellerId = Annotated[str, Depends(_known_seller)]
"""A seller id from the path, 404 when it cannot be one."""
ShipmentId = Annotated[str, Depends(_known_shipment)]
"""A shipment id from the path, 404 when it cannot be one."""
