"""The JSON API's request bodies and responses.

Request bodies forbid unknown fields, so a body naming an actor (``actor``, ``raised_by``) is refused rather than
silently ignored: who acts is always the bearer token's user. Responses never carry a password hash, a token's
hash or its secret (except the one response that makes a token). A step's body is the step's own model
(``models.payloads``), so the OpenAPI document tells a client exactly what the workflow will accept; the workflow
still judges everything itself.
"""

import json
from datetime import date, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from client.work import WorkItem
from core.readmodel import OverdueItem
from core.search import SearchHit
from models.calendars import WorkCalendar
from models.enums import Role, Severity, Source, Stage
from models.payloads import (
    AmendStep,
    CancelStep,
    CommentStep,
    ConcessionStep,
    ContainmentStep,
    Criterion,
    CriterionResult,
    DispositionShare,
    Evidence,
    ExtensionDecisionStep,
    ExtensionRequestStep,
    LinkRef,
    LinkStep,
    PauseDecisionStep,
    PauseRequestStep,
    PlanAmendmentStep,
    PlanDecisionStep,
    PlannedAction,
    PlanStep,
    RaiseStep,
    ReassignStep,
    Rescope,
    ResumeStep,
    ReviewStep,
    RootCauseStep,
    ShortText,
    TriageStep,
    UserName,
    VerifyStep,
)
from models.qms import QmsDetails
from models.rules import Step
from models.tables import ApiToken, Nonconformity, OutboxMessage, Site, User

T = TypeVar("T")

# Path parameters: junk is refused (422) before anything is asked of Temporal or the database.


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


class LinkRefRequest(LinkRef, Body):
    """Another record this one relates to."""


class RaiseRequest(RaiseStep, Body):
    """A new nonconformity; whoever the token belongs to raises it. Under the current process rules the defect
    code comes from the policy's list (``GET /api/v1/process``), a supplier finding names the supplier and a
    customer complaint the customer."""

    links: list[LinkRefRequest] | None = Field(default=None, max_length=20)  # type: ignore[assignment]


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


class SimilarRecords(BaseModel):
    """Earlier records sharing words with the query, best match first (at most ``limit``)."""

    items: list[SearchHit]


class DeadlineItem(BaseModel):
    """A running deadline: a record's own stage step (``target`` "stage") or one of its actions (the action id)."""

    record_id: str
    title: str = Field(description="The record's title")
    stage: Stage
    severity: Severity
    target: str = Field(examples=["stage", "A1"])
    holder: str
    due_at: datetime = Field(description="The original due: lateness counts from it, whatever was extended")
    late_by_seconds: int = Field(description="Positive once late; negative while not yet due")
    escalation_level: int
    revised_due_at: datetime | None = Field(default=None, description="The due after approved extensions, if any")
    # Honest pauses.
    paused: str | None = Field(
        default=None, description="While the deadline is paused: what it waits on and until when (it is not late)"
    )

    @classmethod
    def of(cls, item: OverdueItem) -> Self:
        return cls(
            record_id=item.record_id,
            title=item.title,
            stage=item.stage,
            severity=item.severity,
            target=item.target,
            holder=item.holder,
            due_at=item.due_at,
            late_by_seconds=int(item.late_by.total_seconds()),
            escalation_level=item.escalation_level,
            revised_due_at=item.revised_due_at,
            paused=item.paused,
        )


class MyWorkItem(BaseModel):
    """A step waiting for the caller: the deadline fields of ``/overdue`` (``target`` "stage" or the action id,
    ``holder`` the deadline's holder), and which step it is, as a to-do list says it."""

    record_id: str
    title: str
    stage: Stage
    severity: Severity
    step: Step = Field(examples=["verify"])
    action_id: str | None = Field(default=None, description="The action to complete, or whose extension to decide")
    label: str = Field(examples=["Verify", "Decide the extension of A2"])
    target: str = Field(examples=["stage", "A1"])
    holder: str = Field(description="Who holds the deadline the step counts against")
    due_at: datetime | None = Field(
        description="The original due: lateness counts from it, whatever was extended; null when no deadline runs"
    )
    late_by_seconds: int | None = Field(description="Positive once late; negative while not yet due")
    escalation_level: int
    revised_due_at: datetime | None = Field(default=None, description="The due after approved extensions, if any")
    # Honest pauses.
    paused: str | None = Field(
        default=None, description="While the deadline is paused: what it waits on and until when (it is not late)"
    )

    @classmethod
    def of(cls, item: WorkItem) -> Self:
        return cls(
            record_id=item.record_id,
            title=item.title,
            stage=item.stage,
            severity=item.severity,
            step=item.step,
            action_id=item.action_id,
            label=item.label,
            target=item.target,
            holder=item.holder,
            due_at=item.due_at,
            late_by_seconds=int(item.late_by.total_seconds()) if item.late_by is not None else None,
            escalation_level=item.escalation_level,
            revised_due_at=item.revised_due_at,
            paused=item.paused,
        )


