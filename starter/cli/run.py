"""Running one command: :func:`run` in-process (tests), :func:`main` as the ``carm`` program."""

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, NoReturn

from pydantic import ValidationError
from temporalio.client import Client

from config.settings import DEV_SECRETS_FILE, Settings
from starter.cli.context import Context
from starter.cli.errors import CliError, ExitCode, from_service_error
from starter.cli.parser import Parser, ParserExit, printing_to, root_parser
from starter.cli.verbs import VERBS

Handler = Callable[[Context, argparse.Namespace], Awaitable[int]]


def build_parser() -> Parser:
    parser, verbs = root_parser()
    for verb in VERBS:
        verb.register(verbs)
    return parser


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "unknown error"


async def _dispatch(ctx: Context, args: argparse.Namespace) -> int:
    handler: Handler = args.handler
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


def _settings() -> Settings:
    try:
        # The dev stack's development secrets, so checklist links match the API's (make run).
        return Settings(_env_file=DEV_SECRETS_FILE)
    except ValidationError as exc:
        raise CliError(f"invalid settings in the environment: {exc}", ExitCode.INVALID) from None


async def _run(
    argv: Sequence[str], client: Client | None, settings: Settings | None, out: IO[str], err: IO[str]
) -> int:
    with printing_to(out, err):
        try:
            args = build_parser().parse_args(list(argv))
        except ParserExit as done:
            return done.status
    ctx = Context(settings=settings or _settings(), out=out, err=err, _client=client)
    try:
        return await _dispatch(ctx, args)
    except Exception as exc:
        mapped = from_service_error(exc)
        if mapped is None:  # a CliError already, or a bug: run() words it
            raise
        raise mapped from None


async def run(
    argv: Sequence[str],
    *,
    client: Client | None = None,
    settings: Settings | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """Run one command; returns the exit code. Nothing here exits the process."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        return await _run(argv, client, settings, out, err)
    except CliError as exc:
        err.write(f"error: {_one_line(exc.message)}\n")
        return exc.code
    except Exception as exc:  # one clear line, never a traceback, for anything unforeseen
        err.write(f"error: {type(exc).__name__}: {_one_line(str(exc))}\n")
        return ExitCode.ERROR


def main() -> NoReturn:
    """The ``carm`` program (and ``python -m starter``)."""
    try:
        code = asyncio.run(run(sys.argv[1:]))
    except KeyboardInterrupt:
        code = 130  # 128 + SIGINT, as shells report it
    leave(code)


def leave(code: int) -> NoReturn:
    """Exit with ``code`` at once, once what was printed is out.

    Not ``sys.exit``: that runs the interpreter's teardown while the Temporal SDK's runtime
    threads (Rust, Tokio) are still alive, and one of them can then touch a thread state that is
    being finalized — "Fatal Python error: PyGILState_Release", SIGABRT (exit 134) or SIGSEGV
    (139) after a correct answer was printed (temporalio/sdk-python#300). A script reading the
    exit code would see a crash for work that was done. ``os._exit`` skips the teardown: nothing
    of a finished command needs it (no atexit hook, no buffered file but the two streams, which
    are flushed here), and the exit code is the one the command chose.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`carm sellers | head -1`) or stream
            code = code or ExitCode.ERROR
    os._exit(code)
