"""SellerOnboarding: one workflow per seller, for as long as they are a seller.

Orchestration only: the rules are in :mod:`domain.onboarding` (pure, tested on their own); this
workflow applies events to them, keeps time (reminders, escalation, the CARM login and yearly
RPP reminders), sends the resulting messages and broker handoffs through activities, tells the
seller's held parcels when to go, and keeps the search attributes and Web UI details current.

Why an update and not a signal for events: the sender must learn at once whether the event was
accepted (a bad business number, an event that does not fit the step), and a rejected update
leaves no trace in history. The update handler is synchronous — it changes state with no
``await`` — so a validator running concurrently never sees a half-applied event; everything
that takes time (activities, signals to parcels) happens in the main loop.

Versioning: see docs/versioning.md. Any change to the commands this file issues goes behind
``workflow.patched`` and the replay tests over tests/histories/ must still pass.
"""

import asyncio
import contextlib
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import domain.onboarding as rules
    import domain.search_attributes as sa
    from domain.deliveries import BrokerAffinityRequest, BrokerHandoff
    from domain.errors import InvalidInput, NotAllowedNow
    from domain.events import EventEnvelope
    from domain.guidance import describe_action
    from domain.payloads import (
        FindHeldParcels,
        HeldParcels,
        HoldLink,
        SellerDisposition,
        SellerOnboardingInput,
        SellerProfile,
        SignUp,
        SnapshotRequest,
    )
    from domain.settings import ReminderSchedule, WorkflowSettings
    from domain.steps import Party, Step
    from domain.validation import parse_strict
    from workflows.deliveries import Deliveries
    from workflows.metrics import count


# Versioning (docs/versioning.md): from this patch on, handlers issue no commands before run()
# has started (see ``_started``); older histories keep the old order.
QUIET_START_PATCH = "no-commands-from-handlers-before-start"


class WaitClock(BaseModel):
    """How long one party has been waited on for the same set of actions."""

    model_config = ConfigDict(extra="ignore")

    since: datetime
    actions: list[str]
    reminders_sent: int = 0
    escalated: bool = False


class OnboardingMemory(BaseModel):
    """All state of a seller's workflow: carried whole across continue-as-new."""

    model_config = ConfigDict(extra="ignore")

    record: rules.SellerRecord
    profile: SellerProfile
    notices: int = 0
    affinity_requests: int = 0
    clocks: dict[str, WaitClock] = Field(default_factory=dict)
    announced: list[str] = Field(default_factory=list)
    """Seller action codes already announced, so each new step is announced once."""
    held_shipments: list[str] = Field(default_factory=list)
    last_login_at: datetime | None = None
    login_reminders_sent: int = 0
    login_overdue_alerted: bool = False
    rpp_review_reminded_year: int | None = None
    run: int = 1


def _memory_from_input(data: SellerOnboardingInput) -> OnboardingMemory:
    if data.carried is not None:
        memory = OnboardingMemory.model_validate(data.carried)
        memory.run += 1
        return memory
    signup = parse_strict(SignUp, data.sign_up_fields(), "SellerOnboarding input")
    return OnboardingMemory(
        record=rules.new_record(
            signup.seller_id, legacy_poa=signup.legacy_poa, completed_steps=signup.completed_steps
        ),
        profile=SellerProfile(
            email=signup.email,
            business_name=signup.business_name,
            returns_account_number=signup.returns_account_number or signup.seller_id,
        ),
    )


