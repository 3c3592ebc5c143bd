"""``carm checklist-link SELLER_ID``: a fresh signed link to the seller's checklist page.

The link is minted for the seller's current link epoch (it moves on at an e-mail change), so the
seller's status is asked first; it works for ``CHECKLIST_LINK_DAYS``.
"""

import argparse

import gateway.onboarding as sellers
from starter.cli.context import Context
from starter.cli.errors import CliError, ExitCode
from starter.cli.parser import Subparsers, seller_id
from starter.links import checklist_keys, checklist_url


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("checklist-link", help="a fresh signed link to the seller's checklist page")
    p.add_argument("seller_id", metavar="SELLER_ID", type=seller_id)
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    try:
        checklist_keys(ctx.settings)
    except ValueError as err:  # no key to sign with: a setting is missing
        raise CliError(str(err)) from None
    status = await sellers.seller_status(await ctx.client(), args.seller_id)
    ctx.line(checklist_url(ctx.settings, args.seller_id, epoch=status.link_epoch, nonce=status.link_nonce))
    return ExitCode.OK
