"""Empty databases for tests: SQLite always, PostgreSQL too when CAPA_TEST_POSTGRES_URL is set."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.database import make_engine, scratch_schema
from core.settings import Settings

POSTGRES_URL = os.environ.get("CAPA_TEST_POSTGRES_URL")

# Parametrise a fixture with these and open the database with ``empty_database``.
BACKENDS = [pytest.param("sqlite", id="sqlite")]
if POSTGRES_URL:
    BACKENDS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


@contextmanager
def empty_database(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a database without tables; on PostgreSQL a fresh schema as search_path, dropped afterwards."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    assert POSTGRES_URL is not None
    with scratch_schema(Settings(database_url=POSTGRES_URL).sqlalchemy_url, "test") as engine:
        yield engine
