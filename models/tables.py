"""The SQL read model: the user directory, one row per record, its actions and timeline, and the outbox.

Temporal owns each record's truth; these tables are a projection written by activities (idempotently, keyed by
record and timeline sequence) so that lists and dashboards never query Temporal. Enum values are stored as
plain strings so the schema needs no database enum types and a new stage or role needs no migration.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.enums import OutboxStatus


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite has no timezone type: SQLAlchemy writes the wall-clock digits and reads them back naive. Writing
    UTC and tagging what comes back as UTC makes both backends return the same aware value, and keeps SQLite's
    text comparisons (``due_at < now``) correct. Naive input is taken to be UTC, the codebase's convention.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Site(SQLModel, table=True):
    """A place records belong to and people work at, with the IANA time zone its times are shown in."""

    __tablename__ = "sites"

    name: str = Field(primary_key=True)
    # An IANA zone name (``Europe/Berlin``), checked against the zone database when the site is added.
    time_zone: str
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)
    # working-day calendars: the site's calendar as TOML text (models.calendars); None = calendar time.
    calendar: str | None = Field(default=None, sa_type=Text)


class User(SQLModel, table=True):
    """One person in the directory; ``manager`` is the reporting line escalations climb."""

    __tablename__ = "users"

    name: str = Field(primary_key=True)
    # The printed name (e.g. "Maria Keller") pages and signatures show beside the login name; None for people
    # added before the directory kept it.
    full_name: str | None = None
    role: str
    manager: str | None = Field(default=None, foreign_key="users.name")
    email: str | None = None
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)
    # Argon2id hash (PHC string) of the web and API sign-in password; None: this person cannot sign in.
    password_hash: str | None = None
    # False: signed out everywhere and refused at sign-in, while their records and history stay.
    active: bool = True
    # Their home site (None: the default site), which records they raise belong to unless they name another,
    # and an IANA zone of their own that pages, e-mails and the CLI show them times in (None: the home site's).
    site: str | None = None
    time_zone: str | None = None


class Nonconformity(SQLModel, table=True):
    """The latest known state of one record, flattened for lists, filters and the overdue dashboard."""

    __tablename__ = "nonconformities"
    # Covering indexes of the management-review figures (core/stats.py), so they never read the wide rows: the
    # records raised, closed and first reviewed in a period, with the filters and the columns counted.
    __table_args__ = (
        Index(
            "ix_nonconformities_raised_figures",
            "raised_at",
            "severity",
            "source",
            "product",
            "cause_category",
            "escape_point",
            "recurrence_of",
            "id",
        ),
        Index("ix_nonconformities_closed_figures", "closed_at", "stage", "severity", "source", "product"),
        Index(
            "ix_nonconformities_review_figures",
            "first_review_at",
            "first_review_effective",
            "severity",
            "source",
            "product",
        ),
    )

    id: str = Field(primary_key=True)
    title: str
    description: str = Field(sa_type=Text)
    severity: str = Field(index=True)
    source: str
    product: str | None = None
    lot: str | None = None
    quantity: int | None = None
    defect_code: str | None = None
    supplier: str | None = None
    customer: str | None = None
    # The site the record belongs to (None: raised before sites existed, shown as the default site).
    site: str | None = Field(default=None, index=True)
    owner: str = Field(index=True)
    raised_by: str
    raised_at: datetime = Field(sa_type=UtcDateTime)
    stage: str = Field(index=True)
    cycle: int
    # The earliest due time of any running clock (or the effectiveness date when none runs).
    due_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    escalation_level: int = 0
    # Who holds the stage's own clock; None while only action clocks (or none) run.
    holder: str | None = None
    # The stage clock's due before any extension: lateness is measured against it (None: no stage clock runs).
    original_due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    effectiveness_due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancel_reason: str | None = Field(default=None, sa_type=Text)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    policy_name: str | None = None
    policy_digest: str | None = None
    # The highest timeline seq this row reflects: a snapshot with a lower one is older and must not win.
    last_seq: int = 0
    updated_at: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)
    # CapaState without its events, so the record can be shown after Temporal has deleted the workflow.
    state_json: str = Field(sa_type=Text)
    # For the management-review figures (core/stats.py): the latest root cause's 6M category and escape point,
    # the earlier record this one is a recurrence of, and the first conclusive effectiveness review (when, and
    # whether it found the actions effective).
    cause_category: str | None = None
    escape_point: str | None = None
    recurrence_of: str | None = None
    first_review_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    first_review_effective: bool | None = None
    # Procedure-version pinning: the CAPA procedure revision the record is under (None: not recorded), so lists
    # can pick the records under an older one.
    procedure_document: str | None = None
    procedure_revision: str | None = None


class ActionRow(SQLModel, table=True):
    """One planned action of a record, with its own deadline, so "my open steps" is a single query."""

    __tablename__ = "actions"
    # The overdue board looks up open actions past their due time without reading every completed one.
    __table_args__ = (
        Index("ix_actions_status_due_at", "status", "due_at"),
        # The management-review figures: actions done in a period by their original due, actions extended.
        Index("ix_actions_completed_figures", "completed_at", "status", "original_due_at"),
        Index("ix_actions_extended_figures", "record_id", "due_at", "original_due_at"),
    )

    record_id: str = Field(primary_key=True, foreign_key="nonconformities.id")
    action_id: str = Field(primary_key=True)
    cycle: int
    round: int
    kind: str
    owner: str = Field(index=True)
    description: str = Field(sa_type=Text)
    status: str
    due_at: datetime = Field(sa_type=UtcDateTime)
    original_due_at: datetime = Field(sa_type=UtcDateTime)
    escalation_level: int = 0
    evidence: str | None = Field(default=None, sa_type=Text)
    completed_by: str | None = None
    completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class StageSpan(SQLModel, table=True):
    """One stay of a record in one stage (per cycle and round), for cycle times and on-time rates.

    ``original_due_at``/``due_at``: the stage clock's due before and after extensions (None: no clock ran);
    ``done_at``: when the step that stopped the clock was taken, ``on_time`` whether that was by the original due.
    ``ended_at`` is None while the record is in the stage.
    """

    __tablename__ = "stage_spans"
    # Covering indexes of the figures' queries: cycle times per stage in order of length, on-time steps.
    __table_args__ = (
        Index("ix_stage_spans_cycle_times", "stage", "seconds", "ended_at"),
        Index("ix_stage_spans_on_time", "done_at", "on_time"),
        Index("ix_stage_spans_extended", "record_id", "extensions"),
    )

    record_id: str = Field(primary_key=True, foreign_key="nonconformities.id")
    cycle: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    round: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    stage: str = Field(primary_key=True)
    started_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # How long the stay lasted (``ended_at - started_at``), once it has ended.
    seconds: float | None = None
    original_due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    extensions: int = 0
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    on_time: bool | None = None


class TimelineEvent(SQLModel, table=True):
    """One entry of a record's audit trail, written once and never updated."""

    __tablename__ = "events"

    record_id: str = Field(primary_key=True, foreign_key="nonconformities.id")
    seq: int = Field(primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime)
    kind: str
    actor: str
    details: str = Field(default="{}", sa_type=Text)  # JSON object
    # The entry's chained SHA-256 (``Event.hash``); None on entries from before the record's chain started.
    hash: str | None = None


