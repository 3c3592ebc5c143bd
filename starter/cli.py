"""The operations and sign-up command line: ``python -m starter VERB ...``.

Verbs (``python -m starter VERB --help`` for each one's options)::

    sign-up SELLER_ID EMAIL        start a seller's onboarding (keeps a running one)
    event SELLER_ID TYPE [k=v ...] send an onboarding event (nested values with --json)
    status SELLER_ID               where a seller stands and what must happen next
    sellers                        list onboarding sellers, filtered by stage, party, ...
    arrival SHIPMENT_ID SELLER_ID  record a returned parcel at the U.S. warehouse
    parcel SHIPMENT_ID             a parcel's state, due date and business days left
    parcels                        held parcels, by deadline
    decide SHIPMENT_ID ACTION      the seller's decision: dispose, or forward to a U.S. address
    extend SHIPMENT_ID DAYS        operations extend a hold by business days, with a reason
    checklist-link SELLER_ID       the seller's signed checklist page link
    import FILE.csv                bulk import of existing sellers (see starter.bulk_import)

Exit codes: 0 ok, 2 invalid input (bad arguments or values), 3 not allowed now, 4 not found
(no such workflow), 1 anything else. An error is one line on stderr that names the problem.

Tests run it in-process with :func:`run`, passing a client, settings and output streams.
"""

import argparse
import asyncio
import contextlib
import json
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NoReturn

from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.padding import Padding
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from temporalio.client import (
    Client,
    WorkflowExecution,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

import domain.search_attributes as sa
import gateway.holds as holds
import gateway.onboarding as sellers
from config.settings import DEV_SECRETS_FILE, Settings
from domain.arrivals import check_arrival_time
from domain.business_days import BusinessCalendar
from domain.events import EVENT_TYPES, parse_event
from domain.guidance import describe_action, guidance
from domain.identifiers import ID_PATTERN
from domain.onboarding import NextAction, OnboardingStatus
from domain.payloads import Arrival, Decision, ExtendHold, HoldStatus, SignUp
from domain.steps import Step
from domain.validation import parse_strict, parse_with
from domain.visibility import PARTIES, STAGES, parcels_query, sellers_query
from domain.workflow_ids import seller_id_of, shipment_id_of
from gateway.connection import connect
from gateway.errors import GatewayError, NotFound
from starter import bulk_import
from starter.links import checklist_url

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_NOT_ALLOWED = 3
EXIT_NOT_FOUND = 4

_EXIT_BY_TYPE = {"InvalidInput": EXIT_INVALID, "NotAllowedNow": EXIT_NOT_ALLOWED}

ORIGINS = ("us_return", "usps_international")
_ID_RE = re.compile(ID_PATTERN)
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CliError(Exception):
    """An error for the user: one line on stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- argument parsing that never exits the process ---------------------------------------------


class _ParserExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class _Streams:
    out: IO[str]
    err: IO[str]


_streams: list[_Streams] = []


class _Parser(argparse.ArgumentParser):
    """argparse, raising instead of exiting, and printing to the streams given to :func:`run`."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see --help)", EXIT_INVALID)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._print_message(message, sys.stderr)
        raise _ParserExit(status)

    def _print_message(self, message: str, file: Any = None) -> None:
        if not message:
            return
        streams = _streams[-1] if _streams else _Streams(sys.stdout, sys.stderr)
        (streams.out if file is None or file is sys.stdout else streams.err).write(message)


def _seller_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise argparse.ArgumentTypeError(
            f"seller id must be 1–64 characters of A-Z a-z 0-9 _ -, got {value!r}"
        )
    return value


def _shipment_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise argparse.ArgumentTypeError(
            f"shipment id must be 1–64 characters of A-Z a-z 0-9 _ -, got {value!r}"
        )
    return value


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
        return number

    return convert


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return number


