"""``carm checklist-link SELLER_ID``: the seller's signed checklist page link (offline)."""

import argparse

from starter.cli.context import Context
from starter.cli.errors import CliError, ExitCode
from starter.cli.parser import Subparsers, seller_id
from starter.links import checklist_url


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("checklist-link", help="the seller's signed checklist page link")
    p.add_argument("seller_id", metavar="SELLER_ID", type=seller_id)
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    try:
        ctx.line(checklist_url(ctx.settings, args.seller_id))
    except ValueError as err:  # no key to sign with: a setting is missing
        raise CliError(str(err)) from None
    return ExitCode.OK
