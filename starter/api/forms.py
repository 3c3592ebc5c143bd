"""The checklist page's form bodies: ``application/x-www-form-urlencoded``, read into events.

The JSON endpoints read their bodies with :mod:`starter.api.bodies`; the page's forms are small
and flat, so they are read here with the standard library (no multipart parser needed). A form
names an event's fields as the contract does — ``business_number``, ``program_account``,
``return_method``, ``language`` — and a U.S. address as ``name``, ``street``, ``street2``,
``city``, ``state``, ``postal_code``.
"""

from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

MAX_FORM_BYTES = 16_384
"""A page form is a few hundred bytes; anything much larger is not one of them."""
ADDRESS_FIELDS = ("name", "street", "street2", "city", "state", "postal_code")
FORM_ONLY = ("token", "event_id")
"""Fields the page adds to every form, which are not the event's."""


class FormTooLarge(Exception):
    """The body is larger than any form of the page."""


class BadForm(Exception):
    """The body is not a form the page sends (a field repeated, not text)."""


async def form_fields(request: Request) -> dict[str, str]:
    """The form's fields; a repeated field is refused rather than one of its values picked."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormTooLarge
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError) as err:
        raise BadForm(str(err)) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise BadForm(f"the field {name!r} is repeated")
        fields[name] = value.strip()
    return fields


def us_address(fields: dict[str, str]) -> dict[str, str]:
    address = {name: fields[name] for name in ADDRESS_FIELDS if fields.get(name)}
    return {**address, "country": "US"}


def event_of(fields: dict[str, str]) -> dict[str, Any]:
    """The event a page form sends: its type, its own fields, and the address when it takes one."""
    event: dict[str, Any] = {
        name: value
        for name, value in fields.items()
        if name not in FORM_ONLY and name not in ADDRESS_FIELDS and value != ""
    }
    if event.get("type") == "no_business_number" and event.get("return_method") == "own_us_address":
        event["us_address"] = us_address(fields)
    if fields.get("event_id"):
        event["event_id"] = fields["event_id"]
    return event


def decision_of(fields: dict[str, str]) -> dict[str, Any]:
    """A parcel's decision: ``dispose``, or ``forward`` with the address."""
    decision: dict[str, Any] = {"action": fields.get("action", "")}
    if decision["action"] == "forward":
        decision["us_address"] = us_address(fields)
    return decision
