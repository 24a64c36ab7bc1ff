"""Procedure-version pinning over HTTP: the CAPA procedure and policy in force with the open records still under
an older one, and quality's signed move of a record to the procedure in force."""

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ApiUser, AuthenticatedRoute, Client
from api.errors import REFUSALS, SIGNED_STEP_REFUSALS
from api.params import RecordId
from api.schemas import Body, SigningPassword
from client import procedures
from client.errors import CapaError, FieldProblem, SigningLocked, StepPending
from models.payloads import Reason, StepOutcome
from models.refusals import said

router = APIRouter(tags=["procedure"], route_class=AuthenticatedRoute)


class ProcedureView(BaseModel):
    """A CAPA procedure revision: the controlled document, its revision and the date it took effect."""

    document: str
    revision: str
    effective: date | None = None


class RecordBehindView(BaseModel):
    id: str
    title: str
    stage: str
    raised_under: str


class ProcedureInForceView(BaseModel):
    """What new records are raised under, and the open records still under an older policy or procedure."""

    policy: str
    digest: str
    procedure: ProcedureView | None
    in_force: str
    behind: list[RecordBehindView]


class ProcedureMoveRequest(Body):
    """Move the record to the procedure and policy in force (quality), signed with the caller's password:
    "approved: record moved to the procedure in force". Running deadlines keep their dues."""

    reason: Reason
    password: SigningPassword


@router.get("/procedure", responses=REFUSALS)
async def procedure_in_force(user: ApiUser, client: Client) -> ProcedureInForceView:
    """The procedure and policy in force, and the open records raised (or last moved) under another."""
    now = await procedures.procedure_in_force(client)
    behind = await procedures.records_behind(client)
    shown = ProcedureView.model_validate(now.procedure.model_dump()) if now.procedure is not None else None
    label = now.procedure.label() if now.procedure is not None else "procedure not recorded"
    return ProcedureInForceView(
        policy=now.policy,
        digest=now.digest,
        procedure=shown,
        in_force=f"{label}, policy {now.policy}",
        behind=[
            RecordBehindView(id=r.record_id, title=r.title, stage=r.stage, raised_under=r.raised_under) for r in behind
        ],
    )


@router.post("/records/{record_id}/procedure-move", responses=SIGNED_STEP_REFUSALS)
async def move_procedure(record_id: RecordId, body: ProcedureMoveRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Move the record to the procedure and policy in force (quality, open records), signed with the caller's
    password; the timeline's ``procedure_moved`` entry names both revisions."""
    try:
        return await procedures.move_procedure(client, record_id, user.name, body.reason, body.password)
    except CapaError as exc:
        if not exc.problems or isinstance(exc, StepPending | SigningLocked):
            raise
        # The policy moved to is filled in, not sent: a refusal of it names the request's reason-less whole.
        renamed = [
            FieldProblem(p.field if p.field in ("reason", "password") else None, p.message) for p in exc.problems
        ]
        raise CapaError(exc.kind, said(renamed), renamed) from None