def _step_list(value: str) -> list[str]:
    return [s.strip() for s in re.split(r"[,;|]", value) if s.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m starter",
        description="Operate the CARM onboarding and returns-hold service.",
        epilog="Exit codes: 0 ok, 2 invalid input, 3 not allowed now, 4 not found, 1 other errors.",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=30.0,
        metavar="SECONDS",
        help="give up on an unanswered request after this long (default 30; not for import)",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def seller_subject(args: argparse.Namespace) -> str:
        return f"seller '{args.seller_id}' is not signed up (no onboarding workflow)"

    def parcel_subject(args: argparse.Namespace) -> str:
        return f"no returned parcel '{args.shipment_id}' is recorded (no return-hold workflow)"

    p = verbs.add_parser("sign-up", help="start a seller's onboarding")
    p.add_argument("seller_id", metavar="SELLER_ID")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--business-name", metavar="NAME")
    p.add_argument("--returns-account-number", metavar="NUMBER", help="defaults to the seller id")
    p.add_argument("--legacy-poa", action="store_true", help="the seller had an approved POA before CARM")
    p.add_argument(
        "--completed-steps",
        type=_step_list,
        metavar="STEPS",
        help=f"steps already done, comma-separated ({', '.join(s.value for s in Step)})",
    )
    p.set_defaults(handler=cmd_sign_up, subject=seller_subject)

    p = verbs.add_parser("event", help="send an onboarding event to a seller's workflow")
    p.add_argument("seller_id", metavar="SELLER_ID", type=_seller_id)
    p.add_argument("type", metavar="TYPE", help=f"one of: {', '.join(EVENT_TYPES)}")
    p.add_argument("fields", metavar="KEY=VALUE", nargs="*", help="event fields (string values)")
    p.add_argument("--event-id", metavar="ID", help="idempotency key: a redelivery changes nothing")
    p.add_argument(
        "--json", dest="json_fields", metavar="OBJECT", help="event fields as a JSON object (nested values)"
    )
    p.set_defaults(handler=cmd_event, subject=seller_subject)

    p = verbs.add_parser("status", help="a seller's stage, steps, parcels and next actions")
    p.add_argument("seller_id", metavar="SELLER_ID", type=_seller_id)
    p.add_argument("--json", action="store_true", help="print the status JSON as the workflow returns it")
    p.set_defaults(handler=cmd_status, subject=seller_subject)

    p = verbs.add_parser("sellers", help="list sellers being onboarded (Temporal visibility)")
    p.add_argument("--stage", choices=STAGES, help="the seller's stage")
    stalled = p.add_mutually_exclusive_group()
    stalled.add_argument("--stalled", dest="stalled", action="store_const", const=True, help="only stalled")
    stalled.add_argument("--not-stalled", dest="stalled", action="store_const", const=False)
    p.add_argument("--waiting-on", choices=PARTIES, help="a party who must act now")
    cleared = p.add_mutually_exclusive_group()
    cleared.add_argument("--cleared", dest="cleared", action="store_const", const=True)
    cleared.add_argument("--not-cleared", dest="cleared", action="store_const", const=False)
    p.add_argument(
        "--seller", dest="sellers", action="append", type=_seller_id, metavar="SELLER_ID", help="repeatable"
    )
    p.add_argument("--limit", type=_int_at_least(1), default=200, metavar="N", help="at most N (200)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_sellers, subject=None)

    p = verbs.add_parser("arrival", help="record a returned parcel's arrival at the U.S. warehouse")
    p.add_argument("shipment_id", metavar="SHIPMENT_ID")
    p.add_argument("seller_id", metavar="SELLER_ID")
    p.add_argument("--arrived-at", metavar="ISO8601", help="with a UTC offset (default: now)")
    p.add_argument("--origin", choices=ORIGINS)
    p.set_defaults(handler=cmd_arrival, subject=parcel_subject)

    p = verbs.add_parser("parcel", help="a returned parcel's state, due date and business days left")
    p.add_argument("shipment_id", metavar="SHIPMENT_ID", type=_shipment_id)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_parcel, subject=parcel_subject)

    p = verbs.add_parser("parcels", help="held parcels, soonest deadline first")
    p.add_argument("--seller", type=_seller_id, metavar="SELLER_ID")
    p.add_argument(
        "--due-within",
        type=_int_at_least(0),
        metavar="N",
        help="only parcels disposed by the end of the N-th business day from today",
    )
    p.add_argument("--limit", type=_int_at_least(1), default=1000, metavar="N", help="at most N (1000)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_parcels, subject=None)

    p = verbs.add_parser("decide", help="the seller's decision on a held parcel")
    p.add_argument("shipment_id", metavar="SHIPMENT_ID", type=_shipment_id)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("dispose", help="dispose of the parcel now")
    f = actions.add_parser("forward", help="forward the parcel to the seller's own U.S. address")
    f.add_argument("--name", required=True)
    f.add_argument("--street", required=True)
    f.add_argument("--street2")
    f.add_argument("--city", required=True)
    f.add_argument("--state", required=True, help="USPS two-letter code")
    f.add_argument("--postal-code", required=True, help="ZIP or ZIP+4")
    p.set_defaults(handler=cmd_decide, subject=parcel_subject)

    p = verbs.add_parser("extend", help="extend a parcel's hold by some business days")
    p.add_argument("shipment_id", metavar="SHIPMENT_ID", type=_shipment_id)
    p.add_argument("business_days", metavar="BUSINESS_DAYS", type=_int_at_least(1))
    p.add_argument("--reason", required=True, metavar="TEXT")
    p.set_defaults(handler=cmd_extend, subject=parcel_subject)

    p = verbs.add_parser("checklist-link", help="the seller's signed checklist page link")
    p.add_argument("seller_id", metavar="SELLER_ID", type=_seller_id)
    p.set_defaults(handler=cmd_checklist_link, subject=seller_subject, offline=True)

    p = verbs.add_parser("import", help="bulk import existing sellers from a CSV file")
    p.add_argument("file", metavar="FILE.csv", type=Path)
    p.add_argument("--rate", type=_positive_float, metavar="PER_SECOND", help="starts per second")
    p.add_argument("--concurrency", type=_int_at_least(1), default=8, metavar="N", help="(default 8)")
    p.add_argument("--report", type=Path, metavar="REJECTED.csv", help="write rejected rows here")
    p.set_defaults(handler=cmd_import, subject=None, no_timeout=True)
    return parser


# --- the context a verb runs in ----------------------------------------------------------------


@dataclass
class Context:
    settings: Settings
    out: IO[str]
    err: IO[str]
    _client: Client | None = None
    console: Console = field(init=False)

    def __post_init__(self) -> None:
        self.console = _console(self.out)

    async def client(self) -> Client:
        if self._client is None:
            from codec.aes import CodecKeyError

            try:
                self._client = await connect(self.settings)
            except CodecKeyError as err:
                raise CliError(f"PAYLOAD_CODEC_KEYS: {err}") from None
            except RuntimeError as err:
                raise CliError(
                    f"cannot connect to Temporal at {self.settings.temporal_address} "
                    f"(namespace {self.settings.temporal_namespace}): {err}"
                ) from None
        return self._client

    def show(self, draw: Callable[..., None], *args: Any) -> None:
        """Render with rich, without the padding rich leaves at the ends of lines."""
        with self.console.capture() as capture:
            draw(self.console, *args)
        for line in capture.get().splitlines():
            self.out.write(line.rstrip() + "\n")

    def line(self, text: str) -> None:
        self.out.write(text + "\n")

    def json(self, data: Any) -> None:
        self.out.write(json.dumps(data, indent=2, default=str) + "\n")


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _console(stream: IO[str]) -> Console:
    tty = _isatty(stream)
    return Console(
        file=stream,
        width=None if tty else 160,
        markup=False,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


# --- rendering ---------------------------------------------------------------------------------


def _yes_no(value: bool | None) -> str:
    return "yes" if value else "no"


def _list(values: Sequence[object], empty: str = "none") -> str:
    return ", ".join(str(v) for v in values) or empty


class _Fields:
    """Labelled lines, the labels aligned (plain lines: no table padding at the line ends)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def add(self, label: str, value: str) -> None:
        self.rows.append((label, value))

    def print(self, console: Console) -> None:
        width = max((len(label) for label, _ in self.rows), default=0)
        for label, value in self.rows:
            console.print(Text.assemble((label.ljust(width), "bold"), "  ", value))


def render_seller(console: Console, st: OnboardingStatus) -> None:
    console.print(Text.assemble(("Seller ", "bold"), st.seller_id, "  stage: ", (st.stage, "bold")))
    grid = _Fields()
    cleared = _yes_no(st.cleared_for_returns)
    if st.cleared_for_returns and st.legacy_poa and st.stage != "cleared":
        cleared += " (legacy POA, while CARM is completed)"
    grid.add("Cleared for returns", cleared)
    grid.add("Waiting on", _list(st.waiting_on, "nobody"))
    grid.add("Stalled", "yes (operations alerted)" if st.stalled else "no")
    if st.waiting_since is not None:
        grid.add("Waiting since", st.waiting_since.isoformat(timespec="seconds"))
    grid.add("Completed steps", _list(st.completed_steps))
    grid.add("Pending steps", _list(st.pending_steps))
    grid.add("Held parcels", _list(st.held_shipments))
    if st.return_method:
        grid.add("Return method", st.return_method.replace("_", " "))
    grid.print(console)
    actions: list[NextAction] = st.actions or [st.next_action]
    console.print(Text("Next actions:" if len(actions) > 1 else "Next action:", style="bold"))
    for n, action in enumerate(actions, 1):
        g = guidance(action.code)
        party = str(action.party) if action.party is not None else None
        console.print(f"{n}. {describe_action(action.code, party, action.params)}")
        detail = action.params.get("detail") if action.params else None
        if g.instructions:
            console.print(Padding(g.instructions, (0, 0, 0, 3)))
        if detail:
            console.print(Padding(f"Note: {detail}", (0, 0, 0, 3)))
        if g.link:
            console.print(Padding(g.link, (0, 0, 0, 3)), soft_wrap=True)


def render_parcel(console: Console, st: HoldStatus) -> None:
    console.print(
        Text.assemble(
            ("Parcel ", "bold"), st.shipment_id, " of seller ", st.seller_id, ": ", (st.state, "bold")
        )
    )
    grid = _Fields()
    grid.add("Arrived", st.arrived_at.isoformat(timespec="seconds"))
    if st.origin:
        grid.add("Origin", st.origin)
    if st.state == "held":
        if st.disposal_due_on is not None:
            due = st.disposal_due_on
            if st.disposal_due_at is not None:
                due += f" (disposed when the day ends: {st.disposal_due_at.isoformat(timespec='minutes')})"
            grid.add("Due", due)
            grid.add("Business days left", str(st.business_days_left))
        else:
            grid.add("Due", "not set yet")
        if st.closing:
            grid.add("Closing", f"being {st.closing}")
    elif st.outcome_at is not None:
        grid.add("Outcome", f"{st.state} at {st.outcome_at.isoformat(timespec='seconds')}")
    known = {
        True: "yes",
        False: "no (no onboarding workflow: operations must follow up)",
        None: "not yet known",
    }
    grid.add("Seller known", known[st.seller_known])
    if st.extensions:
        for n, ext in enumerate(st.extensions, 1):
            label = "Extensions" if n == 1 else ""
            grid.add(
                label,
                f"+{ext.get('business_days')} business days ({ext.get('from')} → {ext.get('to')}): "
                f"{ext.get('reason')}",
            )
    else:
        grid.add("Extensions", "none")
    grid.print(console)


# --- the verbs ---------------------------------------------------------------------------------


async def cmd_sign_up(ctx: Context, args: argparse.Namespace) -> int:
    client = await ctx.client()
    fields = {
        "seller_id": args.seller_id,
        "email": args.email,
        "business_name": args.business_name,
        "returns_account_number": args.returns_account_number,
        "legacy_poa": args.legacy_poa,
        "completed_steps": args.completed_steps,
    }
    signup = parse_strict(SignUp, {k: v for k, v in fields.items() if v is not None}, "sign-up")
    started = await sellers.sign_up(client, signup, task_queue=ctx.settings.temporal_task_queue)
    handle, created = started.handle, started.created
    if created:
        ctx.line(f"started: workflow {handle.id}")
    else:
        ctx.line(f"already signed up (kept the running workflow): {handle.id}")
    ctx.show(render_seller, await sellers.seller_status(client, args.seller_id))
    return EXIT_OK


def event_payload(args: argparse.Namespace) -> dict[str, Any]:
    """The event from TYPE, KEY=VALUE fields, --json and --event-id; conflicts are refused."""
    event: dict[str, Any] = {"type": args.type}
    if args.json_fields is not None:
        try:
            extra = json.loads(args.json_fields)
        except json.JSONDecodeError as err:
            raise CliError(f"--json is not valid JSON: {err}", EXIT_INVALID) from None
        if not isinstance(extra, dict):
            raise CliError("--json must be a JSON object of event fields", EXIT_INVALID)
        for key, value in extra.items():
            _put(event, key, value)
    for item in args.fields:
        key, sep, value = item.partition("=")
        if not sep or not _FIELD_RE.match(key):
            raise CliError(f"event field {item!r} is not KEY=VALUE", EXIT_INVALID)
        _put(event, key, value)
    if args.event_id is not None:
        _put(event, "event_id", args.event_id)
    return event


def _put(event: dict[str, Any], key: str, value: Any) -> None:
    if key == "type":
        raise CliError("give the event type as TYPE, not as a field", EXIT_INVALID)
    if key in event:
        raise CliError(f"event field '{key}' is given twice", EXIT_INVALID)
    event[key] = value


async def cmd_event(ctx: Context, args: argparse.Namespace) -> int:
    event = event_payload(args)
    parse_event(event)  # refuse a malformed event here, before Temporal is called
    client = await ctx.client()
    st = await sellers.apply_event(client, args.seller_id, event)
    ctx.line(f"applied {args.type} to seller {args.seller_id}")
    ctx.show(render_seller, st)
    return EXIT_OK


async def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    st = await sellers.seller_status(await ctx.client(), args.seller_id)
    if args.json:
        ctx.line(st.model_dump_json())
    else:
        ctx.show(render_seller, st)
    return EXIT_OK


def _seller_row(wf: WorkflowExecution) -> dict[str, Any]:
    attrs = wf.typed_search_attributes
    return {
        "seller_id": attrs.get(sa.SELLER_ID) or seller_id_of(wf.id),
        "workflow_id": wf.id,
        "stage": attrs.get(sa.ONBOARDING_STAGE),
        "waiting_on": list(attrs.get(sa.WAITING_ON) or []),
        "stalled": attrs.get(sa.STALLED),
        "cleared_for_returns": attrs.get(sa.CLEARED_FOR_RETURNS),
    }


async def _listing(client: Client, query: str, limit: int) -> AsyncIterator[WorkflowExecution]:
    try:
        async for wf in client.list_workflows(query, limit=limit, page_size=min(limit, 1000)):
            yield wf
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise CliError(
                f"the visibility store refused the query ({err.message}); are the search attributes "
                "registered in this namespace?",
                EXIT_ERROR,
            ) from None
        raise


async def cmd_sellers(ctx: Context, args: argparse.Namespace) -> int:
    query = sellers_query(
        stage=args.stage,
        stalled=args.stalled,
        waiting_on=args.waiting_on,
        cleared=args.cleared,
        sellers=args.sellers,
    )
    rows = [_seller_row(wf) async for wf in _listing(await ctx.client(), query, args.limit)]
    if args.json:
        ctx.json(rows)
        return EXIT_OK
    if not rows:
        ctx.line("no sellers match")
        return EXIT_OK
    table = Table(box=None, pad_edge=False)
    for column in ("Seller", "Stage", "Waiting on", "Stalled", "Cleared"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(
            row["seller_id"],
            row["stage"] or "(starting)",
            _list(row["waiting_on"], "nobody"),
            _yes_no(row["stalled"]),
            _yes_no(row["cleared_for_returns"]),
        )
    ctx.show(lambda console: console.print(table))
    more = f" (the first {args.limit}; raise --limit for more)" if len(rows) >= args.limit else ""
    ctx.line(f"{len(rows)} seller{'s' if len(rows) != 1 else ''}{more}")
    return EXIT_OK


async def cmd_arrival(ctx: Context, args: argparse.Namespace) -> int:
    client = await ctx.client()
    arrived_at = args.arrived_at or datetime.now(UTC).isoformat()
    fields = {
        "shipment_id": args.shipment_id,
        "seller_id": args.seller_id,
        "arrived_at": arrived_at,
        "origin": args.origin,
    }
    arrival = parse_strict(Arrival, {k: v for k, v in fields.items() if v is not None}, "arrival")
    check_arrival_time(arrival.arrived_at, datetime.now(UTC))
    started = await holds.record_arrival(client, arrival, task_queue=ctx.settings.temporal_task_queue)
    handle, created = started.handle, started.created
    if created:
        ctx.line(f"recorded: workflow {handle.id}")
    else:
        ctx.line(f"already recorded (kept the existing hold): {handle.id}")
    ctx.show(render_parcel, await holds.hold_status(client, args.shipment_id))
    return EXIT_OK


async def cmd_parcel(ctx: Context, args: argparse.Namespace) -> int:
    st = await holds.hold_status(await ctx.client(), args.shipment_id)
    if args.json:
        ctx.line(st.model_dump_json())
    else:
        ctx.show(render_parcel, st)
    return EXIT_OK


def due_cutoff(calendar: BusinessCalendar, now: datetime, business_days: int) -> tuple[date, datetime]:
    """The last due date within ``business_days`` business days of today, and when it ends."""
    last_day = calendar.add_business_days(calendar.local_date(now), business_days)
    return last_day, calendar.end_of_day(last_day)


def _due_at(wf: WorkflowExecution) -> datetime | None:
    return wf.typed_search_attributes.get(sa.DISPOSAL_DUE_AT)


def _is_due_by(wf: WorkflowExecution, bound: datetime) -> bool:
    due_at = _due_at(wf)
    return due_at is not None and due_at <= bound


def _parcel_row(wf: WorkflowExecution, calendar: BusinessCalendar, now: datetime) -> dict[str, Any]:
    attrs = wf.typed_search_attributes
    due_at = _due_at(wf)
    due_on: date | None = None
    left: int | None = None
    if due_at is not None:
        # DisposalDueAt is the moment the due day ends: local midnight starting the next day.
        due_on = calendar.local_date(due_at) - timedelta(days=1)
        with contextlib.suppress(ValueError):  # a date beyond the loaded calendar years
            left = calendar.business_days_between(calendar.local_date(now), due_on)
    return {
        "shipment_id": shipment_id_of(wf.id),
        "seller_id": attrs.get(sa.SELLER_ID),
        "workflow_id": wf.id,
        "disposal_due_at": due_at.isoformat() if due_at else None,
        "disposal_due_on": due_on.isoformat() if due_on else None,
        "business_days_left": left,
    }


async def cmd_parcels(ctx: Context, args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    calendar = ctx.settings.workflow_settings(now.date()).calendar
    due_by: datetime | None = None
    last_day: date | None = None
    if args.due_within is not None:
        last_day, due_by = due_cutoff(calendar, now, args.due_within)
    query = parcels_query(seller=args.seller, due_by=due_by)
    found = [wf async for wf in _listing(await ctx.client(), query, args.limit)]
    if due_by is not None:
        found = [wf for wf in found if _is_due_by(wf, due_by)]
    rows = [_parcel_row(wf, calendar, now) for wf in found]
    rows.sort(key=lambda r: (r["disposal_due_at"] is None, r["disposal_due_at"] or "", r["shipment_id"]))
    if args.json:
        ctx.json(rows)
        return EXIT_OK
    scope = f" due by the end of {last_day.isoformat()}" if last_day else ""
    if not rows:
        ctx.line(f"no held parcels{scope}")
        return EXIT_OK
    table = Table(box=None, pad_edge=False)
    for column in ("Shipment", "Seller", "Due on", "Business days left"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        left = row["business_days_left"]
        table.add_row(
            row["shipment_id"],
            row["seller_id"] or "?",
            row["disposal_due_on"] or "(not set yet)",
            "?" if left is None else str(left),
        )
    ctx.show(lambda console: console.print(table))
    more = f" (the first {args.limit}; raise --limit for more)" if len(rows) >= args.limit else ""
    ctx.line(f"{len(rows)} held parcel{'s' if len(rows) != 1 else ''}{scope}{more}")
    return EXIT_OK


async def cmd_decide(ctx: Context, args: argparse.Namespace) -> int:
    decision: dict[str, Any] = {"action": args.action}
    if args.action == "forward":
        address = {
            "name": args.name,
            "street": args.street,
            "street2": args.street2,
            "city": args.city,
            "state": args.state,
            "postal_code": args.postal_code,
            "country": "US",
        }
        decision["us_address"] = {k: v for k, v in address.items() if v is not None}
    parsed = parse_with(TypeAdapter(Decision), decision, "decision")
    client = await ctx.client()
    st = await holds.decide(client, args.shipment_id, parsed)
    ctx.line(f"{args.action}: parcel {args.shipment_id} is now {st.closing or st.state}")
    ctx.show(render_parcel, st)
    return EXIT_OK


async def cmd_extend(ctx: Context, args: argparse.Namespace) -> int:
    request = parse_strict(
        ExtendHold, {"business_days": args.business_days, "reason": args.reason}, "extension"
    )
    st = await holds.extend_hold(await ctx.client(), args.shipment_id, request)
    ctx.line(f"extended parcel {args.shipment_id} by {request.business_days} business days")
    ctx.show(render_parcel, st)
    return EXIT_OK


async def cmd_checklist_link(ctx: Context, args: argparse.Namespace) -> int:
    try:
        ctx.line(checklist_url(ctx.settings, args.seller_id))
    except ValueError as err:
        raise CliError(str(err)) from None
    return EXIT_OK


async def cmd_import(ctx: Context, args: argparse.Namespace) -> int:
    rate = args.rate if args.rate is not None else ctx.settings.import_rate_per_second
    if not rate > 0:
        raise CliError(f"the import rate must be positive, got {rate}", EXIT_INVALID)
    try:
        rows, rejected = bulk_import.read_file(args.file)
    except bulk_import.ImportFileError as err:
        raise CliError(str(err), EXIT_INVALID) from None
    client = await ctx.client() if rows else None
    progress = Progress(
        TextColumn("importing sellers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_console(ctx.err),
        disable=not _isatty(ctx.err),
        transient=True,
    )
    result = bulk_import.ImportResult(rejected=list(rejected))
    with progress:
        task = progress.add_task("import", total=len(rows) + len(rejected), completed=len(rejected))
        if client is not None:
            await bulk_import.import_rows(
                client,
                rows,
                task_queue=ctx.settings.temporal_task_queue,
                rate=rate,
                concurrency=args.concurrency,
                on_row_done=lambda: progress.advance(task),
                result=result,
            )
    problems = result.problems
    shown = 50
    for p in problems[:shown]:
        ctx.err.write(f"line {p.line}: {p.seller_id or '(no seller id)'}: {p.reason}\n")
    if len(problems) > shown:
        more = f"see {args.report}" if args.report else "use --report FILE for all of them"
        ctx.err.write(f"... and {len(problems) - shown} more ({more})\n")
    if args.report is not None:
        try:
            bulk_import.write_report(args.report, problems)
        except OSError as err:
            ctx.line(result.summary())
            raise CliError(f"cannot write the report {args.report}: {err.strerror or err}") from None
    ctx.line(result.summary())
    if result.failed:
        return EXIT_ERROR
    return EXIT_INVALID if result.rejected else EXIT_OK


# --- running -----------------------------------------------------------------------------------


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "unknown error"


def _from_application_error(err: ApplicationError) -> CliError:
    return CliError(err.message or str(err), _EXIT_BY_TYPE.get(err.type or "", EXIT_ERROR))


def _from_gateway_error(err: GatewayError) -> CliError:
    return CliError(err.message, EXIT_NOT_FOUND if isinstance(err, NotFound) else EXIT_ERROR)


async def _dispatch(ctx: Context, args: argparse.Namespace) -> int:
    handler: Callable[[Context, argparse.Namespace], Awaitable[int]] = args.handler
    if getattr(args, "no_timeout", False):
        return await handler(ctx, args)
    try:
        async with asyncio.timeout(args.timeout):
            return await handler(ctx, args)
    except TimeoutError:
        raise CliError(
            f"no answer within {args.timeout:g}s: is a worker running on task queue "
            f"'{ctx.settings.temporal_task_queue}'? (--timeout to wait longer)"
        ) from None


async def run(
    argv: Sequence[str],
    *,
    client: Client | None = None,
    settings: Settings | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run one command; returns the exit code. Nothing here calls ``sys.exit``."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        # Parsing is synchronous: the streams are this call's for its whole duration.
        _streams.append(_Streams(out, err))
        try:
            args = build_parser().parse_args(list(argv))
        except _ParserExit as done:
            return done.status
        finally:
            _streams.pop()
        try:
            if settings is None:
                settings = Settings(_env_file=DEV_SECRETS_FILE)
        except ValidationError as exc:
            raise CliError(f"invalid settings in the environment: {exc}", EXIT_INVALID) from None
        ctx = Context(settings=settings, out=out, err=err, _client=client)
        try:
            return await _dispatch(ctx, args)
        except ApplicationError as exc:  # InvalidInput / NotAllowedNow
            raise _from_application_error(exc) from None
        except GatewayError as exc:
            raise _from_gateway_error(exc) from None
    except CliError as exc:
        err.write(f"error: {_one_line(exc.message)}\n")
        return exc.code
    except Exception as exc:  # one clear line, never a traceback, for anything unforeseen
        err.write(f"error: {type(exc).__name__}: {_one_line(str(exc))}\n")
        return EXIT_ERROR


def main() -> None:
    try:
        code = asyncio.run(run(sys.argv[1:]))
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
