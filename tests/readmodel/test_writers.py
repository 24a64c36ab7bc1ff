"""SQLite writers of one process take turns, and one kept waiting fails after the busy timeout as SQLite would."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from core import database
from core.database import make_engine, write_scope, write_transaction
from core.migrations import ensure_schema
from core.readmodel import add_user, get_user

_ADD_USER = text("INSERT INTO users (name, role, active, created_at) VALUES (:name, :role, 1, CURRENT_TIMESTAMP)")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
    ensure_schema(engine)
    yield engine
    engine.dispose()


def test_a_writer_kept_waiting_fails_as_database_is_locked_and_writes_nothing(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another thread of the process holds its write, a second writer gives up after the busy timeout with
    SQLite's own error (so an activity retries it), and the row it meant to write is not there."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    writing, done = threading.Event(), threading.Event()

    def hold() -> None:
        with write_transaction(sqlite_engine) as connection:
            connection.execute(_ADD_USER, {"name": "ada", "role": "admin"})
            writing.set()
            done.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert writing.wait(timeout=30)
        with pytest.raises(OperationalError, match="database is locked"), write_scope(sqlite_engine) as session:
            session.execute(_ADD_USER, {"name": "mike", "role": "manager"})
    finally:
        done.set()
        holder.join()

    assert get_user(sqlite_engine, "ada") is not None
    assert get_user(sqlite_engine, "mike") is None
    # Its turn come, the same write goes through.
    add_user(sqlite_engine, "mike", "manager")
    assert get_user(sqlite_engine, "mike") is not None


def test_a_failed_write_names_its_statement_not_the_values_it_carried(sqlite_engine: Engine) -> None:
    """A failed write's error goes into activity failures, Temporal's history and the logs: it names the
    statement, never the values (a record's write carries the record's whole content)."""
    add_user(sqlite_engine, "mike", "manager")
    with pytest.raises(IntegrityError, match="INSERT INTO users") as refused, write_scope(sqlite_engine) as session:
        session.execute(_ADD_USER, {"name": "mike", "role": "manager"})

    assert "mike" not in str(refused.value)
