"""Onboarding events through the API: who may send which, and one event parsed for its sender.

The seller's endpoint and the broker's webhook take the same events, each only those its party
sends (``domain.events.SENDERS``); an event from the wrong party is 422 naming who sends it.
"""

import functools
import operator
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

from domain.errors import InvalidInput
from domain.events import EVENT_TYPES, SENDERS, parse_event
from domain.identifiers import ID_PATTERN
from domain.steps import Party
from starter.api.errors import refuse


def events_sent_by(party: Party) -> list[str]:
    return [name for name in EVENT_TYPES if party in SENDERS[name]]


SELLER_EVENTS = events_sent_by(Party.seller)
BROKER_EVENTS = events_sent_by(Party.broker)


def union(models: list[type[BaseModel]]) -> Any:
    """The events as one body type, told apart by ``type`` (for the OpenAPI document)."""
    return Annotated[functools.reduce(operator.or_, models), Field(discriminator="type")]


def with_seller_id(model: type[BaseModel]) -> type[BaseModel]:
    """The broker's envelope of one event: the event's fields plus ``seller_id``."""
    seller_id: Any = (Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=64)], ...)
    return create_model(f"Broker{model.__name__}", __base__=model, seller_id=seller_id)


def _check_sender(kind: Any, party: Party) -> None:
    if isinstance(kind, str) and kind in SENDERS and party not in SENDERS[kind]:
        senders = " or ".join(sorted(SENDERS[kind]))
        allowed = ", ".join(events_sent_by(party))
        refuse(
            422, f"the {party} may not send '{kind}' (sent by the {senders}); the {party} sends: {allowed}"
        )


def parse_event_from(party: Party, fields: dict[str, Any]) -> dict[str, Any]:
    """The event in ``fields`` as the workflow takes it, or 422 (wrong sender, bad fields)."""
    _check_sender(fields.get("type"), party)
    try:
        event = parse_event(fields)
    except InvalidInput as err:
        refuse(422, err.message)
    return event.model_dump(mode="json", exclude_none=True)
