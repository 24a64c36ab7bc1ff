"""A person's notifications in the app: their log-channel outbox rows (every notice gives each person it reaches
one), newest first, with when they read each; and the records they watch, whose notices reach them too.

Reading a row marks only that person's own rows: someone else's row (or one on another channel) is not found.
"""

from datetime import UTC, datetime

from sqlalchemy import Engine, func, update
from sqlmodel import col, delete, select

from core.database import insert_for, session_scope, write_scope
from models.enums import Channel
from models.tables import OutboxMessage, Watcher


def _theirs(name: str, *, unread_only: bool = False) -> list[object]:
    """The conditions that pick ``name``'s notifications (only the unread ones with ``unread_only``)."""
    where: list[object] = [col(OutboxMessage.recipient) == name, col(OutboxMessage.channel) == Channel.LOG.value]
    if unread_only:
        where.append(col(OutboxMessage.read_at).is_(None))
    return where


def list_mine(
    engine: Engine, name: str, *, unread_only: bool = False, limit: int = 50, offset: int = 0
) -> list[OutboxMessage]:
    """``name``'s notifications, newest first."""
    query = (
        select(OutboxMessage)
        .where(*_theirs(name, unread_only=unread_only))  # type: ignore[arg-type]
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .offset(offset)
        .limit(limit)
    )
    with session_scope(engine) as session:
        return list(session.exec(query))


def count_mine(engine: Engine, name: str, *, unread_only: bool = False) -> int:
    """How many notifications ``name`` has (only the unread ones with ``unread_only``)."""
    query = select(func.count()).select_from(OutboxMessage).where(*_theirs(name, unread_only=unread_only))  # type: ignore[arg-type]
    with session_scope(engine) as session:
        return session.exec(query).one()


def mark_read(engine: Engine, name: str, row_id: int) -> OutboxMessage | None:
    """Mark ``name``'s notification ``row_id`` read (once: reading it again keeps the first time) and return it;
    None when ``name`` has no notification with that id."""
    with write_scope(engine) as session:
        session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id, col(OutboxMessage.read_at).is_(None), *_theirs(name))  # type: ignore[arg-type]
            .values(read_at=datetime.now(UTC))
        )
        return session.exec(select(OutboxMessage).where(col(OutboxMessage.id) == row_id, *_theirs(name))).first()  # type: ignore[arg-type]


def mark_all_read(engine: Engine, name: str) -> int:
    """Mark every unread notification of ``name`` read; how many were."""
    with write_scope(engine) as session:
        result = session.exec(
            update(OutboxMessage).where(*_theirs(name, unread_only=True)).values(read_at=datetime.now(UTC))  # type: ignore[arg-type]
        )
        return int(result.rowcount)


def watch(engine: Engine, record_id: str, name: str) -> bool:
    """``name`` watches the record from now on; False when they already did (nothing changes)."""
    row = {"record_id": record_id, "user_name": name, "since": datetime.now(UTC)}
    with write_scope(engine) as session:
        statement = insert_for(engine, Watcher).values(row).on_conflict_do_nothing()
        return bool(session.exec(statement).rowcount)


def unwatch(engine: Engine, record_id: str, name: str) -> bool:
    """``name`` stops watching the record; False when they did not watch it."""
    with write_scope(engine) as session:
        result = session.exec(
            delete(Watcher).where(col(Watcher.record_id) == record_id, col(Watcher.user_name) == name)
        )
        return bool(result.rowcount)


def watchers_of(engine: Engine, record_id: str) -> list[str]:
    """Who watches the record, by name."""
    query = select(col(Watcher.user_name)).where(col(Watcher.record_id) == record_id).order_by(col(Watcher.user_name))
    with session_scope(engine) as session:
        return list(session.exec(query))
