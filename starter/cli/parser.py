"""argparse that never exits the process, and the argument types the verbs share.

argparse's habit is to print and call ``sys.exit``; here a bad argument raises :class:`CliError`
(exit code 2), ``--help`` and ``--version`` raise :class:`ParserExit`, and what argparse prints
goes to the streams of the :func:`~starter.cli.run.run` call that is parsing, so tests can run the
command line in-process.
"""

import argparse
import getpass
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any, NoReturn, TypeAlias

from domain.identifiers import ID_PATTERN
from starter.cli.errors import CliError, ExitCode, exit_codes_line

PROG = "carm"
DISTRIBUTION = "carm-returns"
_ID_RE = re.compile(ID_PATTERN)


class ParserExit(Exception):
    """argparse is done (``--help``, ``--version``): leave with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class _Streams:
    out: IO[str]
    err: IO[str]


# A context variable, not a global: two runs parsing at once (tests, threads) keep their streams.
_streams: ContextVar[_Streams | None] = ContextVar("carm_cli_streams", default=None)


@contextmanager
def printing_to(out: IO[str], err: IO[str]) -> Iterator[None]:
    """What argparse prints while parsing in this block goes to ``out`` and ``err``."""
    token = _streams.set(_Streams(out, err))
    try:
        yield
    finally:
        _streams.reset(token)


class Parser(argparse.ArgumentParser):
    """argparse, raising instead of exiting, printing to the streams of :func:`printing_to`."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{self.prog}: {message} (see --help)", ExitCode.INVALID)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._print_message(message, sys.stderr)
        raise ParserExit(status)

    def _print_message(self, message: str, file: Any = None) -> None:
        if not message:
            return
        streams = _streams.get() or _Streams(sys.stdout, sys.stderr)
        (streams.out if file is None or file is sys.stdout else streams.err).write(message)


Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed: make venv)"


def root_parser() -> tuple[Parser, Subparsers]:
    """The program's own options, and the sub-parsers each verb adds itself to."""
    parser = Parser(
        prog=PROG,
        description="Operate the CARM onboarding and returns-hold service.",
        epilog=exit_codes_line(),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="give up on an unanswered request after this long (default 30; not for import)",
    )
    parser.add_argument(
        "--actor",
        default=default_actor(),
        metavar="NAME",
        help="who sends the request, kept in the audit (default: your OS user name)",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    return parser, verbs


def default_actor() -> str:
    """The OS user: who ran the command, as the audit will show it."""
    try:
        return getpass.getuser()[:128] or "operations"
    except (KeyError, OSError):  # no user name in this environment (a bare container)
        return "operations"


# --- argument types ----------------------------------------------------------------------------


def _identifier(what: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if not _ID_RE.match(value):
            raise argparse.ArgumentTypeError(
                f"{what} must be 1–64 characters of A-Z a-z 0-9 _ -, got {value!r}"
            )
        return value

    return convert


seller_id = _identifier("seller id")
shipment_id = _identifier("shipment id")


def int_at_least(minimum: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
        return number

    return convert


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return number


def name_list(value: str) -> list[str]:
    """``a,b`` (or ``;`` or ``|`` between them): names, blanks dropped."""
    return [s.strip() for s in re.split(r"[,;|]", value) if s.strip()]
