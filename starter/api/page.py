"""The seller's checklist page, rendered: steps, what to do next with its forms, held parcels.

Rendering only (``templates/web/*.html.j2``, autoescaped, in the seller's language through
:mod:`i18n`); the routes that serve the page and take its forms are :mod:`starter.api.checklist`.
Every form the seller may send now is on the page, as plain HTML (no script): each carries the
link's token and a fresh ``event_id``, so a form submitted twice is applied once.
"""

import uuid
from dataclasses import dataclass
from dataclasses import field as default
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from config.settings import Settings
from domain.business_days import zone
from domain.onboarding import OnboardingStatus
from domain.payloads import HoldStatus
from domain.steps import GUIDANCE_ORDER, Party, Step
from i18n import CompanyWords, Words, environment
from i18n.dates import long_date, short_time
from starter.links import checklist_path

ROOT = Path(__file__).resolve().parents[2]
WEB_TEMPLATES = ROOT / "templates" / "web"

# The forms of each seller action: the events the seller sends from its card.
ACTION_FORMS: dict[str, tuple[str, ...]] = {
    "provide_business_number": ("business_number_provided", "no_business_number"),
    "provide_importer_account": ("importer_account_provided",),
    "register_in_carm": ("carm_registered", "affinity_figures_requested"),
    "sign_in_to_carm_again": ("carm_registered",),
    "enrol_in_rpp": ("rpp_enrolled",),
    "accept_doa": ("doa_accepted",),
    "submit_poa": ("poa_submitted",),
    "resubmit_poa": ("poa_submitted",),
}


@dataclass(frozen=True)
class StepRow:
    number: int
    label: str
    state: Literal["done", "you", "broker", "later", "not_needed"]


@dataclass(frozen=True)
class ActionCard:
    code: str
    title: str
    instructions: str
    links: list[Any]
    reason: str | None
    forms: tuple[str, ...]


@dataclass(frozen=True)
class ParcelRow:
    shipment_id: str
    arrived_on: str
    due_on: str | None
    days_left: int | None
    closing: str | None


@dataclass(frozen=True)
class FormProblem:
    """A rejected form: which one, the field at fault, the words, and what was entered."""

    form: str
    """The event type, or ``parcel:SHIPMENT`` for a parcel's decision."""
    message: str
    field: str | None = None
    values: dict[str, str] = default(default_factory=dict)

    @property
    def field_name(self) -> str | None:
        """The form field at fault: ``us_address.city`` is the form's ``city``."""
        return self.field.rsplit(".", 1)[-1] if self.field else None


def _card(words: Words, code: str, params: dict[str, Any]) -> ActionCard:
    reason = params.get("denial_reason")
    return ActionCard(
        code=code,
        title=words.title(code),
        instructions=words.instructions(code),
        links=words.links(code),
        reason=words.denial(str(reason)) if reason else None,
        forms=ACTION_FORMS.get(code, ()),
    )


def _step_rows(words: Words, status: OnboardingStatus) -> list[StepRow]:
    open_by_step = {a.step: a for a in status.actions if a.step is not None}
    required = set(status.completed_steps) | set(status.pending_steps)
    rows = []
    for number, step in enumerate(GUIDANCE_ORDER, start=1):
        action = open_by_step.get(step)
        state: Literal["done", "you", "broker", "later", "not_needed"] = "later"
        if step in status.completed_steps:
            state = "done"
        elif step not in required:
            state = "not_needed"
        elif action is not None:
            state = "you" if action.party == Party.seller else "broker"
        rows.append(StepRow(number, words.step(step), state))
    return rows


def view_of(status: OnboardingStatus) -> str:
    if status.stage in ("opted_out", "cleared"):
        return status.stage
    if status.legacy_poa and status.cleared_for_returns:
        return "legacy"
    return "onboarding"


def _page_forms(view: str, parcels: list[ParcelRow]) -> set[str]:
    forms = {"language_changed"} | {f"parcel:{p.shipment_id}" for p in parcels if not p.closing}
    if view == "cleared":
        forms |= {"carm_login_confirmed", "carm_deactivated", "rpp_suspended"}
    if view == "opted_out":
        forms.add("opted_in")
    return forms


def new_event_id() -> str:
    return uuid.uuid4().hex


class ChecklistPage:
    """Renders ``templates/web/*.html.j2`` (autoescaped) from a seller's status and parcels."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.company = CompanyWords.from_settings(settings)

    def render(self, name: str, language: str = "en", **context: Any) -> str:
        env = environment(WEB_TEMPLATES, language, html=True, company=self.company)
        return env.get_template(name).render(new_event_id=new_event_id, **context)

    def parcel_row(self, p: HoldStatus, language: str) -> ParcelRow:
        tz = zone(self.settings.warehouse_timezone)
        return ParcelRow(
            shipment_id=p.shipment_id,
            arrived_on=long_date(p.arrived_at.astimezone(tz).date(), language),
            due_on=long_date(date.fromisoformat(p.disposal_due_on), language) if p.disposal_due_on else None,
            days_left=p.business_days_left,
            closing=p.closing,
        )

    def checklist(
        self,
        status: OnboardingStatus,
        parcels: list[HoldStatus],
        more_parcels: int,
        *,
        language: str,
        token: str,
        lang_override: str | None = None,
        problem: FormProblem | None = None,
    ) -> str:
        words = Words(language, self.company)
        seller_cards = [_card(words, a.code, a.params) for a in status.actions if a.party == Party.seller]
        broker_cards = [_card(words, a.code, a.params) for a in status.actions if a.party == Party.broker]
        rows = _step_rows(words, status)
        held = sorted(
            (self.parcel_row(p, language) for p in parcels),
            key=lambda r: (r.days_left if r.days_left is not None else 10**6, r.shipment_id),
        )
        view = view_of(status)
        shown = {form for card in seller_cards for form in card.forms} | _page_forms(view, held)
        now = datetime.now(zone(self.settings.warehouse_timezone))
        base = checklist_path(status.seller_id, token).split("?", 1)[0]
        query = f"?lang={lang_override}" if lang_override else ""
        return self.render(
            "checklist.html.j2",
            language,
            status=status,
            view=view,
            rows=rows,
            done_count=sum(r.state == "done" for r in rows),
            required_count=sum(r.state != "not_needed" for r in rows),
            seller_cards=seller_cards,
            broker_cards=broker_cards,
            cleared=_card(words, "cleared", {}),
            return_method=status.return_method,
            rpp_watched=Step.rpp_enrollment in status.completed_steps,
            parcels=held,
            more_parcels=more_parcels,
            hold_days=self.settings.hold_business_days,
            as_of_day=long_date(now.date(), language),
            as_of_time=short_time(now, language),
            token=token,
            events_url=f"{base}/events{query}",
            link_url=f"{base}/link{query}",
            decision_url=lambda shipment_id: f"{base}/parcels/{shipment_id}/decision{query}",
            other_language="en" if language == "fr" else "fr",
            self_url=checklist_path(status.seller_id, token),
            problem=problem,
            # A form the page no longer offers (the step moved on): its problem goes on top.
            problem_on_top=problem is not None and problem.form not in shown,
        )
