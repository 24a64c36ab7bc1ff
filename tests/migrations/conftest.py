"""A database with no schema per test, on SQLite and (with CAPA_TEST_POSTGRES_URL) PostgreSQL; a newer release.

PostgreSQL tests each get a fresh schema as their search_path, dropped afterwards (tests/databases.py).
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core import migrations
from tests.databases import BACKENDS, empty_database

# This release's head, and the revision a newer release would add after it.
CURRENT = migrations.head_revision()
NEXT = f"{int(CURRENT) + 1:04d}"

# A migration only the "newer release" of these tests has: an index, so it changes the schema but no model.
NEXT_REVISION = f'''"""index events by kind

Revision ID: {NEXT}
Revises: {CURRENT}
"""

from alembic import op

revision = "{NEXT}"
down_revision = "{CURRENT}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_kind", "events", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_events_kind", table_name="events")
'''


@pytest.fixture(params=BACKENDS)
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    with empty_database(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def newer_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This release's migrations plus one more revision (NEXT), as a newer capaflow would ship them.

    Returns a directory to put first on PYTHONPATH so that a ``capa`` subprocess sees the same migrations.
    """
    root = tmp_path / "release"
    package = root / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "versions" / f"{NEXT}_index_events_by_kind.py").write_text(NEXT_REVISION)
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", package)
    return root


def create_tables_as_before_migrations(engine: Engine, users: list[str]) -> None:
    """The tables as a capaflow from before migrations made them (the baseline, no revision), with admins."""
    migrations.upgrade(engine, migrations.BASELINE)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {migrations.VERSION_TABLE}"))
        for name in users:
            connection.execute(
                text("INSERT INTO users (name, role, created_at) VALUES (:name, 'admin', CURRENT_TIMESTAMP)"),
                {"name": name},
            )
