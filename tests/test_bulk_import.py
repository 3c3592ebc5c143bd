"""Bulk import of existing sellers: parsing and validation, pacing, and a real import of 300 rows."""

import asyncio
import csv
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest

from domain.steps import Step
from domain.workflow_ids import seller_workflow_id
from gateway.onboarding import seller_status
from starter.bulk_import import ImportFileError, TokenBucket, read_file, read_rows
from starter.cli import run
from tests.conftest import Stack, new_id

SAMPLE = Path(__file__).parent / "data" / "sellers_sample.csv"
HEADER = "seller_id,email,business_name,returns_account_number,legacy_poa,completed_steps"


async def cli(stack: Stack, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), client=stack.client, settings=stack.settings, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# --- reading and validating (no server) -----------------------------------------------------


def test_sample_file_rows_and_rejections_carry_their_line_numbers() -> None:
    rows, rejected = read_file(SAMPLE)
    assert [(r.line, r.seller_id) for r in rows] == [
        (2, "acme-01"),
        (3, "beaver_02"),
        (5, "maple-03"),
        (11, "heron-09"),  # trailing empty cells are tolerated
    ]
    acme, beaver, maple, heron = rows
    assert acme.fields == {
        "seller_id": "acme-01",
        "email": "owner@acme.example",
        "business_name": "Acme, Inc.",
        "returns_account_number": "RA-1001",
    }
    assert beaver.fields["legacy_poa"] is True
    assert beaver.fields["completed_steps"] == ["business_number", "importer_account"]
    assert maple.fields["completed_steps"] == ["business_number", "importer_account", "carm_registration"]
    assert "legacy_poa" not in heron.fields

    by_line = {r.line: r for r in rejected}
    assert sorted(by_line) == [6, 7, 8, 9, 10, 12, 13]
    assert "seller_id" in by_line[6].reason and by_line[6].seller_id == "bad id"
    assert "email" in by_line[7].reason
    assert by_line[8].reason == "duplicate seller_id: already on line 2"
    assert "legacy_poa" in by_line[9].reason and "maybe" in by_line[9].reason
    assert "completed_steps" in by_line[10].reason and "teleportation" in by_line[10].reason
    assert "7 fields but the header has 6" in by_line[12].reason
    assert "seller_id" in by_line[13].reason and by_line[13].seller_id == ""


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out() -> None:
    rows, rejected = read_rows(["email,seller_id\n", "a@example.com,s-1\n"])
    assert rejected == []
    assert rows[0].fields == {"email": "a@example.com", "seller_id": "s-1"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("seller_id,email,phone\n", "unknown column"),
        ("seller_id,business_name\n", "required column(s) email"),
        ("seller_id,email,email\n", "more than once"),
    ],
)
def test_a_bad_header_refuses_the_whole_file(text: str, problem: str) -> None:
    with pytest.raises(ImportFileError, match=re.escape(problem)):
        read_rows(io.StringIO(text))


def test_a_broken_quote_is_reported_not_raised() -> None:
    rows, rejected = read_rows(io.StringIO(f'{HEADER}\ns-1,a@example.com,"unclosed\n'))
    assert rows == []
    assert len(rejected) == 1 and "malformed CSV" in rejected[0].reason


async def test_token_bucket_paces_acquisitions() -> None:
    bucket = TokenBucket(rate=100)
    started = time.monotonic()
    await asyncio.gather(*(bucket.acquire() for _ in range(21)))
    # One token at once, then one every 10 ms.
    assert time.monotonic() - started >= 0.19


def test_token_bucket_refuses_a_rate_of_zero() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0)


