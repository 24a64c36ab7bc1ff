"""The JSON API's request bodies and responses.

Request bodies forbid unknown fields, so a body naming an actor (``actor``, ``raised_by``) is refused rather than
silently ignored: who acts is always the bearer token's user. Responses never carry a password hash, a token's
hash or its secret (except the one response that makes a token). Field constraints repeat the workflow payloads'
(``models.payloads``) so the OpenAPI document tells a client what the workflow will accept; the workflow still
validates everything itself.
"""

from datetime import datetime
from typing import Annotated, Generic, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.readmodel import OverdueItem
from models.enums import (
    ActionKind,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    Role,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    VerificationResult,
)
from models.payloads import ShortText, Text, UserName
from models.tables import ApiToken, Nonconformity, OutboxMessage, User

T = TypeVar("T")

# Path parameters: junk is refused (422) before anything is asked of Temporal or the database.
ACTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"
USER_NAME_PATTERN = r"^[A-Za-z0-9._@-]{1,64}$"

Quantity = Annotated[int, Field(ge=0, le=1_000_000_000, description="How many pieces", examples=[120])]
Evidence = Annotated[
    Text, Field(description="What shows it was done: a document, a measurement, a link", examples=["WO-5531"])
]
Reason = Annotated[Text, Field(description="Why; kept in the record's timeline")]


class Body(BaseModel):
    """A request body: unknown fields are refused, so no field can name someone other than the caller."""

    model_config = ConfigDict(extra="forbid")


# --- pages ----------------------------------------------------------------------------------------------------


class Page(BaseModel, Generic[T]):
    """One page of a list: ``total`` counts every match, ``items`` those from ``offset``, at most ``limit``."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)


# --- records --------------------------------------------------------------------------------------------------


class RaiseRequest(Body):
    """A new nonconformity; whoever the token belongs to raises it."""

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
    quantity: Quantity | None = None


class Raised(BaseModel):
    """The new record's id; ``GET /api/v1/records/{id}`` shows it."""

    id: str = Field(examples=["NC-2026-0001"])


class RecordSummary(BaseModel):
    """One record as lists show it: where it stands, who holds it, when it is due."""

    id: str
    title: str
    severity: Severity
    source: Source
    product: str | None
    lot: str | None
    quantity: int | None
    owner: str
    raised_by: str
    raised_at: datetime
    stage: Stage
    cycle: int
    due_at: datetime | None = Field(description="The earliest due time of any running deadline")
    escalation_level: int
    holder: str | None = Field(description="Who holds the stage's own deadline; null while only actions run")
    effectiveness_due_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, row: Nonconformity) -> Self:
        return cls.model_validate(row.model_dump(exclude={"state_json", "description"}))


class DeadlineItem(BaseModel):
    """A running deadline: a record's own stage step (``target`` "stage") or one of its actions (the action id)."""

    record_id: str
    stage: Stage
    severity: Severity
    target: str = Field(examples=["stage", "A1"])
    holder: str
    due_at: datetime
    late_by_seconds: int = Field(description="Positive once late; negative while not yet due")
    escalation_level: int

    @classmethod
    def of(cls, item: OverdueItem) -> Self:
        return cls(
            record_id=item.record_id,
            stage=item.stage,
            severity=item.severity,
            target=item.target,
            holder=item.holder,
            due_at=item.due_at,
            late_by_seconds=int(item.late_by.total_seconds()),
            escalation_level=item.escalation_level,
        )


# --- steps ----------------------------------------------------------------------------------------------------


class ContainmentRequest(Body):
    """Containment (ISO 9001 10.2.1 a): what was done to control the nonconforming product."""

    summary: Annotated[Text, Field(examples=["Lot L-4711 quarantined, 120 pcs"])]
    disposition: Disposition
    quantity: Quantity | None = None


class RootCauseRequest(Body):
    """Root cause (ISO 9001 10.2.1 b); five-whys needs the why-chain."""

    method: RootCauseMethod
    cause: Annotated[Text, Field(description="The root-cause statement")]
    whys: Annotated[
        list[Text], Field(max_length=20, description="The why-chain, in order", examples=[["Burr", "Tool worn"]])
    ] = []
    category: Annotated[CauseCategory | None, Field(description="The 6M category")] = None
    escape_point: Annotated[ShortText | None, Field(description="Where it should have been caught")] = None
    similar_checked: Annotated[Text | None, Field(description="Similar cases checked (10.2.1 b3)")] = None


class PlannedActionRequest(Body):
    owner: Annotated[UserName, Field(description="Who carries out the action", examples=["oscar"])]
    due_at: Annotated[AwareDatetime, Field(description="When it is due, with its time zone; in the future")]
    description: Annotated[Text, Field(examples=["Replace deburring tool"])]
    kind: ActionKind = ActionKind.CORRECTIVE


