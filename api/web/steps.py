"""The record page's step forms: which inputs fill which field of each step's model, and the one route that
reads a form into its step and sends it through the client layer.

A form that is refused comes back with a message beside every input at fault and a summary at the top; one that
is accepted redirects (303) to the record. A signed step's form carries the signer's password, which signs the
step through the client layer and is never shown again, kept with the form's values or put in the step.
"""

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Client, WebUser
from api.errors import STATUS
from api.uploads import UploadRefused
from api.web.files import STEP_FILE_TARGETS, is_upload, read_form_upload, refused_upload
from api.web.forms import FilledForm, Input, Read, Refusal, Rows, WebForm, inputs, model_of
from api.web.pages import record_page
from api.web.rendering import label, problem_page, see
from client import procedures
from client.errors import CapaError, ErrorKind, FieldProblem, SigningLocked, StepPending
from client.files import attach_files
from models.payloads import MoveProcedureStep
from models.rules import SIGNED_STEPS, STEP_MODELS, Step

router = APIRouter(include_in_schema=False)

# A QMS update action's details (``models.qms.QmsDetails``): which apply depends on the action's kind.
QMS_DETAILS = {
    "document_id": Input("document_id", "Document"),
    "revision_from": Input("revision_from", "Revision from"),
    "revision_to": Input("revision_to", "Revision to"),
    "effective_date": Input("effective_date", "Effective date"),
    "course": Input("course", "Course"),
    "audience": Input("audience", "Audience", Read.LINES),
    "threshold_percent": Input("threshold_percent", "Threshold (%)"),
    "threshold_count": Input("threshold_count", "Threshold (people)"),
    "reference": Input("reference", "Reference"),
    "read_across": Input("read_across", "Read across to", Read.TARGETS),
}
# What a completion may record: the revision, date, reference or read-across outcomes.
COMPLETION_DETAILS = {
    f"details.{field}": QMS_DETAILS[field]
    for field in ("document_id", "revision_to", "effective_date", "reference", "read_across")
}

# A plan's row: the inputs ``description-<row>``, ``owner-<row>``, ``due-<row>``, ``kind-<row>`` and
# ``late_due_reason-<row>``.
PLAN_ROW = {
    "description": Input("description", "What will be done"),
    "owner": Input("owner", "Owner"),
    "due_at": Input("due", "Due", Read.MOMENT),
    "kind": Input("kind", "Kind"),
    "late_due_reason": Input("late_due_reason", "Why due so late"),
    **{f"details.{field}": spec for field, spec in QMS_DETAILS.items()},
}
# A plan amendment's added action: the same inputs, prefixed ``add-``.
ADDED_ROW = {field: Input(f"add-{spec.name}", spec.label, spec.read) for field, spec in PLAN_ROW.items()}
# An effectiveness criterion's row (the plan's, or verification's where the plan set none).
CRITERION_ROW = {
    "measure": Input("measure", "What is measured"),
    "baseline": Input("baseline", "Baseline"),
    "threshold": Input("threshold", "Threshold"),
    "data_source": Input("data_source", "Data source"),
    "window_days": Input("window_days", "Window (days)"),
    "window_lots": Input("window_lots", "Window (lots)"),
    "window_units": Input("window_units", "Window (units)"),
    # recurrence: the products or parts the window watches
    "products": Input("products", "Products watched", Read.LINES),
}
CRITERIA = Rows("criteria", CRITERION_ROW, ("measure", "baseline", "threshold", "data_source"), "Criteria", 20)
ACTIONS = Rows("actions", PLAN_ROW, ("description", "owner", "due", "late_due_reason"), "Actions", always=True)


@dataclass(frozen=True)
class StepForm:
    """One step's form: the inputs that fill its model's fields, its repeated groups, and what is said once it
    is accepted."""

    inputs: dict[str, Input]
    done: str
    rows: tuple[Rows, ...] = ()

    def fill(self, form: WebForm) -> FilledForm:
        filled = form.fill(self.inputs)
        for group in self.rows:
            group.fill(form, filled)
        if form.text("no_documents") and "affected_documents" in self.inputs:
            # The plan's "no QMS document is affected": an empty list, which asks for its justification.
            filled.values["affected_documents"] = []
        return filled


# A signed step's password input: read as typed (never stripped), never put back into a refused form.
PASSWORD = Input("password", "Your password (signs this step)")

_REASON = ("reason", "Reason")
_EVIDENCE = ("evidence", "Evidence")

