"""Finding a seller's parcels that were held before the seller signed up."""

import structlog
from temporalio import activity
from temporalio.client import Client, WorkflowQueryRejectedError
from temporalio.common import QueryRejectCondition
from temporalio.service import RPCError, RPCStatusCode

from domain.payloads import FindHeldParcels, FindSeller, HeldParcels, SellerDisposition, SellerLookup

log = structlog.get_logger()

# A parcel whose seller had no workflow yet could not tell that seller about itself; the seller's
# workflow finds such parcels through visibility when it starts. Visibility lags by a moment, so
# a parcel that arrives in that moment re-tries the seller itself (see ReturnHold).
QUERY = (
    "WorkflowType = 'ReturnHold' AND ExecutionStatus = 'Running' "
    "AND SellerId = '{seller_id}' AND ReturnState = 'held'"
)


class DirectoryActivities:
    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="find_held_parcels")
    async def find_held_parcels(self, request: FindHeldParcels) -> HeldParcels:
        # seller_id was validated against [A-Za-z0-9_-] at sign-up, so it cannot break the query.
        query = QUERY.format(seller_id=request.seller_id)
        ids: list[str] = []
        try:
            async for wf in self._client.list_workflows(query, page_size=200):
                ids.append(wf.id.removeprefix("return-hold-"))
        except RPCError as err:
            if err.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT):
                # The time-skipping test server has no visibility store; nothing to find there.
                log.warning("held parcel listing unavailable", seller_id=request.seller_id, error=str(err))
                return HeldParcels(shipment_ids=[], listing_supported=False)
            raise
        return HeldParcels(shipment_ids=sorted(ids))

    @activity.defn(name="look_up_seller")
    async def look_up_seller(self, request: FindSeller) -> SellerLookup:
        """The seller's current disposition, from their running onboarding workflow."""
        handle = self._client.get_workflow_handle(f"seller-onboarding-{request.seller_id}")
        try:
            disposition = await handle.query(
                "disposition",
                result_type=SellerDisposition,
                reject_condition=QueryRejectCondition.NOT_OPEN,
            )
        except WorkflowQueryRejectedError:
            return SellerLookup(known=False)  # the seller's workflow has ended
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return SellerLookup(known=False)
            raise
        return SellerLookup(known=True, disposition=disposition)
