"""The command line, run in-process against the real dev server and a test worker."""

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from stdnum import luhn
from stdnum.ca import bn as stdnum_bn

from config.settings import Settings
from domain.errors import InvalidInput, NotAllowedNow
from domain.onboarding import OnboardingStatus
from domain.payloads import HoldStatus
from domain.steps import Step
from domain.visibility import parcels_query, sellers_query
from domain.workflow_ids import hold_workflow_id, seller_workflow_id, shipment_id_of
from gateway.errors import NotFound, QueryFailed, TimedOut, Unavailable
from gateway.holds import hold_status as parcel_status
from gateway.onboarding import seller_status
from starter.cli import run
from starter.cli.errors import ExitCode, from_service_error
from starter.links import checklist_keys, read_checklist_token
from testing.probes import wait_for
from tests.conftest import Stack, new_id

ALL_STEPS = ",".join(s.value for s in Step)
ADDRESS_ARGS = [
    "--name",
    "Jane Seller",
    "--street",
    "1 Main St",
    "--city",
    "Blaine",
    "--state",
    "WA",
    "--postal-code",
    "98230",
]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def text(self) -> str:
        """The output with runs of spaces collapsed (column widths are not asserted)."""
        return "\n".join(" ".join(line.split()) for line in self.out.splitlines())


async def cli(stack: Stack, *argv: str, settings: Settings | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), client=stack.client, settings=settings or stack.settings, out=out, err=err)
    return Result(code, out.getvalue(), err.getvalue())


async def signed_up(stack: Stack, *extra: str) -> str:
    """A seller signed up through the command line (terminated when the test ends)."""
    seller = new_id("s")
    result = await cli(stack, "sign-up", seller, "owner@example.com", *extra)
    assert result.code == 0, result.err
    stack.started.append(stack.client.get_workflow_handle(seller_workflow_id(seller)))
    return seller


async def arrived(stack: Stack, seller: str, *extra: str) -> str:
    shipment = new_id("p")
    result = await cli(stack, "arrival", shipment, seller, *extra)
    assert result.code == 0, result.err
    stack.started.append(stack.client.get_workflow_handle(hold_workflow_id(shipment)))
    return shipment


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    async with asyncio.timeout(seconds):
        while not await check():
            await asyncio.sleep(0.2)


def assert_one_error_line(result: Result, code: int, *words: str) -> None:
    assert result.code == code, (result.out, result.err)
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    for word in words:
        assert word in result.err


def other_valid_bn() -> str:
    """A valid business number other than 123456782."""
    for n in range(10000000, 99999999):
        candidate = f"{n}{luhn.calc_check_digit(str(n))}"
        if stdnum_bn.is_valid(candidate) and candidate != "123456782":
            return candidate
    raise AssertionError("no BN found")


# --- sign-up and onboarding events ------------------------------------------------------------


async def test_sign_up_shows_the_status_and_a_second_sign_up_keeps_the_workflow(dev_stack: Stack) -> None:
    seller = new_id("s")
    dev_stack.started.append(dev_stack.client.get_workflow_handle(seller_workflow_id(seller)))
    first = await cli(dev_stack, "sign-up", seller, "owner@example.com", "--business-name", "Maple Goods")
    assert first.code == 0, first.err
    assert first.out.startswith(f"started: workflow seller-onboarding-{seller}")
    assert "stage: business_number" in first.out
    assert "1. seller: Give us your Business Number" in first.out
    assert "https://www.canada.ca/" in first.out  # the guidance link

    again = await cli(dev_stack, "sign-up", seller, "owner@example.com")
    assert again.code == 0
    assert again.out.startswith("already signed up (kept the running workflow)")


async def test_sign_up_of_an_imported_seller_and_a_legacy_one(dev_stack: Stack) -> None:
    cleared = await signed_up(dev_stack, "--completed-steps", ALL_STEPS)
    assert (await seller_status(dev_stack.client, cleared)).stage == "cleared"
    legacy = await signed_up(dev_stack, "--legacy-poa", "--returns-account-number", "RA-77")
    st = await seller_status(dev_stack.client, legacy)
    assert st.legacy_poa and st.cleared_for_returns


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["sign-up", "bad id!", "owner@example.com"], ["seller_id"]),
        (["sign-up", "s-ok", "not-an-email"], ["email"]),
        (["sign-up", "s-ok", "owner@example.com", "--completed-steps", "warp_drive"], ["completed_steps"]),
    ],
)
async def test_sign_up_refuses_bad_input_before_starting_anything(
    dev_stack: Stack, argv: list[str], words: list[str]
) -> None:
    result = await cli(dev_stack, *argv)
    assert_one_error_line(result, 2, "invalid sign-up", *words)


