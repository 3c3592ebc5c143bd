"""Looking things up for the workflows (a seller's situation, parcels held before a sign-up), and
the signals between a parcel and its seller.

The signals are sent from (local) activities through the client rather than as a workflow's
external signal: an external signal costs the sender two history events and a workflow task to
learn it landed, for each parcel; a local activity costs one marker in a task the workflow runs
anyway. A signal does not wait for a workflow task slot, so unlike a query it cannot starve the
worker it runs on."""

from typing import Protocol

import structlog
from temporalio import activity

from domain.payloads import (
    FindHeldParcels,
    FindSeller,
    HeldParcels,
    HoldLink,
    ParcelsSignal,
    SellerDisposition,
    SellerLookup,
    SellerSignal,
    Signalled,
)

log = structlog.get_logger()


class Directory(Protocol):
    """Where sellers' situations and held parcels are found (Temporal, through the gateway)."""

    async def look_up_seller(self, seller_id: str) -> SellerLookup: ...

    async def held_parcels(self, seller_id: str) -> HeldParcels: ...

    async def hold_opened(self, link: HoldLink) -> Signalled: ...

    async def hold_closed(self, link: HoldLink) -> Signalled: ...

    async def tell_parcels(self, shipment_ids: list[str], disposition: SellerDisposition) -> Signalled: ...


class DirectoryActivities:
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    @activity.defn(name="find_held_parcels")
    async def find_held_parcels(self, request: FindHeldParcels) -> HeldParcels:
        """Parcels held for a seller who had no workflow when they arrived.

        Such a parcel could not tell the seller about itself; the seller's workflow finds it
        through visibility when it starts. Visibility lags by a moment, so a parcel that arrives in
        that moment re-tries the seller itself (see ReturnHold).
        """
        found = await self._directory.held_parcels(request.seller_id)
        if not found.listing_supported:
            log.warning("held parcel listing unavailable", seller_id=request.seller_id)
        return found

    @activity.defn(name="look_up_seller")
    async def look_up_seller(self, request: FindSeller) -> SellerLookup:
        """The seller's current disposition, from their running onboarding workflow."""
        return await self._directory.look_up_seller(request.seller_id)

    @activity.defn(name="signal_hold_opened")
    async def signal_hold_opened(self, request: SellerSignal) -> Signalled:
        """A parcel registers with its seller's workflow (``not_running``: there is none)."""
        return await self._directory.hold_opened(request.link)

    @activity.defn(name="signal_hold_closed")
    async def signal_hold_closed(self, request: SellerSignal) -> Signalled:
        """A parcel tells its seller's workflow it has ended (or moved to another seller)."""
        return await self._directory.hold_closed(request.link)

    @activity.defn(name="signal_parcels")
    async def signal_parcels(self, request: ParcelsSignal) -> Signalled:
        """A seller's workflow tells its held parcels what to do now."""
        return await self._directory.tell_parcels(request.shipment_ids, request.disposition)
