"""The verbs, one module each, in the order ``carm --help`` lists them.

Each module has ``register(verbs)``, which adds its sub-parser and sets its ``handler`` (an
``async (Context, argparse.Namespace) -> int``): a new verb is a new module added here.
"""

from typing import Protocol

from starter.cli.parser import Subparsers
from starter.cli.verbs import (
    arrival,
    attention,
    checklist_link,
    decide,
    deliveries,
    event,
    extend,
    history,
    import_,
    parcel,
    parcels,
    reassign,
    sellers,
    sign_up,
    status,
)


class Verb(Protocol):
    """A verb's module."""

    def register(self, verbs: Subparsers) -> None: ...


VERBS: tuple[Verb, ...] = (
    sign_up,
    event,
    status,
    sellers,
    arrival,
    parcel,
    parcels,
    decide,
    extend,
    reassign,
    deliveries,
    history,
    attention,
    checklist_link,
    import_,
)