# --- steps: each the step's own model (``models.payloads``), refusing unknown fields --------------------------


class DispositionShareRequest(DispositionShare, Body):
    """How many pieces get one disposition."""


class ContainmentRequest(ContainmentStep, Body):
    """Containment (ISO 9001 10.2.1 a): what was done to control the nonconforming product: one disposition, or
    the product split across several (``dispositions``), or, for a finding without product (an audit),
    ``no_product_affected``."""

    dispositions: list[DispositionShareRequest] | None = Field(default=None, max_length=10)  # type: ignore[assignment]


class RootCauseRequest(RootCauseStep, Body):
    """Root cause (ISO 9001 10.2.1 b); five-whys needs the why-chain."""


class PlannedActionRequest(PlannedAction, Body):
    """One action of the plan, with its own owner and due time."""


class CriterionRequest(Criterion, Body):
    """An effectiveness criterion set in advance."""


class PlanRequest(PlanStep, Body):
    """The action plan: one or more actions, each with its own owner and due time, and the effectiveness
    criteria the review will judge. Quality approves it where the policy asks, and any with a late due."""

    # Each action refuses unknown fields too; a PlannedActionRequest is a PlannedAction, so the plan is a PlanStep.
    actions: list[PlannedActionRequest] = Field(min_length=1, max_length=50)  # type: ignore[assignment]
    criteria: list[CriterionRequest] | None = Field(default=None, max_length=20)  # type: ignore[assignment]


class RescopeRequest(Rescope, Body):
    """An open action's new scope."""


class PlanAmendmentRequest(PlanAmendmentStep, Body):
    """Add actions to a submitted plan or re-scope open ones (the record's owner or a manager); quality approves
    the amendment before verification."""

    add: list[PlannedActionRequest] = Field(default_factory=list, max_length=50)  # type: ignore[assignment]
    rescope: list[RescopeRequest] = Field(default_factory=list, max_length=50)  # type: ignore[assignment]


class CompletionRequest(Body):
    """The evidence that the action (named in the path) was done."""

    evidence: Evidence
    # QMS updates that gate closure
    details: QmsDetails | None = Field(
        default=None, description="A QMS update action's references, revision, effective date recorded"
    )


# A signed step's body carries the signer's password, re-entered at the moment of signing (21 CFR 11.200): the
# bearer token says who calls, the password that this person signs now. It is checked and goes no further.
SigningPassword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        description="Your password, re-entered to sign this step (the token alone never signs): checked, then "
        "dropped; never stored, logged or sent to the record, which keeps the signature",
        json_schema_extra={"format": "password", "writeOnly": True},
    ),
]


class SignedBody(Body):
    """A signed step's body: the step's fields and the signer's password."""

    password: SigningPassword


class VerificationRequest(VerifyStep, SignedBody):
    """Verification by someone independent (a manager or quality; not the owner, not an implementer); ``fail``
    sends the record back to action. A pass records no adverse effect with its evidence, and the criteria where
    the plan set none. Signed: "verified: actions implemented" or "verification failed: actions not implemented
    as planned"."""

    criteria: list[CriterionRequest] | None = Field(default=None, max_length=20)  # type: ignore[assignment]


class CriterionResultRequest(CriterionResult, Body):
    """One criterion judged, with its data."""


class ReviewRequest(ReviewStep, SignedBody):
    """The effectiveness review by quality, once the window has passed, judging every criterion; ``effective``
    closes the record, ``inconclusive`` extends the window once, ``not-effective`` reopens root cause. Signed:
    "approved: effective, record closed", "reviewed: inconclusive, window extended once" or "reviewed: not
    effective, root cause reopened"."""

    criteria_results: list[CriterionResultRequest] | None = Field(default=None, max_length=20)  # type: ignore[assignment]


class TriageRequest(TriageStep, SignedBody):
    """Quality's triage: severity and occurrence levels (1-5) give the risk class by the policy's matrix; the
    decision (``capa``, or ``correction-only`` with its rationale); what must be reported. Taken again, it
    reclassifies the record (with a rationale). Signed: "approved: triaged, CAPA required" or "approved:
    triaged, correction only"."""


class PlanDecisionRequest(PlanDecisionStep, SignedBody):
    """Quality approves, or returns with a reason, the plan or amendment awaiting approval (not the record's
    owner). Signed: "approved: action plan" or "rejected: action plan returned"."""


class ConcessionRequest(ConcessionStep, SignedBody):
    """Quality's concession for product used as is or reworked (with the customer's approval reference where
    the policy asks). Signed: "approved: concession granted"."""


