"""settle_step: an attempt kept waiting by the database keeps telling Temporal it is alive.

The record starts ``settle_step`` with a short heartbeat timeout, so an attempt whose worker dies is retried
within seconds; that only works if a live attempt heartbeats while its write waits, rather than being timed
out and run twice."""

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities
from activities.records import WRITE_PATIENCE_S, RecordActivities, write_change, write_snapshot
from activities.steps import StepActivities
from core.database import make_engine
from core.migrations import ensure_schema
from core.readmodel import load_record_state
from models.enums import EventKind, Stage
from models.payloads import RecordChange, RecordSnapshot, StepEffects
from models.tables import Nonconformity
from tests.builders import event, state


@contextmanager
def _another_writer_holds(engine: Engine) -> Iterator[Callable[[], None]]:
    """Another process's transaction holds the records table until the callable given to the block is called."""
    if engine.dialect.name == "sqlite":
        holder = sqlite3.connect(engine.url.database or "", isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield holder.commit
        finally:
            holder.close()
        return
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.exec_driver_sql("LOCK TABLE nonconformities IN EXCLUSIVE MODE")
        yield transaction.commit


async def test_a_write_waiting_on_a_locked_database_heartbeats_until_it_lands(engine: Engine) -> None:
    """While another writer holds the database, the attempt heartbeats; once the lock goes the write lands."""
    env = ActivityEnvironment()
    beats: list[float] = []
    beaten_twice = threading.Event()

    def on_heartbeat(*_details: object) -> None:
        beats.append(0)
        if len(beats) >= 3:  # the first at once, then one a second
            beaten_twice.set()

    env.on_heartbeat = on_heartbeat
    records = RecordActivities(engine)
    steps = StepActivities(records, NotificationActivities(engine), cast(Client, None))
    capa = state()
    effects = StepEffects(
        record_id=capa.id, snapshot=RecordSnapshot(state=capa, new_events=[event(1)]), notices_decided=True
    )

    with _another_writer_holds(engine) as release:
        releaser = threading.Thread(target=lambda: (beaten_twice.wait(8), release()))
        releaser.start()
        await env.run(steps.settle_step, effects)
        releaser.join()

    assert beaten_twice.is_set(), f"only {len(beats)} heartbeat(s) while the write waited"
    with Session(engine) as session:
        assert session.exec(select(Nonconformity.id)).all() == [capa.id]


async def test_a_write_the_database_holds_off_for_long_fails_its_attempt_early_for_a_retry(tmp_path: Path) -> None:
    """SQLite locked for longer than WRITE_PATIENCE_S (an outage): the attempt fails within about twice that,
    well inside its 15 s, so no thread of the activity's is left waiting and a retry after the lock lands."""
    engine = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
    ensure_schema(engine)
    records = RecordActivities(engine)
    steps = StepActivities(records, NotificationActivities(engine), cast(Client, None))
    capa = state()
    effects = StepEffects(
        record_id=capa.id, snapshot=RecordSnapshot(state=capa, new_events=[event(1)]), notices_decided=True
    )

    with _another_writer_holds(engine):
        began = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            await ActivityEnvironment().run(steps.settle_step, effects)
        waited = time.monotonic() - began
    assert WRITE_PATIENCE_S <= waited < 2 * WRITE_PATIENCE_S + 1, waited

    await ActivityEnvironment().run(steps.settle_step, effects)
    with Session(engine) as session:
        assert session.exec(select(Nonconformity.id)).all() == [capa.id]


async def test_a_step_whose_predecessor_lands_a_moment_later_is_written_without_asking_the_record(
    engine: Engine,
) -> None:
    """After an outage a record's missed writes land one after another: the next step's write waits the moment
    for the one before it instead of asking the record's workflow (there is none here: a query would fail)."""
    records = RecordActivities(engine)
    steps = StepActivities(records, NotificationActivities(engine), cast(Client, None))
    capa = state()
    write_snapshot(engine, RecordSnapshot(state=capa, new_events=[event(1)]))
    contained = RecordChange(
        record_id=capa.id,
        after=1,
        fields={"stage": "root_cause"},
        new_events=[event(2, EventKind.CONTAINMENT_SUBMITTED, "olivia")],
    )
    analysed = RecordChange(
        record_id=capa.id,
        after=2,
        fields={"stage": "action"},
        new_events=[event(3, EventKind.ROOT_CAUSE_SUBMITTED, "olivia")],
    )
    late = threading.Timer(0.5, write_change, [engine, contained])
    late.start()
    await ActivityEnvironment().run(
        steps.settle_step, StepEffects(record_id=capa.id, change=analysed, notices_decided=True)
    )
    late.join()

    stored = load_record_state(engine, capa.id)
    assert stored is not None
    assert (stored.stage, [e.seq for e in stored.events]) == (Stage.ACTION, [1, 2, 3])
