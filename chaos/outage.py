"""Make the read-model database unavailable for a while, and a scratch PostgreSQL database to do it to.

SQLite: a connection holds ``BEGIN EXCLUSIVE`` for the outage, so every writer waits out its busy timeout and
fails with "database is locked" (file permissions would not stop a root process). Readers still read: WAL.
PostgreSQL: the run's own database refuses new connections and its sessions are ended, which is what a
failover or a stopped server looks like to the worker. The server itself and other databases are left alone.
"""

import asyncio
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


@dataclass
class Window:
    """When the database was unavailable (UTC, comparable with timeline instants)."""

    started: datetime
    ended: datetime

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()


class SqliteOutage:
    """Hold SQLite's write lock from ``begin`` until ``end``."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._release = threading.Event()
        self._holding = threading.Event()
        self._thread: threading.Thread | None = None

    def _hold(self) -> None:
        connection = sqlite3.connect(self._path, timeout=60, isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            self._holding.set()
            self._release.wait()
            connection.execute("ROLLBACK")
        finally:
            connection.close()

    async def begin(self) -> None:
        self._thread = threading.Thread(target=self._hold, name="sqlite-outage", daemon=True)
        self._thread.start()
        # The lock is taken once the writers of the moment have committed; wait until it is really held.
        if not await asyncio.to_thread(self._holding.wait, 60):
            raise RuntimeError(f"could not take the write lock of {self._path} within 60s")

    async def end(self) -> None:
        self._release.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)


@dataclass
class PostgresDatabase:
    """A database of the run's own on a PostgreSQL server, created at start and dropped at the end."""

    server_url: str  # postgresql://user@host:port/<any existing database>
    name: str = field(default_factory=lambda: f"capaflow_chaos_{uuid.uuid4().hex[:12]}")

    @property
    def url(self) -> str:
        return make_url(self.server_url).set(database=self.name).render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        url = make_url(self.server_url).set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def create(self) -> None:
        with self._admin() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        with self._admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def allow_connections(self, allowed: bool) -> None:
        with self._admin() as admin:
            admin.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                    sql.Identifier(self.name), sql.SQL("true" if allowed else "false")
                )
            )
            if not allowed:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.name,),
                )


class PostgresOutage:
    """Refuse connections to the run's database and end its sessions, until ``end``."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._database = database

    async def begin(self) -> None:
        await asyncio.to_thread(self._database.allow_connections, False)

    async def end(self) -> None:
        await asyncio.to_thread(self._database.allow_connections, True)


Outage = SqliteOutage | PostgresOutage


async def hold_outage(outage: Outage, seconds: float) -> Window:
    """Make the database unavailable for ``seconds``; return the window it really was."""
    await outage.begin()
    started = datetime.now(UTC)
    await asyncio.sleep(seconds)  # the outage itself: its length is the point, nothing is waited for
    await outage.end()
    return Window(started, datetime.now(UTC))
