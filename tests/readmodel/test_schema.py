"""A database left by an older capaflow is refused at start, naming what is missing, instead of failing later."""

from pathlib import Path

import pytest
from sqlalchemy import text

from core.database import SchemaBehindError, make_engine
from core.migrations import ensure_schema


def test_a_table_missing_a_column_is_refused_by_name(tmp_path: Path) -> None:
    """An outbox table without this version's columns stops the start with the table and columns named."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE outbox (id INTEGER PRIMARY KEY, record_id TEXT)"))
    with pytest.raises(SchemaBehindError, match=r"table outbox lacks seq, recipient"):
        ensure_schema(engine)


def test_a_current_database_passes_twice(tmp_path: Path) -> None:
    """Creating the schema is idempotent: a second start on the same file is accepted."""
    engine = make_engine(f"sqlite:///{tmp_path / 'current.db'}")
    ensure_schema(engine)
    ensure_schema(engine)
