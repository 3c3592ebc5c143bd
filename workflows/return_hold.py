"""ReturnHold: one workflow per returned parcel at the U.S. warehouse, until its one outcome.

The parcel tells its seller's workflow that it arrived (signal ``hold_opened``); the seller's
workflow answers with the seller's disposition (signal ``seller_disposition``) at once and again
whenever it changes — cleared, opted out — so a clearance releases every held parcel within
seconds, across any number of the seller's continue-as-new runs (signals address the workflow
id, not a run). A parcel whose seller has no workflow yet is held on the same clock, operations
is told, and the seller's workflow finds it through visibility when the seller signs up.

The deadline is computed once, on arrival, from the settings snapshot taken then, and only an
extension moves it (the ``updatable_timer`` pattern: wait on a condition with a timeout, in a
loop on ``workflow.now()``). Exactly one of release, forward and dispose is carried out, with
the warehouse instruction keyed on the shipment so a retry or a crash never issues two.
"""

import contextlib
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import domain.search_attributes as sa
    from domain.business_days import BusinessCalendar
    from domain.deliveries import DeliveryReceipt, WarehouseAction, WarehouseInstruction
    from domain.errors import InvalidInput, NotAllowedNow
    from domain.payloads import (
        Arrival,
        DecideRequest,
        Decision,
        ExtendHold,
        ExtendHoldRequest,
        FindSeller,
        ForwardDecision,
        HoldLink,
        HoldResult,
        HoldState,
        HoldStatus,
        Outcome,
        ReturnHoldInput,
        SellerDisposition,
        SellerLookup,
        SnapshotRequest,
    )
    from domain.settings import WorkflowSettings
    from domain.validation import parse_strict, parse_with
    from workflows.deliveries import DELIVERY_RETRY, Deliveries
    from workflows.metrics import count

_DECISION = TypeAdapter(Decision)
_ACTION_OF: dict[Outcome, WarehouseAction] = {
    "released": "release",
    "forwarded": "forward",
    "disposed": "dispose",
}

# How long a new parcel waits for its seller's answer before telling the seller it is held:
# long enough for the seller's workflow to answer, short enough to be "at once".
SELLER_ANSWER_WAIT = timedelta(seconds=30)
# Versioning (docs/versioning.md): v1 histories register by signal and wait for the answer; from
# this patch on, a parcel looks its seller up first.
SELLER_LOOKUP_PATCH = "seller-lookup-by-query"
REMINDER_TIME = time(9, 0)


