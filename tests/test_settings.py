"""Settings read from the environment, and the snapshot a workflow keeps in its history."""

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from config.settings import Settings
from domain.settings import ReminderSchedule, WorkflowSettings
from domain.steps import Step

WITHOUT_RPP = [step for step in Step if step is not Step.rpp_enrollment]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults, whatever the surrounding shell exports."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)


# --- connection settings -----------------------------------------------------------------------


def test_connection_settings_default_to_the_contract_values() -> None:
    s = Settings()
    assert s.temporal_address == "localhost:7233"
    assert s.temporal_namespace == "default"
    assert s.temporal_task_queue == "carm-returns"


def test_connection_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "returns-prod")
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", "carm-returns-blue")
    s = Settings()
    assert (s.temporal_address, s.temporal_namespace, s.temporal_task_queue) == (
        "temporal.internal:7233",
        "returns-prod",
        "carm-returns-blue",
    )


# --- comma lists -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1,2,3", "1, 2 ,3", "1,2,3,"])
def test_reminder_days_are_read_as_a_comma_list(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("SELLER_REMINDER_DAYS", raw)
    assert Settings().seller_reminder_days == [1, 2, 3]


def test_other_integer_lists_are_read_as_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROKER_REMINDER_BUSINESS_DAYS", "5,15")
    monkeypatch.setenv("CARM_LOGIN_REMINDER_DAYS_BEFORE", "14")
    monkeypatch.setenv("HOLD_REMINDER_BUSINESS_DAYS_LEFT", "3, 1")
    s = Settings()
    assert s.broker_reminder_business_days == [5, 15]
    assert s.carm_login_reminder_days_before == [14]
    assert s.hold_reminder_business_days_left == [3, 1]


def test_non_integer_reminder_day_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELLER_REMINDER_DAYS", "1,two")
    with pytest.raises(ValidationError, match="seller_reminder_days"):
        Settings()


def test_all_eight_steps_are_required_by_default() -> None:
    assert Settings().required_steps == list(Step)


def test_required_steps_without_rpp_enrollment_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_STEPS", ",".join(WITHOUT_RPP))
    assert Settings().required_steps == WITHOUT_RPP


def test_required_steps_are_kept_in_guidance_order_without_duplicates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUIRED_STEPS", " , ".join(reversed([*WITHOUT_RPP, Step.program_access])))
    assert Settings().required_steps == WITHOUT_RPP


def test_required_steps_without_carm_registration_are_rejected_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REQUIRED_STEPS", ",".join(s for s in Step if s is not Step.carm_registration))
    with pytest.raises(ValidationError) as err:
        Settings()
    message = str(err.value)
    assert "only rpp_enrollment may be optional" in message
    assert "missing: carm_registration" in message


def test_required_steps_with_an_unknown_step_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_STEPS", ",".join([*Step, "bank_account"]))
    with pytest.raises(ValidationError, match="required_steps"):
        Settings()


def test_holiday_categories_are_read_as_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_HOLIDAY_CATEGORIES", "public, government")
    assert Settings().warehouse_holiday_categories == ["public", "government"]


def test_blank_holiday_subdivision_means_federal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_HOLIDAY_SUBDIVISION", "")
    assert Settings().warehouse_holiday_subdivision is None


# --- the workflow snapshot ---------------------------------------------------------------------


@pytest.mark.parametrize("today", [date(2026, 1, 1), date(2026, 5, 1), date(2026, 12, 31)])
def test_workflow_settings_calendar_covers_at_least_the_next_three_years(today: Any) -> None:
    cal = Settings().workflow_settings(today).calendar
    assert cal.first_year <= today.year
    assert cal.last_year >= today.year + 3
    for days in range(0, 3 * 366 + 1, 30):
        cal.is_business_day(today + timedelta(days=days))  # does not raise
    cal.is_business_day(today.replace(year=today.year + 3))


def test_workflow_settings_calendar_can_compute_a_due_date_for_a_parcel_arriving_today() -> None:
    today = date(2026, 12, 31)
    cal = Settings().workflow_settings(today).calendar
    arrived = cal.at_local(today, time(15))
    assert cal.due_on(arrived) > today
    assert cal.due_on(arrived) == date(2027, 1, 25)  # Jan 1 (New Year) and Jan 18 (MLK) skipped


def test_workflow_settings_calendar_uses_the_warehouse_timezone_and_holidays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAREHOUSE_TIMEZONE", "America/Chicago")
    monkeypatch.setenv("WAREHOUSE_HOLIDAY_SUBDIVISION", "MA")
    cal = Settings().workflow_settings(date(2026, 1, 5)).calendar
    assert cal.timezone == "America/Chicago"
    assert date(2026, 4, 20) in cal.holidays  # Patriots' Day
    assert cal.local_date(datetime.fromisoformat("2026-01-06T05:30:00+00:00")) == date(2026, 1, 5)


def test_default_workflow_settings_use_federal_holidays_in_new_york() -> None:
    cal = Settings().workflow_settings(date(2026, 1, 5)).calendar
    assert cal.timezone == "America/New_York"
    assert date(2026, 4, 20) not in cal.holidays
    assert date(2026, 11, 26) in cal.holidays  # Thanksgiving


def test_workflow_settings_carry_the_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SELLER_REMINDER_DAYS", "1,2,3")
    monkeypatch.setenv("SELLER_ESCALATE_AFTER_DAYS", "9")
    monkeypatch.setenv("BROKER_REMINDER_BUSINESS_DAYS", "4,8")
    monkeypatch.setenv("BROKER_ESCALATE_AFTER_BUSINESS_DAYS", "12")
    monkeypatch.setenv("REQUIRED_STEPS", ",".join(WITHOUT_RPP))
    monkeypatch.setenv("HOLD_BUSINESS_DAYS", "10")
    monkeypatch.setenv("HOLD_REMINDER_BUSINESS_DAYS_LEFT", "2")
    monkeypatch.setenv("CARM_INACTIVITY_DAYS", "90")
    ws = Settings().workflow_settings(date(2026, 5, 1))
    assert ws.seller_reminders == ReminderSchedule(remind_after=[1, 2, 3], escalate_after=9)
    assert ws.broker_reminders == ReminderSchedule(remind_after=[4, 8], escalate_after=12, business_days=True)
    assert ws.required_steps == WITHOUT_RPP
    assert (ws.hold_business_days, ws.hold_reminder_business_days_left) == (10, [2])
    assert ws.carm_inactivity_days == 90


def test_default_workflow_settings_match_the_brief() -> None:
    ws = Settings().workflow_settings(date(2026, 5, 1))
    assert ws.required_steps == list(Step)
    assert ws.hold_business_days == 15
    assert ws.carm_inactivity_days == 180
    assert ws.seller_reminders.business_days is False
    assert ws.broker_reminders.business_days is True


def test_workflow_settings_round_trip_through_json_unchanged() -> None:
    ws = Settings().workflow_settings(date(2026, 5, 1))
    assert WorkflowSettings.model_validate_json(ws.model_dump_json()) == ws


def test_workflow_settings_round_trip_with_non_default_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_STEPS", ",".join(WITHOUT_RPP))
    monkeypatch.setenv("SELLER_REMINDER_DAYS", "1,2,3")
    monkeypatch.setenv("WAREHOUSE_HOLIDAY_SUBDIVISION", "NY")
    ws = Settings().workflow_settings(date(2027, 2, 1))
    again = WorkflowSettings.model_validate_json(ws.model_dump_json())
    assert again == ws
    assert again.calendar.due_on(datetime.fromisoformat("2027-02-01T12:00:00-05:00")) == ws.calendar.due_on(
        datetime.fromisoformat("2027-02-01T12:00:00-05:00")
    )


def test_workflow_settings_from_history_tolerate_unknown_fields() -> None:
    ws = Settings().workflow_settings(date(2026, 5, 1))
    data = ws.model_dump(mode="json")
    data["added_in_a_later_release"] = {"x": 1}
    data["calendar"]["source"] = "holidays 0.200"
    data["seller_reminders"]["quiet_hours"] = [22, 7]
    assert WorkflowSettings.model_validate(data) == ws
