"""The Alembic migrations build exactly the models' schema, undo it, and guard every start against a stale one."""

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

from core import database, migrations, search
from core.database import SchemaBehindError, make_engine
from core.migrations import ensure_schema
from core.readmodel import add_user, list_users
from tests.migrations.conftest import CURRENT, NEXT, create_tables_as_before_migrations

# Every revision this release ships, oldest first (they are numbered 0001, 0002, ...).
ALL_REVISIONS = [f"{number:04d}" for number in range(1, int(migrations.head_revision()) + 1)]


def _columns(engine: Engine) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {table: {column["name"] for column in inspector.get_columns(table)} for table in inspector.get_table_names()}


def test_upgrade_from_empty_creates_every_table_with_every_column(blank: Engine) -> None:
    """Upgrading an empty database creates each table of the models with each of its columns, at the head."""
    result = migrations.upgrade(blank)

    assert [step.revision for step in result.steps] == ALL_REVISIONS
    present = _columns(blank)
    for table in SQLModel.metadata.sorted_tables:
        assert present.get(table.name) == {column.name for column in table.columns}, table.name
    # Besides the models' tables: the version table and the search index's (its FTS5 shadow tables on SQLite).
    index_tables = {table for table in present if search.is_index_table(table)}
    assert search.TABLE in index_tables
    assert set(present) - index_tables == {*SQLModel.metadata.tables, migrations.VERSION_TABLE}
    assert migrations.state(blank).up_to_date


def test_the_head_schema_matches_the_models(blank: Engine) -> None:
    """Autogenerate finds no difference between the head and the models: a model change needs a migration."""
    migrations.upgrade(blank)

    with blank.connect() as connection:
        options = migrations.context_options(migrations.alembic_config())
        compared = ("compare_type", "render_as_batch", "target_metadata", "include_name")
        context = MigrationContext.configure(connection, opts={key: options[key] for key in compared})
        difference = compare_metadata(context, SQLModel.metadata)

    assert difference == []


def test_downgrade_to_base_and_upgrade_again_round_trips(blank: Engine) -> None:
    """Downgrading to base drops every table; upgrading again rebuilds the same schema, usable as before."""
    migrations.upgrade(blank)
    built = _columns(blank)

    steps = migrations.downgrade(blank, "base")

    assert [(step.revision, step.upgrade) for step in steps] == [(revision, False) for revision in ALL_REVISIONS[::-1]]
    assert set(inspect(blank).get_table_names()) <= {migrations.VERSION_TABLE}
    assert migrations.state(blank).empty

    migrations.upgrade(blank)

    assert _columns(blank) == built
    add_user(blank, "ada", "admin")
    assert [user.name for user in list_users(blank)] == ["ada"]


def test_an_empty_database_is_brought_to_head_at_start(blank: Engine) -> None:
    """ensure_schema (what the worker, CLI and dev stack call) migrates an empty database, then accepts it."""
    ensure_schema(blank)
    add_user(blank, "ada", "admin")
    ensure_schema(blank)

    assert migrations.state(blank).current == migrations.head_revision()
    assert [user.name for user in list_users(blank)] == ["ada"]


def test_workers_starting_together_on_an_empty_database_create_it_once(blank: Engine) -> None:
    """Several processes' first start at the same moment all succeed: the migration runs under a lock."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            ensure_schema(blank)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert migrations.state(blank).up_to_date


def test_a_database_at_an_older_revision_is_refused_naming_the_upgrade_command(
    blank: Engine, newer_release: object
) -> None:
    """A newer release refuses a database its migrations have not reached, and says to run `capa db upgrade`."""
    migrations.upgrade(blank, CURRENT)
    add_user(blank, "ada", "admin")

    with pytest.raises(
        SchemaBehindError,
        match=rf"at schema revision {CURRENT}, older than this capaflow's {NEXT}; run `capa db upgrade`",
    ):
        ensure_schema(blank)

    result = migrations.upgrade(blank)
    assert [step.describe() for step in result.steps] == [f"applied {NEXT} index events by kind"]
    ensure_schema(blank)
    assert [user.name for user in list_users(blank)] == ["ada"]


def test_tables_from_before_migrations_are_refused_then_adopted(blank: Engine) -> None:
    """Tables without a revision (an older capaflow's create_all) are refused; an upgrade adopts them as 0001."""
    create_tables_as_before_migrations(blank, users=["ada"])

    with pytest.raises(SchemaBehindError, match=r"created before capaflow had migrations; run `capa db upgrade`"):
        ensure_schema(blank)

    result = migrations.upgrade(blank)

    assert result.adopted
    assert migrations.state(blank).up_to_date
    ensure_schema(blank)
    assert [user.name for user in list_users(blank)] == ["ada"]


def test_old_tables_lacking_columns_are_refused_by_name_and_not_adopted(blank: Engine) -> None:
    """Tables without a revision that lack the baseline's columns cannot be adopted; the refusal names them."""
    SQLModel.metadata.create_all(blank)
    with blank.begin() as connection:
        connection.execute(text("ALTER TABLE users DROP COLUMN email"))

    with pytest.raises(SchemaBehindError, match=r"older capaflow: table users lacks email"):
        migrations.upgrade(blank)
    assert migrations.state(blank).current is None


def test_a_revision_newer_than_this_release_is_refused(blank: Engine) -> None:
    """A database a newer release has migrated is refused at start and by upgrade, naming its revision."""
    migrations.upgrade(blank)
    with blank.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))

    with pytest.raises(migrations.UnknownRevisionError, match=r"at revision 0099, which this capaflow does not know"):
        ensure_schema(blank)
    with pytest.raises(migrations.UnknownRevisionError):
        migrations.upgrade(blank)


def test_timestamps_round_trip_as_utc_through_the_migrated_schema(blank: Engine) -> None:
    """The migration's UtcDateTime columns store and return aware UTC times, as the models' do."""
    migrations.upgrade(blank)
    add_user(blank, "ada", "admin")

    (user,) = list_users(blank)

    assert user.created_at.utcoffset() == timedelta(0)


def test_a_start_while_another_process_holds_the_write_lock_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker restarted while the database's write lock is held elsewhere (a long transaction, an outage) starts:
    checking a schema already at the head only reads."""
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "capaflow.db"
    first = make_engine(f"sqlite:///{path}")
    ensure_schema(first)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    restarted = make_engine(f"sqlite:///{path}")
    try:
        ensure_schema(restarted)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        restarted.dispose()
        first.dispose()