async def test_events_with_fields_json_and_event_ids(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    result = await cli(dev_stack, "event", seller, "business_number_provided", "business_number=123 456 782")
    assert result.code == 0, result.err
    assert "applied business_number_provided" in result.out
    assert "stage: importer_account" in result.out
    assert "Add your import-export program account (RM)" in result.out

    args = ["event", seller, "importer_account_provided", "program_account=RM0001", "--event-id", "e-1"]
    result = await cli(dev_stack, *args)
    assert result.code == 0 and "stage: carm_registration" in result.out
    again = await cli(dev_stack, *args)  # a redelivery: acknowledged, nothing changes
    assert again.code == 0 and "stage: carm_registration" in again.out

    opting = await signed_up(dev_stack)
    address = {"name": "Jane", "street": "1 Main St", "city": "Blaine", "state": "WA", "postal_code": "98230"}
    result = await cli(
        dev_stack,
        "event",
        opting,
        "no_business_number",
        "return_method=own_us_address",
        "--json",
        json.dumps({"us_address": address}),
    )
    assert result.code == 0, result.err
    assert "stage: opted_out" in result.out and "own us address" in result.out


async def test_a_bad_business_number_exits_2_with_the_check_digit_message(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    result = await cli(dev_stack, "event", seller, "business_number_provided", "business_number=123456789")
    assert_one_error_line(result, 2, "check digit")
    assert (await seller_status(dev_stack.client, seller)).stage == "business_number"


async def test_a_rejection_by_the_workflow_validator_keeps_its_type_and_message(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    assert (
        await cli(dev_stack, "event", seller, "business_number_provided", "business_number=123456782")
    ).code == 0
    # Well formed, so only the workflow can tell: the RM account belongs to another BN.
    result = await cli(
        dev_stack, "event", seller, "importer_account_provided", f"program_account={other_valid_bn()}RM0001"
    )
    assert_one_error_line(result, 2, "belongs to business number")


async def test_an_event_too_early_exits_3(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    result = await cli(dev_stack, "event", seller, "poa_approved")
    assert_one_error_line(result, 3, "poa_approval cannot be completed before")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["event", "S", "warp_drive_engaged"], ["unknown event type 'warp_drive_engaged'"]),
        (["event", "S", "poa_denied", "reason"], ["not KEY=VALUE"]),
        (["event", "S", "poa_denied", "reason=other", "--json", "[1]"], ["JSON object"]),
        (["event", "S", "poa_denied", "reason=other", "--json", "{"], ["not valid JSON"]),
        (["event", "S", "poa_denied", "reason=other", "--json", '{"reason": "other"}'], ["given twice"]),
        (["event", "S", "carm_registered", "colour=blue"], ["unknown field"]),
        (["event", "bad id", "carm_registered"], ["seller id must be"]),
        (["status", "x' OR 'a'='a"], ["seller id must be"]),
        (["sellers", "--stage", "x' OR 1=1"], ["invalid choice"]),
        (["sellers", "--waiting-on", "customs"], ["invalid choice"]),
        (["sellers", "--seller", "a' OR 'a'='a"], ["seller id must be"]),
        (["sellers", "--cleared", "--not-cleared"], ["not allowed with"]),
        (["parcels", "--due-within", "-1"], ["at least 0"]),
        (["extend", "p-1", "0", "--reason", "x"], ["at least 1"]),
        (["extend", "p-1", "3"], ["--reason"]),
        (["decide", "p-1", "burn"], ["invalid choice"]),
        (["decide", "p-1", "forward", "--name", "Jane"], ["--street"]),
        (["arrival", "p-1", "s-1", "--arrived-at", "2025-12-19T10:00:00"], ["arrived_at", "timezone"]),
        (["arrival", "p-1", "s-1", "--origin", "mars"], ["invalid choice"]),
        (["frobnicate"], ["invalid choice"]),
        ([], ["required"]),
    ],
)
async def test_bad_arguments_exit_2_with_one_line(
    dev_stack: Stack, argv: list[str], words: list[str]
) -> None:
    assert_one_error_line(await cli(dev_stack, *argv), 2, *words)


async def test_help_goes_to_out_and_exits_0(dev_stack: Stack) -> None:
    result = await cli(dev_stack, "--help")
    assert result.code == 0 and "sign-up" in result.out and "import" in result.out and result.err == ""
    result = await cli(dev_stack, "decide", "--help")
    assert result.code == 0 and "forward" in result.out


async def test_unknown_seller_or_parcel_exits_4(dev_stack: Stack) -> None:
    ghost = new_id("ghost")
    assert_one_error_line(
        await cli(dev_stack, "status", ghost), 4, f"no seller '{ghost}': they have not signed up"
    )
    assert_one_error_line(await cli(dev_stack, "event", ghost, "carm_registered"), 4, "not signed up")
    assert_one_error_line(await cli(dev_stack, "parcel", ghost), 4, f"no returned parcel '{ghost}'")
    assert_one_error_line(await cli(dev_stack, "decide", ghost, "dispose"), 4, "no returned parcel")
    assert_one_error_line(
        await cli(dev_stack, "extend", ghost, "2", "--reason", "x"), 4, "no returned parcel"
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("named problem", code="x"), 2),
        (NotAllowedNow("named problem", code="x"), 3),
        (NotFound("named problem"), 4),
        (Unavailable("named problem"), 1),
        (TimedOut("named problem"), 1),
        (QueryFailed("named problem"), 1),
    ],
)
def test_the_service_errors_map_to_exit_codes_by_type(error: Exception, code: int) -> None:
    mapped = from_service_error(error)
    assert mapped is not None and (mapped.code, mapped.message) == (code, "named problem")


