"""``carm sign-up SELLER_ID EMAIL``: start a seller's onboarding (a second sign-up keeps it)."""

import argparse

import gateway.onboarding as sellers
from domain.payloads import SignUp
from domain.steps import Step
from domain.validation import parse_strict
from starter.cli.context import Context
from starter.cli.errors import ExitCode
from starter.cli.parser import Subparsers, name_list
from starter.cli.render import render_seller


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("sign-up", help="start a seller's onboarding")
    # No argument type on the ids: SignUp names a bad one as the API does ("invalid sign-up: ...").
    p.add_argument("seller_id", metavar="SELLER_ID")
    p.add_argument("email", metavar="EMAIL")
    p.add_argument("--business-name", metavar="NAME")
    p.add_argument("--returns-account-number", metavar="NUMBER", help="defaults to the seller id")
    p.add_argument("--legacy-poa", action="store_true", help="the seller had an approved POA before CARM")
    # No choices: SignUp names a bad language as the API does.
    p.add_argument(
        "--language",
        metavar="LANG",
        default="en",
        help="en or fr: the seller's messages and page (default en)",
    )
    p.add_argument(
        "--business-number", metavar="BN", help="for sellers who already have one: completes the step"
    )
    p.add_argument("--program-account", metavar="RM", help="their RM account (RM0001 or 123456782RM0001)")
    p.add_argument(
        "--completed-steps",
        type=name_list,
        metavar="STEPS",
        help=f"steps already done, comma-separated ({', '.join(s.value for s in Step)})",
    )
    p.set_defaults(handler=handle)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    fields = {
        "seller_id": args.seller_id,
        "email": args.email,
        "business_name": args.business_name,
        "returns_account_number": args.returns_account_number,
        "legacy_poa": args.legacy_poa,
        "completed_steps": args.completed_steps,
        "language": args.language,
        "business_number": args.business_number,
        "program_account": args.program_account,
    }
    signup = parse_strict(SignUp, {k: v for k, v in fields.items() if v is not None}, "sign-up")
    client = await ctx.client()
    started = await sellers.sign_up(client, signup, task_queue=ctx.settings.temporal_task_queue)
    if started.created:
        ctx.line(f"started: workflow {started.handle.id}")
    else:
        ctx.line(f"already signed up (kept the running workflow): {started.handle.id}")
    ctx.show(render_seller, await sellers.seller_status(client, args.seller_id))
    return ExitCode.OK
