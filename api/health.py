"""Liveness and readiness, for load balancers and orchestrators; no sign-in, no data."""

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import Client

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    # Per dependency: null when reachable, else "unreachable" (why is in the process's log, not for anyone asking).
    temporal: str | None
    database: str | None


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(client: Client) -> JSONResponse:
    """Temporal and the database are both reachable (503 names the one that is not)."""
    problems = await client.readiness()
    ready = all(problem is None for problem in problems.values())
    if not ready:
        # Addresses and driver messages stay in the log: this answer is for anyone who asks.
        log.warning("not ready", **{name: why for name, why in problems.items() if why is not None})
    shown = {name: None if why is None else "unreachable" for name, why in problems.items()}
    body = Readiness(status="ready" if ready else "unavailable", **shown)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
