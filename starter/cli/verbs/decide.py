"""``carm decide SHIPMENT_ID dispose|forward``: the seller's decision on a held parcel."""

import argparse
from typing import Any

import gateway.holds as holds
from domain.payloads import DECISIONS, Decision
from domain.validation import parse_with
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.parser import Subparsers, shipment_id
from starter.cli.render import render_parcel


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("decide", help="the seller's decision on a held parcel")
    p.add_argument("shipment_id", metavar="SHIPMENT_ID", type=shipment_id)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("dispose", help="dispose of the parcel now")
    f = actions.add_parser("forward", help="forward the parcel to the seller's own U.S. address")
    f.add_argument("--name", required=True)
    f.add_argument("--street", required=True)
    f.add_argument("--street2")
    f.add_argument("--city", required=True)
    f.add_argument("--state", required=True, help="USPS two-letter code")
    f.add_argument("--postal-code", required=True, help="ZIP or ZIP+4")
    p.set_defaults(handler=handle)


def decision_of(args: argparse.Namespace) -> Decision:
    decision: dict[str, Any] = {"action": args.action, "actor": args.actor}
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
    parsed: Decision = parse_with(DECISIONS, decision, "decision")
    return parsed


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    st = await holds.decide(await ctx.client(), args.shipment_id, decision_of(args))
    ctx.line(f"{args.action}: parcel {args.shipment_id} is now {st.closing or st.state}")
    ctx.show(render_parcel, st)
    return ExitCode.OK
