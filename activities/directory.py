"""Looking things up for the workflows: a seller's situation, parcels held before a sign-up."""

from typing import Protocol

import structlog
from temporalio import activity

from domain.payloads import FindHeldParcels, FindSeller, HeldParcels, SellerLookup

log = structlog.get_logger()


class Directory(Protocol):
    """Where sellers' situations and held parcels are found (Temporal, through the gateway)."""

    async def look_up_seller(self, seller_id: str) -> SellerLookup: ...

    async def held_parcels(self, seller_id: str) -> HeldParcels: ...


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
