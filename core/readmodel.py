"""Everything front-ends read from (or add to) the SQL read model: the directory, record ids, lists, overdue.

Functions take an Engine built from ``Settings.sqlalchemy_url`` and return detached rows or pydantic models;
none of them talks to Temporal.
"""

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, Engine, Row, Select, and_, case, func, nulls_last, or_, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from core import search, sites
from core import text as plain_text
from core.accounts import hash_password
from core.adminlog import log_change, log_user_changes
from core.database import insert_for, session_scope
from models import pauses
from models.enums import (
    NOTIFIED_KINDS,
    ActionStatus,
    AdminAction,
    EventKind,
    LinkKind,
    Role,
    Severity,
    Source,
    Stage,
)
from models.payloads import SYSTEM_ACTOR, USER_NAME_PATTERN, CapaState, Event, UserName
from models.policy import Policy
from models.refusals import FieldProblem, InvalidField
from models.tables import (
    ActionRow,
    Nonconformity,
    NotificationPreference,
    PolicyInForce,
    RecordSequence,
    TimelineEvent,
    User,
)

T = TypeVar("T")
# A query of records: whole rows (sqlmodel's select) or some of their columns (SQLAlchemy's).
Q = TypeVar("Q", bound=Select[Any])

_OPEN_STAGES = [stage.value for stage in Stage if stage.is_open]
_MANAGING_ROLES = {Role.MANAGER.value, Role.ADMIN.value}


class DirectoryError(InvalidField):
    """A user that cannot be added or changed, naming the field at fault (``problems``: every one at fault)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.problems: tuple[FieldProblem, ...] = (self.problem,)

    @classmethod
    def of(cls, problems: list[FieldProblem]) -> "DirectoryError":
        first = problems[0]
        error = cls(first.field or "name", first.message)
        error.problems = tuple(problems)
        return error


def ping(engine: Engine) -> None:
    """Fail unless the database answers a query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


# --- the user directory -------------------------------------------------------------------------------------


# The most characters a full name may have ("Maria Keller"; long enough for any printed name, short enough for a
# signature line).
FULL_NAME_MOST = 120


def printed_name(user: User) -> str:
    """The name to print for ``user``: their full name, or their login name when the directory has none."""
    full = (user.full_name or "").strip()
    return full or user.name


def checked_full_name(full_name: str) -> str:
    """``full_name`` trimmed, or DirectoryError: 1 to 120 characters of one line, no control characters."""
    full_name = full_name.strip()
    if not 1 <= len(full_name) <= FULL_NAME_MOST:
        raise DirectoryError("full_name", f"1 to {FULL_NAME_MOST} characters, as printed (e.g. Maria Keller)")
    found = plain_text.problem(full_name, multiline=False)
    if found is not None:
        raise DirectoryError("full_name", found)
    return full_name


