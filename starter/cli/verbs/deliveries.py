"""``carm retry-delivery KEY`` / ``carm abandon-delivery KEY``: a failed delivery, decided.

A delivery given up (refused for good, or still failing a day after its first attempt) waits in
its seller's or parcel's status (``failed_deliveries``) until operations retry it (the same
idempotency key, so a delivery that did arrive after all is not sent twice) or abandon it.
"""

import argparse

import gateway.holds as holds
import gateway.onboarding as sellers
from domain.payloads import DeliveryAction
from domain.validation import parse_strict
from starter.cli.context import Context
from starter.cli.errors import CliError, ExitCode
from starter.cli.parser import Subparsers, seller_id, shipment_id
from starter.cli.render import render_parcel, render_seller


def register(verbs: Subparsers) -> None:
    for verb, words in (
        ("retry-delivery", "try a failed delivery again"),
        ("abandon-delivery", "give up on it"),
    ):
        p = verbs.add_parser(verb, help=f"{words} (its key: see status or attention)")
        p.add_argument("idempotency_key", metavar="KEY")
        whose = p.add_mutually_exclusive_group(required=True)
        whose.add_argument("--seller", metavar="SELLER_ID", type=seller_id)
        whose.add_argument("--parcel", metavar="SHIPMENT_ID", type=shipment_id)
        p.add_argument("--reason", metavar="TEXT")
        p.set_defaults(handler=handle, retry=verb == "retry-delivery")


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    fields = {"idempotency_key": args.idempotency_key, "reason": args.reason, "actor": args.actor}
    action = parse_strict(DeliveryAction, {k: v for k, v in fields.items() if v is not None}, "delivery")
    client = await ctx.client()
    done = "retrying" if args.retry else "abandoned"
    if args.parcel is not None:
        call = holds.retry_delivery if args.retry else holds.abandon_delivery
        ctx.line(f"{done} delivery {args.idempotency_key} of parcel {args.parcel}")
        ctx.show(render_parcel, await call(client, args.parcel, action))
        return ExitCode.OK
    if args.seller is None:
        raise CliError("give --seller or --parcel", ExitCode.INVALID)
    event = {
        "type": "delivery_retried" if args.retry else "delivery_abandoned",
        **action.model_dump(exclude_none=True),
    }
    ctx.line(f"{done} delivery {args.idempotency_key} of seller {args.seller}")
    ctx.show(render_seller, await sellers.apply_event(client, args.seller, event))
    return ExitCode.OK