class AmendmentRequest(AmendStep, SignedBody):
    """Quality corrects one fact of the record, open or closed; the entry keeps the old and the new value.
    Signed: "approved: record corrected"."""


class LinkRequest(LinkStep, Body):
    """Relate this record to another (its owner, a manager or quality); both records show the link."""


class LinkedRecordView(BaseModel):
    """A link as this record reads it: ``duplicate-of`` on the duplicate, ``duplicated-by`` on the other."""

    kind: str
    record_id: str
    title: str | None = None
    stage: str | None = None
    by: str
    at: datetime


class Links(BaseModel):
    links: list[LinkedRecordView]


class Duty(BaseModel):
    step: str
    who: str
    signed: bool
    independence: str


class ProcessView(BaseModel):
    """The process rules new records are raised under: who does what, the triage matrix and its wording, the
    defect codes. ``rules`` is "earlier" (and the rest empty) where the policy keeps the earlier rules."""

    rules: str
    who_does_what: list[Duty]
    severity_levels: dict[int, str] = Field(default_factory=dict)
    occurrence_levels: dict[int, str] = Field(default_factory=dict)
    matrix: list[list[Severity]] = Field(default_factory=list)
    defect_codes: dict[str, str] = Field(default_factory=dict)


class ExtensionRequestBody(ExtensionRequestStep, Body):
    """More time for the step (or, with ``action_id``, the action) the caller holds; a manager decides."""


class ExtensionDecisionRequest(ExtensionDecisionStep, SignedBody):
    """Approve or reject the pending extension request (a manager other than the requester). Signed: "approved:
    extension granted" or "rejected: extension refused"."""


class ReassignmentRequest(ReassignStep, Body):
    """Give the record (or, with ``action_id``, one action) to someone else; its deadlines follow."""

    new_owner: UserName = Field(alias="owner", description="The new owner", examples=["oscar"])


class CancellationRequest(CancelStep, SignedBody):
    """Cancel an invalid record (quality, with a category, before a passed verification; managers under the
    earlier rules); every timer stops. Signed: "approved: record cancelled"."""


def json_field(body: type[BaseModel], field: str | None) -> str | None:
    """A step's field path (``new_owner``, ``actions.1.due_at``) as this API names it in ``body`` (``owner``)."""
    if field is None:
        return None
    head, _, rest = field.partition(".")
    info = body.model_fields.get(head)
    name = info.alias if info is not None and info.alias else head
    return f"{name}.{rest}" if rest else name


# --- people ---------------------------------------------------------------------------------------------------


class UserPublic(BaseModel):
    """A person in the directory; never their password or its hash."""

    name: str
    full_name: str | None = Field(description="The printed name (e.g. Maria Keller); null if never given")
    role: Role
    manager: str | None
    email: str | None = Field(description="Shown to managers, admins and the person themself; else null")
    active: bool
    can_sign_in: bool = Field(description="Whether a password is set")
    created_at: datetime
    site: str | None = Field(default=None, description="Their home site; null: the default site")
    time_zone: str | None = Field(default=None, description="A zone of their own; null: their home site's")

    @classmethod
    def of(cls, user: User, *, show_email: bool = True) -> Self:
        return cls(
            name=user.name,
            full_name=user.full_name,
            role=Role(user.role),
            manager=user.manager,
            email=user.email if show_email else None,
            active=user.active,
            can_sign_in=user.password_hash is not None,
            created_at=user.created_at,
            site=user.site,
            time_zone=user.time_zone,
        )


class Me(UserPublic):
    """The signed-in user, with the zone their times are shown in (their own, else their home site's, else the
    default site's): the CLI shows times in it."""

    shown_time_zone: str = Field(description="IANA name of the zone times are shown in", examples=["Europe/Berlin"])


FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    Field(description="The printed name: 1 to 120 characters, one line", examples=["Paula Schmidt"]),
]


SiteName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    Field(description="A site's name (`GET /api/v1/sites`)", examples=["Berlin plant"]),
]
ZoneName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    Field(description="An IANA time zone name", examples=["Europe/Berlin"]),
]


class SitePublic(BaseModel):
    """A site: records belong to one, people work at one; its zone is the one its times are shown in."""

    name: str
    time_zone: str = Field(description="IANA time zone name", examples=["Europe/Berlin"])
    default: bool = Field(description="The site records and people without one belong to")
    created_at: datetime

    @classmethod
    def of(cls, site: Site, default: str) -> Self:
        return cls(name=site.name, time_zone=site.time_zone, default=site.name == default, created_at=site.created_at)


class SiteCreate(Body):
    """A new site (admins)."""

    name: SiteName
    time_zone: ZoneName


