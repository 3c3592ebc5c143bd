"""The seller's checklist page, rendered: steps, what to do next, held parcels with their countdown.

Rendering only (``templates/web/*.html.j2``, autoescaped); the route that serves the page, checks
its token and fetches the seller's status is :mod:`starter.api.checklist`.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import jinja2

from config.settings import Settings
from domain.business_days import zone
from domain.guidance import CRA_REGISTER_BN, DENIAL_REASONS, guidance
from domain.onboarding import OnboardingStatus
from domain.payloads import HoldStatus
from domain.steps import GUIDANCE_ORDER, Party, Step

ROOT = Path(__file__).resolve().parents[2]
WEB_TEMPLATES = ROOT / "templates" / "web"

STEP_LABELS: dict[Step, str] = {
    Step.business_number: "Business Number (BN)",
    Step.importer_account: "Importer/exporter program account (RM)",
    Step.carm_registration: "Registration in the CARM Client Portal",
    Step.rpp_enrollment: "Release Prior to Payment (RPP)",
    Step.doa_acceptance: "Delegation of Authority (DOA) for our broker",
    Step.poa_submission: "Power of Attorney (POA) submitted",
    Step.poa_approval: "Power of Attorney approved by our broker",
    Step.program_access: "Program access for our broker",
}


@dataclass(frozen=True)
class StepRow:
    number: int
    label: str
    state: Literal["done", "you", "broker", "later", "not_needed"]
    words: str


@dataclass(frozen=True)
class ActionCard:
    code: str
    title: str
    instructions: str
    link: str | None
    link_label: str
    reason: str | None


@dataclass(frozen=True)
class ParcelRow:
    shipment_id: str
    state: str
    arrived_on: str
    due_on: str | None
    days_left: int | None
    closing: str | None


def _link_label(link: str) -> str:
    if "cbsa-asfc" in link:
        return "CBSA instructions"
    if "revenue-agency" in link:
        return "CRA instructions"
    return "Instructions on canada.ca"


def _card(code: str, params: dict[str, Any]) -> ActionCard:
    g = guidance(code)
    reason = params.get("denial_reason")
    return ActionCard(
        code=code,
        title=g.title,
        instructions=g.instructions,
        link=g.link,
        link_label=_link_label(g.link) if g.link else "",
        reason=DENIAL_REASONS.get(str(reason), str(reason)) if reason else None,
    )


def _step_rows(status: OnboardingStatus) -> list[StepRow]:
    open_by_step = {a.step: a for a in status.actions if a.step is not None}
    required = set(status.completed_steps) | set(status.pending_steps)
    rows = []
    for number, step in enumerate(GUIDANCE_ORDER, start=1):
        label = STEP_LABELS[step]
        action = open_by_step.get(step)
        if step in status.completed_steps:
            rows.append(StepRow(number, label, "done", "Done"))
        elif step not in required:
            rows.append(StepRow(number, label, "not_needed", "Not needed"))
        elif action is not None and action.party == Party.seller:
            rows.append(StepRow(number, label, "you", "Your turn"))
        elif action is not None:
            rows.append(StepRow(number, label, "broker", "Waiting on our broker"))
        else:
            rows.append(StepRow(number, label, "later", "Not yet"))
    return rows


def _long_date(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"


class ChecklistPage:
    """Renders ``templates/web/*.html.j2`` (autoescaped) from a seller's status and parcels."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(WEB_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def parcel_row(self, p: HoldStatus) -> ParcelRow:
        tz = zone(self.settings.warehouse_timezone)
        return ParcelRow(
            shipment_id=p.shipment_id,
            state=p.state,
            arrived_on=_long_date(p.arrived_at.astimezone(tz).date()),
            due_on=_long_date(date.fromisoformat(p.disposal_due_on)) if p.disposal_due_on else None,
            days_left=p.business_days_left,
            closing=p.closing,
        )

    def checklist(self, status: OnboardingStatus, parcels: list[HoldStatus], more_parcels: int) -> str:
        seller_cards = [_card(a.code, a.params) for a in status.actions if a.party == Party.seller]
        broker_cards = [_card(a.code, a.params) for a in status.actions if a.party == Party.broker]
        rows = _step_rows(status)
        if status.stage == "opted_out":
            view = "opted_out"
        elif status.stage == "cleared":
            view = "cleared"
        elif status.legacy_poa and status.cleared_for_returns:
            view = "legacy"
        else:
            view = "onboarding"
        held = sorted(
            (self.parcel_row(p) for p in parcels),
            key=lambda r: (r.days_left if r.days_left is not None else 10**6, r.shipment_id),
        )
        now = datetime.now(zone(self.settings.warehouse_timezone))
        return self.render(
            "checklist.html.j2",
            status=status,
            view=view,
            rows=rows,
            done_count=sum(r.state == "done" for r in rows),
            required_count=sum(r.state != "not_needed" for r in rows),
            seller_cards=seller_cards,
            broker_cards=broker_cards,
            cleared=_card("cleared", {}),
            opted_out=_card("opted_out", {}),
            register_bn_link=CRA_REGISTER_BN,
            return_method=status.return_method,
            parcels=held,
            more_parcels=more_parcels,
            hold_days=self.settings.hold_business_days,
            as_of=f"{_long_date(now.date())}, {now:%H:%M} warehouse time",
        )
