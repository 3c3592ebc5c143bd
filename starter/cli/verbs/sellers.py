"""``carm sellers``: the sellers being onboarded, filtered by stage, party, stalled, cleared."""

import argparse
from typing import Any

from temporalio.client import WorkflowExecution

import domain.search_attributes as sa
from domain.visibility import PARTIES, STAGES, sellers_query
from domain.workflow_ids import seller_id_of
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.listing import listing, more_hint
from starter.cli.parser import Subparsers, int_at_least, seller_id
from starter.cli.render import plural, render_sellers


def register(verbs: Subparsers) -> None:
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
        "--seller", dest="sellers", action="append", type=seller_id, metavar="SELLER_ID", help="repeatable"
    )
    p.add_argument("--limit", type=int_at_least(1), default=200, metavar="N", help="at most N (200)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=handle)


def seller_row(wf: WorkflowExecution) -> dict[str, Any]:
    attrs = wf.typed_search_attributes
    return {
        "seller_id": attrs.get(sa.SELLER_ID) or seller_id_of(wf.id),
        "workflow_id": wf.id,
        "stage": attrs.get(sa.ONBOARDING_STAGE),
        "waiting_on": list(attrs.get(sa.WAITING_ON) or []),
        "stalled": attrs.get(sa.STALLED),
        "cleared_for_returns": attrs.get(sa.CLEARED_FOR_RETURNS),
    }


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    query = sellers_query(
        stage=args.stage,
        stalled=args.stalled,
        waiting_on=args.waiting_on,
        cleared=args.cleared,
        sellers=args.sellers,
    )
    rows = [seller_row(wf) async for wf in listing(await ctx.client(), query, args.limit)]
    if args.json:
        ctx.json(rows)
    elif not rows:
        ctx.line("no sellers match")
    else:
        ctx.show(render_sellers, rows)
        ctx.line(plural(len(rows), "seller") + more_hint(len(rows), args.limit))
    return ExitCode.OK