@workflow.defn(name="SellerOnboarding", failure_exception_types=[ValidationError])
class SellerOnboarding:
    @workflow.init
    def __init__(self, data: SellerOnboardingInput) -> None:
        self._invalid: InvalidInput | None = None
        try:
            self._m = _memory_from_input(data)
        except InvalidInput as err:
            # Failed in run(), cleanly and non-retryably; a placeholder answers queries till then.
            self._invalid = err
            self._m = OnboardingMemory(
                record=rules.new_record(str(data.seller_id)[:64] or "invalid"),
                profile=SellerProfile(email="", returns_account_number=""),
            )
        self._settings: WorkflowSettings | None = None
        self._effects: list[rules.Effects] = []
        self._tell_parcels: list[str] = []
        self._deliveries = Deliveries()
        self._published: dict[str, Any] = {}
        # Until the run has its settings and has looked for held parcels, handlers change state
        # only: an update that arrives while the settings' local activity runs is handled after
        # it on replay (its marker resolves at once), so any command it issued would come out in
        # another order and break replay. run() publishes and announces once it is started.
        self._started = False
        self._quiet_start = workflow.patched(QUIET_START_PATCH)
        self._checked: (
            tuple[rules.SellerRecord, dict[str, Any], tuple[rules.SellerRecord, rules.Effects]] | None
        ) = None

    # --- the main loop ---------------------------------------------------------------------

    @workflow.run
    async def run(self, data: SellerOnboardingInput) -> rules.OnboardingStatus:
        if self._invalid is not None:
            raise self._invalid
        self._settings = await workflow.execute_local_activity(
            "snapshot_settings",
            SnapshotRequest(today=workflow.now().date().isoformat()),
            result_type=WorkflowSettings,
            start_to_close_timeout=timedelta(seconds=30),
        )
        before = self._m.record
        self._m.record = rules.with_required_steps(before, self._settings.required_steps)
        if self._m.record.lifecycle != before.lifecycle:
            self._effects.append(self._lifecycle_change(before, self._m.record))
        if data.carried is None:
            await self._first_run()
        self._started = True
        self._after_change()

        while True:
            await self._work_through_queues()
            if self._should_continue_as_new():
                break
            wake_at = self._next_wakeup()
            timeout = None if wake_at is None else max(wake_at - workflow.now(), timedelta(seconds=1))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self._effects or self._tell_parcels), timeout=timeout
                )
            self._fire_due_timers()

        # Let running update handlers finish and every delivery land before handing over; an
        # event accepted meanwhile is acted on here, not lost between runs.
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._work_through_queues()
            await self._deliveries.drain()
            if not (self._effects or self._tell_parcels):
                break
        workflow.continue_as_new(
            SellerOnboardingInput(seller_id=self._m.record.seller_id, carried=self._m.model_dump(mode="json"))
        )

    async def _first_run(self) -> None:
        record = self._m.record
        if record.lifecycle == "cleared":
            self._m.last_login_at = workflow.now()
        # Parcels that arrived before the seller signed up could not reach this workflow.
        found = await workflow.execute_activity(
            "find_held_parcels",
            FindHeldParcels(seller_id=record.seller_id),
            result_type=HeldParcels,
            start_to_close_timeout=timedelta(seconds=30),
        )
        for shipment_id in found.shipment_ids:
            self._track_parcel(shipment_id)

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        assert self._settings is not None
        if self._effects or self._tell_parcels:
            return False
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._settings.continue_as_new_after_events
            # The holiday calendar in the settings snapshot covers a few years; refresh it in time.
            or workflow.now().year >= self._settings.calendar.last_year
        )

    async def _work_through_queues(self) -> None:
        while self._effects or self._tell_parcels:
            effects, self._effects = self._effects, []
            for effect in effects:
                self._act_on(effect)
            await self._tell_parcels_now()
            self._after_change()
        self._deliveries.reap()

    # --- messages --------------------------------------------------------------------------

    @workflow.update(name="apply_event")
    def apply_event(self, event: EventEnvelope) -> rules.OnboardingStatus:
        """Apply one event of the contract; returns the new status."""
        checked, self._checked = self._checked, None
        if checked is not None and checked[0] is self._m.record and checked[1] == event.fields():
            record, effects = checked[2]  # what the validator just computed for this very event
        else:  # on replay validators do not run
            record, effects = rules.apply(self._m.record, event)
        count("onboarding_events", "Onboarding events applied", event=effects.event_type)
        if not effects.duplicate:
            self._m.record = record
            self._effects.append(effects)
            self._after_change()
        return self.status()

    @apply_event.validator
    def _validate_event(self, event: EventEnvelope) -> None:
        if self._invalid is not None:
            raise NotAllowedNow("this seller's workflow was started with invalid input")
        # Raises InvalidInput / NotAllowedNow. The result is kept for the handler, which runs
        # next in the same activation: building the machine is most of an event's CPU cost.
        self._checked = (self._m.record, event.fields(), rules.apply(self._m.record, event))

    @workflow.query(name="status")
    def status(self) -> rules.OnboardingStatus:
        clocks = [c.since for c in self._m.clocks.values()]
        return rules.status(
            self._m.record,
            stalled=self._stalled,
            held_shipments=self._m.held_shipments,
            waiting_since=min(clocks) if clocks else None,
        )

    @workflow.signal(name="hold_opened")
    def hold_opened(self, link: HoldLink) -> None:
        """A parcel of this seller arrived: tell it at once what to do with it."""
        self._track_parcel(link.shipment_id)

    @workflow.signal(name="hold_closed")
    def hold_closed(self, link: HoldLink) -> None:
        if link.shipment_id in self._m.held_shipments:
            self._m.held_shipments = [s for s in self._m.held_shipments if s != link.shipment_id]
            self._after_change()

    def _track_parcel(self, shipment_id: str) -> None:
        if shipment_id not in self._m.held_shipments:
            self._m.held_shipments = [*self._m.held_shipments, shipment_id]
        if shipment_id not in self._tell_parcels:
            self._tell_parcels.append(shipment_id)

    # --- acting on what changed --------------------------------------------------------------

    @staticmethod
    def _lifecycle_change(before: rules.SellerRecord, after: rules.SellerRecord) -> rules.Effects:
        return rules.Effects(
            event_type="settings_changed",
            became_cleared=after.cleared_for_returns and not before.cleared_for_returns,
            lost_clearance=before.cleared_for_returns and not after.cleared_for_returns,
        )

    def _act_on(self, e: rules.Effects) -> None:
        record, now = self._m.record, workflow.now()
        if e.broker_handoff:
            self._m.last_login_at = now  # registering in CARM is a login
            self._deliveries.start(
                "hand_off_to_broker",
                BrokerHandoff(
                    idempotency_key=f"handoff:{record.seller_id}:{record.handoffs}",
                    seller_id=record.seller_id,
                    returns_account_number=self._m.profile.returns_account_number,
                    business_number=record.business_number,
                    program_account=record.program_account,
                    handoff_number=record.handoffs,
                ),
                summary=f"broker handoff #{record.handoffs}",
            )
        if e.affinity_requested:
            self._m.affinity_requests += 1
            self._deliveries.start(
                "request_affinity_figures",
                BrokerAffinityRequest(
                    idempotency_key=f"affinity:{record.seller_id}:{self._m.affinity_requests}",
                    seller_id=record.seller_id,
                    business_number=record.business_number,
                ),
                summary="affinity figures request",
            )
        if e.affinity_figures is not None:
            self._notify_seller("affinity_figures", figures=e.affinity_figures)
        if e.poa_denied is not None:
            self._notify_seller("poa_denied", reason=e.poa_denied.reason, detail=e.poa_denied.detail)
        if e.login_confirmed:
            self._m.last_login_at = now
            self._m.login_reminders_sent = 0
            self._m.login_overdue_alerted = False
        if e.registration_requested:
            self._notify_seller("registration_requested")
        if e.became_cleared:
            count("sellers_cleared", "Sellers who became cleared for returns")
            self._m.last_login_at = self._m.last_login_at or now
            self._m.login_reminders_sent = 0
            self._notify_seller("seller_cleared", held=len(self._m.held_shipments))
        if e.lost_clearance:
            count("sellers_lost_clearance", "Sellers who lost clearance", cause=e.event_type)
            self._notify_seller("clearance_lost", cause=e.event_type)
        if e.opted_out:
            self._notify_seller("opted_out", return_method=record.return_method)
        if e.became_cleared or e.opted_out:
            for shipment_id in self._m.held_shipments:
                if shipment_id not in self._tell_parcels:
                    self._tell_parcels.append(shipment_id)

    @workflow.query(name="disposition")
    def disposition(self) -> SellerDisposition:
        """What to do with this seller's parcels now (asked by a parcel when it arrives)."""
        record = self._m.record
        return SellerDisposition(
            seller_id=record.seller_id,
            cleared_for_returns=record.cleared_for_returns,
            return_method=record.return_method if record.lifecycle == "opted_out" else None,
            us_address=record.us_address if record.lifecycle == "opted_out" else None,
            email=self._m.profile.email,
            business_name=self._m.profile.business_name,
        )

    async def _tell_parcels_now(self) -> None:
        """Send each queued parcel the seller's current disposition."""
        if not self._tell_parcels:
            return
        shipment_ids, self._tell_parcels = self._tell_parcels, []
        disposition = self.disposition()
        final = disposition.cleared_for_returns or disposition.return_method is not None

        async def tell(shipment_id: str) -> None:
            handle = workflow.get_external_workflow_handle(f"return-hold-{shipment_id}")
            try:
                await handle.signal("seller_disposition", disposition)
            except ApplicationError as err:  # the parcel's workflow has already closed
                workflow.logger.info("parcel %s not told: %s", shipment_id, err)

        # Bounded fan-out: a seller with hundreds of held parcels is released in a few batches.
        for start in range(0, len(shipment_ids), 100):
            await asyncio.gather(*(tell(s) for s in shipment_ids[start : start + 100]))
        if final:
            told = set(shipment_ids)
            self._m.held_shipments = [s for s in self._m.held_shipments if s not in told]

    def _notify_seller(self, template: str, **params: Any) -> None:
        self._notify("seller", template, **params)

    def _notify(self, audience: str, template: str, **params: Any) -> None:
        self._m.notices += 1
        record = self._m.record
        self._deliveries.notify(
            key=f"{workflow.info().workflow_id}:notice:{self._m.notices}",
            audience=audience,  # type: ignore[arg-type]
            template=template,
            to=self._m.profile.email if audience == "seller" else None,
            seller_id=record.seller_id,
            seller=record.seller_id,
            business_name=self._m.profile.business_name,
            **params,
        )

    # --- keeping time ----------------------------------------------------------------------

    @property
    def _stalled(self) -> bool:
        return any(c.escalated for c in self._m.clocks.values())

    def _after_change(self) -> None:
        """Restart the clocks of parties with new actions, announce new steps, publish."""
        record, now = self._m.record, workflow.now()
        by_party: dict[str, list[str]] = {}
        actions = rules.open_actions(record) if record.lifecycle in ("onboarding", "legacy") else []
        for action in actions:
            if action.party is not None:
                by_party.setdefault(str(action.party), []).append(action.code)
        clocks = {}
        for party, codes in by_party.items():
            clock = self._m.clocks.get(party)
            clocks[party] = (
                clock if clock is not None and clock.actions == codes else WaitClock(since=now, actions=codes)
            )
        self._m.clocks = clocks

        if self._quiet_start and not self._started:
            return
        seller_actions = [a for a in actions if a.party is Party.seller]
        new = [a for a in seller_actions if a.code not in self._m.announced]
        if new and self._settings is not None:
            self._notify_seller("onboarding_next_step", actions=[a.model_dump(mode="json") for a in new])
        if self._settings is not None:
            self._m.announced = [a.code for a in seller_actions]
        self._publish()

    def _publish(self) -> None:
        """Keep the search attributes and the Web UI's current details in step with the state."""
        st = self.status()
        values: dict[str, Any] = {
            "SellerId": st.seller_id,
            "OnboardingStage": st.stage,
            "ClearedForReturns": st.cleared_for_returns,
            "WaitingOn": [str(p) for p in st.waiting_on],
            "Stalled": st.stalled,
        }
        keys: dict[str, SearchAttributeKey[Any]] = {
            "SellerId": sa.SELLER_ID,
            "OnboardingStage": sa.ONBOARDING_STAGE,
            "ClearedForReturns": sa.CLEARED_FOR_RETURNS,
            "WaitingOn": sa.WAITING_ON,
            "Stalled": sa.STALLED,
        }
        changed = [keys[k].value_set(v) for k, v in values.items() if self._published.get(k) != v]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._published.update(values)
        workflow.set_current_details(self._details(st))

    def _details(self, st: rules.OnboardingStatus) -> str:
        lines = [
            f"**Seller** {st.seller_id} — stage **{st.stage}**",
            f"Cleared for returns: **{'yes' if st.cleared_for_returns else 'no'}**"
            + (" (legacy POA)" if st.legacy_poa and st.cleared_for_returns and st.stage != "cleared" else ""),
            f"Waiting on: {', '.join(st.waiting_on) or 'nobody'}" + ("  ⚠ **stalled**" if st.stalled else ""),
        ]
        for action in st.actions:
            lines.append(f"- {describe_action(action.code, action.party, action.params)}")
        if st.pending_steps:
            lines.append(f"Pending: {', '.join(st.pending_steps)}")
        lines.append(f"Held parcels: {len(st.held_shipments)}")
        return "\n\n".join(lines)

    def _clock_due(self, party: str, clock: WaitClock) -> datetime:
        assert self._settings is not None
        schedule: ReminderSchedule = (
            self._settings.broker_reminders if party == Party.broker else self._settings.seller_reminders
        )
        sent = clock.reminders_sent
        days = schedule.remind_after[sent] if sent < len(schedule.remind_after) else schedule.escalate_after
        if schedule.business_days:
            return self._settings.calendar.after_business_days(clock.since, days)
        return clock.since + timedelta(days=days)

    def _login_due(self) -> datetime | None:
        assert self._settings is not None
        m = self._m
        if m.record.lifecycle != "cleared" or m.last_login_at is None:
            return None
        expires = m.last_login_at + timedelta(days=self._settings.carm_inactivity_days)
        before = sorted(self._settings.carm_login_reminder_days_before, reverse=True)
        if m.login_reminders_sent < len(before):
            return expires - timedelta(days=before[m.login_reminders_sent])
        return None if m.login_overdue_alerted else expires

    def _rpp_review_due(self) -> datetime | None:
        assert self._settings is not None
        record = self._m.record
        if (
            record.lifecycle != "cleared"
            or Step.rpp_enrollment not in record.required
            or not record.is_complete(Step.rpp_enrollment)
        ):
            return None
        cal, now = self._settings.calendar, workflow.now()
        lead = timedelta(days=self._settings.rpp_review_reminder_days_before)
        for year in (now.year, now.year + 1):
            review = date(year, 10, 20)
            if self._m.rpp_review_reminded_year == year or cal.at_local(review, time(0)) <= now:
                continue
            # A seller cleared after this year's reminder date is still reminded before the review.
            return cal.at_local(review - lead, time(9))
        return None

    def _next_wakeup(self) -> datetime | None:
        due = [self._clock_due(p, c) for p, c in self._m.clocks.items() if not c.escalated]
        due += [d for d in (self._login_due(), self._rpp_review_due()) if d is not None]
        return min(due) if due else None

    def _fire_due_timers(self) -> None:
        assert self._settings is not None
        now, changed = workflow.now(), False
        for party, clock in self._m.clocks.items():
            if clock.escalated or self._clock_due(party, clock) > now:
                continue
            schedule = (
                self._settings.broker_reminders if party == Party.broker else self._settings.seller_reminders
            )
            codes = clock.actions
            if clock.reminders_sent < len(schedule.remind_after):
                clock.reminders_sent += 1
                count("reminders_sent", "Reminders to whoever a step waits on", party=party)
                self._notify(
                    party,
                    "onboarding_reminder",
                    actions=codes,
                    reminder=clock.reminders_sent,
                    waiting_since=clock.since.isoformat(),
                )
            else:
                clock.escalated = True
                changed = True
                count("sellers_stalled", "Stalls escalated to operations", party=party)
                self._notify(
                    "operations",
                    "onboarding_stalled",
                    party=party,
                    actions=codes,
                    waiting_since=clock.since.isoformat(),
                )
        login_due = self._login_due()
        if login_due is not None and login_due <= now:
            assert self._m.last_login_at is not None
            expires = self._m.last_login_at + timedelta(days=self._settings.carm_inactivity_days)
            if self._m.login_reminders_sent < len(self._settings.carm_login_reminder_days_before):
                self._m.login_reminders_sent += 1
                self._notify_seller("carm_login_reminder", expires_on=expires.date().isoformat())
            else:
                self._m.login_overdue_alerted = True
                self._notify("operations", "carm_login_overdue", expired_on=expires.date().isoformat())
        rpp_due = self._rpp_review_due()
        if rpp_due is not None and rpp_due <= now:
            self._m.rpp_review_reminded_year = rpp_due.year
            self._notify_seller("rpp_review_reminder", review_date=f"{rpp_due.year}-10-20")
        if changed:
            self._publish()