async def test_file_problems_exit_2_with_one_line(dev_stack: Stack, tmp_path: Path) -> None:
    code, _, err = await cli(dev_stack, "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read" in err and err.count("\n") == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("seller_id,mail\n")
    code, _, err = await cli(dev_stack, "import", str(bad))
    assert code == 2 and "unknown column(s) 'mail'" in err
    code, _, err = await cli(dev_stack, "import", str(bad), "--rate", "0")
    assert code == 2 and "--rate" in err


# --- a real import --------------------------------------------------------------------------

STEP_SETS = [
    "",
    "business_number",
    "business_number;importer_account;carm_registration",
    "|".join(s.value for s in Step),
]


def generate(
    prefix: str, count: int = 300
) -> tuple[str, dict[int, tuple[str, str]], dict[str, dict[str, Any]]]:
    """CSV text with ``count`` rows, about 20 of them bad; returns the text, the expected
    rejections (line -> (seller id, word in the reason)) and the good rows by seller id."""
    lines = [HEADER]
    bad: dict[int, tuple[str, str]] = {}
    good: dict[str, dict[str, Any]] = {}
    kinds = ["email", "seller_id", "step", "duplicate", "legacy"]
    n_bad = 0
    for i in range(count):
        line = i + 2
        seller = f"{prefix}-{i:03d}"
        email = f"owner{i}@example.com"
        legacy = ["", "no", "yes", "0", "TRUE"][i % 5]
        steps = STEP_SETS[i % len(STEP_SETS)]
        if i % 15 == 7:
            kind = kinds[n_bad % len(kinds)]
            n_bad += 1
            if kind == "email":
                email = "not an email"
                bad[line] = (seller, "email")
            elif kind == "seller_id":
                seller = f"bad id {i}!"
                bad[line] = (seller, "seller_id")
            elif kind == "step":
                steps = "business_number;teleportation"
                bad[line] = (seller, "completed_steps")
            elif kind == "duplicate":
                seller = f"{prefix}-{i - 1:03d}"
                bad[line] = (seller, f"already on line {line - 1}")
            else:
                legacy = "maybe"
                bad[line] = (seller, "legacy_poa")
        else:
            good[seller] = {"legacy": legacy.lower() in ("yes", "true"), "steps": steps}
        lines.append(f'{seller},{email},"Shop {i}, Inc.",RA{i},{legacy},{steps}')
    return "\n".join(lines) + "\n", bad, good


def read_report(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


async def test_import_of_300_rows_reports_bad_ones_and_a_rerun_creates_nothing(
    dev_stack: Stack, tmp_path: Path
) -> None:
    prefix = new_id("imp")
    text, bad, good = generate(prefix)
    assert len(bad) == 20 and len(good) == 280
    source = tmp_path / "sellers.csv"
    source.write_text(text)
    report = tmp_path / "rejected.csv"
    for seller in good:
        dev_stack.started.append(dev_stack.client.get_workflow_handle(seller_workflow_id(seller)))

    started = time.monotonic()
    code, out, err = await cli(
        dev_stack, "import", str(source), "--rate", "200", "--concurrency", "8", "--report", str(report)
    )
    assert time.monotonic() - started >= 279 / 200  # paced
    assert code == 2, err
    assert out.strip().splitlines()[-1] == "imported 280, kept 0 (already signed up), rejected 20"
    # The rejections on stderr, each naming its line.
    for line, (seller, _) in bad.items():
        assert f"line {line}: {seller}:" in err
    rows = read_report(report)
    assert [int(r["line"]) for r in rows] == sorted(bad)
    for row in rows:
        seller, word = bad[int(row["line"])]
        assert row["seller_id"] == seller
        assert word in row["reason"]

    # The imported sellers are what the file said: legacy POA and completed steps took effect.
    legacy = next(s for s, g in good.items() if g["legacy"] and not g["steps"])
    st = await seller_status(dev_stack.client, legacy)
    assert st.legacy_poa and st.cleared_for_returns and st.stage == "business_number"
    partial = next(s for s, g in good.items() if g["steps"] == STEP_SETS[2] and not g["legacy"])
    partial_status = await seller_status(dev_stack.client, partial)
    assert partial_status.completed_steps == [
        Step.business_number,
        Step.importer_account,
        Step.carm_registration,
    ]
    assert partial_status.stage == "rpp_enrollment" and not partial_status.cleared_for_returns
    complete = next(s for s, g in good.items() if g["steps"] == STEP_SETS[3])
    st = await seller_status(dev_stack.client, complete)
    assert st.stage == "cleared" and st.cleared_for_returns
    first_run = (await dev_stack.client.get_workflow_handle(seller_workflow_id(partial)).describe()).run_id

    # Run it again: every good row is kept, nothing new is started, the same rows are rejected.
    code, out, err = await cli(dev_stack, "import", str(source), "--rate", "200", "--report", str(report))
    assert code == 2
    assert out.strip().splitlines()[-1] == "imported 0, kept 280 (already signed up), rejected 20"
    assert [int(r["line"]) for r in read_report(report)] == sorted(bad)
    assert (await dev_stack.client.get_workflow_handle(seller_workflow_id(partial)).describe()).run_id == (
        first_run
    )
    assert (await seller_status(dev_stack.client, partial)).completed_steps == partial_status.completed_steps


async def test_import_of_a_clean_file_exits_0(dev_stack: Stack, tmp_path: Path) -> None:
    prefix = new_id("imp")
    source = tmp_path / "clean.csv"
    source.write_text(f"{HEADER}\n{prefix}-a,a@example.com,,,,\n{prefix}-b,b@example.com,,,yes,\n")
    for s in ("a", "b"):
        dev_stack.started.append(dev_stack.client.get_workflow_handle(seller_workflow_id(f"{prefix}-{s}")))
    code, out, err = await cli(dev_stack, "import", str(source))
    assert (code, err) == (0, "")
    assert out.strip() == "imported 2, kept 0 (already signed up), rejected 0"


def test_numbers_and_language_are_validated_like_the_events() -> None:
    text = (
        "seller_id,email,language,business_number,program_account\n"
        "s-1,a@example.com,fr,123 456 782,RM0001\n"
        "s-2,b@example.com,fr,123456789,\n"  # a wrong check digit
        "s-3,c@example.com,en,123456782,RT0001\n"  # another program
        "s-4,d@example.com,de,,\n"
        "s-5,e@example.com,,,123456782RM0002\n"  # the full account brings its BN
    )
    rows, rejected = read_rows(io.StringIO(text))
    assert [r.seller_id for r in rows] == ["s-1", "s-5"]
    assert rows[0].fields == {
        "seller_id": "s-1",
        "email": "a@example.com",
        "language": "fr",
        "business_number": "123 456 782",
        "program_account": "RM0001",
    }
    reasons = {r.seller_id: r.reason for r in rejected}
    assert "wrong check digit" in reasons["s-2"]
    assert "RT program" in reasons["s-3"]
    assert "language" in reasons["s-4"]


async def test_an_imported_sellers_broker_handoff_carries_their_numbers(
    dev_stack: Stack, tmp_path: Path
) -> None:
    seller = new_id("imp")
    source = tmp_path / "numbers.csv"
    source.write_text(
        "seller_id,email,language,business_number,program_account\n"
        f"{seller},a@example.com,fr,123 456 782,RM0001\n"
    )
    dev_stack.started.append(dev_stack.client.get_workflow_handle(seller_workflow_id(seller)))
    code, _, err = await cli(dev_stack, "import", str(source))
    assert (code, err) == (0, "")
    status = await seller_status(dev_stack.client, seller)
    assert status.completed_steps == [Step.business_number, Step.importer_account]
    assert status.language == "fr"
    code, _, err = await cli(dev_stack, "event", seller, "carm_registered")
    assert code == 0, err
    async with asyncio.timeout(15):
        while not (handoffs := [h for h in dev_stack.outbox.read("broker") if h.get("seller_id") == seller]):
            await asyncio.sleep(0.1)
    assert (handoffs[0]["business_number"], handoffs[0]["program_account"]) == ("123456782", "RM0001")
