"""The read-model database: engine set-up for SQLite and PostgreSQL, the schema check, transactions, upserts.

Callers pass ``Settings.sqlalchemy_url``, which already names the psycopg 3 driver for PostgreSQL.
"""

import sqlite3
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

# One per SQLite engine made by ``make_engine``, for ``write_transaction``; a dropped engine takes its lock along.
_sqlite_write_locks: "weakref.WeakKeyDictionary[Engine, threading.Lock]" = weakref.WeakKeyDictionary()

# How long a SQLite writer waits for another one to commit before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str) -> Engine:
    """An engine whose errors name the statement, never the values it carried (``hide_parameters``): a failed
    write's error reaches activity failures, Temporal's history and the logs, and a record's write carries the
    record's whole content."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # pre_ping replaces connections a PostgreSQL restart or failover has closed, instead of failing a query.
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Activities run in a thread pool, so one connection may serve several threads over its life.
    engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
    _sqlite_write_locks[engine] = threading.Lock()

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the CLI read while the worker writes; busy_timeout makes concurrent writers queue
        # instead of failing; SQLite enforces foreign keys only when asked to, PostgreSQL always does.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


class SchemaBehindError(RuntimeError):
    """The database's schema is not the one this capaflow writes; the message says why and what upgrades it."""


@contextmanager
def write_transaction(engine: Engine, patience: float | None = None) -> Iterator[Connection]:
    """One write transaction on a plain connection, committed when the block ends and rolled back if it raises.

    On SQLite the writers of this process take turns on a lock before they begin. SQLite lets one writer in at
    a time, and one kept waiting by its busy handler sleeps in steps of up to 100 ms, so with a dozen activity
    threads writing at once a write could wait a second for a lock that was free after a few milliseconds;
    the lock hands over at once. Writers in other processes (the API, the CLI) still queue on busy_timeout.

    ``patience`` (seconds) bounds the wait for the lock, here and in SQLite, for a write that may be skipped
    (another path writes the same later) rather than hold a thread while the database is locked.
    """
    with _writers_turn(engine, patience), engine.begin() as connection:
        if patience is None or engine.dialect.name != "sqlite":
            yield connection
            return
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(patience * 1000)}")
        try:
            yield connection
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


@contextmanager
def write_scope(engine: Engine) -> Iterator[Session]:
    """``session_scope`` for a transaction that writes: on SQLite it waits its turn as ``write_transaction`` does."""
    with _writers_turn(engine), session_scope(engine) as session:
        yield session


@contextmanager
def _writers_turn(engine: Engine, patience: float | None = None) -> Iterator[None]:
    """This process's turn to write to a SQLite database; no wait on PostgreSQL, whose writers do not queue.

    Waiting is bounded like SQLite's own: after the busy timeout it fails as SQLite would, "database is locked",
    so a write stuck behind another process's long transaction cannot hold every activity thread in a queue.
    """
    lock = _sqlite_write_locks.get(engine)
    if lock is None:
        yield
        return
    if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000 if patience is None else patience):
        locked = sqlite3.OperationalError("database is locked")
        raise OperationalError("BEGIN (waiting for this process's other writers)", None, locked)
    try:
        yield
    finally:
        lock.release()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction, committed when the block ends and rolled back if it raises.

    Rows loaded inside stay readable afterwards (no expiry on commit), so callers can return them.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def insert_for(engine: Engine, table: type[SQLModel] | Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``ON CONFLICT``, which both dialects spell the same way.

    A single upsert is atomic on both backends. Made the first statement of a transaction, it also spares
    SQLite's read-then-write lock upgrade, which fails at once under contention instead of waiting.
    """
    return insert_for_dialect(engine.dialect.name, table)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for statements that bypass the ORM (built once, run with rows as parameters)."""
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def insert_for_dialect(dialect: str, table: type[SQLModel] | Table) -> postgresql.Insert | sqlite.Insert:
    """``insert_for`` by dialect name, for statements built once and cached per dialect."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@contextmanager
def scratch_schema(sqlalchemy_url: str, prefix: str) -> Iterator[Engine]:
    """An engine on a new, empty PostgreSQL schema (its search_path), dropped with everything in it afterwards.

    For tests and benchmarks that need a database of their own on a shared server, leaving its other tables alone.
    """
    base = make_url(sqlalchemy_url)
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
