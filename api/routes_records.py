"""Records: raise, list, show, every lifecycle step, and the deadlines people hold.

Anyone signed in may raise and read. Who may take a step is the workflow's decision alone (``models.rules``):
these routes pass it the token's user, never a name from the body, and the refusal comes back as 403 or 409.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel

from api.deps import ApiUser, AuthenticatedRoute, Client
from api.errors import REFUSALS, SIGNED_STEP_REFUSALS, STEP_REFUSALS
from api.params import Limit, Offset, RecordId
from api.schemas import (
    AmendmentRequest,
    CancellationRequest,
    CompletionRequest,
    ConcessionRequest,
    ContainmentRequest,
    DeadlineItem,
    ExtensionDecisionRequest,
    ExtensionRequestBody,
    LinkedRecordView,
    LinkRequest,
    Links,
    Page,
    PauseDecisionRequest,
    PauseRequestBody,
    PlanAmendmentRequest,
    PlanDecisionRequest,
    PlanRequest,
    Raised,
    RaiseRequest,
    ReassignmentRequest,
    RecordSummary,
    ResumeBody,
    ReviewRequest,
    RootCauseRequest,
    SignedBody,
    SimilarRecords,
    TrainingRequest,  # QMS updates that gate closure
    TriageRequest,
    VerificationRequest,
    json_field,
)
from client import export
from client.errors import CapaError, FieldProblem, SigningLocked, StepPending
from client.export import ExportFormat
from client.records import CapaClient
from core import search
from core.readmodel import RecordFilter
from models import recurrence
from models.enums import Severity, Stage
from models.payloads import (
    ACTION_ID_PATTERN,
    RECORD_ID_PATTERN,
    USER_NAME_PATTERN,
    CapaState,
    CompleteActionStep,
    Payload,
    RecordTrainingStep,  # QMS updates that gate closure
    StepOutcome,
)
from models.recurrence import EffectivenessWindow
from models.refusals import said
from models.tables import User

# Where a shown record came from: "workflow", or "read-model" when its workflow did not answer.
SHOWN_FROM = "Capa-Shown-From"

router = APIRouter(tags=["records"], route_class=AuthenticatedRoute)

# The longest search query taken: a description pasted whole, not a document.
QUERY_MOST = 2000

ActionId = Annotated[str, Path(pattern=ACTION_ID_PATTERN, description="The action, e.g. A1", examples=["A1"])]
StepId = Annotated[
    str,
    Path(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="The step's id, from the Location of its 202 answer",
    ),
]


@router.post("/records", status_code=status.HTTP_201_CREATED, responses=REFUSALS)
async def raise_record(body: RaiseRequest, user: ApiUser, client: Client, response: Response) -> Raised:
    """Raise a nonconformity as the token's user; answers once a worker has opened it, ready for its first step."""
    record_id = await client.raise_record(user.name, body)
    response.headers["Location"] = f"/api/v1/records/{record_id}"
    return Raised(id=record_id)


def _record_filter(where: Annotated[RecordFilter, Query()]) -> RecordFilter:
    """The records list's filter and order, from the query (a bad value: 422 naming its parameter)."""
    return where


Filter = Annotated[RecordFilter, Depends(_record_filter)]


@router.get("/records", responses=REFUSALS)
async def list_records(
    *, user: ApiUser, client: Client, where: Filter, limit: Limit = 50, offset: Offset = 0
) -> Page[RecordSummary]:
    """Records passing the filters, soonest due first unless sorted otherwise: `q` searches the indexed text
    (title, description, product, lot, defect code, supplier, customer, root causes, evidence) for records holding
    every word; the date ranges take whole days (UTC), both ends included."""
    rows = await client.list_records(where, limit=limit, offset=offset)
    total = await client.count_records(where)
    return Page(items=[RecordSummary.of(row) for row in rows], total=total, limit=limit, offset=offset)


