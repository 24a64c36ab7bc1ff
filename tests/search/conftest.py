"""An empty read-model database per test, on SQLite and (with CAPA_TEST_POSTGRES_URL) PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.migrations import ensure_schema
from tests.databases import BACKENDS, empty_database


@pytest.fixture(params=BACKENDS)
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    with empty_database(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
def engine(blank: Engine) -> Engine:
    """An engine on a database at the head revision, with no records."""
    ensure_schema(blank)
    return blank
