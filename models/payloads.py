"""Workflow payloads: the record's state, its timeline and one input model per update.

Pure pydantic, safe to import inside the workflow sandbox. Every field added later must have a default so
that records already in flight keep deserialising.
"""

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)

from models.calendars import WorkCalendar
from models.dues import read_day
from models.enums import (
    ActionKind,
    ActionStatus,
    AmendableField,
    CancelCategory,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    EventKind,
    LinkKind,
    Role,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    TriageDecision,
    VerificationResult,
)
from models.formatting import moment
from models.policy import PinnedPolicy, Procedure
from models.qms import QmsDetails

SYSTEM_ACTOR = "system"

# Failure types of a refused update besides the rules' own (``rules.RejectionKind``).
ALARM_STALE = "AlarmStale"  # the clock the alarm rings for has ended or changed
ALARM_RUNG = "AlarmRung"  # the alarm has already rung (a retried ring)
RECORD_MOVING = "RecordMoving"  # the record is continuing as new; the same step will be accepted in a moment
STEP_REPEATED = "StepRepeated"  # a step retried after the record continued as new, already applied before

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# What a person's name in the directory may be: 1 to 64 of these characters.
USER_NAME_PATTERN = r"^[A-Za-z0-9._@-]{1,64}$"
USER_NAME = re.compile(USER_NAME_PATTERN)
UserName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=USER_NAME_PATTERN)
]
# What every record id looks like (``NC-2026-0001``): front ends refuse anything else before asking Temporal.
RECORD_ID_PATTERN = r"^NC-\d{4}-\d{4,}$"
RecordId = Annotated[str, StringConstraints(pattern=RECORD_ID_PATTERN)]
# An action's id as the record gives it (A1, A2, ...); anything else names no action.
ACTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
ActionId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=ACTION_ID_PATTERN)]
# A value that does not match one of these patterns, as people know the thing it should have been.
PATTERN_WORDS = {
    USER_NAME_PATTERN: "a user name: letters, digits and . _ @ - only",
    RECORD_ID_PATTERN: "not a record id (like NC-2026-0001)",
    ACTION_ID_PATTERN: "not an action id (like A1)",
}


class Payload(BaseModel):
    """What crosses Temporal. A field this release does not know is kept and passed on, not refused: a worker one
    release behind a front end (or after a rollback) loses nothing a newer one sent. The HTTP API still refuses
    unknown fields (``api.schemas``)."""

    model_config = ConfigDict(extra="allow")


class Actor(Payload):
    """Who takes a step, as the client layer found them in the directory."""

    name: UserName
    roles: list[Role] = Field(min_length=1)

    @property
    def is_manager(self) -> bool:
        return Role.MANAGER in self.roles or Role.ADMIN in self.roles

    @property
    def is_quality(self) -> bool:
        return Role.QUALITY in self.roles


# --- what a person submits: one model per step, and its update's input -----------------------------------------
#
# Each step's own fields are one model (``RaiseStep``, ``ContainmentStep``, ...); its update's input adds the actor
# and its timeline entry is that same model, with the facts the record adds (``RootCauseEntry``, ...). So every
# field a person submits is in the timeline, typed as it was submitted.


Quantity = Annotated[int, Field(ge=0, le=1_000_000_000, description="How many pieces", examples=[120])]
Evidence = Annotated[
    Text, Field(description="What shows it was done: a document, a measurement, a link", examples=["WO-5531"])
]
Reason = Annotated[Text, Field(description="Why; kept in the record's timeline")]
# A due: a moment with its zone, or a date alone (2026-03-31), the end of that day in the record's site zone
# (``models.dues``). Aware only: a moment without a zone cannot be compared with the record's deadlines.
Due = Annotated[AwareDatetime, BeforeValidator(read_day)]


class LinkRef(Payload):
    """Another record this one relates to, and how (``duplicate-of`` NC-2026-0001, ...)."""

    kind: Annotated[LinkKind, Field(description="How this record relates to the other")]
    record_id: Annotated[RecordId, Field(description="The other record", examples=["NC-2026-0001"])]


class RaiseStep(Payload):
    """A new nonconformity."""

    title: Annotated[ShortText, Field(description="One line: what is wrong", examples=["Burr on housing edge"])]
    description: Annotated[
        Text,
        Field(description="What happened, where, when, how it was found", examples=["Line 3 housings show a burr"]),
    ]
    severity: Annotated[Severity, Field(description="Sets the deadlines (see the policy)")]
    source: Annotated[Source, Field(description="How it was found")]
    owner: Annotated[UserName, Field(description="Who owns the CAPA: an owner or a manager", examples=["olivia"])]
    product: Annotated[ShortText | None, Field(description="Product or part number", examples=["H-200"])] = None
    lot: Annotated[ShortText | None, Field(description="Lot or batch", examples=["L-4711"])] = None
    quantity: Annotated[Quantity | None, Field(description="How many pieces are affected")] = None
    defect_code: Annotated[ShortText | None, Field(description="Defect code from the policy's list")] = None
    supplier: Annotated[ShortText | None, Field(description="The supplier concerned")] = None
    customer: Annotated[ShortText | None, Field(description="The customer concerned")] = None
    links: list[LinkRef] | None = Field(default=None, max_length=20, description="Records this one relates to")
    site: Annotated[
        ShortText | None,
        Field(description="The site it belongs to (`GET /api/v1/sites`); default the raiser's home site"),
    ] = None
    # recurrence sentinels: set on a CAPA the system opened when a rule fired (the rule, the records that fired it)
    raised_by_rule: Annotated[ShortText | None, Field(description="The recurrence rule that opened it")] = None
    triggered_by: list[RecordId] | None = Field(default=None, max_length=100, description="Records that fired it")


class RaiseInput(RaiseStep):
    record_id: RecordId
    raised_by: Actor


class StepInput(Payload):
    actor: Actor


