"""An empty read-model database per test: SQLite always, PostgreSQL too when CAPA_TEST_POSTGRES_URL is set."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from core.database import create_schema, make_engine
from core.settings import Settings

_POSTGRES_URL = os.environ.get("CAPA_TEST_POSTGRES_URL")

_BACKENDS = [pytest.param("sqlite", id="sqlite")]
if _POSTGRES_URL:
    _BACKENDS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


@contextmanager
def _sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'capaflow.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _postgres(url: str) -> Iterator[Engine]:
    """An engine whose search_path is a fresh schema, dropped afterwards, so tests never share rows."""
    base = make_url(Settings(database_url=url).sqlalchemy_url)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=_BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        backend = _sqlite(tmp_path)
    else:
        assert _POSTGRES_URL is not None
        backend = _postgres(_POSTGRES_URL)
    with backend as engine:
        create_schema(engine)
        yield engine