# Before /records/{record_id}, which would otherwise take "export" for a record id.
@router.get(
    "/records/export",
    responses={
        **REFUSALS,
        200: {
            "content": {fmt.media_type.split(";")[0]: {} for fmt in ExportFormat},
            "description": "The records passing the filters, as a file to save (CSV or XLSX)",
        },
    },
    response_class=Response,
)
async def export_records(
    *,
    user: ApiUser,
    client: Client,
    where: Filter,
    fmt: Annotated[ExportFormat, Query(alias="format", description="csv or xlsx")] = ExportFormat.CSV,
) -> Response:
    """The records passing the same filters as the list, in its order, as CSV or XLSX (every match, up to 50,000;
    times in UTC)."""
    exported = await export.export_records(client, where, fmt, user.name)
    return export_response(exported)


def export_response(exported: export.Export) -> Response:
    """An export as a download (the web app's link answers the same)."""
    return Response(
        exported.content,
        media_type=exported.format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


# Before /records/{record_id}, which would otherwise take "similar" for a record id.
@router.get("/records/similar", responses=REFUSALS)
async def similar_records(
    *,
    user: ApiUser,
    client: Client,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=QUERY_MOST,
            description="What to look for, in plain words (a title, a description): records sharing any of them",
            examples=["burr on housing edge"],
        ),
    ],
    exclude: Annotated[
        str | None,
        Query(pattern=RECORD_ID_PATTERN, description="A record to leave out: the one being investigated"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=search.MOST_HITS, description="At most this many records")] = 10,
) -> SimilarRecords:
    """Earlier similar nonconformities (ISO 9001 10.2.1 b3): records sharing any meaningful word of `q` in their
    title, description, product, lot, defect code, supplier, customer, root causes or action evidence, best match
    first, each with a snippet showing the matched words in [brackets]."""
    return SimilarRecords(items=await client.similar_records(q, exclude=exclude, limit=limit))


@router.get("/records/{record_id}", responses={**REFUSALS, 404: STEP_REFUSALS[404]})
async def show_record(record_id: RecordId, user: ApiUser, client: Client, response: Response) -> CapaState:
    """A record's full state and its numbered timeline (kept after Temporal has let the workflow go).

    The `Capa-Shown-From` header says where it came from: `workflow` (live), or `read-model` when the record's
    workflow did not answer and this is the state as last recorded (steps wait until it answers again).
    """
    state, stale = await client.show_record(record_id)
    response.headers[SHOWN_FROM] = "read-model" if stale else "workflow"
    return state


@router.get("/overdue", responses=REFUSALS)
async def overdue(
    *,
    user: ApiUser,
    client: Client,
    severity: Annotated[Severity | None, Query(description="Only deadlines of records of this severity")] = None,
    stage: Annotated[Stage | None, Query(description="Only deadlines of records in this stage")] = None,
    holder: Annotated[
        str | None, Query(pattern=USER_NAME_PATTERN, description="Only deadlines this person holds")
    ] = None,
    team: Annotated[
        bool, Query(description="Only deadlines held by the people below the caller in the reporting lines")
    ] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DeadlineItem]:
    """Every deadline past due, most urgent first: highest escalation level, then longest late; each with the
    record's title."""
    items = await client.overdue(severity=severity, stage=stage, holder=holder, team_of=user.name if team else None)
    return Page(
        items=[DeadlineItem.of(item) for item in items[offset : offset + limit]],
        total=len(items),
        limit=limit,
        offset=offset,
    )


@router.get("/records/{record_id}/steps/{step_id}", responses=STEP_REFUSALS)
async def step_outcome(record_id: RecordId, step_id: StepId, user: ApiUser, client: Client) -> StepOutcome:
    """The outcome of a step that was answered 202 (queued for a busy worker): its result once applied, or the
    record's refusal; 202 again if it is still queued after CAPA_STEP_WAIT seconds, 404 if it was lost."""
    return await client.step_outcome(record_id, step_id)


# --- the steps --------------------------------------------------------------------------------------------------


async def _take(client: CapaClient, record_id: str, user: User, step: Payload, body: type[BaseModel]) -> StepOutcome:
    """Send the step (signed with the body's password, for a signed step); a refusal names each field at fault
    as this API calls it in ``body``."""
    try:
        if isinstance(step, SignedBody):
            return await client.sign(record_id, user.name, step, step.password)
        return await client.take_step(record_id, user.name, step)
    except CapaError as exc:
        if not exc.problems or isinstance(exc, StepPending | SigningLocked):
            raise
        renamed = [FieldProblem(json_field(body, p.field), p.message) for p in exc.problems]
        raise CapaError(exc.kind, said(renamed), renamed) from None