class AdminLogEntry(SQLModel, table=True):
    """One change to the directory or the API tokens, chained like a timeline (``models.chain``), never updated.

    ``before`` and ``after`` hold the fields that changed (JSON objects), never a password, a hash or a token's
    secret: a password change records only that it happened.
    """

    __tablename__ = "admin_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str
    action: str
    target: str = Field(index=True)
    before: str = Field(default="{}", sa_type=Text)  # JSON object
    after: str = Field(default="{}", sa_type=Text)  # JSON object
    hash: str


class OutboxMessage(SQLModel, table=True):
    """A notification to deliver; the unique key makes a retried activity insert (and deliver) it once.

    One row per recipient and channel of an event; for webhooks the recipient is the endpoint URL, one row per
    endpoint and event whoever the people notified are.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("record_id", "seq", "recipient", "channel", name="uq_outbox_delivery"),
        # A person's notification list and its unread count: their log rows, read or not.
        Index("ix_outbox_recipient_channel_read_at", "recipient", "channel", "read_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    record_id: str = Field(index=True)
    seq: int
    recipient: str
    channel: str
    kind: str
    subject: str
    body: str = Field(sa_type=Text)
    # The e-mail address or webhook URL as it was when the row was queued; None on the log channel.
    address: str | None = None
    # The record's page, for the message's link.
    link: str | None = None
    # Facts the templates and the webhook body show (JSON object): the people notified, record title, stage...
    details: str = Field(default="{}", sa_type=Text)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(default=OutboxStatus.PENDING.value, index=True)
    # When the recipient marked it read in their notification list (log-channel rows only); None: unread.
    read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Watcher(SQLModel, table=True):
    """Someone who follows a record: every notice of the record reaches them too (not of their own steps)."""

    __tablename__ = "watchers"

    record_id: str = Field(primary_key=True, foreign_key="nonconformities.id")
    user_name: str = Field(primary_key=True, foreign_key="users.name", index=True)
    since: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)


class NotificationPreference(SQLModel, table=True):
    """One person's choice for one kind of notification; no row means the default (e-mail on)."""

    __tablename__ = "notification_preferences"

    user_name: str = Field(primary_key=True, foreign_key="users.name")
    kind: str = Field(primary_key=True)
    email: bool = True