class PlanRequest(Body):
    """The action plan: one or more actions, each with its own owner and due time."""

    actions: Annotated[list[PlannedActionRequest], Field(min_length=1, max_length=50)]


class CompletionRequest(Body):
    evidence: Evidence


class VerificationRequest(Body):
    """Verification by a manager who implemented none of the actions; ``fail`` sends the record back to action."""

    result: VerificationResult
    evidence: Evidence


class ReviewRequest(Body):
    """The effectiveness review, once the window has passed; ``not-effective`` reopens root cause."""

    result: EffectivenessResult
    evidence: Evidence


class ExtensionRequestBody(Body):
    """More time for the step (or, with ``action_id``, the action) the caller holds; a manager decides."""

    until: Annotated[AwareDatetime, Field(description="The new due time, with its time zone; after the current due")]
    reason: Reason
    action_id: Annotated[ShortText | None, Field(description="For this action, not the stage", examples=["A1"])] = None


class ExtensionDecisionRequest(Body):
    """Approve or reject the pending extension request (a manager other than the requester)."""

    approve: bool
    reason: Annotated[Text | None, Field(description="Why; required when rejecting")] = None


class ReassignmentRequest(Body):
    """Give the record (or, with ``action_id``, one action) to someone else; its deadlines follow."""

    owner: Annotated[UserName, Field(description="The new owner", examples=["oscar"])]
    reason: Reason
    action_id: Annotated[ShortText | None, Field(description="Reassign this action, not the record")] = None


class CancellationRequest(Body):
    """Cancel an invalid record (managers); every timer stops."""

    reason: Reason


# --- people ---------------------------------------------------------------------------------------------------


class UserPublic(BaseModel):
    """A person in the directory; never their password or its hash."""

    name: str
    role: Role
    manager: str | None
    email: str | None = Field(description="Shown to managers, admins and the person themself; else null")
    active: bool
    can_sign_in: bool = Field(description="Whether a password is set")
    created_at: datetime

    @classmethod
    def of(cls, user: User, *, show_email: bool = True) -> Self:
        return cls(
            name=user.name,
            role=Role(user.role),
            manager=user.manager,
            email=user.email if show_email else None,
            active=user.active,
            can_sign_in=user.password_hash is not None,
            created_at=user.created_at,
        )


class UserCreate(Body):
    name: Annotated[UserName, Field(description="Login name: letters, digits and . _ @ -", examples=["paula"])]
    role: Role
    manager: Annotated[UserName | None, Field(description="Who escalations about their steps go to")] = None
    email: Annotated[ShortText | None, Field(description="Where their notifications go")] = None


class PasswordChange(Body):
    """A new sign-in password; someone changing their own (not an admin) also gives the current one."""

    password: Annotated[str, Field(min_length=1, max_length=256, description="At least 10 characters")]
    current_password: Annotated[str | None, Field(max_length=256)] = None


class NotificationPreferenceUpdate(Body):
    email: Annotated[bool, Field(description="Send this kind of notification by e-mail (the log keeps every one)")]


class NotificationPreference(BaseModel):
    user: str
    kind: str
    email: bool


# --- tokens ---------------------------------------------------------------------------------------------------


class TokenPublic(BaseModel):
    """An API token as lists show it: its prefix tells it apart; the secret is never shown again."""

    id: int
    user_name: str
    label: str
    prefix: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> Self:
        return cls.model_validate(token.model_dump(exclude={"secret_hash"}))


class TokenCreate(Body):
    user: Annotated[UserName, Field(description="The user the token acts as", examples=["mes-line3"])]
    label: Annotated[str, Field(min_length=1, max_length=80, description="What it is for", examples=["MES line 3"])]


class TokenCreated(TokenPublic):
    secret: str = Field(description="Send as `Authorization: Bearer <secret>`; shown this once, only its hash is kept")


# --- notifications --------------------------------------------------------------------------------------------


class NotificationPublic(BaseModel):
    """One outbox row: a reminder, escalation or digest for one recipient on one channel."""

    id: int
    record_id: str
    seq: int
    recipient: str
    channel: str
    kind: str
    subject: str
    body: str
    status: str = Field(examples=["sent", "pending", "failed"])
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> Self:
        return cls.model_validate(row.model_dump(exclude={"address", "link", "details"}))


class DigestSent(BaseModel):
    """Who was sent today's overdue digest by this run, and who already had it."""

    workflow_id: str
    day: str
    recipients: dict[str, int]
    already_sent: dict[str, int]


class Retried(BaseModel):
    id: int
    retried: bool = True