STEP_FORMS: dict[Step, StepForm] = {
    Step.CONTAIN: StepForm(
        inputs(
            ("summary", "What was done to control it"),
            ("disposition", "Disposition"),
            ("quantity", "Quantity"),
            ("no_product_affected", "No product affected", Read.CHECK),
            ("shipped", "Already shipped"),
            ("customers_told", "Customers told", Read.CHECK),
        ),
        "Containment recorded",
        (
            Rows(
                "dispositions",
                {"disposition": Input("share", "Share"), "quantity": Input("share_quantity", "Share pieces")},
                ("share", "share_quantity"),
                "Dispositions",
                10,
            ),
        ),
    ),
    Step.ROOT_CAUSE: StepForm(
        inputs(
            ("method", "Method"),
            ("category", "6M category"),
            ("whys", "Why-chain", Read.LINES),
            ("cause", "Root cause"),
            ("escape_point", "Escape point"),
            ("non_detection_cause", "Why it was not detected"),
            ("similar", "Similar nonconformities", Read.CHOSEN),
            ("similar_checked", "Similar nonconformities checked"),
        ),
        "Root cause recorded",
    ),
    Step.PLAN: StepForm(
        inputs(
            ("affected_documents", "Affected QMS documents", Read.LINES),
            ("no_documents_justification", "Why no QMS document is affected"),
        ),
        "Action plan recorded",
        (ACTIONS, CRITERIA),
    ),
    Step.COMPLETE_ACTION: StepForm(inputs(("action_id", "Action"), _EVIDENCE) | COMPLETION_DETAILS, "Action completed"),
    Step.RECORD_TRAINING: StepForm(
        inputs(("action_id", "Action"), ("people", "Trained", Read.CHOSEN)), "Training recorded"
    ),
    Step.VERIFY: StepForm(
        inputs(
            ("result", "Result"),
            _EVIDENCE,
            ("no_adverse_effect", "No adverse effect", Read.CHECK),
            ("adverse_effect_evidence", "What shows no adverse effect"),
        ),
        "Verification recorded",
        (CRITERIA,),
    ),
    Step.REVIEW: StepForm(
        inputs(("result", "Result"), _EVIDENCE),
        "Effectiveness review recorded",
        (
            Rows(
                "criteria_results",
                {
                    "criterion": Input("criterion", "Criterion"),
                    "met": Input("met", "Criterion met?"),
                    "data": Input("data", "Data"),
                },
                ("met", "data"),
                "Criteria",
                20,
            ),
        ),
    ),
    Step.REQUEST_EXTENSION: StepForm(
        inputs(("action_id", "For"), ("until", "New due", Read.MOMENT), _REASON),
        "Extension requested; a manager of your line or quality decides it (quality alone when it is late)",
    ),
    Step.DECIDE_EXTENSION: StepForm(
        inputs(("action_id", "For"), _REASON, approve=Input("decision", "Decision", Read.DECISION)),
        "Extension decided",
    ),
    Step.REASSIGN: StepForm(inputs(("action_id", "What"), _REASON, new_owner=Input("owner", "To")), "Reassigned"),
    Step.CANCEL: StepForm(
        inputs(("category", "Category"), ("duplicate_of", "Duplicate of"), _REASON), "Record cancelled"
    ),
    Step.TRIAGE: StepForm(
        inputs(
            ("severity_level", "Severity level"),
            ("occurrence_level", "Occurrence level"),
            ("decision", "Decision"),
            ("rationale", "Rationale"),
            ("customer_notification", "Customer notification", Read.CHECK),
            ("regulatory_report", "Regulatory report", Read.CHECK),
            ("field_action", "Field action", Read.CHECK),
        ),
        "Triage recorded",
    ),
    Step.DECIDE_PLAN: StepForm(
        inputs(_REASON, approve=Input("decision", "Decision", Read.DECISION)), "Plan decision recorded"
    ),
    Step.CONCEDE: StepForm(
        inputs(("justification", "Justification"), ("customer_approval", "Customer approval reference")),
        "Concession recorded",
    ),
    Step.AMEND: StepForm(inputs(("field", "Field"), ("value", "New value"), _REASON), "Amendment recorded"),
    Step.LINK: StepForm(inputs(("kind", "Link"), ("record_id", "Other record"), _REASON), "Link recorded"),
    Step.COMMENT: StepForm(inputs(("text", "Comment")), "Comment added"),
    # Procedure-version pinning.
    Step.MOVE_PROCEDURE: StepForm(inputs(_REASON), "Moved to the procedure in force"),
    # Honest pauses.
    Step.REQUEST_PAUSE: StepForm(
        inputs(
            ("action_id", "For"),
            ("waiting_on", "Waiting on"),
            ("expected_until", "Answer expected", Read.MOMENT),
            _REASON,
        ),
        "Pause requested; quality decides it",
    ),
    Step.DECIDE_PAUSE: StepForm(
        inputs(("action_id", "For"), _REASON, approve=Input("decision", "Decision", Read.DECISION)),
        "Pause decided",
    ),
    Step.RESUME: StepForm(inputs(("action_id", "For"), _REASON), "Clock resumed"),
    Step.AMEND_PLAN: StepForm(
        inputs(_REASON),
        "Plan amendment sent",
        (
            Rows("add", ADDED_ROW, tuple(f"add-{n}" for n in ("description", "owner", "due")), "Actions added"),
            Rows(
                "rescope",
                {"action_id": Input("rescope_action", "Action"), "description": Input("rescope", "Now to be done")},
                ("rescope",),
                "Re-scoped actions",
            ),
        ),
    ),
}