class PolicyInForce(SQLModel, table=True):
    """The policy the workers run with, published by each worker as it starts: whoever raises a record (the API,
    the CLI) pins it from here, so the record keeps the workers' deadlines for life."""

    __tablename__ = "policy_in_force"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str
    digest: str
    policy_json: str
    published_at: datetime = Field(sa_type=UtcDateTime)


class RecordSequence(SQLModel, table=True):
    """The last record number handed out per year, for ``NC-<year>-<seq>`` ids."""

    __tablename__ = "record_sequences"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int


class ApiToken(SQLModel, table=True):
    """A bearer token for an integration (a MES raising records, say), acting as one user.

    Only the SHA-256 of the secret is kept: the secret is shown once, when the token is made. ``prefix`` is
    the secret's first characters, for telling tokens apart in a list.
    """

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_name: str = Field(foreign_key="users.name", index=True)
    label: str
    prefix: str
    secret_hash: str = Field(unique=True)
    created_by: str
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries the session id; only its SHA-256 is kept, so a copy of the
    database signs no one in. Signing out, or an admin deactivating the user, ends it server-side."""

    __tablename__ = "web_sessions"

    id_hash: str = Field(primary_key=True)
    user_name: str = Field(foreign_key="users.name", index=True)
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SignInFailures(SQLModel, table=True):
    """Failed sign-ins per attempted name (known or not) and client address, which slow down the next attempts."""

    __tablename__ = "sign_in_failures"

    name: str = Field(primary_key=True)
    # The address the attempts came from ("" when the caller has none, e.g. a command on the server).
    address: str = Field(primary_key=True, default="")
    failures: int = 0
    last_failed_at: datetime = Field(sa_type=UtcDateTime)


# recurrence sentinels: the record id each firing of a sentinel opens its linked CAPA under, fixed once.
class SentinelFiring(SQLModel, table=True):
    """The linked CAPA of one firing of a sentinel, keyed by the sentinel's workflow id, its first run id and the
    firing's number: the id is allocated from the record counter once, and a retried firing finds it here."""

    __tablename__ = "sentinel_firings"

    sentinel: str = Field(primary_key=True)
    first_run: str = Field(primary_key=True)
    firing: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    record_id: str = Field(unique=True)
    created_at: datetime = Field(default_factory=_utc_now, sa_type=UtcDateTime)
