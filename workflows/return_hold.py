"""ReturnHold: one workflow per returned parcel at the U.S. warehouse, until its one outcome.

On arrival the parcel learns its seller's situation (looked up by the starter just before the
start, else by a query through an activity) and, if it is held, registers with the seller's
workflow (signal ``hold_opened``, carrying what the parcel knows); the seller's workflow tells it
whenever the situation changes (signal ``seller_disposition``) — cleared, opted out — so a
clearance releases every held parcel within seconds, across any number of the seller's
continue-as-new runs (signals address the workflow id, not a run). A parcel whose seller has no
workflow yet is held on the same clock, operations is told, and the seller's workflow finds it
through visibility when the seller signs up.

The deadline is computed once, on arrival, from the settings snapshot taken then, and only an
extension moves it (see :mod:`workflows.timer`). Exactly one of release, forward and dispose is
carried out, with the warehouse instruction keyed on the shipment so a retry or a crash never
issues two. Which commands carry all this (local activities or not) is the ``lean-commands``
patch's choice: see :mod:`workflows.patches` and docs/versioning.md.
"""

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # The other workflow is only named here (its signal handlers, by reference): passed through,
    # it is not executed again for each sandboxed instance of this one.
    import domain.schedule as schedule
    import domain.search_attributes as sa
    import workflows.onboarding as onboarding
    from activities.deliveries import DeliveryActivities
    from activities.directory import DirectoryActivities
    from activities.settings import SettingsActivities
    from domain.arrivals import check_arrival_time
    from domain.business_days import BusinessCalendar
    from domain.deliveries import Audience, FailedDelivery, WarehouseAction, WarehouseInstruction
    from domain.errors import InvalidInput, NotAllowedNow
    from domain.payloads import (
        DECISIONS,
        Arrival,
        DecideRequest,
        DeliveryAction,
        DeliveryActionRequest,
        ExtendHold,
        ExtendHoldRequest,
        FindSeller,
        ForwardDecision,
        HoldLink,
        HoldResult,
        HoldStatus,
        Outcome,
        Reassign,
        ReassignRequest,
        ReturnHoldInput,
        SellerDisposition,
        SellerLookup,
        SellerSignal,
        SnapshotRequest,
    )
    from domain.settings import WorkflowSettings
    from domain.state import AuditEntry, Extension, HoldMemory, PendingDelivery, audit_lines, audited
    from domain.steps import Party
    from domain.validation import parse_strict, parse_with
    from domain.workflow_ids import seller_workflow_id
    from workflows.deliveries import (
        DELIVERY_FAILED,
        Deliveries,
        deliver,
        failure_reason,
    )
    from workflows.metrics import count
    from workflows.patches import INSTRUCTION_IN_HISTORY, LEAN_COMMANDS
    from workflows.timer import UpdatableTimer

_ACTION_OF: dict[Outcome, WarehouseAction] = {
    "released": "release",
    "forwarded": "forward",
    "disposed": "dispose",
}
_REASON_OF: dict[Outcome, str] = {
    "released": "seller cleared for returns: release to the customs broker",
    "forwarded": "forward to the seller's own U.S. address",
    "disposed": "disposal",
}


