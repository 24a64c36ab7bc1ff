"""Empty databases for tests: SQLite always, PostgreSQL too when CAPA_TEST_POSTGRES_URL is set."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from core.database import make_engine
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
