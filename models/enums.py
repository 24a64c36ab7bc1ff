"""The closed vocabularies of a CAPA record: stages, severities, roles and the choices each step offers."""

from enum import StrEnum


class Stage(StrEnum):
    CONTAINMENT = "containment"
    ROOT_CAUSE = "root_cause"
    ACTION = "action"
    VERIFICATION = "verification"
    EFFECTIVENESS = "effectiveness"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def is_open(self) -> bool:
        return self not in (Stage.CLOSED, Stage.CANCELLED)


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


class Source(StrEnum):
    INTERNAL_AUDIT = "internal-audit"
    EXTERNAL_AUDIT = "external-audit"
    CUSTOMER_COMPLAINT = "customer-complaint"
    SUPPLIER = "supplier"
    PROCESS = "process"
    INSPECTION = "inspection"
    OTHER = "other"


class Role(StrEnum):
    OPERATOR = "operator"
    OWNER = "owner"
    MANAGER = "manager"
    # Independent of the line: triage, plan approval, concessions, effectiveness reviews, cancellations, amendments.
    QUALITY = "quality"
    ADMIN = "admin"


class Disposition(StrEnum):
    QUARANTINE = "quarantine"
    REWORK = "rework"
    SCRAP = "scrap"
    USE_AS_IS = "use-as-is"
    RETURN_TO_SUPPLIER = "return-to-supplier"


class RootCauseMethod(StrEnum):
    FIVE_WHYS = "five-whys"
    FISHBONE = "fishbone"
    FAULT_TREE = "fault-tree"
    IS_IS_NOT = "is-is-not"
    # 8D is a problem-solving framework, not a method of finding a cause: only records raised under the earlier
    # rules (``rules.METHODS_OF_EARLIER_RULES``) were accepted with it.
    EIGHT_D = "8d"
    OTHER = "other"


class CauseCategory(StrEnum):
    """The 6M categories of an Ishikawa diagram."""

    MAN = "man"
    MACHINE = "machine"
    METHOD = "method"
    MATERIAL = "material"
    MEASUREMENT = "measurement"
    ENVIRONMENT = "environment"


class ActionKind(StrEnum):
    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"
    # QMS updates that gate closure
    DOCUMENT_CHANGE = "document_change"
    TRAINING = "training"
    FMEA_UPDATE = "fmea_update"
    RISK_FILE = "risk_file"
    CHANGE_CONTROL = "change_control"
    READ_ACROSS = "read_across"


class ActionStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class VerificationResult(StrEnum):
    PASS = "pass"  # noqa: S105 - a verification outcome, not a password
    FAIL = "fail"


class EffectivenessResult(StrEnum):
    EFFECTIVE = "effective"
    NOT_EFFECTIVE = "not-effective"
    # The window's data cannot decide yet: the window is extended once.
    INCONCLUSIVE = "inconclusive"


class TriageDecision(StrEnum):
    """Whether a nonconformity needs the full CAPA lifecycle, or its correction (containment) is enough."""

    CAPA = "capa"
    CORRECTION_ONLY = "correction-only"


class CancelCategory(StrEnum):
    DUPLICATE = "duplicate"
    NOT_A_NONCONFORMITY = "not-a-nonconformity"
    RAISED_IN_ERROR = "raised-in-error"


class LinkKind(StrEnum):
    """How one record relates to another; each kind reads the other way on the other record."""

    DUPLICATE_OF = "duplicate-of"
    RECURRENCE_OF = "recurrence-of"
    RELATED = "related"
    PARENT_OF = "parent-of"
    CHILD_OF = "child-of"

    @property
    def reverse(self) -> str:
        """How the other record reads this link: ``NC-2`` duplicate-of ``NC-1`` is, on NC-1, "duplicated by"."""
        return {
            LinkKind.DUPLICATE_OF: "duplicated-by",
            LinkKind.RECURRENCE_OF: "recurred-as",
            LinkKind.RELATED: "related",
            LinkKind.PARENT_OF: "child-of",
            LinkKind.CHILD_OF: "parent-of",
        }[self]


class AmendableField(StrEnum):
    """The facts of a record a signed amendment may correct (a typo, a wrong lot)."""

    TITLE = "title"
    DESCRIPTION = "description"
    PRODUCT = "product"
    LOT = "lot"
    QUANTITY = "quantity"
    DEFECT_CODE = "defect_code"
    SUPPLIER = "supplier"
    CUSTOMER = "customer"