class Signature(Payload):
    """An electronic signature (21 CFR Part 11: 11.50, 11.70): who signed, by login and printed name, what the
    signature means, when (UTC), and a SHA-256 of the signed content (``models.signatures.content_sha256``: the
    record, the step, what it submitted, the signer, the meaning and the time), which links it to its record.

    The signer re-entered their password to make it; the password itself is never part of it."""

    signer: UserName
    full_name: ShortText
    meaning: ShortText
    signed_at: AwareDatetime
    content_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

    @model_validator(mode="before")
    @classmethod
    def _not_printed(cls, data: Any) -> Any:
        # ``printed`` is derived, written out with the rest for whoever reads the JSON; never kept as given.
        if isinstance(data, dict) and "printed" in data:
            return {key: value for key, value in data.items() if key != "printed"}
        return data

    @field_validator("signed_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def manifestation(self) -> str:
        """``Signed by Maria Keller (maria), approved: effective, record closed, 2026-03-01 14:02:11 UTC``."""
        return f"Signed by {self.full_name} ({self.signer}), {self.meaning}, {moment(self.signed_at)}"

    # mypy does not follow a decorator over a property; pydantic documents this form.
    @computed_field(  # type: ignore[prop-decorator]
        description="The signature as every page, report and terminal prints it (its manifestation)"
    )
    @property
    def printed(self) -> str:
        return self.manifestation()


class SignedInput(StepInput):
    """The input of a signed step (verification, effectiveness review, cancellation, extension decision): the
    record refuses it unless it carries the signature of the person taking it, with the step's meaning."""

    signature: Signature | None = None


_Step = TypeVar("_Step", bound=Payload)


class DispositionShare(Payload):
    """How many pieces of the affected product get one disposition."""

    disposition: Disposition
    quantity: Quantity


class ContainmentStep(Payload):
    """Containment (ISO 9001 10.2.1 a): what was done to control the nonconforming product, if any."""

    summary: Annotated[
        Text,
        Field(
            description="What was done to control the nonconforming product",
            examples=["Lot L-4711 quarantined, 120 pcs"],
        ),
    ]
    disposition: Annotated[Disposition | None, Field(description="What happens to the product (all of it)")] = None
    quantity: Annotated[Quantity | None, Field(description="How many pieces the disposition covers")] = None
    dispositions: list[DispositionShare] | None = Field(
        default=None, max_length=10, description="The product split across dispositions, with quantities"
    )
    no_product_affected: Annotated[
        bool | None, Field(description="The finding concerns no product (audit, system, supplier document sources)")
    ] = None
    shipped: Annotated[Quantity | None, Field(description="How many affected pieces had already shipped")] = None
    customers_told: Annotated[bool | None, Field(description="Whether customers were told of shipped product")] = None

    def shares(self) -> list[DispositionShare]:
        """The dispositions, whether given whole (``disposition``) or split (``dispositions``)."""
        if self.dispositions:
            return list(self.dispositions)
        if self.disposition is None:
            return []
        return [DispositionShare(disposition=self.disposition, quantity=self.quantity or 0)]


class ContainmentInput(ContainmentStep, StepInput):
    pass


class RootCauseStep(Payload):
    """Root cause (ISO 9001 10.2.1 b); five-whys needs the why-chain."""

    method: Annotated[RootCauseMethod, Field(description="How the cause was found")]
    cause: Annotated[Text, Field(description="The root-cause statement")]
    whys: list[Text] = Field(
        default_factory=list, max_length=20, description="The why-chain, in order", examples=[["Burr", "Tool worn"]]
    )
    category: Annotated[CauseCategory | None, Field(description="The 6M category")] = None
    escape_point: Annotated[ShortText | None, Field(description="Where it should have been caught")] = None
    non_detection_cause: Annotated[
        Text | None, Field(description="Why the escape point did not detect it (major and critical)")
    ] = None
    similar_checked: Annotated[
        Text | None, Field(description="How similar nonconformities were searched for, and what was found (10.2.1 b3)")
    ] = None
    similar: list[RecordId] | None = Field(
        default=None, max_length=50, description="The earlier records the search found similar"
    )


class RootCauseInput(RootCauseStep, StepInput):
    pass


class PlannedAction(Payload):
    """One action of a plan."""

    owner: Annotated[UserName, Field(description="Who carries out the action", examples=["oscar"])]
    due_at: Annotated[
        Due,
        Field(
            description="When it is due, with its time zone, or a date alone (the end of that day at the "
            "record's site); in the future"
        ),
    ]
    description: Annotated[Text, Field(description="What is to be done", examples=["Replace deburring tool"])]
    kind: Annotated[ActionKind, Field(description="Correction, corrective or preventive")] = ActionKind.CORRECTIVE
    late_due_reason: Annotated[
        Text | None, Field(description="Why it falls due after the policy's latest date; quality approves it")
    ] = None
    # QMS updates that gate closure
    details: Annotated[QmsDetails | None, Field(description="A QMS update action's typed details")] = None


class Criterion(Payload):
    """An effectiveness criterion set in advance: what is measured against which threshold, from which data, over
    which window (days, or a number of lots or units whose counts the reviewer enters)."""

    measure: Annotated[ShortText, Field(description="What is measured", examples=["burr rejects at final inspection"])]
    baseline: Annotated[ShortText, Field(description="Its value before the action", examples=["2.1 %"])]
    threshold: Annotated[ShortText, Field(description="The value that counts as effective", examples=["< 0.2 %"])]
    data_source: Annotated[ShortText, Field(description="Where the data comes from", examples=["QC-DB line 3"])]
    window_days: Annotated[int | None, Field(ge=1, le=3650, description="Days of data")] = None
    window_lots: Annotated[int | None, Field(ge=1, le=100_000, description="Lots of data")] = None
    window_units: Annotated[int | None, Field(ge=1, le=1_000_000_000, description="Units of data")] = None
    # recurrence: the products or parts this criterion watches during the effectiveness window (besides the
    # record's own product and defect code); a nonconformity raised on one of them is recorded as a recurrence.
    products: list[ShortText] | None = Field(
        default=None, max_length=20, description="Products or parts watched during the window", examples=[["H-200"]]
    )


class PlanStep(Payload):
    """The action plan: one or more actions, each with its own owner and due time, and the effectiveness criteria
    the review will judge."""

    actions: list[PlannedAction] = Field(min_length=1, max_length=50, description="The actions, in order")
    criteria: list[Criterion] | None = Field(default=None, max_length=20, description="Effectiveness criteria")
    # QMS updates that gate closure
    affected_documents: list[ShortText] | None = Field(
        default=None, max_length=100, description="The QMS documents the plan affects; an empty list for none"
    )
    no_documents_justification: Annotated[
        Text | None, Field(description="Why no QMS document is affected, when the list is empty")
    ] = None


class PlanInput(PlanStep, StepInput):
    pass


class Rescope(Payload):
    """A planned action's new description."""

    action_id: Annotated[ActionId, Field(description="The action, e.g. A1", examples=["A1"])]
    description: Annotated[Text, Field(description="What is now to be done")]


class PlanAmendmentStep(Payload):
    """Change a submitted plan: add actions, re-scope open ones; quality approves it before verification."""

    add: list[PlannedAction] = Field(default_factory=list, max_length=50, description="Actions to add")
    rescope: list[Rescope] = Field(default_factory=list, max_length=50, description="Open actions re-scoped")
    reason: Reason


class PlanAmendmentInput(PlanAmendmentStep, StepInput):
    pass


class PlanDecisionStep(Payload):
    """Quality approves, or returns with a reason, the plan or amendment awaiting approval."""

    approve: Annotated[bool, Field(description="True approves, false returns it")]
    reason: Annotated[Text | None, Field(description="Why; required when returning it")] = None


class PlanDecisionInput(PlanDecisionStep, SignedInput):
    pass


class TriageStep(Payload):
    """Quality's triage: severity and occurrence on the policy's 1-5 scales give the risk class; the decision
    whether a full CAPA is needed; what must be reported. Taken again, it reclassifies the record."""

    severity_level: Annotated[int, Field(ge=1, le=5, description="Severity of the effect, 1 (least) to 5")]
    occurrence_level: Annotated[int, Field(ge=1, le=5, description="How often it occurs, 1 (isolated) to 5")]
    decision: Annotated[TriageDecision, Field(description="capa, or correction-only (closes after containment)")]
    rationale: Annotated[
        Text | None, Field(description="Why; required for correction-only and for a reclassification")
    ] = None
    customer_notification: Annotated[bool, Field(description="The customer must be notified")] = False
    regulatory_report: Annotated[bool, Field(description="A report to a regulator is required")] = False
    field_action: Annotated[bool, Field(description="A field action (recall, correction) is required")] = False


class TriageInput(TriageStep, SignedInput):
    pass


class ConcessionStep(Payload):
    """Quality's concession for product used as is or reworked."""

    justification: Annotated[Text, Field(description="Why the product may be used as is or reworked")]
    customer_approval: Annotated[
        ShortText | None, Field(description="The customer's approval reference, where the policy asks for it")
    ] = None


class ConcessionInput(ConcessionStep, SignedInput):
    pass


class AmendStep(Payload):
    """Quality corrects one fact of the record (a typo, a wrong lot); the entry keeps the old and new value."""

    field: Annotated[AmendableField, Field(description="The fact to correct")]
    value: Annotated[Text | None, Field(description="Its new value; none clears it")] = None
    reason: Reason


class AmendInput(AmendStep, SignedInput):
    pass


class LinkStep(Payload):
    """Relate this record to another (duplicate of, recurrence of, related, parent or child of)."""

    kind: Annotated[LinkKind, Field(description="How this record relates to the other")]
    record_id: Annotated[RecordId, Field(description="The other record", examples=["NC-2026-0001"])]
    reason: Annotated[Text | None, Field(description="Why, if not obvious")] = None


class LinkInput(LinkStep, StepInput):
    pass


class CompleteActionStep(Payload):
    """One action done, with its evidence."""

    action_id: Annotated[ActionId, Field(description="The action, e.g. A1", examples=["A1"])]
    evidence: Evidence
    # QMS updates that gate closure
    details: Annotated[
        QmsDetails | None, Field(description="References, revision, effective date or training completions recorded")
    ] = None


class CompleteActionInput(CompleteActionStep, StepInput):
    pass


class VerifyStep(Payload):
    """Verification by a manager who implemented none of the actions; ``fail`` sends the record back to action."""

    result: Annotated[VerificationResult, Field(description="Whether the actions were carried out as planned")]
    evidence: Evidence
    no_adverse_effect: Annotated[
        bool | None, Field(description="The actions do not adversely affect the ability to meet requirements")
    ] = None
    adverse_effect_evidence: Annotated[Text | None, Field(description="What shows there is no adverse effect")] = None
    criteria: list[Criterion] | None = Field(
        default=None, max_length=20, description="Effectiveness criteria, where the plan set none"
    )


class VerifyInput(VerifyStep, SignedInput):
    pass


class CriterionResult(Payload):
    """One effectiveness criterion judged at the review, with the data it was judged on."""

    criterion: Annotated[int, Field(ge=1, le=20, description="The criterion's number, from 1")]
    met: Annotated[bool, Field(description="Whether the threshold was met")]
    data: Annotated[Text, Field(description="The data: values, lots or units counted, over which period")]


class ReviewStep(Payload):
    """The effectiveness review, once the window has passed; ``not-effective`` reopens root cause,
    ``inconclusive`` extends the window once."""

    result: Annotated[EffectivenessResult, Field(description="Whether the actions worked")]
    evidence: Evidence
    criteria_results: list[CriterionResult] | None = Field(
        default=None, max_length=20, description="Each criterion met or not, with its data"
    )


class ReviewInput(ReviewStep, SignedInput):
    pass


class ExtensionRequestStep(Payload):
    """More time for the step (or, with ``action_id``, the action) the caller holds; a manager decides."""

    action_id: Annotated[ActionId | None, Field(description="For this action, not the stage", examples=["A1"])] = None
    until: Annotated[
        Due,
        Field(
            description="The new due time, with its time zone, or a date alone (the end of that day at the "
            "record's site); after the current due"
        ),
    ]
    reason: Reason


class ExtensionRequestInput(ExtensionRequestStep, StepInput):
    # The requester's reporting line (their manager, that one's manager, ...), as the client layer found it in
    # the directory: the managers who may decide the request.
    line: list[UserName] | None = None


class ExtensionDecisionStep(Payload):
    """Approve or reject a pending extension request (a manager of the requester's line, or quality)."""

    approve: Annotated[bool, Field(description="True approves, false rejects")]
    reason: Annotated[Text | None, Field(description="Why; required when rejecting")] = None
    action_id: Annotated[
        ActionId | None, Field(description="The request for this action, not the stage's", examples=["A1"])
    ] = None


class ExtensionDecisionInput(ExtensionDecisionStep, SignedInput):
    pass


class ReassignStep(Payload):
    """Give the record (or, with ``action_id``, one action) to someone else; its deadlines follow."""

    new_owner: Annotated[UserName, Field(description="The new owner", examples=["oscar"])]
    action_id: Annotated[ActionId | None, Field(description="Reassign this action, not the record")] = None
    reason: Reason


class ReassignInput(ReassignStep, StepInput):
    pass


class CancelStep(Payload):
    """Cancel an invalid record (quality, with a category); every timer stops."""

    reason: Reason
    category: Annotated[CancelCategory | None, Field(description="Why, in one word of the list")] = None
    duplicate_of: Annotated[
        RecordId | None, Field(description="The record this one duplicates", examples=["NC-2026-0001"])
    ] = None


class CancelInput(CancelStep, SignedInput):
    pass


# What an evidence file is attached to: a stage's step by its name, or an action by its id.
FILE_STEPS = ("containment", "root_cause", "verification", "review")
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class AttachFileStep(Payload):
    """An evidence file, already kept by the front end under its SHA-256, attached to a step or an action."""

    name: Annotated[ShortText, Field(description="The file's name, for display only", examples=["burr-photo.png"])]
    size: Annotated[int, Field(ge=1, description="Its size in bytes")]
    media_type: Annotated[ShortText, Field(description="Its type, as its content shows", examples=["image/png"])]
    sha256: Annotated[str, StringConstraints(pattern=SHA256_PATTERN), Field(description="SHA-256 of its content")]
    to: Annotated[
        ActionId,
        Field(description="containment, root_cause, verification, review or an action id", examples=["A1"]),
    ]


class AttachFileInput(AttachFileStep, StepInput):
    pass


class CommentStep(Payload):
    """A comment on an open record; ``@name`` mentions a person, who is told of it."""

    text: Annotated[
        Text, Field(description="The comment; @name mentions a person", examples=["@quinn the lot is on hold"])
    ]


class CommentInput(CommentStep, StepInput):
    # The people the text mentions, as the client layer found them in the directory (None: it named nobody).
    mentions: list[UserName] | None = None


class CommentEntry(CommentStep):
    """A comment's timeline entry: its text and the people it mentions (told of it with the record's watchers)."""

    mentions: list[str] = Field(default_factory=list)


# --- QMS updates that gate closure: training completions ---


class RecordTrainingStep(Payload):
    """People who completed a training action's course; verification waits until its threshold is met."""

    action_id: Annotated[ActionId, Field(description="The training action, e.g. A2", examples=["A2"])]
    people: list[UserName] = Field(min_length=1, max_length=500, description="Who completed the training")


class RecordTrainingInput(RecordTrainingStep, StepInput):
    pass


class TrainingEntry(RecordTrainingStep):
    """A training record's timeline entry: who was trained and the action's progress after it."""

    progress: str


# --- recurrence: a system step (a sentinel, or the effectiveness window that watches) ---


class RecurrenceSource(StrEnum):
    """What noticed that the problem came back."""

    SENTINEL = "sentinel"  # a recurrence rule of the policy fired for this record's key
    EFFECTIVENESS = "effectiveness"  # a matching nonconformity was raised during the record's effectiveness window


class RecurrenceStep(Payload):
    """New nonconformities that show the record's problem came back: what noticed them, the rule that did (a
    sentinel's), their record ids, and whether the record escalates one level or has its review brought forward."""

    source: Annotated[RecurrenceSource, Field(description="What noticed the recurrence")]
    rule: Annotated[ShortText | None, Field(description="The recurrence rule that fired (a sentinel's)")] = None
    record_ids: list[RecordId] = Field(min_length=1, max_length=50, description="The new nonconformities")
    escalate: bool = Field(default=False, description="Escalate the stage's deadline one level")
    # Who the escalation reaches, looked up in the directory by the caller (as alarms do).
    recipients: list[UserName] = Field(default_factory=list, max_length=50)
    bring_review_forward: bool = Field(
        default=False, description="End the effectiveness window now: the review falls due from now"
    )
    # The effectiveness criteria (numbers from 1) the new nonconformities bear on, as the window's watch found them
    # (None: the record's own product and defect code, so every criterion).
    criteria: list[Annotated[int, Field(ge=1, le=20)]] | None = None


class RecurrenceInput(RecurrenceStep):
    """The ``recurrence`` update: taken by the system, so it carries no actor."""


class RecurrenceEntry(RecurrenceStep):
    """A ``recurrence_detected`` entry: the step as given, with what the record did about it."""

    # The stage whose deadline escalated, and the level it reached (None: nothing escalated).
    target: str | None = None
    level: int | None = None
    # When the review falls due, when the recurrence brought it forward.
    review_due_at: datetime | None = None


# --- honest pauses: ask, decide, resume ---

WaitingOnName = Literal["supplier", "customer"]


class PauseRequestStep(Payload):
    """Stop the clock of the step (or, with ``action_id``, the action) the caller holds while a supplier or a
    customer answers; quality decides."""

    action_id: Annotated[ActionId | None, Field(description="For this action, not the stage", examples=["A1"])] = None
    waiting_on: Annotated[WaitingOnName, Field(description="Who the step waits on: supplier or customer")]
    expected_until: Annotated[
        Due, Field(description="When the answer is expected, with its time zone, or a date alone")
    ]
    reason: Reason


class PauseRequestInput(PauseRequestStep, StepInput):
    pass


class PauseDecisionStep(Payload):
    """Approve or decline a pending pause request (quality, signed)."""

    approve: Annotated[bool, Field(description="True approves, false declines")]
    reason: Annotated[Text | None, Field(description="Why; required when declining")] = None
    action_id: Annotated[
        ActionId | None, Field(description="The request for this action, not the stage's", examples=["A1"])
    ] = None


class PauseDecisionInput(PauseDecisionStep, SignedInput):
    pass


class ResumeStep(Payload):
    """Start a paused clock again with the time it had left (its holder, or quality)."""

    action_id: Annotated[ActionId | None, Field(description="Resume this action's clock", examples=["A1"])] = None
    reason: Annotated[Text | None, Field(description="Why, e.g. the supplier answered")] = None


class ResumeInput(ResumeStep, StepInput):
    pass


class PauseRequest(Payload):
    """A pause request awaiting quality's decision."""

    action_id: str | None = None
    # The stage it was asked in (the stage's own clock is a new one in the next stage).
    stage: str
    requested_by: str
    requested_at: datetime
    waiting_on: str
    expected_until: datetime
    reason: str


# --- honest pauses: timeline entries ---


class PauseRequestEntry(PauseRequestStep):
    target: str
    due_at: datetime


class PauseDecisionEntry(PauseDecisionStep):
    target: str
    requested_by: str
    waiting_on: str
    expected_until: datetime
    # The time the clock had left when it stopped (None: declined, or the step had ended).
    remaining: timedelta | None = None
    signature: Signature | None = None


class ResumeEntry(ResumeStep):
    target: str
    paused_at: datetime
    paused_for: timedelta
    due_at: datetime
    waiting_on: str | None = None


def step_of(step: type[_Step], inp: StepInput) -> _Step:
    """The fields ``inp`` submits for its step, without the actor (and a signed step's signature): what its
    timeline entry records, or what was signed."""
    return step.model_validate(inp.model_dump(exclude={"actor", "signature"}))


# --- the record's state --------------------------------------------------------------------------------------


class Clock(Payload):
    """A deadline held by one person, with the reminders and escalations it has fired so far."""

    holder: str
    due_at: datetime
    original_due_at: datetime
    armed_at: datetime
    # When the step's time began (the first ``armed_at``): a reclassification re-counts the window from here.
    started_at: datetime | None = None
    reminders_sent: int = 0
    escalation_level: int = 0
    extensions: int = 0
    # The alarm workflow that rings this clock's reminders and escalations (0: none started yet).
    alarm: int = 0
    # Honest pauses: when the clock stopped (None: running) and the time it had left then.
    paused_at: datetime | None = None
    remaining: timedelta | None = None
    # Honest pauses: what the paused clock waits on and until when, and whether ``remaining`` is working time.
    waiting_on: str | None = None
    expected_until: datetime | None = None
    remaining_working: bool = False


class Action(Payload):
    id: str
    cycle: int
    round: int
    kind: ActionKind
    owner: str
    description: str
    status: ActionStatus = ActionStatus.OPEN
    clock: Clock
    evidence: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    # Why it may fall due after the policy's latest date (quality approved the plan with it).
    late_due_reason: str | None = None
    # QMS updates that gate closure
    details: QmsDetails | None = None


class Concession(Payload):
    justification: str
    customer_approval: str | None = None
    by: str
    at: datetime
    signature: Signature | None = None


class Containment(Payload):
    summary: str
    disposition: Disposition | None
    quantity: int | None
    by: str
    at: datetime
    dispositions: list[DispositionShare] = Field(default_factory=list)
    no_product_affected: bool = False
    shipped: int | None = None
    customers_told: bool | None = None
    # Needed when product is used as is or reworked; set by quality's signed concession.
    concession: Concession | None = None

    def shares(self) -> list[DispositionShare]:
        if self.dispositions:
            return list(self.dispositions)
        if self.disposition is None:
            return []
        return [DispositionShare(disposition=self.disposition, quantity=self.quantity or 0)]

    @property
    def needs_concession(self) -> bool:
        return any(s.disposition in (Disposition.USE_AS_IS, Disposition.REWORK) for s in self.shares())

    def disposed(self) -> str:
        """``quarantine``, ``rework 80, scrap 40`` or ``no product affected``, as every front end says it."""
        if self.no_product_affected:
            return "no product affected"
        if self.dispositions:
            return ", ".join(f"{s.disposition.value} {s.quantity}" for s in self.dispositions)
        return self.disposition.value if self.disposition else "none"


class Triage(Payload):
    severity_level: int
    occurrence_level: int
    risk_class: Severity
    decision: TriageDecision
    rationale: str | None = None
    customer_notification: bool = False
    regulatory_report: bool = False
    field_action: bool = False
    by: str
    at: datetime
    signature: Signature | None = None


class PendingPlan(Payload):
    """A plan or amendment awaiting quality's approval: the actions it added and the descriptions it replaced."""

    what: str  # "plan" or "amendment"
    submitted_by: str
    submitted_at: datetime
    added: list[str] = Field(default_factory=list)
    previous: dict[str, str] = Field(default_factory=dict)


class Link(Payload):
    kind: LinkKind
    record_id: str
    by: str
    at: datetime


class RootCause(Payload):
    cycle: int
    method: RootCauseMethod
    cause: str
    whys: list[str]
    category: CauseCategory | None
    escape_point: str | None
    similar_checked: str | None
    by: str
    at: datetime
    non_detection_cause: str | None = None
    similar: list[str] = Field(default_factory=list)


class Verification(Payload):
    round: int
    result: VerificationResult
    evidence: str
    by: str
    at: datetime
    signature: Signature | None = None
    no_adverse_effect: bool | None = None
    adverse_effect_evidence: str | None = None


class Review(Payload):
    cycle: int
    result: EffectivenessResult
    evidence: str
    by: str
    at: datetime
    signature: Signature | None = None
    criteria_results: list[CriterionResult] = Field(default_factory=list)


class ExtensionRequest(Payload):
    action_id: str | None
    requested_by: str
    requested_at: datetime
    current_due_at: datetime
    until: datetime
    reason: str
    # Asked for after the due time it would move.
    late: bool = False
    # The requester's reporting line: the managers who may decide it (quality always may).
    line: list[str] = Field(default_factory=list)
    # Which extension of its step this would be (1 for the first).
    number: int = 1


class FileRef(Payload):
    """An evidence file on the record: what it is, what it is attached to, who attached it and when. The file is
    kept by its ``sha256`` and never removed."""

    name: str
    size: int
    media_type: str
    sha256: str
    to: str
    uploaded_by: str
    uploaded_at: datetime


class RetiredClock(Payload):
    """A clock a step ended or replaced while an escalation of it was already due: kept until that escalation has
    rung, so lateness a step overtook is still on the record."""

    target: str
    clock: Clock
    ended_at: datetime


# --- timeline entries: one typed payload per kind ---------------------------------------------------------------


# Under the current rules a stage's step records whether it was taken by its clock's original due (``on_time``);
# None under the earlier rules, whose entries stay as they were.


class ContainmentEntry(ContainmentStep):
    on_time: bool | None = None


class RootCauseEntry(RootCauseStep):
    cycle: int
    on_time: bool | None = None


class PlanEntry(PlanStep):
    # The id each planned action got, in the order of ``actions``.
    action_ids: list[str]
    # Whether quality must approve it before verification (None under the earlier rules).
    needs_approval: bool | None = None
    on_time: bool | None = None


class PlanAmendmentEntry(PlanAmendmentStep):
    action_ids: list[str] = Field(default_factory=list)
    previous: dict[str, str] = Field(default_factory=dict)


class PlanDecisionEntry(PlanDecisionStep):
    what: str
    action_ids: list[str] = Field(default_factory=list)
    signature: Signature | None = None


class TriageEntry(TriageStep):
    risk_class: Severity
    previous_class: Severity
    signature: Signature | None = None


class ConcessionEntry(ConcessionStep):
    signature: Signature | None = None


class AmendEntry(AmendStep):
    previous: str | None = None
    signature: Signature | None = None


class CompletionEntry(CompleteActionStep):
    on_time: bool


class VerifyEntry(VerifyStep):
    signature: Signature | None = None
    on_time: bool | None = None


class ReviewEntry(ReviewStep):
    signature: Signature | None = None
    on_time: bool | None = None


class ClosedEntry(Payload):
    cycles: int


class ExtensionRequestEntry(ExtensionRequestStep):
    target: str
    current_due_at: datetime
    # Under the current rules: asked for after the due time, and which extension of the step it is.
    late: bool | None = None
    number: int | None = None


class ExtensionDecisionEntry(ExtensionDecisionStep):
    target: str
    requested_by: str
    # The clock's due times after the decision; None when the step or action it was for has ended.
    original_due_at: datetime | None = None
    due_at: datetime | None = None
    signature: Signature | None = None

    @model_validator(mode="before")
    @classmethod
    def _earlier_name(cls, data: Any) -> Any:
        # Entries written before they were typed named the decision ``approved``.
        if isinstance(data, dict) and "approved" in data and "approve" not in data:
            return {("approve" if key == "approved" else key): value for key, value in data.items()}
        return data


class ReassignEntry(ReassignStep):
    target: str
    previous: str


class CancelEntry(CancelStep):
    stage: Stage
    signature: Signature | None = None


class EffectivenessDueEntry(Payload):
    review_due_at: datetime


class ReminderEntry(Payload):
    target: str
    holder: str
    due_at: datetime
    scheduled_at: datetime
    recipients: list[str]


class EscalationEntry(ReminderEntry):
    level: int
    late_by: str
    # The levels this one entry stands for, when several fell due together (an outage, a late worker).
    levels: list[int] | None = None
    # When the step that ended the clock was taken, for an escalation that step overtook.
    step_done_at: datetime | None = None


class ChainStartedEntry(Payload):
    """The entry that starts the hash chain of a record raised before timelines were chained: the chained hash
    of each entry before it (entry 1 chained to the genesis value, each next one to the one before), so those
    entries are sealed too."""

    sealed: list[str]


class EarlierEntry(BaseModel):
    """An entry written before entries were typed, in a shape no current model has: its fields as written."""

    model_config = ConfigDict(extra="allow")


# Procedure-version pinning.
class MoveProcedureStep(Payload):
    """Quality moves an open record to the CAPA procedure and policy in force: its running deadlines keep their
    dues, later ones follow the new policy. ``policy`` is the policy in force for the record's class, filled in by
    the client layer before the signature, so the signature covers what the record moves to."""

    reason: Reason
    policy: Annotated[PinnedPolicy | None, Field(description="The policy in force it moves to (filled in)")] = None


class MoveProcedureInput(MoveProcedureStep, SignedInput):
    pass


class ProcedureMovedEntry(Payload):
    reason: str
    from_procedure: Procedure | None = None
    to_procedure: Procedure | None = None
    from_policy: str | None = None
    to_policy: str
    from_digest: str | None = None
    to_digest: str
    signature: Signature | None = None


EntryDetails = (
    RaiseStep
    | ContainmentEntry
    | ContainmentStep
    | RootCauseEntry
    | PlanEntry
    | CompletionEntry
    | VerifyEntry
    | ReviewEntry
    | ClosedEntry
    | ExtensionRequestEntry
    | ExtensionDecisionEntry
    | ReassignEntry
    | CancelEntry
    | EffectivenessDueEntry
    | FileRef
    | ReminderEntry
    | EscalationEntry
    | ChainStartedEntry
    | TriageEntry
    | PlanAmendmentEntry
    | PlanDecisionEntry
    | ConcessionEntry
    | AmendEntry
    | LinkStep
    | CommentEntry
    # recurrence
    | RecurrenceEntry
    | ProcedureMovedEntry
    # QMS updates that gate closure
    | TrainingEntry
    # honest pauses
    | PauseRequestEntry
    | PauseDecisionEntry
    | ResumeEntry
    | EarlierEntry
)

ENTRY_OF_KIND: dict[EventKind, type[Payload]] = {
    EventKind.RAISED: RaiseStep,
    EventKind.CONTAINMENT_SUBMITTED: ContainmentEntry,
    EventKind.ROOT_CAUSE_SUBMITTED: RootCauseEntry,
    EventKind.PLAN_SUBMITTED: PlanEntry,
    EventKind.ACTION_COMPLETED: CompletionEntry,
    EventKind.VERIFIED: VerifyEntry,
    EventKind.EFFECTIVENESS_DUE: EffectivenessDueEntry,
    EventKind.EFFECTIVENESS_REVIEWED: ReviewEntry,
    EventKind.CLOSED: ClosedEntry,
    EventKind.REMINDER_SENT: ReminderEntry,
    EventKind.ESCALATED: EscalationEntry,
    EventKind.EXTENSION_REQUESTED: ExtensionRequestEntry,
    EventKind.EXTENSION_DECIDED: ExtensionDecisionEntry,
    EventKind.REASSIGNED: ReassignEntry,
    EventKind.CANCELLED: CancelEntry,
    EventKind.FILE_ATTACHED: FileRef,
    EventKind.CHAIN_STARTED: ChainStartedEntry,
    EventKind.TRIAGED: TriageEntry,
    EventKind.PLAN_AMENDED: PlanAmendmentEntry,
    EventKind.PLAN_DECIDED: PlanDecisionEntry,
    EventKind.CONCESSION_GRANTED: ConcessionEntry,
    EventKind.AMENDED: AmendEntry,
    EventKind.LINKED: LinkStep,
    EventKind.COMMENTED: CommentEntry,
    # recurrence
    EventKind.RECURRENCE_DETECTED: RecurrenceEntry,
    EventKind.PROCEDURE_MOVED: ProcedureMovedEntry,
    # QMS updates that gate closure
    EventKind.TRAINING_RECORDED: TrainingEntry,
    # honest pauses
    EventKind.PAUSE_REQUESTED: PauseRequestEntry,
    EventKind.PAUSE_DECIDED: PauseDecisionEntry,
    EventKind.RESUMED: ResumeEntry,
}


class Event(Payload):
    """One entry of the record's timeline; ``seq`` numbers them from 1 without gaps.

    ``details`` is the model of its ``kind`` (``ENTRY_OF_KIND``); an entry an earlier release wrote in another
    shape is kept as written (``EarlierEntry``), so nothing on a record is lost or rewritten.
    """

    seq: int
    at: datetime
    kind: EventKind
    actor: str
    details: EntryDetails
    # SHA-256 (hex) of the entry's canonical content chained to the previous entry's hash (``models.chain``);
    # None on entries appended before the record's chain started.
    hash: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_details(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = data.get("details")
        if isinstance(given, BaseModel) and "kind" in data:
            # A step's own model where its entry's model extends it (``VerifyStep`` for ``VerifyEntry``).
            entry = ENTRY_OF_KIND[EventKind(data["kind"])]
            if isinstance(given, entry) or not issubclass(entry, type(given)):
                return data
            return {**data, "details": entry.model_validate(given.model_dump())}
        if not isinstance(given, dict):
            return data
        entry = ENTRY_OF_KIND[EventKind(data["kind"])]
        try:
            details: BaseModel = entry.model_validate(data["details"])
        except ValidationError:
            details = EarlierEntry.model_validate(data["details"])
        return {**data, "details": details}

    @model_validator(mode="after")
    def _details_of_kind(self) -> "Event":
        if not isinstance(self.details, ENTRY_OF_KIND[self.kind] | EarlierEntry):
            raise ValueError(f"details: a {self.kind.value} entry needs {ENTRY_OF_KIND[self.kind].__name__}")
        return self

    def shown(self) -> dict[str, Any]:
        """The entry's fields that are set and not empty, as people read them: typed values (times as datetimes),
        a plan's actions each with its id, and no signature (its sentence says it)."""
        # A signature reads as its manifestation, in the entry's sentence (``models.sentences``).
        dumped: dict[str, Any] = self.details.model_dump(exclude_none=True, exclude={"signature"})
        if isinstance(self.details, PlanEntry):
            ids = dumped.pop("action_ids")
            dumped["actions"] = [{"id": i, **action} for i, action in zip(ids, dumped["actions"], strict=True)]
        return {key: value for key, value in dumped.items() if value not in ("", [], {})}

    def facts(self) -> dict[str, Any]:
        """The entry's fields that are set, as JSON values: what the timeline shows and the read model keeps."""
        facts: dict[str, Any] = self.details.model_dump(mode="json", exclude_none=True)
        return facts


class CapaState(Payload):
    id: str
    title: str
    description: str
    severity: Severity
    source: Source
    product: str | None
    lot: str | None
    quantity: int | None
    raised_by: str
    raised_at: datetime
    owner: str
    policy: PinnedPolicy | None = None
    stage: Stage = Stage.CONTAINMENT
    cycle: int = 1
    round: int = 1
    awaiting_plan: bool = True
    clock: Clock | None = None
    effectiveness_due_at: datetime | None = None
    containment: Containment | None = None
    root_causes: list[RootCause] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    verifications: list[Verification] = Field(default_factory=list)
    reviews: list[Review] = Field(default_factory=list)
    pending_extension: ExtensionRequest | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    events: list[Event] = Field(default_factory=list)
    # How many alarm workflows the record has started; each clock names the one that rings it.
    alarms_started: int = 0
    effectiveness_alarm: int = 0
    retired_clocks: dict[int, RetiredClock] = Field(default_factory=dict)
    # Evidence files, in the order they were attached.
    files: list[FileRef] = Field(default_factory=list)
    # The hash of the timeline's last entry (``Event.hash``); None until the record's chain starts.
    chain_head: str | None = None
    # --- under the current process rules (``policy.process`` set) ---
    defect_code: str | None = None
    supplier: str | None = None
    customer: str | None = None
    # The class given at the raise, kept once triage has classified the record (``severity`` is then triage's).
    provisional_severity: Severity | None = None
    triage: Triage | None = None
    # Extension requests awaiting a decision, one per step or action (``pending_extension`` under earlier rules).
    pending_extensions: list[ExtensionRequest] = Field(default_factory=list)
    pending_plan: PendingPlan | None = None
    # The effectiveness criteria of the current cycle.
    criteria: list[Criterion] = Field(default_factory=list)
    # Whether an inconclusive review has extended this cycle's window (once only).
    window_extended: bool = False
    links: list[Link] = Field(default_factory=list)
    cancel_category: CancelCategory | None = None
    # The site it belongs to, whose zone a date-alone due is read in; None on records raised before sites (they
    # belong to the default site).
    site: str | None = None
    # working-day calendars: the site's calendar pinned at the raise; None = every window in calendar time.
    calendar: WorkCalendar | None = None
    # QMS updates that gate closure: the plan's affected QMS documents (None: not stated; empty: none, justified).
    affected_documents: list[str] | None = None
    no_documents_justification: str | None = None
    # Honest pauses: pause requests awaiting quality's decision, one per step or action.
    pending_pauses: list[PauseRequest] = Field(default_factory=list)

    def action(self, action_id: str) -> Action | None:
        return next((a for a in self.actions if a.id == action_id), None)

    def procedure_line(self) -> str:
        """``raised under SOP-QA-014 rev C, policy 2026-11``; once quality has moved the record, also what it was
        moved to and when (the policy's digest beside its name, which a new revision of one file keeps)."""
        if self.policy is None:
            return "procedure not recorded"
        moves = [e for e in self.events if isinstance(e.details, ProcedureMovedEntry)]
        if not moves:
            return self.policy.raised_under()
        first = moves[0].details
        assert isinstance(first, ProcedureMovedEntry)
        raised = first.from_procedure.label() if first.from_procedure is not None else "procedure not recorded"
        before = f"{first.from_policy} ({first.from_digest})" if first.from_digest else first.from_policy or "(none)"
        now = self.policy.procedure.label() if self.policy.procedure is not None else "procedure not recorded"
        return (
            f"raised under {raised}, policy {before}; moved to {now}, policy {self.policy.name}"
            f" ({self.policy.digest}) on {moves[-1].at:%Y-%m-%d}"
        )

    @property
    def under_current_rules(self) -> bool:
        """Raised under the current process rules (quality, triage, ...), not the earlier ones."""
        return self.policy is not None and self.policy.process is not None

    def pending_request(self, action_id: str | None) -> ExtensionRequest | None:
        """The extension request awaiting a decision for the step (``action_id`` None) or an action."""
        if self.pending_extension is not None:
            return self.pending_extension if self.pending_extension.action_id == action_id else None
        return next((r for r in self.pending_extensions if r.action_id == action_id), None)

    def current_actions(self) -> list[Action]:
        """The actions of the plan now being worked (a failed verification starts a new round)."""
        return [a for a in self.actions if a.cycle == self.cycle and a.round == self.round]

    def open_clocks(self) -> list[tuple[str | None, Clock]]:
        """Every running deadline: the stage's own (action id None) and each open action's."""
        clocks: list[tuple[str | None, Clock]] = []
        if self.clock is not None:
            clocks.append((None, self.clock))
        clocks.extend((a.id, a.clock) for a in self.actions if a.status is ActionStatus.OPEN)
        return clocks

    def files_of(self, to: str) -> list[FileRef]:
        """The files attached to a step (``containment``, ...) or an action (its id)."""
        return [f for f in self.files if f.to == to]

    def clock_for(self, action_id: str | None) -> Clock | None:
        if action_id is None:
            return self.clock
        action = self.action(action_id)
        return action.clock if action is not None and action.status is ActionStatus.OPEN else None

    @property
    def due_at(self) -> datetime | None:
        dues = [clock.due_at for _, clock in self.open_clocks()]
        return min(dues) if dues else self.effectiveness_due_at

    @property
    def escalation_level(self) -> int:
        return max((clock.escalation_level for _, clock in self.open_clocks()), default=0)


class CapaWorkflowInput(Payload):
    raised: RaiseInput
    # Set when the workflow continues as new: the state carried over from the previous run.
    carried_state: CapaState | None = None
    synced_seq: int = 0
    # Continue as new past this many history events even if the server has not suggested it yet.
    max_history_events: int = Field(default=20_000, ge=100)


class StepTaken(Payload):
    """An accepted step: the record's stage afterwards, the number of the last timeline entry it wrote and the
    next due time."""

    record_id: str
    stage: Stage
    seq: int
    due_at: datetime | None


class StepResult(StepTaken):
    """What an accepted step returns from its record.

    ``change`` (or, for a run's first step, the whole ``snapshot``) is what the read model needs to show the
    step: the client layer writes it before answering, so a list read right after a step shows it (the step's
    own ``settle_step`` writes the same and is the durable path).
    """

    snapshot: "RecordSnapshot | None" = None
    change: "RecordChange | None" = None

    def outcome(self) -> "StepOutcome":
        """What the person who took the step is told: the step, with the timeline entries it wrote."""
        written = self.change.new_events if self.change else self.snapshot.new_events if self.snapshot else []
        return StepOutcome(
            record_id=self.record_id, stage=self.stage, seq=self.seq, due_at=self.due_at, entries=written
        )


class StepOutcome(StepTaken):
    """What a front end shows of an accepted step: the step, and the timeline entries it wrote (a review that
    closes the record writes two), the last of them numbered ``seq``."""

    entries: list[Event] = Field(default_factory=list)


# The ids of this many recent steps travel across a continue-as-new (``RecordInput.recent_updates``), so a
# retried step is not applied twice.
RECENT_UPDATES = 200


class RecordInput(Payload):
    """A record's workflow input: the raise with the policy pinned by the client layer, or a run carried over."""

    raised: RaiseInput
    policy: PinnedPolicy
    carried_state: CapaState | None = None
    # The ids of the last steps accepted, so a client retrying a step after a continue-as-new is refused.
    recent_updates: list[str] = Field(default_factory=list)
    max_history_events: int = Field(default=20_000, ge=100)
    # working-day calendars: the site's calendar pinned at the raise (None: every window in calendar time).
    calendar: WorkCalendar | None = None


# --- alarms --------------------------------------------------------------------------------------------------


class AlarmKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"
    EFFECTIVENESS_DUE = "effectiveness_due"


class PlannedAlarm(Payload):
    """One instant an alarm workflow rings its record: a reminder (``index`` counts them from 1), an escalation
    at ``level``, or the end of the effectiveness window."""

    at: datetime
    kind: AlarmKind
    index: int = 0
    level: int = 0


class AlarmSchedule(Payload):
    """An alarm workflow's input: every instant it rings one clock of a record, earliest first."""

    record_id: str
    alarm: int
    target: str | None = None
    holder: str | None = None
    alarms: list[PlannedAlarm]
    # Started when its first alarm falls due (Temporal's start delay), so it rings that one without a timer.
    at_first_alarm: bool = False


class AlarmInput(Payload):
    """The ``alarm`` update: one alarm of a clock fell due (several, when a worker got there late: ``covers``)."""

    alarm: int
    kind: AlarmKind
    index: int = 0
    level: int = 0
    scheduled_at: datetime
    covers: list[int] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    # Who each escalation level reaches, so levels that already rang are not told again.
    by_level: dict[int, list[str]] = Field(default_factory=dict)


class ArmAlarmsInput(Payload):
    """Start an alarm workflow per schedule."""

    record_id: str
    start: list[AlarmSchedule] = Field(default_factory=list)


class RingResult(Payload):
    """How many of the pending alarms one ring applied, and whether the clock is gone (the workflow stops)."""

    rung: int
    stale: bool = False


# --- activities ----------------------------------------------------------------------------------------------


class RecordSnapshot(Payload):
    """The read model's view of one record: its current state and the timeline entries it has not yet seen."""

    state: CapaState
    new_events: list[Event]

    @classmethod
    def of(cls, state: CapaState, first: int = 0) -> Self:
        """The whole record, with its timeline entries from position ``first`` on as the ones not yet seen."""
        return cls(state=state.model_copy(update={"events": []}), new_events=state.events[first:])


class RecordChange(Payload):
    """What one step changed in a record, for the read model: the state's fields that changed (as JSON values,
    without its actions and entries), the actions it added or changed, and its new timeline entries.

    It applies on the stored row only once that row reflects the record's first ``after`` entries; a change
    whose predecessor is not yet stored waits for it.
    """

    record_id: str
    after: int
    fields: dict[str, Any] = Field(default_factory=dict)
    actions: list[Action] = Field(default_factory=list)
    new_events: list[Event] = Field(min_length=1)

    @property
    def last_seq(self) -> int:
        return self.new_events[-1].seq


class StepEffects(Payload):
    """Everything one step of a record sets going outside it, handed to one ``settle_step`` activity: what
    the read model needs (the step's ``change``, or the whole ``snapshot`` for a run's first step), the
    reminders and escalations to send, and the alarm workflows to start and to stop (numbers of clocks the step
    ended; their alarms would only be refused as stale)."""

    record_id: str
    snapshot: RecordSnapshot | None = None
    change: RecordChange | None = None
    notices: list["Notice"] = Field(default_factory=list)
    # Set by records whose steps decide their own notices (in ``notices``); a step scheduled by an earlier
    # release leaves them to the activity.
    notices_decided: bool = False
    start: list[AlarmSchedule] = Field(default_factory=list)
    stop: list[int] = Field(default_factory=list)


class RecipientsInput(Payload):
    holder: str
    level: int


class Notice(Payload):
    """One notice to put in the outbox, keyed by record and timeline sequence: to ``recipients`` by name, and to
    the managers of ``managers_of``, whom the outbox finds in the directory when it queues the notice."""

    record_id: str
    seq: int
    kind: EventKind
    recipients: list[str]
    subject: str
    body: str
    managers_of: list[str] = Field(default_factory=list)
    # Every active person with one of these roles receives it too (``quality``: any of them may act).
    roles: list[Role] = Field(default_factory=list)
    # Who took the step (None: the system): the outbox tells the record's watchers, but not them of their own step.
    actor: str | None = None
    # Only for the record's watchers: a step nobody else must hear of at once (a containment, a completed action,
    # a verification...); no webhook gets it, and with no watchers it goes nowhere.
    watchers_only: bool = False


StepResult.model_rebuild()
StepEffects.model_rebuild()