def test_an_unforeseen_error_is_not_mapped_and_the_codes_are_documented() -> None:
    assert from_service_error(ValueError("a bug")) is None
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4]


async def test_an_event_for_a_seller_whose_workflow_ended_exits_3(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    await dev_stack.client.get_workflow_handle(seller_workflow_id(seller)).terminate(reason="test")
    result = await cli(dev_stack, "event", seller, "carm_registered")
    assert_one_error_line(result, 3, "is no longer onboarding")


# --- status ----------------------------------------------------------------------------------


async def test_status_renders_every_open_action_with_its_guidance(dev_stack: Stack) -> None:
    seller = await signed_up(
        dev_stack, "--completed-steps", "business_number,importer_account,carm_registration"
    )
    result = await cli(dev_stack, "status", seller)
    assert result.code == 0, result.err
    out = result.text
    assert "stage: rpp_enrollment" in out
    assert "Cleared for returns no" in out
    assert "Waiting on broker, seller" in out
    assert "Stalled no" in out
    assert "Completed steps business_number, importer_account, carm_registration" in out
    assert "Pending steps rpp_enrollment, doa_acceptance, poa_submission, poa_approval, program_access" in out
    assert "Held parcels none" in out
    assert "1. seller: Enrol in Release Prior to Payment (RPP)" in out
    assert "2. broker: Our broker will ask you for a business relationship" in out
    assert "3. seller: Submit your Power of Attorney (POA)" in out
    assert "https://www.cbsa-asfc.gc.ca/publications/dm-md/d17/d17-1-8-eng.html" in out
    assert "Until then, U.S. and USPS international returns stay on hold." in " ".join(out.split())


async def test_status_shows_a_poa_denial_reason(dev_stack: Stack) -> None:
    seller = await signed_up(
        dev_stack, "--completed-steps", "business_number,importer_account,carm_registration"
    )
    assert (await cli(dev_stack, "event", seller, "poa_submitted")).code == 0
    result = await cli(dev_stack, "event", seller, "poa_denied", "reason=importer_account_missing")
    assert result.code == 0, result.err
    assert "stage: importer_account" in result.out
    assert (
        "seller: Your Power of Attorney was denied: fix it and submit it again "
        "(the import-export program account (RM) is missing)"
    ) in result.out


async def test_status_json_is_the_query_result(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    await arrived(dev_stack, seller)

    async def parcel_linked() -> bool:
        return bool((await seller_status(dev_stack.client, seller)).held_shipments)

    await eventually(parcel_linked)
    result = await cli(dev_stack, "status", seller, "--json")
    assert result.code == 0, result.err
    raw = await dev_stack.client.get_workflow_handle(seller_workflow_id(seller)).query("status")
    assert OnboardingStatus.model_validate_json(result.out) == await seller_status(dev_stack.client, seller)
    assert result.out.strip() == OnboardingStatus.model_validate(raw).model_dump_json()
    assert result.json()["seller_id"] == seller and result.json()["held_shipments"]


# --- the sellers list ------------------------------------------------------------------------


def test_sellers_query_is_built_from_validated_values_only() -> None:
    assert sellers_query() == "WorkflowType = 'SellerOnboarding' AND ExecutionStatus = 'Running'"
    query = sellers_query(
        stage="cleared", stalled=True, waiting_on="broker", cleared=False, sellers=["a", "b"]
    )
    assert query.endswith(
        "AND OnboardingStage = 'cleared' AND Stalled = true AND WaitingOn = 'broker' "
        "AND ClearedForReturns = false AND SellerId IN ('a', 'b')"
    )
    with pytest.raises(Exception, match="cannot be used"):
        sellers_query(stage="cleared' OR 'x'='x")
    with pytest.raises(Exception, match="cannot be used"):
        sellers_query(sellers=["a' OR 'x'='x"])


async def test_sellers_filters(dev_stack: Stack) -> None:
    fresh = await signed_up(dev_stack)
    midway = await signed_up(
        dev_stack, "--completed-steps", "business_number,importer_account,carm_registration"
    )
    done = await signed_up(dev_stack, "--completed-steps", ALL_STEPS)
    mine = ["--seller", fresh, "--seller", midway, "--seller", done]

    async def listed(*filters: str) -> set[str]:
        result = await cli(dev_stack, "sellers", *mine, *filters, "--json")
        assert result.code == 0, result.err
        return {row["seller_id"] for row in result.json()}

    async def all_published() -> bool:
        result = await cli(dev_stack, "sellers", *mine, "--json")
        return len([row for row in result.json() if row["stage"] is not None]) == 3

    await eventually(all_published)
    rows = {row["seller_id"]: row for row in (await cli(dev_stack, "sellers", *mine, "--json")).json()}
    assert rows[fresh]["stage"] == "business_number" and rows[fresh]["waiting_on"] == ["seller"]
    assert rows[midway]["stage"] == "rpp_enrollment" and rows[midway]["waiting_on"] == ["broker", "seller"]
    assert rows[done] == {
        "seller_id": done,
        "workflow_id": seller_workflow_id(done),
        "stage": "cleared",
        "waiting_on": [],
        "stalled": False,
        "cleared_for_returns": True,
    }

    assert await listed("--stage", "cleared") == {done}
    assert await listed("--stage", "business_number") == {fresh}
    assert await listed("--cleared") == {done}
    assert await listed("--not-cleared") == {fresh, midway}
    assert await listed("--waiting-on", "broker") == {midway}
    assert await listed("--waiting-on", "seller") == {fresh, midway}
    assert await listed("--stalled") == set()
    assert await listed("--not-stalled") == {fresh, midway, done}
    assert await listed("--limit", "2") <= {fresh, midway, done}
    assert len(await listed("--limit", "2")) == 2

    table = await cli(dev_stack, "sellers", *mine)
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split() == ["Seller", "Stage", "Waiting", "on", "Stalled", "Cleared"]
    assert any(line.split()[:2] == [midway, "rpp_enrollment"] and "broker, seller" in line for line in lines)
    assert lines[-1] == "3 sellers"
    assert (await cli(dev_stack, "sellers", "--seller", new_id("nobody"))).out == "no sellers match\n"


# --- parcels ---------------------------------------------------------------------------------


async def held(stack: Stack, shipment: str) -> HoldStatus:
    async def deadline_set() -> bool:
        return (await parcel_status(stack.client, shipment)).disposal_due_on is not None

    await eventually(deadline_set)
    return await parcel_status(stack.client, shipment)


async def test_arrival_parcel_extend_and_decide(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    shipment = await arrived(dev_stack, seller, "--origin", "usps_international")
    again = await cli(dev_stack, "arrival", shipment, seller)
    assert again.code == 0 and again.out.startswith("already recorded")
    before = await held(dev_stack, shipment)
    assert before.business_days_left == 15

    result = await cli(dev_stack, "parcel", shipment)
    assert result.code == 0, result.err
    assert f"Parcel {shipment} of seller {seller}: held" in result.out
    assert f"Due {before.disposal_due_on}" in result.text
    assert "Business days left 15" in result.text
    assert "Seller known yes" in result.text
    assert "Origin usps_international" in result.text

    as_json = await cli(dev_stack, "parcel", shipment, "--json")
    assert HoldStatus.model_validate_json(as_json.out) == await parcel_status(dev_stack.client, shipment)

    extended = await cli(dev_stack, "extend", shipment, "3", "--reason", "customs backlog")
    assert extended.code == 0, extended.err
    assert "Business days left 18" in extended.text and "customs backlog" in extended.out
    bad = await cli(dev_stack, "extend", shipment, "3", "--reason", "   ")
    assert_one_error_line(bad, 2, "reason")

    bad_address = await cli(dev_stack, "decide", shipment, "forward", *ADDRESS_ARGS[:-1], "1234")
    assert_one_error_line(bad_address, 2, "postal_code")
    forwarded = await cli(dev_stack, "decide", shipment, "forward", *ADDRESS_ARGS, "--street2", "Unit 4")
    assert forwarded.code == 0, forwarded.err
    assert forwarded.out.startswith(f"forward: parcel {shipment} is now forwarded")

    late = await cli(dev_stack, "decide", shipment, "dispose")
    assert_one_error_line(late, 3, "no longer held")


async def test_arrival_for_a_cleared_seller_is_released_and_cannot_be_decided(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack, "--completed-steps", ALL_STEPS)
    shipment = await arrived(dev_stack, seller, "--arrived-at", datetime.now(UTC).isoformat())

    async def released() -> bool:
        return (await parcel_status(dev_stack.client, shipment)).state == "released"

    await eventually(released)
    result = await cli(dev_stack, "parcel", shipment)
    assert "Outcome released at" in result.text
    assert_one_error_line(
        await cli(dev_stack, "decide", shipment, "dispose"), 3, "no longer held", "released"
    )
    assert_one_error_line(await cli(dev_stack, "extend", shipment, "2", "--reason", "x"), 3, "released")


def test_parcels_query_uses_rfc3339_utc() -> None:
    moment = datetime(2026, 1, 14, 0, 0, tzinfo=UTC) + timedelta(hours=5)
    assert parcels_query(seller="s-1", due_by=moment) == (
        "WorkflowType = 'ReturnHold' AND ExecutionStatus = 'Running' AND ReturnState = 'held' "
        "AND SellerId = 's-1' AND DisposalDueAt <= '2026-01-14T05:00:01Z'"
    )


async def test_parcels_due_within(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    calendar = dev_stack.settings.workflow_settings(datetime.now(UTC).date()).calendar
    today = calendar.local_date(datetime.now(UTC))
    arrival_day = calendar.business_days_before(today, 10)
    # 5 business days left, or 6 when today is a weekend day or a holiday.
    left = calendar.business_days_between(today, calendar.add_business_days(arrival_day, 15))
    fresh = await arrived(dev_stack, seller)
    older = await arrived(
        dev_stack, seller, "--arrived-at", calendar.at_local(arrival_day, time(12)).isoformat()
    )
    assert (await held(dev_stack, older)).business_days_left == left
    assert (await held(dev_stack, fresh)).business_days_left == 15

    async def both_listed() -> bool:
        rows = (await cli(dev_stack, "parcels", "--seller", seller, "--json")).json()
        return len([r for r in rows if r["disposal_due_at"]]) == 2

    await eventually(both_listed)

    async def listed(*args: str) -> list[tuple[str, int]]:
        result = await cli(dev_stack, "parcels", "--seller", seller, *args, "--json")
        assert result.code == 0, result.err
        return [(r["shipment_id"], r["business_days_left"]) for r in result.json()]

    assert await listed() == [(older, left), (fresh, 15)]  # soonest deadline first
    assert await listed("--due-within", str(left - 1)) == []
    assert await listed("--due-within", str(left)) == [(older, left)]
    assert await listed("--due-within", "14") == [(older, left)]
    assert await listed("--due-within", "15") == [(older, left), (fresh, 15)]

    table = await cli(dev_stack, "parcels", "--seller", seller, "--due-within", str(left))
    assert table.code == 0
    due_on = (await held(dev_stack, older)).disposal_due_on
    assert table.out.splitlines()[1].split() == [older, seller, due_on, str(left)]
    assert table.out.splitlines()[-1].startswith("1 held parcel due by the end of ")
    nothing = await cli(dev_stack, "parcels", "--seller", new_id("nobody"))
    assert nothing.out == "no held parcels\n"


# --- checklist links -------------------------------------------------------------------------


async def test_checklist_link(dev_stack: Stack) -> None:
    seller = new_id("s")
    await dev_stack.sign_up(seller, language="fr")
    settings = dev_stack.settings.model_copy(update={"public_base_url": "https://returns.example/"})
    result = await cli(dev_stack, "checklist-link", seller, settings=settings)
    assert result.code == 0, result.err
    url = urlparse(result.out.strip())
    assert (url.scheme, url.netloc, url.path) == ("https", "returns.example", f"/sellers/{seller}/checklist")
    token = read_checklist_token(seller, parse_qs(url.query)["token"][0], checklist_keys(settings))
    assert token is not None and token.epoch == 1

    unset = dev_stack.settings.model_copy(update={"checklist_link_secret": None, "api_token": None})
    assert_one_error_line(
        await cli(dev_stack, "checklist-link", seller, settings=unset), 1, "CHECKLIST_LINK_SECRET"
    )


async def test_a_request_nobody_answers_times_out_with_a_clear_error(dev_stack: Stack) -> None:
    seller = new_id("s")
    # A seller on a task queue no worker polls: the status query can never be answered.
    settings = dev_stack.settings.model_copy(update={"temporal_task_queue": new_id("nobody")})
    dev_stack.started.append(dev_stack.client.get_workflow_handle(seller_workflow_id(seller)))
    result = await cli(dev_stack, "--timeout", "1", "sign-up", seller, "owner@example.com", settings=settings)
    assert result.out.startswith("started")
    assert_one_error_line(result, 1, "no answer within 1s", "is a worker running")


def test_python_dash_m_starter_runs_the_command_line() -> None:
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-m", "starter", "--version"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
    bad = subprocess.run(
        [sys.executable, "-m", "starter", "sellers", "--stalled", "--limit", "0"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "--limit" in bad.stderr


async def test_history_shows_who_sent_what_for_a_seller_and_a_parcel(dev_stack: Stack) -> None:
    seller = await signed_up(dev_stack)
    assert (
        await cli(
            dev_stack,
            "--actor",
            "jo",
            "event",
            seller,
            "business_number_provided",
            "business_number=123456782",
        )
    ).code == 0
    result = await cli(dev_stack, "history", seller)
    assert result.code == 0, result.err
    assert "business_number_provided seller jo" in result.text
    [entry] = (await cli(dev_stack, "history", seller, "--json")).json()
    assert (entry["type"], entry["party"], entry["actor"]) == ("business_number_provided", "seller", "jo")
    shipment = shipment_id_of((await dev_stack.arrive(seller)).id)
    await wait_for(lambda: _has_deadline(dev_stack, shipment))
    assert (
        await cli(dev_stack, "--actor", "ops-kim", "extend", shipment, "2", "--reason", "asked")
    ).code == 0
    parcel = await cli(dev_stack, "history", "--parcel", shipment)
    assert "extend_hold operations ops-kim" in parcel.text
    assert (await cli(dev_stack, "history")).code == 2


async def _has_deadline(stack: Stack, shipment: str) -> bool:
    return (await parcel_status(stack.client, shipment)).disposal_due_on is not None


async def test_reassign_moves_a_parcel_to_its_cleared_seller(dev_stack: Stack) -> None:
    wrong = await signed_up(dev_stack)
    right = await signed_up(dev_stack, "--completed-steps", ALL_STEPS)
    shipment = shipment_id_of((await dev_stack.arrive(wrong)).id)
    await wait_for(lambda: _has_deadline(dev_stack, shipment))
    result = await cli(dev_stack, "reassign", shipment, right, "--reason", "mis-scanned")
    assert result.code == 0, result.err
    assert f"reassigned parcel {shipment} to seller {right}" in result.out
    assert (await cli(dev_stack, "reassign", shipment, wrong, "--reason", "back")).code == 3


async def test_attention_lists_what_waits_on_operations(dev_stack: Stack) -> None:
    ghost = new_id("ghost")  # no onboarding workflow: the parcel waits on operations
    shipment = shipment_id_of((await dev_stack.arrive(ghost)).id)
    await wait_for(lambda: _unknown(dev_stack, shipment))

    async def listed() -> bool:
        found = (await cli(dev_stack, "attention", "--json")).json()
        return any(p["shipment_id"] == shipment for p in found["unknown_seller_parcels"])

    await wait_for(listed, seconds=20)  # visibility lags a moment
    text = (await cli(dev_stack, "attention", "--due-within", "20")).text
    assert "Parcels of sellers with no onboarding workflow:" in text
    assert f"{shipment} (seller {ghost})" in text
    assert "Held parcels due soon (within 20 business days):" in text


async def _unknown(stack: Stack, shipment: str) -> bool:
    return (await parcel_status(stack.client, shipment)).seller_known is False
