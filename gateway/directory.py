"""What the service's activities ask of Temporal: a seller's situation, a seller's held parcels,
and the signals between a parcel and its seller.

Injected into :class:`activities.directory.DirectoryActivities` by the worker, so activities reach
Temporal through the gateway like every other part of the service.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowQueryRejectedError
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError, RPCStatusCode

from domain.payloads import HeldParcels, HoldLink, SellerDisposition, SellerLookup, Signalled
from domain.visibility import held_parcels_of
from domain.workflow_ids import hold_workflow_id, shipment_id_of
from gateway.errors import is_gone
from gateway.onboarding import seller_handle
from workflows.onboarding import SellerOnboarding
from workflows.return_hold import ReturnHold


class TemporalDirectory:
    """Answers from Temporal itself: running workflows' queries and visibility."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def look_up_seller(self, seller_id: str) -> SellerLookup:
        """The seller's current disposition, from their running onboarding workflow."""
        handle = seller_handle(self._client, seller_id)
        try:
            disposition = await handle.query(
                SellerOnboarding.disposition, reject_condition=QueryRejectCondition.NOT_OPEN
            )
        except WorkflowQueryRejectedError:
            return SellerLookup(known=False)  # the seller's workflow has ended
        except RPCError as err:
            if is_gone(err):
                return SellerLookup(known=False)
            raise
        return SellerLookup(known=True, disposition=disposition)

    async def held_parcels(self, seller_id: str) -> HeldParcels:
        """The seller's held parcels, from visibility (``listing_supported=False`` without one)."""
        ids: list[str] = []
        try:
            async for wf in self._client.list_workflows(held_parcels_of(seller_id), page_size=200):
                ids.append(shipment_id_of(wf.id))
        except RPCError as err:
            if err.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
                # The time-skipping test server has no visibility store; nothing to find there.
                return HeldParcels(shipment_ids=[], listing_supported=False)
            raise
        return HeldParcels(shipment_ids=sorted(ids))

    async def hold_opened(self, link: HoldLink) -> Signalled:
        """Tell a seller's workflow that one of its parcels is held."""
        return await _signal(
            [link.seller_id], lambda: self._seller(link).signal(SellerOnboarding.hold_opened, link)
        )

    async def hold_closed(self, link: HoldLink) -> Signalled:
        """Tell a seller's workflow that one of its parcels ended otherwise than by its word."""
        return await _signal(
            [link.seller_id], lambda: self._seller(link).signal(SellerOnboarding.hold_closed, link)
        )

    async def tell_parcels(self, shipment_ids: list[str], disposition: SellerDisposition) -> Signalled:
        """Send held parcels their seller's disposition, all at once."""

        async def tell(shipment_id: str) -> Signalled:
            handle = self._client.get_workflow_handle(hold_workflow_id(shipment_id))
            return await _signal(
                [shipment_id], lambda: handle.signal(ReturnHold.seller_disposition, disposition)
            )

        told = await asyncio.gather(*(tell(s) for s in shipment_ids))
        return Signalled(
            delivered=[s for t in told for s in t.delivered],
            not_running=[s for t in told for s in t.not_running],
        )

    def _seller(self, link: HoldLink) -> WorkflowHandle[SellerOnboarding, Any]:
        return seller_handle(self._client, link.seller_id)


async def _signal(names: list[str], send: Callable[[], Awaitable[None]]) -> Signalled:
    """Send one signal; a workflow that is not running is noted, not an error (it has moved on)."""
    try:
        await send()
    except RPCError as err:
        if is_gone(err):
            return Signalled(not_running=names)
        raise
    return Signalled(delivered=names)
