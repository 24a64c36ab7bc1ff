"""How the client layer's errors reach an HTTP caller: one status per kind, the message as ``detail``, and for bad
input each field at fault in ``errors``, named as this API names it."""

from collections.abc import Sequence

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from client.errors import CapaError, ErrorKind, FieldProblem, SigningLocked, StepPending

STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_ALLOWED: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.WRONG_STAGE: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.TOO_MANY_ATTEMPTS: 429,
    # Accepted for processing: the step waits for a busy worker; its outcome is at the Location given.
    ErrorKind.PENDING: 202,
}


class FieldError(BaseModel):
    """One field at fault: its JSON path (``actions.1.due_at``, items counted from 0; null: the body as a whole)."""

    field: str | None
    message: str


class Problem(BaseModel):
    """Why a request was refused: ``kind`` for programs, ``detail`` (one line, naming the fields) for people, and
    for bad input ``errors``, every field at fault (absent when the refusal is not about a field)."""

    kind: str
    detail: str
    errors: list[FieldError] | None = None


def problem_response(
    status: int,
    kind: str,
    detail: str,
    headers: dict[str, str] | None = None,
    problems: Sequence[FieldProblem] = (),
) -> JSONResponse:
    errors = [FieldError(field=p.field, message=p.message) for p in problems] or None
    return JSONResponse(
        Problem(kind=kind, detail=detail, errors=errors).model_dump(exclude_none=True),
        status_code=status,
        headers=headers,
    )


async def capa_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CapaError)
    headers = None
    if isinstance(exc, StepPending):
        headers = {"Location": f"/api/v1/records/{exc.record_id}/steps/{exc.update_id}"}
    if isinstance(exc, SigningLocked):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(STATUS[exc.kind], exc.kind.value, exc.message, headers, exc.problems)


# The refusals every authenticated route can answer, for the OpenAPI document.
REFUSALS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "The signed-in user may not do this"},
    422: {"model": Problem, "description": "A field is missing or invalid; `errors` names each"},
    503: {"model": Problem, "description": "Temporal or the database cannot be reached"},
}
STEP_REFUSALS: dict[int | str, dict[str, object]] = {
    **REFUSALS,
    202: {
        "model": Problem,
        "description": "Sent, but the workers are busy: the step applies when one is free. Do not send it again; "
        "its outcome is at the `Location` given",
    },
    404: {"model": Problem, "description": "No such record"},
    409: {"model": Problem, "description": "The record is not in the stage this step belongs to"},
}
# A signed step's further refusals: its password (re-entered to sign it) wrong, or too many wrong ones lately.
SIGNED_STEP_REFUSALS: dict[int | str, dict[str, object]] = {
    **STEP_REFUSALS,
    403: {
        "model": Problem,
        "description": "The signed-in user may not take this step, or `password` is not theirs (`errors` names it); "
        "nothing is recorded",
    },
    429: {"model": Problem, "description": "Too many wrong passwords at signing; wait `Retry-After` seconds"},
}
