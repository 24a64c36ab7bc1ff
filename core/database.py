"""The read-model database: engine set-up for SQLite and PostgreSQL, schema creation, transactions, upserts.

Callers pass ``Settings.sqlalchemy_url``, which already names the psycopg 3 driver for PostgreSQL.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401 - registers the tables on SQLModel.metadata for create_schema

# How long a SQLite writer waits for another one to commit before failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # pre_ping replaces connections a PostgreSQL restart or failover has closed, instead of failing a query.
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # Activities run in a thread pool, so one connection may serve several threads over its life.
    engine = create_engine(url, connect_args={"check_same_thread": False})

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
    """The database has the tables of an older capaflow; the message says which column is missing."""


def create_schema(engine: Engine) -> None:
    """Create missing tables, then refuse to go on if an existing table lacks a column this version writes.

    Failing at start is better than a worker whose every write fails and retries for ever.
    """
    SQLModel.metadata.create_all(engine)
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name not in present]
        if missing:
            raise SchemaBehindError(
                f"the database at {engine.url.render_as_string(hide_password=True)} is from an older capaflow: "
                f"table {table.name} lacks {', '.join(missing)}; for a local demo database, delete the file "
                "and run again"
            )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction, committed when the block ends and rolled back if it raises.

    Rows loaded inside stay readable afterwards (no expiry on commit), so callers can return them.
    """
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def insert_for(engine: Engine, table: type[SQLModel]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that supports ``ON CONFLICT``, which both dialects spell the same way.

    A single upsert is atomic on both backends. Made the first statement of a transaction, it also spares
    SQLite's read-then-write lock upgrade, which fails at once under contention instead of waiting.
    """
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