@router.post("/records/{record_id}/{step}")
async def take_step(request: Request, record_id: str, step: str, user: WebUser, client: Client) -> Response:
    which = next((s for s in Step if s.value == step), None)
    if which is None or which not in STEP_FORMS:
        return problem_page(request, user, 404, f"there is no step called {step}")
    upload = None
    if is_upload(request):
        # A step form with files: the files are kept as they come, and attached to the step before it is taken
        # (a step that ends the record would leave it closed to files).
        try:
            upload = await read_form_upload(request)
        except UploadRefused as refused:
            return await record_page(
                request,
                user,
                client,
                record_id,
                status=refused.status,
                failed=which.value,
                refusal=refused_upload(refused),
            )
        form = WebForm({name: value.strip() for name, value in upload.fields.items()})
    else:
        form = await WebForm.read(request)
    handler = STEP_FORMS[which]
    filled = handler.fill(form)
    signed = which in SIGNED_STEPS
    password = ""
    if signed:
        # As typed (not stripped); a form with files has it among the fields read with them.
        fields = upload.fields if upload is not None else await request.form()
        password = str(fields.get("password") or "")
        filled.inputs[PASSWORD.name] = PASSWORD
        if not password:
            filled.problems.append(FieldProblem(PASSWORD.name, "required: your password signs this step"))
    # Every typed value is shown again on a refusal, except the password.
    typed = {name: value for name, value in form.values.items() if name != PASSWORD.name}
    try:
        submitted = await model_of(client, STEP_MODELS[which].submitted, filled)
        if upload is not None and upload.files:
            target = STEP_FILE_TARGETS.get(which) or (form.text("action_id") if which is Step.COMPLETE_ACTION else "")
            if not target:
                return problem_page(request, user, 400, f"the {which.value} form takes no files")
            if signed:
                # A wrong password records nothing, the files included.
                await client.check_signer(record_id, user.name, which, password)
            await attach_files(client, record_id, user.name, upload.files, target)
        if isinstance(submitted, MoveProcedureStep):
            # Procedure-version pinning: the policy in force is filled in before the signature.
            result = await procedures.move_procedure(client, record_id, user.name, submitted.reason, password)
        elif signed:
            result = await client.sign(record_id, user.name, submitted, password)
        else:
            result = await client.take_step(record_id, user.name, submitted)
    except StepPending:
        request.session["flash"] = f"Sent; {record_id} shows the step once a worker applies it (do not resend it)"
        return see(f"/records/{record_id}")
    except CapaError as exc:
        if exc.kind is ErrorKind.UNAVAILABLE:
            return problem_page(request, user, 503, exc.message)
        # Each action has its own completion form, each pending extension its decision form: the refusal goes to
        # the one that was sent.
        per_target = which in (Step.COMPLETE_ACTION, Step.DECIDE_EXTENSION, Step.RECORD_TRAINING, Step.DECIDE_PAUSE)
        failed = f"{which.value}-{form.text('action_id')}" if per_target else which.value
        refusal = Refusal.of(exc, filled.inputs, STATUS[exc.kind])
        wait = {"Retry-After": str(exc.retry_after)} if isinstance(exc, SigningLocked) else None
        return await record_page(
            request,
            user,
            client,
            record_id,
            status=refusal.status,
            failed=failed,
            refusal=refusal,
            values=typed,
            headers=wait,
        )
    where = f"in {label(result.stage)}" if result.stage.is_open else label(result.stage)
    request.session["flash"] = f"{handler.done}; {record_id} is now {where}"
    return see(f"/records/{record_id}")
