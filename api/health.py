"""Liveness and readiness, for load balancers and orchestrators; no sign-in, no data."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import Client

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    # Per dependency: null when reachable, else why not.
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
    body = Readiness(status="ready" if ready else "unavailable", **problems)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
