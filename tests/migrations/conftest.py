"""A database with no schema per test, on SQLite and (with CAPA_TEST_POSTGRES_URL) PostgreSQL; a newer release.

PostgreSQL tests each get a fresh schema as their search_path, dropped afterwards, like the read-model tests.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from core import migrations
from core.database import make_engine
from core.settings import Settings

POSTGRES_URL = os.environ.get("CAPA_TEST_POSTGRES_URL")

_BACKENDS = [pytest.param("sqlite", id="sqlite")]
if POSTGRES_URL:
    _BACKENDS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))

# A migration only the "newer release" of these tests has: an index, so it changes the schema but no model.
NEXT_REVISION = '''"""index events by kind

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_kind", "events", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_events_kind", table_name="events")
'''


@pytest.fixture(params=_BACKENDS)
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
        yield engine
        engine.dispose()
        return
    assert POSTGRES_URL is not None
    base = make_url(Settings(database_url=POSTGRES_URL).sqlalchemy_url)
    schema = f"test_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture
def newer_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This release's migrations plus a revision 0002, as a newer capaflow would ship them.

    Returns a directory to put first on PYTHONPATH so that a ``capa`` subprocess sees the same migrations.
    """
    root = tmp_path / "release"
    package = root / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "versions" / "0002_index_events_by_kind.py").write_text(NEXT_REVISION)
    monkeypatch.setattr(migrations, "MIGRATIONS_DIR", package)
    return root
