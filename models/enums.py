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
    # Not a timeline entry of any record: the kind of the daily overdue digest sent to managers.
    DIGEST = "digest"
    # Not a timeline entry either: the daily hash over every record's chain head, published to the webhooks.
    CHAIN_HEAD = "chain_head"


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
)
