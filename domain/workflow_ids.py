"""The workflow ids of the contract: one seller, one onboarding; one parcel, one hold.

Every layer that names a workflow (starters, workflows signalling each other, activities,
listings) goes through these functions, so the formats live in one place.
"""

SELLER_WORKFLOW_PREFIX = "seller-onboarding-"
HOLD_WORKFLOW_PREFIX = "return-hold-"


def seller_workflow_id(seller_id: str) -> str:
    """``seller-onboarding-{seller_id}``."""
    return f"{SELLER_WORKFLOW_PREFIX}{seller_id}"


def hold_workflow_id(shipment_id: str) -> str:
    """``return-hold-{shipment_id}``."""
    return f"{HOLD_WORKFLOW_PREFIX}{shipment_id}"


def seller_id_of(workflow_id: str) -> str:
    """The seller id in a ``SellerOnboarding`` workflow id."""
    return workflow_id.removeprefix(SELLER_WORKFLOW_PREFIX)


def shipment_id_of(workflow_id: str) -> str:
    """The shipment id in a ``ReturnHold`` workflow id."""
    return workflow_id.removeprefix(HOLD_WORKFLOW_PREFIX)
