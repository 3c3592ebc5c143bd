"""``GET /healthz``: liveness, and whether Temporal answers (503 with the reason when it does not).

No credentials: a load balancer or an orchestrator's probe calls it.
"""

import asyncio
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from starter.api.deps import TemporalDep
from starter.api.errors import answer, error_responses
from starter.api.problems import ApiProblem

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]
    temporal: Literal["reachable"]


def _unreachable(request: Request, reason: str) -> Response:
    problem = ApiProblem(503, f"Temporal is not reachable: {reason}", code="temporal_unreachable")
    return answer(request, problem)


@router.get(
    "/healthz",
    summary="Liveness and Temporal reachability",
    response_model=Health,
    responses=error_responses(503),
)
async def healthz(request: Request, temporal: TemporalDep) -> Health | Response:
    c = temporal.client
    if c is None:
        return _unreachable(request, temporal.last_error or "not connected yet")
    try:
        await asyncio.wait_for(c.service_client.check_health(timeout=timedelta(seconds=2)), 3)
    except Exception as err:  # any failure means "not reachable", with its reason
        return _unreachable(request, f"{err or type(err).__name__}")
    return Health(status="ok", temporal="reachable")