@workflow.defn(name="ReturnHold", failure_exception_types=[ValidationError])
class ReturnHold:
    @workflow.init
    def __init__(self, data: ReturnHoldInput) -> None:
        self._invalid: InvalidInput | None = None
        fields = data.model_dump(exclude_unset=True)
        try:
            self._arrival = parse_strict(Arrival, fields, "ReturnHold input")
        except InvalidInput as err:
            self._invalid = err
        self._settings: WorkflowSettings | None = None
        self._due_on: date | None = None
        self._state: HoldState = "held"
        self._closing: Outcome | None = None
        self._decision: Decision | None = None
        self._disposition: SellerDisposition | None = None
        self._seller_known: bool | None = None
        self._outcome_at: datetime | None = None
        self._extensions: list[dict[str, Any]] = []
        self._reminded: set[str] = set()
        self._notices = 0
        self._deliveries = Deliveries()
        self._published: tuple[str, datetime | None] | None = None
        self._looked_up = False
        self._by_disposition = False

    # --- the main line -----------------------------------------------------------------------

    @workflow.run
    async def run(self, data: ReturnHoldInput) -> HoldResult:
        if self._invalid is not None:
            raise self._invalid
        # Asked before the first await, so the patch marker is the first command of the history
        # whichever way a replay is cut (a query can replay a run mid-task).
        self._looked_up = workflow.patched(SELLER_LOOKUP_PATCH)
        arrival = self._arrival
        self._check_arrival_time(arrival)
        self._settings = await workflow.execute_local_activity(
            "snapshot_settings",
            SnapshotRequest(today=arrival.arrived_at.date().isoformat()),
            result_type=WorkflowSettings,
            start_to_close_timeout=timedelta(seconds=30),
        )
        self._due_on = self._calendar.due_on(arrival.arrived_at, self._settings.hold_business_days)
        if self._looked_up:
            await self._look_up_seller()
        else:
            await self._ask_seller_v1()
        if self._outcome_now() is None:
            self._announce_hold()

        rechecks = list(self._settings.unknown_seller_recheck_seconds)
        recheck_at = self._recheck_time(rechecks)
        while (outcome := self._outcome_now()) is None:
            wake = [self._deadline, *self._reminder_times()]
            if recheck_at is not None:
                wake.append(recheck_at)
            timeout = max(min(wake) - workflow.now(), timedelta(seconds=1))
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._decided, timeout=timeout)
            if recheck_at is not None and workflow.now() >= recheck_at and self._closing is None:
                await self._tell_seller("hold_opened")
                recheck_at = self._recheck_time(rechecks) if not self._seller_known else None
            self._send_due_reminders()

        await self._carry_out(outcome)
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._deliveries.drain()
        assert self._outcome_at is not None
        return HoldResult(shipment_id=arrival.shipment_id, outcome=outcome, at=self._outcome_at)

    def _check_arrival_time(self, arrival: Arrival) -> None:
        """An arrival far from now is a typo, not a parcel: fail cleanly, never retry forever."""
        if not self._looked_up:
            return  # v1 histories did not check
        now = workflow.now()
        if not now - timedelta(days=366) <= arrival.arrived_at <= now + timedelta(days=1):
            raise InvalidInput(
                f"invalid ReturnHold input: arrived_at {arrival.arrived_at.isoformat()} is not within "
                "the last year (nor at most a day ahead)"
            )

    async def _look_up_seller(self) -> None:
        """Ask the seller's workflow for the seller's situation, and register if held.

        A query through an activity costs a third of v1's signal round trip and no timer. Not a
        *local* activity: it would hold this workflow task open while the query waits for a
        workflow task slot on the same worker, and a burst of arrivals then starves the very
        seller workflows it queries (measured: the worker stalls at ~100 parcels at once).
        """
        lookup = await workflow.execute_activity(
            "look_up_seller",
            FindSeller(seller_id=self._arrival.seller_id),
            result_type=SellerLookup,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            summary="look up the seller",
        )
        if lookup.disposition is not None and self._disposition is None:
            self._disposition = lookup.disposition
        if lookup.known:
            self._seller_known = True
        if self._outcome_now() is None:
            self._publish()
            # Registering lets the seller's workflow release the parcel on clearance; should it
            # clear in between, it answers the registration with the new disposition.
            await self._tell_seller("hold_opened")

    async def _ask_seller_v1(self) -> None:
        """Before SELLER_LOOKUP_PATCH: register first, then wait a moment for the answer."""
        self._publish()
        await self._tell_seller("hold_opened")
        if self._seller_known:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._disposition is not None or self._closing is not None,
                    timeout=SELLER_ANSWER_WAIT,
                )

    def _decided(self) -> bool:
        return self._closing is not None or self._final_disposition()

    def _final_disposition(self) -> bool:
        d = self._disposition
        return d is not None and (d.cleared_for_returns or d.return_method is not None)

    def _outcome_now(self) -> Outcome | None:
        """The one outcome, chosen once: a seller's decision, the seller's status, the deadline."""
        if self._closing is None:
            d = self._disposition
            self._by_disposition = self._final_disposition()
            if d is not None and d.cleared_for_returns:
                self._closing = "released"
            elif d is not None and d.return_method == "own_us_address" and d.us_address is not None:
                self._closing = "forwarded"
                self._decision = ForwardDecision(action="forward", us_address=d.us_address)
            elif (d is not None and d.return_method == "dispose") or workflow.now() >= self._deadline:
                self._closing = "disposed"
        return self._closing

    async def _carry_out(self, outcome: Outcome) -> None:
        arrival = self._arrival
        address = self._decision.us_address if isinstance(self._decision, ForwardDecision) else None
        reason = {
            "released": "seller cleared for returns: release to the customs broker",
            "forwarded": "forward to the seller's own U.S. address",
            "disposed": "disposal" + (" requested by the seller" if self._decision else " at the deadline"),
        }[outcome]
        await workflow.execute_activity(
            "instruct_warehouse",
            WarehouseInstruction(
                # One instruction per parcel, ever: the key does not depend on the outcome.
                idempotency_key=f"warehouse:{arrival.shipment_id}:{workflow.info().first_execution_run_id}",
                shipment_id=arrival.shipment_id,
                seller_id=arrival.seller_id,
                action=_ACTION_OF[outcome],
                us_address=address,
                reason=reason,
            ),
            result_type=DeliveryReceipt,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(
                initial_interval=DELIVERY_RETRY.initial_interval,
                backoff_coefficient=DELIVERY_RETRY.backoff_coefficient,
                maximum_interval=DELIVERY_RETRY.maximum_interval,
                non_retryable_error_types=DELIVERY_RETRY.non_retryable_error_types,
            ),
            summary=f"{_ACTION_OF[outcome]} {arrival.shipment_id}",
        )
        self._state = outcome
        self._outcome_at = workflow.now()
        count("parcel_outcomes", "Returned parcels by outcome", outcome=outcome)
        self._publish()
        self._notify_seller(f"return_{outcome}", reason=reason)
        if not self._seller_known and outcome == "disposed":
            self._notify("operations", "return_unknown_seller_disposed")
        # The seller's workflow forgets a parcel it told to go; only other endings need telling.
        if not (self._looked_up and self._by_disposition):
            await self._tell_seller("hold_closed")

    # --- the seller link -----------------------------------------------------------------------

    async def _tell_seller(self, signal: str) -> None:
        arrival = self._arrival
        handle = workflow.get_external_workflow_handle(f"seller-onboarding-{arrival.seller_id}")
        try:
            await handle.signal(
                signal, HoldLink(shipment_id=arrival.shipment_id, seller_id=arrival.seller_id)
            )
        except ApplicationError:
            # No running onboarding workflow for this seller (never signed up, or not yet).
            if signal == "hold_opened":
                if self._seller_known is None:
                    self._notify("operations", "return_unknown_seller")
                self._seller_known = False
            return
        if signal == "hold_opened":
            self._seller_known = True

    def _recheck_time(self, rechecks: list[int]) -> datetime | None:
        if self._seller_known or not rechecks:
            return None
        return workflow.now() + timedelta(seconds=rechecks.pop(0))

    @workflow.signal(name="seller_disposition")
    def seller_disposition(self, disposition: SellerDisposition) -> None:
        """The seller's workflow says what to do with the seller's parcels."""
        self._disposition = disposition
        self._seller_known = True

    # --- updates and query -------------------------------------------------------------------

    @workflow.update(name="decide")
    async def decide(self, request: DecideRequest) -> HoldStatus:
        """The seller's decision: forward to their own U.S. address, or dispose now."""
        decision = parse_with(_DECISION, request.model_dump(), "decision")
        # Chosen before the first await, so a concurrent validator sees the parcel as closing.
        self._decision = decision
        self._closing = "forwarded" if isinstance(decision, ForwardDecision) else "disposed"
        await workflow.wait_condition(lambda: self._state != "held")
        return self.status()

    @decide.validator
    def _validate_decide(self, request: DecideRequest) -> None:
        parse_with(_DECISION, request.model_dump(), "decision")
        self._check_held()

    @workflow.update(name="extend_hold")
    def extend_hold(self, request: ExtendHoldRequest) -> HoldStatus:
        """Operations move the deadline by some business days, with a reason."""
        extension = parse_strict(ExtendHold, request.model_dump(), "extend_hold request")
        assert self._due_on is not None
        old = self._due_on
        self._due_on = self._calendar.add_business_days(old, extension.business_days)
        self._extensions.append(
            {
                "business_days": extension.business_days,
                "reason": extension.reason,
                "from": old.isoformat(),
                "to": self._due_on.isoformat(),
                "at": workflow.now().isoformat(),
            }
        )
        self._publish()
        self._notify_seller("return_hold_extended", due_on=self._due_on.isoformat())
        return self.status()

    @extend_hold.validator
    def _validate_extend(self, request: ExtendHoldRequest) -> None:
        extension = parse_strict(ExtendHold, request.model_dump(), "extend_hold request")
        self._check_held()
        if self._due_on is None:
            raise NotAllowedNow("the parcel's deadline is not set yet; try again in a moment")
        try:
            self._calendar.add_business_days(self._due_on, extension.business_days)
        except ValueError as err:
            raise InvalidInput(f"cannot extend by {extension.business_days} business days: {err}") from None

    def _check_held(self) -> None:
        if self._invalid is not None:
            raise NotAllowedNow("this parcel's workflow was started with invalid input")
        if self._state != "held":
            raise NotAllowedNow(f"the parcel is no longer held: it was {self._state}")
        if self._closing is not None:
            raise NotAllowedNow(f"the parcel is no longer held: it is being {self._closing}")

    @workflow.query(name="status")
    def status(self) -> HoldStatus:
        arrival = self._arrival
        held = self._state == "held" and self._due_on is not None
        left = None
        if held and self._due_on is not None:
            left = self._calendar.business_days_left(self._due_on, self._wall_clock())
        return HoldStatus(
            shipment_id=arrival.shipment_id,
            seller_id=arrival.seller_id,
            state=self._state,
            disposal_due_on=self._due_on.isoformat() if held and self._due_on else None,
            business_days_left=left,
            arrived_at=arrival.arrived_at,
            disposal_due_at=self._deadline if held else None,
            seller_known=self._seller_known,
            extensions=list(self._extensions),
            closing=self._closing if self._state == "held" else None,
            outcome_at=self._outcome_at,
            origin=arrival.origin,
        )

    # --- time ------------------------------------------------------------------------------------

    @property
    def _calendar(self) -> BusinessCalendar:
        assert self._settings is not None
        return self._settings.calendar

    @property
    def _deadline(self) -> datetime:
        assert self._due_on is not None
        return self._calendar.end_of_day(self._due_on)

    @staticmethod
    def _wall_clock() -> datetime:
        # A query runs without a new workflow task, so workflow.now() is the time of the last
        # one; the countdown must follow the real day. The later of the two also holds on the
        # time-skipping test server, whose clock runs ahead of the wall clock.
        with workflow.unsafe.sandbox_unrestricted():
            real = datetime.now(workflow.now().tzinfo)
        return max(real, workflow.now())

    def _reminder_times(self) -> list[datetime]:
        """When the seller is reminded: at 09:00 on the days with N business days left."""
        assert self._settings is not None and self._due_on is not None
        times = []
        for n in self._settings.hold_reminder_business_days_left:
            if f"{self._due_on}:{n}" in self._reminded:
                continue
            day = self._calendar.business_days_before(self._due_on, n)
            at = self._calendar.at_local(day, REMINDER_TIME)
            if at > self._arrival.arrived_at:
                times.append(at)
        return times

    def _send_due_reminders(self) -> None:
        assert self._settings is not None and self._due_on is not None
        now = workflow.now()
        for n in sorted(self._settings.hold_reminder_business_days_left, reverse=True):
            key = f"{self._due_on}:{n}"
            day = self._calendar.business_days_before(self._due_on, n)
            if key in self._reminded or self._calendar.at_local(day, REMINDER_TIME) > now:
                continue
            self._reminded.add(key)
            if self._calendar.at_local(day, REMINDER_TIME) <= self._arrival.arrived_at:
                continue
            count("hold_reminders_sent", "Reminders about held parcels", business_days_left=str(n))
            self._notify_seller("return_hold_reminder", business_days_left=n, due_on=self._due_on.isoformat())
            self._publish()

    # --- outward ---------------------------------------------------------------------------------

    def _announce_hold(self) -> None:
        assert self._due_on is not None
        count("parcels_held", "Returned parcels held awaiting clearance or a decision")
        self._notify_seller(
            "return_held",
            due_on=self._due_on.isoformat(),
            business_days=self._calendar.business_days_left(self._due_on, workflow.now()),
        )

    def _notify_seller(self, template: str, **params: Any) -> None:
        d = self._disposition
        if d is None or not d.email:
            return  # an unknown seller has no address; operations hears of the parcel instead
        self._notify("seller", template, to=d.email, business_name=d.business_name, **params)

    def _notify(self, audience: str, template: str, to: str | None = None, **params: Any) -> None:
        self._notices += 1
        arrival = self._arrival
        self._deliveries.notify(
            key=f"{workflow.info().workflow_id}:{workflow.info().first_execution_run_id}:notice:{self._notices}",
            audience=audience,  # type: ignore[arg-type]
            template=template,
            to=to,
            seller_id=arrival.seller_id,
            shipment_id=arrival.shipment_id,
            seller=arrival.seller_id,
            shipment=arrival.shipment_id,
            **params,
        )

    def _publish(self) -> None:
        arrival = self._arrival
        published = (self._state, self._deadline if self._state == "held" else None)
        if published != self._published:
            pairs: list[SearchAttributeUpdate[Any]] = [
                sa.SELLER_ID.value_set(arrival.seller_id),
                sa.RETURN_STATE.value_set(self._state),
            ]
            if self._state == "held":
                pairs.append(sa.DISPOSAL_DUE_AT.value_set(self._deadline))
            workflow.upsert_search_attributes(pairs)
            self._published = published
        lines = [f"**Parcel** {arrival.shipment_id} of seller {arrival.seller_id}: **{self._state}**"]
        if self._state == "held" and self._due_on is not None:
            left = self._calendar.business_days_left(self._due_on, workflow.now())
            lines.append(f"Disposed after **{self._due_on.isoformat()}** ({left} business days left)")
            if self._seller_known is False:
                lines.append("⚠ No onboarding workflow for this seller: operations must follow up")
        if self._extensions:
            last = self._extensions[-1]
            lines.append(f"Extended {len(self._extensions)}×; last: {last['reason']}")
        workflow.set_current_details("\n\n".join(lines))
