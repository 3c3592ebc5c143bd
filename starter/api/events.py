"""Onboarding events through the API: who may send which, and one event parsed for its sender.

The seller's endpoint and the broker's webhook take the same events, each only those its party
may send (``domain.events.may_send``: operations also the seller's); an event from the wrong
party is 422 naming who sends it. The API records who sent it: ``actor`` is the token's name (or
``broker``) and ``party`` the role's, whatever the body said.
"""

import functools
import operator
from typing import Annotated, Any

from pydantic import BaseModel, Field, create_model

from domain.errors import InvalidInput
from domain.events import SENDERS, events_sent_by, may_send, parse_event
from domain.identifiers import ID_PATTERN
from domain.steps import Party

SELLER_EVENTS = events_sent_by(Party.seller)
OPERATIONS_EVENTS = events_sent_by(Party.operations)
"""The seller's and operations' own: what an ``operations`` token may send."""
BROKER_EVENTS = events_sent_by(Party.broker)


def union(models: list[type[BaseModel]]) -> Any:
    """The events as one body type, told apart by ``type`` (for the OpenAPI document)."""
    return Annotated[functools.reduce(operator.or_, models), Field(discriminator="type")]


def with_seller_id(model: type[BaseModel]) -> type[BaseModel]:
    """The broker's envelope of one event: the event's fields plus ``seller_id``."""
    seller_id: Any = (Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=64)], ...)
    return create_model(f"Broker{model.__name__}", __base__=model, seller_id=seller_id)


def _check_sender(kind: Any, party: Party) -> None:
    # Before the fields are validated: an event the party may not send is refused as such.
    if isinstance(kind, str) and kind in SENDERS and not may_send(party, kind):
        senders = " or ".join(sorted(SENDERS[kind]))
        raise InvalidInput(
            f"the {party} may not send '{kind}' (sent by the {senders}); the {party} sends: "
            + ", ".join(events_sent_by(party)),
            code="sender_not_allowed",
            field="type",
            party=party,
            event=kind,
        )


def parse_event_from(party: Party, actor: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The event in ``fields``, sent by ``actor`` for ``party``, as the workflow takes it, or
    ``InvalidInput`` (wrong sender, bad fields)."""
    _check_sender(fields.get("type"), party)
    event = parse_event({**fields, "actor": actor, "party": party})
    return event.model_dump(mode="json", exclude_none=True)
