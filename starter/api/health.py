"""``GET /healthz``: liveness, and whether Temporal answers (503 with the reason when it does not).

No credentials: a load balancer or an orchestrator's probe calls it.
"""

import asyncio
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from starter.api.deps import TemporalDep
from starter.api.errors import error_responses

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]
    temporal: Literal["reachable"]


def _unreachable(reason: str) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": f"Temporal is not reachable: {reason}"})


@router.get(
    "/healthz",
    summary="Liveness and Temporal reachability",
    response_model=Health,
    responses=error_responses(503),
)
async def healthz(temporal: TemporalDep) -> Health | JSONResponse:
    c = temporal.client
    if c is None:
        return _unreachable(temporal.last_error or "not connected yet")
    try:
        await asyncio.wait_for(c.service_client.check_health(timeout=timedelta(seconds=2)), 3)
    except Exception as err:  # any failure means "not reachable", with its reason
        return _unreachable(f"{err or type(err).__name__}")
    return Health(status="ok", temporal="reachable")
