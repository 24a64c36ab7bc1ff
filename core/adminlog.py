"""The admin log: every change to the directory and the API tokens, chained like a record's timeline.

The functions that make such a change (``core.readmodel.add_user``, ``core.accounts.set_password`` and the rest)
call ``log_change`` in their own transaction, so a change and its entry are committed together or not at all.
``before`` and ``after`` name the fields that changed; a password, a password hash or a token's secret never
goes in (a password change is logged as ``password_set`` with nothing before or after).
"""

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, text
from sqlmodel import Session, col, select

from core.database import session_scope
from models import chain
from models.enums import AdminAction
from models.tables import AdminLogEntry, User

# Fields that must never reach the log, whatever a caller passes.
_SECRET_FIELDS = {"password", "password_hash", "secret", "secret_hash"}
# PostgreSQL: one writer of the log at a time, so two changes never take the same seq or chain to the same entry.
_LOCK_KEY = 0x41444D4E  # "ADMN"


def log_change(
    session: Session,
    actor: str,
    action: AdminAction,
    target: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AdminLogEntry:
    """Append one entry, chained to the last one, in ``session``'s transaction."""
    before, after = _public(before), _public(after)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    last = session.exec(select(AdminLogEntry).order_by(col(AdminLogEntry.seq).desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    previous = chain.GENESIS if last is None else last.hash
    # The database keeps microseconds; the hash covers the time as it will be read back.
    at = datetime.now(UTC)
    content = chain.admin_content(
        seq, at=at, actor=actor, action=action.value, target=target, before=before, after=after
    )
    entry = AdminLogEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action.value,
        target=target,
        before=json.dumps(before),
        after=json.dumps(after),
        hash=chain.link(previous, content),
    )
    session.add(entry)
    session.flush()
    return entry


def read_log(
    engine: Engine, *, target: str | None = None, limit: int, offset: int = 0
) -> tuple[list[AdminLogEntry], int]:
    """The log newest first (only the entries about ``target``, if given): ``limit`` of them from ``offset``, and
    how many there are in all."""
    entries = select(AdminLogEntry)
    count = select(func.count()).select_from(AdminLogEntry)
    if target is not None:
        entries = entries.where(col(AdminLogEntry.target) == target)
        count = count.where(col(AdminLogEntry.target) == target)
    with session_scope(engine) as session:
        rows = list(session.exec(entries.order_by(col(AdminLogEntry.seq).desc()).offset(offset).limit(limit)))
        total = session.exec(count).one()
    return rows, total


# The directory fields whose change the log names, each with its action.
_FIELD_ACTIONS = {
    "role": AdminAction.ROLE_CHANGED,
    "manager": AdminAction.MANAGER_CHANGED,
    "email": AdminAction.EMAIL_CHANGED,
    "full_name": AdminAction.FULL_NAME_CHANGED,
    "site": AdminAction.HOME_SITE_CHANGED,
    "time_zone": AdminAction.TIME_ZONE_CHANGED,
}


def log_user_changes(session: Session, actor: str, before: User, after: User) -> list[AdminLogEntry]:
    """One entry per directory field (role, manager, e-mail, full name, home site, zone) that differs between
    ``before`` and ``after`` (the same person's row before and after a change), with its old and new value."""
    entries = []
    for field, action in _FIELD_ACTIONS.items():
        old, new = getattr(before, field, None), getattr(after, field, None)
        if old != new:
            entries.append(log_change(session, actor, action, after.name, before={field: old}, after={field: new}))
    return entries


def _public(fields: dict[str, Any] | None) -> dict[str, Any]:
    """``fields`` as JSON values, without any secret."""
    kept = {key: value for key, value in (fields or {}).items() if key not in _SECRET_FIELDS}
    loaded: dict[str, Any] = json.loads(json.dumps(kept, default=str))
    return loaded
