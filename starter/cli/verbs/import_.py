"""``carm import FILE.csv``: bulk import of existing sellers (the file format: starter.bulk_import)."""

import argparse
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from temporalio.client import Client

from starter import bulk_import
from starter.cli.context import Context, console_for, isatty
from starter.cli.errors import CliError, ExitCode
from starter.cli.parser import Subparsers, int_at_least, positive_float

SHOWN_PROBLEMS = 50
"""Rejected rows printed on stderr; ``--report`` writes every one."""


def register(verbs: Subparsers) -> None:
    p = verbs.add_parser("import", help="bulk import existing sellers from a CSV file")
    p.add_argument("file", metavar="FILE.csv", type=Path)
    p.add_argument("--rate", type=positive_float, metavar="PER_SECOND", help="starts per second")
    p.add_argument("--concurrency", type=int_at_least(1), default=8, metavar="N", help="(default 8)")
    p.add_argument("--report", type=Path, metavar="REJECTED.csv", help="write rejected rows here")
    # An import of thousands of sellers is paced on purpose: --timeout would cut it short.
    p.set_defaults(handler=handle, no_timeout=True)


async def handle(ctx: Context, args: argparse.Namespace) -> int:
    rate = args.rate if args.rate is not None else ctx.settings.import_rate_per_second
    if not rate > 0:
        raise CliError(f"the import rate must be positive, got {rate}", ExitCode.INVALID)
    try:
        rows, rejected = bulk_import.read_file(args.file)
    except bulk_import.ImportFileError as err:
        raise CliError(str(err), ExitCode.INVALID) from None
    # A file with no valid row needs no connection: its rejections are reported all the same.
    client = await ctx.client() if rows else None
    result = bulk_import.ImportResult(rejected=list(rejected))
    await _import(ctx, client, rows, result, rate=rate, concurrency=args.concurrency)
    _report(ctx, result, args.report)
    ctx.line(result.summary())
    if result.failed:
        return ExitCode.ERROR
    return ExitCode.INVALID if result.rejected else ExitCode.OK


async def _import(
    ctx: Context,
    client: Client | None,
    rows: list[bulk_import.Row],
    result: bulk_import.ImportResult,
    *,
    rate: float,
    concurrency: int,
) -> None:
    progress = Progress(
        TextColumn("importing sellers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console_for(ctx.err),
        disable=not isatty(ctx.err),  # a bar is for people: not in logs or captured output
        transient=True,
    )
    with progress:
        done = len(result.rejected)
        task = progress.add_task("import", total=len(rows) + done, completed=done)
        if client is not None:
            await bulk_import.import_rows(
                client,
                rows,
                task_queue=ctx.settings.temporal_task_queue,
                rate=rate,
                concurrency=concurrency,
                on_row_done=lambda: progress.advance(task),
                result=result,
            )


def _report(ctx: Context, result: bulk_import.ImportResult, report: Path | None) -> None:
    problems = result.problems
    for p in problems[:SHOWN_PROBLEMS]:
        ctx.err.write(f"line {p.line}: {p.seller_id or '(no seller id)'}: {p.reason}\n")
    if len(problems) > SHOWN_PROBLEMS:
        more = f"see {report}" if report else "use --report FILE for all of them"
        ctx.err.write(f"... and {len(problems) - SHOWN_PROBLEMS} more ({more})\n")
    if report is None:
        return
    try:
        bulk_import.write_report(report, problems)
    except OSError as err:
        ctx.line(result.summary())
        raise CliError(f"cannot write the report {report}: {err.strerror or err}") from None