@router.post("/records/{record_id}/containment", responses=STEP_REFUSALS)
async def contain(record_id: RecordId, body: ContainmentRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Record the containment (the record's owner or a manager, in stage containment)."""
    return await _take(client, record_id, user, body, ContainmentRequest)


@router.post("/records/{record_id}/root-cause", responses=STEP_REFUSALS)
async def root_cause(record_id: RecordId, body: RootCauseRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Record the root cause (the record's owner or a manager, in stage root_cause)."""
    return await _take(client, record_id, user, body, RootCauseRequest)


@router.post("/records/{record_id}/plan", responses=STEP_REFUSALS)
async def plan(record_id: RecordId, body: PlanRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Submit the action plan (the record's owner or a manager, in stage action); each action starts its clock."""
    return await _take(client, record_id, user, body, PlanRequest)


@router.post("/records/{record_id}/actions/{action_id}/completion", responses=STEP_REFUSALS)
async def complete_action(
    record_id: RecordId, action_id: ActionId, body: CompletionRequest, user: ApiUser, client: Client
) -> StepOutcome:
    """Complete one action with evidence (its owner or a manager); the last one moves the record to verification."""
    step = CompleteActionStep(action_id=action_id, evidence=body.evidence, details=body.details)
    return await _take(client, record_id, user, step, CompletionRequest)


@router.post("/records/{record_id}/verification", responses=SIGNED_STEP_REFUSALS)
async def verify(record_id: RecordId, body: VerificationRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Verify the actions (a manager who implemented none of them), signed with the caller's password."""
    return await _take(client, record_id, user, body, VerificationRequest)


@router.post("/records/{record_id}/review", responses=SIGNED_STEP_REFUSALS)
async def review(record_id: RecordId, body: ReviewRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Review effectiveness once its window has passed (a manager), signed with the caller's password; effective
    closes the record."""
    return await _take(client, record_id, user, body, ReviewRequest)


@router.post("/records/{record_id}/extension-requests", responses=STEP_REFUSALS)
async def request_extension(
    record_id: RecordId, body: ExtensionRequestBody, user: ApiUser, client: Client
) -> StepOutcome:
    """Ask for more time for the step or action the caller holds; a manager other than the caller decides."""
    return await _take(client, record_id, user, body, ExtensionRequestBody)


@router.post("/records/{record_id}/extension-decision", responses=SIGNED_STEP_REFUSALS)
async def decide_extension(
    record_id: RecordId, body: ExtensionDecisionRequest, user: ApiUser, client: Client
) -> StepOutcome:
    """Approve (every timer of the step re-armed) or reject, with a reason, the pending extension request, signed
    with the caller's password."""
    return await _take(client, record_id, user, body, ExtensionDecisionRequest)


@router.post("/records/{record_id}/reassignment", responses=STEP_REFUSALS)
async def reassign(record_id: RecordId, body: ReassignmentRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Give the record, or one of its actions, to someone else (a manager); reminders and escalations follow."""
    return await _take(client, record_id, user, body, ReassignmentRequest)


@router.post("/records/{record_id}/cancellation", responses=SIGNED_STEP_REFUSALS)
async def cancel(record_id: RecordId, body: CancellationRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Cancel an invalid record with a reason (a manager), signed with the caller's password; every timer stops."""
    return await _take(client, record_id, user, body, CancellationRequest)


# --- the steps of the current process rules (quality's, plan amendments, links) ---------------------------------


@router.post("/records/{record_id}/triage", responses=SIGNED_STEP_REFUSALS)
async def triage(record_id: RecordId, body: TriageRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Triage the record (quality), signed with the caller's password: the risk class from the severity and
    occurrence levels, whether a CAPA is needed, what must be reported. A class other than the raised one re-arms
    the running clocks; taken again it reclassifies the record (with a rationale)."""
    return await _take(client, record_id, user, body, TriageRequest)


@router.post("/records/{record_id}/plan-amendments", responses=STEP_REFUSALS)
async def amend_plan(record_id: RecordId, body: PlanAmendmentRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Amend the submitted plan: add actions, re-scope open ones (the record's owner or a manager, in stage action
    or verification); it awaits quality's approval before verification."""
    return await _take(client, record_id, user, body, PlanAmendmentRequest)


@router.post("/records/{record_id}/plan-decision", responses=SIGNED_STEP_REFUSALS)
async def decide_plan(record_id: RecordId, body: PlanDecisionRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Approve, or return with a reason, the plan or amendment awaiting approval (quality, not the record's
    owner), signed with the caller's password."""
    return await _take(client, record_id, user, body, PlanDecisionRequest)


@router.post("/records/{record_id}/concession", responses=SIGNED_STEP_REFUSALS)
async def concede(record_id: RecordId, body: ConcessionRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Grant the concession for product used as is or reworked (quality), signed with the caller's password."""
    return await _take(client, record_id, user, body, ConcessionRequest)


@router.post("/records/{record_id}/amendments", responses=SIGNED_STEP_REFUSALS)
async def amend(record_id: RecordId, body: AmendmentRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Correct one fact of the record (quality), signed with the caller's password; closed and cancelled records
    take amendments too, appended to the same chained timeline."""
    return await _take(client, record_id, user, body, AmendmentRequest)


@router.post("/records/{record_id}/links", responses=STEP_REFUSALS)
async def link(record_id: RecordId, body: LinkRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Relate the record to another (its owner, a manager or quality): duplicate-of, recurrence-of, related,
    parent-of, child-of. Both records show it."""
    return await _take(client, record_id, user, body, LinkRequest)


@router.get("/records/{record_id}/links", responses={**REFUSALS, 404: STEP_REFUSALS[404]})
async def links(record_id: RecordId, user: ApiUser, client: Client) -> Links:
    """The record's links both ways: those it made, and those other records made to it (read the other way:
    ``duplicated-by``, ``recurred-as``, ``related``, ``parent-of``, ``child-of``)."""
    state = await client.show(record_id)
    found = await client.links_of(state)
    return Links(links=[LinkedRecordView.model_validate(link.model_dump()) for link in found])


# --- recurrence: the effectiveness window's data ---


@router.get("/records/{record_id}/effectiveness-window", responses={**REFUSALS, 404: STEP_REFUSALS[404]})
async def effectiveness_window(record_id: RecordId, user: ApiUser, client: Client) -> EffectivenessWindow:
    """The record's effectiveness window and, beside each effectiveness criterion, how many matching
    nonconformities were raised in it, and when (their ids and dates): what the review judges on. Empty criteria
    before the window begins."""
    return recurrence.effectiveness_window(await client.show(record_id))


# --- QMS updates that gate closure ---


@router.post("/records/{record_id}/actions/{action_id}/training", responses=STEP_REFUSALS)
async def record_training(
    record_id: RecordId, action_id: ActionId, body: TrainingRequest, user: ApiUser, client: Client
) -> StepOutcome:
    """Record who completed a training action's course (its owner or a manager); verification waits until the
    action's completion threshold is met."""
    step = RecordTrainingStep(action_id=action_id, people=body.people)
    return await _take(client, record_id, user, step, TrainingRequest)


# --- honest pauses ---


@router.post("/records/{record_id}/pause-requests", responses=STEP_REFUSALS)
async def request_pause(record_id: RecordId, body: PauseRequestBody, user: ApiUser, client: Client) -> StepOutcome:
    """Ask quality to pause the clock of the step or action the caller holds: waiting on a supplier or a customer,
    until an expected date, with a reason."""
    return await _take(client, record_id, user, body, PauseRequestBody)


@router.post("/records/{record_id}/pause-decision", responses=SIGNED_STEP_REFUSALS)
async def decide_pause(record_id: RecordId, body: PauseDecisionRequest, user: ApiUser, client: Client) -> StepOutcome:
    """Approve (the clock stops, keeping the time it had left; nothing rings while paused) or decline, with a
    reason, the pending pause request (quality), signed with the caller's password."""
    return await _take(client, record_id, user, body, PauseDecisionRequest)


@router.post("/records/{record_id}/resumption", responses=STEP_REFUSALS)
async def resume(record_id: RecordId, body: ResumeBody, user: ApiUser, client: Client) -> StepOutcome:
    """Start a paused clock again (its holder or quality): it falls due with the time it had left."""
    return await _take(client, record_id, user, body, ResumeBody)
