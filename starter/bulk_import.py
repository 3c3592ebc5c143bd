"""Bulk import of existing sellers from a CSV file (``carm import FILE.csv``).

The file's header names the columns (any order; only ``seller_id`` and ``email`` are required)::

    seller_id,email,business_name,returns_account_number,legacy_poa,completed_steps,language,
    business_number,program_account

``legacy_poa`` is true/false/yes/no/1/0 or empty; ``completed_steps`` lists step names separated
by ``;`` or ``|``; ``language`` is ``en`` or ``fr`` (default ``en``); ``business_number`` and
``program_account`` are validated as the events are (check digit, RM program, the account of that
business number) and complete their steps, so the seller's broker handoff carries them. Every
row is validated with the same ``SignUp`` model the command line and
the API sign sellers up with (and again just before it is started). A bad row is
reported with its line number and the reason, and the import goes on. A second row with the same
seller id is reported as a duplicate. Re-running an import is harmless: a seller whose onboarding
is already running is counted as *kept*, not started again.

Starts are paced by a token bucket (``rate`` per second) and run at most ``concurrency`` at a
time, so an import of thousands of sellers does not flood the Temporal server.
"""

import asyncio
import csv
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.exceptions import ApplicationError

import gateway.onboarding as sellers
from domain.errors import InvalidInput
from domain.payloads import SignUp
from domain.steps import Step
from domain.validation import parse_strict

COLUMNS = (
    "seller_id",
    "email",
    "business_name",
    "returns_account_number",
    "legacy_poa",
    "completed_steps",
    "language",
    "business_number",
    "program_account",
)
REQUIRED_COLUMNS = ("seller_id", "email")
REPORT_COLUMNS = ("line", "seller_id", "reason")

_TRUE = {"true", "yes", "1", "y", "t"}
_FALSE = {"false", "no", "0", "n", "f", ""}
_STEP_SEPARATORS = re.compile(r"[;|]")
_STEP_NAMES = tuple(s.value for s in Step)


class ImportFileError(Exception):
    """The file as a whole cannot be imported: unreadable, empty, or a header that does not fit."""


@dataclass(frozen=True)
class Row:
    """One row that passed validation: its CSV line and the sign-up fields."""

    line: int
    seller_id: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Rejection:
    line: int
    seller_id: str
    reason: str


@dataclass
class ImportResult:
    imported: int = 0
    """Sellers whose onboarding was started by this import."""
    kept: int = 0
    """Sellers already signed up: their running workflow was kept."""
    rejected: list[Rejection] = field(default_factory=list)
    """Rows with bad values, or duplicates of an earlier row."""
    failed: list[Rejection] = field(default_factory=list)
    """Valid rows that could not be started (Temporal errors); a re-run retries them."""

    def summary(self) -> str:
        line = (
            f"imported {self.imported}, kept {self.kept} (already signed up), rejected {len(self.rejected)}"
        )
        if self.failed:
            line += f", failed {len(self.failed)} (Temporal errors: run the import again)"
        return line

    @property
    def problems(self) -> list[Rejection]:
        return sorted([*self.rejected, *self.failed], key=lambda r: r.line)


# --- reading and validating ---------------------------------------------------------------------


def parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(
        f"legacy_poa must be true/false/yes/no/1/0 or empty, got '{value}'",
        code="bool_parsing",
        field="legacy_poa",
        value=value,
    )


def parse_steps(value: str) -> list[str] | None:
    steps = [s.strip() for s in _STEP_SEPARATORS.split(value) if s.strip()]
    unknown = [s for s in steps if s not in _STEP_NAMES]
    if unknown:
        # SignUp would refuse them too, without saying which one is wrong.
        raise InvalidInput(
            f"completed_steps: unknown step(s) {', '.join(repr(s) for s in unknown)}; "
            f"expected names among: {', '.join(_STEP_NAMES)}",
            code="unknown_step",
            field="completed_steps",
            value=unknown,
        )
    return steps or None


def row_fields(record: dict[str, str]) -> dict[str, Any]:
    """The sign-up fields of one CSV record (empty cells are left out)."""
    fields: dict[str, Any] = {}
    for name, raw in record.items():
        value = (raw or "").strip()
        if name == "legacy_poa":
            if parse_bool(value):
                fields["legacy_poa"] = True
        elif name == "completed_steps":
            steps = parse_steps(value)
            if steps:
                fields["completed_steps"] = steps
        elif value:
            fields[name] = value
    return fields