@workflow.defn(name="ReturnHold", failure_exception_types=[ValidationError])
class ReturnHold:
    @workflow.init
    def __init__(self, data: ReturnHoldInput) -> None:
        self._invalid: InvalidInput | None = None
        try:
            fields = data.model_dump(exclude_unset=True, exclude={"seller_lookup"})
            arrival = parse_strict(Arrival, fields, "ReturnHold input")
        except InvalidInput as err:
            self._invalid = err
            # A placeholder answers queries until run() fails the workflow.
            arrival = Arrival(shipment_id="invalid", seller_id="invalid", arrived_at=workflow.now())
        self._m = HoldMemory(arrival=arrival)
        self._settings: WorkflowSettings | None = None
        self._deliveries = Deliveries()
        self._timer = UpdatableTimer("deadline, reminder or seller check")
        self._published: tuple[str, str, datetime | None, tuple[str, ...]] | None = None
        self._rechecks: list[int] = []
        self._extended = False
        """An extension was accepted; the main line publishes it and tells the seller."""
        self._reassigned_from: str | None = None
        """A reassignment was accepted: the seller the parcel leaves; the main line moves it."""
        self._retries: list[PendingDelivery] = []
        """Failed deliveries operations asked to retry; the main line sends them."""
        self._lean = False
        """Whether this run issues release 2's leaner commands (the ``lean-commands`` patch)."""
        self._instruction_in_history = False
        """Whether the warehouse instruction skips the local attempt (``instruction-in-history``)."""

    # --- the main line -----------------------------------------------------------------------

    @workflow.run
    async def run(self, data: ReturnHoldInput) -> HoldResult:
        self._lean = workflow.patched(LEAN_COMMANDS)
        # Asked here, before the first await, not where the instruction is sent: a query that
        # arrives during the settings' local activity ends the workflow task early, and a replay
        # then runs the code after that activity in the earlier task, where the marker of a patch
        # asked there was never announced (seen as a nondeterminism error on a cache miss).
        self._instruction_in_history = workflow.patched(INSTRUCTION_IN_HISTORY)
        self._timer.keep_earlier = self._deliveries.local_first = self._lean
        if self._invalid is not None:
            raise self._invalid
        m = self._m
        check_arrival_time(m.arrival.arrived_at, workflow.now())
        self._settings = await workflow.execute_local_activity_method(
            SettingsActivities.snapshot_settings,
            SnapshotRequest(today=m.arrival.arrived_at.date().isoformat()),
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._deliveries.give_up_after = timedelta(seconds=self._settings.delivery_give_up_after_seconds)
        m.due_on = self._calendar.due_on(m.arrival.arrived_at, self._settings.hold_business_days)
        # The starter looked the seller up just before the start (the lean runs trust it).
        await self._look_up_seller(data.seller_lookup if self._lean else None)
        if self._outcome_now() is None:
            self._announce_hold()

        self._rechecks = list(self._settings.unknown_seller_recheck_seconds)
        recheck_at = self._recheck_time()
        while (outcome := self._outcome_now()) is None:
            wake = [self._deadline, *self._pending_reminders().values()]
            if recheck_at is not None:
                wake.append(recheck_at)
            await self._timer.sleep(min(wake), self._interrupted)
            if await self._act_on_requests():
                recheck_at = self._recheck_time()
            if recheck_at is not None and workflow.now() >= recheck_at and m.closing is None:
                await self._tell_seller_opened()
                recheck_at = self._recheck_time()
            self._send_due_reminders()

        self._timer.cancel()
        await self._carry_out(outcome)
        # A message about the parcel that failed for good stays open for operations: the
        # parcel's outcome is decided, but nothing the service owes is silently dropped.
        while True:
            await workflow.wait_condition(workflow.all_handlers_finished)
            self._keep_failures(await self._deliveries.drain())
            if not m.failed and not self._retries:
                break
            await workflow.wait_condition(lambda: bool(self._retries) or not m.failed)
            self._send_retries()
        assert m.outcome_at is not None
        return HoldResult(shipment_id=m.arrival.shipment_id, outcome=outcome, at=m.outcome_at)

    def _interrupted(self) -> bool:
        return (
            self._decided()
            or self._extended
            or self._reassigned_from is not None
            or bool(self._retries)
            or self._deliveries.failed_some
        )

    async def _act_on_requests(self) -> bool:
        """What handlers and deliveries left for the main line; True when the seller changed."""
        if self._extended:
            self._announce_extension()
        self._send_retries()
        self._keep_failures(self._deliveries.take_failures())
        if self._reassigned_from is None:
            return False
        await self._move_to_new_seller(self._reassigned_from)
        self._reassigned_from = None
        return True

    async def _move_to_new_seller(self, old_seller: str) -> None:
        """A reassigned parcel leaves its old seller's list and asks its new seller what to do."""
        m = self._m
        await self._tell_seller(onboarding.SellerOnboarding.hold_closed, seller_id=old_seller)
        m.disposition, m.seller_known, m.by_disposition = None, None, False
        self._rechecks = list(self._settings.unknown_seller_recheck_seconds) if self._settings else []
        await self._look_up_seller()
        self._publish()

    async def _look_up_seller(self, known: SellerLookup | None = None) -> None:
        """Ask the seller's workflow for the seller's situation (unless ``known``), and register if held.

        A query through an activity costs less than a signal round trip and needs no timer. Not a
        *local* activity: it would hold this workflow task open while the query waits for a
        workflow task slot on the same worker, and a burst of arrivals then starves the very
        seller workflows it queries (measured: the worker stalls at ~100 parcels at once).
        """
        m = self._m
        lookup = (
            known
            if known is not None
            else await workflow.execute_activity_method(
                DirectoryActivities.look_up_seller,
                FindSeller(seller_id=m.arrival.seller_id),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary="look up the seller",
            )
        )
        if lookup.disposition is not None and m.disposition is None:
            m.disposition = lookup.disposition
        if lookup.known:
            m.seller_known = True
        if self._outcome_now() is None:
            self._publish()
            # Registering lets the seller's workflow release the parcel on clearance; should it
            # clear in between, it answers the registration with the new disposition.
            await self._tell_seller_opened()

    def _decided(self) -> bool:
        return self._m.closing is not None or self._final_disposition()

    def _final_disposition(self) -> bool:
        d = self._m.disposition
        return d is not None and (d.cleared_for_returns or d.return_method is not None)

    def _outcome_now(self) -> Outcome | None:
        """The one outcome, chosen once: a seller's decision, the seller's status, the deadline."""
        m = self._m
        if m.closing is None:
            d = m.disposition
            m.by_disposition = self._final_disposition()
            if d is not None and d.cleared_for_returns:
                m.closing = "released"
            elif d is not None and d.return_method == "own_us_address" and d.us_address is not None:
                m.closing = "forwarded"
                m.decision = ForwardDecision(action="forward", us_address=d.us_address)
            elif (d is not None and d.return_method == "dispose") or workflow.now() >= self._deadline:
                m.closing = "disposed"
        return m.closing

    async def _carry_out(self, outcome: Outcome) -> None:
        m = self._m
        arrival = m.arrival
        address = m.decision.us_address if isinstance(m.decision, ForwardDecision) else None
        reason = _REASON_OF[outcome]
        if outcome == "disposed":
            reason += " requested by the seller" if m.decision else " at the deadline"
        instruction = WarehouseInstruction(
            # One instruction per parcel, ever: the key does not depend on the outcome.
            idempotency_key=f"warehouse:{arrival.shipment_id}:{workflow.info().first_execution_run_id}",
            shipment_id=arrival.shipment_id,
            seller_id=arrival.seller_id,
            action=_ACTION_OF[outcome],
            us_address=address,
            reason=reason,
        )
        await self._instruct_warehouse(instruction)
        m.state = outcome
        m.outcome_at = workflow.now()
        count("parcel_outcomes", "Returned parcels by outcome", outcome=outcome)
        self._publish()
        self._notify_seller(f"return_{outcome}", reason=reason, by_seller=m.decision is not None)
        if not m.seller_known and outcome == "disposed":
            self._notify("operations", "return_unknown_seller_disposed")
        # The seller's workflow forgets a parcel it told to go; only other endings need telling.
        if not m.by_disposition:
            await self._tell_seller(onboarding.SellerOnboarding.hold_closed)

    async def _instruct_warehouse(self, instruction: WarehouseInstruction) -> None:
        """Deliver the parcel's one instruction; given up, it waits for operations to retry it.

        The instruction decides the parcel's outcome, so it cannot be abandoned: the parcel stays
        in its state until the warehouse has it.
        """
        # The action must be in history before the warehouse hears of it (the patch's docstring).
        local_first = self._lean and not self._instruction_in_history
        while True:
            try:
                await deliver(
                    DeliveryActivities.instruct_warehouse,
                    instruction,
                    give_up_after=self._deliveries.give_up_after,
                    summary=f"{instruction.action} {instruction.shipment_id}",
                    local_first=local_first,
                )
                return
            except DELIVERY_FAILED as err:
                local_first = False  # operations' retry goes straight to the retried activity
                failure = FailedDelivery(
                    idempotency_key=instruction.idempotency_key,
                    kind="warehouse_instruction",
                    error=failure_reason(err, self._deliveries.give_up_after),
                    since=workflow.now(),
                )
                self._keep_failures(
                    [PendingDelivery(failure=failure, request=instruction.model_dump(mode="json"))]
                )
            await workflow.wait_condition(
                lambda: any(p.kind == "warehouse_instruction" for p in self._retries)
            )
            self._retries = [p for p in self._retries if p.kind != "warehouse_instruction"]

    def _send_retries(self) -> None:
        retries, self._retries = self._retries, []
        for pending in retries:
            self._deliveries.retry(pending)

    def _keep_failures(self, failed: list[PendingDelivery]) -> None:
        """Deliveries given up: kept for operations, who are told (unless it was their own alert)."""
        for pending in failed:
            self._m.failed.append(pending)
            count("deliveries_given_up", "Deliveries given up and handed to operations", kind=pending.kind)
            if pending.request.get("audience") != "operations":
                self._notify(
                    "operations",
                    "delivery_failed",
                    kind=pending.kind,
                    idempotency_key=pending.key,
                    error=pending.failure.error,
                )
            self._publish()

    # --- the seller link -----------------------------------------------------------------------

    async def _tell_seller(self, signal: Any, *, seller_id: str | None = None) -> bool:
        """Signal the (given, else current) seller's workflow; False when none is running."""
        arrival = self._m.arrival
        seller = seller_id or arrival.seller_id
        if self._lean:
            # What the parcel knows of its seller: the seller answers only if it has changed.
            opened = signal is onboarding.SellerOnboarding.hold_opened
            link = HoldLink(
                shipment_id=arrival.shipment_id,
                seller_id=seller,
                seen=self._m.disposition if opened else None,
            )
            signalled = await workflow.execute_local_activity_method(
                DirectoryActivities.signal_hold_opened if opened else DirectoryActivities.signal_hold_closed,
                SellerSignal(link=link),
                start_to_close_timeout=timedelta(seconds=30),
            )
            return bool(signalled.delivered)
        handle = workflow.get_external_workflow_handle(seller_workflow_id(seller))
        try:
            await handle.signal(signal, HoldLink(shipment_id=arrival.shipment_id, seller_id=seller))
        except ApplicationError:
            return False  # no running onboarding workflow for this seller (never signed up, or not yet)
        return True

    async def _tell_seller_opened(self) -> None:
        m = self._m
        if await self._tell_seller(onboarding.SellerOnboarding.hold_opened):
            m.seller_known = True
            return
        if m.seller_known is None:
            self._notify("operations", "return_unknown_seller")
        m.seller_known = False
        self._publish()  # operations must act: visibility says so (WaitingOn)

    def _recheck_time(self) -> datetime | None:
        if self._m.seller_known or not self._rechecks:
            return None
        return workflow.now() + timedelta(seconds=self._rechecks.pop(0))

    @workflow.signal
    def seller_disposition(self, disposition: SellerDisposition) -> None:
        """The seller's workflow says what to do with the seller's parcels."""
        if disposition.seller_id != self._m.arrival.seller_id:
            return  # the parcel was reassigned; its former seller's word no longer counts
        self._m.disposition = disposition
        self._m.seller_known = True

    # --- updates and query -------------------------------------------------------------------

    @workflow.update
    async def decide(self, request: DecideRequest) -> HoldStatus:
        """The seller's decision: forward to their own U.S. address, or dispose now."""
        decision = parse_with(DECISIONS, request.model_dump(), "decision")
        # Chosen before the first await, so a concurrent validator sees the parcel as closing.
        self._m.decision = decision
        self._m.closing = "forwarded" if isinstance(decision, ForwardDecision) else "disposed"
        self._audit("decide", Party.seller, decision.actor)
        await workflow.wait_condition(lambda: self._m.state != "held")
        return self.status()

    @decide.validator
    def _validate_decide(self, request: DecideRequest) -> None:
        parse_with(DECISIONS, request.model_dump(), "decision")
        self._check_held()

    @workflow.update
    def extend_hold(self, request: ExtendHoldRequest) -> HoldStatus:
        """Operations move the deadline by some business days, with a reason."""
        extension = parse_strict(ExtendHold, request.model_dump(), "extend_hold request")
        m = self._m
        assert m.due_on is not None
        old = m.due_on
        m.due_on = self._calendar.add_business_days(old, extension.business_days)
        m.extensions.append(
            Extension.model_validate(
                {
                    "business_days": extension.business_days,
                    "reason": extension.reason,
                    "from": old,
                    "to": m.due_on,
                    "at": workflow.now(),
                }
            )
        )
        self._extended = True
        self._audit("extend_hold", Party.operations, extension.actor)
        return self.status()

    @extend_hold.validator
    def _validate_extend(self, request: ExtendHoldRequest) -> None:
        extension = parse_strict(ExtendHold, request.model_dump(), "extend_hold request")
        self._check_held()
        if self._m.due_on is None:
            raise NotAllowedNow(
                "the parcel's deadline is not set yet; try again in a moment", code="deadline_not_set"
            )
        try:
            self._calendar.add_business_days(self._m.due_on, extension.business_days)
        except ValueError as err:
            raise InvalidInput(
                f"cannot extend by {extension.business_days} business days: {err}",
                code="extension_beyond_calendar",
                field="business_days",
                value=extension.business_days,
            ) from None

    @workflow.update
    async def reassign(self, request: ReassignRequest) -> HoldStatus:
        """Operations move the parcel to the seller it really belongs to; its due date stays."""
        move = parse_strict(Reassign, request.model_dump(), "reassign request")
        m = self._m
        # Changed before the first await: a concurrent validator sees the new seller.
        self._reassigned_from = m.arrival.seller_id
        m.reassigned_from.append(m.arrival.seller_id)
        m.arrival = m.arrival.model_copy(update={"seller_id": move.seller_id})
        self._audit("reassign", Party.operations, move.actor)
        await workflow.wait_condition(lambda: self._reassigned_from is None)
        return self.status()

    @reassign.validator
    def _validate_reassign(self, request: ReassignRequest) -> None:
        move = parse_strict(Reassign, request.model_dump(), "reassign request")
        self._check_held()
        if move.seller_id == self._m.arrival.seller_id:
            raise NotAllowedNow(
                f"the parcel is already recorded under seller '{move.seller_id}'",
                code="same_seller",
                seller_id=move.seller_id,
            )
        if self._reassigned_from is not None:
            raise NotAllowedNow("the parcel is being reassigned; try again in a moment", code="reassigning")

    @workflow.update
    def delivery_retried(self, request: DeliveryActionRequest) -> HoldStatus:
        """Operations try a given-up delivery again (its idempotency key is kept)."""
        action = parse_strict(DeliveryAction, request.model_dump(), "delivery_retried request")
        m = self._m
        self._retries += [p for p in m.failed if p.key == action.idempotency_key]
        m.failed = [p for p in m.failed if p.key != action.idempotency_key]
        self._audit("delivery_retried", Party.operations, action.actor)
        return self.status()

    @delivery_retried.validator
    def _validate_retry(self, request: DeliveryActionRequest) -> None:
        self._failed_delivery(parse_strict(DeliveryAction, request.model_dump(), "delivery_retried request"))

    @workflow.update
    def delivery_abandoned(self, request: DeliveryActionRequest) -> HoldStatus:
        """Operations give up on a failed message for good (never on the warehouse instruction)."""
        action = parse_strict(DeliveryAction, request.model_dump(), "delivery_abandoned request")
        self._m.failed = [p for p in self._m.failed if p.key != action.idempotency_key]
        self._audit("delivery_abandoned", Party.operations, action.actor)
        return self.status()

    @delivery_abandoned.validator
    def _validate_abandon(self, request: DeliveryActionRequest) -> None:
        pending = self._failed_delivery(
            parse_strict(DeliveryAction, request.model_dump(), "delivery_abandoned request")
        )
        if pending.kind == "warehouse_instruction":
            raise NotAllowedNow(
                "the warehouse instruction decides the parcel's outcome and cannot be abandoned: "
                "retry it once the warehouse system takes it",
                code="instruction_cannot_be_abandoned",
                field="idempotency_key",
            )

    def _failed_delivery(self, action: DeliveryAction) -> PendingDelivery:
        for pending in self._m.failed:
            if pending.key == action.idempotency_key:
                return pending
        raise NotAllowedNow(
            f"no failed delivery '{action.idempotency_key}' is waiting for operations",
            code="no_failed_delivery",
            field="idempotency_key",
            value=action.idempotency_key,
            failed=[p.key for p in self._m.failed],
        )

    def _audit(self, kind: str, party: Party, actor: str | None) -> None:
        entry = AuditEntry(at=workflow.now(), type=kind, party=party, actor=actor)
        self._m.audit = audited(self._m.audit, entry)

    @workflow.query
    def audit(self) -> list[AuditEntry]:
        """Every accepted update, oldest first: when, what, and who sent it."""
        return list(self._m.audit)

    def _check_held(self) -> None:
        m = self._m
        if self._invalid is not None:
            raise NotAllowedNow(
                "this parcel's workflow was started with invalid input", code="invalid_workflow"
            )
        if m.state != "held":
            raise NotAllowedNow(
                f"the parcel is no longer held: it was {m.state}", code="parcel_closed", state=m.state
            )
        if m.closing is not None:
            raise NotAllowedNow(
                f"the parcel is no longer held: it is being {m.closing}",
                code="parcel_closing",
                state=m.closing,
            )

    @workflow.query
    def status(self) -> HoldStatus:
        m = self._m
        held = m.state == "held" and m.due_on is not None
        left = None
        if held and m.due_on is not None:
            left = self._calendar.business_days_left(m.due_on, self._wall_clock())
        return HoldStatus(
            shipment_id=m.arrival.shipment_id,
            seller_id=m.arrival.seller_id,
            state=m.state,
            disposal_due_on=m.due_on.isoformat() if held and m.due_on else None,
            business_days_left=left,
            arrived_at=m.arrival.arrived_at,
            disposal_due_at=self._deadline if held else None,
            seller_known=m.seller_known,
            extensions=[e.as_dict() for e in m.extensions],
            closing=m.closing if m.state == "held" else None,
            outcome_at=m.outcome_at,
            origin=m.arrival.origin,
            waiting_on=self._waiting_on(),
            failed_deliveries=[p.failure for p in m.failed],
            reassigned_from=list(m.reassigned_from),
        )

    def _waiting_on(self) -> list[Party]:
        m = self._m
        waiting = {Party.seller} if m.state == "held" and m.closing is None and m.seller_known else set()
        if m.failed or (m.state == "held" and m.seller_known is False):
            waiting.add(Party.operations)
        return sorted(waiting)

    # --- time ------------------------------------------------------------------------------------

    @property
    def _calendar(self) -> BusinessCalendar:
        assert self._settings is not None
        return self._settings.calendar

    @property
    def _deadline(self) -> datetime:
        assert self._m.due_on is not None
        return self._calendar.end_of_day(self._m.due_on)

    @staticmethod
    def _wall_clock() -> datetime:
        # A query runs without a new workflow task, so workflow.now() is the time of the last
        # one; the countdown must follow the real day. The later of the two also holds on the
        # time-skipping test server, whose clock runs ahead of the wall clock.
        with workflow.unsafe.sandbox_unrestricted():
            real = datetime.now(workflow.now().tzinfo)
        return max(real, workflow.now())

    def _reminders(self) -> dict[str, tuple[int, datetime]]:
        """Every reminder of the current due date: its key, business days left and time."""
        m = self._m
        assert self._settings is not None and m.due_on is not None
        days_left = self._settings.hold_reminder_business_days_left
        return schedule.hold_reminders(self._calendar, m.due_on, days_left, m.arrival.arrived_at)

    def _pending_reminders(self) -> dict[str, datetime]:
        """The reminders still to send for the current due date, by key."""
        return {key: at for key, (_, at) in self._reminders().items() if key not in self._m.reminded}

    def _send_due_reminders(self) -> None:
        m, now = self._m, workflow.now()
        for key, (n, at) in self._reminders().items():
            if key in m.reminded or at > now:
                continue
            m.reminded.append(key)
            count("hold_reminders_sent", "Reminders about held parcels", business_days_left=str(n))
            self._notify_seller("return_hold_reminder", business_days_left=n, due_on=str(m.due_on))
            self._publish()

    # --- outward ---------------------------------------------------------------------------------

    def _announce_hold(self) -> None:
        assert self._m.due_on is not None
        count("parcels_held", "Returned parcels held awaiting clearance or a decision")
        self._notify_seller(
            "return_held",
            due_on=self._m.due_on.isoformat(),
            business_days=self._calendar.business_days_left(self._m.due_on, workflow.now()),
        )

    def _announce_extension(self) -> None:
        self._extended = False
        self._publish()
        assert self._m.due_on is not None
        self._notify_seller("return_hold_extended", due_on=self._m.due_on.isoformat())

    def _notify_seller(self, template: str, **params: Any) -> None:
        d = self._m.disposition
        if d is None or not d.email:
            return  # an unknown seller has no address; operations hears of the parcel instead
        self._notify(
            "seller",
            template,
            to=d.email,
            business_name=d.business_name,
            language=d.language,
            link_epoch=d.link_epoch,
            link_nonce=d.link_nonce,
            **params,
        )

    def _notify(
        self,
        audience: Audience,
        template: str,
        to: str | None = None,
        *,
        language: str = "en",
        link_epoch: int | None = None,
        link_nonce: str | None = None,
        **params: Any,
    ) -> None:
        m = self._m
        m.notices += 1
        info = workflow.info()
        self._deliveries.notify(
            key=f"{info.workflow_id}:{info.first_execution_run_id}:notice:{m.notices}",
            audience=audience,
            template=template,
            to=to,
            language=language,
            link_epoch=link_epoch,
            link_nonce=link_nonce,
            seller_id=m.arrival.seller_id,
            shipment_id=m.arrival.shipment_id,
            seller=m.arrival.seller_id,
            shipment=m.arrival.shipment_id,
            **params,
        )

    def _publish(self) -> None:
        m = self._m
        held = m.state == "held"
        waiting = [str(p) for p in self._waiting_on()]
        published = (m.arrival.seller_id, m.state, self._deadline if held else None, tuple(waiting))
        if published != self._published:
            pairs: list[SearchAttributeUpdate[Any]] = [
                sa.SELLER_ID.value_set(m.arrival.seller_id),
                sa.RETURN_STATE.value_set(m.state),
                sa.WAITING_ON.value_set(waiting),
            ]
            if held:
                pairs.append(sa.DISPOSAL_DUE_AT.value_set(self._deadline))
            workflow.upsert_search_attributes(pairs)
            self._published = published
        workflow.set_current_details(self._details())

    def _details(self) -> str:
        m = self._m
        lines = [f"**Parcel** {m.arrival.shipment_id} of seller {m.arrival.seller_id}: **{m.state}**"]
        if m.state == "held" and m.due_on is not None:
            left = self._calendar.business_days_left(m.due_on, workflow.now())
            lines.append(f"Disposed after **{m.due_on.isoformat()}** ({left} business days left)")
            if m.seller_known is False:
                lines.append("⚠ No onboarding workflow for this seller: operations must follow up")
        if m.extensions:
            lines.append(f"Extended {len(m.extensions)}×; last: {m.extensions[-1].reason}")
        if m.reassigned_from:
            lines.append(f"Reassigned from seller {', '.join(m.reassigned_from)}")
        lines += [
            f"⚠ **Delivery failed**: {p.kind} `{p.key}` ({p.failure.error}): operations must retry it"
            for p in m.failed
        ]
        return "\n\n".join([*lines, *audit_lines(m.audit)])