class UserCreate(Body):
    name: Annotated[UserName, Field(description="Login name: letters, digits and . _ @ -", examples=["paula"])]
    full_name: FullName
    role: Role
    manager: Annotated[UserName | None, Field(description="Who escalations about their steps go to")] = None
    email: Annotated[ShortText | None, Field(description="Where their notifications go")] = None
    site: SiteName | None = None
    time_zone: ZoneName | None = None


class UserUpdate(Body):
    """The fields to change (admins); a field left out stays as it is, null clears a manager, an e-mail, a home
    site (back to the default site) or a zone of their own (back to their site's)."""

    full_name: FullName | None = None
    role: Role | None = None
    manager: Annotated[UserName | None, Field(description="Who escalations about their steps go to")] = None
    email: Annotated[ShortText | None, Field(description="Where their notifications go")] = None
    site: SiteName | None = None
    time_zone: ZoneName | None = None


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
    details: dict[str, Any] = Field(default_factory=dict, description="The facts the message showed")

    @classmethod
    def of(cls, row: OutboxMessage) -> Self:
        data = row.model_dump(exclude={"address", "link", "details"})
        return cls.model_validate({**data, "details": json.loads(row.details)})


class DigestSent(BaseModel):
    """Who was sent today's overdue digest by this run, and who already had it."""

    workflow_id: str
    day: str
    recipients: dict[str, int]
    already_sent: dict[str, int]


class Retried(BaseModel):
    id: int
    retried: bool = True


# --- following records: comments, watchers, one's own notifications -------------------------------------------


class CommentRequest(CommentStep, Body):
    """A comment on an open record (anyone signed in); each ``@name`` must be a person in the directory, who is
    told of it, as are the record's watchers."""


class Watching(BaseModel):
    """Whether the caller watches the record now, and who does."""

    record_id: str
    watching: bool
    watchers: list[str]


class MyNotification(BaseModel):
    """One notification of the caller's: a notice of a record (a comment, an assignment, a reminder...)."""

    id: int
    record_id: str = Field(description="The record it is about (the digest's id for the overdue digest)")
    seq: int
    kind: str = Field(examples=["commented", "reassigned", "escalated"])
    subject: str
    body: str
    link: str | None = Field(description="The record's page")
    created_at: datetime
    read_at: datetime | None = Field(description="When the caller marked it read; null while unread")

    @classmethod
    def of(cls, row: OutboxMessage) -> Self:
        return cls.model_validate(row.model_dump(include=set(cls.model_fields)))


class MyNotifications(Page[MyNotification]):
    """One page of the caller's notifications, newest first, and how many of all of them are unread."""

    unread: int = Field(ge=0)


class ReadAll(BaseModel):
    read: int = Field(ge=0, description="How many notifications were unread and are now read")


# --- working-day calendars --------------------------------------------------------------------------------------


class SiteCalendarBody(Body):
    """A site's calendar as TOML (``timezone``, ``weekdays``, ``hours``, ``holidays``), or an iCalendar file's
    text whose all-day events are added to its holidays: one of the two."""

    toml: str | None = Field(
        default=None, examples=['weekdays = ["mon", "tue", "wed", "thu", "fri"]\nhours = "08:00-16:00"']
    )
    ical: str | None = None


class SiteCalendarPublic(BaseModel):
    """A site's working-day calendar; ``calendar`` None when its windows run in calendar time."""

    site: str
    calendar: str | None = Field(default=None, description="The calendar as TOML")
    summary: str | None = None
    weekdays: list[int] = Field(default_factory=list, description="0 = Monday .. 6 = Sunday")
    hours: str | None = None
    holidays: list[date] = Field(default_factory=list)
    timezone: str | None = None

    @classmethod
    def of(cls, site: str, calendar: WorkCalendar | None) -> "SiteCalendarPublic":
        if calendar is None:
            return cls(site=site)
        return cls(
            site=site,
            calendar=calendar.to_toml(),
            summary=calendar.describe(),
            weekdays=list(calendar.weekdays),
            hours=f"{calendar.start:%H:%M}-{calendar.end:%H:%M}",
            holidays=list(calendar.holidays),
            timezone=calendar.timezone,
        )


# --- QMS updates that gate closure ---


class TrainingRequest(Body):
    """People who completed the training action's course (the action is named in the path)."""

    people: list[UserName] = Field(min_length=1, max_length=500, description="Who completed the training")


# --- honest pauses ---


class PauseRequestBody(PauseRequestStep, Body):
    """Ask quality to stop the clock of the step (or, with ``action_id``, the action) the caller holds while a
    supplier or a customer answers."""


class PauseDecisionRequest(PauseDecisionStep, SignedBody):
    """Approve or decline the pending pause request (quality, not the requester). Signed: "approved: clock
    paused" or "declined: pause refused"."""


class ResumeBody(ResumeStep, Body):
    """Start a paused clock again with the time it had left (its holder, or quality)."""
