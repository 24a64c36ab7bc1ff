"""The notification outbox: one row per recipient and channel of an event, delivered exactly once.

``enqueue`` turns a notice into rows (idempotently: the key is record, seq, recipient, channel); ``queue`` does
that for a notifying activity and, in the same transaction, marks the log rows sent; ``dispatch`` starts one
``DeliveryWorkflow`` per other row, whose activity sends it and marks it sent; front-ends list the rows
and put a failed one back on its way with ``retry_message``.
"""

import asyncio
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import Engine, Insert, func, update
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from core import sites
from core.database import insert_for_dialect, session_scope, table_of, write_scope
from core.readmodel import email_enabled
from core.settings import Settings, get_settings
from models.delivery import DELIVERY_WORKFLOW, DeliveryInput
from models.durations import format_duration
from models.enums import Channel, OutboxStatus, Role
from models.payloads import Notice
from models.tables import Nonconformity, OutboxMessage, User, Watcher

log = structlog.get_logger(__name__)

_RECORD_ID = re.compile(r"NC-\d{4}-\d{4,}")
_KEY = ["record_id", "seq", "recipient", "channel"]

# From a worker thread, how long to wait for the event loop to have started the delivery workflows.
_DISPATCH_TIMEOUT_S = 60.0


@functools.cache
def _insert_statement(dialect: str) -> Insert:
    """The outbox insert, built once per dialect: a multi-row VALUES statement would be compiled at every notice."""
    return insert_for_dialect(dialect, table_of(OutboxMessage)).on_conflict_do_nothing(index_elements=_KEY)


@dataclass(frozen=True)
class Queued:
    """What ``queue`` did: the log rows it marked sent, for the caller to log, and the rows awaiting delivery."""

    logged: list[OutboxMessage]
    pending: list[int]


def queue(engine: Engine, notices: list[Notice], settings: Settings, *, as_of: datetime | None = None) -> Queued:
    """``enqueue`` every notice and ``claim_log_rows`` of them in one write transaction; also name the rows pending.

    What a notifying activity needs, with one commit instead of one per part. Idempotent like its parts: a
    repeated call inserts nothing and claims nothing, and names the rows still pending.
    """
    with session_scope(engine) as session:
        planned = [(notice, _rows(session, notice, settings, as_of)) for notice in notices]
    if not any(rows for _, rows in planned):
        # Nobody to tell (a step only watchers hear of, on a record nobody watches): no write at all.
        return Queued(logged=[], pending=[])
    with write_scope(engine) as session:
        ids = [row_id for notice, rows in planned for row_id in _insert(session, notice, rows)]
        logged = _claim(session, ids)
        pending = _pending(session, ids)
    return Queued(logged=logged, pending=pending)


def enqueue(engine: Engine, notice: Notice, settings: Settings, *, as_of: datetime | None = None) -> list[int]:
    """Queue ``notice`` on every channel that applies; return the ids of its rows, old and new.

    Each person gets a log row; an e-mail row too when SMTP is configured, the directory has their address
    and they have not turned that kind off. Each configured webhook endpoint gets one row for the event.
    Calling it again for the same notice inserts nothing and returns the same ids. ``as_of`` (default: the
    clock) is the moment the message tells how late the record is at.
    """
    # Read first, in its own transaction, so the write transaction below starts with its insert.
    with session_scope(engine) as session:
        rows = _rows(session, notice, settings, as_of)
    with write_scope(engine) as session:
        return _insert(session, notice, rows)


