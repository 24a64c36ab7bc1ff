"""Recurrence sentinels in the database: the record id each firing opens its linked CAPA under.

A firing is keyed by its sentinel's workflow id, the sentinel's first run id and the firing's number. Its record id
comes from the record counter every raise uses (``readmodel.next_record_id``), exactly once: the id is allocated and
the firing's row inserted in one transaction, and a concurrent attempt for the same firing loses on the primary key,
rolls its allocation back and reads the winner's id.
"""

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from core.database import insert_for, session_scope
from core.readmodel import next_record_id
from models.tables import SentinelFiring


class _Lost(Exception):
    """Another attempt stored the firing first (rolls this attempt's allocation back)."""


def stored_firing(engine: Engine, sentinel: str, first_run: str, firing: int) -> str | None:
    """The record id of one firing, if allocated."""
    with Session(engine) as session:
        found: str | None = session.exec(
            select(SentinelFiring.record_id).where(
                col(SentinelFiring.sentinel) == sentinel,
                col(SentinelFiring.first_run) == first_run,
                col(SentinelFiring.firing) == firing,
            )
        ).first()
    return found


def firing_record_id(engine: Engine, sentinel: str, first_run: str, firing: int, year: int) -> str:
    """The record id of one firing: the stored one, else the next of ``year``'s counter, stored with the firing."""
    found = stored_firing(engine, sentinel, first_run, firing)
    if found is not None:
        return found
    try:
        with session_scope(engine) as session:
            record_id = next_record_id(engine, session, year)
            stored = (
                insert_for(engine, SentinelFiring)
                .values(
                    sentinel=sentinel,
                    first_run=first_run,
                    firing=firing,
                    record_id=record_id,
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=["sentinel", "first_run", "firing"])
                .returning(col(SentinelFiring.record_id))
            )
            if session.exec(stored).first() is None:
                raise _Lost
    except _Lost:
        found = stored_firing(engine, sentinel, first_run, firing)
        assert found is not None
        return found
    return record_id
