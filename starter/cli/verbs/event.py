"""``carm event SELLER_ID TYPE [KEY=VALUE ...]``: send an onboarding event to a seller's workflow."""

import argparse
import json
import re
import textwrap
from collections.abc import Iterator
from typing import Any

import gateway.onboarding as sellers
from domain.docs import EventField, event_fields
from domain.events import EVENT_TYPES, parse_event
from starter.cli.context import Context
from starter.cli.errors import CliError, ExitCode
from starter.cli.parser import Subparsers, seller_id
from starter.cli.render import render_seller

_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WIDTH = 100


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "event",
        help="send an onboarding event to a seller's workflow",
        # The event list below is laid out here, not re-wrapped by argparse.
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=events_help(),
    )
    p.add_argument("seller_id", metavar="SELLER_ID", type=seller_id)
    p.add_argument("type", metavar="TYPE", help="the event type (listed below with its fields)")
    p.add_argument("fields", metavar="KEY=VALUE", nargs="*", help="event fields (string values)")
    p.add_argument("--event-id", metavar="ID", help="idempotency key: a redelivery changes nothing")
    p.add_argument(
        "--json", dest="json_fields", metavar="OBJECT", help="event fields as a JSON object (nested values)"
    )
    p.set_defaults(handler=handle)


def events_help() -> str:
    """Every event type with the fields it takes, from the event models (domain.docs)."""
    lines = [
        "event types and their fields (KEY=VALUE; an object, such as us_address, with --json):",
    ]
    for kind in EVENT_TYPES:
        fields = event_fields(kind)
        lines.append(f"  {kind}" + ("" if fields else "  (no fields)"))
        for field in fields:
            lines.extend(_field_lines(field, indent=4))
    lines.append("")
    lines.append("example: carm event maple-goods importer_account_provided program_account=RM0001")
    return "\n".join(lines)


def _field_lines(field: EventField, indent: int) -> Iterator[str]:
    need = "required" if field.required else "optional"
    words = _plain(field.description)
    if field.values:
        words += f" One of: {', '.join(field.values)}."
    if field.members:
        words += (
            " An object of: " + ", ".join(m.name + ("" if m.required else "?") for m in field.members) + "."
        )
    head = f"{' ' * indent}{field.name} ({need})"
    yield from textwrap.wrap(
        words.strip() or "-",
        width=_WIDTH,
        initial_indent=f"{head}  ",
        subsequent_indent=" " * (indent + 4),
        break_on_hyphens=False,
    )


def _plain(text: str) -> str:
    """Docstring markup (``x``) as a terminal shows it."""
    return text.replace("``", "")


def event_payload(args: argparse.Namespace) -> dict[str, Any]:
    """The event from TYPE, KEY=VALUE fields, --json and --event-id; conflicts are refused."""
    event: dict[str, Any] = {"type": args.type}
    if args.json_fields is not None:
        try:
            extra = json.loads(args.json_fields)
        except json.JSONDecodeError as err:
            raise CliError(f"--json is not valid JSON: {err}", ExitCode.INVALID) from None
        if not isinstance(extra, dict):
            raise CliError("--json must be a JSON object of event fields", ExitCode.INVALID)
        for key, value in extra.items():
            _put(event, key, value)
    for item in args.fields:
        key, sep, value = item.partition("=")
        if not sep or not _FIELD_RE.match(key):
            raise CliError(f"event field {item!r} is not KEY=VALUE", ExitCode.INVALID)
        _put(event, key, value)
    if args.event_id is not None:
        _put(event, "event_id", args.event_id)
    event.setdefault("actor", args.actor)
    return event


def _put(event: dict[str, Any], key: str, value: Any) -> None:
    if key == "type":
        raise CliError("give the event type as TYPE, not as a field", ExitCode.INVALID)
    if key in event:
        raise CliError(f"event field '{key}' is given twice", ExitCode.INVALID)
    event[key] = value


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    event = event_payload(args)
    parse_event(event)  # refuse a malformed event here, before Temporal is called
    st = await sellers.apply_event(await ctx.client(), args.seller_id, event)
    ctx.line(f"applied {args.type} to seller {args.seller_id}")
    ctx.show(render_seller, st)
    return ExitCode.OK