def _check_header(header: list[str] | None) -> list[str]:
    if not header:
        raise ImportFileError("the file is empty: expected a header line " + ",".join(COLUMNS))
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise ImportFileError(
            f"unknown column(s) {', '.join(repr(n) for n in unknown)} in the header; "
            f"expected: {','.join(COLUMNS)}"
        )
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise ImportFileError(f"column(s) {', '.join(doubled)} appear more than once in the header")
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    if missing:
        raise ImportFileError(f"the header lacks the required column(s) {', '.join(missing)}")
    return names


def read_rows(lines: Iterable[str]) -> tuple[list[Row], list[Rejection]]:
    """Validate every record; returns the rows to sign up and the rejected ones (by line)."""
    reader = csv.reader(lines, strict=True)
    try:
        header = _check_header(next(reader, None))
    except csv.Error as err:
        raise ImportFileError(f"line 1: {err}") from None
    rows: list[Row] = []
    rejected: list[Rejection] = []
    first_line: dict[str, int] = {}
    while True:
        line = reader.line_num + 1  # where the record starts (a quoted field may span lines)
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            # An unclosed quote swallows the rest of the file: report it and stop reading.
            rejected.append(Rejection(line, "", f"malformed CSV from this line on: {err}"))
            break
        if not any(v.strip() for v in values):
            continue  # a blank line
        record = dict(zip(header, values, strict=False))
        seller_id = (record.get("seller_id") or "").strip()
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            rejected.append(
                Rejection(line, seller_id, f"{len(values)} fields but the header has {len(header)}")
            )
            continue
        if seller_id and seller_id in first_line:
            rejected.append(
                Rejection(line, seller_id, f"duplicate seller_id: already on line {first_line[seller_id]}")
            )
            continue
        if seller_id:
            first_line[seller_id] = line
        try:
            fields = row_fields(record)
            # The very model (and message) the starter client validates with.
            parse_strict(SignUp, fields, "sign-up")
        except ApplicationError as err:
            rejected.append(Rejection(line, seller_id, err.message))
            continue
        rows.append(Row(line, seller_id, fields))
    return rows, rejected


def read_file(path: Path) -> tuple[list[Row], list[Rejection]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return read_rows(handle)
    except OSError as err:
        raise ImportFileError(f"cannot read {path}: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ImportFileError(f"{path} is not UTF-8 text: {err.reason} at byte {err.start}") from None


def write_report(path: Path, problems: Iterable[Rejection]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for p in sorted(problems, key=lambda r: r.line):
            writer.writerow([p.line, p.seller_id, p.reason])


# --- pacing -----------------------------------------------------------------------------------


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts of at most ``burst``."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, burst)
        self._clock = clock
        self._tokens = self.capacity
        self._last = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        # Waiters queue on the lock, so tokens are handed out in arrival order.
        async with self._lock:
            while True:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)


# --- importing --------------------------------------------------------------------------------


async def _start(client: Client, row: Row, task_queue: str, result: ImportResult) -> None:
    """Sign one row up and count it; never raises, so one failed start does not stop the import."""
    try:
        signup = parse_strict(SignUp, row.fields, "sign-up")
        created = (await sellers.sign_up(client, signup, task_queue=task_queue)).created
    except InvalidInput as err:
        result.rejected.append(Rejection(row.line, row.seller_id, err.message))
    except ApplicationError as err:
        result.failed.append(Rejection(row.line, row.seller_id, f"not imported: {err.message}"))
    except Exception as err:  # a failed start must not stop the import
        message = getattr(err, "message", None) or str(err) or type(err).__name__
        result.failed.append(Rejection(row.line, row.seller_id, f"not imported: {message}"))
    else:
        if created:
            result.imported += 1
        else:
            result.kept += 1


async def import_rows(
    client: Client,
    rows: list[Row],
    *,
    task_queue: str,
    rate: float,
    concurrency: int = 8,
    on_row_done: Callable[[], None] | None = None,
    result: ImportResult | None = None,
) -> ImportResult:
    """Sign every row up, paced and bounded; never stops on a bad row or a failed start."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    result = result if result is not None else ImportResult()
    bucket = TokenBucket(rate)
    pending: Iterator[Row] = iter(rows)

    async def worker() -> None:
        # One event loop thread: the shared iterator needs no lock.
        for row in pending:
            await bucket.acquire()
            await _start(client, row, task_queue, result)
            if on_row_done is not None:
                on_row_done()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(rows)) or 1)))
    result.rejected.sort(key=lambda r: r.line)
    result.failed.sort(key=lambda r: r.line)
    return result