def _rows(session: Session, notice: Notice, settings: Settings, as_of: datetime | None) -> list[dict[str, Any]]:
    """The outbox rows of ``notice``, pending; ``as_of`` as in ``enqueue``."""
    people = _people(session, notice)
    if notice.watchers_only and not people:
        # A step only watchers hear of, on a record nobody watches.
        return []
    if not people:
        log.warning("notice names nobody: only webhooks get it", record_id=notice.record_id, kind=notice.kind.value)
    now = datetime.now(UTC)
    is_record = _RECORD_ID.fullmatch(notice.record_id) is not None
    link = settings.record_link(notice.record_id) if is_record else settings.base_url
    details = json.dumps(_facts(session, notice, people, as_of or now) if is_record else {"people": people})
    common = {
        "record_id": notice.record_id,
        "seq": notice.seq,
        "kind": notice.kind.value,
        "subject": notice.subject,
        "body": notice.body,
        "link": link,
        "address": None,
        "created_at": now,
        "status": OutboxStatus.PENDING.value,
        "details": details,
    }
    rows = [{**common, "recipient": p, "channel": Channel.LOG.value} for p in people]
    if settings.email_enabled:
        rows.extend(
            {
                **common,
                "recipient": p,
                "channel": Channel.EMAIL.value,
                "address": address,
                # Each e-mail shows its times in its recipient's zone (``activities.email``).
                "details": json.dumps(json.loads(details) | {"time_zone": _zone_of(session, p, settings)}),
            }
            for p, address in _email_addresses(session, notice, people).items()
        )
    if not notice.watchers_only:
        rows.extend(
            {**common, "recipient": url, "channel": Channel.WEBHOOK.value, "address": url}
            for url in settings.webhook_urls
        )
    return rows


def _insert(session: Session, notice: Notice, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows not stored yet; the ids of all of them, old and new."""
    if not rows:
        return []
    wanted = {(row["recipient"], row["channel"]) for row in rows}
    session.execute(_insert_statement(session.get_bind().dialect.name), rows)
    stored = session.exec(
        select(OutboxMessage.id, OutboxMessage.recipient, OutboxMessage.channel).where(
            col(OutboxMessage.record_id) == notice.record_id, col(OutboxMessage.seq) == notice.seq
        )
    ).all()
    return sorted(row_id for row_id, recipient, channel in stored if row_id and (recipient, channel) in wanted)


def _zone_of(session: Session, name: str, settings: Settings) -> str:
    """The zone ``name`` reads times in (``core.sites``)."""
    return sites.zone_in(session, session.get(User, name), settings.site_name, settings.site_time_zone)


def _email_addresses(session: Any, notice: Notice, people: list[str]) -> dict[str, str]:
    """The people of the notice who get it by e-mail, with their addresses."""
    addresses = {}
    for name in people:
        user = session.get(User, name)
        if user is None or not user.email:
            why = "the directory has no address"
        elif not email_enabled(session, name, notice.kind.value):
            why = "turned off by the recipient"
        else:
            addresses[name] = user.email
            continue
        log.info(
            f"no e-mail: {why}", record_id=notice.record_id, seq=notice.seq, recipient=name, kind=notice.kind.value
        )
    return addresses


def _people(session: Session, notice: Notice) -> list[str]:
    """Whom the notice reaches: the people it names, the manager of each person it names for that (the admins
    stand in for a manager the directory does not name, as they do at the top of an escalation), every active
    person of the roles it names, and the record's active watchers but the person whose step it tells of."""
    managers = [
        user.manager for name in notice.managers_of if (user := session.get(User, name)) is not None and user.manager
    ]
    if notice.managers_of and not managers:
        managers = list(
            session.exec(select(col(User.name)).where(col(User.role) == Role.ADMIN.value).order_by(col(User.name)))
        )
        managers = [name for name in managers if name not in notice.managers_of]
        log.info("notice goes to the admins: no manager", record_id=notice.record_id, managers_of=notice.managers_of)
    holders_of_roles = list(
        session.exec(
            select(col(User.name))
            .where(col(User.role).in_([role.value for role in notice.roles]), col(User.active))
            .order_by(col(User.name))
        )
        if notice.roles
        else []
    )
    watchers = [
        name
        for name in session.exec(
            select(col(Watcher.user_name))
            .join(User, col(User.name) == col(Watcher.user_name))
            .where(col(Watcher.record_id) == notice.record_id, col(User.active))
            .order_by(col(Watcher.user_name))
        )
        if name != notice.actor
    ]
    return list(dict.fromkeys([*notice.recipients, *managers, *holders_of_roles, *watchers]))


def _facts(session: Any, notice: Notice, people: list[str], now: datetime) -> dict[str, Any]:
    """What the message shows besides its subject: the record as the read model has it when queued."""
    facts: dict[str, Any] = {"people": people}
    record = session.get(Nonconformity, notice.record_id)
    if record is None:
        return facts
    facts |= {
        "title": record.title,
        "severity": record.severity,
        "stage": record.stage,
        "owner": record.owner,
        "holder": record.holder,
        "due_at": record.due_at.isoformat() if record.due_at else None,
        "escalation_level": record.escalation_level,
    }
    if record.due_at is not None and record.due_at < now and record.holder is not None:
        facts["late_by"] = format_duration(now - record.due_at)
    return facts


def claim_log_rows(engine: Engine, row_ids: list[int]) -> list[OutboxMessage]:
    """Mark the pending log-channel rows among ``row_ids`` sent and return them, for the caller to log.

    Writing a log line cannot fail, so it needs no delivery workflow; the conditional update makes a retried
    or concurrent caller get (and log) nothing.
    """
    if not row_ids:
        return []
    with write_scope(engine) as session:
        return _claim(session, row_ids)


def _claim(session: Session, row_ids: list[int]) -> list[OutboxMessage]:
    if not row_ids:
        return []
    claimed = session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id).in_(row_ids),
            col(OutboxMessage.channel) == Channel.LOG.value,
            col(OutboxMessage.status) == OutboxStatus.PENDING.value,
        )
        .values(status=OutboxStatus.SENT.value, sent_at=datetime.now(UTC), attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage)
    ).all()
    return sorted((row for (row,) in claimed), key=lambda r: (r.recipient, r.id or 0))


