"""SellerOnboarding: one workflow per seller, for as long as they are a seller.

Orchestration only: the rules are in :mod:`domain.onboarding` and the due times in
:mod:`domain.schedule` (pure, tested on their own); this workflow applies events to them, keeps
time, sends the resulting messages and broker handoffs through activities, tells the seller's held
parcels when to go, and keeps the search attributes and Web UI details current.

Why an update and not a signal for events: the sender must learn at once whether the event was
accepted (a bad business number, an event that does not fit the step), and a rejected update
leaves no trace in history.

Why handlers only change state: an update or signal can be handled in the same workflow task as
the run's start-up, or as a timer; every command (an activity, a signal, a search-attribute
upsert) is issued from the main loop, in one order whatever the handlers did, so replay always
meets the commands it recorded.

Versioning: see docs/versioning.md. Any change to the commands this file issues goes behind
``workflow.patched`` and the replay tests over tests/histories/ must still pass.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # The other workflow is only named here (its signal handlers, by reference): passed through,
    # it is not executed again for each sandboxed instance of this one.
    import domain.onboarding as rules
    import domain.schedule as schedule
    import domain.search_attributes as sa
    import workflows.return_hold as holds
    from activities.directory import DirectoryActivities
    from activities.settings import SettingsActivities
    from domain.deliveries import Audience, BrokerAffinityRequest, BrokerHandoff, link_nonce
    from domain.errors import InvalidInput, NotAllowedNow
    from domain.events import EventEnvelope
    from domain.guidance import describe_action
    from domain.payloads import (
        FindHeldParcels,
        HoldLink,
        ParcelsSignal,
        SellerDisposition,
        SellerOnboardingInput,
        SellerProfile,
        SignUp,
        SnapshotRequest,
    )
    from domain.settings import ReminderSchedule, WorkflowSettings
    from domain.state import AuditEntry, OnboardingMemory, PendingDelivery, audit_lines, audited
    from domain.steps import Party, Step
    from domain.validation import parse_strict
    from domain.workflow_ids import hold_workflow_id
    from workflows.deliveries import Deliveries
    from workflows.metrics import count
    from workflows.patches import LEAN_COMMANDS
    from workflows.timer import UpdatableTimer

# A seller with hundreds of held parcels is released in batches of this many signals.
PARCEL_SIGNAL_BATCH = 100


def _memory_from_input(data: SellerOnboardingInput) -> OnboardingMemory:
    if data.carried is not None:
        memory = OnboardingMemory.model_validate(data.carried)
        memory.run += 1
        return memory
    signup = parse_strict(SignUp, data.sign_up_fields(), "SellerOnboarding input")
    return OnboardingMemory(
        record=rules.new_record(
            signup.seller_id,
            legacy_poa=signup.legacy_poa,
            completed_steps=signup.completed_steps,
            business_number=signup.business_number,
            program_account=signup.program_account,
        ),
        profile=SellerProfile(
            email=signup.email,
            business_name=signup.business_name,
            returns_account_number=signup.returns_account_number or signup.seller_id,
            language=signup.language,
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
        self._seen: dict[str, SellerDisposition] = {}
        """What each newly registered parcel already knows of this seller (lean runs tell it only
        when that differs from the seller's disposition)."""
        self._lean = False
        """Whether this run issues release 2's leaner commands (the ``lean-commands`` patch)."""
        self._changed = False
        """Something handlers changed must be published (search attributes, details)."""
        self._deliveries = Deliveries()
        self._retries: list[PendingDelivery] = []
        """Failed deliveries operations asked to retry; the main loop sends them."""
        self._timer = UpdatableTimer("next reminder or check")
        self._published: dict[str, Any] = {}
        self._checked: (
            tuple[
                rules.SellerRecord,
                dict[str, Any],
                rules.EventContext,
                tuple[rules.SellerRecord, rules.Effects],
            ]
            | None
        ) = None

    # --- the main loop ---------------------------------------------------------------------

    @workflow.run
    async def run(self, data: SellerOnboardingInput) -> rules.OnboardingStatus:
        self._lean = workflow.patched(LEAN_COMMANDS)
        self._timer.keep_earlier = self._deliveries.local_first = self._lean
        if self._invalid is not None:
            raise self._invalid
        self._settings = await workflow.execute_local_activity_method(
            SettingsActivities.snapshot_settings,
            SnapshotRequest(today=workflow.now().date().isoformat()),
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._deliveries.give_up_after = timedelta(seconds=self._settings.delivery_give_up_after_seconds)
        before = self._m.record
        self._m.record = rules.with_required_steps(before, self._settings.required_steps)
        if self._m.record.lifecycle != before.lifecycle:
            self._effects.append(self._lifecycle_change(before, self._m.record))
        if data.carried is None:
            await self._first_run()
        self._changed = True

        while True:
            await self._work_through_queues()
            if self._offboarded or self._should_continue_as_new():
                break
            if await self._timer.sleep(self._next_wakeup(), self._has_work):
                self._fire_due_timers()

        # Let running update handlers finish and every delivery land before handing over; an
        # event accepted meanwhile is acted on here, not lost between runs.
        self._timer.cancel()
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            await self._work_through_queues()
            self._keep_failures(await self._deliveries.drain())
            if not self._has_work():
                break
        if self._offboarded:
            return self.status()
        workflow.continue_as_new(
            SellerOnboardingInput(seller_id=self._m.record.seller_id, carried=self._m.model_dump(mode="json"))
        )

    async def _first_run(self) -> None:
        record = self._m.record
        if record.lifecycle == "cleared":
            self._m.last_login_at = workflow.now()
        # Parcels that arrived before the seller signed up could not reach this workflow.
        # A visibility list, not a query: as a local activity it needs no workflow task slot.
        find = workflow.execute_local_activity_method if self._lean else workflow.execute_activity_method
        found = await find(
            DirectoryActivities.find_held_parcels,
            FindHeldParcels(seller_id=record.seller_id),
            start_to_close_timeout=timedelta(seconds=30),
        )
        for shipment_id in found.shipment_ids:
            self._track_parcel(shipment_id)

    def _has_work(self) -> bool:
        return bool(self._effects or self._tell_parcels or self._changed or self._deliveries.failed_some)

    @property
    def _offboarded(self) -> bool:
        return self._m.record.lifecycle == "offboarded"

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        assert self._settings is not None
        if self._has_work():
            return False
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._settings.continue_as_new_after_events
            # The holiday calendar in the settings snapshot covers a few years; refresh it in time.
            or workflow.now().year >= self._settings.calendar.last_year
        )

    async def _work_through_queues(self) -> None:
        while self._has_work():
            effects, self._effects = self._effects, []
            for effect in effects:
                self._act_on(effect)
            await self._tell_parcels_now()
            self._keep_failures(self._deliveries.take_failures())
            self._changed = False
            self._announce_new_steps()
            self._publish()

    # --- messages --------------------------------------------------------------------------

    @workflow.update
    def apply_event(self, event: EventEnvelope) -> rules.OnboardingStatus:
        """Apply one event of the contract; returns the new status."""
        checked, self._checked = self._checked, None
        context = self._context()
        if checked is not None and checked[:3] == (self._m.record, event.fields(), context):
            record, effects = checked[3]  # what the validator just computed for this very event
        else:  # on replay validators do not run
            record, effects = rules.apply(self._m.record, event, context)
        count("onboarding_events", "Onboarding events applied", event=effects.event_type)
        if not effects.duplicate:
            self._m.record = record
            self._take_in(effects)
            self._effects.append(effects)
            self._restart_clocks()
        return self.status()

    @apply_event.validator
    def _validate_event(self, event: EventEnvelope) -> None:
        if self._invalid is not None:
            raise NotAllowedNow(
                "this seller's workflow was started with invalid input", code="invalid_workflow"
            )
        # Raises InvalidInput / NotAllowedNow. The result is kept for the handler, which runs
        # next in the same activation: building the machine is most of an event's CPU cost.
        context = self._context()
        self._checked = (self._m.record, event.fields(), context, rules.apply(self._m.record, event, context))

    def _context(self) -> rules.EventContext:
        return rules.EventContext(
            now=workflow.now(),
            held_shipments=tuple(self._m.held_shipments),
            failed_deliveries=tuple(p.key for p in self._m.failed),
            email=self._m.profile.email,
        )

    def _take_in(self, e: rules.Effects) -> None:
        """What an accepted event changes besides the record (state only: handlers call it)."""
        m = self._m
        assert e.party is not None
        entry = AuditEntry(
            at=workflow.now(), type=e.event_type, party=e.party, actor=e.actor, event_id=e.event_id
        )
        m.audit = audited(m.audit, entry)
        if e.language is not None:
            m.profile.language = e.language
        if e.email is not None:
            m.profile.email = e.email
            m.link_epoch += 1  # links sent to the old address stop working
        if e.language is not None or e.email is not None:
            # Held parcels write to the seller themselves: they must learn the new address and
            # language (and link epoch) too.
            for shipment_id in m.held_shipments:
                if shipment_id not in self._tell_parcels:
                    self._tell_parcels.append(shipment_id)
        if e.abandon_delivery is not None:
            m.failed = [p for p in m.failed if p.key != e.abandon_delivery]
        if e.retry_delivery is not None:
            self._retries += [p for p in m.failed if p.key == e.retry_delivery]
            m.failed = [p for p in m.failed if p.key != e.retry_delivery]

    @workflow.query
    def status(self) -> rules.OnboardingStatus:
        clocks = [c.since for c in self._m.clocks.values()]
        return rules.status(
            self._m.record,
            stalled=self._stalled,
            held_shipments=self._m.held_shipments,
            waiting_since=min(clocks) if clocks else None,
            language=self._m.profile.language,
            failed_deliveries=[p.failure for p in self._m.failed],
            link_epoch=self._m.link_epoch,
            link_nonce=self._link_nonce,
        )

    @property
    def _link_nonce(self) -> str:
        # The same through every continue-as-new, different for a later sign-up of the seller.
        return link_nonce(workflow.info().first_execution_run_id)

    @workflow.query
    def audit(self) -> list[AuditEntry]:
        """Every accepted event, oldest first: when, what, and who sent it."""
        return list(self._m.audit)

    @workflow.query
    def disposition(self) -> SellerDisposition:
        """What to do with this seller's parcels now (asked by a parcel when it arrives)."""
        record = self._m.record
        opted_out = record.lifecycle == "opted_out"
        return SellerDisposition(
            seller_id=record.seller_id,
            cleared_for_returns=record.cleared_for_returns,
            return_method=record.return_method if opted_out else None,
            us_address=record.us_address if opted_out else None,
            email=self._m.profile.email,
            business_name=self._m.profile.business_name,
            language=self._m.profile.language,
            link_epoch=self._m.link_epoch,
            link_nonce=self._link_nonce,
        )

    @workflow.signal
    def hold_opened(self, link: HoldLink) -> None:
        """A parcel of this seller arrived: tell it what to do with it, unless it knows already."""
        if link.seen is not None:
            self._seen[link.shipment_id] = link.seen
        self._track_parcel(link.shipment_id)

    @workflow.signal
    def hold_closed(self, link: HoldLink) -> None:
        """A parcel of this seller ended otherwise than by this workflow's word (decision, deadline)."""
        if link.shipment_id in self._m.held_shipments:
            self._m.held_shipments = [s for s in self._m.held_shipments if s != link.shipment_id]
            self._changed = True

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
        """The commands an applied event calls for: deliveries, and telling parcels to go."""
        if e.email is not None and e.old_email:
            # No link: the old address must not get one that opens the page.
            self._notify("seller", "email_changed", to=e.old_email, link=False, new_email=e.email)
        if e.checklist_link_requested:
            self._notify_seller("checklist_link")
        for pending in self._retries:
            self._deliveries.retry(pending)
        self._retries = []
        self._act_on_broker_steps(e)
        self._act_on_login(e)
        self._act_on_clearance(e)

    def _act_on_broker_steps(self, e: rules.Effects) -> None:
        if e.broker_handoff:
            self._m.last_login_at = workflow.now()  # registering in CARM is a login
            self._hand_off_to_broker()
        if e.affinity_requested:
            self._request_affinity_figures()
        if e.affinity_figures is not None:
            self._notify_seller("affinity_figures", figures=e.affinity_figures)
        if e.poa_denied is not None:
            self._notify_seller("poa_denied", reason=e.poa_denied.reason, detail=e.poa_denied.detail)
        if e.registration_requested:
            self._notify_seller("registration_requested")

    def _act_on_login(self, e: rules.Effects) -> None:
        if e.login_confirmed:
            self._m.last_login_at = workflow.now()
            self._m.login_reminders_sent = 0
            self._m.login_overdue_alerted = False

    def _act_on_clearance(self, e: rules.Effects) -> None:
        if e.became_cleared:
            count("sellers_cleared", "Sellers who became cleared for returns")
            self._m.last_login_at = self._m.last_login_at or workflow.now()
            self._m.login_reminders_sent = 0
            self._notify_seller("seller_cleared", held=len(self._m.held_shipments))
        if e.lost_clearance:
            count("sellers_lost_clearance", "Sellers who lost clearance", cause=e.event_type)
            self._notify_seller("clearance_lost", cause=e.event_type)
        if e.opted_out:
            self._notify_seller("opted_out", return_method=self._m.record.return_method)
        if e.became_cleared or e.opted_out:
            for shipment_id in self._m.held_shipments:
                if shipment_id not in self._tell_parcels:
                    self._tell_parcels.append(shipment_id)

    def _hand_off_to_broker(self) -> None:
        record = self._m.record
        self._deliveries.start(
            "broker_handoff",
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

    def _request_affinity_figures(self) -> None:
        record = self._m.record
        self._m.affinity_requests += 1
        self._deliveries.start(
            "affinity_request",
            BrokerAffinityRequest(
                idempotency_key=f"affinity:{record.seller_id}:{self._m.affinity_requests}",
                seller_id=record.seller_id,
                business_number=record.business_number,
            ),
            summary="affinity figures request",
        )

    async def _tell_parcels_now(self) -> None:
        """Send each queued parcel the seller's current disposition (if it does not know it)."""
        if not self._tell_parcels:
            return
        shipment_ids, self._tell_parcels = self._tell_parcels, []
        seen, self._seen = self._seen, {}
        disposition = self.disposition()
        final = disposition.cleared_for_returns or disposition.return_method is not None
        if self._lean:
            await self._signal_parcels([s for s in shipment_ids if seen.get(s) != disposition], disposition)
        else:
            await self._signal_parcels_externally(shipment_ids, disposition)
        if final:
            told = set(shipment_ids)
            self._m.held_shipments = [s for s in self._m.held_shipments if s not in told]

    async def _signal_parcels(self, shipment_ids: list[str], disposition: SellerDisposition) -> None:
        for start in range(0, len(shipment_ids), PARCEL_SIGNAL_BATCH):
            batch = shipment_ids[start : start + PARCEL_SIGNAL_BATCH]
            signalled = await workflow.execute_local_activity_method(
                DirectoryActivities.signal_parcels,
                ParcelsSignal(shipment_ids=batch, disposition=disposition),
                start_to_close_timeout=timedelta(seconds=30),
            )
            if signalled.not_running:  # those parcels' workflows have already closed
                workflow.logger.info("parcels not told (closed): %s", ", ".join(signalled.not_running))

    async def _signal_parcels_externally(
        self, shipment_ids: list[str], disposition: SellerDisposition
    ) -> None:
        # The commands release 1 recorded: an external signal per parcel.
        async def tell(shipment_id: str) -> None:
            handle = workflow.get_external_workflow_handle(hold_workflow_id(shipment_id))
            try:
                await handle.signal(holds.ReturnHold.seller_disposition, disposition)
            except ApplicationError as err:  # the parcel's workflow has already closed
                workflow.logger.info("parcel %s not told: %s", shipment_id, err)

        for start in range(0, len(shipment_ids), PARCEL_SIGNAL_BATCH):
            await asyncio.gather(*(tell(s) for s in shipment_ids[start : start + PARCEL_SIGNAL_BATCH]))

    def _notify_seller(self, template: str, **params: Any) -> None:
        self._notify("seller", template, **params)

    def _notify(
        self, audience: Audience, template: str, *, to: str | None = None, link: bool = True, **params: Any
    ) -> None:
        m = self._m
        m.notices += 1
        seller = audience == "seller"
        linked = seller and link
        self._deliveries.notify(
            key=f"{workflow.info().workflow_id}:notice:{m.notices}",
            audience=audience,
            template=template,
            to=(to or m.profile.email) if seller else None,
            seller_id=m.record.seller_id,
            language=m.profile.language if seller else "en",
            link_epoch=m.link_epoch if linked else None,
            link_nonce=self._link_nonce if linked else None,
            seller=m.record.seller_id,
            business_name=m.profile.business_name,
            **params,
        )

    def _keep_failures(self, failed: list[PendingDelivery]) -> None:
        """Deliveries given up: kept for operations, who are told (unless it was their own alert)."""
        for pending in failed:
            self._m.failed.append(pending)
            self._changed = True
            count("deliveries_given_up", "Deliveries given up and handed to operations", kind=pending.kind)
            if pending.request.get("audience") == "operations":
                workflow.logger.warning("alert to operations given up: %s", pending.failure.error)
                continue
            self._notify(
                "operations",
                "delivery_failed",
                kind=pending.kind,
                idempotency_key=pending.key,
                error=pending.failure.error,
            )

    # --- what others see ---------------------------------------------------------------------

    def _seller_actions(self) -> list[rules.NextAction]:
        record = self._m.record
        if record.lifecycle not in ("onboarding", "legacy"):
            return []
        return [a for a in rules.open_actions(record) if a.party is Party.seller]

    def _restart_clocks(self) -> None:
        """Restart the clock of each party whose actions changed (state only: handlers call it)."""
        record = self._m.record
        waiting: dict[str, list[str]] = {}
        if record.lifecycle in ("onboarding", "legacy"):
            for action in rules.open_actions(record):
                if action.party is not None:
                    waiting.setdefault(str(action.party), []).append(action.code)
        self._m.clocks = schedule.restart_clocks(self._m.clocks, waiting, workflow.now())

    def _announce_new_steps(self) -> None:
        seller_actions = self._seller_actions()
        new = [a for a in seller_actions if a.code not in self._m.announced]
        if new:
            self._notify_seller("onboarding_next_step", actions=[a.model_dump(mode="json") for a in new])
        self._m.announced = [a.code for a in seller_actions]

    def _publish(self) -> None:
        """Keep the search attributes and the Web UI's current details in step with the state."""
        self._restart_clocks()
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
        legacy = st.legacy_poa and st.cleared_for_returns and st.stage != "cleared"
        lines = [
            f"**Seller** {st.seller_id} — stage **{st.stage}**",
            f"Cleared for returns: **{'yes' if st.cleared_for_returns else 'no'}**"
            + (" (legacy POA)" if legacy else ""),
            f"Waiting on: {', '.join(st.waiting_on) or 'nobody'}" + ("  ⚠ **stalled**" if st.stalled else ""),
        ]
        lines += [f"- {describe_action(a.code, a.party, a.params)}" for a in st.actions]
        if st.pending_steps:
            lines.append(f"Pending: {', '.join(st.pending_steps)}")
        lines.append(f"Held parcels: {len(st.held_shipments)}")
        lines += [
            f"⚠ **Delivery failed**: {f.kind} `{f.idempotency_key}` ({f.error}): retry or abandon it"
            for f in st.failed_deliveries
        ]
        return "\n\n".join([*lines, *audit_lines(self._m.audit)])

    # --- keeping time ----------------------------------------------------------------------

    @property
    def _stalled(self) -> bool:
        return any(c.escalated for c in self._m.clocks.values())

    def _schedule_of(self, party: str) -> ReminderSchedule:
        assert self._settings is not None
        return self._settings.broker_reminders if party == Party.broker else self._settings.seller_reminders

    def _clock_due(self, party: str, clock: schedule.WaitClock) -> datetime:
        assert self._settings is not None
        return schedule.clock_due(self._schedule_of(party), self._settings.calendar, clock)

    def _login_watch(self) -> schedule.LoginWatch | None:
        m = self._m
        if m.record.lifecycle != "cleared" or m.last_login_at is None:
            return None
        return schedule.LoginWatch(m.last_login_at, m.login_reminders_sent, m.login_overdue_alerted)

    def _login_due(self) -> datetime | None:
        assert self._settings is not None
        watch = self._login_watch()
        return None if watch is None else schedule.login_due(watch, self._settings)

    def _rpp_watched(self) -> bool:
        """A cleared seller enrolled in RPP: reminded of its yearly review and posting deadline."""
        record = self._m.record
        return (
            record.lifecycle == "cleared"
            and Step.rpp_enrollment in record.required
            and record.is_complete(Step.rpp_enrollment)
        )

    def _rpp_review_due(self) -> datetime | None:
        assert self._settings is not None
        if not self._rpp_watched():
            return None
        return schedule.rpp_review_due(workflow.now(), self._m.rpp_review_reminded_year, self._settings)

    def _rpp_posting_due(self) -> datetime | None:
        assert self._settings is not None
        if not self._rpp_watched():
            return None
        return schedule.rpp_posting_due(workflow.now(), self._m.rpp_posting_reminded_year, self._settings)

    def _next_wakeup(self) -> datetime | None:
        due = [self._clock_due(p, c) for p, c in self._m.clocks.items() if not c.escalated]
        timed = (self._login_due(), self._rpp_review_due(), self._rpp_posting_due())
        due += [d for d in timed if d is not None]
        return min(due) if due else None

    def _fire_due_timers(self) -> None:
        now = workflow.now()
        for party, clock in self._m.clocks.items():
            if not clock.escalated and self._clock_due(party, clock) <= now:
                self._fire_clock(party, clock)
        login_due = self._login_due()
        if login_due is not None and login_due <= now:
            self._fire_login()
        self._fire_rpp(now)

    def _fire_rpp(self, now: datetime) -> None:
        assert self._settings is not None
        review_due = self._rpp_review_due()
        if review_due is not None and review_due <= now:
            review = schedule.next_on_or_after(review_due.date(), self._settings.rpp_review_date)
            self._m.rpp_review_reminded_year = review.year
            deadline = schedule.next_on_or_after(review, self._settings.rpp_posting_deadline)
            self._notify_seller(
                "rpp_review_reminder", review_date=review.isoformat(), posting_deadline=deadline.isoformat()
            )
        posting_due = self._rpp_posting_due()
        if posting_due is not None and posting_due <= now:
            deadline = schedule.next_on_or_after(posting_due.date(), self._settings.rpp_posting_deadline)
            self._m.rpp_posting_reminded_year = deadline.year
            self._notify_seller("rpp_posting_reminder", posting_deadline=deadline.isoformat())

    def _fire_clock(self, party: str, clock: schedule.WaitClock) -> None:
        if schedule.clock_step(self._schedule_of(party), clock) == "remind":
            clock.reminders_sent += 1
            count("reminders_sent", "Reminders to whoever a step waits on", party=party)
            self._notify(
                "seller" if party == Party.seller else "broker",
                "onboarding_reminder",
                actions=clock.actions,
                reminder=clock.reminders_sent,
                waiting_since=clock.since.isoformat(),
            )
            return
        clock.escalated = True
        self._changed = True
        count("sellers_stalled", "Stalls escalated to operations", party=party)
        self._notify(
            "operations",
            "onboarding_stalled",
            party=party,
            actions=clock.actions,
            waiting_since=clock.since.isoformat(),
        )

    def _fire_login(self) -> None:
        assert self._settings is not None
        watch = self._login_watch()
        assert watch is not None
        expires = schedule.login_expires(watch, self._settings).date().isoformat()
        if self._m.login_reminders_sent < len(self._settings.carm_login_reminder_days_before):
            self._m.login_reminders_sent += 1
            self._notify_seller("carm_login_reminder", expires_on=expires)
        else:
            self._m.login_overdue_alerted = True
            self._notify("operations", "carm_login_overdue", expired_on=expires)
