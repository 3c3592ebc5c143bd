"""What the service's activities look up in Temporal: a seller's situation, a seller's held parcels.

Injected into :class:`activities.directory.DirectoryActivities` by the worker, so activities reach
Temporal through the gateway like every other part of the service.
"""

from temporalio.client import Client, WorkflowQueryRejectedError
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError, RPCStatusCode

from domain.payloads import HeldParcels, SellerLookup
from domain.visibility import held_parcels_of
from domain.workflow_ids import shipment_id_of
from gateway.errors import is_gone
from gateway.onboarding import seller_handle
from workflows.onboarding import SellerOnboarding


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
