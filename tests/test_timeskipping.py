"""Time: reminders, escalation, the CARM login reminder and the 15-business-day disposal.

On the time-skipping test server a test sleeps weeks in a second. Results are awaited one after
another (awaiting several at once has hung this server).
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

import domain.search_attributes as sa
from config.settings import Settings
from domain.onboarding import OnboardingStatus
from domain.payloads import HoldResult, HoldStatus
from testing.journeys import FULL_JOURNEY
from testing.probes import send
from tests.conftest import Stack, new_id
from workflows.onboarding import SellerOnboarding


async def server_now(env: WorkflowEnvironment) -> datetime:
    return await env.get_current_time()


async def seller_status(handle: WorkflowHandle[Any, Any]) -> OnboardingStatus:
    return await handle.query(SellerOnboarding.status)


async def test_seller_is_reminded_then_operations_alerted_and_seller_marked_stalled(
    skip_env: WorkflowEnvironment, skip_stack: Stack
) -> None:
    seller = new_id("s")
    handle = await skip_stack.sign_up(seller)
    schedule = Settings().seller_reminder_days
    await skip_env.sleep(timedelta(days=schedule[0], hours=1))
    assert len(skip_stack.outbox.notifications("onboarding_reminder", seller_id=seller)) == 1
    assert not (await seller_status(handle)).stalled

    await skip_env.sleep(timedelta(days=Settings().seller_escalate_after_days))
    reminders = skip_stack.outbox.notifications("onboarding_reminder", seller_id=seller)
    assert len(reminders) == len(schedule)
    assert all(r["audience"] == "seller" for r in reminders)
    [alert] = skip_stack.outbox.notifications("onboarding_stalled", seller_id=seller)
    assert alert["audience"] == "operations"
    status = await seller_status(handle)
    assert status.stalled
    assert "operations" in status.waiting_on
    desc = await handle.describe()
    assert desc.typed_search_attributes.get(sa.STALLED) is True

    # Progress restarts the clock and lifts the stall.
    status = await send(handle, FULL_JOURNEY[0])
    assert not status.stalled
    assert "operations" not in status.waiting_on


async def test_broker_reminders_count_business_days_and_allow_a_30_day_poa_review(
    skip_env: WorkflowEnvironment, skip_stack: Stack
) -> None:
    seller = new_id("s")
    handle = await skip_stack.sign_up(seller)
    for event in FULL_JOURNEY[:4]:  # up to poa_submitted: the broker must review and request DOA
        await send(handle, event)
    for event in ({"type": "rpp_enrolled"}, {"type": "doa_requested"}, {"type": "doa_accepted"}):
        await send(handle, event)
    status = await seller_status(handle)
    assert status.waiting_on == ["broker"]
    assert status.next_action.code == "await_poa_review"

    since = status.waiting_since
    assert since is not None
    settings = Settings()
    calendar = settings.workflow_settings(since.date()).calendar
    first_due = calendar.after_business_days(since, settings.broker_reminder_business_days[0])
    assert first_due - since > timedelta(days=settings.broker_reminder_business_days[0])  # weekends

    await skip_env.sleep(first_due - await server_now(skip_env) - timedelta(hours=1))
    assert skip_stack.outbox.notifications("onboarding_reminder", seller_id=seller) == []
    await skip_env.sleep(timedelta(hours=2))
    [first] = skip_stack.outbox.notifications("onboarding_reminder", seller_id=seller)
    assert first["audience"] == "broker"

    # Thirty business days of POA review is not a stall; the escalation comes after.
    review = calendar.after_business_days(since, 30)
    await skip_env.sleep(review - await server_now(skip_env) + timedelta(hours=1))
    assert not (await seller_status(handle)).stalled
    escalation = calendar.after_business_days(since, settings.broker_escalate_after_business_days)
    await skip_env.sleep(escalation - await server_now(skip_env) + timedelta(hours=1))
    assert (await seller_status(handle)).stalled
    assert len(skip_stack.outbox.notifications("onboarding_stalled", seller_id=seller)) == 1


async def test_cleared_seller_is_reminded_to_log_in_before_180_days(
    skip_env: WorkflowEnvironment, skip_stack: Stack
) -> None:
    seller = new_id("s")
    handle = await skip_stack.sign_up(seller)
    for event in FULL_JOURNEY:
        await send(handle, event)
    await skip_env.sleep(timedelta(days=149))
    assert skip_stack.outbox.notifications("carm_login_reminder", seller_id=seller) == []
    await skip_env.sleep(timedelta(days=2))
    assert len(skip_stack.outbox.notifications("carm_login_reminder", seller_id=seller)) == 1
    await skip_env.sleep(timedelta(days=23))
    assert len(skip_stack.outbox.notifications("carm_login_reminder", seller_id=seller)) == 2

    # A confirmed login restarts the period: no alert at day 180.
    await send(handle, {"type": "carm_login_confirmed"})
    await skip_env.sleep(timedelta(days=10))
    assert skip_stack.outbox.notifications("carm_login_overdue", seller_id=seller) == []
    assert len(skip_stack.outbox.notifications("carm_login_reminder", seller_id=seller)) == 2


async def arrive(stack: Stack, seller: str, at: datetime) -> WorkflowHandle[Any, Any]:
    return await stack.arrive(seller, at)


async def test_unclaimed_parcel_is_disposed_once_only_after_its_15th_business_day_ends(
    skip_env: WorkflowEnvironment, skip_stack: Stack
) -> None:
    seller = new_id("s")
    await skip_stack.sign_up(seller)
    arrived = await server_now(skip_env)
    parcel = await arrive(skip_stack, seller, arrived)
    await skip_env.sleep(timedelta(seconds=5))
    status = await parcel.query("status", result_type=HoldStatus)
    assert status.state == "held" and status.business_days_left == 15
    assert status.disposal_due_at is not None
    deadline = status.disposal_due_at

    # One minute before the due day ends, the parcel is still held.
    await skip_env.sleep(deadline - await server_now(skip_env) - timedelta(minutes=1))
    assert (await parcel.query("status", result_type=HoldStatus)).state == "held"

    result = HoldResult.model_validate(await parcel.result())
    assert result.outcome == "disposed"
    assert result.at >= deadline
    instructions = [i for i in skip_stack.outbox.read("warehouse") if i["shipment_id"] == result.shipment_id]
    assert [i["action"] for i in instructions] == ["dispose"]
    reminders = skip_stack.outbox.notifications("return_hold_reminder", shipment_id=result.shipment_id)
    assert sorted(r["params"]["business_days_left"] for r in reminders) == [1, 5]
    assert len(skip_stack.outbox.notifications("return_disposed", shipment_id=result.shipment_id)) == 1


async def test_extension_moves_the_deadline(skip_env: WorkflowEnvironment, skip_stack: Stack) -> None:
    seller = new_id("s")
    await skip_stack.sign_up(seller)
    parcel = await arrive(skip_stack, seller, await server_now(skip_env))
    await skip_env.sleep(timedelta(seconds=5))
    before = await parcel.query("status", result_type=HoldStatus)
    after = await parcel.execute_update(
        "extend_hold", {"business_days": 3, "reason": "broker backlog"}, result_type=HoldStatus
    )
    assert before.disposal_due_at is not None and after.disposal_due_at is not None
    await skip_env.sleep(before.disposal_due_at - await server_now(skip_env) + timedelta(hours=1))
    assert (await parcel.query("status", result_type=HoldStatus)).state == "held"
    result = HoldResult.model_validate(await parcel.result())
    assert result.outcome == "disposed" and result.at >= after.disposal_due_at


async def test_clearance_just_before_the_deadline_releases_the_parcel(
    skip_env: WorkflowEnvironment, skip_stack: Stack
) -> None:
    seller = new_id("s")
    handle = await skip_stack.sign_up(seller)
    parcel = await arrive(skip_stack, seller, await server_now(skip_env))
    await skip_env.sleep(timedelta(seconds=5))
    status = await parcel.query("status", result_type=HoldStatus)
    assert status.disposal_due_at is not None
    await skip_env.sleep(status.disposal_due_at - await server_now(skip_env) - timedelta(minutes=10))
    for event in FULL_JOURNEY:
        await send(handle, event)
    result = HoldResult.model_validate(await parcel.result())
    assert result.outcome == "released"
    assert result.at < status.disposal_due_at
    actions = [
        i["action"] for i in skip_stack.outbox.read("warehouse") if i["shipment_id"] == result.shipment_id
    ]
    assert actions == ["release"]


def test_arrival_clock_is_utc_aware() -> None:
    assert datetime.now(UTC).tzinfo is UTC


async def test_cleared_seller_is_reminded_of_the_yearly_rpp_review(
    skip_env: WorkflowEnvironment, skip_stack: Stack
) -> None:
    seller = new_id("s")
    handle = await skip_stack.sign_up(seller)
    for event in FULL_JOURNEY:
        await send(handle, event)
    settings = Settings()
    now = await server_now(skip_env)
    review_year = now.year if (now.month, now.day) < (10, 20) else now.year + 1
    calendar = settings.workflow_settings(now.date()).calendar
    lead = timedelta(days=settings.rpp_review_reminder_days_before)
    reminder_at = calendar.at_local(date(review_year, 10, 20) - lead, time(9))
    # Keep logging in, as a careful seller does, so only the RPP reminder is in question.
    while (await server_now(skip_env)) < reminder_at - timedelta(days=100):
        await skip_env.sleep(timedelta(days=90))
        await send(handle, {"type": "carm_login_confirmed"})
    await skip_env.sleep(reminder_at - await server_now(skip_env) - timedelta(hours=1))
    assert skip_stack.outbox.notifications("rpp_review_reminder", seller_id=seller) == []
    await skip_env.sleep(timedelta(hours=2))
    [reminder] = skip_stack.outbox.notifications("rpp_review_reminder", seller_id=seller)
    assert reminder["params"]["review_date"] == f"{review_year}-10-20"
    assert reminder["params"]["posting_deadline"] == f"{review_year + 1}-01-15"
    # Once a year: a week later there is still one.
    await skip_env.sleep(timedelta(days=7))
    assert len(skip_stack.outbox.notifications("rpp_review_reminder", seller_id=seller)) == 1


async def test_cleared_seller_is_reminded_of_the_rpp_posting_deadline(
    skip_env: WorkflowEnvironment, skip_stack: Stack
) -> None:
    seller = new_id("s")
    handle = await skip_stack.sign_up(seller, language="fr")
    for event in FULL_JOURNEY:
        await send(handle, event)
    settings = Settings()
    now = await server_now(skip_env)
    calendar = settings.workflow_settings(now.date()).calendar
    deadline = next(
        d for d in (date(now.year, 1, 15), date(now.year + 1, 1, 15)) if calendar.at_local(d, time(0)) > now
    )
    lead = timedelta(days=settings.rpp_posting_reminder_days_before)
    reminder_at = calendar.at_local(deadline - lead, time(9))
    if reminder_at > now + timedelta(hours=2):
        while (await server_now(skip_env)) < reminder_at - timedelta(days=100):
            await skip_env.sleep(timedelta(days=90))
            await send(handle, {"type": "carm_login_confirmed"})
        await skip_env.sleep(reminder_at - await server_now(skip_env) - timedelta(hours=1))
        assert skip_stack.outbox.notifications("rpp_posting_reminder", seller_id=seller) == []
    await skip_env.sleep(timedelta(hours=2))
    [reminder] = skip_stack.outbox.notifications("rpp_posting_reminder", seller_id=seller)
    assert reminder["params"]["posting_deadline"] == deadline.isoformat()
    assert reminder["language"] == "fr" and "15 janvier" in reminder["subject"]
    await skip_env.sleep(timedelta(days=7))
    assert len(skip_stack.outbox.notifications("rpp_posting_reminder", seller_id=seller)) == 1
