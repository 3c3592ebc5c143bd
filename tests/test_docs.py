"""The README's diagram and tables are generated from the code and must match it."""

from pathlib import Path
from typing import Any

from scripts.docs import README, render


def test_readme_diagram_and_tables_match_the_code() -> None:
    current = README.read_text()
    assert render(current) == current, "README.md is out of date: run `python -m scripts.docs`"


def test_readme_names_the_two_commands_and_the_ui() -> None:
    text = README.read_text()
    for needle in ("make run", "make test", "http://localhost:8233"):
        assert needle in text


WORKFLOW_TEMPLATES: dict[str, dict[str, Any]] = {
    "onboarding_next_step": {
        "actions": [{"code": "provide_business_number", "party": "seller", "params": {}}]
    },
    "onboarding_reminder": {"actions": ["accept_doa"], "reminder": 1, "waiting_since": "2026-01-05T10:00:00"},
    "onboarding_stalled": {"party": "broker", "actions": ["await_poa_review"], "waiting_since": "2026-01-05"},
    "affinity_figures": {"figures": {"statement_month": "2025-01", "statement_balance": "12.00"}},
    "poa_denied": {"reason": "carm_not_registered", "detail": None},
    "registration_requested": {},
    "seller_cleared": {"held": 2},
    "clearance_lost": {"cause": "rpp_suspended"},
    "opted_out": {"return_method": "dispose"},
    "carm_login_reminder": {"expires_on": "2027-05-01"},
    "carm_login_overdue": {"expired_on": "2027-05-01"},
    "rpp_review_reminder": {"review_date": "2027-10-20", "posting_deadline": "2028-01-15"},
    "rpp_posting_reminder": {"posting_deadline": "2028-01-15"},
    "email_changed": {"new_email": "new@example.com"},
    "checklist_link": {},
    "delivery_failed": {"kind": "notification", "idempotency_key": "k1", "error": "SMTP 550"},
    "return_held": {"due_on": "2026-01-13", "business_days": 15},
    "return_hold_reminder": {"business_days_left": 1, "due_on": "2026-01-13"},
    "return_hold_extended": {"due_on": "2026-01-20"},
    "return_released": {"reason": "seller cleared"},
    "return_forwarded": {"reason": "forward"},
    "return_disposed": {"reason": "disposal at the deadline", "by_seller": False},
    "return_unknown_seller": {},
    "return_unknown_seller_disposed": {},
}


def test_every_template_the_workflows_name_renders() -> None:
    from activities.adapters.rendering import TemplateRenderer

    root = Path(__file__).resolve().parents[1]
    source = "".join(p.read_text() for p in (root / "workflows").glob("*.py"))
    renderer = TemplateRenderer()
    for name, params in WORKFLOW_TEMPLATES.items():
        assert f'"{name}"' in source or (name.startswith("return_") and "return_{outcome}" in source), name
        common = {"seller": "s1", "business_name": "Maple Goods", "shipment": "p1"}
        message = renderer.render(name, {**common, **params})
        assert message.subject and message.body.strip()


def test_every_event_field_has_a_description() -> None:
    # `carm event --help` and the README list them: a field without words is a field people guess.
    from domain.docs import EventField, event_fields
    from domain.events import EVENT_TYPES

    def undescribed(fields: list[EventField], where: str) -> list[str]:
        missing = [f"{where}.{f.name}" for f in fields if not f.description]
        for f in fields:
            missing += undescribed(list(f.members), f"{where}.{f.name}")
        return missing

    assert [m for kind in EVENT_TYPES for m in undescribed(event_fields(kind), kind)] == []
    fields = {f.name: f for f in event_fields("no_business_number")}
    assert fields["return_method"].required and fields["return_method"].values == (
        "own_us_address",
        "dispose",
    )
    assert not fields["us_address"].required
    assert [m.name for m in fields["us_address"].members][:2] == ["name", "street"]
    assert event_fields("carm_registered") == []
