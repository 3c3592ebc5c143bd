"""Calls on a seller's ``SellerOnboarding`` workflow: sign-up, events, status."""

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy

from domain.errors import NotAllowedNow
from domain.events import EventEnvelope
from domain.onboarding import OnboardingStatus
from domain.payloads import SellerDisposition, SignUp
from domain.state import AuditEntry
from domain.workflow_ids import seller_workflow_id
from gateway.budget import Budget
from gateway.calls import Started, call, query, start_once, update
from gateway.errors import NotFound
from workflows.onboarding import SellerOnboarding


def not_signed_up(seller_id: str) -> NotFound:
    return NotFound(
        f"no seller '{seller_id}': they have not signed up", code="seller_not_found", seller_id=seller_id
    )


def seller_handle(client: Client, seller_id: str) -> WorkflowHandle[SellerOnboarding, Any]:
    return client.get_workflow_handle_for(SellerOnboarding.run, seller_workflow_id(seller_id))


async def _ended(seller_id: str) -> NotAllowedNow:
    return NotAllowedNow(
        f"seller '{seller_id}' is no longer onboarding (their workflow has ended)",
        code="seller_ended",
        seller_id=seller_id,
    )


async def sign_up(
    client: Client, signup: SignUp, *, task_queue: str, budget: Budget | None = None
) -> Started[SellerOnboarding]:
    """Start a seller's onboarding, or keep the one that runs."""
    return await start_once(
        client,
        SellerOnboarding.run,
        signup.model_dump(mode="json", exclude_none=True),
        workflow_id=seller_workflow_id(signup.seller_id),
        task_queue=task_queue,
        # A seller who left and signs up again starts afresh; never beside a running one.
        reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        summary=f"CARM onboarding of seller {signup.seller_id}",
        details=(
            "One workflow per seller, for as long as they are a seller. Current details show "
            "the stage, who must act and what; query `status` for everything."
        ),
        budget=budget,
    )


async def apply_event(
    client: Client, seller_id: str, event: dict[str, Any], *, budget: Budget | None = None
) -> OnboardingStatus:
    """Send one event; ``InvalidInput`` / ``NotAllowedNow`` when the workflow refuses it.

    An event with an ``event_id`` is sent as the update of that id, so a caller that sends it again
    after a timeout joins the first delivery instead of making a second one.
    """
    handle = seller_handle(client, seller_id)
    envelope = EventEnvelope.model_validate(event)
    update_id = f"event-{event['event_id']}" if event.get("event_id") else None
    status: OnboardingStatus = await call(
        handle,
        lambda: update(handle, SellerOnboarding.apply_event, envelope, update_id=update_id, budget=budget),
        missing=not_signed_up(seller_id),
        ended=lambda: _ended(seller_id),
        budget=budget,
    )
    return status


async def seller_status(client: Client, seller_id: str, *, budget: Budget | None = None) -> OnboardingStatus:
    handle = seller_handle(client, seller_id)
    status: OnboardingStatus = await call(
        handle,
        lambda: query(handle, SellerOnboarding.status, budget),
        missing=not_signed_up(seller_id),
        ended=lambda: _ended(seller_id),
        budget=budget,
    )
    return status


async def disposition(client: Client, seller_id: str) -> SellerDisposition:
    """What the seller's running workflow says to do with their parcels."""
    handle = seller_handle(client, seller_id)
    return await call(
        handle,
        lambda: handle.query(SellerOnboarding.disposition),
        missing=not_signed_up(seller_id),
        ended=lambda: _ended(seller_id),
    )


async def seller_audit(client: Client, seller_id: str, *, budget: Budget | None = None) -> list[AuditEntry]:
    """The seller's accepted events, oldest first (also after offboarding, while retained)."""
    handle = seller_handle(client, seller_id)
    audit: list[AuditEntry] = await call(
        handle,
        lambda: query(handle, SellerOnboarding.audit, budget),
        missing=not_signed_up(seller_id),
        ended=lambda: _ended(seller_id),
        budget=budget,
    )
    return audit
