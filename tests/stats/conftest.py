"""An empty read-model database per test: SQLite always, PostgreSQL too when CAPA_TEST_POSTGRES_URL is set."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.migrations import ensure_schema
from tests.databases import BACKENDS, empty_database


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(request.param, tmp_path) as engine:
        ensure_schema(engine)
        yield engine