def _pending(session: Session, row_ids: list[int]) -> list[int]:
    if not row_ids:
        return []
    found = session.exec(
        select(OutboxMessage.id).where(
            col(OutboxMessage.id).in_(row_ids), col(OutboxMessage.status) == OutboxStatus.PENDING.value
        )
    ).all()
    return sorted(row_id for row_id in found if row_id is not None)


async def dispatch(client: Client, task_queue: str, row_ids: list[int], *, max_attempts: int | None = None) -> None:
    """Start a ``DeliveryWorkflow`` (id ``deliver-<row id>``) per row; one already running is left alone.

    Starting a finished one again is harmless: the delivery sees the row sent (or failed) and does nothing.
    """
    attempts = max_attempts if max_attempts is not None else get_settings().notify_max_attempts
    await asyncio.gather(*(_start(client, task_queue, f"deliver-{r}", r, attempts) for r in row_ids))


async def _start(client: Client, task_queue: str, workflow_id: str, row_id: int, max_attempts: int) -> None:
    try:
        await client.start_workflow(
            DELIVERY_WORKFLOW,
            DeliveryInput(row_id=row_id, max_attempts=max_attempts),
            id=workflow_id,
            task_queue=task_queue,
        )
    except WorkflowAlreadyStartedError:
        log.debug("delivery already running", row_id=row_id, workflow_id=workflow_id)


def thread_dispatcher(
    client: Client, loop: asyncio.AbstractEventLoop, *, max_attempts: int
) -> Callable[[str, list[int]], None]:
    """``dispatch`` for synchronous activities: runs it on the worker's event loop and waits for it."""

    def dispatch_from_thread(task_queue: str, row_ids: list[int]) -> None:
        future = asyncio.run_coroutine_threadsafe(
            dispatch(client, task_queue, row_ids, max_attempts=max_attempts), loop
        )
        future.result(timeout=_DISPATCH_TIMEOUT_S)

    return dispatch_from_thread


