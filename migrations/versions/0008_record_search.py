"""record search: the defect code, supplier and customer of each record, and a full-text index of records

Revision ID: 0008
Revises: 0007
Created: 2026-12-04 14:00:00

SQLite gets an FTS5 table over ``record_search`` (kept in step by triggers), PostgreSQL a generated tsvector
column under a GIN index; ``core.search`` reads and writes both. The records already there are indexed here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from core import search

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    """
    CREATE TABLE record_search (
        id INTEGER PRIMARY KEY,
        record_id VARCHAR NOT NULL UNIQUE REFERENCES nonconformities (id),
        title TEXT NOT NULL,
        details TEXT NOT NULL,
        root_cause TEXT NOT NULL,
        evidence TEXT NOT NULL
    )
    """,
    f"""
    CREATE VIRTUAL TABLE record_search_fts USING fts5(
        title, details, root_cause, evidence,
        content='record_search', content_rowid='id', tokenize='{search.FTS_TOKENIZER}'
    )
    """,
    """
    CREATE TRIGGER record_search_inserted AFTER INSERT ON record_search BEGIN
        INSERT INTO record_search_fts (rowid, title, details, root_cause, evidence)
        VALUES (new.id, new.title, new.details, new.root_cause, new.evidence);
    END
    """,
    """
    CREATE TRIGGER record_search_deleted AFTER DELETE ON record_search BEGIN
        INSERT INTO record_search_fts (record_search_fts, rowid, title, details, root_cause, evidence)
        VALUES ('delete', old.id, old.title, old.details, old.root_cause, old.evidence);
    END
    """,
    """
    CREATE TRIGGER record_search_updated AFTER UPDATE ON record_search BEGIN
        INSERT INTO record_search_fts (record_search_fts, rowid, title, details, root_cause, evidence)
        VALUES ('delete', old.id, old.title, old.details, old.root_cause, old.evidence);
        INSERT INTO record_search_fts (rowid, title, details, root_cause, evidence)
        VALUES (new.id, new.title, new.details, new.root_cause, new.evidence);
    END
    """,
]

# A word in the title weighs most (A), the details and root causes next (B), the evidence least (C).
_POSTGRES = [
    f"""
    CREATE TABLE record_search (
        record_id VARCHAR PRIMARY KEY REFERENCES nonconformities (id),
        title TEXT NOT NULL,
        details TEXT NOT NULL,
        root_cause TEXT NOT NULL,
        evidence TEXT NOT NULL,
        document tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('{search.PG_CONFIG}', title), 'A')
            || setweight(to_tsvector('{search.PG_CONFIG}', details), 'B')
            || setweight(to_tsvector('{search.PG_CONFIG}', root_cause), 'B')
            || setweight(to_tsvector('{search.PG_CONFIG}', evidence), 'C')
        ) STORED
    )
    """,
    "CREATE INDEX ix_record_search_document ON record_search USING GIN (document)",
]


def upgrade() -> None:
    with op.batch_alter_table("nonconformities") as batch:
        batch.add_column(sa.Column("defect_code", sa.String(), nullable=True))
        batch.add_column(sa.Column("supplier", sa.String(), nullable=True))
        batch.add_column(sa.Column("customer", sa.String(), nullable=True))
    connection = op.get_bind()
    for statement in _POSTGRES if connection.dialect.name == "postgresql" else _SQLITE:
        connection.exec_driver_sql(statement)
    search.reindex(connection)


def downgrade() -> None:
    # SQLite drops the triggers with record_search, but not the FTS5 table over it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE record_search_fts")
    op.execute("DROP TABLE record_search")
    with op.batch_alter_table("nonconformities") as batch:
        batch.drop_column("customer")
        batch.drop_column("supplier")
        batch.drop_column("defect_code")