class EventKind(StrEnum):
    RAISED = "raised"
    CONTAINMENT_SUBMITTED = "containment_submitted"
    ROOT_CAUSE_SUBMITTED = "root_cause_submitted"
    PLAN_SUBMITTED = "plan_submitted"
    ACTION_COMPLETED = "action_completed"
    VERIFIED = "verified"
    EFFECTIVENESS_DUE = "effectiveness_due"
    EFFECTIVENESS_REVIEWED = "effectiveness_reviewed"
    CLOSED = "closed"
    REMINDER_SENT = "reminder_sent"
    ESCALATED = "escalated"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_DECIDED = "extension_decided"
    REASSIGNED = "reassigned"
    CANCELLED = "cancelled"
    FILE_ATTACHED = "file_attached"
    # The record's timeline became a hash chain here; the entry seals every entry before it.
    CHAIN_STARTED = "chain_started"
    TRIAGED = "triaged"
    PLAN_AMENDED = "plan_amended"
    PLAN_DECIDED = "plan_decided"
    CONCESSION_GRANTED = "concession_granted"
    AMENDED = "amended"
    LINKED = "linked"
    COMMENTED = "commented"
    # Procedure-version pinning: quality moved the record to the procedure and policy in force.
    PROCEDURE_MOVED = "procedure_moved"
    # Not a timeline entry of any record: the kind of the daily overdue digest sent to managers.
    DIGEST = "digest"
    # Not a timeline entry either: the daily hash over every record's chain head, published to the webhooks.
    CHAIN_HEAD = "chain_head"
    # recurrence: a new nonconformity shows the record's problem came back (a sentinel, or its effectiveness window)
    RECURRENCE_DETECTED = "recurrence_detected"
    # QMS updates that gate closure: training completions recorded per person
    TRAINING_RECORDED = "training_recorded"
    # honest pauses: a step's clock asked to stop, the decision, and the clock running again
    PAUSE_REQUESTED = "pause_requested"
    PAUSE_DECIDED = "pause_decided"
    RESUMED = "resumed"


class AdminAction(StrEnum):
    """What one entry of the admin log changed in the directory or among the API tokens."""

    USER_ADDED = "user_added"
    ROLE_CHANGED = "role_changed"
    MANAGER_CHANGED = "manager_changed"
    EMAIL_CHANGED = "email_changed"
    FULL_NAME_CHANGED = "full_name_changed"
    PASSWORD_SET = "password_set"  # noqa: S105 - the name of an action, not a password
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"
    TOKEN_CREATED = "token_created"  # noqa: S105 - the name of an action, not a token
    TOKEN_REVOKED = "token_revoked"  # noqa: S105 - the name of an action, not a token
    SITE_ADDED = "site_added"
    HOME_SITE_CHANGED = "home_site_changed"
    TIME_ZONE_CHANGED = "time_zone_changed"
    # working-day calendars
    SITE_CALENDAR_SET = "site_calendar_set"


class Channel(StrEnum):
    """How an outbox row reaches its recipient."""

    LOG = "log"  # a structured log line of the worker
    EMAIL = "email"  # one message per person, to the address in the directory
    WEBHOOK = "webhook"  # one signed JSON POST per event to each configured endpoint


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    # Retries exhausted or refused for good; ``capa notifications retry`` puts it back to pending.
    FAILED = "failed"


# The kinds of notification a person can receive, by the timeline event (or digest) that causes them.
NOTIFIED_KINDS: tuple[EventKind, ...] = (
    EventKind.RAISED,  # you own a new record
    EventKind.PLAN_SUBMITTED,  # you own an action of the plan
    EventKind.REASSIGNED,  # a record or action is now yours
    EventKind.EXTENSION_REQUESTED,  # someone who reports to you asks for more time
    EventKind.EXTENSION_DECIDED,  # your extension request was decided
    EventKind.REMINDER_SENT,
    EventKind.ESCALATED,
    EventKind.EFFECTIVENESS_DUE,
    EventKind.DIGEST,
    EventKind.TRIAGED,  # quality triaged your record
    EventKind.PLAN_DECIDED,  # your plan was approved or returned
    EventKind.COMMENTED,  # a comment mentions you, or is on a record you watch
    EventKind.RECURRENCE_DETECTED,  # recurrence: the problem of a record came back
    EventKind.PAUSE_REQUESTED,  # honest pauses: a holder asks quality to pause a clock
    EventKind.PAUSE_DECIDED,  # honest pauses: your pause request was decided
)