def list_messages(
    engine: Engine, *, failed_only: bool = False, limit: int = 200, offset: int = 0
) -> list[OutboxMessage]:
    """The newest outbox rows first; only the failed ones with ``failed_only``."""
    query = select(OutboxMessage)
    if failed_only:
        query = query.where(col(OutboxMessage.status) == OutboxStatus.FAILED.value)
    query = query.order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
    with session_scope(engine) as session:
        return list(session.exec(query.offset(offset).limit(limit)))


def count_messages(engine: Engine, *, failed_only: bool = False) -> int:
    """How many rows ``list_messages`` would list with no limit."""
    query = select(func.count()).select_from(OutboxMessage)
    if failed_only:
        query = query.where(col(OutboxMessage.status) == OutboxStatus.FAILED.value)
    with session_scope(engine) as session:
        return session.exec(query).one()


async def retry_message(
    engine: Engine, client: Client, task_queue: str, row_id: int, *, max_attempts: int | None = None
) -> None:
    """Put a failed row back to pending and start a fresh delivery of it.

    Raises ValueError (one line) for an unknown id or a row that is not failed.
    """
    attempts = await asyncio.to_thread(_reopen, engine, row_id)
    limit = max_attempts if max_attempts is not None else get_settings().notify_max_attempts
    try:
        await _start(client, task_queue, f"deliver-{row_id}-retry-{attempts}", row_id, limit)
    except BaseException:
        # No delivery was started: put the row back to failed so it can be retried again, not stranded.
        await asyncio.to_thread(_refail, engine, row_id, attempts)
        raise


def _refail(engine: Engine, row_id: int, attempts: int) -> None:
    with write_scope(engine) as session:
        session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id) == row_id,
                col(OutboxMessage.status) == OutboxStatus.PENDING.value,
                col(OutboxMessage.attempts) == attempts,
            )
            .values(status=OutboxStatus.FAILED.value)
        )


def _reopen(engine: Engine, row_id: int) -> int:
    with write_scope(engine) as session:
        reopened = session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == OutboxStatus.FAILED.value)
            .values(status=OutboxStatus.PENDING.value)
            .returning(col(OutboxMessage.attempts))
        ).first()
        if reopened is not None:
            return int(reopened[0])
        row = session.get(OutboxMessage, row_id)
    if row is None:
        raise ValueError(f"no notification with id {row_id}")
    raise ValueError(f"notification {row_id} is {row.status}; only a failed one can be retried")


def start_attempt(engine: Engine, row_id: int) -> OutboxMessage | None:
    """Count one more delivery attempt of a pending row and return it; None if it is not pending."""
    with write_scope(engine) as session:
        row = session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) == OutboxStatus.PENDING.value)
            .values(attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage)
        ).first()
    return None if row is None else row[0]


def get_message(engine: Engine, row_id: int) -> OutboxMessage | None:
    with session_scope(engine) as session:
        return session.get(OutboxMessage, row_id)


def record_error(engine: Engine, row_id: int, error: str) -> None:
    """Keep why the last attempt failed; the row stays pending while retries remain."""
    with write_scope(engine) as session:
        session.exec(update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(last_error=error))


def mark_sent(engine: Engine, row_id: int) -> None:
    with write_scope(engine) as session:
        session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id)
            .values(status=OutboxStatus.SENT.value, sent_at=datetime.now(UTC), last_error=None)
        )


def mark_failed(engine: Engine, row_id: int, error: str) -> OutboxMessage | None:
    """Give up on a row; one already sent stays sent. Returns the row as it now is."""
    with write_scope(engine) as session:
        session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.status) != OutboxStatus.SENT.value)
            .values(status=OutboxStatus.FAILED.value, last_error=error)
        )
        return session.get(OutboxMessage, row_id)