def add_user(
    engine: Engine,
    name: str,
    role: str,
    manager: str | None = None,
    email: str | None = None,
    *,
    full_name: str | None = None,
    site: str | None = None,
    time_zone: str | None = None,
    actor: str = SYSTEM_ACTOR,
) -> User:
    """Add one person to the directory (``actor``: who adds them, for the admin log), with their home ``site``
    (None: the default site) and a zone of their own (None: the site's).

    A manager must already exist and be a manager or admin: reporting lines are built top-down, so an
    escalation always climbs to someone who may act on it.
    """
    try:
        name = TypeAdapter(UserName).validate_python(name)
    except ValidationError as exc:
        raise DirectoryError("name", f"{exc.errors()[0]['msg']}") from None
    role = _role(role)
    if full_name is not None:
        full_name = checked_full_name(full_name)
    if email is not None:
        email = _email(email)
    if time_zone is not None:
        time_zone = sites.checked_zone(time_zone)
    with session_scope(engine) as session:
        if session.get(User, name) is not None:
            raise DirectoryError("name", f"a user named {name!r} already exists")
        if manager is not None:
            _check_manager(session, manager)
        if site is not None:
            sites.existing_site(session, site)
        user = User(
            name=name, full_name=full_name, role=role, manager=manager, email=email, site=site, time_zone=time_zone
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError:
            # Another caller added the same name between the check and the insert.
            raise DirectoryError("name", f"a user named {name!r} already exists") from None
        log_change(
            session,
            actor,
            AdminAction.USER_ADDED,
            name,
            after={"full_name": full_name, "role": role, "manager": manager, "email": email}
            | ({"site": site} if site is not None else {})
            | ({"time_zone": time_zone} if time_zone is not None else {}),
        )
    return user


# A field ``update_user`` leaves as it is.
UNCHANGED: Any = object()


def update_user(
    engine: Engine,
    name: str,
    *,
    full_name: str | None = UNCHANGED,
    role: str = UNCHANGED,
    manager: str | None = UNCHANGED,
    email: str | None = UNCHANGED,
    site: str | None = UNCHANGED,
    time_zone: str | None = UNCHANGED,
    actor: str = SYSTEM_ACTOR,
) -> tuple[User, User]:
    """Change someone's full name, role, manager, e-mail, home site or zone (None clears all but the role);
    returns the person before and after. Every field at fault is named at once; nothing changes unless all are sound.

    A role change must keep the reporting lines sound: someone who manages others stays a manager or admin.
    """
    problems: list[FieldProblem] = []

    def check(field: str, value: T, judge: Callable[[T], T]) -> T:
        try:
            return judge(value)
        except InvalidField as exc:
            problems.append(exc.problem)
            return value

    if full_name is not UNCHANGED and full_name is not None:
        full_name = check("full_name", full_name, checked_full_name)
    if role is not UNCHANGED:
        role = check("role", role, _role)
    if email is not UNCHANGED and email is not None:
        email = check("email", email, _email)
    if time_zone is not UNCHANGED and time_zone is not None:
        time_zone = check("time_zone", time_zone, sites.checked_zone)
    with session_scope(engine) as session:
        user = session.get(User, name)
        if user is None:
            raise DirectoryError("name", f"no user named {name!r}")
        before = user.model_copy()
        if manager is not UNCHANGED and manager is not None:
            if manager == name:
                problems.append(FieldProblem("manager", f"{name!r} cannot be their own manager"))
            else:
                check("manager", manager, lambda boss: _check_manager(session, boss, below=name))
        if role is not UNCHANGED and role not in _MANAGING_ROLES and not any(p.field == "role" for p in problems):
            reports = session.exec(select(User.name).where(col(User.manager) == name).order_by(col(User.name))).all()
            if reports:
                problems.append(
                    FieldProblem("role", f"{name!r} manages {', '.join(reports)}; give them another manager first")
                )
        if site is not UNCHANGED and site is not None:
            check("site", site, lambda name: sites.existing_site(session, name))
        if problems:
            raise DirectoryError.of(problems)
        changes = {
            "full_name": full_name,
            "role": role,
            "manager": manager,
            "email": email,
            "site": site,
            "time_zone": time_zone,
        }
        for field, value in changes.items():
            if value is not UNCHANGED:
                setattr(user, field, value)
        session.add(user)
        session.flush()
        session.refresh(user)
        log_user_changes(session, actor, before, user)
    return before, user


def _role(role: str) -> str:
    if role not in {r.value for r in Role}:
        raise DirectoryError("role", f"{role!r} is not one of {', '.join(r.value for r in Role)}")
    return Role(role).value


def _email(email: str) -> str:
    email = email.strip()
    if not 1 <= len(email) <= 200 or plain_text.control_character(email, multiline=False) or " " in email:
        raise DirectoryError("email", "one e-mail address, like maria@example.com")
    return email


def _check_manager(session: Session, manager: str, *, below: str | None = None) -> str:
    """Refuse ``manager`` unless they exist, manage or administer, and (for ``below``'s new manager) do not
    report to ``below`` themself: escalations must climb, never go round."""
    boss = session.get(User, manager)
    if boss is None:
        raise DirectoryError("manager", f"no user named {manager!r}; add them first")
    if boss.role not in _MANAGING_ROLES:
        raise DirectoryError("manager", f"{manager!r} is an {boss.role}, not a manager or admin")
    above: User | None = boss
    while below is not None and above is not None:
        if above.name == below:
            raise DirectoryError("manager", f"{manager!r} reports to {below!r}; a reporting line cannot loop")
        above = session.get(User, above.manager) if above.manager else None
    return manager


def get_user(engine: Engine, name: str) -> User | None:
    with session_scope(engine) as session:
        return session.get(User, name)


def reporting_line(engine: Engine, name: str) -> list[str]:
    """``name``'s manager, that one's manager, and so on up to the top (a loop ends it)."""
    line: list[str] = []
    with session_scope(engine) as session:
        user = session.get(User, name)
        while user is not None and user.manager is not None and user.manager not in line and user.manager != name:
            line.append(user.manager)
            user = session.get(User, user.manager)
    return line


def team_of(engine: Engine, manager: str) -> list[str]:
    """Everyone below ``manager`` in the reporting lines: their reports, those people's reports, and so on."""
    with session_scope(engine) as session:
        lines = session.exec(select(User.name, User.manager).where(col(User.manager).is_not(None))).all()
    reports: dict[str, list[str]] = {}
    for name, boss in lines:
        reports.setdefault(str(boss), []).append(name)
    team: list[str] = []
    below = list(reports.get(manager, []))
    while below:
        name = below.pop()
        # A loop in the directory (which the checks above refuse) must still end the walk.
        if name in team or name == manager:
            continue
        team.append(name)
        below.extend(reports.get(name, []))
    return sorted(team)


def list_users(engine: Engine) -> list[User]:
    with session_scope(engine) as session:
        return list(session.exec(select(User).order_by(col(User.name))))


# --- notification preferences -------------------------------------------------------------------------------


def set_email_preference(engine: Engine, user: str, kind: str, enabled: bool) -> None:
    """Turn e-mail for one kind of notification on or off for one person; the log channel is unaffected."""
    if kind not in {k.value for k in NOTIFIED_KINDS}:
        raise DirectoryError("kind", f"{kind!r} is not one of {', '.join(k.value for k in NOTIFIED_KINDS)}")
    statement = insert_for(engine, NotificationPreference).values(user_name=user, kind=kind, email=enabled)
    upsert = statement.on_conflict_do_update(index_elements=["user_name", "kind"], set_={"email": enabled})
    with session_scope(engine) as session:
        if session.get(User, user) is None:
            raise DirectoryError("user", f"no user named {user!r}")
        session.exec(upsert)


def email_enabled(session_or_engine: Session | Engine, user: str, kind: str) -> bool:
    """Whether ``user`` wants e-mail for ``kind``; on unless they turned it off."""
    if isinstance(session_or_engine, Engine):
        with session_scope(session_or_engine) as session:
            return email_enabled(session, user, kind)
    preference = session_or_engine.get(NotificationPreference, (user, kind))
    return True if preference is None else preference.email


# Every demo user's sign-in password on a fresh `make run`; `capa users passwd` changes it.
DEMO_PASSWORD = "capaflow-demo"  # noqa: S105 - printed at start on purpose: it only exists in the demo directory

# Name, full name, role, manager; managers come before the people who report to them.
_DEMO_USERS = [
    ("ada", "Ada Lovelace", Role.ADMIN, None),
    ("maria", "Maria Keller", Role.MANAGER, "ada"),
    ("mike", "Mike Brandt", Role.MANAGER, "maria"),
    ("olivia", "Olivia Novak", Role.OWNER, "mike"),
    ("oscar", "Oscar Lindqvist", Role.OWNER, "mike"),
    ("otto", "Otto Weber", Role.OPERATOR, "mike"),
    ("quinn", "Quinn Rivera", Role.QUALITY, "ada"),
    ("greta", "Greta Lind", Role.QUALITY, "ada"),
]


def demo_user_names() -> list[str]:
    return [name for name, _, _, _ in _DEMO_USERS]


def seed_demo_users(engine: Engine) -> bool:
    """Give a fresh installation a small directory to try the lifecycle with; True if it seeded.

    A directory that already has anyone in it is left alone, so real users are never mixed with demo ones.
    """
    demo_hash = hash_password(DEMO_PASSWORD)
    try:
        with session_scope(engine) as session:
            if session.exec(select(User.name).limit(1)).first() is not None:
                return False
            for name, full_name, role, manager in _DEMO_USERS:
                session.add(
                    User(name=name, full_name=full_name, role=role.value, manager=manager, password_hash=demo_hash)
                )
                # One insert at a time: each row's manager must already be there for the foreign key.
                session.flush()
                after = {"role": role.value, "manager": manager, "email": None}
                log_change(session, SYSTEM_ACTOR, AdminAction.USER_ADDED, name, after=after)
                log_change(session, SYSTEM_ACTOR, AdminAction.PASSWORD_SET, name)
    except IntegrityError:
        # A concurrent caller seeded first.
        return False
    return True


def give_demo_passwords(engine: Engine) -> list[str]:
    """Give the demo password to demo users who have none (a directory seeded before sign-in existed).

    Only a directory of nothing but the demo users is touched: a real one never gets a known password.
    """
    names = demo_user_names()
    with session_scope(engine) as session:
        if set(session.exec(select(User.name)).all()) != set(names):
            return []
        users = session.exec(select(User).where(col(User.name).in_(names), col(User.password_hash).is_(None))).all()
        for user in users:
            user.password_hash = hash_password(DEMO_PASSWORD)
            session.add(user)
            log_change(session, SYSTEM_ACTOR, AdminAction.PASSWORD_SET, user.name)
        return [user.name for user in users]


# --- record ids ---------------------------------------------------------------------------------------------


def allocate_record_id(engine: Engine, year: int) -> str:
    """The next free ``NC-<year>-<seq>`` id; concurrent callers always get distinct ones.

    One atomic upsert bumps the year's counter and returns it: PostgreSQL row-locks the counter until the
    transaction ends, and SQLite takes its write lock with the statement (waiting on ``busy_timeout``).
    """
    with session_scope(engine) as session:
        return next_record_id(engine, session, year)


def next_record_id(engine: Engine, session: Session, year: int) -> str:
    """``allocate_record_id`` inside the caller's transaction (its first statement, for SQLite's write lock): the
    number is given back if the transaction rolls back."""
    if not 1000 <= year <= 9999:
        raise ValueError(f"year: {year} does not have four digits")
    first = insert_for(engine, RecordSequence).values(year=year, last=1)
    bump = first.on_conflict_do_update(index_elements=["year"], set_={"last": col(RecordSequence.last) + 1}).returning(
        col(RecordSequence.last)
    )
    number: int = session.exec(bump).scalar_one()
    return f"NC-{year}-{number:04d}"


# --- the policy in force ------------------------------------------------------------------------------------


def publish_policy(engine: Engine, policy: Policy) -> None:
    """Make ``policy`` the one new records pin (a worker calls this as it starts; the last one started wins)."""
    values = {
        "id": 1,
        "name": policy.name,
        "digest": policy.digest,
        "policy_json": policy.model_dump_json(),
        "published_at": datetime.now(UTC),
    }
    upsert = insert_for(engine, PolicyInForce).values(**values)
    upsert = upsert.on_conflict_do_update(index_elements=["id"], set_={k: v for k, v in values.items() if k != "id"})
    with session_scope(engine) as session:
        session.exec(upsert)


def policy_in_force(engine: Engine) -> Policy | None:
    """The policy the workers published, or None before any worker has started on this database."""
    with Session(engine) as session:
        row = session.get(PolicyInForce, 1)
    return Policy.model_validate_json(row.policy_json) if row is not None else None


# --- records ------------------------------------------------------------------------------------------------


class RecordSort(StrEnum):
    """What a records list may be sorted by."""

    ID = "id"
    RAISED_AT = "raised_at"
    DUE_AT = "due_at"
    SEVERITY = "severity"
    STAGE = "stage"
    OWNER = "owner"
    TITLE = "title"


class Direction(StrEnum):
    ASC = "asc"
    DESC = "desc"


# The most characters of a search or of a product or lot filter: a description pasted whole, not a document.
FILTER_TEXT_MOST = 2000


class RecordFilter(BaseModel):
    """Which records a list shows and in what order; every front end (web, API, CLI, export) fills in this one model.

        ``q``: words all found in the record's indexed text (title, description, product, lot, defect code, supplier,
        customer, root causes, actions' evidence; ``core.search``). ``owner``: the record's owner or the owner of one of
        its open actions. ``product``/``lot``: equal, ignoring case. ``site``: the record's site (records raised before
    sites belong to the default site). ``overdue``: an open record with a late clock. The
        date ranges take whole days (UTC), both ends included. Unsorted: soonest due first, nothing due last.
    """

    model_config = ConfigDict(frozen=True)

    q: Annotated[
        str | None,
        Field(
            max_length=FILTER_TEXT_MOST,
            description="Words the record's text holds, every one (title, details, lot, root causes, evidence)",
            examples=["L-2291"],
        ),
    ] = None
    stage: Annotated[Stage | None, Field(description="Only records in this stage")] = None
    severity: Annotated[Severity | None, Field(description="Only records of this severity")] = None
    source: Annotated[Source | None, Field(description="Only records found this way")] = None
    owner: Annotated[
        str | None, Field(pattern=USER_NAME_PATTERN, description="Only records this person owns or holds an action of")
    ] = None
    product: Annotated[str | None, Field(max_length=FILTER_TEXT_MOST, description="This product, any case")] = None
    lot: Annotated[str | None, Field(max_length=FILTER_TEXT_MOST, description="This lot, any case")] = None
    site: Annotated[str | None, Field(max_length=FILTER_TEXT_MOST, description="Only records of this site")] = None
    overdue: Annotated[bool, Field(description="Only open records with a late deadline")] = False
    raised_from: Annotated[date | None, Field(description="Raised on or after this day (UTC)")] = None
    raised_to: Annotated[date | None, Field(description="Raised on or before this day (UTC)")] = None
    closed_from: Annotated[date | None, Field(description="Closed on or after this day (UTC)")] = None
    closed_to: Annotated[date | None, Field(description="Closed on or before this day (UTC)")] = None
    due_from: Annotated[date | None, Field(description="Due on or after this day (UTC)")] = None
    due_to: Annotated[date | None, Field(description="Due on or before this day (UTC)")] = None
    sort: Annotated[RecordSort, Field(description="The column to sort by")] = RecordSort.DUE_AT
    direction: Annotated[Direction, Field(description="asc or desc")] = Direction.ASC

    @field_validator("q", "product", "lot", "owner", "site", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """An empty search box or filter field filters nothing."""
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @field_validator("raised_to", "closed_to", "due_to")
    @classmethod
    def _range_in_order(cls, last: date | None, info: ValidationInfo) -> date | None:
        """A range's end on or after its start (a start that was itself invalid is not there to compare)."""
        start = f"{str(info.field_name).removesuffix('_to')}_from"
        first = info.data.get(start)
        if last is not None and first is not None and last < first:
            raise PydanticCustomError("date_range", "ends before the range starts ({first})", {"first": str(first)})
        return last

    def filters(self) -> dict[str, str]:
        """The fields that filter or sort other than by default, as query parameters (for links and exports)."""
        shown = self.model_dump(mode="json", exclude_defaults=True)
        return {key: ("true" if value is True else str(value)) for key, value in shown.items()}


# The date ranges of ``RecordFilter``: (from, to) field names.
RANGES = (("raised_from", "raised_to"), ("closed_from", "closed_to"), ("due_from", "due_to"))


def list_records(
    engine: Engine,
    where: RecordFilter | None = None,
    *,
    now: datetime,
    limit: int | None = None,
    offset: int = 0,
    default_site: str | None = None,
) -> list[Nonconformity]:
    """Records passing ``where``, in its order (the record id breaks ties); ``default_site`` is the one records
    without a site belong to."""
    where = where or RecordFilter()
    query = _records_query(
        select(Nonconformity), where, now=now, dialect=engine.dialect.name, default_site=default_site
    )
    query = query.order_by(*_order(where)).offset(offset).limit(limit)
    with session_scope(engine) as session:
        return list(session.exec(query))


def record_columns(
    engine: Engine,
    where: RecordFilter,
    columns: Sequence[str],
    *,
    now: datetime,
    limit: int | None = None,
    default_site: str | None = None,
) -> list[Row[Any]]:
    """Only ``columns`` of the records passing ``where``, in its order: an export of thousands of records without
    dragging each one's state along."""
    query = sa_select(*(getattr(Nonconformity, name) for name in columns))
    query = _records_query(query, where, now=now, dialect=engine.dialect.name, default_site=default_site)
    query = query.order_by(*_order(where)).limit(limit)
    with session_scope(engine) as session:
        return list(session.connection().execute(query))


def count_records(
    engine: Engine, where: RecordFilter | None = None, *, now: datetime, default_site: str | None = None
) -> int:
    """How many records ``list_records`` would list with the same filter and no limit."""
    counted = select(func.count()).select_from(Nonconformity)
    query = _records_query(
        counted, where or RecordFilter(), now=now, dialect=engine.dialect.name, default_site=default_site
    )
    with session_scope(engine) as session:
        return session.exec(query).one()


# Severity and stage sort in their own order (critical first; the lifecycle's), not alphabetically.
_RANKS: dict[RecordSort, list[str]] = {
    RecordSort.SEVERITY: [s.value for s in Severity],
    RecordSort.STAGE: [s.value for s in Stage],
}


def _order(where: RecordFilter) -> list[ColumnElement[Any]]:
    column: ColumnElement[Any] = getattr(Nonconformity, where.sort.value)
    if where.sort in _RANKS:
        column = case({value: rank for rank, value in enumerate(_RANKS[where.sort])}, value=column, else_=99)
    elif where.sort is RecordSort.TITLE:
        column = func.lower(column)
    descending = where.direction is Direction.DESC
    ordered = column.desc() if descending else column.asc()
    # Records with nothing due come last either way: they are not the soonest nor the latest.
    ordered = nulls_last(ordered) if where.sort is RecordSort.DUE_AT else ordered
    if where.sort is RecordSort.ID:
        return [ordered]
    return [ordered, col(Nonconformity.id).asc()]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _records_query(query: Q, where: RecordFilter, *, now: datetime, dialect: str, default_site: str | None) -> Q:
    for field in ("stage", "severity", "source"):
        value = getattr(where, field)
        if value is not None:
            query = query.where(getattr(Nonconformity, field) == value.value)
    for field in ("product", "lot"):
        value = getattr(where, field)
        if value is not None:
            query = query.where(func.lower(getattr(Nonconformity, field)) == value.casefold())
    if where.site is not None:
        # Records raised before sites existed have none: they belong to the default site.
        same_site = col(Nonconformity.site) == where.site
        query = query.where(
            or_(same_site, col(Nonconformity.site).is_(None)) if where.site == default_site else same_site
        )
    if where.owner is not None:
        query = query.where(
            or_(
                col(Nonconformity.owner) == where.owner,
                _open_actions().where(col(ActionRow.owner) == where.owner).exists(),
            )
        )
    for (start, end), column in zip(
        RANGES, (col(Nonconformity.raised_at), col(Nonconformity.closed_at), col(Nonconformity.due_at)), strict=True
    ):
        first, last = getattr(where, start), getattr(where, end)
        if first is not None:
            query = query.where(column >= _day_start(first))
        if last is not None:
            query = query.where(column < _day_start(last + timedelta(days=1)))
    if where.overdue:
        stage_late = and_(col(Nonconformity.holder).is_not(None), _stage_due() < now)
        action_late = _open_actions().where(col(ActionRow.original_due_at) < now).exists()
        query = query.where(col(Nonconformity.stage).in_(_OPEN_STAGES), or_(stage_late, action_late))
    if where.q is not None:
        query = query.where(col(Nonconformity.id).in_(search.matching(where.q, dialect)))
    return query


def _open_actions() -> SelectOfScalar[str]:
    """Open actions of the record in the enclosing query, for EXISTS filters."""
    return select(col(ActionRow.action_id)).where(
        col(ActionRow.record_id) == col(Nonconformity.id), col(ActionRow.status) == ActionStatus.OPEN.value
    )


class OverdueItem(BaseModel):
    """One running deadline: a record's own stage step, or one of its actions. ``due_at`` is its original due
    and ``late_by`` counts from it: an approved extension does not make a late step on time; the extended due is
    ``revised_due_at`` (None when never extended)."""

    record_id: str
    stage: Stage
    severity: Severity
    target: str  # "stage", or the action id
    holder: str
    due_at: datetime
    late_by: timedelta
    escalation_level: int
    revised_due_at: datetime | None = None
    # The record's title ("" in items made before lists showed it).
    title: str = ""
    # Honest pauses: "paused — waiting on supplier until 2026-03-20" when the clock is paused (not late then).
    paused: str | None = None


def _stage_due() -> ColumnElement[datetime]:
    """A stage clock's original due (rows written before it was kept have only the current one)."""
    return func.coalesce(col(Nonconformity.original_due_at), col(Nonconformity.due_at))


def overdue_items(
    engine: Engine,
    now: datetime,
    *,
    severity: Severity | None = None,
    stage: Stage | None = None,
    holders: list[str] | None = None,
) -> list[OverdueItem]:
    """Every deadline past due, most urgent first: highest escalation level, then longest late; only those of
    records of ``severity``, in ``stage``, or held by one of ``holders``, when given."""
    records: list[ColumnElement[bool]] = []
    if severity is not None:
        records.append(col(Nonconformity.severity) == severity.value)
    if stage is not None:
        records.append(col(Nonconformity.stage) == stage.value)
    stage_held = [col(Nonconformity.holder).in_(holders)] if holders is not None else []
    action_held = [col(ActionRow.owner).in_(holders)] if holders is not None else []
    items = _deadlines(
        engine,
        now,
        stage_filter=and_(_stage_due() < now, *records, *stage_held),
        action_filter=and_(col(ActionRow.original_due_at) < now, *records, *action_held),
    )
    return sorted(_with_pauses(engine, items), key=lambda i: (-i.escalation_level, -i.late_by, i.record_id, i.target))


def _with_pauses(engine: Engine, items: list[OverdueItem]) -> list[OverdueItem]:
    """Honest pauses: the items whose clock is paused, marked so (their records' stored state says which)."""
    ids = sorted({item.record_id for item in items})
    if not ids:
        return items
    with session_scope(engine) as session:
        rows = session.exec(
            select(col(Nonconformity.id), col(Nonconformity.state_json)).where(col(Nonconformity.id).in_(ids))
        ).all()
    paused = {record_id: pauses.paused_targets(state_json) for record_id, state_json in rows}
    return [
        item.model_copy(update={"paused": label})
        if (label := paused.get(item.record_id, {}).get(item.target))
        else item
        for item in items
    ]


def _deadlines(
    engine: Engine, now: datetime, *, stage_filter: ColumnElement[bool], action_filter: ColumnElement[bool]
) -> list[OverdueItem]:
    """The running deadlines of open records that pass the filters: stage clocks first, then open actions.

    A record's stage clock is read from its row (``holder``, ``due_at``, ``escalation_level``): the workflow
    stops the stage clock when the plan is in, so while it runs no action clock does and those columns are
    the stage clock's own.
    """
    # Only the columns the lists show: whole rows would drag each record's state_json along.
    record_columns = (
        col(Nonconformity.id),
        col(Nonconformity.title),
        col(Nonconformity.stage),
        col(Nonconformity.severity),
        col(Nonconformity.holder),
        col(Nonconformity.due_at),
        col(Nonconformity.escalation_level),
        _stage_due().label("original_due_at"),
    )
    with session_scope(engine) as session:
        # Plain column rows through the connection: sqlmodel's typed select() stops at four columns.
        connection = session.connection()
        records = connection.execute(
            sa_select(*record_columns).where(
                col(Nonconformity.stage).in_(_OPEN_STAGES),
                col(Nonconformity.holder).is_not(None),
                col(Nonconformity.due_at).is_not(None),
                stage_filter,
            )
        ).all()
        actions: list[Row[Any]] = list(
            connection.execute(
                sa_select(
                    col(ActionRow.action_id),
                    col(ActionRow.owner),
                    col(ActionRow.due_at),
                    col(ActionRow.original_due_at),
                    col(ActionRow.escalation_level),
                    col(Nonconformity.id).label("record_id"),
                    col(Nonconformity.title),
                    col(Nonconformity.stage),
                    col(Nonconformity.severity),
                )
                .join(Nonconformity, col(ActionRow.record_id) == col(Nonconformity.id))
                .where(
                    col(Nonconformity.stage).in_(_OPEN_STAGES),
                    col(ActionRow.status) == ActionStatus.OPEN.value,
                    action_filter,
                )
            )
        )
    items = [
        OverdueItem(
            record_id=record.id,
            stage=Stage(record.stage),
            severity=Severity(record.severity),
            target="stage",
            holder=record.holder,
            due_at=record.original_due_at,
            late_by=now - record.original_due_at,
            escalation_level=record.escalation_level,
            revised_due_at=record.due_at if record.due_at != record.original_due_at else None,
            title=record.title,
        )
        for record in records
    ]
    items.extend(
        OverdueItem(
            record_id=action.record_id,
            stage=Stage(action.stage),
            severity=Severity(action.severity),
            target=action.action_id,
            holder=action.owner,
            due_at=action.original_due_at,
            late_by=now - action.original_due_at,
            escalation_level=action.escalation_level,
            revised_due_at=action.due_at if action.due_at != action.original_due_at else None,
            title=action.title,
        )
        for action in actions
    )
    return items


def existing_records(engine: Engine, record_ids: list[str]) -> set[str]:
    """Which of ``record_ids`` the read model holds."""
    with session_scope(engine) as session:
        return set(session.exec(select(col(Nonconformity.id)).where(col(Nonconformity.id).in_(record_ids))).all())


class LinkedRecord(BaseModel):
    """A link as one record reads it: how it relates (``duplicate-of``, or from the other side ``duplicated-by``),
    the other record, its title and stage (None when it is not in the read model), and who linked them."""

    kind: str
    record_id: str
    title: str | None = None
    stage: str | None = None
    by: str
    at: datetime


def links_of(engine: Engine, state: CapaState) -> list[LinkedRecord]:
    """Every link of the record, both ways: those it made (its ``links``) and those other records made to it
    (their raise or link entries naming it)."""
    found: list[tuple[str, str, str, datetime]] = [
        (link.kind.value, link.record_id, link.by, link.at) for link in state.links
    ]
    with session_scope(engine) as session:
        rows = session.exec(
            select(TimelineEvent).where(
                col(TimelineEvent.kind).in_([EventKind.LINKED.value, EventKind.RAISED.value]),
                col(TimelineEvent.details).contains(state.id),
                col(TimelineEvent.record_id) != state.id,
            )
        ).all()
        for row in rows:
            details = json.loads(row.details)
            named = details.get("links") or [] if row.kind == EventKind.RAISED.value else [details]
            for link in named:
                if link.get("record_id") == state.id:
                    found.append((LinkKind(link["kind"]).reverse, row.record_id, row.actor, row.at))
        others = {other for _, other, _, _ in found}
        records = {r.id: r for r in session.exec(select(Nonconformity).where(col(Nonconformity.id).in_(others))).all()}
    return [
        LinkedRecord(
            kind=kind,
            record_id=other,
            title=records[other].title if other in records else None,
            stage=records[other].stage if other in records else None,
            by=by,
            at=at,
        )
        for kind, other, by, at in sorted(found, key=lambda link: link[3])
    ]


def load_record_state(engine: Engine, record_id: str) -> CapaState | None:
    """Rebuild a record from its row and timeline, for records whose workflow Temporal no longer keeps."""
    with session_scope(engine) as session:
        record = session.get(Nonconformity, record_id)
        if record is None:
            return None
        rows = session.exec(
            select(TimelineEvent).where(col(TimelineEvent.record_id) == record_id).order_by(col(TimelineEvent.seq))
        ).all()
    events = [
        Event(
            seq=row.seq,
            at=row.at,
            kind=EventKind(row.kind),
            actor=row.actor,
            details=json.loads(row.details),
            hash=row.hash,
        )
        for row in rows
    ]
    return CapaState.model_validate({**json.loads(record.state_json), "events": events})


# The entries that say whether a plan amendment was returned (``rules.amendment_returned``).
_PLAN_ENTRIES = [EventKind.PLAN_AMENDED.value, EventKind.PLAN_DECIDED.value]


def open_record_states(engine: Engine, *, concerning: str | None = None) -> list[CapaState]:
    """Every open record's state, in one query: what "My work" applies the rules to. ``concerning`` keeps only
    the records a person owns or holds an open action of (all a person who is neither manager nor quality may
    act on).

    A state carries one timeline entry, its latest plan amendment or plan decision (if any): enough for
    ``rules.amendment_returned``, and far less to read than the timelines. States are shared between callers
    (``_state_of``): read them, never change them.
    """
    latest = (
        sa_select(func.max(col(TimelineEvent.seq)))
        .where(col(TimelineEvent.record_id) == col(Nonconformity.id), col(TimelineEvent.kind).in_(_PLAN_ENTRIES))
        .correlate(Nonconformity)
        .scalar_subquery()
    )
    query = (
        sa_select(
            col(Nonconformity.state_json),
            col(TimelineEvent.seq),
            col(TimelineEvent.at),
            col(TimelineEvent.kind),
            col(TimelineEvent.actor),
            col(TimelineEvent.details),
            col(TimelineEvent.hash),
        )
        .outerjoin(
            TimelineEvent,
            and_(col(TimelineEvent.record_id) == col(Nonconformity.id), col(TimelineEvent.seq) == latest),
        )
        .where(col(Nonconformity.stage).in_(_OPEN_STAGES))
    )
    if concerning is not None:
        query = query.where(
            or_(
                col(Nonconformity.owner) == concerning,
                _open_actions().where(col(ActionRow.owner) == concerning).exists(),
            )
        )
    with session_scope(engine) as session:
        rows = session.connection().execute(query).all()
    return [_state_of(row.state_json, tuple(row[1:]) if row.seq is not None else None) for row in rows]


# How many parsed open states are kept: parsing is most of what "My work" costs, and a record's state changes far
# less often than a page counts its work.
_STATES_KEPT = 4096


@lru_cache(maxsize=_STATES_KEPT)
def _state_of(state_json: str, plan_entry: tuple[Any, ...] | None) -> CapaState:
    """A record's state parsed from its row, with its latest plan entry (seq, at, kind, actor, details, hash);
    kept by that very content, so a changed row is parsed afresh. Callers must not change it."""
    events = []
    if plan_entry is not None:
        seq, at, kind, actor, details, chained = plan_entry
        events.append(
            Event(seq=seq, at=at, kind=EventKind(kind), actor=actor, details=json.loads(details), hash=chained)
        )
    return CapaState.model_validate({**json.loads(state_json), "events": events})
